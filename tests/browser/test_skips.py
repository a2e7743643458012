"""Skip a week seen as the client and the trainer use it (issue 15): the client skips their
next recurring session on a phone (390×844), and the trainer's week shows the slot open,
amber because another client opted in to that time."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.test_accessibility import AXE_PATH, _serve_axe, axe_violations, describe
from tests.browser.test_offers import portal_link
from tests.browser.test_schedule import apply_template_to_next_week, next_week, set_up_studio
from tests.browser.test_sessions import add_priya

pytestmark = pytest.mark.browser


def add_omar(trainer: Page) -> None:
    """A second Studio client with no recurring slot: he can match Priya's time."""
    trainer.goto("/dashboard/clients")
    trainer.get_by_text("Add a client").click()  # folded away once there are clients
    trainer.get_by_label("Name", exact=True).fill("Omar Haddad")
    trainer.get_by_label("Phone (WhatsApp)").fill("07400 654321")
    trainer.get_by_role("button", name="Add client").click()
    trainer.get_by_role("checkbox", name="Studio", exact=True).check()
    trainer.get_by_role("button", name="Save profile").click()
    expect(trainer.get_by_text("Profile saved.")).to_be_visible()


def test_a_client_skips_next_week_on_a_phone_and_the_slot_turns_open_and_amber(
    new_page: Callable[..., Page],
    sign_up: Callable[[Page, str], None],
    screenshot: Callable[..., Any],
) -> None:
    trainer = new_page(DESKTOP)
    sign_up(trainer, "skips-flow@example.com")
    set_up_studio(trainer, 2, "18:00")  # Wednesday 18:00-19:00
    add_priya(trainer)
    trainer.get_by_label(re.compile("18:00–19:00 · Studio")).check()  # her recurring slot
    trainer.get_by_role("button", name="Save profile").click()
    expect(trainer.get_by_text("Profile saved.")).to_be_visible()
    add_omar(trainer)
    # Next week only: her next recurring session is days away, before any deadline.
    apply_template_to_next_week(trainer)
    expect(trainer.get_by_text("1 recurring session booked.")).to_be_visible()

    # Omar opts in to Wednesday 18:00 on his phone: he is the match once it opens.
    omar = new_page(PHONE)
    omar.goto(portal_link(trainer, "Omar Haddad"))
    omar.get_by_role("checkbox", name=re.compile("Wednesday 18:00")).check()
    expect(omar.get_by_text("Saved.")).to_be_visible()

    trainer.goto(f"/dashboard/schedule?week={next_week()}&view=week")
    grid = trainer.get_by_role("region", name=re.compile("^Schedule for"))
    expect(grid.locator("a.slot.slot-recurring", has_text="Priya Shah")).to_have_count(1)

    # Priya skips it on her phone.
    priya = new_page(PHONE)
    priya.context.route(f"**{AXE_PATH}", _serve_axe)
    priya.goto(portal_link(trainer, "Priya Shah"))
    away = priya.get_by_role("region", name="Away this week?")
    expect(away).to_contain_text("Your next regular session:")
    expect(away).to_contain_text("18:00")
    screenshot(priya, "skips-phone-1-home")
    away.get_by_role("button", name="Skip this week").click()
    confirmed = priya.locator(".alert-success[role=status]")
    expect(confirmed).to_have_text(
        "This week is skipped: your trainer is told, and your other weeks stay booked."
    )
    expect(priya.get_by_role("button", name="Skip this week")).to_have_count(0)  # no next one
    screenshot(priya, "skips-phone-2-skipped")
    width = priya.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390, f"page is {width}px wide"
    violations = axe_violations(priya)
    assert not violations, f"axe, the portal after a skip:\n{describe({'portal': violations})}"
    assert not priya.js_errors  # type: ignore[attr-defined]

    # The trainer's week: the slot is open again, amber because Omar matches it.
    trainer.goto(f"/dashboard/schedule?week={next_week()}&view=week")
    grid = trainer.get_by_role("region", name=re.compile("^Schedule for"))
    amber = grid.locator("a.slot.slot-match", has_text="18:00–19:00")
    amber.scroll_into_view_if_needed()
    expect(amber).to_be_visible()
    expect(grid.locator("a.slot", has_text="Priya Shah")).to_have_count(0)
    colour = amber.evaluate("el => getComputedStyle(el).borderLeftColor")
    assert colour == "rgb(178, 107, 0)", colour  # the legend's amber (--amber)
    screenshot(trainer, "skips-desktop-3-amber", full_page=False)
    amber.click()
    expect(trainer.get_by_role("button", name="Send offer to Omar Haddad")).to_be_visible()
    assert not trainer.js_errors  # type: ignore[attr-defined]

"""Last-minute offers end to end: a client cancels, the slot turns amber, the trainer
sends an offer, the other client accepts on a phone (390×844), the week shows it."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.test_schedule import apply_template_to_next_week, next_week, set_up_studio
from tests.browser.test_sessions import add_priya

pytestmark = pytest.mark.browser


def portal_link(trainer: Page, name: str) -> str:
    trainer.goto("/dashboard/clients")
    trainer.get_by_role("link", name=name, exact=True).click()
    return trainer.locator("#portal_url").input_value()


def test_a_freed_slot_is_offered_and_accepted_on_a_phone(
    new_page: Callable[..., Page],
    sign_up: Callable[[Page, str], None],
    screenshot: Callable[..., Any],
) -> None:
    trainer = new_page(DESKTOP)
    sign_up(trainer, "offers-flow@example.com")
    set_up_studio(trainer, 2, "18:00")  # Wednesday 18:00-19:00
    add_priya(trainer)
    trainer.get_by_label(re.compile("18:00–19:00 · Studio")).check()  # her recurring slot
    trainer.get_by_role("button", name="Save profile").click()
    expect(trainer.get_by_text("Profile saved.")).to_be_visible()
    trainer.goto("/dashboard/clients")
    trainer.get_by_text("Add a client").click()  # folded away once there are clients
    trainer.get_by_label("Name", exact=True).fill("Omar Haddad")
    trainer.get_by_label("Phone (WhatsApp)").fill("07400 654321")
    trainer.get_by_role("button", name="Add client").click()
    trainer.get_by_role("checkbox", name="Studio", exact=True).check()
    trainer.get_by_role("button", name="Save profile").click()
    expect(trainer.get_by_text("Profile saved.")).to_be_visible()
    apply_template_to_next_week(trainer)
    expect(trainer.get_by_text("1 recurring session booked.")).to_be_visible()

    # Omar opts in to Wednesday 18:00 on his phone.
    omar = new_page(PHONE)
    omar.goto(portal_link(trainer, "Omar Haddad"))
    omar.get_by_role("checkbox", name=re.compile("Wednesday 18:00")).check()
    expect(omar.get_by_text("Saved.")).to_be_visible()

    # Priya cancels her Wednesday on her phone.
    priya = new_page(PHONE)
    priya.goto(portal_link(trainer, "Priya Shah"))
    priya.locator("a.session-link").first.click()
    priya.get_by_role("link", name="Cancel this session").click()
    priya.get_by_role("button", name="Yes, cancel it").click()
    expect(priya.get_by_text("This session was canceled.")).to_be_visible()

    # The trainer sees it amber and sends Omar the offer.
    trainer.goto(f"/dashboard/schedule?week={next_week()}&view=week")
    amber = trainer.locator("a.slot.slot-match", has_text="18:00–19:00")
    amber.scroll_into_view_if_needed()
    expect(amber).to_be_visible()
    colour = amber.evaluate("el => getComputedStyle(el).borderLeftColor")
    assert colour == "rgb(178, 107, 0)", colour  # the legend's amber (--amber)
    screenshot(trainer, "offers-desktop-1-amber", full_page=False)
    amber.click()
    trainer.get_by_role("button", name="Send offer to Omar Haddad").click()
    expect(trainer.get_by_text("Offer sent")).to_be_visible()
    purple = trainer.locator("a.slot.slot-locked", has_text="Omar Haddad")
    purple.scroll_into_view_if_needed()
    expect(purple).to_be_visible()
    screenshot(trainer, "offers-desktop-2-locked", full_page=False)

    trainer.goto("/dashboard/whatsapp/all")
    text = trainer.locator(".message-row .message-text").first.inner_text()
    link = re.search(r"/o/[A-Za-z0-9_-]{43}", text)
    assert link, text

    # Omar accepts on his phone.
    omar.goto(link.group(0))
    expect(omar.get_by_text("Held for you for")).to_be_visible()
    # the hold counts down by the second (the server drew whole minutes)
    countdown = omar.locator("[data-countdown]")
    expect(countdown).to_have_text(re.compile(r"^[0-9]{1,2}:[0-5][0-9]$"))
    first = countdown.inner_text()
    expect(countdown).not_to_have_text(first, timeout=3000)
    screenshot(omar, "offers-phone-3-offer")
    omar.get_by_role("button", name=re.compile("Accept")).click()
    expect(omar.get_by_text("You are booked")).to_be_visible()
    screenshot(omar, "offers-phone-4-accepted")
    width = omar.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390, f"page is {width}px wide"

    trainer.goto(f"/dashboard/schedule?week={next_week()}&view=week")
    booked = trainer.locator("a.slot.slot-booked", has_text="Omar Haddad")
    booked.scroll_into_view_if_needed()
    expect(booked).to_be_visible()
    expect(trainer.locator("a.slot.slot-locked")).to_have_count(0)

"""The client portal on a phone (390×844): open the link, opt in, book, change, cancel,
and hit the deadline."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from chalicelib.domain.timeutil import week_monday
from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.test_schedule import next_week, set_up_studio
from tests.browser.test_sessions import add_priya

pytestmark = pytest.mark.browser


def add_one_off(page: Page, day: str, start: str, end: str) -> None:
    page.goto(f"/dashboard/schedule/new?day={day}&start={start}")
    page.get_by_label("End").select_option(end)
    page.get_by_label("Location").select_option(label="Studio")
    page.get_by_role("button", name="Add slot").click()
    expect(page.get_by_text("Slot added")).to_be_visible()


def soon() -> tuple[str, str, str]:
    """A 30-minute slot starting 2-2.5 hours from now (London): inside any deadline."""
    local = datetime.now(UTC).astimezone(ZoneInfo("Europe/London")) + timedelta(hours=2)
    start = local.replace(second=0, microsecond=0) + timedelta(minutes=30 - local.minute % 30)
    end = start + timedelta(minutes=30)
    end_text = "24:00" if end.date() != start.date() else f"{end:%H:%M}"
    return start.date().isoformat(), f"{start:%H:%M}", end_text


def test_a_client_books_changes_cancels_and_meets_the_deadline_on_a_phone(
    new_page: Callable[..., Page],
    sign_up: Callable[[Page, str], None],
    screenshot: Callable[..., Any],
) -> None:
    trainer = new_page(DESKTOP)
    sign_up(trainer, "portal-flow@example.com")
    set_up_studio(trainer, 2, "18:00")  # a template time Priya can opt in to
    add_priya(trainer)
    monday = week_monday(next_week())
    tuesday, thursday = (monday + timedelta(days=n) for n in (1, 3))
    add_one_off(trainer, tuesday.isoformat(), "07:00", "08:00")
    add_one_off(trainer, thursday.isoformat(), "07:00", "08:00")
    day, start, end = soon()
    add_one_off(trainer, day, start, end)
    # The trainer books Priya into the soon slot: inside the 36-hour deadline.
    trainer.goto(f"/dashboard/schedule?day={day}&view=day")
    trainer.locator("a.slot.slot-open", has_text=f"{start}–").first.click()
    trainer.get_by_label("Client").select_option(label="Priya Shah")
    trainer.get_by_role("button", name="Book").click()
    expect(trainer.get_by_text("Priya Shah is booked.")).to_be_visible()
    trainer.goto("/dashboard/clients")
    trainer.get_by_role("link", name="Priya Shah", exact=True).click()
    link = trainer.locator("#portal_url").input_value()

    phone = new_page(PHONE)  # Priya: no trainer cookies
    phone.goto(link)
    expect(phone.get_by_role("heading", name="Hi Priya")).to_be_visible()
    screenshot(phone, "portal-phone-1-home")

    # Opt in to a last-minute time: saved on the tick, still there after a reload.
    optin = phone.get_by_role("checkbox", name=re.compile("Wednesday 18:00"))
    optin.check()
    expect(phone.get_by_text("Saved.")).to_be_visible()
    expect(phone.get_by_role("button", name="Save")).to_be_hidden()  # the script saves
    phone.reload()
    expect(phone.get_by_role("checkbox", name=re.compile("Wednesday 18:00"))).to_be_checked()

    # Book Tuesday 07:00 next week.
    phone.get_by_role("link", name="Book a session").click()
    screenshot(phone, "portal-phone-2-book")
    tuesday_heading = f"{tuesday:%A} {tuesday.day} {tuesday:%B}"
    phone.locator("section.slot-day", has_text=tuesday_heading).get_by_role(
        "button", name=re.compile("07:00–08:00")
    ).click()
    expect(phone.get_by_text("You are booked")).to_be_visible()
    expect(
        phone.get_by_role("heading", name=re.compile(f"{tuesday:%A}.*07:00–08:00"))
    ).to_be_visible()
    screenshot(phone, "portal-phone-3-booked")

    # Change it to Thursday 07:00.
    phone.get_by_role("link", name="Change time").click()
    thursday_heading = f"{thursday:%A} {thursday.day} {thursday:%B}"
    phone.locator("section.slot-day", has_text=thursday_heading).get_by_role(
        "button", name=re.compile("07:00–08:00")
    ).click()
    expect(phone.get_by_text("Session moved to the new time.")).to_be_visible()
    expect(
        phone.get_by_role("heading", name=re.compile(f"{thursday:%A}.*07:00–08:00"))
    ).to_be_visible()

    # Cancel it (days ahead: allowed).
    # two steps, without JavaScript: the link asks, the button cancels
    phone.get_by_role("link", name="Cancel this session").click()
    expect(phone.get_by_role("alertdialog")).to_contain_text("Cancel your session on")
    phone.get_by_role("button", name="Yes, cancel it").click()
    expect(phone.get_by_text("This session was canceled.")).to_be_visible()
    screenshot(phone, "portal-phone-4-canceled")

    # The soon session: too late to change online.
    phone.get_by_role("link", name="Your sessions").click()
    phone.locator("a.session-link").first.click()
    expect(phone.get_by_role("heading", name="Too late to change online")).to_be_visible()
    expect(phone.get_by_role("link", name="Cancel this session")).to_have_count(0)
    screenshot(phone, "portal-phone-5-deadline")
    width = phone.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390, f"page is {width}px wide"
    assert not phone.js_errors  # type: ignore[attr-defined]

    # The trainer sees the changes in the week and the session's log.
    trainer.goto(f"/dashboard/schedule?week={next_week()}&view=week")
    expect(trainer.locator("a.slot.slot-booked", has_text="Priya Shah")).to_have_count(0)

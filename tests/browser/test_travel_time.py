"""Travel time seen as the trainer uses it (issue 15 item 6): with 30 minutes between
places, the Studio slot right after a Park session says so before anyone is booked, Book
refuses with both sessions named, and "Book anyway" books it."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import PHONE
from tests.browser.test_accessibility import AXE_PATH, _serve_axe, axe_violations
from tests.browser.test_schedule import week_after

pytestmark = pytest.mark.browser


def _location(page: Page, name: str) -> None:
    page.goto("/dashboard/settings/locations")
    page.get_by_label("New location").fill(name)
    page.get_by_role("button", name="Add").click()


def _client(page: Page, name: str) -> None:
    page.goto("/dashboard/clients")
    name_field = page.get_by_label("Name", exact=True)
    if not name_field.is_visible():  # with clients already, the form is folded away
        page.get_by_text("Add a client").click()
    name_field.fill(name)
    page.get_by_label("Phone (WhatsApp)").fill("07400 123456")
    page.get_by_role("button", name="Add client").click()
    page.get_by_role("checkbox", name="Studio", exact=True).check()
    page.get_by_role("checkbox", name="Park", exact=True).check()
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_text("Profile saved.")).to_be_visible()


def _slot(page: Page, day: str, start: str, end: str, place: str) -> None:
    page.goto(f"/dashboard/schedule/new?day={day}&start={start}")
    page.get_by_label("End").select_option(end)
    page.get_by_label("Location").select_option(label=place)
    page.get_by_role("button", name="Add slot").click()
    expect(page.get_by_text("Slot added.")).to_be_visible()


def _open_slot(page: Page, day: str, times: str) -> None:
    page.goto(f"/dashboard/schedule?view=day&day={day}")
    page.locator("a.slot.slot-open", has_text=times).click()


def test_a_booking_with_no_time_to_travel_is_asked_about_then_booked_anyway(
    new_page: Callable[..., Page],
    sign_up: Callable[[Page, str], None],
    screenshot: Callable[..., Any],
) -> None:
    page = new_page(PHONE)
    page.context.route(f"**{AXE_PATH}", _serve_axe)
    sign_up(page, "travel@example.com")
    _location(page, "Studio")
    _location(page, "Park")
    _client(page, "Priya Shah")
    _client(page, "Sam Lee")
    thursday = (week_after(1) + timedelta(days=3)).isoformat()
    _slot(page, thursday, "12:00", "13:00", "Park")
    _slot(page, thursday, "13:00", "14:00", "Studio")

    page.goto("/dashboard/settings")
    page.get_by_label("Travel time between locations").select_option("30")
    page.get_by_role("button", name=re.compile("^Save")).first.click()
    expect(page.get_by_text(re.compile("Settings saved"))).to_be_visible()

    _open_slot(page, thursday, "12:00–13:00")
    page.get_by_label("Client").select_option(label="Priya Shah")
    page.get_by_role("button", name="Book").click()
    expect(page.get_by_text("Priya Shah is booked.")).to_be_visible()

    _open_slot(page, thursday, "13:00–14:00")
    note = page.get_by_role("note")
    expect(note).to_contain_text("Priya Shah's session at Park")
    expect(note).to_contain_text("leaves no time to get to")
    screenshot(page, "travel-1-slot-page")
    assert axe_violations(page) == []

    page.get_by_label("Client").select_option(label="Sam Lee")
    page.get_by_role("button", name="Book").click()
    expect(page.get_by_role("alert")).to_be_visible()
    anyway = page.get_by_label("Book anyway: I can get there in time")
    expect(anyway).to_be_visible()
    expect(page.get_by_label("Client")).to_have_value(re.compile(".+"))  # Sam kept
    screenshot(page, "travel-2-refused")
    anyway.scroll_into_view_if_needed()
    screenshot(page, "travel-3-book-anyway", full_page=False)
    assert axe_violations(page) == []

    anyway.check()
    page.get_by_role("button", name="Book").click()
    expect(page.get_by_text("Sam Lee is booked.")).to_be_visible()
    # The refused Book is a 400 page, which the console reports as a failed load.
    errors = page.js_errors  # type: ignore[attr-defined]
    assert [e for e in errors if "status of 400" not in e] == []

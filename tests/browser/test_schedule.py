"""The Schedule in a real browser: apply the template, see the week, add a one-off slot."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from chalicelib.domain.timeutil import local_today, week_key
from tests.browser.conftest import DESKTOP, PHONE

pytestmark = pytest.mark.browser


def next_week() -> str:
    # The runner uses the real clock: next week always has only future slots.
    today = local_today(datetime.now(UTC), "Europe/London")
    return week_key(today + timedelta(weeks=1))


def set_up_studio(page: Page, weekday: int, start: str) -> None:
    """A Studio location and one template slot starting at `start` on `weekday`."""
    page.goto("/dashboard/settings/locations")
    page.get_by_label("New location").fill("Studio")
    page.get_by_role("button", name="Add").click()
    page.goto(f"/dashboard/settings/template/new?weekday={weekday}&start={start}")
    page.get_by_label("Location").select_option(label="Studio")
    page.get_by_role("button", name="Add slot").click()
    expect(page.get_by_text("Slot added.")).to_be_visible()


def apply_template_to_next_week(page: Page) -> None:
    page.goto(f"/dashboard/schedule?week={next_week()}&view=week")
    page.get_by_label(re.compile("Weeks from")).select_option("1")
    page.get_by_role("button", name="Apply template").click()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP])
def test_a_trainer_applies_the_template_and_adds_a_one_off_slot(
    new_page: Callable[..., Page],
    sign_up: Callable[[Page, str], None],
    screenshot: Callable[..., Any],
    viewport: str,
) -> None:
    page = new_page(viewport)
    sign_up(page, f"schedule-{viewport}@example.com")
    set_up_studio(page, 2, "18:00")  # Wednesday 18:00-19:00

    apply_template_to_next_week(page)
    expect(page.get_by_text("1 slot added.")).to_be_visible()
    screenshot(page, f"schedule-{viewport}-1-applied")

    page.get_by_role("link", name="Back to the schedule").click()
    grid = page.get_by_role("region", name=re.compile("^Schedule for"))
    wednesday_slot = grid.locator("a.slot", has_text="18:00–19:00")
    wednesday_slot.scroll_into_view_if_needed()
    expect(wednesday_slot).to_be_visible()
    expect(wednesday_slot).to_contain_text("Studio")
    screenshot(page, f"schedule-{viewport}-2-week", full_page=False)

    # + on Friday 07:00 of that week: a one-off 90-minute slot
    friday = grid.locator("section.day").nth(4)
    friday.get_by_role("link", name=re.compile(r"at 07:00$")).click()
    page.get_by_label("End").select_option("08:30")
    page.get_by_label("Location").select_option(label="Studio")
    page.get_by_role("button", name="Add slot").click()
    added = page.get_by_role("region", name=re.compile("^Schedule for")).locator(
        "a.slot", has_text="07:00–08:30"
    )
    added.scroll_into_view_if_needed()
    expect(added).to_be_visible()

    # open it and remove it again
    added.click()
    expect(page.get_by_role("heading", name=re.compile("07:00–08:30"))).to_be_visible()
    screenshot(page, f"schedule-{viewport}-3-open-slot")
    page.get_by_role("button", name="Remove slot").click()
    expect(
        page.get_by_role("region", name=re.compile("^Schedule for")).locator(
            "a.slot", has_text="07:00–08:30"
        )
    ).to_have_count(0)


def test_the_day_view_fits_a_phone(
    new_page: Callable[..., Page],
    demo_state: dict[str, Any],
    screenshot: Callable[..., Any],
) -> None:
    page = new_page(PHONE, storage_state=demo_state)
    page.goto("/dashboard/schedule?view=day")
    expect(page.locator("section.day")).to_have_count(1)
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390, f"page is {width}px wide"
    grid_width = page.evaluate("() => document.querySelector('.week-scroll').scrollWidth")
    assert grid_width <= 390, f"day grid is {grid_width}px wide"
    screenshot(page, "schedule-phone-day-view", full_page=False)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP])
def test_a_recurring_client_is_booked_by_apply_template_and_shown_in_blue(
    new_page: Callable[..., Page],
    sign_up: Callable[[Page, str], None],
    screenshot: Callable[..., Any],
    viewport: str,
) -> None:
    page = new_page(viewport)
    sign_up(page, f"recurring-{viewport}@example.com")
    set_up_studio(page, 3, "12:00")  # Thursday 12:00-13:00

    # a client with the studio enabled and Thursday 12:00 as their recurring slot
    page.goto("/dashboard/clients")
    page.get_by_label("Name", exact=True).fill("Priya Shah")
    page.get_by_label("Phone (WhatsApp)").fill("07400 123456")
    page.get_by_label(re.compile("Session price")).fill("45")
    page.get_by_role("button", name="Add client").click()
    page.get_by_role("checkbox", name="Studio", exact=True).check()
    page.get_by_role("button", name="Save profile").click()
    page.get_by_label(re.compile("12:00–13:00 · Studio")).check()
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_text("Profile saved.")).to_be_visible()
    screenshot(page, f"recurring-{viewport}-1-profile")

    apply_template_to_next_week(page)
    expect(page.get_by_text("1 recurring session booked.")).to_be_visible()
    page.get_by_role("link", name="Back to the schedule").click()

    booking = page.locator("a.slot.slot-recurring", has_text="Priya Shah")
    booking.scroll_into_view_if_needed()
    expect(booking).to_be_visible()
    colour = booking.evaluate("el => getComputedStyle(el).borderLeftColor")
    assert colour == "rgb(47, 111, 219)", colour  # the legend's blue
    screenshot(page, f"recurring-{viewport}-2-week", full_page=False)
    booking.click()
    expect(page.get_by_role("heading", name=re.compile("12:00–13:00"))).to_be_visible()
    expect(page.get_by_text("Recurring").first).to_be_visible()
    expect(page.get_by_role("link", name="Priya Shah")).to_be_visible()
    screenshot(page, f"recurring-{viewport}-3-session")

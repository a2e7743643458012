"""The Schedule in a real browser: apply the template, see the week, add a one-off slot;
half-hour bookings that show their client, the whole working day, and the keyboard."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from chalicelib.domain.timeutil import local_today, week_key
from tests.browser.conftest import DESKTOP, PHONE, confirm_sign_in
from tests.runner import Runner

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
    page.get_by_role("link", name="Remove slot…").click()
    page.get_by_role("button", name="Yes, remove the slot").click()
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


# The grid in use: half-hour bookings, the whole working day, the keyboard ----------------
GRID_EMAIL = "grid-keys@example.com"


def week_after(weeks: int) -> date:
    """Monday of the week `weeks` after this one (trainer-local, real clock)."""
    today = local_today(datetime.now(UTC), "Europe/London")
    return today - timedelta(days=today.weekday()) + timedelta(weeks=weeks)


def add_studio_client(page: Page, name: str) -> None:
    page.goto("/dashboard/clients")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Phone (WhatsApp)").fill("07400 123456")
    page.get_by_role("button", name="Add client").click()
    page.get_by_role("checkbox", name="Studio", exact=True).check()
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_text("Profile saved.")).to_be_visible()


def add_slot(page: Page, day: date, start: str, end: str, client: str | None = None) -> None:
    """A one-off slot at the Studio, booked for `client` when given."""
    page.goto(f"/dashboard/schedule/new?day={day.isoformat()}&start={start}")
    page.get_by_label("End").select_option(end)
    page.get_by_label("Location").select_option(label="Studio")
    page.get_by_role("button", name="Add slot").click()
    expect(page.get_by_text("Slot added.")).to_be_visible()
    if client:
        page.goto(f"/dashboard/schedule?view=day&day={day.isoformat()}")
        page.locator("a.slot.slot-open", has_text=f"{start}–{end}").click()
        page.get_by_label("Client").select_option(label=client)
        page.get_by_role("button", name="Book").click()
        expect(page.get_by_text(f"{client} is booked.")).to_be_visible()


@pytest.fixture(scope="module")
def grid_state(browser: Browser, base_url: str, runner: Runner) -> dict[str, Any]:
    """A trainer whose next week has half-hour bookings in the morning and the evening
    (Thursday 08:00 and Tuesday 20:00, for Priya) and an open half hour (Monday 09:00),
    and whose week after has one evening session only (Wednesday 19:30)."""
    context = browser.new_context(base_url=base_url, locale="en-GB", timezone_id="Europe/London")
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        page.goto("/login")
        page.get_by_label("Email").fill(GRID_EMAIL)
        since = runner.mark()
        page.get_by_role("button", name="Email me a sign-in link").click()
        confirm_sign_in(page, runner.wait_for_sign_in_link(GRID_EMAIL, since))
        page.goto("/dashboard/settings/locations")
        page.get_by_label("New location").fill("Studio")
        page.get_by_role("button", name="Add").click()
        add_studio_client(page, "Priya Shah")
        monday = week_after(1)
        add_slot(page, monday + timedelta(days=3), "08:00", "08:30", "Priya Shah")
        add_slot(page, monday + timedelta(days=1), "20:00", "20:30", "Priya Shah")
        add_slot(page, monday, "09:00", "09:30")
        add_slot(page, week_after(2) + timedelta(days=2), "19:30", "20:00", "Priya Shah")
        return context.storage_state()
    finally:
        context.close()


def schedule_region(page: Page) -> Locator:
    return page.get_by_role("region", name=re.compile("^Schedule for"))


def box(locator: Locator) -> dict[str, float]:
    found = locator.bounding_box()
    assert found, f"{locator} is not rendered"
    return found


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP])
def test_a_half_hour_booking_shows_the_clients_name(
    new_page: Callable[..., Page],
    grid_state: dict[str, Any],
    screenshot: Callable[..., Any],
    viewport: str,
) -> None:
    page = new_page(viewport, storage_state=grid_state)
    thursday = week_after(1) + timedelta(days=3)
    for view, query in (("week", f"week={week_key(thursday)}"), ("day", f"day={thursday}")):
        page.goto(f"/dashboard/schedule?view={view}&{query}")
        block = schedule_region(page).locator("a.slot", has_text="08:00–08:30")
        block.scroll_into_view_if_needed()
        expect(block).to_have_class(re.compile(r"\bcompact\b"))
        # the whole text is its accessible name, whatever the block's size cuts off
        expect(block).to_have_accessible_name(
            re.compile(r"Priya Shah\s+08:00–08:30\s+Studio\s+Booked")
        )
        name, time, outer = block.locator(".slot-who"), block.locator(".slot-time"), box(block)
        expect(name).to_be_visible()
        expect(name).to_have_text("Priya Shah")
        for part, least_height in ((name, 12), (time, 10)):
            inner = box(part)
            assert inner["height"] >= least_height, f"{view}: {part} is {inner} in {outer}"
            assert inner["y"] >= outer["y"] - 1, f"{view}: {part} starts above its block"
            assert inner["y"] + inner["height"] <= outer["y"] + outer["height"] + 1, (
                f"{view}: {part} is cut off by its block: {inner} in {outer}"
            )
        assert box(name)["width"] >= 50, f"{view}: the name is {box(name)} wide"
        assert name.evaluate("el => el.scrollWidth <= el.clientWidth"), "the name is cut"
        screenshot(page, f"grid-{viewport}-{view}-half-hour", full_page=False)


def test_the_desktop_week_shows_the_working_day_without_a_box_to_scroll(
    new_page: Callable[..., Page],
    grid_state: dict[str, Any],
    screenshot: Callable[..., Any],
) -> None:
    page = new_page(DESKTOP, storage_state=grid_state)
    page.goto(f"/dashboard/schedule?view=week&week={week_key(week_after(1))}")
    region = schedule_region(page)
    sizes = region.evaluate("el => ({scroll: el.scrollHeight, client: el.clientHeight})")
    assert sizes["scroll"] <= sizes["client"] + 1, f"the grid scrolls inside a box: {sizes}"
    labels = page.locator(".week-times .time-label")
    expect(labels.first).to_have_text("07:00")  # the settings' hours, 07:00-21:00
    expect(labels.last).to_have_text("20:30")
    # The evening is one page scroll away, and the day names stay on top meanwhile.
    evening = region.locator("a.slot", has_text="20:00–20:30")
    evening.scroll_into_view_if_needed()
    expect(evening).to_be_in_viewport()
    assert page.evaluate("window.scrollY") > 0
    head = box(region.locator("section.day .day-head").first)
    assert -1 <= head["y"] <= 1, f"the day names scrolled away: {head}"
    screenshot(page, "grid-desktop-evening", full_page=False)


def test_a_phone_week_opens_at_its_first_session(
    new_page: Callable[..., Page],
    grid_state: dict[str, Any],
    screenshot: Callable[..., Any],
) -> None:
    page = new_page(PHONE, storage_state=grid_state)
    page.goto(f"/dashboard/schedule?view=week&week={week_key(week_after(2))}")
    region = schedule_region(page)
    evening = region.locator("a.slot", has_text="19:30–20:00")
    frame, inside = box(region), box(evening)
    assert region.evaluate("el => el.scrollTop") > 0
    assert (
        frame["y"] <= inside["y"] and inside["y"] + inside["height"] <= frame["y"] + frame["height"]
    ), f"the only session ({inside}) is not in the grid's box ({frame})"
    assert (
        frame["x"] <= inside["x"] and inside["x"] + inside["width"] <= frame["x"] + frame["width"]
    )
    region.scroll_into_view_if_needed()
    screenshot(page, "grid-phone-opens-at-evening", full_page=False)


def test_the_grid_is_one_tab_stop_with_arrow_keys(
    new_page: Callable[..., Page], grid_state: dict[str, Any]
) -> None:
    page = new_page(DESKTOP, storage_state=grid_state)
    monday = week_after(1)
    page.goto(f"/dashboard/schedule?view=week&week={week_key(monday)}")
    region = schedule_region(page)
    expect(region.locator("a[tabindex='0']")).to_have_count(1)
    in_grid = "() => !!document.activeElement.closest('[data-grid]')"
    presses = 0
    while not page.evaluate(in_grid):
        page.keyboard.press("Tab")
        presses += 1
        assert presses <= 20, "20 Tab presses and still not in the grid"
    focused = page.locator(":focus")
    wed, thu = (f"{d:%a} {d.day} {d:%b}" for d in (monday + timedelta(days=n) for n in (2, 3)))
    # Tab lands on the week's first session (nothing of today to start from)
    expect(focused).to_have_accessible_name(re.compile(r"Priya Shah\s+08:00–08:30"))
    for key, name in (
        ("ArrowDown", f"Add a slot on {thu} at 08:30"),
        ("ArrowLeft", f"Add a slot on {wed} at 08:30"),
        ("ArrowUp", f"Add a slot on {wed} at 08:00"),
        ("ArrowRight", re.compile(r"Priya Shah\s+08:00–08:30")),
        ("End", f"Add a slot on {thu} at 20:30"),
        ("Home", f"Add a slot on {thu} at 07:00"),
    ):
        page.keyboard.press(key)
        expect(focused).to_have_accessible_name(name)
    expect(region.locator("a[tabindex='0']")).to_have_count(1)  # still one stop: this cell
    page.keyboard.press("Tab")  # out of the grid in one press
    assert not page.evaluate(in_grid)
    page.keyboard.press("Shift+Tab")  # and back to the cell it left
    expect(focused).to_have_accessible_name(f"Add a slot on {thu} at 07:00")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/dashboard/schedule/new\?day={monday + timedelta(3)}"))
    expect(page.get_by_label("Start")).to_have_value("07:00")


def test_without_javascript_every_cell_is_in_the_tab_order(
    browser: Browser, base_url: str, grid_state: dict[str, Any]
) -> None:
    context = browser.new_context(
        base_url=base_url, storage_state=grid_state, java_script_enabled=False
    )
    try:
        page = context.new_page()
        page.goto(f"/dashboard/schedule?view=week&week={week_key(week_after(1))}")
        region = schedule_region(page)
        assert region.locator("a").count() > 150  # 7 days of 28 half-hours, less the blocks
        expect(region.locator("a[tabindex]")).to_have_count(0)
        expect(page.locator("#grid-help")).to_be_hidden()  # no arrow keys to promise
    finally:
        context.close()

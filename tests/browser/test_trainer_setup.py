"""A trainer's first steps in a real browser, on a phone and on a desktop.

Sign up through /login, add a location, build the weekly template on the grid, and see
the getting-started checklist tick; plus the seeded demo trainer, one-use links, form
errors that keep their input, and no sideways page scroll on a phone.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import DESKTOP, PHONE

pytestmark = pytest.mark.browser

VIEWPORT_NAMES = [PHONE, DESKTOP]
LOCATION_NAME = "Studio <b>One</b>"  # must show literally, never as markup
PHONE_WIDTH = 390


def no_js_errors(page: Page) -> None:
    # A 4xx form page is expected here and logs "Failed to load resource": not a JS error.
    errors = [
        e
        for e in page.js_errors  # type: ignore[attr-defined]
        if not e.startswith("Failed to load resource: the server responded with a status of 4")
    ]
    assert not errors, f"Console/page errors (CSP violations show here too): {errors}"


def day_column(page: Page, weekday: str) -> Locator:
    return page.get_by_role("region", name="Weekly template grid").locator(
        f'section.day[aria-label="{weekday}"]'
    )


def slot_in_grid(page: Page, weekday: str, times: str) -> Locator:
    return day_column(page, weekday).locator("a.slot", has_text=times)


def add_cell(page: Page, weekday: str, clock: str) -> Locator:
    return page.get_by_role("link", name=f"Add a slot on {weekday} at {clock}", exact=True)


def scroll_to_start(page: Page) -> None:
    """Back to the top of the page and to Monday in the grid, for a full-page screenshot."""
    page.evaluate(
        "() => { window.scrollTo(0, 0);"
        " for (const el of document.querySelectorAll('.week-scroll')) el.scrollLeft = 0; }"
    )


def assert_on_grid_rows(page: Page, slot: Locator, start: str, rows: int) -> None:
    """The slot starts on its time label's row and spans `rows` half-hour rows."""
    label = page.locator(".week-times .time-label", has_text=re.compile(f"^{start}$"))
    slot_box, label_box = slot.bounding_box(), label.bounding_box()
    assert slot_box and label_box
    row_height = label_box["height"]
    # The slot has a 2px margin inside its cells.
    assert abs(slot_box["y"] - label_box["y"]) <= 4, (slot_box, label_box)
    assert abs(slot_box["height"] - rows * row_height) <= 6, (slot_box, row_height)


def assert_no_page_overflow(page: Page, where: str) -> None:
    widths = page.evaluate(
        "() => ({doc: document.documentElement.scrollWidth, body: document.body.scrollWidth,"
        " inner: window.innerWidth})"
    )
    assert widths["doc"] <= PHONE_WIDTH, f"{where}: page scrolls sideways on a phone: {widths}"
    assert widths["body"] <= PHONE_WIDTH, f"{where}: body wider than the phone: {widths}"


@pytest.mark.parametrize("viewport", VIEWPORT_NAMES)
def test_new_trainer_sets_up_locations_and_weekly_template(
    viewport: str,
    new_page: Callable[..., Page],
    sign_up: Callable[[Page, str], None],
    screenshot: Callable[..., Any],
) -> None:
    page = new_page(viewport)
    email = f"{viewport}-coach@example.com"
    sign_up(page, email)

    # A brand-new account: the checklist with nothing done yet.
    checklist = page.get_by_role("region", name="Getting started")
    expect(checklist.get_by_role("heading", name="Getting started")).to_be_visible()
    expect(checklist.locator(".progress-label")).to_have_text("0 of 6 done")
    expect(checklist.locator("li.step.done")).to_have_count(0)
    # the "Name shown to clients" the sign-up page suggested from the address, accepted
    expect(page.locator(".account-name")).to_have_text(f"{viewport.title()} Coach")
    screenshot(page, f"setup-{viewport}-1-dashboard-new")

    # Locations: the name is shown as typed, HTML included.
    checklist.get_by_role("link", name="Set up your locations").click()
    expect(page).to_have_url(re.compile(r"/dashboard/settings/locations$"))
    expect(page.get_by_text("No locations yet.")).to_be_visible()
    page.get_by_label("New location").fill(LOCATION_NAME)
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.get_by_role("status")).to_have_text("Location added.")
    title = page.locator(".list-title")
    expect(title).to_have_count(1)
    expect(title).to_have_text(LOCATION_NAME)
    expect(title.locator("b")).to_have_count(0)
    expect(page.get_by_role("link", name=f"Edit {LOCATION_NAME}", exact=True)).to_be_visible()
    expect(page.get_by_text("Not used by the template")).to_be_visible()
    screenshot(page, f"setup-{viewport}-2-locations")

    # Weekly template: an empty grid; press the Monday 09:00 cell.
    page.locator(".subnav").get_by_role("link", name="Weekly template").click()
    expect(page.get_by_role("heading", name="Weekly template", exact=True)).to_be_visible()
    expect(page.locator("a.slot")).to_have_count(0)
    screenshot(page, f"setup-{viewport}-3-template-empty")
    cell = add_cell(page, "Monday", "09:00")
    cell.scroll_into_view_if_needed()
    cell.click()
    expect(page).to_have_url(re.compile(r"/dashboard/settings/template/new\?"))
    expect(page.get_by_role("heading", name="New template slot")).to_be_visible()
    expect(page.get_by_label("Day", exact=True)).to_have_value("0")
    expect(page.get_by_label("Start", exact=True)).to_have_value("09:00")
    expect(page.get_by_label("End", exact=True)).to_have_value("10:00")  # one hour by default
    page.get_by_label("End", exact=True).select_option("10:00")
    page.get_by_label("Location", exact=True).select_option(label=LOCATION_NAME)
    screenshot(page, f"setup-{viewport}-4-slot-form")
    page.get_by_role("button", name="Add slot").click()
    expect(page).to_have_url(re.compile(r"/dashboard/settings/template\?saved=added$"))
    expect(page.get_by_role("status")).to_have_text("Slot added.")

    # A second slot, Wednesday 18:00-19:30: off screen on a phone until scrolled to.
    cell = add_cell(page, "Wednesday", "18:00")
    cell.scroll_into_view_if_needed()
    expect(cell).to_be_in_viewport()
    cell.click()
    expect(page.get_by_label("Day", exact=True)).to_have_value("2")
    expect(page.get_by_label("Start", exact=True)).to_have_value("18:00")
    page.get_by_label("End", exact=True).select_option("19:30")
    page.get_by_label("Location", exact=True).select_option(label=LOCATION_NAME)
    page.get_by_role("button", name="Add slot").click()
    expect(page.get_by_role("status")).to_have_text("Slot added.")

    # Both slots on the grid, with times and location, each on its own rows.
    for weekday, times, start, rows in (
        ("Monday", "09:00–10:00", "09:00", 2),
        ("Wednesday", "18:00–19:30", "18:00", 3),
    ):
        slot = slot_in_grid(page, weekday, times)
        expect(slot).to_have_count(1)
        slot.scroll_into_view_if_needed()
        expect(slot).to_be_in_viewport()
        expect(slot.locator(".slot-time")).to_have_text(times)
        expect(slot.locator(".slot-place")).to_have_text(LOCATION_NAME)
        expect(slot.locator("b")).to_have_count(0)
        assert_on_grid_rows(page, slot, start, rows)
    expect(page.locator("a.slot")).to_have_count(2)
    expect(add_cell(page, "Monday", "09:30")).to_have_count(0)  # covered by the slot
    expect(add_cell(page, "Monday", "10:00")).to_have_count(1)
    expect(page.get_by_role("heading", name="All slots (2)")).to_be_visible()
    scroll_to_start(page)
    screenshot(page, f"setup-{viewport}-5-template-two-slots")
    if viewport == PHONE:
        grid = page.get_by_role("region", name="Weekly template grid")
        scroll = grid.evaluate("el => ({scroll: el.scrollWidth, client: el.clientWidth})")
        assert scroll["scroll"] > scroll["client"], f"the week should scroll sideways: {scroll}"
        slot_in_grid(page, "Wednesday", "18:00–19:30").scroll_into_view_if_needed()
        screenshot(page, f"setup-{viewport}-6-template-scrolled-to-wednesday", full_page=False)

    # Back on the dashboard: steps 1 and 2 are ticked.
    page.locator("header a.brand").click()  # the logo leads home
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    checklist = page.get_by_role("region", name="Getting started")
    expect(checklist.locator(".progress-label")).to_have_text("2 of 6 done")
    expect(page.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "2")
    done = checklist.locator("li.step.done")
    expect(done).to_have_count(2)
    expect(done.locator(".step-title a")).to_have_text(
        ["Set up your locations", "Build your weekly template"]
    )
    expect(done.locator(".step-mark")).to_have_text(["✓", "✓"])
    expect(done.locator(".visually-hidden")).to_have_text(["(done)", "(done)"])
    screenshot(page, f"setup-{viewport}-7-dashboard-two-done")
    no_js_errors(page)


@pytest.mark.parametrize("viewport", VIEWPORT_NAMES)
def test_demo_trainer_sees_seeded_template(
    viewport: str,
    new_page: Callable[..., Page],
    demo_state: dict[str, Any],
    screenshot: Callable[..., Any],
) -> None:
    page = new_page(viewport, storage_state=demo_state)
    page.goto("/dashboard")
    expect(page.get_by_role("heading", name="Welcome, Sam Carter PT")).to_be_visible()
    screenshot(page, f"demo-{viewport}-dashboard")
    page.goto("/dashboard/settings/locations")
    expect(page.locator(".list-title")).to_have_text(
        ["Home visits", "Riverside Studio", "Victoria Park"]  # sorted by name
    )
    screenshot(page, f"demo-{viewport}-locations")
    page.goto("/dashboard/settings/template")
    expect(page.locator("a.slot")).to_have_count(9)
    expect(page.get_by_role("heading", name="All slots (9)")).to_be_visible()
    slot = slot_in_grid(page, "Saturday", "09:00–10:30")
    expect(slot.locator(".slot-place")).to_have_text("Victoria Park")
    slot.scroll_into_view_if_needed()
    expect(slot).to_be_in_viewport()
    assert_on_grid_rows(page, slot, "09:00", 3)
    scroll_to_start(page)
    screenshot(page, f"demo-{viewport}-template")
    if viewport == PHONE:
        slot.scroll_into_view_if_needed()
        screenshot(page, f"demo-{viewport}-template-scrolled-to-saturday", full_page=False)
    no_js_errors(page)


def test_used_sign_in_link_cannot_be_used_again(
    new_page: Callable[..., Page],
    demo_state: dict[str, Any],
    demo_sign_in_url: str,
    screenshot: Callable[..., Any],
) -> None:
    # demo_state signed in with the startup link; opening it again is refused.
    assert demo_state["cookies"]
    page = new_page(PHONE)
    response = page.goto(demo_sign_in_url)
    assert response is not None and response.status == 410
    expect(page.get_by_role("heading", name="This link was already used")).to_be_visible()
    expect(page.get_by_role("button", name="Continue to my dashboard")).to_have_count(0)
    expect(page.get_by_role("link", name="Get a new sign-in link")).to_be_visible()
    screenshot(page, "signin-phone-link-already-used")


@pytest.mark.parametrize("viewport", VIEWPORT_NAMES)
def test_overlapping_slot_shows_error_and_keeps_choices(
    viewport: str,
    new_page: Callable[..., Page],
    demo_state: dict[str, Any],
    screenshot: Callable[..., Any],
) -> None:
    page = new_page(viewport, storage_state=demo_state)
    page.goto("/dashboard/settings/template")
    # The demo has Wednesday 18:00-19:30; start just before it.
    cell = add_cell(page, "Wednesday", "17:30")
    cell.scroll_into_view_if_needed()
    cell.click()
    page.get_by_label("End", exact=True).select_option("19:00")
    page.get_by_label("Location", exact=True).select_option(label="Victoria Park")
    with page.expect_response(re.compile(r"/dashboard/settings/template/new$")) as posted:
        page.get_by_role("button", name="Add slot").click()
    assert posted.value.status == 400

    message = "This overlaps 18:00–19:30 on Wednesday. Slots on the same day cannot overlap."
    expect(page.get_by_role("alert")).to_contain_text(message)
    expect(page.locator("#start-error")).to_have_text(message)
    expect(page.get_by_label("Start", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Day", exact=True)).to_have_value("2")
    expect(page.get_by_label("Start", exact=True)).to_have_value("17:30")
    expect(page.get_by_label("End", exact=True)).to_have_value("19:00")
    location = page.get_by_label("Location", exact=True)
    expect(location.locator("option:checked")).to_have_text("Victoria Park")
    screenshot(page, f"slot-form-{viewport}-overlap-error")

    # Nothing was added.
    page.goto("/dashboard/settings/template")
    expect(page.locator("a.slot")).to_have_count(9)
    no_js_errors(page)


def test_no_sideways_page_scroll_on_a_phone(
    new_page: Callable[..., Page],
    demo_state: dict[str, Any],
    screenshot: Callable[..., Any],
) -> None:
    page = new_page(PHONE, storage_state=demo_state)
    for path in (
        "/dashboard",
        "/dashboard/settings",
        "/dashboard/settings/locations",
        "/dashboard/settings/template/new?weekday=0&start=09:00",
    ):
        page.goto(path)
        assert_no_page_overflow(page, path)
    page.goto("/dashboard/settings")
    screenshot(page, "overflow-phone-settings")

    # The template grid is wider than a phone, but only its own region scrolls.
    page.goto("/dashboard/settings/template")
    assert_no_page_overflow(page, "/dashboard/settings/template")
    grid = page.get_by_role("region", name="Weekly template grid")
    scroll = grid.evaluate("el => ({scroll: el.scrollWidth, client: el.clientWidth})")
    assert scroll["client"] <= PHONE_WIDTH
    assert scroll["scroll"] > scroll["client"], scroll
    no_js_errors(page)

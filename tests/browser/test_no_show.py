"""A no-show marked in a real browser (issue 16 item 1): the trainer charges the full
price for a no-show, Priya misses tomorrow's session, and her balance shows the fee.

The runner's clock is moved two days ahead for the marking (tests/runner.shift_clock:
the app's time is the machine's plus an offset only the local runner reads), so the
session has really taken place when it is marked; it is put back afterwards."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from chalicelib.domain.timeutil import local_today
from tests.browser.conftest import PHONE
from tests.browser.test_accessibility import AXE_PATH, _serve_axe, axe_violations
from tests.browser.test_schedule import add_slot
from tests.browser.test_sessions import add_priya
from tests.runner import Runner

pytestmark = pytest.mark.browser


@pytest.fixture
def later(runner: Runner) -> Iterator[Callable[[timedelta], None]]:
    yield lambda ahead: runner.shift_clock(ahead.total_seconds())
    runner.shift_clock(0)


def test_a_no_show_is_marked_and_its_fee_enters_the_balance(
    new_page: Callable[..., Page],
    sign_up: Callable[[Page, str], None],
    screenshot: Callable[..., Any],
    later: Callable[[timedelta], None],
) -> None:
    page = new_page(PHONE)
    page.context.route(f"**{AXE_PATH}", _serve_axe)
    sign_up(page, "no-show@example.com")
    page.goto("/dashboard/settings/locations")
    page.get_by_label("New location").fill("Studio")
    page.get_by_role("button", name="Add").click()
    add_priya(page)  # £45 a session
    page.goto("/dashboard/settings")
    page.get_by_label("No-show fee").select_option(label="The full price")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Settings saved")).to_be_visible()

    tomorrow = local_today(datetime.now(UTC), "Europe/London") + timedelta(days=1)
    add_slot(page, tomorrow, "09:00", "10:00", "Priya Shah")
    session_url = page.url
    expect(page.get_by_role("button", name="Mark no-show")).to_have_count(0)  # not yet

    later(timedelta(days=2))  # tomorrow's session is over: Priya never came
    page.goto(session_url)
    page.get_by_role("button", name="Mark no-show").click()
    expect(page.locator(".session-tags")).to_contain_text("No-show")
    expect(page.get_by_text("£45.00").first).to_be_visible()
    screenshot(page, "no-show-1-session")
    assert axe_violations(page) == []

    page.goto("/dashboard/clients")
    page.get_by_role("link", name="Priya Shah", exact=True).click()
    balance = page.locator("#balance")
    expect(balance.get_by_role("heading")).to_have_text("Outstanding balance: £45.00")
    expect(balance).to_contain_text(re.compile("£45.00 · no-show fee, unpaid"))
    screenshot(page, "no-show-2-balance")
    assert axe_violations(page) == []
    assert not page.js_errors  # type: ignore[attr-defined]

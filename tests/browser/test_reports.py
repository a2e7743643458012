"""Reports seen as the trainer uses them (issue 16 item 5): a session paid in cash shows
in this month's revenue, the chart's bar and the table's row saying the same."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from chalicelib.domain.timeutil import local_today
from tests.browser.conftest import PHONE
from tests.browser.test_accessibility import AXE_PATH, _serve_axe, axe_violations
from tests.browser.test_schedule import add_slot, add_studio_client

pytestmark = pytest.mark.browser


def _a_day_this_month() -> tuple[str, str]:
    """Tomorrow, or today late when tomorrow is next month: (date, start)."""
    today = local_today(datetime.now(UTC), "Europe/London")
    tomorrow = today + timedelta(days=1)
    return (
        (tomorrow.isoformat(), "09:00")
        if tomorrow.month == today.month
        else (
            today.isoformat(),
            "23:00",
        )
    )


def test_a_paid_session_shows_in_this_month_s_revenue_chart_and_table(
    new_page: Callable[..., Page],
    sign_up: Callable[[Page, str], None],
    screenshot: Callable[..., Any],
) -> None:
    page = new_page(PHONE)
    page.context.route(f"**{AXE_PATH}", _serve_axe)
    sign_up(page, "reports@example.com")
    page.goto("/dashboard/settings/locations")
    page.get_by_label("New location").fill("Studio")
    page.get_by_role("button", name="Add").click()
    add_studio_client(page, "Priya Shah")
    page.get_by_label(re.compile("^Session price")).fill("45")
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_text("Profile saved.")).to_be_visible()
    day, start = _a_day_this_month()
    end = "10:00" if start == "09:00" else "23:30"
    add_slot(page, datetime.fromisoformat(day).date(), start, end, "Priya Shah")

    page.get_by_label("Paid", exact=True).check()
    page.get_by_label("Payment type").select_option(label="Cash")
    page.get_by_role("button", name="Save payment").click()
    expect(page.get_by_text("Payment saved.")).to_be_visible()

    page.get_by_role("link", name="Reports").click()
    expect(page.get_by_role("heading", name="Revenue by month")).to_be_visible()
    month = datetime.fromisoformat(day).strftime("%b %Y")
    row = page.get_by_role("row", name=re.compile(f"^{month}"))
    expect(row).to_contain_text("£")
    cells = row.locator("td").all_inner_texts()
    assert cells[0] == cells[1] == "£45.00"  # paid in total, all of it in cash
    chart = page.get_by_role("img", name="Revenue by month")
    expect(chart.locator("rect.bar-cash")).to_have_count(1)
    screenshot(page, "reports-1-month")
    assert axe_violations(page) == []
    assert not page.js_errors  # type: ignore[attr-defined]

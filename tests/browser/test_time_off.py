"""Time off seen as the trainer uses it (issue 15): a holiday set in Settings keeps Apply
template out of the week, and the week shows the holiday instead of open slots."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from chalicelib.domain.timeutil import week_monday
from tests.browser.conftest import DESKTOP
from tests.browser.test_schedule import apply_template_to_next_week, next_week, set_up_studio

pytestmark = pytest.mark.browser


def test_a_holiday_keeps_apply_template_out_of_the_week(
    new_page: Callable[..., Page],
    sign_up: Callable[[Page, str], None],
    screenshot: Callable[..., Any],
) -> None:
    page = new_page(DESKTOP)
    sign_up(page, "holiday@example.com")
    set_up_studio(page, 2, "18:00")  # Wednesday 18:00-19:00
    monday = week_monday(next_week())

    page.goto("/dashboard/settings/time-off")
    page.get_by_label("From", exact=True).fill(monday.isoformat())
    page.get_by_label(re.compile(r"^To \(blank")).fill((monday + timedelta(days=6)).isoformat())
    page.get_by_label(re.compile("^Note")).fill("Holiday")
    page.get_by_role("button", name="Save time off").click()
    expect(page.get_by_text("Time off saved.")).to_be_visible()
    screenshot(page, "time-off-1-saved")

    apply_template_to_next_week(page)
    expect(
        page.get_by_text(re.compile("not added: it is in your time off \\(Holiday\\)"))
    ).to_be_visible()

    page.goto(f"/dashboard/schedule?week={next_week()}&view=week")
    grid = page.get_by_role("region", name=re.compile("^Schedule for"))
    expect(grid).to_contain_text("Time off")
    expect(grid).to_contain_text("Holiday")
    expect(grid.locator("a.slot.slot-open")).to_have_count(0)
    screenshot(page, "time-off-2-week")
    assert not page.js_errors  # type: ignore[attr-defined]

"""Programs in a real browser: create a template, run the New bundle wizard for a client,
see the bundle page, send confirmations and see them in the session log, the WhatsApp tab
and the runner's captured email."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from chalicelib.domain.timeutil import local_today
from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.test_sessions import add_priya, wait_for_badge
from tests.runner import Runner

pytestmark = pytest.mark.browser


def next_tuesday() -> str:
    today = local_today(datetime.now(UTC), "Europe/London")
    return (today + timedelta(days=(1 - today.weekday()) % 7 or 7)).isoformat()


def give_priya_an_email(page: Page, email: str) -> None:
    page.goto("/dashboard/clients")
    page.get_by_role("link", name="Priya Shah").first.click()
    page.get_by_label(re.compile("^Email")).fill(email)
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_text("Profile saved.")).to_be_visible()


def no_horizontal_scroll(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP])
def test_a_trainer_sells_a_bundle_and_sends_its_confirmations(
    new_page: Callable[..., Page],
    sign_up: Callable[[Page, str], None],
    screenshot: Callable[..., Any],
    runner: Runner,
    viewport: str,
) -> None:
    page = new_page(viewport)
    sign_up(page, f"programs-{viewport}@example.com")
    page.goto("/dashboard/settings/locations")
    page.get_by_label("New location").fill("Studio")
    page.get_by_role("button", name="Add").click()
    add_priya(page)
    email = f"priya-{viewport}@example.com"
    give_priya_an_email(page, email)

    # A template: 12 sessions, £540, the studio, a video link and two documents.
    page.get_by_role("navigation", name="Dashboard").get_by_role("link", name="Programs").click()
    expect(page.get_by_role("heading", name="Programs")).to_be_visible()
    page.get_by_role("link", name="Create a template").click()
    page.get_by_label("Title").fill("12-session coaching")
    page.get_by_label("Number of sessions").fill("12")
    page.get_by_label(re.compile("Total price")).fill("540")
    page.get_by_label("Location").select_option(label="Studio")
    page.get_by_label(re.compile("Video link")).fill("https://meet.example.com/coach")
    page.get_by_label("Document 1 name").fill("Training plan")
    page.get_by_label("Document 1 link").fill("https://docs.example.com/plan.pdf")
    page.get_by_label("Document 2 name").fill("Meal guide")
    page.get_by_label("Document 2 link").fill("https://docs.example.com/meals.pdf")
    page.get_by_role("button", name="Save template").click()
    expect(page.get_by_text("Template saved.")).to_be_visible()
    expect(page.get_by_text("12 × 1 h · £540.00 · Studio · 2 documents")).to_be_visible()
    screenshot(page, f"programs-{viewport}-1-models")

    # From Priya's profile, Programs: New bundle.
    page.goto("/dashboard/clients")
    page.get_by_role("link", name="Priya Shah").first.click()
    programs = page.locator("#programs")
    programs.get_by_role("button", name="New bundle").click()
    expect(page.get_by_role("heading", name="New bundle for Priya Shah")).to_be_visible()
    page.get_by_label("Start from a template").select_option(
        label="12-session coaching · 12 sessions · £540.00"
    )
    page.get_by_role("button", name="Use this template").click()
    expect(page.get_by_label("Title")).to_have_value("12-session coaching")
    screenshot(page, f"programs-{viewport}-2-step1")
    page.get_by_role("button", name="Continue to scheduling").click()

    # Step 2: twelve weekly dates from next Tuesday 10:00; move the third to Wednesday.
    first = next_tuesday()
    page.get_by_label("First date").fill(first)
    page.get_by_label("Time").first.fill("10:00")
    page.get_by_role("button", name="Generate 12 dates").click()
    expect(page.get_by_text("12 dates generated.")).to_be_visible()
    cards = page.locator(".date-card")
    expect(cards).to_have_count(12)
    third = (datetime.fromisoformat(first) + timedelta(days=15)).date().isoformat()
    cards.nth(2).get_by_label("Date").fill(third)
    # Reload keeps the state once saved: remove the last card, then reload.
    cards.nth(11).get_by_role("button", name="Remove session 12").click()
    expect(page.locator(".date-card")).to_have_count(11)
    page.reload()
    expect(page.locator(".date-card")).to_have_count(11)
    expect(page.locator(".date-card").nth(2).get_by_label("Date")).to_have_value(third)
    page.get_by_role("button", name="+ Add a date").click()
    added = page.locator(".date-card").nth(11)
    twelfth = (datetime.fromisoformat(first) + timedelta(weeks=12)).date().isoformat()
    added.get_by_label("Date").fill(twelfth)
    added.get_by_label("Time").fill("10:00")
    screenshot(page, f"programs-{viewport}-3-step2")
    no_horizontal_scroll(page)
    page.get_by_role("button", name="Continue to confirmation").click()

    # Step 3: the summary, then Validate.
    expect(page.get_by_role("heading", name="12-session coaching")).to_be_visible()
    expect(page.get_by_text("£540.00 in total: £45.00 a session")).to_be_visible()
    expect(page.locator(".summary-dates li")).to_have_count(12)
    screenshot(page, f"programs-{viewport}-4-step3")
    page.get_by_role("button", name="Create bundle and 12 sessions").click()

    # The bundle page.
    expect(page.get_by_text("Bundle created. Nothing was sent")).to_be_visible()
    expect(page.get_by_role("heading", name="Progress: 0 / 12")).to_be_visible()
    expect(page.locator(".bundle-sessions .list-row")).to_have_count(12)
    since = runner.mark()
    page.get_by_role("button", name=re.compile("^Send confirmations \\(12 by email")).click()
    expect(page.get_by_text("12 confirmations queued")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("^Resend confirmations"))).to_be_visible()
    screenshot(page, f"programs-{viewport}-5-bundle")
    no_horizontal_scroll(page)

    # The runner's dispatcher emails them: captured on its console.
    runner.wait_for_line(f"--- email to {email}: Confirmed:", timeout=30, since=since)

    # Each session's log lists its message; the messages tab lists all twelve.
    page.locator(".bundle-sessions a").first.click()
    expect(page.locator(".log").get_by_text("Confirmation by email")).to_be_visible()
    wait_for_badge(page, ".message-entry .badge:nth-of-type(2)", "Sent")
    expect(page.get_by_role("link", name="Training plan")).to_be_visible()
    screenshot(page, f"programs-{viewport}-6-session-log")
    page.get_by_role("link", name="WhatsApp", exact=True).first.click()
    page.get_by_role("list", name="Conversations").get_by_role("link", name="Priya Shah").click()
    expect(page.get_by_text(f"Email to {email}")).to_have_count(12)
    assert page.js_errors == []  # type: ignore[attr-defined]

"""A PDF uploaded in Chromium (issue 17): the trainer uploads a training plan to a
program template (the file goes straight to the runner's S3 with a presigned POST), runs
the wizard for Priya, and Priya opens the plan from her session page on her phone
through a short-lived link."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import PHONE
from tests.browser.test_accessibility import AXE_PATH, _serve_axe, axe_violations
from tests.browser.test_programs import next_tuesday
from tests.browser.test_sessions import add_priya

pytestmark = pytest.mark.browser

PLAN = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


def test_a_trainer_uploads_a_plan_to_a_template_and_the_client_opens_it(
    new_page: Callable[..., Page],
    sign_up: Callable[[Page, str], None],
    screenshot: Callable[..., Any],
    tmp_path: Path,
) -> None:
    page = new_page(PHONE)
    page.context.route(f"**{AXE_PATH}", _serve_axe)
    sign_up(page, "documents@example.com")
    page.goto("/dashboard/settings/locations")
    page.get_by_label("New location").fill("Studio")
    page.get_by_role("button", name="Add").click()
    add_priya(page)

    page.goto("/dashboard/programs/templates/new")
    page.get_by_label("Title").fill("Four-week plan")
    page.get_by_label("Number of sessions").fill("4")
    page.get_by_label(re.compile("Total price")).fill("160")
    page.get_by_label("Location").select_option(label="Studio")
    page.get_by_role("button", name="Save template").click()
    page.get_by_role("link", name="Four-week plan", exact=True).click()

    plan = tmp_path / "training-plan.pdf"
    plan.write_bytes(PLAN)
    upload = page.locator("#upload")
    upload.get_by_label(re.compile("^File")).set_input_files(str(plan))
    upload.get_by_label(re.compile("^Name shown to clients")).fill("Training plan")
    upload.get_by_role("button", name="Upload").click()
    expect(page.get_by_text("File uploaded")).to_be_visible(timeout=15_000)
    expect(page.get_by_text("File: training-plan.pdf")).to_be_visible()
    screenshot(page, "documents-1-template")
    assert axe_violations(page) == []

    # The wizard from Priya's profile, with the template: its sessions carry the plan.
    page.goto("/dashboard/clients")
    page.get_by_role("link", name="Priya Shah", exact=True).click()
    page.locator("#programs").get_by_role("button", name="New bundle").click()
    page.get_by_label("Start from a template").select_option(
        label="Four-week plan · 4 sessions · £160.00"
    )
    page.get_by_role("button", name="Use this template").click()
    page.get_by_role("button", name="Continue to scheduling").click()
    page.get_by_label("First date").fill(next_tuesday())
    page.get_by_label("Time").first.fill("10:00")
    page.get_by_role("button", name="Generate 4 dates").click()
    page.get_by_role("button", name="Continue to confirmation").click()
    page.get_by_role("button", name="Create bundle and 4 sessions").click()
    expect(page.get_by_text("Bundle created.")).to_be_visible()

    page.goto("/dashboard/clients")
    page.get_by_role("link", name="Priya Shah", exact=True).click()
    link = page.locator("#portal_url").input_value()
    phone = new_page(PHONE)
    phone.route(f"**{AXE_PATH}", _serve_axe)
    phone.goto(link)
    phone.locator("a.session-link").first.click()
    plan_link = phone.get_by_role("link", name="Training plan")
    expect(plan_link).to_be_visible()
    href = plan_link.get_attribute("href") or ""
    assert "X-Amz-Signature=" in href and "X-Amz-Expires=600" in href
    screenshot(phone, "documents-2-client-session")
    assert axe_violations(phone) == []
    opened = phone.request.get(href)
    assert opened.ok and opened.body().startswith(b"%PDF-")
    assert not page.js_errors  # type: ignore[attr-defined]

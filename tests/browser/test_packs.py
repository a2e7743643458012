"""A pack paid up front, in a real browser (issue 16 item 2): the trainer sells Priya a
four-session pack, marks it paid in cash, sees every session Paid (pack), issues the
pack's receipt (issue 17) and reads its number from the PDF, and Priya's portal on her
phone says what she has left and links the receipt."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from pypdf import PdfReader

from tests.browser.conftest import PHONE
from tests.browser.test_accessibility import AXE_PATH, _serve_axe, axe_violations
from tests.browser.test_programs import next_tuesday, no_horizontal_scroll
from tests.browser.test_sessions import add_priya

pytestmark = pytest.mark.browser


def test_a_trainer_sells_a_pack_marks_it_paid_and_the_client_sees_what_is_left(
    new_page: Callable[..., Page],
    sign_up: Callable[[Page, str], None],
    screenshot: Callable[..., Any],
) -> None:
    page = new_page(PHONE)
    page.context.route(f"**{AXE_PATH}", _serve_axe)
    sign_up(page, "packs@example.com")
    page.goto("/dashboard/settings/locations")
    page.get_by_label("New location").fill("Studio")
    page.get_by_role("button", name="Add").click()
    add_priya(page)

    # From Priya's profile: a new four-session pack, four weekly Tuesdays.
    page.locator("#programs").get_by_role("button", name="New bundle").click()
    page.get_by_label("Title").fill("Four-pack")
    page.get_by_label("Number of sessions").fill("4")
    page.get_by_label(re.compile("Total price")).fill("180")
    page.get_by_label("Location").select_option(label="Studio")
    page.get_by_role("button", name="Continue to scheduling").click()
    page.get_by_label("First date").fill(next_tuesday())
    page.get_by_label("Time").first.fill("10:00")
    page.get_by_role("button", name="Generate 4 dates").click()
    page.get_by_role("button", name="Continue to confirmation").click()
    page.get_by_role("button", name="Create bundle and 4 sessions").click()
    expect(page.get_by_text("Bundle created.")).to_be_visible()
    expect(page.get_by_text("4 of 4 left")).to_be_visible()
    expect(page.locator(".bundle-sessions .badge-unpaid")).to_have_count(4)

    # Paid as a whole, in cash: every session shows Paid (pack).
    payment = page.locator("#payment")
    expect(payment.get_by_text("Paid session by session.")).to_be_visible()
    payment.get_by_label("Paid by").select_option(label="Cash")
    screenshot(page, "packs-1-unpaid")
    payment.get_by_role("button", name="Mark the pack paid").click()
    expect(page.get_by_text("Pack marked paid")).to_be_visible()
    expect(page.locator("#payment")).to_contain_text("Paid as a pack on")
    expect(page.locator("#payment")).to_contain_text("(cash)")
    badges = page.locator(".bundle-sessions .badge-paid")
    expect(badges).to_have_count(4)
    assert set(badges.all_inner_texts()) == {"Paid (pack)"}
    screenshot(page, "packs-2-paid")
    no_horizontal_scroll(page)
    assert axe_violations(page) == []

    # The pack's receipt: one document for the whole pack, paid, under the next number.
    page.get_by_role("link", name="Invoice or receipt for the pack (PDF)…").click()
    expect(page.get_by_role("heading", name="No invoice issued")).to_be_visible()
    page.get_by_role("button", name="Issue the invoice").click()
    expect(page.get_by_role("heading", name="Receipt INV-000001")).to_be_visible()
    screenshot(page, "packs-2b-receipt")
    assert axe_violations(page) == []
    download = page.get_by_role("link", name="Download receipt (PDF)")
    response = page.context.request.get(download.get_attribute("href") or "")
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(response.body())).pages)
    assert "INV-000001" in text and "Four-pack: 4 personal training sessions" in text
    assert "£180.00" in text
    page.go_back()
    page.go_back()

    # A session's page says it was paid with the pack, and links back to it.
    page.locator(".bundle-sessions a").first.click()
    expect(page.get_by_text("Paid with the pack Four-pack")).to_be_visible()
    expect(page.get_by_role("link", name="Four-pack").first).to_be_visible()

    # Priya's portal, on her phone: what she has left, and that the pack is paid.
    page.goto("/dashboard/clients")
    page.get_by_role("link", name="Priya Shah", exact=True).click()
    expect(page.locator("#programs")).to_contain_text("4 of 4 left")
    link = page.locator("#portal_url").input_value()
    phone = new_page(PHONE)
    phone.route(f"**{AXE_PATH}", _serve_axe)
    phone.goto(link)
    programs = phone.get_by_role("region", name="Your programs")
    expect(programs).to_contain_text("Four-pack")
    expect(programs).to_contain_text("4 of 4 left")
    expect(programs).to_contain_text("paid as a pack")
    expect(programs.get_by_role("link", name=re.compile("Receipt INV-000001"))).to_be_visible()
    screenshot(phone, "packs-3-portal")
    assert axe_violations(phone) == []
    assert not page.js_errors  # type: ignore[attr-defined]

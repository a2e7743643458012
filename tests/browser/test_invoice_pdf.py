"""A numbered invoice in a real browser: Send invoice, then download its PDF from the
session page and read its number with pypdf; the client's link from the message opens
the same document without signing in."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from pypdf import PdfReader

from tests.browser.conftest import PHONE
from tests.browser.test_schedule import apply_template_to_next_week, set_up_studio
from tests.browser.test_sessions import add_payment_details, add_priya, book_priya

pytestmark = pytest.mark.browser

PDF_LINK = re.compile(r"Invoice (INV-\d{6}) \(PDF\): (\S+\.pdf)")


def pdf_text(body: bytes) -> str:
    assert body.startswith(b"%PDF-"), body[:100]
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(body)).pages)


def test_download_an_invoice_pdf_and_read_its_number(
    new_page: Callable[..., Page],
    sign_up: Callable[[Page, str], None],
    browser: Browser,
    base_url: str,
    screenshot: Callable[..., Any],
) -> None:
    page = new_page(PHONE)
    sign_up(page, "invoice-pdf@example.com")
    set_up_studio(page, 2, "18:00")  # Wednesday 18:00-19:00
    add_priya(page)
    add_payment_details(page)
    apply_template_to_next_week(page)
    book_priya(page, "18:00–19:00")

    page.goto("/dashboard/sessions")
    page.get_by_role("link", name=re.compile("Wednesday .* 18:00–19:00")).click()
    page.get_by_role("button", name="Send invoice").click()
    expect(page.get_by_text("Invoice queued")).to_be_visible()
    download = page.get_by_role("link", name="Download invoice (PDF)")
    expect(download).to_be_visible()
    screenshot(page, "invoice-pdf-session-page")

    # The trainer's download, with the page's own cookies.
    response = page.context.request.get(download.get_attribute("href") or "")
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    text = pdf_text(response.body())
    assert "INV-000001" in text and "Priya Shah" in text and "£45.00" in text

    # The client's link, from the message in the WhatsApp tab: no sign-in needed.
    page.get_by_role("link", name="WhatsApp", exact=True).first.click()
    page.get_by_role("list", name="Conversations").get_by_role("link", name="Priya Shah").click()
    found = PDF_LINK.search(page.locator(".bubble-out").last.inner_text())
    assert found and found.group(1) == "INV-000001", page.locator(".bubble-out").last.inner_text()
    stranger = browser.new_context(base_url=base_url)
    try:
        client_copy = stranger.request.get(found.group(2))
        assert client_copy.status == 200
        assert "INV-000001" in pdf_text(client_copy.body())
    finally:
        stranger.close()

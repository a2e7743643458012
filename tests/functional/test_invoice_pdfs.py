"""Numbered invoice PDFs through the real app: the session page's download, the receipt
once paid, the client's link from the message (forged 404, rotated or archived 410),
VAT from Settings, odd names, the credit note, and what each costs in DynamoDB calls."""

from __future__ import annotations

import io
import re
from urllib.parse import urlparse

import pytest
from pypdf import PdfReader

from chalicelib import runtime
from chalicelib.repo.invoices import InvoiceStore
from tests.functional.conftest import Browser
from tests.functional.test_locations_and_template import add_location
from tests.functional.test_messages import (
    booked,  # noqa: F401 (the fixture)
    send,
    set_payment_details,
)
from tests.functional.test_portal_link import client_version
from tests.functional.test_schedule_pages import add_client, allocate, new_slot, slots_on

PDF_LINK = re.compile(r"Invoice (INV-\d{6}) \(PDF\): (\S+/i/\S+\.pdf)")
TIMING = re.compile(r'desc="(\d+) calls"')


def fetch(browser: Browser, path: str) -> tuple[int, dict[str, str], bytes]:
    """A GET whose body may be a PDF (the Browser's pages are text)."""
    headers = {"host": "testserver", "accept": "application/pdf,*/*"}
    if browser.cookies:
        headers["cookie"] = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
    response = browser.client.http.request("GET", path, headers=headers)
    return (
        response.status_code,
        {k.lower(): v for k, v in response.headers.items()},
        response.body,
    )


def pdf_text(body: bytes) -> str:
    assert body.startswith(b"%PDF-"), body[:200]
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages)


def trainer_id(browser: Browser) -> str:
    return browser.cookies["pt_session"].split(".")[0]


def message_texts(browser: Browser) -> list[str]:
    found, _ = runtime.repository().outbox.page(trainer_id(browser), None, None)
    return [runtime.links().message_text(m) for m in found]


def invoice_link(browser: Browser) -> tuple[str, str]:
    """(number, path of the client's PDF link) from the newest invoice message."""
    for text in message_texts(browser):
        match = PDF_LINK.search(text)
        if match:
            return match.group(1), urlparse(match.group(2)).path
    raise AssertionError("no invoice link in the messages")


def link_of(text: str) -> str:
    found = PDF_LINK.search(text)
    assert found, text
    return found.group(2)


def download(browser: Browser, session_url: str) -> tuple[int, dict[str, str], bytes]:
    return fetch(browser, session_url + "/invoice.pdf")


def test_send_invoice_issues_a_numbered_pdf_the_trainer_and_client_can_open(
    trainer: Browser,
    booked: tuple[str, str],  # noqa: F811
    chalice_client,
) -> None:
    session_url, _ = booked
    set_payment_details(trainer)
    assert send(trainer, session_url, "invoice").status == 303
    page = trainer.get(session_url).body
    assert "Download invoice (PDF)" in page
    assert f'href="{session_url}/invoice.pdf"' in page

    status, headers, body = download(trainer, session_url)
    assert status == 200 and headers["content-type"] == "application/pdf"
    assert 'filename="invoice-INV-000001.pdf"' in headers["content-disposition"]
    text = pdf_text(body)
    for expected in (
        "Invoice",
        "INV-000001",
        "Date of issue",
        "Alex Fit",
        "Priya Shah",
        "£40.00",
        "Thu 26 Nov 2026, 09:00-10:00, Studio",
        "Payee:",
        "Alex Byrne",
        "Sort code:",
        "04-00-04",
    ):
        assert expected in text, expected
    assert "VAT" not in text  # no VAT in Settings: none on the invoice

    number, link = invoice_link(trainer)
    assert number == "INV-000001"
    stranger = Browser(chalice_client, [])
    status, headers, client_body = fetch(stranger, link)
    assert status == 200 and headers["content-type"] == "application/pdf"
    assert "no-store" in headers["cache-control"] and headers["x-robots-tag"] == "noindex"
    assert "INV-000001" in pdf_text(client_body) and "Priya Shah" in pdf_text(client_body)
    (text,) = message_texts(trainer)
    ending = (
        f"is matched to this session.\n\nInvoice INV-000001 (PDF): {link_of(text)}\n\nThank you!"
    )
    assert text.rstrip().endswith(ending)


def test_a_resend_keeps_the_number_and_the_next_session_takes_the_next(
    trainer: Browser,
    booked: tuple[str, str],  # noqa: F811
) -> None:
    session_url, client = booked
    set_payment_details(trainer)
    send(trainer, session_url, "invoice")
    send(trainer, session_url, "invoice")  # Resend invoice: a new message, the same invoice
    texts = [t for t in message_texts(trainer) if "INV-" in t]
    assert len(texts) == 2 and all("Invoice INV-000001 (PDF)" in t for t in texts)

    studio = add_location(trainer, "Park")
    new_slot(trainer, "2026-11-27", "09:00", "10:00", studio)
    (week, slot_id), *_ = [
        s for s in slots_on(trainer, "2026-W48") if s[1] not in session_url
    ] or slots_on(trainer, "2026-W48")
    second = allocate(trainer, week, slot_id, client).location.split("?")[0]
    send(trainer, second, "invoice")
    assert "INV-000002" in pdf_text(download(trainer, second)[2])
    assert "INV-000001" in pdf_text(download(trainer, session_url)[2])


def test_once_paid_the_same_link_is_a_receipt_with_the_date_and_how(
    trainer: Browser,
    booked: tuple[str, str],  # noqa: F811
    chalice_client,
) -> None:
    session_url, _ = booked
    set_payment_details(trainer)
    send(trainer, session_url, "invoice")
    version = re.search(r'name="version" value="(\d+)"', trainer.get(session_url).body)
    assert version
    paid = trainer.post(
        session_url,
        {"action": "payment", "paid": "yes", "payment_type": "cash", "version": version.group(1)},
    )
    assert paid.status == 303, paid.body
    assert "Download receipt (PDF)" in trainer.get(session_url).body
    status, headers, body = download(trainer, session_url)
    text = pdf_text(body)
    assert status == 200 and "receipt-INV-000001.pdf" in headers["content-disposition"]
    assert "Receipt" in text and "INV-000001" in text and "(Cash)" in text
    assert "Please pay by bank transfer" not in text
    _number, link = invoice_link(trainer)
    assert "Receipt" in pdf_text(fetch(Browser(chalice_client, []), link)[2])


def test_another_trainer_cannot_download_it(
    trainer: Browser,
    booked: tuple[str, str],  # noqa: F811
    other_trainer: Browser,
) -> None:
    session_url, _ = booked
    set_payment_details(trainer)
    send(trainer, session_url, "invoice")
    status, _headers, body = download(other_trainer, session_url)
    assert status == 404 and b"Priya" not in body
    assert fetch(other_trainer, "/dashboard/invoices/INV-000001.pdf")[0] == 404


def test_a_session_without_a_numbered_invoice_is_a_404_page(
    trainer: Browser,
    booked: tuple[str, str],  # noqa: F811
) -> None:
    session_url, _ = booked
    status, headers, body = download(trainer, session_url)
    assert status == 404 and headers["content-type"].startswith("text/html")
    assert b"No numbered invoice" in body


@pytest.mark.parametrize("change", ["forged", "other number", "truncated", "no suffix"])
def test_a_forged_or_altered_client_link_is_404(
    trainer: Browser,
    booked: tuple[str, str],  # noqa: F811
    chalice_client,
    change: str,
) -> None:
    session_url, _ = booked
    set_payment_details(trainer)
    send(trainer, session_url, "invoice")
    _number, link = invoice_link(trainer)
    token = link.removeprefix("/i/").removesuffix(".pdf")
    tid, cid, generation, number, mac = token.split(".")
    altered = {
        "forged": f"{tid}.{cid}.{generation}.{number}.{'A' * len(mac)}",
        "other number": f"{tid}.{cid}.{generation}.2.{mac}",
        "truncated": token[:-3],
        "no suffix": token,
    }[change]
    path = f"/i/{altered}" + ("" if change == "no suffix" else ".pdf")
    status, _headers, body = fetch(Browser(chalice_client, []), path)
    assert status == 404 and b"Priya" not in body and not body.startswith(b"%PDF")


@pytest.mark.parametrize("action", ["rotate", "archive"])
def test_a_rotated_link_or_an_archived_client_retires_the_pdf_link(
    trainer: Browser,
    booked: tuple[str, str],  # noqa: F811
    chalice_client,
    action: str,
) -> None:
    session_url, client = booked
    set_payment_details(trainer)
    send(trainer, session_url, "invoice")
    _number, link = invoice_link(trainer)
    done = trainer.post(
        f"/dashboard/clients/{client}",
        {"action": action, "version": client_version(trainer, client)},
    )
    assert done.status == 303, done.body
    status, _headers, body = fetch(Browser(chalice_client, []), link)
    assert status == 410 and b"no longer active" in body and b"Priya" not in body


def test_vat_from_settings_splits_the_price_and_shows_the_number(
    trainer: Browser,
    booked: tuple[str, str],  # noqa: F811
) -> None:
    session_url, _ = booked
    set_payment_details(trainer, vat_number="gb 123 456 789", vat_rate="20")
    settings = trainer.get("/dashboard/settings").body
    assert 'value="GB123456789"' in settings and 'id="vat_rate"' in settings
    assert 'value="20"' in settings
    send(trainer, session_url, "invoice")
    text = pdf_text(download(trainer, session_url)[2])
    assert "VAT number: GB123456789" in text
    assert "VAT at 20 %" in text
    assert "£33.33" in text and "£6.67" in text and "£40.00" in text  # net + VAT = the price


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("120", "between 0 and 100"),
        ("-5", "cannot be negative"),
        ("20.555", "number from 0 to 100"),
        ("twenty", "number from 0 to 100"),
    ],
)
def test_a_vat_rate_out_of_range_is_refused_with_the_input_kept(
    trainer: Browser, typed: str, message: str
) -> None:
    page = trainer.get("/dashboard/settings")
    version = re.search(r'name="version" value="(\d+)"', page.body)
    assert version
    refused = trainer.post(
        "/dashboard/settings",
        {
            "version": version.group(1),
            "business_name": "Alex Fit",
            "time_zone": "Europe/London",
            "country": "GB",
            "day_start": "07:00",
            "day_end": "21:00",
            "default_view": "week",
            "booking_window": "2",
            "cancel_deadline_hours": "36",
            "offer_lock_minutes": "60",
            "currency": "GBP",
            "vat_rate": typed,
        },
    )
    assert refused.status == 400
    assert message in refused.body
    assert f'value="{typed}"' in refused.body  # the input kept
    assert 'aria-invalid="true"' in refused.body.split('id="vat_rate"')[1].split(">")[0]
    after = trainer.get("/dashboard/settings").body
    assert "Alex Fit" not in after  # nothing saved


def test_a_vat_number_with_other_characters_is_refused(trainer: Browser) -> None:
    page = trainer.get("/dashboard/settings")
    version = re.search(r'name="version" value="(\d+)"', page.body)
    assert version
    refused = trainer.post(
        "/dashboard/settings",
        {
            "version": version.group(1),
            "time_zone": "Europe/London",
            "country": "GB",
            "day_start": "07:00",
            "day_end": "21:00",
            "default_view": "week",
            "booking_window": "2",
            "cancel_deadline_hours": "36",
            "offer_lock_minutes": "60",
            "currency": "GBP",
            "vat_number": "<GB123>",
        },
    )
    assert refused.status == 400 and "letters and digits" in refused.body
    assert 'value="&lt;GB123&gt;"' in refused.body


def test_html_and_characters_outside_latin1_in_a_name_still_make_a_pdf(
    trainer: Browser, clock
) -> None:
    set_payment_details(trainer, business_name="Łódź Fit & <Co>")
    studio = add_location(trainer, "Studio")
    client = add_client(trainer, '<b>Zoë</b> Dvořák "李" 💪')
    new_slot(trainer, "2026-11-26", "09:00", "10:00", studio)
    ((week, slot_id),) = slots_on(trainer, "2026-W48")
    session_url = allocate(trainer, week, slot_id, client).location.split("?")[0]
    assert send(trainer, session_url, "invoice").status == 303
    status, _headers, body = download(trainer, session_url)
    text = pdf_text(body)
    assert status == 200
    # Drawn as text, never as markup; Latin-1 accents kept, others dropped, the rest "?".
    assert '<b>Zoë</b> Dvorák "?" ?' in text
    assert "Lódz Fit & <Co>" in text


def test_a_credit_note_cancels_the_invoice_under_the_next_number_once(
    trainer: Browser,
    booked: tuple[str, str],  # noqa: F811
) -> None:
    session_url, _ = booked
    set_payment_details(trainer)
    send(trainer, session_url, "invoice")
    asked = trainer.get(session_url + "?confirm=credit_note")
    assert "Issue the credit note" in asked.body
    csrf = asked.csrf()
    done = trainer.post(session_url + "/credit-note", {}, csrf=csrf)
    assert done.status == 303 and done.location.endswith("/dashboard/invoices/INV-000002.pdf")
    status, headers, body = fetch(trainer, "/dashboard/invoices/INV-000002.pdf")
    text = pdf_text(body)
    assert status == 200 and "credit-note-INV-000002.pdf" in headers["content-disposition"]
    assert "Credit note" in text and "Cancels invoice" in text and "INV-000001" in text
    assert "-£40.00" in text
    # The invoice itself is unchanged, still downloadable by number.
    assert "Invoice" in pdf_text(fetch(trainer, "/dashboard/invoices/INV-000001.pdf")[2])
    again = trainer.post(session_url + "/credit-note", {}, csrf=csrf)
    assert again.status == 404  # its session has no invoice now: nothing issued twice
    # Send invoice again issues a new number for the session.
    send(trainer, session_url, "invoice")
    assert "INV-000003" in pdf_text(download(trainer, session_url)[2])
    assert InvoiceStore(runtime.repository().db).credit_note_of(trainer_id(trainer), 1) == 2


def test_what_a_download_costs_in_dynamodb_calls(
    trainer: Browser,
    booked: tuple[str, str],  # noqa: F811
    chalice_client,
) -> None:
    session_url, _ = booked
    set_payment_details(trainer)
    send(trainer, session_url, "invoice")
    # The trainer: the signed-in session with the profile (1), the invoice (1), the
    # session for its payment (1); once paid, its log too (1 Query) for the date.
    _status, headers, _body = download(trainer, session_url)
    assert TIMING.search(headers["server-timing"]).group(1) == "3"  # type: ignore[union-attr]
    # The client: the invoice with the client (1 BatchGetItem), the profile, the session.
    _number, link = invoice_link(trainer)
    _status, headers, _body = fetch(Browser(chalice_client, []), link)
    assert TIMING.search(headers["server-timing"]).group(1) == "3"  # type: ignore[union-attr]
    # A forged link: no read at all.
    forged = link[:-8] + "AAAA.pdf"
    _status, headers, _body = fetch(Browser(chalice_client, []), forged)
    assert TIMING.search(headers["server-timing"]).group(1) == "0"  # type: ignore[union-attr]


def test_what_issuing_costs_in_dynamodb_calls(
    trainer: Browser,
    booked: tuple[str, str],  # noqa: F811
) -> None:
    session_url, _ = booked
    set_payment_details(trainer)
    # As before (1, 29, 19, the card connection) + the invoice: its pointer, the payment
    # reference's item, the counter, and one transaction issuing it with its message
    # (142–145: the number, the record and the message together or not at all).
    assert send(trainer, session_url, "invoice").db_calls == 8
    assert send(trainer, session_url, "invoice").db_calls == 6  # a resend: + the pointer
    asked = trainer.get(session_url + "?confirm=credit_note")
    credited = trainer.post(session_url + "/credit-note", {}, csrf=asked.csrf())
    assert credited.status == 303 and credited.db_calls == 4  # 1, 142, 144, 146

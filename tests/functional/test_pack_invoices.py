"""A pack's numbered invoice through the real app (docs/invoices.md "A pack's invoice"):
issued once from its page, reached from the bundle page; its PDF for the trainer; the
client's link on the portal (410 once rotated or archived, 404 when forged); a receipt
once the pack is paid; the credit note and a new invoice after it; what each page costs
in DynamoDB calls (docs/access-patterns.md)."""

from __future__ import annotations

import html
import re

import pytest

from chalicelib import runtime
from chalicelib.repo.invoices import InvoiceStore
from tests.functional.conftest import Browser
from tests.functional.test_invoice_pdfs import TIMING, fetch, pdf_text, trainer_id
from tests.functional.test_locations_and_template import add_location
from tests.functional.test_messages import set_payment_details
from tests.functional.test_packs import pay
from tests.functional.test_portal_link import client_version, portal_path
from tests.functional.test_programs import create_bundle, version_of
from tests.functional.test_schedule_pages import add_client

TITLE = "<b>Summer</b> & co"
PORTAL_PDF = re.compile(r'href="(/i/[^"]+\.pdf)"[^>]*>((?:Invoice|Receipt) INV-\d{6}) \(PDF\)')
CLIENT_LINK = re.compile(r'id="pack_invoice_link" type="text" readonly value="([^"]+)"')


@pytest.fixture
def pack(trainer: Browser, clock) -> dict[str, str]:
    """Priya's 2-session pack at £540, its title with markup, and the trainer's bank
    details (an unpaid pack's invoice says where to pay)."""
    studio = add_location(trainer, "Studio")
    priya = add_client(trainer, "Priya Shah")
    set_payment_details(trainer)
    bundle = create_bundle(trainer, studio, priya, title=TITLE, sessions="2")
    path = f"/dashboard/bundles/{bundle}"
    return {"priya": priya, "bundle": bundle, "path": path, "invoice": path + "/invoice"}


def issue(browser: Browser, invoice_path: str, version: str = ""):
    version = version or version_of(browser.get(invoice_path).body)
    return browser.post(invoice_path, {"action": "issue", "version": version})


def portal_pdf(browser: Browser, client_id: str) -> tuple[str, str] | None:
    """(link path, its words) of the pack's PDF on the client's portal home, if shown."""
    found = PORTAL_PDF.search(browser.get(portal_path(browser, client_id)).body)
    return (html.unescape(found.group(1)), found.group(2)) if found else None


def counter(browser: Browser) -> int:
    return InvoiceStore(runtime.repository().db).next_number(trainer_id(browser))


def test_the_trainer_issues_a_pack_invoice_once_from_the_bundle_page(
    trainer: Browser, pack
) -> None:
    bundle_page = trainer.get(pack["path"]).body
    assert f'href="{pack["invoice"]}"' in bundle_page
    page = trainer.get(pack["invoice"])
    assert page.status == 200, page.body
    assert "No invoice issued" in page.body and "Issue the invoice" in page.body
    # The title is escaped on the page, never markup.
    assert "&lt;b&gt;Summer&lt;/b&gt; &amp; co" in page.body and "<b>Summer" not in page.body
    done = issue(trainer, pack["invoice"])
    assert done.status == 303 and done.location.endswith("/invoice?saved=issued"), done.body
    page = trainer.get(done.location).body
    assert "Invoice issued." in page and "Invoice INV-000001" in page
    assert "23 November 2026" in page and "Download invoice (PDF)" in page
    link = CLIENT_LINK.search(page)
    assert link and "/i/" in link.group(1) and link.group(1).endswith(".pdf")
    # A second press (another tab, the same page) issues nothing more.
    again = issue(trainer, pack["invoice"], version=version_of(bundle_page))
    assert again.status == 303 and again.location.endswith("saved=already")
    assert "nothing was issued twice" in trainer.get(again.location).body
    assert counter(trainer) == 2
    status, headers, body = fetch(trainer, pack["invoice"] + ".pdf")
    text = pdf_text(body)
    assert status == 200 and "invoice-INV-000001.pdf" in headers["content-disposition"]
    assert f"{TITLE}: 2 personal training sessions" in text  # drawn literally
    for expected in ("INV-000001", "Alex Fit", "Priya Shah", "£540.00", "Please pay"):
        assert expected in text, expected
    assert "INV-000001" in pdf_text(fetch(trainer, "/dashboard/invoices/INV-000001.pdf")[2])


def test_the_client_opens_it_from_the_portal_and_it_becomes_a_receipt_once_paid(
    trainer: Browser, pack, chalice_client
) -> None:
    assert portal_pdf(trainer, pack["priya"]) is None  # nothing issued yet
    assert issue(trainer, pack["invoice"]).status == 303
    shown = portal_pdf(trainer, pack["priya"])
    assert shown is not None and shown[1] == "Invoice INV-000001"
    anyone = Browser(chalice_client, [])
    status, _headers, body = fetch(anyone, shown[0])
    assert status == 200 and "Please pay" in pdf_text(body)
    forged = shown[0][: -len("AAAA.pdf")] + "AAAA.pdf"  # a 404 before any read
    status, headers, body = fetch(anyone, forged)
    assert status == 404 and not body.startswith(b"%PDF") and b"Priya" not in body
    assert TIMING.search(headers["server-timing"]).group(1) == "0"  # type: ignore[union-attr]
    assert pay(trainer, pack["path"], "bank_transfer").status == 303
    shown = portal_pdf(trainer, pack["priya"])
    assert shown is not None and shown[1] == "Receipt INV-000001"
    text = pdf_text(fetch(anyone, shown[0])[2])
    assert "Receipt" in text and "23 November 2026 (Bank transfer)" in text
    assert "Please pay" not in text
    page = trainer.get(pack["invoice"]).body
    assert "Receipt INV-000001" in page and "Download receipt (PDF)" in page
    status, headers, body = fetch(trainer, pack["invoice"] + ".pdf")
    assert "receipt-INV-000001.pdf" in headers["content-disposition"]


@pytest.mark.parametrize("action", ["rotate", "archive"])
def test_a_rotated_portal_link_or_an_archived_client_retires_it(
    trainer: Browser, pack, chalice_client, action: str
) -> None:
    assert issue(trainer, pack["invoice"]).status == 303
    shown = portal_pdf(trainer, pack["priya"])
    assert shown is not None
    client = pack["priya"]
    done = trainer.post(
        f"/dashboard/clients/{client}",
        {"action": action, "version": client_version(trainer, client)},
    )
    assert done.status == 303, done.body
    status, _headers, body = fetch(Browser(chalice_client, []), shown[0])
    assert status == 410 and b"no longer active" in body and b"Priya" not in body
    if action == "rotate":  # the new portal link shows the same invoice under a new token
        renewed = portal_pdf(trainer, client)
        assert renewed is not None and renewed[0] != shown[0]
        assert fetch(Browser(chalice_client, []), renewed[0])[0] == 200


def test_a_credit_note_cancels_it_once_and_the_pack_can_be_invoiced_again(
    trainer: Browser, pack
) -> None:
    assert issue(trainer, pack["invoice"]).status == 303
    asked = trainer.get(pack["invoice"] + "?confirm=credit_note")
    assert "Issue the credit note" in asked.body
    csrf = asked.csrf()
    done = trainer.post(pack["invoice"], {"action": "credit_note"}, csrf=csrf)
    assert done.status == 303 and done.location.endswith("/dashboard/invoices/INV-000002.pdf")
    text = pdf_text(fetch(trainer, "/dashboard/invoices/INV-000002.pdf")[2])
    assert "Credit note" in text and "INV-000001" in text and "-£540.00" in text
    assert "Invoice" in pdf_text(fetch(trainer, "/dashboard/invoices/INV-000001.pdf")[2])
    page = trainer.get(pack["invoice"]).body
    assert "No invoice issued" in page
    assert portal_pdf(trainer, pack["priya"]) is None  # the client's link went with it
    status, _headers, body = fetch(trainer, pack["invoice"] + ".pdf")
    assert status == 404 and b"No invoice for this pack" in body
    twice = trainer.post(pack["invoice"], {"action": "credit_note"}, csrf=csrf)
    assert twice.status == 404 and "no invoice to credit" in twice.body
    assert issue(trainer, pack["invoice"]).status == 303
    assert "Invoice INV-000003" in trainer.get(pack["invoice"]).body
    shown = portal_pdf(trainer, pack["priya"])
    assert shown is not None and shown[1] == "Invoice INV-000003"
    # Paid now: the current invoice is the receipt; the credited one stays an invoice.
    assert pay(trainer, pack["path"], "cash").status == 303
    assert "Receipt" in pdf_text(fetch(trainer, "/dashboard/invoices/INV-000003.pdf")[2])
    credited = pdf_text(fetch(trainer, "/dashboard/invoices/INV-000001.pdf")[2])
    assert "Invoice" in credited and "Receipt" not in credited


def test_a_forged_form_or_a_page_older_than_the_pack_issues_nothing(trainer: Browser, pack) -> None:
    stale = version_of(trainer.get(pack["invoice"]).body)
    forged = trainer.post(pack["invoice"], {"action": "issue", "version": stale, "csrf_token": "x"})
    assert forged.status == 403  # every form holds its CSRF token
    assert pay(trainer, pack["path"], "cash").status == 303  # another tab, meanwhile
    refused = issue(trainer, pack["invoice"], version=stale)
    assert refused.status == 409 and "changed meanwhile" in refused.body
    assert "No invoice issued" in refused.body  # drawn as it is now, with the new version
    assert counter(trainer) == 1
    assert issue(trainer, pack["invoice"], version=version_of(refused.body)).status == 303


def test_another_trainer_cannot_see_issue_or_download_it(
    trainer: Browser, pack, other_trainer: Browser
) -> None:
    assert issue(trainer, pack["invoice"]).status == 303
    page = other_trainer.get(pack["invoice"])
    assert page.status == 404 and "Priya" not in page.body
    posted = other_trainer.post(pack["invoice"], {"action": "issue", "version": "2"})
    assert posted.status == 404
    credited = other_trainer.post(pack["invoice"], {"action": "credit_note"})
    assert credited.status == 404
    status, _headers, body = fetch(other_trainer, pack["invoice"] + ".pdf")
    assert status == 404 and b"Priya" not in body
    assert counter(trainer) == 2


def test_what_the_pack_invoice_pages_cost_in_dynamodb_calls(
    trainer: Browser, pack, chalice_client
) -> None:
    # The page: the signed-in session (1), the bundle with its invoice (1 BatchGetItem),
    # the client (1) for the link to copy and whether one may be issued.
    assert trainer.get(pack["invoice"]).db_calls == 3
    # Issue: the session (1), the bundle with its invoice (1), the client (1), the
    # counter (1) and one transaction (the number, the record, the pointer, the bundle).
    version = version_of(trainer.get(pack["invoice"]).body)
    assert issue(trainer, pack["invoice"], version).db_calls == 5
    # Issued already (a second press): the session and the bundle with its invoice.
    assert issue(trainer, pack["invoice"], version).db_calls == 2
    assert trainer.get(pack["invoice"]).db_calls == 3
    # The trainer's PDF: the session (1), the bundle with its invoice (1).
    _status, headers, _body = fetch(trainer, pack["invoice"] + ".pdf")
    assert TIMING.search(headers["server-timing"]).group(1) == "2"  # type: ignore[union-attr]
    # By number: the session (1), the record (1), the bundle for its payment (1).
    _status, headers, _body = fetch(trainer, "/dashboard/invoices/INV-000001.pdf")
    assert TIMING.search(headers["server-timing"]).group(1) == "3"  # type: ignore[union-attr]
    # The portal home costs what it did: the bundles' one Query brings the number.
    home = trainer.get(portal_path(trainer, pack["priya"]))
    assert home.db_calls == HOME_CALLS
    # The client's link: the invoice with the client (1), the profile (1), the bundle (1).
    shown = portal_pdf(trainer, pack["priya"])
    assert shown is not None
    _status, headers, _body = fetch(Browser(chalice_client, []), shown[0])
    assert TIMING.search(headers["server-timing"]).group(1) == "3"  # type: ignore[union-attr]
    # The credit note: the session (1), the pointer (1), the counter (1), one transaction.
    credited = trainer.post(pack["invoice"], {"action": "credit_note"})
    assert credited.status == 303 and credited.db_calls == 4


HOME_CALLS = 5

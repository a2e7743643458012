"""Invoice rules: the number's format, VAT in minor units, totals, credit notes, the text
the PDF core fonts can draw, the capability link, and the PDF drawn from a record."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pypdf import PdfReader

from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.invoices import (
    PDF_PLACEHOLDER,
    Invoice,
    InvoiceLine,
    Paid,
    credit_note_for,
    link_target,
    number_label,
    pack_line,
    paid_as_pack,
    parse_link_target,
    parse_number_label,
    parse_vat_number,
    parse_vat_rate,
    title,
    totals,
    vat_rate_text,
    vat_split,
)
from chalicelib.domain.messages import LINK_PLACEHOLDER, LinkRef, Message
from chalicelib.domain.schedule import PAYMENT_TYPES, LogEntry, Session
from chalicelib.domain.settings import SaveSettings, TrainerSettings, parse_settings
from chalicelib.services import invoices, links
from chalicelib.services.links import INVOICE_LINK_KIND
from tests.conftest import ROOT

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


# Numbering ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("number", "label"), [(1, "INV-000001"), (42, "INV-000042")])
def test_numbers_are_zero_padded_and_read_back(number: int, label: str) -> None:
    assert number_label(number) == label
    assert parse_number_label(label) == number


@pytest.mark.parametrize("text", ["INV-0001", "INV-000000", "inv-000001", "INV-00000a", ""])
def test_anything_else_is_not_a_number(text: str) -> None:
    assert parse_number_label(text) is None


def test_an_invoice_link_target_carries_the_number_and_the_pay_session() -> None:
    assert parse_link_target(link_target(7, None)) == (7, None)
    ref = "2026-W48.20261125T090000Z.abc"
    assert parse_link_target(link_target(7, ref)) == (7, ref)


# VAT ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("typed", "rate"),
    [("20", 2000), ("5.5", 550), ("5,5", 550), ("12.25", 1225), ("0", 0), ("100", 10000),
     ("20 %", 2000), (" 7 ", 700), ("", None)],
)  # fmt: skip
def test_vat_rates_are_read_in_basis_points(typed: str, rate: int | None) -> None:
    assert parse_vat_rate(typed) == rate


@pytest.mark.parametrize(
    ("typed", "words"),
    [("100.01", "between 0 and 100"), ("101", "between 0 and 100"), ("-1", "negative"),
     ("5.555", "from 0 to 100"), ("1e2", "from 0 to 100"), ("abc", "from 0 to 100")],
)  # fmt: skip
def test_a_vat_rate_out_of_range_is_refused_in_words(typed: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        parse_vat_rate(typed)


def test_vat_rates_print_as_typed() -> None:
    assert [vat_rate_text(r) for r in (2000, 550, 1225, 0)] == ["20 %", "5.5 %", "12.25 %", "0 %"]
    assert TrainerSettings(vat_rate_bp=550).vat_rate_input == "5.5"
    assert TrainerSettings().vat_rate_input == ""


@pytest.mark.parametrize(
    ("typed", "kept"),
    [("GB 123 456 789", "GB123456789"), ("de-123.456.789", "DE123456789"), ("", ""),
     ("  ", "")],
)  # fmt: skip
def test_vat_numbers_are_kept_as_printed(typed: str, kept: str) -> None:
    assert parse_vat_number(typed) == kept


@pytest.mark.parametrize("typed", ["GB<123>", "G", "X" * 21, "ÉT123"])
def test_a_vat_number_with_other_characters_or_too_long_is_refused(typed: str) -> None:
    with pytest.raises(ValueError):
        parse_vat_number(typed)


def test_settings_name_both_vat_problems_at_once() -> None:
    typed = SaveSettings.model_validate(
        {
            "time_zone": "Europe/London",
            "country": "GB",
            "day_start": "07:00",
            "day_end": "21:00",
            "default_view": "week",
            "booking_window": "2",
            "cancel_deadline_hours": "36",
            "offer_lock_minutes": "60",
            "currency": "GBP",
            "vat_number": "GB 12!",
            "vat_rate": "150",
        }
    )
    with pytest.raises(InvalidInput) as refused:
        parse_settings(typed)
    assert set(refused.value.errors) >= {"vat_number", "vat_rate"}


@pytest.mark.parametrize(
    ("gross", "rate", "net", "vat"),
    [(4000, 2000, 3333, 667), (4000, None, 4000, 0), (4000, 0, 4000, 0), (100, 550, 95, 5),
     (1, 2000, 1, 0), (6000, 2000, 5000, 1000), (-4000, 2000, -3333, -667)],
)  # fmt: skip
def test_vat_is_split_from_the_price_rounded_half_up(
    gross: int, rate: int | None, net: int, vat: int
) -> None:
    assert vat_split(gross, rate) == (net, vat)


@given(st.integers(min_value=-(10**9), max_value=10**9), st.integers(min_value=0, max_value=10000))
def test_net_and_vat_always_add_up_to_the_price_and_a_credit_mirrors_it(
    gross: int, rate: int
) -> None:
    net, vat = vat_split(gross, rate)
    assert net + vat == gross
    assert vat_split(-gross, rate) == (-net, -vat)
    if gross >= 0:
        assert 0 <= vat <= gross
        # Within half a minor unit of the exact net.
        assert abs(net * (10000 + rate) - gross * 10000) <= (10000 + rate) / 2


def _line(amount: int = 4000) -> InvoiceLine:
    return InvoiceLine(
        day=date(2026, 11, 26), start=540, end=600, place="Studio", amount_minor=amount
    )


def test_totals_split_vat_once_from_the_sum() -> None:
    assert totals((_line(), _line()), 2000) == (6667, 1333, 8000)
    assert totals((_line(1), _line(1), _line(1)), 2000) == (3, 0, 3)


def _invoice(**changes: object) -> Invoice:
    net, vat, gross = totals((_line(),), 2000)
    return Invoice(
        number=42,
        issued_on=date(2026, 11, 23),
        issued_at=NOW,
        trainer_id="coach",
        business_name="Alex Fit",
        payment_lines=(("Payee", "Alex Byrne"), ("Sort code", "04-00-04")),
        client_id="c1",
        client_name="Priya Shah",
        client_email="priya@example.com",
        session_id="s1",
        session_ref="2026-W48.20261126T090000Z.s1",
        lines=(_line(),),
        currency="GBP",
        locale="en_GB",
        vat_number="GB123456789",
        vat_rate_bp=2000,
        net_minor=net,
        vat_minor=vat,
        gross_minor=gross,
        reference="PT-ABCDEF",
    ).model_copy(update=changes)


def test_a_credit_note_negates_the_invoice_under_its_own_number() -> None:
    invoice = _invoice()
    note = credit_note_for(invoice, 43, NOW, date(2026, 11, 24))
    assert (note.number, note.kind, note.credits) == (43, "credit_note", 42)
    assert (note.net_minor, note.vat_minor, note.gross_minor) == (-3333, -667, -4000)
    assert note.client_name == invoice.client_name and note.issued_on == date(2026, 11, 24)
    assert title(note, None) == "Credit note"


def test_a_paid_invoice_is_titled_receipt() -> None:
    assert title(_invoice(), None) == "Invoice"
    assert title(_invoice(), Paid(on=date(2026, 11, 26), how="Cash")) == "Receipt"


def test_the_receipt_date_is_the_latest_payment_line_on_the_trainers_calendar() -> None:
    session = _paid_session()
    log = [
        LogEntry(
            at=datetime(2026, 11, 24, 10, tzinfo=UTC), actor="trainer", text="Marked paid (cash)"
        ),
        LogEntry(at=datetime(2026, 11, 25, 12, tzinfo=UTC), actor="trainer", text="Marked unpaid"),
        LogEntry(
            at=datetime(2026, 11, 26, 23, 30, tzinfo=UTC),
            actor="trainer",
            text="Marked paid (card)",
        ),
    ]
    paid = invoices.paid_state(session, list(log), "Europe/Paris")
    assert paid == Paid(on=date(2026, 11, 27), how="Cash")  # 00:30 in Paris; how: the session's
    unpaid = session.model_copy(update={"paid": False})
    assert invoices.paid_state(unpaid, list(log), "UTC") is None


def _paid_session() -> Session:
    start = datetime(2026, 11, 26, 9, tzinfo=UTC)
    return Session(
        id="s1",
        slot_id="sl1",
        client_id="c1",
        client_name="Priya",
        day=date(2026, 11, 26),
        start=540,
        end=600,
        start_utc=start,
        end_utc=start.replace(hour=10),
        location_id="l1",
        kind="manual",
        paid=True,
        payment_type="cash",
        created_at=NOW,
    )


# The capability link ---------------------------------------------------------------------
def test_the_pdf_link_is_an_hmac_that_changes_with_the_generation() -> None:
    made = links.fixed(b"secret")
    token = made.invoice("coach", "c1", 1, 42)
    tid, cid, generation, number, mac = token.split(".")
    assert (tid, cid, generation, number) == ("coach", "c1", "1", "42")
    assert made.is_invoice("coach", "c1", 1, 42, mac)
    assert not made.is_invoice("coach", "c1", 2, 42, mac)  # a rotated portal link
    assert not made.is_invoice("coach", "c1", 1, 43, mac)  # another invoice
    assert not links.fixed(b"other").is_invoice("coach", "c1", 1, 42, mac)
    assert invoices.parse_token(token + ".pdf") == invoices.InvoiceToken("coach", "c1", 1, 42, mac)
    assert invoices.parse_token(token) is None  # the .pdf is part of the link
    assert invoices.parse_token("a.b.c.d.pdf") is None


def _message(text: str, target: str) -> Message:
    return Message(
        id="m1",
        week="2026-W48",
        subject_id="s1",
        subject_ref="ref",
        client_id="c1",
        client_name="Priya",
        kind="invoice",
        channel="whatsapp",
        to="+447400123456",
        text=text,
        link=LinkRef(
            kind=INVOICE_LINK_KIND,
            base="https://book.example.com",
            trainer_id="coach",
            client_id="c1",
            generation=3,
            target_id=target,
        ),
        created_at=NOW,
        next_attempt_at=NOW,
    )


def test_an_invoice_message_makes_its_pdf_and_pay_links_again() -> None:
    made = links.fixed(b"secret")
    text = f"Pay by card: {LINK_PLACEHOLDER}\nInvoice INV-000042 (PDF): {PDF_PLACEHOLDER}"
    ref = "2026-W48.20261126T090000Z.s1"
    shown = made.message_text(_message(text, link_target(42, ref)))
    assert f"/i/{made.invoice('coach', 'c1', 3, 42)}.pdf" in shown
    assert f"/pay/{made.pay('coach', 'c1', 3, ref)}" in shown
    plain = made.message_text(_message(f"PDF: {PDF_PLACEHOLDER}", link_target(42, None)))
    assert "/pay/" not in plain and "/i/" in plain
    # No pay link: the dispatcher's "the message's link" is empty, so no card template.
    assert made.message_text(_message(LINK_PLACEHOLDER, link_target(42, None))) == ""


# The PDF ---------------------------------------------------------------------------------
def _text(body: bytes) -> str:
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(body)).pages)


def test_the_pdf_shows_what_the_record_holds_and_is_the_same_every_time() -> None:
    first = invoices.render(_invoice(), None)
    assert first.filename == "invoice-INV-000042.pdf"
    assert first.body == invoices.render(_invoice(), None).body  # drawn from the record alone
    text = _text(first.body)
    for expected in (
        "Invoice", "INV-000042", "23 November 2026", "Alex Fit", "VAT number: GB123456789",
        "Priya Shah", "priya@example.com", "Thu 26 Nov 2026, 09:00-10:00, Studio", "Net",
        "£33.33", "VAT at 20 %", "£6.67", "Total", "£40.00", "PT-ABCDEF", "Alex Byrne",
    ):  # fmt: skip
        assert expected in text, expected


def test_a_receipt_says_when_and_how_and_asks_for_nothing() -> None:
    receipt = invoices.render(_invoice(), Paid(on=date(2026, 11, 26), how="Bank transfer"))
    text = _text(receipt.body)
    assert receipt.filename == "receipt-INV-000042.pdf"
    assert "Receipt" in text and "26 November 2026 (Bank transfer)" in text
    assert "Please pay" not in text


def test_money_in_euros_is_drawn_with_the_euro_sign_the_core_fonts_have() -> None:
    # WinAnsi (the core fonts' encoding) has €, which Latin-1 lacks: no "EUR" spelled out.
    text = _text(invoices.render(_invoice(currency="EUR", locale="fr_FR"), None).body)
    assert "40,00 €" in text and "33,33 €" in text and "EUR" not in text


def test_importing_the_app_does_not_load_the_pdf_writer() -> None:
    """Only a PDF download pays for the writer; and fpdf2 is gone for good (issue 18)."""
    code = "import sys, app; print([m for m in ('chalicelib.pdf', 'fpdf') if m in sys.modules])"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "[]"
    imports_fpdf = re.compile(r"^\s*(from|import)\s+fpdf\b", re.MULTILINE)
    sources = Path(ROOT, "chalicelib").rglob("*.py")
    assert [path for path in sources if imports_fpdf.search(path.read_text())] == []


# A pack's invoice --------------------------------------------------------------------------
def _pack_invoice(title_text: str = "12-session coaching", price: int = 54000) -> Invoice:
    line = pack_line(title_text, 12, price)
    net, vat, gross = totals((line,), 2000)
    return _invoice(
        session_id="",
        session_ref="",
        bundle_id="b1",
        lines=(line,),
        net_minor=net,
        vat_minor=vat,
        gross_minor=gross,
        reference="",
    )


def test_a_pack_is_one_line_at_its_price_with_its_title_and_sessions() -> None:
    line = pack_line("12-session coaching", 12, 54000)
    assert line.description == "12-session coaching: 12 personal training sessions"
    assert (line.amount_minor, line.day, line.start) == (54000, None, None)
    assert pack_line("Taster", 1, 3000).description == "Taster: 1 personal training session"


def test_a_packs_vat_is_split_once_from_its_price_as_for_sessions() -> None:
    invoice = _pack_invoice(price=54000)
    assert (invoice.net_minor, invoice.vat_minor, invoice.gross_minor) == (45000, 9000, 54000)
    odd = _pack_invoice(price=10001)  # £100.01 at 20 %: £83.34 + £16.67, exactly the price
    assert (odd.net_minor, odd.vat_minor) == (8334, 1667)
    note = credit_note_for(odd, 43, NOW, date(2026, 11, 24))
    assert (note.net_minor, note.vat_minor, note.gross_minor) == (-8334, -1667, -10001)
    assert note.is_pack and note.bundle_id == "b1" and note.lines[0].text == odd.lines[0].text


def test_a_session_invoice_stored_before_pack_lines_still_reads_as_it_was() -> None:
    # A record exactly as the table holds those issued before packs had invoices: no
    # bundle_id, no line text; it must validate and describe its session unchanged.
    stored = _invoice().model_dump(mode="json")
    stored.pop("bundle_id")
    for line in stored["lines"]:
        line.pop("text")
    old = Invoice.model_validate(stored)
    assert not old.is_pack and old.session_id == "s1"
    assert old.lines[0].description == (
        "Personal training session, Thu 26 Nov 2026, 09:00-10:00, Studio"
    )
    assert Invoice.model_validate(_pack_invoice().model_dump(mode="json")) == _pack_invoice()


def test_a_pack_paid_as_a_whole_makes_its_receipt_dated_on_the_trainers_calendar() -> None:
    late = datetime(2026, 11, 26, 23, 30, tzinfo=UTC)  # already the 27th in Athens
    paid = paid_as_pack(late, "bank_transfer", "Europe/Athens", PAYMENT_TYPES)
    assert paid == Paid(on=date(2026, 11, 27), how="Bank transfer")
    assert paid_as_pack(None, None, "Europe/London", PAYMENT_TYPES) is None


def test_a_pack_pdf_draws_its_line_and_a_title_with_markup_literally() -> None:
    invoice = _pack_invoice(title_text="<b>Summer</b> & co")
    text = _text(invoices.render(invoice, None).body)
    assert "<b>Summer</b> & co: 12 personal training sessions" in text
    assert "£540.00" in text and "£450.00" in text and "£90.00" in text
    assert "Please pay by bank transfer" in text and "Payment reference" not in text
    receipt = invoices.render(invoice, Paid(on=date(2026, 11, 27), how="Card"))
    assert receipt.filename == "receipt-INV-000042.pdf"
    assert "27 November 2026 (Card)" in _text(receipt.body)

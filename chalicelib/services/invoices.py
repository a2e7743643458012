"""Numbered invoices, receipts and credit notes as PDF (issue 17 item 4, docs/invoices.md).

An invoice is issued by the session's Send invoice (`messages.send_invoice`), once per
session: the record holds what the PDF shows, copied at issue. A receipt is not a
document of its own: it is the same record drawn with the session's payment as it is now,
so marking a session paid (or undoing it) needs nothing here. The PDF is drawn on each
download from the record, with `fpdf2` imported only then (its import costs ~400 ms).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

from chalicelib.domain.clients import Client
from chalicelib.domain.errors import DomainError, NotFound
from chalicelib.domain.invoices import (
    PDF_SUFFIX,
    Invoice,
    InvoiceLine,
    Paid,
    credit_note_for,
    latin1,
    number_label,
    title,
    totals,
    vat_rate_text,
)
from chalicelib.domain.messages import Message
from chalicelib.domain.models import Trainer
from chalicelib.domain.money import format_money
from chalicelib.domain.schedule import (
    PACK_PAYMENT,
    PAYMENT_TYPES,
    LogEntry,
    Session,
    SessionRef,
    parse_session_ref,
)
from chalicelib.domain.timeutil import local_today
from chalicelib.repo.invoices import InvoiceStore
from chalicelib.repo.repository import Repository
from chalicelib.services.deps import Deps
from chalicelib.services.links import Links

# The log lines a payment writes (domain/schedule.payment_change, card payments, packs):
# the latest one gives a receipt its date.
_PAID_LINES: Final = ("Marked paid", "Paid ")


class InvoiceLinkGone(DomainError):
    """A real invoice link whose portal link was rotated, or whose client is archived."""


@dataclass(frozen=True)
class Pdf:
    filename: str
    body: bytes


def store(repo: Repository) -> InvoiceStore:
    return InvoiceStore(repo.db)


# --- Issuing -------------------------------------------------------------------------------


def issue_for_session(
    repo: Repository,
    trainer: Trainer,
    session: Session,
    client: Client,
    price_minor: int,
    reference: str,
    place: str,
    now: datetime,
    with_parts: Callable[[Invoice], list[dict[str, Any]]] | None = None,
) -> tuple[Invoice, bool]:
    """The session's invoice issued now under the next number (True), or the one another
    tab issued a moment before (False). Callers look for the session's invoice first
    (`store(repo).for_session`), so a resend names the same number. Refused
    (SessionChanged) if the session changed since it was read."""
    settings = trainer.settings
    line = InvoiceLine(
        day=session.day,
        start=session.start,
        end=session.end,
        place=place,
        amount_minor=price_minor,
    )
    rate = settings.vat_rate_bp
    net, vat, gross = totals((line,), rate)

    def make(number: int) -> Invoice:
        return Invoice(
            number=number,
            issued_on=local_today(now, settings.time_zone),
            issued_at=now,
            trainer_id=trainer.id,
            business_name=trainer.display_name,
            payment_lines=tuple(settings.payment.invoice_lines()),
            client_id=client.id,
            client_name=client.name,
            client_email=client.email,
            session_id=session.id,
            session_ref=session.ref,
            lines=(line,),
            currency=settings.currency,
            locale=settings.locale,
            vat_number=settings.vat_number,
            vat_rate_bp=rate,
            net_minor=net,
            vat_minor=vat,
            gross_minor=gross,
            reference=reference,
        )

    return store(repo).issue_for_session(trainer.id, session, make, with_parts)


def credit_session_invoice(deps: Deps, trainer: Trainer, ref: str) -> Invoice:
    """The credit note that cancels the session's invoice (trainer only). The invoice
    stays as issued; the session's next Send invoice issues a new number."""
    invoices = store(deps.repo)
    invoice = invoices.for_session(trainer.id, _session_ref(ref).id)
    if invoice is None:
        raise NotFound("invoice")
    settings = trainer.settings
    today = local_today(deps.now, settings.time_zone)
    return invoices.issue_credit_note(
        trainer.id,
        invoice,
        lambda number: credit_note_for(invoice, number, deps.now, today),
    )


def _session_ref(ref: str) -> SessionRef:
    parsed = parse_session_ref(ref)
    if parsed is None:
        raise NotFound(ref)
    return parsed


# --- Receipts -------------------------------------------------------------------------------


def paid_state(
    session: Session | None, log: list[LogEntry | Message], zone_name: str
) -> Paid | None:
    """The payment a receipt shows, from the session as it is now (None: unpaid), dated
    by the latest payment line of its log on the trainer's calendar."""
    if session is None or not session.paid:
        return None
    at = next(
        (
            entry.at
            for entry in reversed(log)
            if isinstance(entry, LogEntry) and entry.text.startswith(_PAID_LINES)
        ),
        None,
    )
    how = (
        "With a pack"
        if session.payment_type == PACK_PAYMENT
        else PAYMENT_TYPES.get(session.payment_type or "", "Paid")
    )
    return Paid(on=local_today(at, zone_name) if at else None, how=how)


def _payment_of(repo: Repository, trainer: Trainer, invoice: Invoice) -> Paid | None:
    """The session's payment: one GetItem, and its log (one Query) only when paid."""
    ref = parse_session_ref(invoice.session_ref)
    if ref is None or invoice.is_credit_note:
        return None
    try:
        session = repo.get_session(invoice.trainer_id, ref)
    except NotFound:
        return None
    if not session.paid:
        return None
    log = repo.log_of(invoice.trainer_id, ref.week, ref.id)
    return paid_state(session, log, trainer.settings.time_zone)


# --- Downloads -----------------------------------------------------------------------------


def trainer_pdf(deps: Deps, trainer: Trainer, ref: str) -> Pdf:
    """The trainer's download from the session page: the invoice, or the receipt once
    paid. Another trainer's session, or one never invoiced since numbering, is a 404."""
    invoice = store(deps.repo).for_session(trainer.id, _session_ref(ref).id)
    if invoice is None:
        raise NotFound("invoice")
    return render(invoice, _payment_of(deps.repo, trainer, invoice))


def trainer_document_pdf(deps: Deps, trainer: Trainer, number: int) -> Pdf:
    """Any of the trainer's documents by number (a credit note, an older invoice)."""
    invoice = store(deps.repo).get(trainer.id, number)
    if invoice is None:
        raise NotFound("invoice")
    return render(invoice, _payment_of(deps.repo, trainer, invoice))


@dataclass(frozen=True)
class InvoiceToken:
    trainer_id: str
    client_id: str
    generation: int
    number: int
    mac: str


def parse_token(name: str) -> InvoiceToken | None:
    token = name.removesuffix(PDF_SUFFIX)
    parts = token.split(".")
    if token == name or len(parts) != 5 or not all(parts):
        return None
    trainer_id, client_id, generation, number, mac = parts
    if not (generation.isdigit() and number.isdigit()) or len(generation) > 9:
        return None
    return InvoiceToken(trainer_id, client_id, int(generation), int(number), mac)


def client_pdf(deps: Deps, name: str) -> Pdf:
    """The client's PDF from the invoice message's link (`/i/<token>.pdf`). A forged or
    altered token is a 404 before any read; a rotated portal link or an archived client
    retires it (InvoiceLinkGone: 410)."""
    token = parse_token(name)
    links: Links = deps.links
    if token is None or not links.is_invoice(
        token.trainer_id, token.client_id, token.generation, token.number, token.mac
    ):
        raise NotFound("invoice")
    invoice, client = store(deps.repo).with_client(token.trainer_id, token.number, token.client_id)
    if invoice is None or client is None or invoice.client_id != client.id:
        raise NotFound("invoice")
    if client.archived or client.portal_generation != token.generation:
        raise InvoiceLinkGone("This invoice link is no longer active.")
    trainer = deps.repo.get_trainer(token.trainer_id)
    if trainer is None:
        raise NotFound("invoice")
    return render(invoice, _payment_of(deps.repo, trainer, invoice))


# --- Drawing --------------------------------------------------------------------------------


def _day(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def render(invoice: Invoice, paid: Paid | None) -> Pdf:
    """The document as PDF bytes. Every text goes through `latin1`: the core fonts hold
    nothing else, and a client's name must never stop an invoice."""
    from fpdf import FPDF  # lazily: only a download pays for it

    def money(minor: int) -> str:
        return latin1(format_money(minor, invoice.currency, invoice.locale))

    heading = title(invoice, None if invoice.is_credit_note else paid)
    pdf = FPDF(format="A4")
    pdf.set_title(latin1(f"{heading} {invoice.label}"))
    pdf.set_author(latin1(invoice.business_name))
    pdf.set_creator("PT Bookings")
    # The issue instant, not the download's: the same record always draws the same PDF.
    pdf.set_creation_date(invoice.issued_at)
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.add_page()
    width = pdf.epw

    pdf.set_font("helvetica", "B", 20)
    pdf.cell(width, 10, heading, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("helvetica", "", 11)
    rows = [("Number", invoice.label), ("Date of issue", _day(invoice.issued_on))]
    if invoice.credits is not None:
        rows.append(("Cancels invoice", number_label(invoice.credits)))
    if paid is not None and not invoice.is_credit_note:
        rows.append(("Paid", f"{_day(paid.on)} ({paid.how})" if paid.on else paid.how))
    if invoice.reference:
        rows.append(("Payment reference", invoice.reference))
    for label, value in rows:
        pdf.cell(45, 6, label + ":")
        pdf.cell(width - 45, 6, latin1(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)

    half = width / 2
    top = pdf.get_y()
    pdf.set_font("helvetica", "B", 11)
    pdf.cell(half, 6, "From", new_x="LEFT", new_y="NEXT")
    pdf.set_font("helvetica", "", 11)
    pdf.multi_cell(half - 4, 6, latin1(invoice.business_name), new_x="LEFT", new_y="NEXT")
    if invoice.vat_number:
        pdf.cell(half, 6, latin1(f"VAT number: {invoice.vat_number}"), new_x="LEFT", new_y="NEXT")
    left_bottom = pdf.get_y()
    pdf.set_xy(pdf.l_margin + half, top)
    pdf.set_font("helvetica", "B", 11)
    pdf.cell(half, 6, "To", new_x="LEFT", new_y="NEXT")
    pdf.set_font("helvetica", "", 11)
    pdf.multi_cell(half, 6, latin1(invoice.client_name), new_x="LEFT", new_y="NEXT")
    if invoice.client_email:
        pdf.multi_cell(half, 6, latin1(invoice.client_email), new_x="LEFT", new_y="NEXT")
    pdf.set_xy(pdf.l_margin, max(left_bottom, pdf.get_y()) + 6)

    amount_width = 40
    pdf.set_font("helvetica", "B", 11)
    pdf.cell(width - amount_width, 8, "Description", border="B")
    pdf.cell(amount_width, 8, "Amount", border="B", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("helvetica", "", 11)
    for line in invoice.lines:
        y = pdf.get_y()
        pdf.multi_cell(width - amount_width, 7, latin1(line.description))
        bottom = pdf.get_y()
        pdf.set_xy(pdf.l_margin + width - amount_width, y)
        pdf.cell(amount_width, 7, money(line.amount_minor), align="R")
        pdf.set_xy(pdf.l_margin, bottom)
    pdf.ln(2)
    total_rows: list[tuple[str, int]] = []
    if invoice.vat_rate_bp is not None:
        total_rows += [
            ("Net", invoice.net_minor),
            (f"VAT at {vat_rate_text(invoice.vat_rate_bp)}", invoice.vat_minor),
        ]
    total_rows.append(("Total", invoice.gross_minor))
    for index, (label, value) in enumerate(total_rows):
        last = index == len(total_rows) - 1
        pdf.set_font("helvetica", "B" if last else "", 11)
        pdf.cell(width - amount_width, 7, label, align="R")
        pdf.cell(amount_width, 7, money(value), align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)

    pdf.set_font("helvetica", "", 11)
    if invoice.is_credit_note:
        pdf.multi_cell(
            width,
            6,
            f"This credit note cancels invoice {number_label(invoice.credits or 0)} in full.",
            new_x="LMARGIN",
            new_y="NEXT",
        )
    elif paid is not None:
        pdf.multi_cell(width, 6, "Paid with thanks.", new_x="LMARGIN", new_y="NEXT")
    elif invoice.payment_lines:
        pdf.set_font("helvetica", "B", 11)
        pdf.cell(width, 7, "Please pay by bank transfer to", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("helvetica", "", 11)
        for label, value in invoice.payment_lines:
            pdf.cell(45, 6, latin1(label) + ":")
            pdf.cell(width - 45, 6, latin1(value), new_x="LMARGIN", new_y="NEXT")
        if invoice.reference:
            pdf.cell(45, 6, "Reference:")
            pdf.cell(width - 45, 6, invoice.reference, new_x="LMARGIN", new_y="NEXT")
    kind = "credit-note" if invoice.is_credit_note else heading.lower()
    return Pdf(filename=f"{kind}-{invoice.label}.pdf", body=bytes(pdf.output()))

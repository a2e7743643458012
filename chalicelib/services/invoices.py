"""Numbered invoices, receipts and credit notes as PDF (issue 17 item 4, docs/invoices.md).

An invoice is issued by the session's Send invoice (`messages.send_invoice`), once per
session, or by the pack invoice page (`issue_for_bundle`), once per pack: the record holds
what the PDF shows, copied at issue. A receipt is not a document of its own: it is the
same record drawn with the session's (the pack's) payment as it is now, so marking it paid
(or undoing it) needs nothing here. The PDF is drawn on each download from the record,
with our small PDF writer (chalicelib/pdf.py) imported only then.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

from chalicelib.domain.clients import Client
from chalicelib.domain.commands import Versioned
from chalicelib.domain.errors import Conflict, DomainError, NotFound
from chalicelib.domain.invoices import (
    PDF_SUFFIX,
    Invoice,
    InvoiceLine,
    Paid,
    credit_note_for,
    number_label,
    pack_line,
    paid_as_pack,
    title,
    totals,
    vat_rate_text,
)
from chalicelib.domain.messages import Message
from chalicelib.domain.models import Trainer
from chalicelib.domain.money import format_money
from chalicelib.domain.programs import Bundle
from chalicelib.domain.schedule import (
    PACK_PAYMENT,
    PAYMENT_TYPES,
    LogEntry,
    Session,
    parse_session_ref,
    session_ref_or_404,
)
from chalicelib.domain.settings import PaymentDetails
from chalicelib.domain.timeutil import local_today
from chalicelib.repo.invoices import InvoiceStore, PackChanged, sessions_invoiced_problem
from chalicelib.repo.programs import ProgramRepository
from chalicelib.repo.repository import Repository
from chalicelib.services.deps import Deps
from chalicelib.services.links import INVOICE_PATH, Links

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


def _invoice_maker(
    trainer: Trainer, client: Client, line: InvoiceLine, now: datetime, **subject: str
) -> Callable[[int], Invoice]:
    """The invoice of one `line` as it would be issued now under a given number: the
    trainer's details, the client, the VAT split and the totals copied at issue.
    `subject`: what it invoices (a session's id, ref and payment reference, or a pack)."""
    settings = trainer.settings
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
            lines=(line,),
            currency=settings.currency,
            locale=settings.locale,
            vat_number=settings.vat_number,
            vat_rate_bp=rate,
            net_minor=net,
            vat_minor=vat,
            gross_minor=gross,
            **subject,
        )

    return make


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
    line = InvoiceLine(
        day=session.day,
        start=session.start,
        end=session.end,
        place=place,
        amount_minor=price_minor,
    )
    make = _invoice_maker(
        trainer,
        client,
        line,
        now,
        session_id=session.id,
        session_ref=session.ref,
        reference=reference,
        session_pack_id=session.bundle_id or "",
    )
    return store(repo).issue_for_session(trainer.id, session, make, with_parts)


def credit_session_invoice(deps: Deps, trainer: Trainer, ref: str) -> Invoice:
    """The credit note that cancels the session's invoice (trainer only). The invoice
    stays as issued; the session's next Send invoice issues a new number."""
    invoices = store(deps.repo)
    invoice = invoices.for_session(trainer.id, session_ref_or_404(ref).id)
    if invoice is None:
        raise NotFound("invoice")
    settings = trainer.settings
    today = local_today(deps.now, settings.time_zone)
    return invoices.issue_credit_note(
        trainer.id,
        invoice,
        lambda number: credit_note_for(invoice, number, deps.now, today),
    )


# --- A pack's invoice ------------------------------------------------------------------------


def _pack_problem(bundle: Bundle, client: Client | None, payment: PaymentDetails) -> str:
    """Why the pack cannot be invoiced now ("" when it can). A paused or completed pack
    can: the client still owes its price, and invoices often follow the last session."""
    if bundle.status == "creating":
        return "This bundle was not fully created: there is no pack to invoice."
    if not bundle.price_minor:
        return "This pack is free: there is nothing to invoice."
    if client is None or client.archived:
        return "This client is archived: restore them on their profile to invoice the pack."
    if bundle.sessions_invoiced:
        return sessions_invoiced_problem(bundle.sessions_invoiced)
    if not bundle.pack_paid and not payment.complete:
        # As for a session's invoice: it tells the client where to pay (a paid pack's
        # is a receipt, which asks for nothing).
        return f"Your payment details are incomplete: add the {payment.missing_text} in Settings."
    return ""


class IssuePackInvoice(Versioned):
    """The pack invoice page's Issue: the bundle as the page showed it."""

    bundle_id: str


def issue_for_bundle(
    deps: Deps, trainer: Trainer, command: IssuePackInvoice
) -> tuple[Invoice, bool]:
    """The pack's invoice issued now under the next number (True), or the one it already
    has (False: another tab, a second press). A pack changed since the page showed it
    (`command.version`) is refused (PackChanged) and nothing is written: here, or by the
    write itself when the change lands between this read and the write."""
    invoices = store(deps.repo)
    bundle, issued = invoices.bundle_with_invoice(trainer.id, command.bundle_id)
    if bundle is None:
        raise NotFound(command.bundle_id)
    if issued is not None:
        return issued, False
    if command.version != bundle.version:
        raise PackChanged()
    try:
        client: Client | None = deps.repo.get_client(trainer.id, bundle.client_id)
    except NotFound:
        client = None
    problem = _pack_problem(bundle, client, trainer.settings.payment)
    if problem or client is None:
        raise Conflict(problem)
    line = pack_line(bundle.title, bundle.sessions_planned, bundle.price_minor)
    make = _invoice_maker(trainer, client, line, deps.now, bundle_id=bundle.id)
    return invoices.issue_for_bundle(trainer.id, bundle, make)


def credit_bundle_invoice(deps: Deps, trainer: Trainer, bundle_id: str) -> Invoice:
    """The credit note that cancels the pack's invoice (trainer only); the pack may then
    be invoiced again under a new number."""
    invoices = store(deps.repo)
    invoice = invoices.for_bundle(trainer.id, bundle_id)
    if invoice is None:
        raise NotFound("invoice")
    today = local_today(deps.now, trainer.settings.time_zone)
    return invoices.issue_credit_note(
        trainer.id, invoice, lambda number: credit_note_for(invoice, number, deps.now, today)
    )


def pack_paid(bundle: Bundle, zone_name: str) -> Paid | None:
    """A pack's receipt: the pack paid as a whole, on the trainer's calendar."""
    return paid_as_pack(bundle.pack_paid_at, bundle.pack_payment_type, zone_name, PAYMENT_TYPES)


@dataclass(frozen=True)
class IssuedPackInvoice:
    label: str  # INV-000042
    heading: str  # "Invoice", or "Receipt" once the pack is paid
    issued_on: str  # "23 November 2026"
    paid: str  # "23 November 2026 (Cash)" once paid, else ""
    client_link: str  # the client's PDF link to copy ("" while it would not open)


@dataclass(frozen=True)
class PackInvoicePage:
    bundle_id: str
    bundle_version: int
    title: str
    client_id: str
    client_name: str
    sessions: int
    price: str
    problem: str  # why no invoice can be issued now ("" when it can)
    issued: IssuedPackInvoice | None


def pack_invoice_page(deps: Deps, trainer: Trainer, bundle_id: str) -> PackInvoicePage:
    """The pack invoice page: the bundle with its invoice (one BatchGetItem), and its
    client (one GetItem) for the link to copy and whether one may be issued."""
    bundle, issued = store(deps.repo).bundle_with_invoice(trainer.id, bundle_id)
    if bundle is None:
        raise NotFound(bundle_id)
    try:
        client: Client | None = deps.repo.get_client(trainer.id, bundle.client_id)
    except NotFound:
        client = None
    settings = trainer.settings
    shown: IssuedPackInvoice | None = None
    if issued is not None:
        paid = pack_paid(bundle, settings.time_zone)
        link = ""
        if client is not None and not client.archived and deps.base_url:
            token = deps.links.invoice(
                trainer.id, client.id, client.portal_generation, issued.number
            )
            link = f"{deps.base_url}{INVOICE_PATH}{token}{PDF_SUFFIX}"
        shown = IssuedPackInvoice(
            label=issued.label,
            heading=title(issued, paid),
            issued_on=_day(issued.issued_on),
            paid=(f"{_day(paid.on)} ({paid.how})" if paid.on else paid.how) if paid else "",
            client_link=link,
        )
    return PackInvoicePage(
        bundle_id=bundle.id,
        bundle_version=bundle.version,
        title=bundle.title,
        client_id=bundle.client_id,
        client_name=bundle.client_name,
        sessions=bundle.sessions_planned,
        price=format_money(bundle.price_minor, settings.currency, settings.locale),
        problem=_pack_problem(bundle, client, settings.payment),
        issued=shown,
    )


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
    """The session's payment: one GetItem, and its log (one Query) only when paid; a
    pack's: its bundle (one GetItem), for the pack's current invoice only (one credited
    since stays an invoice: the pack's payment belongs to the one that replaced it)."""
    if invoice.is_pack:
        if invoice.is_credit_note:
            return None
        try:
            bundle = ProgramRepository(repo.db).get_bundle(invoice.trainer_id, invoice.bundle_id)
        except NotFound:
            return None
        if bundle.invoice_number != invoice.number:
            return None
        return pack_paid(bundle, trainer.settings.time_zone)
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
    invoice = store(deps.repo).for_session(trainer.id, session_ref_or_404(ref).id)
    if invoice is None:
        raise NotFound("invoice")
    return render(invoice, _payment_of(deps.repo, trainer, invoice))


def trainer_pack_pdf(deps: Deps, trainer: Trainer, bundle_id: str) -> Pdf:
    """The trainer's download from the pack invoice page: the invoice, or the receipt
    once the pack is paid; the bundle and its invoice in one BatchGetItem."""
    bundle, invoice = store(deps.repo).bundle_with_invoice(trainer.id, bundle_id)
    if bundle is None or invoice is None:
        raise NotFound("invoice")
    return render(invoice, pack_paid(bundle, trainer.settings.time_zone))


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
    """The document as PDF bytes, drawn by chalicelib/pdf.py, imported only here: a
    download pays for it, a cold start does not. The writer makes every text WinAnsi:
    the standard fonts hold nothing else, and a client's name must never stop an invoice.
    Lengths are in millimetres (`MM` points each), rows 6–10 mm tall."""
    from chalicelib.pdf import BOLD, MM, REGULAR, Document, Flow

    def money(minor: int) -> str:
        return format_money(minor, invoice.currency, invoice.locale)

    heading = title(invoice, None if invoice.is_credit_note else paid)
    document = Document(
        title=f"{heading} {invoice.label}",
        author=invoice.business_name,
        creator="PT Bookings",
        # The issue instant, not the download's: the same record always draws the same PDF.
        creation_date=invoice.issued_at,
    )
    flow = Flow(document, margin=10 * MM, bottom_margin=18 * MM, pad=1 * MM)
    left, width = flow.left, flow.width
    row, line_row = 6 * MM, 7 * MM
    label_width = 45 * MM

    def value_lines(value: str) -> list[str]:
        return flow.wrapped(width - label_width, value)

    def labelled(label: str, value: str) -> None:
        lines = value_lines(value)
        flow.fits(row * len(lines))
        flow.cell(left, label_width, row, label + ":")
        for text in lines:
            flow.cell(left + label_width, width - label_width, row, text)
            flow.down(row)

    flow.cell(left, width, 10 * MM, heading, BOLD, 20)
    flow.down(10 * MM)
    rows = [("Number", invoice.label), ("Date of issue", _day(invoice.issued_on))]
    if invoice.credits is not None:
        rows.append(("Cancels invoice", number_label(invoice.credits)))
    if paid is not None and not invoice.is_credit_note:
        rows.append(("Paid", f"{_day(paid.on)} ({paid.how})" if paid.on else paid.how))
    if invoice.reference:
        rows.append(("Payment reference", invoice.reference))
    for label, value in rows:
        labelled(label, value)
    flow.down(4 * MM)

    # From and To side by side, each wrapped to its half; the taller one sets what follows.
    half = width / 2
    from_lines = flow.wrapped(half - 4 * MM, invoice.business_name)
    if invoice.vat_number:
        from_lines.append(f"VAT number: {invoice.vat_number}")
    to_lines = flow.wrapped(half, invoice.client_name)
    if invoice.client_email:
        to_lines += flow.wrapped(half, invoice.client_email)
    block = row * (1 + max(len(from_lines), len(to_lines)))
    flow.fits(block)
    top = flow.y
    for x, side, lines in ((left, "From", from_lines), (left + half, "To", to_lines)):
        flow.y = top
        flow.cell(x, half, row, side, BOLD)
        for text in lines:
            flow.down(row)
            flow.cell(x, half, row, text)
    flow.y = top + block + 6 * MM

    amount_width = 40 * MM
    description_width = width - amount_width

    def table_header() -> None:
        flow.cell(left, description_width, 8 * MM, "Description", BOLD)
        flow.cell(left + description_width, amount_width, 8 * MM, "Amount", BOLD, right=True)
        flow.down(8 * MM)
        flow.page.line(left, flow.y, left + width, flow.y)

    flow.fits(8 * MM + line_row)  # the header never ends a page alone
    table_header()
    for line in invoice.lines:
        described = flow.wrapped(description_width, line.description)
        if not flow.fits(line_row * len(described)):
            table_header()  # a new page names the columns again
        for index, text in enumerate(described):
            flow.cell(left, description_width, line_row, text)
            if index == 0:  # after its text, so a reader's copy keeps the row's order
                amount = money(line.amount_minor)
                flow.cell(left + description_width, amount_width, line_row, amount, right=True)
            flow.down(line_row)
    flow.down(2 * MM)

    total_rows: list[tuple[str, int]] = []
    if invoice.vat_rate_bp is not None:
        total_rows += [
            ("Net", invoice.net_minor),
            (f"VAT at {vat_rate_text(invoice.vat_rate_bp)}", invoice.vat_minor),
        ]
    total_rows.append(("Total", invoice.gross_minor))
    flow.fits(line_row * len(total_rows))  # the totals stay together
    for index, (label, value) in enumerate(total_rows):
        font = BOLD if index == len(total_rows) - 1 else REGULAR
        flow.cell(left, description_width, line_row, label, font, right=True)
        amount = money(value)
        flow.cell(left + description_width, amount_width, line_row, amount, font, right=True)
        flow.down(line_row)
    flow.down(6 * MM)

    if invoice.is_credit_note:
        closing = f"This credit note cancels invoice {number_label(invoice.credits or 0)} in full."
    elif paid is not None:
        closing = "Paid with thanks."
    else:
        closing = ""
    for text in flow.wrapped(width, closing) if closing else ():
        flow.fits(row)
        flow.cell(left, width, row, text)
        flow.down(row)
    if not closing and invoice.payment_lines:
        reference = [("Reference", invoice.reference)] if invoice.reference else []
        to_pay = [*invoice.payment_lines, *reference]
        rows_to_pay = sum(len(value_lines(value)) for _label, value in to_pay)
        flow.fits(line_row + row * rows_to_pay)  # bank details are copied whole: one page
        flow.cell(left, width, line_row, "Please pay by bank transfer to", BOLD)
        flow.down(line_row)
        for label, value in to_pay:
            labelled(label, value)
    kind = "credit-note" if invoice.is_credit_note else heading.lower()
    return Pdf(filename=f"{kind}-{invoice.label}.pdf", body=document.to_bytes())

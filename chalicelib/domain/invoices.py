"""Numbered invoices, credit notes and receipts: what an issued document holds, frozen.

Pure rules (docs/invoices.md): the number's format, VAT in integer minor units, what a
receipt adds, and the Latin-1 text the PDF core fonts can draw. The store claims numbers
(repo/invoices.py); services/invoices.py issues and draws them.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict

from chalicelib.domain.grid import format_clock
from chalicelib.domain.timeutil import local_today

NUMBER_PREFIX: Final = "INV-"
NUMBER_DIGITS: Final = 6  # zero-padded so numbers sort as text in their partition
MAX_NUMBER: Final = 10**NUMBER_DIGITS - 1

# VAT rates are kept in hundredths of a percent (basis points): 20 % is 2000, 5.5 % is 550,
# so a rate with two decimals is an exact integer and no float reaches a total.
MAX_VAT_RATE_BP: Final = 100_00
MAX_VAT_NUMBER: Final = 20
_VAT_NUMBER: Final = re.compile(r"[A-Z0-9]{2,20}")
_VAT_RATE: Final = re.compile(r"([0-9]{1,3})(?:[.,]([0-9]{1,2}))?")

INVOICE: Final = "invoice"
CREDIT_NOTE: Final = "credit_note"

# Where an invoice message's text carries its PDF link (made again from the stage secret
# when sent or shown, like LINK_PLACEHOLDER, which stays the card pay link's place).
PDF_PLACEHOLDER: Final = "⟦invoice⟧"
PDF_SUFFIX: Final = ".pdf"


def number_label(number: int) -> str:
    """`INV-000042`: one sequence per trainer, with no year in it, so a number never
    restarts and a credit note issued in January still follows December's invoices."""
    return f"{NUMBER_PREFIX}{number:0{NUMBER_DIGITS}d}"


def parse_number_label(text: str) -> int | None:
    match = re.fullmatch(rf"{NUMBER_PREFIX}([0-9]{{{NUMBER_DIGITS}}})", text)
    return int(match.group(1)) if match and int(match.group(1)) > 0 else None


def link_target(number: int, pay_session_ref: str | None) -> str:
    """An invoice message's `LinkRef.target_id`: its number, and the session its card pay
    link is for when it has one (a message carries one LinkRef)."""
    return f"{number} {pay_session_ref}" if pay_session_ref else str(number)


def parse_link_target(target: str) -> tuple[int, str | None]:
    number, _, pay = target.partition(" ")
    return int(number), pay or None


# --- VAT ------------------------------------------------------------------------------------


def parse_vat_number(raw: str) -> str:
    """The VAT number as it is printed ("" when none): spaces, dots and dashes people
    type between groups are dropped, letters upper-cased. Raises ValueError in words."""
    text = re.sub(r"[\s.\-]", "", raw or "").upper()
    if not text:
        return ""
    if len(text) > MAX_VAT_NUMBER:
        raise ValueError(f"A VAT number has at most {MAX_VAT_NUMBER} letters and digits.")
    if not _VAT_NUMBER.fullmatch(text):
        raise ValueError("Use only letters and digits for the VAT number, e.g. GB123456789.")
    return text


def parse_vat_rate(raw: str) -> int | None:
    """The VAT rate in basis points from "20", "5.5", "5,5" or "20 %" (None: no VAT).
    Raises ValueError in words for anything else, or outside 0–100."""
    text = (raw or "").strip().removesuffix("%").strip()
    if not text:
        return None
    if re.fullmatch(r"[-−]\s*[0-9.,]+", text):
        raise ValueError("The VAT rate cannot be negative: use a number from 0 to 100.")
    match = _VAT_RATE.fullmatch(text)
    if match is None:
        raise ValueError("Type the VAT rate as a number from 0 to 100, e.g. 20 or 5.5.")
    whole, decimals = match.group(1), (match.group(2) or "").ljust(2, "0")
    rate = int(whole) * 100 + int(decimals)
    if rate > MAX_VAT_RATE_BP:
        raise ValueError("The VAT rate must be between 0 and 100 %.")
    return rate


def vat_rate_text(rate_bp: int) -> str:
    """20 %, 5.5 %, 12.25 %: as typed, without trailing zeros."""
    whole, part = divmod(rate_bp, 100)
    return f"{whole}.{part:02d}".rstrip("0").rstrip(".") + " %"


def vat_split(gross_minor: int, rate_bp: int | None) -> tuple[int, int]:
    """(net, VAT) of an amount that includes VAT, in minor units.

    The session's price is what the client pays, so it is the gross: net = gross × 100 /
    (100 + rate), rounded half up to the minor unit, and VAT = gross − net, so net + VAT
    is always exactly the amount due. A negative amount (a credit note) is split like its
    positive and negated, so a credit note cancels its invoice to the unit."""
    if not rate_bp:
        return gross_minor, 0
    sign, gross = (-1, -gross_minor) if gross_minor < 0 else (1, gross_minor)
    denominator = 10_000 + rate_bp
    net = (2 * gross * 10_000 + denominator) // (2 * denominator)
    return sign * net, sign * (gross - net)


# --- The document ---------------------------------------------------------------------------


class InvoiceLine(BaseModel):
    """One line: a session (its day, local times and place) or free `text` (a pack).
    The session fields stay optional rather than split into two models, so every session
    invoice already stored validates as it was written."""

    model_config = ConfigDict(frozen=True)

    day: date | None = None
    start: int | None = None  # local minutes
    end: int | None = None
    place: str = ""
    text: str = ""  # a line that is not one session: "12-session coaching: 12 sessions"
    amount_minor: int  # VAT included

    @property
    def description(self) -> str:
        if self.text or self.day is None or self.start is None or self.end is None:
            return self.text
        return (
            f"Personal training session, {self.day:%a} {self.day.day} {self.day:%b %Y}, "
            f"{format_clock(self.start)}-{format_clock(self.end)}, {self.place}"
        )


def pack_line(title: str, sessions: int, price_minor: int) -> InvoiceLine:
    """A pack's one line at its price: what the client bought, not the sessions as they
    fall (they move, cancel and get added; the pack's price does not)."""
    noun = "session" if sessions == 1 else "sessions"
    return InvoiceLine(
        text=f"{title}: {sessions} personal training {noun}", amount_minor=price_minor
    )


class Invoice(BaseModel):
    """An issued invoice or credit note, as the PDF shows it. Written once, never edited:
    the trainer's details, the client and the amounts are copies made at issue."""

    model_config = ConfigDict(frozen=True)

    number: int
    kind: Literal["invoice", "credit_note"] = INVOICE
    credits: int | None = None  # a credit note: the invoice number it corrects
    issued_on: date  # the trainer's local date at issue
    issued_at: datetime
    trainer_id: str
    business_name: str
    payment_lines: tuple[tuple[str, str], ...]  # the bank details' lines as they were
    client_id: str
    client_name: str
    client_email: str = ""
    # What it invoices: a session (its id and ref) or a pack (its bundle id); older
    # records all name a session.
    session_id: str = ""
    session_ref: str = ""
    bundle_id: str = ""
    # A session invoice of one of a pack's sessions: that pack. Its count of sessions
    # invoiced one by one moves with this invoice's issue and credit note, and a pack
    # whose count is not zero cannot be invoiced as a whole (nor the other way round).
    session_pack_id: str = ""
    lines: tuple[InvoiceLine, ...]
    currency: str
    locale: str
    vat_number: str = ""
    vat_rate_bp: int | None = None  # None: no VAT shown
    net_minor: int
    vat_minor: int
    gross_minor: int
    reference: str = ""  # the PT-… payment reference (bank reconciliation)

    @property
    def label(self) -> str:
        return number_label(self.number)

    @property
    def is_credit_note(self) -> bool:
        return self.kind == CREDIT_NOTE

    @property
    def is_pack(self) -> bool:
        return bool(self.bundle_id)


def totals(lines: tuple[InvoiceLine, ...], rate_bp: int | None) -> tuple[int, int, int]:
    """(net, VAT, gross) of the lines: VAT is split once from the total, not per line, so
    the figures printed always add up."""
    gross = sum(line.amount_minor for line in lines)
    net, vat = vat_split(gross, rate_bp)
    return net, vat, gross


def credit_note_for(invoice: Invoice, number: int, issued_at: datetime, issued_on: date) -> Invoice:
    """The credit note that cancels `invoice` whole: the same lines negated, its own number."""
    lines = tuple(
        line.model_copy(update={"amount_minor": -line.amount_minor}) for line in invoice.lines
    )
    net, vat, gross = totals(lines, invoice.vat_rate_bp)
    return invoice.model_copy(
        update={
            "number": number,
            "kind": CREDIT_NOTE,
            "credits": invoice.number,
            "issued_at": issued_at,
            "issued_on": issued_on,
            "lines": lines,
            "net_minor": net,
            "vat_minor": vat,
            "gross_minor": gross,
        }
    )


class Paid(BaseModel):
    """What makes an invoice a receipt: the session's payment as it is now."""

    model_config = ConfigDict(frozen=True)

    on: date | None  # the day of the payment's log line (None: not found in the log)
    how: str  # "Cash", "Bank transfer", "Card"…


def paid_as_pack(
    paid_at: datetime | None, payment_type: str | None, zone_name: str, ways: dict[str, str]
) -> Paid | None:
    """What makes a pack's invoice a receipt: the pack paid as a whole (the bundle's
    `pack_paid_at`, `pack_payment_type`), dated on the trainer's calendar. None: unpaid,
    or paid session by session (each session then has its own invoice or none)."""
    if paid_at is None:
        return None
    return Paid(on=local_today(paid_at, zone_name), how=ways.get(payment_type or "", "Paid"))


def title(invoice: Invoice, paid: Paid | None) -> str:
    if invoice.is_credit_note:
        return "Credit note"
    return "Receipt" if paid is not None else "Invoice"

"""Bank statements read for reconciliation: payment references, column mappings with
presets for UK banks, and the matching of statement lines to invoices.

Pure rules: the file's bytes come in, rows and proposals go out. Nothing here reads the
table; the service reads the invoices a statement names and hands them to `match`.

Decisions (docs/bank-reconciliation.md):
- A payment reference is `PT-` and 6 characters from an alphabet with no look-alikes
  (no 0/O, 1/I/L, U/V pair), derived from the trainer and the session, so a resend of
  the invoice names the same reference without reading it first. A second candidate
  (`attempt`) exists for the rare collision with another session's reference.
- A file is read as UTF-8 (with or without a byte-order mark); failing that as
  Windows-1252, the Latin-1 superset UK banks and Excel write (Nationwide's £). Anything
  else (UTF-16 "Unicode text", a workbook, a PDF, control characters) is refused in words.
- Amounts are read in the trainer's locale with Babel, signed, in integer minor units of
  the trainer's currency; another currency's symbol or code is refused for that line.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import ClassVar, Final

from chalicelib.domain.commands import Command
from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.money import (
    COUNTRY_LOCALES,
    OFFERED_CURRENCIES,
    currency_digits,
    currency_symbol,
    format_money,
)
from chalicelib.domain.schedule import Session, unpaid_amount

# Payment references -------------------------------------------------------------------
REFERENCE_PREFIX: Final = "PT-"
# 30 characters: no 0/O, 1/I/L (misread), and no U (read as V in many fonts).
REFERENCE_ALPHABET: Final = "ABCDEFGHJKMNPQRSTVWXYZ23456789"
REFERENCE_LENGTH: Final = 6
MAX_REFERENCE_ATTEMPTS: Final = 5
# A bank may drop the hyphen, put a space in its place or change the case.
_REFERENCE_IN_TEXT = re.compile(
    rf"(?<![A-Z0-9])PT[\s\-_.]?([{REFERENCE_ALPHABET}]{{{REFERENCE_LENGTH}}})(?![A-Z0-9])"
)


def payment_reference(trainer_id: str, session_id: str, attempt: int = 0) -> str:
    """The invoice reference of a session: the same every time it is asked for, so a
    resend keeps it; `attempt` > 0 only when an earlier candidate belongs to another
    session (about once in tens of millions of invoices of one trainer)."""
    digest = hashlib.sha256(f"payref|{trainer_id}|{session_id}|{attempt}".encode()).digest()
    number = int.from_bytes(digest[:8], "big")
    letters = []
    for _ in range(REFERENCE_LENGTH):
        number, index = divmod(number, len(REFERENCE_ALPHABET))
        letters.append(REFERENCE_ALPHABET[index])
    return REFERENCE_PREFIX + "".join(letters)


def references_in(text: str) -> tuple[str, ...]:
    """Every payment reference a statement's text holds, in the form we issue them."""
    found = (REFERENCE_PREFIX + m.group(1) for m in _REFERENCE_IN_TEXT.finditer(text.upper()))
    return tuple(dict.fromkeys(found))


# Presets and mappings ------------------------------------------------------------------
MAX_UPLOAD_BYTES: Final = 1_000_000
MAX_REFERENCE_TEXT: Final = 80  # what a review keeps of a line's text


@dataclass(frozen=True)
class Columns:
    """Which columns of a statement hold what. A name is matched ignoring case and a
    currency suffix ("Amount" finds Starling's "Amount (GBP)"); a number ("1") is a
    position, for exports with no header line (HSBC)."""

    date: str
    reference: tuple[str, ...]
    amount: str = ""  # one signed column (money in positive)...
    paid_in: str = ""  # ...or money in and out in two columns, both written positive
    paid_out: str = ""
    currency: str = ""  # a column naming each line's currency (Monzo)

    @property
    def positional(self) -> bool:
        return self.date.isdigit()

    @property
    def named(self) -> tuple[str, ...]:
        names = (self.date, self.amount, self.paid_in, self.paid_out, self.currency)
        return tuple(n for n in (*names, *self.reference) if n)


@dataclass(frozen=True)
class Preset:
    key: str
    label: str
    columns: Columns


PRESETS: Final[dict[str, Preset]] = {
    p.key: p
    for p in (
        Preset(
            "monzo",
            "Monzo",
            Columns(
                date="Date",
                amount="Amount",
                currency="Currency",
                reference=("Name", "Notes and #tags", "Description"),
            ),
        ),
        Preset(
            "starling",
            "Starling",
            Columns(date="Date", amount="Amount", reference=("Counter Party", "Reference")),
        ),
        Preset("barclays", "Barclays", Columns(date="Date", amount="Amount", reference=("Memo",))),
        Preset("hsbc", "HSBC", Columns(date="1", reference=("2",), amount="3")),
        Preset(
            "lloyds",
            "Lloyds",
            Columns(
                date="Transaction Date",
                paid_in="Credit Amount",
                paid_out="Debit Amount",
                reference=("Transaction Description",),
            ),
        ),
        Preset(
            "nationwide",
            "Nationwide",
            Columns(
                date="Date",
                paid_in="Paid in",
                paid_out="Paid out",
                reference=("Description",),
            ),
        ),
    )
}
CUSTOM: Final = "custom"
PRESET_CHOICES: Final = (*((p.key, p.label) for p in PRESETS.values()), (CUSTOM, "Another bank"))


class ColumnMapping(Command):
    """The mapping part of the upload form, as typed: a preset, or the columns named."""

    preset: str = CUSTOM
    date_column: str = ""
    amount_column: str = ""
    paid_in_column: str = ""
    paid_out_column: str = ""
    reference_columns: str = ""  # one name or several, separated by commas
    currency_column: str = ""

    messages: ClassVar[dict[str, str]] = {
        "preset": "Pick your bank from the list, or Another bank."
    }

    def columns(self) -> Columns:
        """The columns to read; InvalidInput by field when the custom ones are incomplete."""
        if self.preset in PRESETS:
            return PRESETS[self.preset].columns
        if self.preset != CUSTOM:
            raise InvalidInput({"preset": self.messages["preset"]})
        errors: dict[str, str] = {}
        if not self.date_column:
            errors["date_column"] = "Name the column with each line's date."
        if not (self.amount_column or self.paid_in_column):
            errors["amount_column"] = (
                "Name the amount column, or the paid-in column if your bank has two."
            )
        references = tuple(n.strip() for n in self.reference_columns.split(",") if n.strip())
        if not references:
            errors["reference_columns"] = (
                "Name the column with the payment reference (several: separate them with commas)."
            )
        names = [self.date_column, self.amount_column, self.paid_in_column, self.paid_out_column]
        if any(n.isdigit() for n in names if n) and not all(
            n.isdigit() for n in [*names, *references] if n
        ):
            errors["date_column"] = (
                "Use column names, or column numbers (1, 2, 3…) for a file with no header "
                "line, not both."
            )
        if errors:
            raise InvalidInput(errors)
        return Columns(
            date=self.date_column,
            amount=self.amount_column,
            paid_in=self.paid_in_column,
            paid_out=self.paid_out_column,
            reference=references,
            currency=self.currency_column,
        )


# Reading the file ----------------------------------------------------------------------
_WORKBOOK = b"PK\x03\x04"  # .xlsx (a zip)
_OLD_WORKBOOK = b"\xd0\xcf\x11\xe0"  # .xls
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

NOT_CSV: Final = (
    "This file is not a CSV statement. In your bank's app or website, download the "
    "statement as CSV (sometimes called “spreadsheet” or “comma-separated”) and upload that."
)


def decode_statement(raw: bytes) -> str:
    """The file's text: UTF-8 (a BOM allowed), else Windows-1252; InvalidInput otherwise."""
    if not raw.strip():
        raise InvalidInput({"statement": "The file is empty. Download the statement again."})
    if len(raw) > MAX_UPLOAD_BYTES:
        raise InvalidInput(
            {
                "statement": f"The file is {len(raw) / 1_000_000:.1f} MB; the most is 1 MB. "
                "Download a shorter period (a month or two)."
            }
        )
    if raw.startswith((_WORKBOOK, _OLD_WORKBOOK)):
        raise InvalidInput(
            {
                "statement": "This is an Excel workbook, not a CSV file. Open it and save it "
                "as “CSV UTF-8”, or download the statement as CSV."
            }
        )
    if raw.startswith(b"%PDF"):
        raise InvalidInput({"statement": "This is a PDF. " + NOT_CSV})
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in raw[:4096]:
        raise InvalidInput(
            {
                "statement": "This file is saved as UTF-16 (“Unicode text”), which cannot be "
                "read here. Save it as “CSV UTF-8”, or download the statement as CSV again."
            }
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = raw.decode("cp1252")
        except UnicodeDecodeError:
            raise InvalidInput(
                {
                    "statement": "This file's characters are in an encoding that cannot be "
                    "read (neither UTF-8 nor Windows-1252/Latin-1). Save it as “CSV UTF-8”."
                }
            ) from None
    if _CONTROL.search(text):
        raise InvalidInput({"statement": NOT_CSV})
    return text


def _records(text: str) -> list[tuple[int, list[str]]]:
    """(line where the record starts, its cells) for every non-empty record."""
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(
            text[:8192], delimiters=",;\t"
        )
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    records: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for cells in reader:
            if any(c.strip() for c in cells):
                records.append((start, [c.strip() for c in cells]))
            start = reader.line_num + 1
    except csv.Error:
        raise InvalidInput({"statement": NOT_CSV}) from None
    return records


_CURRENCY_SUFFIX = re.compile(r"\s*\(([A-Za-z]{3})\)\s*$")


def _header_name(cell: str) -> str:
    return _CURRENCY_SUFFIX.sub("", cell).strip().casefold()


@dataclass(frozen=True)
class _Layout:
    first_data: int  # index into the records
    index: dict[str, int]  # mapped name -> cell index
    header_currency: str  # "GBP" when a mapped header says "(GBP)"; "" when none says


_HEADER_SEARCH: Final = 30  # preamble lines before the header (Nationwide has 4)


def _layout(records: Sequence[tuple[int, list[str]]], columns: Columns) -> _Layout:
    if columns.positional:
        index = {name: int(name) - 1 for name in columns.named}
        if any(i < 0 for i in index.values()):
            raise InvalidInput({"date_column": "Column numbers start at 1."})
        return _Layout(0, index, "")
    wanted = {name: _header_name(name) for name in columns.named}
    best: tuple[int, int, list[str]] | None = None
    for position, (_, cells) in enumerate(records[:_HEADER_SEARCH]):
        names = [_header_name(c) for c in cells]
        found = sum(1 for w in wanted.values() if w in names)
        if found == len(wanted):
            index = {name: names.index(w) for name, w in wanted.items()}
            currencies = {
                m.group(1).upper()
                for name, i in index.items()
                if name != columns.currency and (m := _CURRENCY_SUFFIX.search(cells[i]))
            }
            return _Layout(position + 1, index, next(iter(sorted(currencies)), ""))
        if best is None or found > best[0]:
            best = (found, position, cells)
    shown = best[2] if best else []
    shown_names = [_header_name(c) for c in shown]
    missing = [name for name, w in wanted.items() if w not in shown_names]
    listed = ", ".join(f"“{c}”" for c in shown[:12]) or "none"
    raise InvalidInput(
        {
            _field_of(columns, missing[0]): (
                f"The file has no column {' or '.join(f'“{m}”' for m in missing)}. "
                f"The columns of its header line are: {listed}. Pick your bank, or name "
                "the columns as the file writes them."
            )
        }
    )


def _field_of(columns: Columns, name: str) -> str:
    if name == columns.date:
        return "date_column"
    if name in (columns.amount,):
        return "amount_column"
    if name == columns.paid_in:
        return "paid_in_column"
    if name == columns.paid_out:
        return "paid_out_column"
    if name == columns.currency:
        return "currency_column"
    return "reference_columns"


# Amounts and dates -----------------------------------------------------------------------
class LineRefused(ValueError):
    """One statement line that cannot be read; str() says why, in words."""


_NUMBER = re.compile(r"[0-9][0-9.,'’\s\u00a0\u202f]*")
_MINUS: Final = frozenset("-−–")


@dataclass(frozen=True)
class _Symbols:
    own: frozenset[str]
    foreign: dict[str, str]  # symbol or code (casefolded) -> the other currency's code


@functools.lru_cache(maxsize=64)
def _symbols(currency: str, locale: str) -> _Symbols:
    """Every currency's symbols in the locales we know (~3 ms of Babel look-ups): once per
    trainer's currency and locale, not once per statement cell."""
    names = {locale, "en", *COUNTRY_LOCALES.values()}
    own = {currency_symbol(currency, n).casefold() for n in names} | {currency.casefold()}
    foreign: dict[str, str] = {}
    for other in OFFERED_CURRENCIES:
        if other == currency:
            continue
        for n in names:
            symbol = currency_symbol(other, n).casefold()
            if symbol not in own:
                foreign.setdefault(symbol, other)
        foreign[other.casefold()] = other
    return _Symbols(frozenset(own), foreign)


def parse_amount(text: str, currency: str, locale: str) -> int | None:
    """A statement amount as signed integer minor units of `currency`, read in `locale`
    (None for an empty cell). LineRefused for another currency, too many decimals or
    anything that is not an amount."""
    from babel.numbers import NumberFormatError, get_decimal_symbol, parse_decimal

    raw = text.strip()
    if not raw:
        return None
    negative = False
    body = raw
    if body.startswith("(") and body.endswith(")"):
        negative, body = True, body[1:-1].strip()
    if body[:1] in _MINUS:
        negative, body = True, body[1:].strip()
    elif body[-1:] in _MINUS:
        negative, body = True, body[:-1].strip()
    body = body.removeprefix("+").strip()
    match = _NUMBER.search(body)
    if match is None:
        raise LineRefused(f"“{raw}” is not an amount.")
    number = match.group(0).strip()
    around = (body[: match.start()] + body[match.end() :]).strip()
    if _MINUS & set(around) and not negative:  # "£-40.00"
        negative = True
        around = "".join(c for c in around if c not in _MINUS).strip()
    symbols = _symbols(currency, locale)
    if around and around.casefold() not in symbols.own:
        other = symbols.foreign.get(around.casefold())
        if other is not None:
            raise LineRefused(f"“{raw}” is in {other}, not {currency}.")
        raise LineRefused(f"“{raw}” is not an amount in {currency}.")
    decimal_mark = get_decimal_symbol(locale)
    cleaned = re.sub(r"[\s\u00a0\u202f'’]", "", number)
    try:
        value = parse_decimal(cleaned, locale=locale, strict=True)
    except NumberFormatError:
        raise LineRefused(f"“{raw}” is not an amount written the {locale} way.") from None
    digits = currency_digits(currency)
    _, mark, fraction = cleaned.rpartition(decimal_mark)
    if mark and len(fraction) > digits:
        raise LineRefused(f"“{raw}” has more decimals than {currency} has.")
    minor = int(Decimal(value).scaleb(digits))
    return -minor if negative else minor


_DAY_FIRST: Final = ("%d/%m/%Y", "%d/%m/%y", "%d-%m-%Y", "%d.%m.%Y")
_MONTH_FIRST: Final = ("%m/%d/%Y", "%m/%d/%y")
_OTHER_DATES: Final = ("%Y-%m-%d", "%d %b %Y", "%d %B %Y", "%d-%b-%Y", "%d %b %y")


def parse_day(text: str, locale: str) -> date:
    """A statement date: day first (UK and Europe) or month first (US locales), ISO, or
    with the month's name ("01 Mar 2026", Nationwide)."""
    raw = text.strip()
    candidate = raw[:10] if re.match(r"\d{4}-\d{2}-\d{2}[T ]", raw) else raw
    order = _MONTH_FIRST if locale.startswith("en_US") else _DAY_FIRST
    for pattern in (*order, *_OTHER_DATES):
        try:
            return datetime.strptime(candidate, pattern).date()
        except ValueError:
            continue
    raise LineRefused(f"“{raw}” is not a date.")


# The statement ---------------------------------------------------------------------------
@dataclass(frozen=True)
class StatementLine:
    """A payment in (money out is counted, never matched)."""

    position: int  # the file's line number where the record starts
    day: date
    amount_minor: int
    text: str  # the reference columns joined, as the bank wrote them
    references: tuple[str, ...]

    @property
    def fingerprint(self) -> str:
        """What a confirmed line is remembered by: the same line of the same statement
        uploaded again gives the same fingerprint."""
        source = f"{self.day.isoformat()}|{self.amount_minor}|{self.text}|{self.position}"
        return hashlib.sha256(source.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class LineProblem:
    position: int
    text: str


@dataclass(frozen=True)
class Statement:
    lines: tuple[StatementLine, ...]
    problems: tuple[LineProblem, ...]
    money_out: int  # lines of money out, left alone


def parse_statement(raw: bytes, columns: Columns, currency: str, locale: str) -> Statement:
    """Every payment in of a statement file. InvalidInput (by form field) for a file that
    cannot be read at all; a line that cannot be read is a problem of its own, listed."""
    records = _records(decode_statement(raw))
    if not records:
        raise InvalidInput({"statement": "The file is empty. Download the statement again."})
    layout = _layout(records, columns)
    if layout.header_currency and layout.header_currency != currency:
        raise InvalidInput(
            {
                "statement": f"This statement is in {layout.header_currency}; your invoices "
                f"are in {currency}. Upload the statement of your {currency} account. "
                "Nothing was read."
            }
        )
    lines: list[StatementLine] = []
    problems: list[LineProblem] = []
    money_out = 0
    data = records[layout.first_data :]
    for number, (position, cells) in enumerate(data):
        try:
            line = _line(position, cells, columns, layout, currency, locale)
        except LineRefused as exc:
            # A file with no header line may still start with one (a positional preset
            # on a file that has it): a first line that is not data is skipped.
            if columns.positional and number == 0:
                continue
            problems.append(LineProblem(position, str(exc)))
            continue
        if line is None:
            money_out += 1
        else:
            lines.append(line)
    if not lines and not problems and not money_out:
        raise InvalidInput({"statement": "The file has a header but no lines."})
    return Statement(tuple(lines), tuple(problems), money_out)


def _cell(cells: Sequence[str], layout: _Layout, name: str) -> str:
    index = layout.index.get(name)
    if index is None or index >= len(cells):
        return ""
    return cells[index]


def _line(
    position: int,
    cells: Sequence[str],
    columns: Columns,
    layout: _Layout,
    currency: str,
    locale: str,
) -> StatementLine | None:
    if columns.currency:
        stated = _cell(cells, layout, columns.currency).upper()
        if stated and stated != currency:
            raise LineRefused(f"This line is in {stated}, not {currency}.")
    day = parse_day(_cell(cells, layout, columns.date), locale)
    if columns.amount:
        amount = parse_amount(_cell(cells, layout, columns.amount), currency, locale)
    else:
        paid_in = parse_amount(_cell(cells, layout, columns.paid_in), currency, locale)
        paid_out = (
            parse_amount(_cell(cells, layout, columns.paid_out), currency, locale)
            if columns.paid_out
            else None
        )
        if paid_in:
            amount = abs(paid_in)
        elif paid_out:
            amount = -abs(paid_out)
        else:
            amount = paid_in if paid_in is not None else paid_out
    if amount is None:
        raise LineRefused("This line has no amount.")
    if amount <= 0:
        return None
    text = " ".join(
        " ".join(part.split()) for n in columns.reference if (part := _cell(cells, layout, n))
    )
    return StatementLine(position, day, amount, text, references_in(text))


# Matching --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Proposal:
    line: StatementLine
    reference: str
    session: Session


@dataclass(frozen=True)
class SetApart:
    line: StatementLine
    why: str
    session: Session | None = None


@dataclass(frozen=True)
class Matches:
    proposed: tuple[Proposal, ...]
    apart: tuple[SetApart, ...]
    unmatched: tuple[SetApart, ...]  # `why` is "" or says the reference is unknown


@dataclass
class _Seen:
    sessions: dict[str, int] = field(default_factory=dict)  # session id -> line position


def match(
    lines: Iterable[StatementLine],
    invoices: Mapping[str, Session],
    confirmed: Mapping[str, str],
    currency: str,
    locale: str,
) -> Matches:
    """Lines whose reference names an invoice and whose amount is what it still owes are
    proposed; a reference with another amount, an invoice paid, canceled or voided, a
    line confirmed before or a second line for one invoice are set apart with why; the
    rest are not matched. `invoices`: session by reference (a moved session followed to
    where it went); `confirmed`: fingerprint -> when a line was confirmed before."""
    proposed: list[Proposal] = []
    apart: list[SetApart] = []
    unmatched: list[SetApart] = []
    seen = _Seen()
    for line in lines:
        known = [r for r in line.references if r in invoices]
        if not known:
            why = (
                f"{', '.join(line.references)}: not one of your invoices' references."
                if line.references
                else ""
            )
            unmatched.append(SetApart(line, why))
            continue
        reference = known[0]
        session = invoices[reference]
        owed = unpaid_amount(session)
        money = format_money(line.amount_minor, currency, locale)
        if line.fingerprint in confirmed:
            when = confirmed[line.fingerprint][:10]
            apart.append(SetApart(line, f"This line was confirmed before ({when}).", session))
        elif session.paid:
            apart.append(SetApart(line, "That session is already marked paid.", session))
        elif not session.is_live:
            apart.append(SetApart(line, f"That session was {session.status}.", session))
        elif session.price_minor is None:
            apart.append(SetApart(line, "That session has no price.", session))
        elif line.amount_minor != owed:
            apart.append(
                SetApart(
                    line,
                    f"{money} paid; the invoice is for "
                    f"{format_money(owed, currency, locale)}. Mark it by hand if that is right.",
                    session,
                )
            )
        elif session.id in seen.sessions:
            apart.append(
                SetApart(
                    line,
                    f"Line {seen.sessions[session.id]} of this statement already pays it.",
                    session,
                )
            )
        else:
            seen.sessions[session.id] = line.position
            proposed.append(Proposal(line, reference, session))
    return Matches(tuple(proposed), tuple(apart), tuple(unmatched))

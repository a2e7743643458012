"""Programs: templates of session packs, client bundles, and the rules of the wizard.

A program template ("12-session coaching", 12 sessions, £540, the studio, a video link,
documents) is an offer a trainer sells again and again. A bundle is that offer sold to
one client: its sessions are ordinary sessions in the trainer-week partitions, each
knowing its bundle and its place in it. The bundle keeps a small summary of each session
(ref, end, status) so its progress and state are known from the bundle item alone.

Pure rules only: reading what the wizard's forms typed, generating dates, splitting the
price, checking each planned date against the schedule, progress and state.

The wizard saves each step *as typed* before checking it, so an error, a reload or Back
never loses input: the offer, the quick schedule and the date cards are therefore
commands of strings (`OfferInput`, `QuickInput`, `DateCard`), and the rules here turn them
into typed values with the messages users see.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, model_validator

from chalicelib.domain.clients import format_price_input, parse_price
from chalicelib.domain.commands import Command
from chalicelib.domain.documents import KINDS as FILE_KINDS
from chalicelib.domain.documents import kind_for
from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.grid import WEEKDAYS, ClockError, format_clock, parse_clock
from chalicelib.domain.models import LocationName
from chalicelib.domain.money import DEFAULT_LOCALE, format_money
from chalicelib.domain.offers import live_offer
from chalicelib.domain.schedule import Document, Session, Slot, make_slot, parse_day
from chalicelib.domain.timeutil import NonexistentLocalTime, to_utc

MAX_SESSIONS: Final = 100
FILE_TYPES: Final = frozenset(kind.content_type for kind in FILE_KINDS)
MAX_DOCUMENTS: Final = 5
MAX_EVERY_WEEKS: Final = 8
MAX_TITLE: Final = 80
LENGTHS: Final = tuple(range(30, 241, 30))  # session lengths on the grid, in minutes
DEFAULT_LENGTH: Final = 60
MAX_CARDS: Final = 200  # date cards read from one form: twice the largest bundle
TYPED_LIMIT: Final = 500  # a draft keeps this much of each value: it is one small item

STATES: Final = {
    "creating": "Not created",
    "active": "Active",
    "paused": "Paused",
    "completed": "Completed",
}


class ProgramOffer(BaseModel):
    """What a bundle sells: the wizard's step 1, or a saved template."""

    model_config = ConfigDict(frozen=True)

    title: str
    sessions: int
    price_minor: int
    location_id: str
    length: int = DEFAULT_LENGTH
    video_link: str = ""
    documents: tuple[Document, ...] = ()


class ProgramTemplate(ProgramOffer):
    id: str
    version: int = 1
    created_at: datetime


# The offer as typed (template page and wizard step 1) -------------------------------------
def _kept(value: str) -> str:
    """What a draft keeps of a typed value (the check runs on what was typed)."""
    return value[:TYPED_LIMIT]


_DOCUMENT_FIELD = re.compile(r"documents\.(\d+)\.(name|url|key|content_type|size|remove)")
_URL_CHARS = re.compile(r"^[^\s<>\"']+$")


class DocumentInput(BaseModel):
    """One document row as typed; a blank row is no document. An uploaded file's row
    carries its key, type and size (hidden fields) and may be ticked to remove it."""

    model_config = ConfigDict(frozen=True, str_strip_whitespace=True)

    name: str = ""
    url: str = ""
    key: str = ""
    content_type: str = ""
    size: str = ""
    remove: str = ""


class OfferInput(Command):
    """The offer's fields as typed. Kept as text on purpose: the draft saves them before
    they are checked, and `parse_offer` gives each its own message. The form's document
    rows (`doc_name_<i>`, `doc_url_<i>`) arrive as `documents`."""

    title: str = ""
    sessions: str = ""
    price: str = ""
    location_id: str = ""
    length: str = ""
    video_link: str = ""
    documents: tuple[DocumentInput, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _document_rows(cls, data: Any) -> Any:
        if not isinstance(data, Mapping) or "documents" in data:
            return data
        rows = [
            {
                field: data.get(f"doc_{field}_{i}") or ""
                for field in ("name", "url", "key", "content_type", "size", "remove")
            }
            for i in range(MAX_DOCUMENTS)
        ]
        return {**data, "documents": rows}

    @classmethod
    def form_name(cls, field: str) -> str:
        found = _DOCUMENT_FIELD.fullmatch(field)
        if found:
            return f"doc_{found.group(2)}_{found.group(1)}"
        return super().form_name(field)

    def typed(self) -> dict[str, str]:
        """The fields by their form names, as a draft keeps them and a form shows them."""
        values = {
            "title": _kept(self.title),
            "sessions": _kept(self.sessions),
            "price": _kept(self.price),
            "location_id": _kept(self.location_id),
            "length": _kept(self.length),
            "video_link": _kept(self.video_link),
        }
        for i, row in enumerate(self.documents[:MAX_DOCUMENTS]):
            if row.key and row.remove:
                continue  # an uploaded file ticked to go: the draft keeps no trace of it
            values[f"doc_name_{i}"], values[f"doc_url_{i}"] = _kept(row.name), _kept(row.url)
            if row.key:
                values[f"doc_key_{i}"] = _kept(row.key)
                values[f"doc_content_type_{i}"] = _kept(row.content_type)
                values[f"doc_size_{i}"] = _kept(row.size)
        return values

    def offer_only(self) -> OfferInput:
        """Just the offer's fields, as a draft keeps them, whatever command carried them."""
        return OfferInput.model_validate(self.typed())


def _link_problem(url: str) -> str | None:
    """Only http(s) links with a host: a `javascript:` link must never reach a page."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:  # "http://[abc": an unclosed IPv6 host
        return "Enter a full link starting with https://"
    if parts.scheme not in ("http", "https") or not parts.netloc or not _URL_CHARS.match(url):
        return "Enter a full link starting with https://"
    if len(url) > 500:
        return "That link is too long (500 characters at most)."
    return None


def _count(raw: str, errors: dict[str, str]) -> int | None:
    text = (raw or "").strip()
    if not re.fullmatch(r"-?[0-9]{1,6}", text):
        errors["sessions"] = "Enter the number of sessions, like 12."
        return None
    count = int(text)
    if count < 1:
        errors["sessions"] = "A bundle has at least 1 session."
        return None
    if count > MAX_SESSIONS:
        errors["sessions"] = f"A bundle has at most {MAX_SESSIONS} sessions."
        return None
    return count


def parse_offer(
    typed: OfferInput,
    locations: Mapping[str, LocationName],
    currency: str,
    locale: str = DEFAULT_LOCALE,
    files_prefix: str | None = None,
) -> ProgramOffer:
    """Step 1 of the wizard or the template form; field errors all at once, by
    `OfferInput` field (a document's as `documents.<i>.name` / `.url`). `files_prefix`:
    the prefix of the trainer's checked files (`documents.files_prefix`), which an uploaded
    file's row must name (a row naming any other key is refused); without it, rows with
    files are refused."""
    errors: dict[str, str] = {}
    title = " ".join(typed.title.split())
    if not title:
        errors["title"] = "Give it a title, like “12-session coaching”."
    elif len(title) > MAX_TITLE:
        errors["title"] = f"Keep the title under {MAX_TITLE} characters."
    count = _count(typed.sessions, errors)
    price: int | None = None
    try:
        price = parse_price(typed.price, currency, locale)
        if price is None:
            errors["price"] = "Enter the total price of the bundle (0 if it is free)."
    except ValueError as exc:
        errors["price"] = str(exc)
    location = locations.get(typed.location_id)
    if location is None or location.archived:
        errors["location_id"] = "Pick one of your active locations."
    length = DEFAULT_LENGTH
    try:
        length = int(typed.length or DEFAULT_LENGTH)
        if length not in LENGTHS:
            raise ValueError
    except ValueError:
        errors["length"] = "Sessions last 30 min, 1 h, 90 min… up to 4 h (not 45 min)."
    if typed.video_link and (problem := _link_problem(typed.video_link)):
        errors["video_link"] = problem
    documents: list[Document] = []
    for i, row in enumerate(typed.documents[:MAX_DOCUMENTS]):
        if row.key:
            if row.remove:
                continue
            document = _file_row(row, i, files_prefix, errors)
            if document is not None:
                documents.append(document)
            continue
        if not row.name and not row.url:
            continue
        if not row.name:
            errors[f"documents.{i}.name"] = "Give this document a name."
        elif len(row.name) > MAX_TITLE:
            errors[f"documents.{i}.name"] = f"Keep the name under {MAX_TITLE} characters."
        if not row.url:
            errors[f"documents.{i}.url"] = "Add the document's link."
        elif problem := _link_problem(row.url):
            errors[f"documents.{i}.url"] = problem
        documents.append(Document(name=row.name, url=row.url))
    if errors:
        raise InvalidInput(errors)
    assert count is not None and price is not None
    return ProgramOffer(
        title=title,
        sessions=count,
        price_minor=price,
        location_id=typed.location_id,
        length=length,
        video_link=typed.video_link,
        documents=tuple(documents),
    )


def _named_as(key: str, content_type: str) -> bool:
    """A checked file's key ends with its kind's extension (the upload form took the
    name and the type only when they agreed): a row claiming another type was altered."""
    try:
        kind_for(key.rsplit("/", 1)[-1], content_type)
    except InvalidInput:
        return False
    return True


def _file_row(
    row: DocumentInput, index: int, files_prefix: str | None, errors: dict[str, str]
) -> Document | None:
    """An uploaded file's row: its name as typed, its key, type and size as the upload
    check recorded them (hidden fields, so checked again: the key under the trainer's
    prefix, a type we take)."""
    if not files_prefix or not row.key.startswith(files_prefix) or "/../" in row.key:
        errors[f"documents.{index}.name"] = "That file is not one of yours: upload it again."
        return None
    if (
        row.content_type not in FILE_TYPES
        or not row.size.isdigit()
        or not _named_as(row.key, row.content_type)
    ):
        errors[f"documents.{index}.name"] = "That file's details are damaged: upload it again."
        return None
    if not row.name:
        errors[f"documents.{index}.name"] = "Give this document a name."
    elif len(row.name) > MAX_TITLE:
        errors[f"documents.{index}.name"] = f"Keep the name under {MAX_TITLE} characters."
    return Document(name=row.name, key=row.key, content_type=row.content_type, size=int(row.size))


def parse_offer_form(
    values: Mapping[str, str],
    locations: Mapping[str, LocationName],
    currency: str,
    locale: str = DEFAULT_LOCALE,
) -> ProgramOffer:
    """`parse_offer` of fields held by their form names (tests/unit/test_money.py still
    calls it this way; errors are keyed as `parse_offer` keys them)."""
    return parse_offer(OfferInput.model_validate(values), locations, currency, locale)


def offer_form_values(
    offer: ProgramOffer, currency: str, locale: str = DEFAULT_LOCALE
) -> dict[str, str]:
    """A saved offer as the form fields that would produce it (to prefill a form)."""
    values = {
        "title": offer.title,
        "sessions": str(offer.sessions),
        "price": format_price_input(offer.price_minor, currency, locale),
        "location_id": offer.location_id,
        "length": str(offer.length),
        "video_link": offer.video_link,
    }
    for i, document in enumerate(offer.documents[:MAX_DOCUMENTS]):
        values[f"doc_name_{i}"] = document.name
        values[f"doc_url_{i}"] = document.url
        if document.key:
            values[f"doc_key_{i}"] = document.key
            values[f"doc_content_type_{i}"] = document.content_type
            values[f"doc_size_{i}"] = str(document.size)
    return values


def offer_input(offer: ProgramOffer, currency: str, locale: str = DEFAULT_LOCALE) -> OfferInput:
    """A saved offer as what one would type to get it (a template prefilling a draft)."""
    return OfferInput.model_validate(offer_form_values(offer, currency, locale))


# Price ---------------------------------------------------------------------------------
def split_price(total_minor: int, count: int) -> list[int]:
    """The total shared over `count` sessions in minor units, summing exactly to the
    total: the first `remainder` sessions carry one extra unit (£100 / 3 = 33.34, 33.33,
    33.33)."""
    if count < 1:
        raise ValueError("count must be at least 1")
    if total_minor < 0:
        raise ValueError("total must not be negative")
    base, remainder = divmod(total_minor, count)
    return [base + 1 if i < remainder else base for i in range(count)]


def price_summary(total_minor: int, count: int, currency: str, locale: str = DEFAULT_LOCALE) -> str:
    shares = split_price(total_minor, count)
    high, low = shares[0], shares[-1]
    if high == low:
        return f"{format_money(low, currency, locale)} a session"
    extra = shares.count(high)
    return (
        f"{format_money(high, currency, locale)} for the first {extra}, "
        f"{format_money(low, currency, locale)} for the other {count - extra}"
    )


# Dates -----------------------------------------------------------------------------------
def generate_days(first: date, count: int, every_weeks: int) -> list[date]:
    """`count` dates from `first`, every `every_weeks` weeks: calendar dates, so a
    session keeps its wall-clock time across a clock change."""
    return [first + timedelta(weeks=every_weeks * i) for i in range(count)]


class QuickInput(Command):
    """Step 2's quick scheduling as typed (saved before it is checked)."""

    first_day: str = ""
    first_time: str = ""
    every_weeks: str = ""

    def typed(self) -> dict[str, str]:
        return {
            "first_day": _kept(self.first_day),
            "first_time": _kept(self.first_time),
            "every_weeks": _kept(self.every_weeks),
        }


@dataclass(frozen=True)
class QuickSchedule:
    first: date
    start: int
    every_weeks: int


def parse_quick(quick: QuickInput) -> QuickSchedule:
    errors: dict[str, str] = {}
    first: date | None = None
    try:
        first = parse_day(quick.first_day)
    except InvalidInput:
        errors["first_day"] = "Enter the first date, like 2026-12-01."
    start: int | None = None
    try:
        start = parse_clock(quick.first_time)
        if start % 30:
            errors["first_time"] = "Use a time on the 30-minute grid (:00 or :30)."
    except ClockError as exc:
        errors["first_time"] = str(exc)
    every = quick.every_weeks
    if not re.fullmatch(r"[0-9]{1,2}", every) or not 1 <= int(every) <= MAX_EVERY_WEEKS:
        errors["every_weeks"] = f"Repeat every 1 to {MAX_EVERY_WEEKS} weeks."
    if errors:
        raise InvalidInput(errors)
    assert first is not None and start is not None
    return QuickSchedule(first, start, int(every))


class DateCard(BaseModel):
    """One date card of step 2 as typed."""

    model_config = ConfigDict(frozen=True, str_strip_whitespace=True)

    day: str = ""
    start: str = ""


def cards_for(quick: QuickSchedule, count: int) -> list[DateCard]:
    return [
        DateCard(day=day.isoformat(), start=format_clock(quick.start))
        for day in generate_days(quick.first, count, quick.every_weeks)
    ]


# Checking the planned dates ----------------------------------------------------------------
@dataclass(frozen=True)
class CardCheck:
    """One date card of step 2 as typed, and what it would become."""

    day_text: str
    start_text: str
    slot: Slot | None = None  # the slot the session would take (new, or an open one)
    existing: bool = False  # the slot is already on the schedule, open
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None and self.slot is not None

    @property
    def label(self) -> str:
        return self.slot.label if self.slot else f"{self.day_text} {self.start_text}".strip()


def _card_slot(
    day_text: str, start_text: str, length: int, location_id: str, zone_name: str, new_id: str
) -> Slot:
    if not day_text:
        raise InvalidInput({"day": "Pick a date."})
    if not start_text:
        raise InvalidInput({"start": "Pick a time."})
    day = parse_day(day_text)  # InvalidInput with its own message
    try:
        start = parse_clock(start_text)
    except ClockError as exc:
        raise InvalidInput({"start": str(exc)}) from None
    if start + length > 24 * 60:
        raise InvalidInput({"start": "The session would run past midnight: start earlier."})
    try:
        return make_slot(new_id, day, start, start + length, location_id, zone_name)
    except InvalidInput as exc:
        message = next(iter(exc.errors.values()))
        if "does not exist" in message:
            try:
                to_utc(day, start, zone_name)
                missing, what = start + length, "The session would end at "
            except NonexistentLocalTime:
                missing, what = start, ""
            message = (
                f"{what}{format_clock(missing)}{', which' if what else ''} does not exist on "
                f"{WEEKDAYS[day.weekday()]} {day.day} {day:%b} {day.year}: the clocks go "
                "forward. Pick another time."
            )
        raise InvalidInput({"start": message}) from None


def _clash_text(other: Slot, sessions: Mapping[str, Session]) -> str:
    booked = sessions.get(other.session_id or "")
    if booked is not None:
        return f"Clashes with {booked.client_name}'s session {other.label}."
    return f"Overlaps your open slot {other.label}."


def check_cards(
    cards: Sequence[DateCard],
    offer: ProgramOffer,
    zone_name: str,
    now: datetime,
    existing: Iterable[Slot],
    sessions: Iterable[Session],
    new_id: Callable[[], str],
) -> list[CardCheck]:
    """Each card checked: a real date and time, not in the past, not on a DST gap, not
    clashing with another card, and either free on the schedule or exactly an open slot
    at the bundle's location that nobody holds (which the session then takes)."""
    slots = list(existing)
    by_session = {s.id: s for s in sessions if s.is_live}
    checks: list[CardCheck] = []
    planned: list[Slot] = []
    for card in cards:
        day_text, start_text = card.day, card.start
        try:
            slot = _card_slot(
                day_text, start_text, offer.length, offer.location_id, zone_name, new_id()
            )
        except InvalidInput as exc:
            checks.append(CardCheck(day_text, start_text, problem=next(iter(exc.errors.values()))))
            continue
        if slot.start_utc <= now:
            checks.append(
                CardCheck(day_text, start_text, slot, problem="This date is in the past.")
            )
            continue
        twin = next((p for p in planned if p.overlaps(slot)), None)
        if twin is not None:
            checks.append(
                CardCheck(day_text, start_text, slot, problem=f"Overlaps {twin.label} above.")
            )
            continue
        clash = next((s for s in slots if s.overlaps(slot)), None)
        if clash is None:
            checks.append(CardCheck(day_text, start_text, slot))
            planned.append(slot)
            continue
        same_time = (clash.start_utc, clash.end_utc) == (slot.start_utc, slot.end_utc)
        held = live_offer(clash, now)
        if same_time and clash.is_open and not held and clash.location_id == offer.location_id:
            checks.append(CardCheck(day_text, start_text, clash, existing=True))
            planned.append(clash)
            continue
        if same_time and clash.is_open and held:
            problem = f"Your open slot {clash.label} is offered to {held.client_name}."
        elif same_time and clash.is_open:
            problem = f"Your open slot {clash.label} is at another location."
        else:
            problem = _clash_text(clash, by_session)
        checks.append(CardCheck(day_text, start_text, slot, problem=problem))
    return checks


def card_count_problem(count: int, planned: int) -> str | None:
    if count == 0:
        return "Add at least one date: generate them or add one."
    if count > planned:
        return f"This bundle has {planned} sessions: remove {count - planned} date(s)."
    return None


# Bundles ---------------------------------------------------------------------------------
class BundleEntry(BaseModel):
    """The bundle's summary of one of its sessions; kept in step by every session change."""

    model_config = ConfigDict(frozen=True)

    ref: str
    end_utc: datetime
    status: str = "booked"
    # A no-show or late cancel with a fee: the client paid (or owes) for it, so it uses
    # its place in the bundle as a session that took place does.
    charged: bool = False

    def attended(self, now: datetime) -> bool:
        return self.status == "booked" and self.end_utc <= now

    def used(self, now: datetime) -> bool:
        """It counts against the pack: it took place, or its no-show/late fee stands."""
        return self.attended(now) or self.charged

    @property
    def takes_place(self) -> bool:
        """It holds one of the bundle's places: booked, or used by a fee."""
        return self.status == "booked" or self.charged


class Bundle(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    client_id: str
    client_name: str
    title: str
    sessions_planned: int
    price_minor: int
    location_id: str
    length: int = DEFAULT_LENGTH
    video_link: str = ""
    documents: tuple[Document, ...] = ()
    template_id: str | None = None
    status: str = "active"  # creating, active, paused, completed (by hand)
    entries: tuple[BundleEntry, ...] = ()
    confirmations_round: int = 0  # how many times Send confirmations went out
    confirmations_sent_at: datetime | None = None
    # Paid as a whole (domain/packs.py): when, and how; its sessions are then marked
    # paid with the payment type "pack". None: paid session by session.
    pack_paid_at: datetime | None = None
    pack_payment_type: str | None = None
    # The client's recurring template slot this pack is tied to: Apply template books
    # that slot's weeks as the pack's sessions while places remain.
    tied_slot_id: str | None = None
    # The "2 sessions left" notice (once per bundle) and the renewal message (once).
    low_noticed_at: datetime | None = None
    renewal_sent_at: datetime | None = None
    # The places the pack job last counted as used (the trainer's running pack totals
    # hold the sum: domain/figures.PACKS_PERIOD).
    used_counted: int = 0
    # The pack's current invoice (docs/invoices.md), set in the invoice's own transaction
    # and removed by its credit note: the bundle page and the portal need no other read.
    invoice_number: int | None = None
    # How many of its sessions have an invoice of their own (kept by each session
    # invoice's issue and credit note): a pack is invoiced as a whole or by session,
    # never both, so the client is never billed twice for the same session.
    sessions_invoiced: int = 0
    created_at: datetime
    version: int = 1

    @property
    def pack_paid(self) -> bool:
        return self.pack_paid_at is not None

    def attended(self, now: datetime) -> int:
        """Progress: sessions that took place (past, neither canceled nor voided)."""
        return sum(1 for e in self.entries if e.attended(now))

    def state(self, now: datetime) -> str:
        """Completed by hand, or on its own once every planned session has taken place."""
        if self.status == "active" and self.used(now) >= self.sessions_planned:
            return "completed"
        return self.status

    def state_label(self, now: datetime) -> str:
        return STATES[self.state(now)]

    def is_past(self, now: datetime) -> bool:
        return self.state(now) == "completed"

    def finishes_at(self) -> datetime | None:
        """When an active bundle completes on its own: the end of its
        `sessions_planned`-th booked session, the instant `state()` turns "completed".
        None while fewer sessions than planned are booked, and for any other status
        (creating, paused, completed by hand)."""
        if self.status != "active":
            return None
        # A charged no-show counts from the moment it was marked, so it comes first.
        ends = sorted(e.end_utc for e in self.entries if e.takes_place)
        if len(ends) < self.sessions_planned:
            return None
        return ends[self.sessions_planned - 1]

    def live_count(self) -> int:
        return sum(1 for e in self.entries if e.status == "booked")

    def used(self, now: datetime) -> int:
        """Sessions that count against the bundle: taken place, or charged as missed."""
        return sum(1 for e in self.entries if e.used(now))

    def left(self, now: datetime) -> int:
        """Sessions the client still has: "7 of 12 left"."""
        return max(self.sessions_planned - self.used(now), 0)

    def left_label(self, now: datetime) -> str:
        return f"{self.left(now)} of {self.sessions_planned} left"

    def places_taken(self) -> int:
        """Places booked or used by a fee: a canceled (free) session gives its place back."""
        return sum(1 for e in self.entries if e.takes_place)

    def places_free(self) -> int:
        return max(self.sessions_planned - self.places_taken(), 0)

    def share(self, index: int) -> int:
        """The price of the session at `index`; a session added later takes the smallest
        share."""
        shares = split_price(self.price_minor, self.sessions_planned)
        return shares[index] if index < len(shares) else shares[-1]

    def next_start_ref(self, now: datetime) -> str | None:
        upcoming = [e for e in self.entries if e.status == "booked" and e.end_utc > now]
        return min(upcoming, key=lambda e: e.end_utc).ref if upcoming else None


BundleAction = Literal["pause", "resume", "complete", "reopen"]


def transition(bundle: Bundle, action: str, now: datetime) -> str:
    """The stored status after a trainer's Pause / Resume / Complete / Reopen."""
    state = bundle.state(now)
    allowed = {
        "pause": ("active", "paused"),
        "resume": ("paused", "active"),
        "complete": (None, "completed"),
        "reopen": ("completed", "active"),
    }
    if action not in allowed:
        raise InvalidInput({"_form": "Unknown action."})
    needed, target = allowed[action]
    if action == "complete":
        if state == "completed":
            raise InvalidInput({"_form": "This bundle is already completed."})
        return target
    if state != needed:
        raise InvalidInput({"_form": f"This bundle is {STATES[state].lower()}."})
    if action == "reopen" and bundle.used(now) >= bundle.sessions_planned:
        raise InvalidInput({"_form": "Every session has taken place: it stays completed."})
    return target


def scheduling_problem(bundle: Bundle, now: datetime) -> str | None:
    """Why no session can be added to the bundle now, or None."""
    state = bundle.state(now)
    if state == "paused":
        return "This bundle is paused: resume it to schedule sessions."
    if state != "active":
        return f"This bundle is {STATES[state].lower()}: reopen it to schedule sessions."
    if bundle.places_taken() >= bundle.sessions_planned:
        return f"All {bundle.sessions_planned} sessions are scheduled."
    return None


def confirmable(sessions: Iterable[Session], now: datetime) -> list[Session]:
    """What Send confirmations covers: the bundle's live sessions still to come."""
    return sorted(
        (s for s in sessions if s.is_live and s.start_utc > now), key=lambda s: s.start_utc
    )


def _same_document(a: Document, b: Document) -> bool:
    return (a.key, a.url) == (b.key, b.url)


def sessions_gaining(
    sessions: Iterable[Session], document: Document, now: datetime
) -> list[tuple[Session, Session]]:
    """A document added to a bundle reaches its upcoming booked sessions (not those that
    took place, nor one that has it already or holds its 5)."""
    return [
        (s, s.model_copy(update={"documents": (*s.documents, document)}))
        for s in sessions
        if s.is_live
        and s.start_utc > now
        and len(s.documents) < MAX_DOCUMENTS
        and not any(_same_document(d, document) for d in s.documents)
    ]


def sessions_losing(
    sessions: Iterable[Session], document: Document, now: datetime
) -> list[tuple[Session, Session]]:
    """A document removed from a bundle leaves its upcoming booked sessions; those that
    took place keep what they were given."""
    return [
        (
            s,
            s.model_copy(
                update={
                    "documents": tuple(d for d in s.documents if not _same_document(d, document))
                }
            ),
        )
        for s in sessions
        if s.is_live and s.start_utc > now and any(_same_document(d, document) for d in s.documents)
    ]


def documents_line(documents: Iterable[Document]) -> str:
    """The documents as a message lists them: a link as it is; an uploaded file by name
    only, opened from the session page (its file links are made there, for minutes)."""
    return "\n".join(
        f"- {d.name}: {d.url}" if d.url else f"- {d.name} (open it from your session page)"
        for d in documents
    )


class Draft(BaseModel):
    """The New bundle wizard's state, kept on the server between steps: what was typed,
    as typed, so a reload or going back loses nothing."""

    model_config = ConfigDict(frozen=True)

    id: str
    client_id: str
    template_id: str | None = None
    template_title: str = ""
    offer: OfferInput = OfferInput()
    quick: QuickInput = QuickInput()
    cards: tuple[DateCard, ...] = ()
    version: int = 1
    created_at: datetime

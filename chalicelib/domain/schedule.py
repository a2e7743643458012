"""The schedule: dated slots in trainer-weeks, and what Apply template would add.

A slot is a local wall-clock range on a date at a location, plus its UTC instants. No two
slots of a trainer may overlap in real time; the repository enforces that with one guard
item per 30 real minutes of each slot (`guard_instants`), so even two requests at once
cannot both take the same half hour.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, field_validator

from chalicelib.domain.commands import Command
from chalicelib.domain.errors import InvalidInput, NotFound
from chalicelib.domain.grid import (
    GRID_MINUTES,
    WEEKDAYS,
    format_clock,
    parse_time_range,
    range_errors,
)
from chalicelib.domain.models import LocationName
from chalicelib.domain.template import WeeklyTemplate
from chalicelib.domain.timeutil import NonexistentLocalTime, to_utc, week_key, week_monday

_WEEK = re.compile(r"^([0-9]{4})-W([0-9]{2})$")
_DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
MAX_WEEKS_AT_ONCE = 12
MAX_WEEKS_AHEAD = 104  # Apply template further out than two years is a typo, not a plan
WEEKS_AT_ONCE = f"Apply to 1 to {MAX_WEEKS_AT_ONCE} weeks at a time."
# Dates a schedule can hold. Far outside this, time-zone arithmetic overflows (year 1,
# 9999) and nothing a trainer means is there: refuse such dates where they are typed.
FIRST_YEAR, LAST_YEAR = 2000, 2100


class Offer(BaseModel):
    """A last-minute offer locking an open slot for one client until `expires_at`."""

    model_config = ConfigDict(frozen=True)

    id: str
    client_id: str
    client_name: str
    expires_at: datetime

    def live(self, now: datetime) -> bool:
        return now < self.expires_at


class Slot(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    day: date  # trainer-local date
    start: int  # local minutes
    end: int
    start_utc: datetime
    end_utc: datetime
    location_id: str
    template_slot_id: str | None = None
    session_id: str | None = None  # set once booked (Sessions)
    offer: Offer | None = None  # the last offer made; live only until it expires
    version: int = 1

    @property
    def week(self) -> str:
        return week_key(self.day)

    @property
    def is_open(self) -> bool:
        return self.session_id is None

    @property
    def label(self) -> str:
        return (
            f"{WEEKDAYS[self.day.weekday()]} {self.day.day} {self.day:%b} "
            f"{format_clock(self.start)}–{format_clock(self.end)}"
        )

    def overlaps(self, other: Slot) -> bool:
        return self.start_utc < other.end_utc and other.start_utc < self.end_utc


def parse_week(text: str) -> str:
    """A week key like 2026-W48; 2026-W60 or a W53 in a 52-week year is refused."""
    match = _WEEK.match((text or "").strip())
    try:
        if not match:
            raise ValueError
        date.fromisocalendar(int(match.group(1)), int(match.group(2)), 1)
    except ValueError:
        raise InvalidInput({"week": f"“{text}” is not a week. Use the form 2026-W48."}) from None
    if not FIRST_YEAR <= int(match.group(1)) <= LAST_YEAR:
        raise InvalidInput({"week": f"Pick a week between {FIRST_YEAR} and {LAST_YEAR}."})
    return f"{match.group(1)}-W{match.group(2)}"


def in_calendar_range(day: date) -> bool:
    return FIRST_YEAR <= day.year <= LAST_YEAR


def parse_day(text: str) -> date:
    try:
        if not _DAY.match((text or "").strip()):
            raise ValueError
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput({"day": f"“{text}” is not a date. Use the form 2026-11-26."}) from None
    if not in_calendar_range(day):
        raise InvalidInput({"day": f"Pick a date between {FIRST_YEAR} and {LAST_YEAR}."})
    return day


def week_days(week: str) -> list[date]:
    monday = week_monday(week)
    return [monday + timedelta(days=i) for i in range(7)]


def shift_week(week: str, weeks: int) -> str:
    return week_key(week_monday(week) + timedelta(weeks=weeks))


def make_slot(
    slot_id: str,
    day: date,
    start: int,
    end: int,
    location_id: str,
    zone_name: str,
    *,
    template_slot_id: str | None = None,
) -> Slot:
    errors = range_errors(start, end)
    if errors:
        raise InvalidInput(errors)
    try:
        start_utc, end_utc = to_utc(day, start, zone_name), to_utc(day, end, zone_name)
    except NonexistentLocalTime as exc:
        raise InvalidInput({"start": str(exc)}) from exc
    return Slot(
        id=slot_id,
        day=day,
        start=start,
        end=end,
        start_utc=start_utc,
        end_utc=end_utc,
        location_id=location_id,
        template_slot_id=template_slot_id,
    )


class AddSlot(Command):
    """The `+ Add` form of the schedule, as typed. Each field stays text: its rule below
    says what is wrong with it in the user's own words ("“2026-02-30” is not a date")."""

    day: str = ""
    start: str = ""
    end: str = ""
    location_id: str = ""


def parse_one_off(
    slot: AddSlot, locations: Mapping[str, LocationName]
) -> tuple[date, int, int, str]:
    """A one-off slot's date, times on the grid and active location; every bad field is
    reported at once."""
    errors: dict[str, str] = {}
    day: date | None = None
    try:
        day = parse_day(slot.day)
    except InvalidInput as exc:
        errors.update(exc.errors)
    start, end = parse_time_range(slot.start, slot.end, errors)
    location = locations.get(slot.location_id)
    if location is None or location.archived:
        errors["location_id"] = "Pick one of your active locations."
    if errors:
        raise InvalidInput(errors)
    assert day is not None and start is not None and end is not None
    return day, start, end, slot.location_id


class ApplyTemplate(Command):
    """Apply template: from the week shown (`week`, checked by `weeks_to_apply`), for
    `weeks` weeks."""

    messages: ClassVar[dict[str, str]] = {"weeks": WEEKS_AT_ONCE}

    week: str = ""
    weeks: int = 1

    @field_validator("weeks", mode="before")
    @classmethod
    def _whole_number(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        text = str(value if value is not None else "").strip()
        if not text:
            return 1  # no choice sent: one week
        # Digits only: "+2", "²" or "2.0" is not what the select sends.
        if text.isascii() and text.isdigit():
            return int(text)
        raise ValueError("not a number of weeks")


def weeks_to_apply(first_week: str, weeks: int, current_week: str) -> list[str]:
    """The week keys Apply template writes, all checked before anything is written: not
    over, at most MAX_WEEKS_AHEAD ahead, inside the calendar range."""
    first = parse_week(first_week)
    if not 1 <= weeks <= MAX_WEEKS_AT_ONCE:
        raise InvalidInput({"weeks": WEEKS_AT_ONCE})
    last_monday = week_monday(first) + timedelta(weeks=weeks - 1)
    if not in_calendar_range(last_monday):
        raise InvalidInput({"week": "Those weeks are too far ahead: pick a nearer week."})
    if week_key(last_monday) < current_week:
        raise InvalidInput({"week": "Those weeks are over: pick this week or a later one."})
    if first > shift_week(current_week, MAX_WEEKS_AHEAD):
        raise InvalidInput(
            {"week": f"Apply template reaches at most {MAX_WEEKS_AHEAD} weeks ahead."}
        )
    return [shift_week(first, offset) for offset in range(weeks)]


def guard_instants(slot: Slot) -> list[datetime]:
    """Each 30 real minutes the slot occupies, as UTC instants.

    Real minutes, not wall-clock ones: a 00:30–02:30 slot on the spring-forward day holds
    two guards (it lasts one hour), and on the fall-back day six.
    """
    step = timedelta(minutes=GRID_MINUTES)
    instants, at = [], slot.start_utc
    while at < slot.end_utc:
        instants.append(at)
        at += step
    return instants


@dataclass(frozen=True)
class Skip:
    label: str
    reason: str


@dataclass
class WeekPlan:
    week: str
    add: list[Slot] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)


def plan_template_week(
    template: WeeklyTemplate,
    locations: dict[str, LocationName],
    week: str,
    zone_name: str,
    now: datetime,
    existing: list[Slot],
    new_id: Callable[[], str],
    booked_names: Mapping[str, str] | None = None,
) -> WeekPlan:
    """What Apply template would add to a week: future, missing template slots that clash
    with nothing already there. Existing slots and bookings are never touched, so a week
    with a bundle session or a hand-made booking still gets the rest of its template.
    `booked_names` (slot id -> client name) lets a skip name the session in the way."""
    plan = WeekPlan(week)
    names = booked_names or {}
    monday = week_monday(week)
    for template_slot in template.slots:
        day = monday + timedelta(days=template_slot.weekday)
        label = (
            f"{WEEKDAYS[template_slot.weekday]} {day.day} {day:%b} "
            f"{format_clock(template_slot.start)}–{format_clock(template_slot.end)}"
        )
        location = locations.get(template_slot.location_id)
        if location is None or location.archived:
            plan.skipped.append(Skip(label, "its location is archived or deleted"))
            continue
        try:
            slot = make_slot(
                new_id(),
                day,
                template_slot.start,
                template_slot.end,
                template_slot.location_id,
                zone_name,
                template_slot_id=template_slot.id,
            )
        except InvalidInput:
            plan.skipped.append(Skip(label, "that time does not exist (clocks go forward)"))
            continue
        if slot.start_utc <= now:
            plan.skipped.append(Skip(label, "it is in the past"))
            continue
        clash = next((other for other in existing if other.overlaps(slot)), None)
        if clash is not None:
            plan.skipped.append(Skip(label, _clash_reason(clash, slot, names)))
            continue
        plan.add.append(slot)
    return plan


def _clash_reason(clash: Slot, slot: Slot, names: Mapping[str, str]) -> str:
    same = (clash.start_utc, clash.end_utc) == (slot.start_utc, slot.end_utc)
    if clash.is_open:
        return "it is already there" if same else "it overlaps a slot already there"
    who = names.get(clash.id)
    booking = f"{who}'s session" if who else "a booked session"
    return f"{booking} is there ({format_clock(clash.start)}–{format_clock(clash.end)})"


def recurring_booking_skip(
    client_name: str,
    client_location_ids: tuple[str, ...],
    slot: Slot,
    handled_template_slots: set[str],
) -> str | None:
    """Why Apply template adds `slot` open instead of booking its recurring client, or None.

    `handled_template_slots` are the template slots this client already has a session
    for in the week (booked, moved away or canceled): booking them again would give the
    client a second session that week, or undo their cancel."""
    if slot.location_id not in client_location_ids:
        return f"left open: {client_name} is not enabled at its location"
    if slot.template_slot_id in handled_template_slots:
        return f"left open: {client_name} already has this week's session for it"
    return None


def handled_recurring(sessions: list[Session], slots: list[Slot]) -> dict[str, set[str]]:
    """client id -> the template slots they already have a session for in this week, from
    the week's sessions (any status). Older sessions carry no template slot id: their
    slot, when it is still there, says where they came from."""
    origin = {slot.id: slot.template_slot_id for slot in slots}
    handled: dict[str, set[str]] = {}
    for session in sessions:
        template_slot_id = session.template_slot_id or origin.get(session.slot_id)
        if template_slot_id:
            handled.setdefault(session.client_id, set()).add(template_slot_id)
    return handled


class Document(BaseModel):
    """A document handed to the client with a session: a name and a link, or a name and
    an uploaded file (`key` in the documents bucket: pages link it through a short-lived
    presigned GET, services/documents.view_url)."""

    model_config = ConfigDict(frozen=True)

    name: str
    url: str = ""
    key: str = ""
    content_type: str = ""
    size: int = 0

    @property
    def is_file(self) -> bool:
        return bool(self.key)


_SESSION_REF = re.compile(r"^([0-9]{4}-W[0-9]{2})\.([0-9]{8}T[0-9]{6}Z)\.([A-Za-z0-9_-]{8,16})$")


class Session(BaseModel):
    """A booking of a client into a slot. Kept after cancel or void (later issues)."""

    model_config = ConfigDict(frozen=True)

    id: str
    slot_id: str
    client_id: str
    client_name: str  # as it was when booked: the week view shows it without another read
    day: date
    start: int
    end: int
    start_utc: datetime
    end_utc: datetime
    location_id: str
    # The template slot the session's slot came from: Apply template uses it to know a
    # recurring client's week is already handled (booked, moved or canceled).
    template_slot_id: str | None = None
    # "recurring" (Apply template), "manual" (allocated by the trainer) or "program"
    # (generated for a client's bundle)
    kind: str
    # booked; canceled (slot freed); voided (past, did not happen); moved (to `moved_to`)
    status: str = "booked"
    paid: bool = False
    payment_type: str | None = None
    price_minor: int | None = None  # the client's price when booked, in minor units
    invoice_sent_at: datetime | None = None  # when the last invoice was queued
    payment_reference: str | None = None  # the invoice's PT-… reference (bank matching)
    changing: bool = False  # the trainer is picking another slot for it
    # No-show and late-cancel policy (domain/policy.py): the fee a "no_show" session, or a
    # canceled one marked `late_cancel`, owes; None when nothing is charged.
    charge_minor: int | None = None
    late_cancel: bool = False
    moved_from: str | None = None  # ref of the session this one replaced
    moved_to: str | None = None  # ref of the session that replaced this one
    # A bundle's session knows its bundle and its place in it, so a change to the session
    # can update the bundle's summary in the same transaction.
    bundle_id: str | None = None
    bundle_index: int | None = None
    bundle_title: str = ""
    video_link: str = ""
    documents: tuple[Document, ...] = ()
    created_at: datetime
    version: int = 1

    def is_past(self, now: datetime) -> bool:
        return self.end_utc <= now

    @property
    def is_live(self) -> bool:
        return self.status == "booked"

    @property
    def refunded(self) -> bool:
        """Its card payment was refunded in Stripe: unpaid, so owed again."""
        return not self.paid and self.payment_type == REFUNDED_BY_CARD

    @property
    def week(self) -> str:
        return week_key(self.day)

    @property
    def ref(self) -> str:
        """The id used in URLs: week and start locate the item, so a page is one GetItem."""
        return f"{self.week}.{self.start_utc:%Y%m%dT%H%M%SZ}.{self.id}"

    @property
    def label(self) -> str:
        return (
            f"{WEEKDAYS[self.day.weekday()]} {self.day.day} {self.day:%b} "
            f"{format_clock(self.start)}–{format_clock(self.end)}"
        )

    @property
    def paid_label(self) -> str:
        if not self.paid:
            return "Unpaid"
        return "Paid (pack)" if self.payment_type == PACK_PAYMENT else "Paid"

    @property
    def charged(self) -> bool:
        """A no-show or a late cancel with a fee: it takes a payment though not live."""
        return bool(self.charge_minor) and (
            self.status == "no_show" or (self.status == "canceled" and self.late_cancel)
        )

    @property
    def status_label(self) -> str:
        if self.status == "no_show":
            return "No-show"
        if self.status == "canceled" and self.late_cancel:
            return "Late cancel"
        if self.status in ("canceled", "voided", "moved"):
            return self.status.title()
        if self.changing:
            return "Changing"
        return {"recurring": "Recurring", "program": "Program"}.get(self.kind, "Manual")

    @property
    def badge(self) -> str:
        """The CSS badge variant for the status."""
        if not self.is_live:
            return self.status
        return "changing" if self.changing else self.kind


@dataclass(frozen=True)
class SessionRef:
    week: str
    start_utc: datetime
    id: str


def parse_session_ref(text: str) -> SessionRef | None:
    match = _SESSION_REF.match(text or "")
    if not match:
        return None
    try:
        start = datetime.strptime(match.group(2), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        parse_week(match.group(1))
    except (ValueError, InvalidInput):
        return None
    return SessionRef(match.group(1), start, match.group(3))


def session_ref_or_404(text: str) -> SessionRef:
    """A ref from a URL or a form: one that cannot be a session's is NotFound."""
    ref = parse_session_ref(text)
    if ref is None:
        raise NotFound(text)
    return ref


def book(
    slot: Slot,
    session_id: str,
    client_id: str,
    client_name: str,
    kind: str,
    now: datetime,
    price_minor: int | None = None,
) -> tuple[Slot, Session]:
    """The slot taken by a new session (the repository makes it atomic)."""
    session = Session(
        id=session_id,
        slot_id=slot.id,
        client_id=client_id,
        client_name=client_name,
        day=slot.day,
        start=slot.start,
        end=slot.end,
        start_utc=slot.start_utc,
        end_utc=slot.end_utc,
        location_id=slot.location_id,
        template_slot_id=slot.template_slot_id,
        kind=kind,
        price_minor=price_minor,
        created_at=now,
    )
    return slot.model_copy(update={"session_id": session_id}), session


def unpaid_amount(session: Session | None) -> int:
    """What this session adds to its client's unpaid total: its price while it is booked
    (not canceled, moved or voided), unpaid and priced; the fee of an unpaid no-show or
    late cancel; else nothing. Every write of a session changes the client's kept
    balance by after − before of this."""
    if session is None or session.paid:
        return 0
    if session.charged:  # a no-show's or a late cancel's fee
        return session.charge_minor or 0
    if not session.is_live or session.price_minor is None:
        return 0
    return session.price_minor


@dataclass(frozen=True)
class ClientBalance:
    """Kept current with every session write (see repo/parts.balance_change): the unpaid
    total of every booked, priced session, past and upcoming. `counted` is False until the
    total was first counted from the client's history (clients from before it was kept)."""

    unpaid_minor: int = 0
    unpaid_count: int = 0
    counted: bool = False


@dataclass(frozen=True)
class Owed:
    total_minor: int
    count: int
    listed: list[Session]  # the owed sessions among those read (the latest past ones)

    @property
    def more(self) -> int:
        return self.count - len(self.listed)


def owed_now(
    balance: ClientBalance, upcoming: list[Session], recent_past: list[Session], now: datetime
) -> Owed:
    """What a client owes now: the kept unpaid total less what is still to come (upcoming
    sessions are not owed yet). Reads only the future and a page of the past, never the
    whole history."""
    # A late cancel's fee is owed at once, though its session was still to come.
    ahead = [s for s in upcoming if not s.is_past(now) and not s.charged and unpaid_amount(s)]
    total = balance.unpaid_minor - sum(unpaid_amount(s) for s in ahead)
    count = balance.unpaid_count - len(ahead)
    charged_ahead = [s for s in upcoming if s.charged and unpaid_amount(s)]
    listed = sorted(
        (
            *(s for s in recent_past if s.is_past(now) and unpaid_amount(s)),
            *(s for s in charged_ahead if s not in recent_past),
        ),
        key=lambda s: s.start_utc,
    )
    return Owed(total, count, listed)


def outstanding(sessions: list[Session], now: datetime) -> tuple[int, list[Session]]:
    """What a client owes: past, booked (not canceled or voided), unpaid sessions with a
    price, and every unpaid no-show or late-cancel fee. Returns the total in minor units
    (a fee counts its `charge_minor`, never the price) and those sessions, oldest first."""
    owed = sorted(
        (
            s
            for s in sessions
            if not s.paid
            and (
                (s.is_live and s.is_past(now) and s.price_minor is not None)
                # A late cancel's fee is owed at once, though its session was still to come.
                or s.charged
            )
        ),
        key=lambda s: s.start_utc,
    )
    return sum(unpaid_amount(s) for s in owed), owed


PAYMENT_TYPES = {
    "cash": "Cash",
    "bank_transfer": "Bank transfer",
    "card": "Card",
    "other": "Other",
}
# Not a way of paying either: a session covered by its pack's payment (domain/packs.py);
# the pack itself records how it was paid. Reports count it as its own kind of revenue.
PACK_PAYMENT = "pack"
# Not a way of paying (not in the form's list): a card payment Stripe reported refunded
# (services/card_payments.py) leaves the session unpaid with this mark, so the session
# page can say why it is owed again; any later payment the trainer marks replaces it.
REFUNDED_BY_CARD = "card_refunded"


class LogEntry(BaseModel):
    """One line of a session's change log: who did what, when. Never edited or deleted."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    actor: str  # "trainer", "client" (portal), "system" (a scheduled job, Apply template)
    text: str

    @property
    def is_message(self) -> bool:
        return False


def payment_change(
    session: Session, paid: bool, payment_type: str, now: datetime
) -> tuple[Session, str]:
    """The session with its payment set, and the log line; refused if it is not live
    (a no-show's or a late cancel's fee is paid like a session)."""
    if not session.is_live and not session.charged:
        raise InvalidInput({"paid": f"A {session.status} session takes no payment."})
    if session.payment_type == PACK_PAYMENT:
        raise InvalidInput(
            {
                "paid": f"Paid with its pack “{session.bundle_title}”: change the pack's "
                "payment on the bundle's page."
            }
        )
    if paid and payment_type not in PAYMENT_TYPES:
        raise InvalidInput({"payment_type": "Choose how it was paid."})
    updated = session.model_copy(
        update={"paid": paid, "payment_type": payment_type if paid else None}
    )
    text = f"Marked paid ({PAYMENT_TYPES[payment_type].lower()})" if paid else "Marked unpaid"
    return updated, text


def cancellation(session: Session, now: datetime) -> Session:
    if not session.is_live:
        raise InvalidInput({"_form": f"This session is already {session.status}."})
    if session.start_utc <= now:
        raise InvalidInput(
            {"_form": "This session has started: void it instead if it did not happen."}
        )
    return session.model_copy(update={"status": "canceled"})


def voiding(session: Session, now: datetime) -> Session:
    if not session.is_live:
        raise InvalidInput({"_form": f"This session is already {session.status}."})
    if not session.is_past(now):
        raise InvalidInput({"_form": "Only past sessions can be voided: cancel an upcoming one."})
    return session.model_copy(update={"status": "voided"})


def change_start(session: Session, now: datetime) -> Session:
    """The session marked Changing while the trainer picks another slot."""
    if not session.is_live:
        raise InvalidInput({"_form": f"This session is {session.status}: it cannot be moved."})
    if session.start_utc <= now:
        raise InvalidInput({"_form": "This session has started: it cannot be moved."})
    return session.model_copy(update={"changing": True})


def change_stop(session: Session) -> Session:
    if not session.changing:
        raise InvalidInput({"_form": "This session is not being changed."})
    return session.model_copy(update={"changing": False})


def trainer_move(
    session: Session, target: Slot, new_session_id: str, now: datetime
) -> tuple[Session, Session]:
    """The trainer's move from the schedule: only a session put in Changing can be moved.

    Changing is what tells the week view (and a second tab) that a move is under way; a
    move posted without it — a stale tab after "Keep it where it is", or a hand-made
    POST — would skip that step, so it is refused. The write is conditional on the
    session's version, and leaving Changing bumps it, so the check cannot go stale."""
    if session.is_live and not session.changing:
        raise InvalidInput(
            {
                "_form": "This session is not being changed: press Change on schedule on its "
                "page first. Nothing was moved."
            }
        )
    return move(session, target, new_session_id, now)


def move(
    session: Session, target: Slot, new_session_id: str, now: datetime
) -> tuple[Session, Session]:
    """Moving a session to another slot: the old record stays (status moved, pointing at
    the new one) and a new session takes the slot with the same payment and price. It is
    Manual (it no longer sits in the client's recurring slot) unless it belongs to a
    bundle: then it stays a Program session, with the bundle's link and documents."""
    if not session.is_live:
        raise InvalidInput({"_form": f"This session is {session.status}: it cannot be moved."})
    if session.start_utc <= now:
        raise InvalidInput({"_form": "This session has started: it cannot be moved."})
    if target.id == session.slot_id:
        raise InvalidInput({"_form": "That is the slot the session is already in."})
    if not target.is_open:
        raise InvalidInput({"_form": "That slot was just taken. Pick another open slot."})
    if target.start_utc <= now:
        raise InvalidInput({"_form": "That slot is in the past. Pick a later one."})
    _, replacement = book(
        target,
        new_session_id,
        session.client_id,
        session.client_name,
        "program" if session.bundle_id else "manual",
        now,
        session.price_minor,
    )
    replacement = replacement.model_copy(
        update={
            "bundle_id": session.bundle_id,
            "bundle_index": session.bundle_index,
            "bundle_title": session.bundle_title,
            "video_link": session.video_link,
            "documents": session.documents,
            "paid": session.paid,
            "payment_type": session.payment_type,
            "invoice_sent_at": session.invoice_sent_at,
            "moved_from": session.ref,
        }
    )
    moved = session.model_copy(
        update={"status": "moved", "changing": False, "moved_to": replacement.ref}
    )
    return moved, replacement

"""Time off: days, parts of days or date ranges (a holiday) when the trainer works not.

A period is typed as trainer-local dates with optional times (a whole day runs from local
midnight to the next local midnight) and kept also as its UTC instants, so "is this slot
in time off" is one comparison of instants whatever the clocks did in between (a day
when they go forward lasts 23 hours, and the period with it). Apply template adds no slot
in time off, and the Time off page lists the sessions already there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime

from pydantic import Field

from chalicelib.domain.commands import Versioned
from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.grid import MINUTES_PER_DAY, ClockError, parse_clock
from chalicelib.domain.schedule import Skip, WeekPlan, parse_day

# The values live in their own module (the profile mirrors them); named here too, where
# every caller has always found them.
from chalicelib.domain.time_off_periods import TimeOff as TimeOff
from chalicelib.domain.time_off_periods import TimeOffPeriod as TimeOffPeriod
from chalicelib.domain.time_off_periods import overlaps
from chalicelib.domain.timeutil import NonexistentLocalTime, local_today, to_utc

MAX_DAYS = 366  # a longer "holiday" is a typo in a year, not a plan
NOTE_LENGTH = 60
MAX_PERIODS = 100  # one item holds them all: far more than a trainer keeps upcoming


# Commands --------------------------------------------------------------------------------
class AddTimeOff(Versioned):
    """The Time off form as typed; each field stays text so its rule below can say what
    is wrong in the trainer's words. `version` is the time-off list the page showed."""

    first_day: str = Field(default="", alias="from_day")
    last_day: str = Field(default="", alias="to_day")  # blank: the same day
    start: str = Field(default="", alias="from_time")  # blank: from midnight
    end: str = Field(default="", alias="to_time")  # blank: to the end of the day
    note: str = ""


class RemoveTimeOff(Versioned):
    period_id: str = Field(default="", alias="period")


def _day(text: str, field: str, errors: dict[str, str]) -> date | None:
    try:
        return parse_day(text)
    except InvalidInput as exc:
        errors[field] = exc.errors["day"]
        return None


def _clock(text: str, field: str, errors: dict[str, str], *, end: bool) -> int | None:
    if not text:
        return None
    try:
        return parse_clock(text, allow_end_of_day=end)
    except ClockError as exc:
        errors[field] = str(exc)
        return None


def _instant(
    day: date, minutes: int, zone_name: str, field: str, errors: dict[str, str]
) -> datetime | None:
    try:
        return to_utc(day, minutes, zone_name)
    except NonexistentLocalTime as exc:
        errors[field] = str(exc)
        return None


def make_period(
    command: AddTimeOff,
    zone_name: str,
    now: datetime,
    existing: Iterable[TimeOffPeriod],
    new_id: Callable[[], str],
) -> TimeOffPeriod:
    """The period a form asks for, or every problem with it at once (by command field)."""
    errors: dict[str, str] = {}
    if not command.first_day:
        errors["first_day"] = "Enter the first day of your time off."
    first = _day(command.first_day, "first_day", errors) if command.first_day else None
    last = _day(command.last_day, "last_day", errors) if command.last_day else first
    start = _clock(command.start, "start", errors, end=False)
    end = _clock(command.end, "end", errors, end=True)
    note = " ".join(command.note.split())  # one line: it is shown on the grid
    if len(note) > NOTE_LENGTH:
        errors["note"] = f"Keep the note to {NOTE_LENGTH} characters."
    if errors or first is None or last is None:
        raise InvalidInput(errors)
    if last < first:
        raise InvalidInput({"last_day": "The time off ends before it starts: check the dates."})
    if first < local_today(now, zone_name):
        raise InvalidInput(
            {"first_day": "That day is in the past: time off starts today or later."}
        )
    if (last - first).days + 1 > MAX_DAYS:
        raise InvalidInput({"last_day": f"Time off can last at most {MAX_DAYS} days at once."})
    start_utc = _instant(first, start or 0, zone_name, "start", errors)
    end_utc = _instant(last, MINUTES_PER_DAY if end is None else end, zone_name, "end", errors)
    if errors or start_utc is None or end_utc is None:
        raise InvalidInput(errors)
    if end_utc <= start_utc:
        raise InvalidInput({"end": "The time off ends before it starts: check the times."})
    if end_utc <= now:
        raise InvalidInput({"first_day": "That time off is in the past: pick a later date."})
    period = TimeOffPeriod(
        id=new_id(),
        first_day=first,
        last_day=last,
        start=start,
        end=end,
        start_utc=start_utc,
        end_utc=end_utc,
        note=note,
    )
    clash = next((p for p in existing if p.end_utc > now and overlaps(p, start_utc, end_utc)), None)
    if clash is not None:
        raise InvalidInput(
            {"first_day": f"This overlaps your time off {clash.label}: remove that one first."}
        )
    return period


def check_room(periods: tuple[TimeOffPeriod, ...]) -> None:
    if len(periods) > MAX_PERIODS:
        raise InvalidInput({"first_day": f"You can keep up to {MAX_PERIODS} periods of time off."})


def keep_out_of_time_off(plan: WeekPlan, time_off: TimeOff) -> WeekPlan:
    """Apply template's plan for a week without the slots in time off: each is skipped
    with its reason, so the summary counts them, and no recurring client is booked there
    (clients are booked only into the slots a plan adds)."""
    kept: list = []
    skipped = list(plan.skipped)
    for slot in plan.add:
        period = time_off.covering(slot.start_utc, slot.end_utc)
        if period is None:
            kept.append(slot)
        else:
            where = f" ({period.note})" if period.note else ""
            skipped.append(Skip(slot.label, f"it is in your time off{where}"))
    return WeekPlan(plan.week, kept, skipped)

"""The 30-minute grid: times of day are whole minutes since local midnight.

Local wall-clock times (template slots, schedule hours) are plain minute counts so that
they compare, sort and serialise trivially; they only become instants once a date and a
time zone are known (see `domain.timeutil`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

GRID_MINUTES = 30
MINUTES_PER_DAY = 24 * 60
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
WEEKDAYS_SHORT = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

_CLOCK = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")


class ClockError(ValueError):
    pass


def parse_clock(text: str, *, allow_end_of_day: bool = False) -> int:
    """Parse "HH:MM" to minutes. "24:00" is accepted only as an end of day."""
    match = _CLOCK.match(text or "")
    if not match:
        raise ClockError("Enter a time as HH:MM, for example 09:30.")
    hours, minutes = int(match.group(1)), int(match.group(2))
    if minutes >= 60 or hours > 24 or (hours == 24 and minutes != 0):
        raise ClockError(f"{text.strip()} is not a time of day.")
    if hours == 24 and not allow_end_of_day:
        raise ClockError("24:00 can only end a slot; a slot cannot start at midnight's end.")
    return hours * 60 + minutes


def format_clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def format_date_range(first: date, last: date) -> str:
    """Dates as people read them, e.g. 30 Nov – 6 Dec 2026, where an ISO week code
    (2026-W49) means nothing to them. Both ends carry a year when the range crosses
    New Year."""
    if first.year != last.year:
        return f"{first.day} {first:%b %Y} – {last.day} {last:%b %Y}"
    return f"{first.day} {first:%b} – {last.day} {last:%b %Y}"


def format_long_date(day: date) -> str:
    """The day view's heading, e.g. Monday 30 November 2026."""
    return f"{day:%A} {day.day} {day:%B %Y}"


def range_label(days: Sequence[date]) -> str:
    """The schedule's heading for the days shown: Thursday 26 November 2026 for a day,
    23 Nov – 29 Nov 2026 for a week."""
    if len(days) == 1:
        return format_long_date(days[0])
    return f"{days[0].day} {days[0]:%b} – {days[-1].day} {days[-1]:%b %Y}"


@dataclass(frozen=True)
class ScheduleNav:
    """What the schedule's toolbar and Apply form say: dates, never ISO week codes."""

    previous: str  # "Previous week: 23 Nov – 29 Nov 2026"
    next: str
    apply_from: str  # the Monday the Apply form starts at
    apply_choices: list[tuple[int, str]]  # (number of weeks, "2 weeks: 30 Nov – 13 Dec 2026")


def schedule_nav(shown: Sequence[date], max_weeks: int) -> ScheduleNav:
    """The labels for a shown day (one date) or week (seven): Apply always starts at the
    Monday of the week shown, as the form's hidden week field does."""
    if len(shown) == 1:
        day = shown[0]
        previous = f"Previous day: {format_long_date(day - timedelta(days=1))}"
        following = f"Next day: {format_long_date(day + timedelta(days=1))}"
    else:
        week = timedelta(weeks=1)
        previous = f"Previous week: {format_date_range(shown[0] - week, shown[-1] - week)}"
        following = f"Next week: {format_date_range(shown[0] + week, shown[-1] + week)}"
    monday = shown[0] - timedelta(days=shown[0].weekday())
    choices = [
        (
            n,
            f"{n} week{'s' if n > 1 else ''}: "
            f"{format_date_range(monday, monday + timedelta(weeks=n, days=-1))}",
        )
        for n in range(1, max_weeks + 1)
    ]
    return ScheduleNav(previous, following, format_long_date(monday), choices)


def format_duration(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    if hours and rest:
        return f"{hours} h {rest} min"
    if hours:
        return f"{hours} h"
    return f"{rest} min"


def is_on_grid(minutes: int) -> bool:
    return minutes % GRID_MINUTES == 0


def grid_times(start: int, end: int) -> list[int]:
    """Grid times from start (inclusive) to end (exclusive)."""
    first = start + (-start % GRID_MINUTES)
    return list(range(first, end, GRID_MINUTES))


def clock_choices(start: int, end: int) -> list[tuple[int, str]]:
    """Every grid time from start to end (both included), for a time picker."""
    return [(t, format_clock(t)) for t in range(start, end + 1, GRID_MINUTES)]


def range_errors(start: int | None, end: int | None) -> dict[str, str]:
    """Field errors for a start/end pair on the grid; empty when the range is valid."""
    errors: dict[str, str] = {}
    if start is not None and not is_on_grid(start):
        errors["start"] = (
            f"Start {format_clock(start)} is not on the 30-minute grid: use :00 or :30."
        )
    if end is not None and not is_on_grid(end):
        errors["end"] = (
            f"End {format_clock(end)} is not on the 30-minute grid: slots last 30 min, 1 h, "
            "90 min and so on (not 45 min)."
        )
    if start is not None and end is not None and not errors and end <= start:
        errors["end"] = "The end must be after the start."
    if start is not None and start >= MINUTES_PER_DAY:
        errors["start"] = "A slot must start before midnight."
    return errors


def overlaps(a_start: int, a_end: int, b_start: int, b_end: int) -> bool:
    """Half-open intervals: a slot ending at 10:00 does not overlap one starting at 10:00."""
    return a_start < b_end and b_start < a_end


def parse_time_fields(
    form: Mapping[str, str],
    errors: dict[str, str],
    start_field: str = "start",
    end_field: str = "end",
) -> tuple[int | None, int | None]:
    """Read a start and an end time from a form; problems go into `errors` by field."""
    return parse_time_range(
        form.get(start_field, ""), form.get(end_field, ""), errors, start_field, end_field
    )


def parse_time_range(
    start_text: str,
    end_text: str,
    errors: dict[str, str],
    start_field: str = "start",
    end_field: str = "end",
) -> tuple[int | None, int | None]:
    """A start and an end time as typed ("HH:MM"); problems go into `errors` by field, so
    every bad field of a form is reported at once."""
    start = end = None
    try:
        start = parse_clock(start_text)
    except ClockError as exc:
        errors[start_field] = str(exc)
    try:
        end = parse_clock(end_text, allow_end_of_day=True)
    except ClockError as exc:
        errors[end_field] = str(exc)
    return start, end

"""The values of time off: a period and the list of them, with nothing of the schedule.

Split from `domain/time_off.py` (the rules and commands, which need the schedule's day
parser and week plans) because the trainer's profile mirrors the list
(`models.Trainer.time_off`) and the schedule imports the models: keeping the values here
keeps the import graph free of cycles.

A period is typed as trainer-local dates with optional times (a whole day runs from local
midnight to the next local midnight) and kept also as its UTC instants, so "is this slot
in time off" is one comparison of instants whatever the clocks did in between.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict

from chalicelib.domain.grid import MINUTES_PER_DAY, WEEKDAYS_SHORT, format_clock


class TimeOffPeriod(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    first_day: date  # trainer-local
    last_day: date
    start: int | None = None  # local minutes on first_day; None: from midnight
    end: int | None = None  # local minutes on last_day; None: to the end of that day
    start_utc: datetime
    end_utc: datetime
    note: str = ""

    @property
    def whole_days(self) -> bool:
        return self.start is None and self.end is None

    @property
    def title(self) -> str:
        """What the grid's band and the list say: "Time off: Holiday"."""
        return f"Time off: {self.note}" if self.note else "Time off"

    @property
    def label(self) -> str:
        """ "Sat 26 Dec 2026 – Sun 3 Jan 2027", or with times for a part of a day."""
        first = _day_label(self.first_day)
        if self.start is not None:
            first += f" {format_clock(self.start)}"
        same_day = self.first_day == self.last_day
        last = "" if same_day else _day_label(self.last_day)
        if self.end is not None:
            last = f"{last} {format_clock(self.end)}".strip()
        if not last:
            return first
        return f"{first}–{last}" if same_day else f"{first} – {last}"

    def overlaps(self, start_utc: datetime, end_utc: datetime) -> bool:
        return overlaps(self, start_utc, end_utc)

    def covers_day(self, day: date) -> bool:
        return self.first_day <= day <= self.last_day

    def minutes_on(self, day: date) -> tuple[int, int]:
        """The local minutes of `day` this period covers (the grid's band)."""
        start = self.start if day == self.first_day and self.start is not None else 0
        end = self.end if day == self.last_day and self.end is not None else MINUTES_PER_DAY
        return start, end


def _day_label(day: date) -> str:
    return f"{WEEKDAYS_SHORT[day.weekday()]} {day.day} {day:%b %Y}"


def overlaps(period: TimeOffPeriod, start_utc: datetime, end_utc: datetime) -> bool:
    """Whether [start_utc, end_utc) meets the period: touching ends do not."""
    return period.start_utc < end_utc and start_utc < period.end_utc


class TimeOff(BaseModel):
    """Every period of one trainer, written as one item at `version`."""

    model_config = ConfigDict(frozen=True)

    periods: tuple[TimeOffPeriod, ...] = ()
    version: int = 0  # 0: never saved

    def covering(self, start_utc: datetime, end_utc: datetime) -> TimeOffPeriod | None:
        return next((p for p in self.periods if p.overlaps(start_utc, end_utc)), None)

    def upcoming(self, now: datetime) -> list[TimeOffPeriod]:
        """Periods not over yet, soonest first: what the page lists."""
        return sorted((p for p in self.periods if p.end_utc > now), key=lambda p: p.start_utc)

    def on_day(self, day: date) -> list[TimeOffPeriod]:
        return [p for p in self.periods if p.covers_day(day)]

    def find(self, period_id: str) -> TimeOffPeriod | None:
        return next((p for p in self.periods if p.id == period_id), None)

    def with_period(self, period: TimeOffPeriod, now: datetime) -> tuple[TimeOffPeriod, ...]:
        """The periods to write: the new one added, the ones over dropped (the item only
        ever holds what is still to come, so it stays small)."""
        kept = [p for p in self.periods if p.end_utc > now]
        return tuple(sorted([*kept, period], key=lambda p: p.start_utc))

    def without(self, period_id: str, now: datetime) -> tuple[TimeOffPeriod, ...]:
        return tuple(p for p in self.periods if p.id != period_id and p.end_utc > now)

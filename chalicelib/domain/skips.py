"""A recurring client away: one skipped date of a recurring slot, or a pause of all of
their recurring slots from one day to another (issue 15). Kept on the client item, so
Apply template, which reads the recurring clients anyway, knows them at no extra read."""

from __future__ import annotations

from datetime import date, timedelta

from pydantic import BaseModel, ConfigDict

from chalicelib.domain.errors import InvalidInput

# A client item holds at most this many of each: enough for a year of weekly skips, and
# bounded, since past ones are dropped on every write.
MAX_SKIPS = 50
MAX_PAUSE_DAYS = 366


class SkippedDate(BaseModel):
    """One date of one recurring slot the client will not come to."""

    model_config = ConfigDict(frozen=True)

    template_slot_id: str
    day: date


class Pause(BaseModel):
    """All of the client's recurring slots from `first_day` to `last_day`, both included."""

    model_config = ConfigDict(frozen=True)

    first_day: date
    last_day: date

    def covers(self, day: date) -> bool:
        return self.first_day <= day <= self.last_day

    @property
    def key(self) -> str:
        """What a Resume button names: the pause's own days."""
        return f"{self.first_day.isoformat()}..{self.last_day.isoformat()}"


class ClientSkips(BaseModel):
    """What a client skips, soonest first."""

    model_config = ConfigDict(frozen=True)

    dates: tuple[SkippedDate, ...] = ()
    pauses: tuple[Pause, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.dates or self.pauses)

    def pause_on(self, day: date) -> Pause | None:
        return next((p for p in self.pauses if p.covers(day)), None)

    def dates_of(self, template_slot_id: str) -> tuple[SkippedDate, ...]:
        return tuple(s for s in self.dates if s.template_slot_id == template_slot_id)


def is_skipped(client_skips: ClientSkips, template_slot_id: str, day: date) -> bool:
    """The client is not to be booked into this recurring slot on this day."""
    return client_skips.pause_on(day) is not None or any(
        s.day == day for s in client_skips.dates_of(template_slot_id)
    )


def short_day(day: date) -> str:
    return f"{day.day} {day.strftime('%b')}"


def skip_reason(
    client_skips: ClientSkips, client_name: str, template_slot_id: str, day: date
) -> str | None:
    """What Apply template's summary says of a slot added open for a skip, or None."""
    pause = client_skips.pause_on(day)
    if pause is not None:
        return f"{client_name} skipped (paused until {short_day(pause.last_day)})"
    if is_skipped(client_skips, template_slot_id, day):
        return f"{client_name} skipped this date"
    return None


def upcoming(client_skips: ClientSkips, today: date) -> ClientSkips:
    """Only what is not over: past skips are dropped on each write, so the item stays small."""
    return ClientSkips(
        dates=tuple(s for s in client_skips.dates if s.day >= today),
        pauses=tuple(p for p in client_skips.pauses if p.last_day >= today),
    )


def _bounded(client_skips: ClientSkips) -> ClientSkips:
    if len(client_skips.dates) > MAX_SKIPS:
        raise InvalidInput({"day": f"A client can have at most {MAX_SKIPS} skipped dates."})
    if len(client_skips.pauses) > MAX_SKIPS:
        raise InvalidInput({"first_day": f"A client can have at most {MAX_SKIPS} pauses."})
    return client_skips


def add_date(
    client_skips: ClientSkips,
    template_slot_id: str,
    slot_weekday: int,
    slot_label: str,
    day: date | None,
    today: date,
) -> ClientSkips:
    """`client_skips` with `day` of this recurring slot skipped (unchanged if it already
    was), or InvalidInput naming the date."""
    if day is None:
        raise InvalidInput({"day": "Choose the date to skip."})
    if day.weekday() != slot_weekday:
        raise InvalidInput(
            {"day": f"{short_day(day)} is a {day.strftime('%A')}: {slot_label} is not on it."}
        )
    if day < today:
        raise InvalidInput({"day": f"{short_day(day)} is in the past: choose a coming date."})
    kept = upcoming(client_skips, today)
    if any(s.day == day for s in kept.dates_of(template_slot_id)):
        return kept
    dates = sorted(
        (*kept.dates, SkippedDate(template_slot_id=template_slot_id, day=day)),
        key=lambda s: (s.day, s.template_slot_id),
    )
    return _bounded(kept.model_copy(update={"dates": tuple(dates)}))


def add_pause(
    client_skips: ClientSkips, first_day: date | None, last_day: date | None, today: date
) -> ClientSkips:
    """`client_skips` with a pause from `first_day` to `last_day`, or InvalidInput."""
    errors: dict[str, str] = {}
    if first_day is None:
        errors["first_day"] = "Choose the first day of the pause."
    if last_day is None:
        errors["last_day"] = "Choose the last day of the pause."
    if errors:
        raise InvalidInput(errors)
    assert first_day is not None and last_day is not None
    if last_day < first_day:
        raise InvalidInput(
            {
                "last_day": f"The pause ends ({short_day(last_day)}) before it starts "
                f"({short_day(first_day)}): choose a last day on or after the first."
            }
        )
    if first_day < today:
        raise InvalidInput(
            {"first_day": f"{short_day(first_day)} is in the past: start the pause today or later."}
        )
    if last_day - first_day >= timedelta(days=MAX_PAUSE_DAYS):
        raise InvalidInput(
            {"last_day": "Keep a pause to a year or less: untick the recurring slot instead."}
        )
    kept = upcoming(client_skips, today)
    pause = Pause(first_day=first_day, last_day=last_day)
    if pause in kept.pauses:
        return kept
    pauses = sorted((*kept.pauses, pause), key=lambda p: (p.first_day, p.last_day))
    return _bounded(kept.model_copy(update={"pauses": tuple(pauses)}))


def remove(client_skips: ClientSkips, kind: str, key: str, today: date) -> ClientSkips:
    """Resume: `client_skips` without the skipped date (`kind` "date", key
    "<template slot>@<day>") or the pause (`kind` "pause", key `Pause.key`). Resuming what
    is not there (a second click) leaves it as it is."""
    kept = upcoming(client_skips, today)
    if kind == "date":
        dates = tuple(s for s in kept.dates if date_key(s) != key)
        return kept.model_copy(update={"dates": dates})
    if kind == "pause":
        return kept.model_copy(update={"pauses": tuple(p for p in kept.pauses if p.key != key)})
    raise InvalidInput({"kind": "Unknown thing to resume."})


def date_key(skipped: SkippedDate) -> str:
    return f"{skipped.template_slot_id}@{skipped.day.isoformat()}"


def dates_to_cancel(
    before: ClientSkips, after: ClientSkips
) -> tuple[tuple[str | None, date, date], ...]:
    """What a new skip or pause newly covers, as (template slot or None for all, first,
    last day): the client's recurring sessions there are canceled."""
    new_dates = tuple(
        (s.template_slot_id, s.day, s.day) for s in after.dates if s not in before.dates
    )
    new_pauses = tuple(
        (None, p.first_day, p.last_day) for p in after.pauses if p not in before.pauses
    )
    return new_dates + new_pauses

"""Use cases of the Time off page (Settings): list, add and remove periods, and deal with
the sessions already booked inside one (cancel, telling the client; or move).

Saving a period also removes the open slots already inside it (open, unchanged since
read, no live offer: the same conditional removal as the slot page's Remove), so clients
cannot book there on the portal; Apply template adds none there afterwards
(`services.schedule.apply_template`). Booked sessions are never touched without the
trainer: the page lists them with one-click Cancel and a Move link.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from datetime import date, datetime

from chalicelib.domain.errors import Conflict, InvalidInput, NotFound, VersionConflict
from chalicelib.domain.models import LocationName, Trainer
from chalicelib.domain.schedule import Session, Slot, parse_day
from chalicelib.domain.time_off import (
    AddTimeOff,
    RemoveTimeOff,
    TimeOffPeriod,
    check_room,
    make_period,
)
from chalicelib.domain.timeutil import local_today, week_key
from chalicelib.domain.tokens import new_id
from chalicelib.repo.repository import Repository
from chalicelib.services import sessions
from chalicelib.services.deps import Deps

# A period lists at most this many sessions: more than a trainer cancels one by one.
SESSIONS_LISTED = 50
WEEKS_CLEARED = 110  # slots exist at most 104 weeks ahead (Apply template's reach)


@dataclass(frozen=True)
class PeriodRow:
    period: TimeOffPeriod
    sessions: tuple[Session, ...]  # booked sessions inside it, soonest first
    more: bool  # more sessions than listed


@dataclass(frozen=True)
class TimeOffPage:
    rows: tuple[PeriodRow, ...]  # upcoming periods, soonest first
    version: int  # of the time-off item, for the forms
    today: date
    prefill: date | None  # the day the schedule's "Time off" link came from
    locations: dict[str, LocationName]

    @property
    def session_count(self) -> int:
        return sum(len(r.sessions) for r in self.rows)


def _sessions_inside(
    repo: Repository, trainer_id: str, period: TimeOffPeriod, now: datetime
) -> tuple[tuple[Session, ...], bool]:
    """Booked sessions starting inside the period (or running into it), from now on: one
    Query page of TrainerTimeline (it holds booked and voided sessions only)."""
    since = max(now, period.start_utc)
    found, more = repo.trainer_sessions_between(trainer_id, since, period.end_utc, SESSIONS_LISTED)
    booked = sorted((s for s in found if s.status == "booked"), key=lambda s: s.start_utc)
    return tuple(booked), more


def time_off_page(deps: Deps, trainer: Trainer, prefill: str = "") -> TimeOffPage:
    """The page: one GetItem of the time-off item, then one Query per upcoming period."""
    repo, now = deps.repo, deps.now
    current = repo.time_off.get_time_off(trainer.id)
    rows = []
    for period in current.upcoming(now):
        listed, more = _sessions_inside(repo, trainer.id, period, now)
        rows.append(PeriodRow(period, listed, more))
    try:
        day: date | None = parse_day(prefill) if prefill else None
    except InvalidInput:
        day = None  # a garbled link from the schedule: an empty form, not an error
    return TimeOffPage(
        rows=tuple(rows),
        version=current.version,
        today=local_today(now, trainer.settings.time_zone),
        prefill=day,
        locations=dict(trainer.locations),
    )


@dataclass(frozen=True)
class Added:
    period: TimeOffPeriod
    slots_removed: int


def add(deps: Deps, trainer: Trainer, command: AddTimeOff) -> Added:
    """Check the period against the list as it is now, write it at the version the form
    was drawn from (two tabs: one wins, the other is refused by the write), then clear
    the open slots inside it."""
    repo, now = deps.repo, deps.now
    store = repo.time_off
    current = store.get_time_off(trainer.id)
    if command.version != current.version:
        raise VersionConflict()
    period = make_period(command, trainer.settings.time_zone, now, current.periods, new_id)
    periods = current.with_period(period, now)
    check_room(periods)
    store.save_time_off(trainer.id, current, periods)
    cleared = _clear_open_slots(repo, trainer.id, period, now, trainer.settings.time_zone)
    return Added(period, cleared)


def remove(deps: Deps, trainer: Trainer, command: RemoveTimeOff) -> TimeOffPeriod:
    """Remove a period at the version the page showed. The slots removed when it was
    added are not put back: Apply template adds them again."""
    repo, now = deps.repo, deps.now
    store = repo.time_off
    current = store.get_time_off(trainer.id)
    if command.version != current.version:
        raise VersionConflict()
    period = current.find(command.period_id)
    if period is None:
        raise NotFound("time off")
    store.save_time_off(trainer.id, current, current.without(period.id, now))
    return period


def _weeks(period: TimeOffPeriod, now: datetime, zone_name: str) -> list[str]:
    first = max(period.first_day, local_today(now, zone_name))
    weeks: list[str] = []
    day = first
    while day <= period.last_day and len(weeks) < WEEKS_CLEARED:
        week = week_key(day)
        if week not in weeks:
            weeks.append(week)
        day = date.fromordinal(day.toordinal() + 7 - day.weekday())  # next Monday
    return weeks


def _removable(slot: Slot, period: TimeOffPeriod, now: datetime) -> bool:
    live_offer = slot.offer is not None and slot.offer.live(now)
    return (
        slot.is_open
        and not live_offer
        and slot.start_utc > now
        and period.overlaps(slot.start_utc, slot.end_utc)
    )


def _clear_open_slots(
    repo: Repository, trainer_id: str, period: TimeOffPeriod, now: datetime, zone_name: str
) -> int:
    """Remove the open slots inside the period: one Query per week it spans, one
    transaction per slot. A slot booked or offered meanwhile is refused by its own
    removal's condition and stays (a booking is then listed on the page)."""
    removed = 0
    for week in _weeks(period, now, zone_name):
        for slot in repo.get_week(trainer_id, week):
            if not _removable(slot, period, now):
                continue
            try:
                repo.remove_slot(trainer_id, slot, now)
            except VersionConflict:
                continue
            removed += 1
    return removed


@dataclass(frozen=True)
class Canceled:
    session: Session
    told: bool  # a notice to the client was queued with the cancel


def cancel_session(deps: Deps, trainer: Trainer, ref: str, version: int | None) -> Canceled:
    """The page's one-click Cancel: the trainer's cancel, the client told through the
    outbox in the same transaction (unless they opted out), and the slot it frees
    removed, since it is in time off."""
    repo, tid, now = deps.repo, trainer.id, deps.now
    booking = sessions.find_session(repo, tid, ref)
    current = repo.time_off.get_time_off(tid)
    period = current.covering(booking.start_utc, booking.end_utc)
    if period is None or not booking.is_live:
        raise Conflict("That session is no longer booked in your time off. Reload the page.")
    notice = sessions.change_notice(
        sessions.ChangeNotice(trainer, "", deps.base_url),
        repo.get_client(tid, booking.client_id),
        "cancel_notice",
        booking,
        now,
    )
    canceled = sessions.cancel(
        repo, tid, booking, sessions.submitted_version(version), now, notice=notice
    )
    for slot in repo.get_week(tid, booking.week):
        if slot.id == booking.slot_id and _removable(slot, period, now):
            # Taken again meanwhile: it stays, and the page lists its session.
            with suppress(VersionConflict):
                repo.remove_slot(tid, slot, now)
    return Canceled(canceled, notice is not None)

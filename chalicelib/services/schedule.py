"""Use cases for the Schedule tab: the week, one-off slots, Apply template."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from chalicelib.domain.clients import Client
from chalicelib.domain.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    expect_version,
)
from chalicelib.domain.models import Trainer
from chalicelib.domain.offers import live_offer
from chalicelib.domain.schedule import (
    MAX_WEEKS_AHEAD,
    MAX_WEEKS_AT_ONCE,
    Session,
    Skip,
    Slot,
    WeekPlan,
    book,
    handled_recurring,
    in_calendar_range,
    make_slot,
    parse_one_off_form,
    plan_template_week,
    recurring_booking_skip,
    shift_week,
)
from chalicelib.domain.template import WeeklyTemplate
from chalicelib.domain.timeutil import local_today, week_key, week_monday
from chalicelib.domain.tokens import new_id
from chalicelib.repo.repository import Repository
from chalicelib.repo.schedule import NewSlot
from chalicelib.services import sessions
from chalicelib.services.links import Links


@dataclass(frozen=True)
class AppliedWeek:
    plan: WeekPlan
    added: list[Slot]
    booked: list[Session]  # recurring clients booked into the added slots
    lost_races: int  # slots another request took between our read and our write
    left_open: list[Skip] = field(default_factory=list)  # added, but its client not booked


def recurring_bookings(clients: list[Client]) -> dict[str, Client]:
    """Template slot id -> the active client who holds it as a recurring slot."""
    return {t: c for c in clients if not c.archived for t in c.recurring}


def this_week(trainer: Trainer, now: datetime) -> str:
    return week_key(local_today(now, trainer.settings.time_zone))


def find_slot(repo: Repository, trainer_id: str, week: str, slot_id: str) -> Slot:
    for slot in repo.get_week(trainer_id, week):
        if slot.id == slot_id:
            return slot
    raise NotFound(slot_id)


def add_slot(repo: Repository, trainer: Trainer, form: Mapping[str, str], now: datetime) -> Slot:
    """A one-off slot from the `+ Add` form: on the grid, in the future, not overlapping."""
    day, start, end, location_id = parse_one_off_form(form, trainer.locations)
    slot = make_slot(new_id(), day, start, end, location_id, trainer.settings.time_zone)
    if slot.start_utc <= now:
        raise InvalidInput({"start": "That time has passed: pick a time in the future."})
    clash = next((s for s in repo.get_week(trainer.id, slot.week) if s.overlaps(slot)), None)
    if clash is not None:
        raise InvalidInput({"start": f"This overlaps the slot {clash.label}."})
    repo.add_slot(trainer.id, slot)  # the guards refuse a slot added meanwhile
    return slot


def remove_slot(
    repo: Repository, trainer_id: str, slot: Slot, version: str | None, now: datetime
) -> None:
    expect_version(slot.version, version)
    if not slot.is_open:
        raise Conflict("This slot is booked: cancel or move the session first.")
    if live_offer(slot, now) is not None:
        raise Conflict(
            f"This slot is offered to {slot.offer.client_name} until the offer ends: "
            "withdraw the offer first."
        )
    repo.remove_slot(trainer_id, slot, now)


def move_slot(
    repo: Repository,
    trainer: Trainer,
    slot: Slot,
    location_id: str,
    version: str | None,
    now: datetime,
) -> Slot:
    expect_version(slot.version, version)
    location = trainer.locations.get(location_id)
    if location is None or location.archived:
        raise InvalidInput({"location_id": "Pick one of your active locations."})
    if (offer := live_offer(slot, now)) is not None:
        raise Conflict(
            f"This slot is offered to {offer.client_name}, who was told its place: "
            "withdraw the offer first."
        )
    return repo.move_slot_location(trainer.id, slot, location_id, now)


def apply_template(
    repo: Repository,
    links: Links,
    trainer: Trainer,
    first_week: str,
    weeks: int,
    now: datetime,
) -> list[AppliedWeek]:
    """Apply the weekly template to `weeks` weeks from `first_week`; each week on its own.

    The whole range is checked before anything is written, so a refused request writes
    nothing and an accepted one reports exactly what each week got."""
    if not 1 <= weeks <= MAX_WEEKS_AT_ONCE:
        raise InvalidInput({"weeks": f"Apply to 1 to {MAX_WEEKS_AT_ONCE} weeks at a time."})
    current = this_week(trainer, now)
    last_week = _apply_range_end(first_week, weeks)
    if last_week < current:
        raise InvalidInput({"week": "Those weeks are over: pick this week or a later one."})
    if first_week > shift_week(current, MAX_WEEKS_AHEAD):
        raise InvalidInput(
            {"week": f"Apply template reaches at most {MAX_WEEKS_AHEAD} weeks ahead."}
        )
    account = repo.get_account(trainer.id)
    template = account.setup.template
    recurring = recurring_bookings(account.clients)
    results = []
    for offset in range(weeks):
        week = shift_week(first_week, offset)
        results.append(_apply_week(repo, links, trainer, template, recurring, week, now))
    if any(r.added for r in results) and trainer.template_applied_at is None:
        repo.mark_template_applied(trainer.id, now)
    return results


def _apply_range_end(first_week: str, weeks: int) -> str:
    last_monday = week_monday(first_week) + timedelta(weeks=weeks - 1)
    if not in_calendar_range(last_monday):
        raise InvalidInput({"week": "Those weeks are too far ahead: pick a nearer week."})
    return week_key(last_monday)


def _apply_week(
    repo: Repository,
    links: Links,
    trainer: Trainer,
    template: WeeklyTemplate,
    recurring: dict[str, Client],
    week: str,
    now: datetime,
) -> AppliedWeek:
    existing = repo.get_week_with_sessions(trainer.id, week)
    live = {s.slot_id: s.client_name for s in existing.sessions if s.is_live}
    plan = plan_template_week(
        template,
        trainer.locations,
        week,
        trainer.settings.time_zone,
        now,
        existing.slots,
        new_id,
        live,
    )
    handled = handled_recurring(existing.sessions, existing.slots)
    entries, left_open = [], []
    for slot in plan.add:
        client = recurring.get(slot.template_slot_id or "")
        booking = link = None
        if client is not None:
            reason = recurring_booking_skip(
                client.name, client.location_ids, slot, handled.get(client.id, set())
            )
            if reason:
                left_open.append(Skip(slot.label, reason))
            else:
                booking = book(
                    slot, new_id(), client.id, client.name, "recurring", now, client.price_minor
                )[1]
                link = sessions.link_for(links, trainer.id, client, booking)
        entries.append(NewSlot(slot, booking, link))
    # A week's slots go in as few transactions as fit: each still all or nothing, so a
    # time taken meanwhile (or a location archived) loses only its own slot, and a
    # client archived meanwhile leaves theirs open.
    written = repo.add_slots(trainer.id, entries)
    added = [entries[i].slot for i in written.written]
    booked = [b for i in written.booked if (b := entries[i].booking) is not None]
    lost = len(written.lost)
    return AppliedWeek(plan, added, booked, lost, left_open)


def allocate(
    repo: Repository,
    links: Links,
    trainer: Trainer,
    slot: Slot,
    client_id: str,
    version: str | None,
    now: datetime,
) -> Session:
    """Book a client into an open slot by hand (a Manual session)."""
    expect_version(slot.version, version)
    if not client_id:
        raise InvalidInput({"client_id": "Choose a client."})
    try:
        client = repo.get_client(trainer.id, client_id)
    except NotFound:
        raise InvalidInput({"client_id": "Choose one of your clients."}) from None
    if client.archived:
        raise InvalidInput({"client_id": f"{client.name} is archived: restore them first."})
    if not slot.is_open:
        raise Conflict("This slot is already booked.")
    if live_offer(slot, now) is not None:
        raise Conflict(
            f"This slot is offered to {slot.offer.client_name} until the offer ends: "
            "withdraw the offer first."
        )
    if slot.start_utc <= now:
        raise InvalidInput({"client_id": "This slot has started: it cannot be booked any more."})
    _taken, session = book(
        slot, new_id(), client.id, client.name, "manual", now, client.price_minor
    )
    link = sessions.link_for(links, trainer.id, client, session)
    repo.book_slot(trainer.id, slot, session, link)
    return session

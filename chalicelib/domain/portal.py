"""The client portal's rules: what a client may book, change and cancel, and when.

- Book and change: open slots at the client's enabled (active) locations, in the allowed
  calendar weeks (the booking window in the trainer's time zone, this week counting as
  one), never in the past.
- Cancel and change: refused inside the deadline (default 36 h before the start); the
  client is told to contact the trainer instead.
- Last-minute opt-ins: the weekly template's times at the client's enabled locations.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict

from chalicelib.domain.clients import Client
from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.models import LocationName
from chalicelib.domain.schedule import Session, Slot, cancellation, move, shift_week
from chalicelib.domain.settings import TrainerSettings
from chalicelib.domain.template import TemplateSlot, WeeklyTemplate
from chalicelib.domain.timeutil import local_today, week_key

TAKEN = "That slot was just taken by someone else. Pick another time."


class PortalClient(BaseModel):
    """What the client's own pages (and every rule they run) may know about the client.

    The private notes are not a field at all, so no portal template can show them, by
    mistake or by a later edit: the portal is built from this, never from `Client`."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    phone: str
    price_minor: int | None = None
    location_ids: tuple[str, ...] = ()
    shared_notes: str = ""
    archived: bool = False
    portal_generation: int = 1

    @classmethod
    def of(cls, client: Client) -> PortalClient:
        return cls(
            id=client.id,
            name=client.name,
            phone=client.phone,
            price_minor=client.price_minor,
            location_ids=client.location_ids,
            shared_notes=client.shared_notes,
            archived=client.archived,
            portal_generation=client.portal_generation,
        )

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name.split() else self.name


def allowed_weeks(settings: TrainerSettings, now: datetime) -> list[str]:
    """The calendar weeks clients may book in, this week first."""
    this_week = week_key(local_today(now, settings.time_zone))
    return [shift_week(this_week, n) for n in range(settings.booking_window_weeks)]


def booking_problem(
    slot: Slot,
    client: Client | PortalClient,
    locations: dict[str, LocationName],
    weeks: list[str],
    now: datetime,
) -> str | None:
    """Why this client cannot take this slot, or None."""
    if not slot.is_open:
        return TAKEN
    if slot.offer is not None and slot.offer.live(now):
        return "That slot is being held for someone else right now. Pick another time."
    if slot.week not in weeks:
        return "That week is outside the booking window."
    location = locations.get(slot.location_id)
    if slot.location_id not in client.location_ids or location is None or location.archived:
        return "That place is not one you can book at."
    if slot.start_utc <= now:
        return "That time has passed. Pick a later one."
    return None


def bookable(
    slots: list[Slot],
    client: Client | PortalClient,
    locations: dict[str, LocationName],
    weeks: list[str],
    now: datetime,
) -> list[Slot]:
    """The open slots this client may take, soonest first."""
    return sorted(
        (s for s in slots if booking_problem(s, client, locations, weeks, now) is None),
        key=lambda s: s.start_utc,
    )


def inside_deadline(session: Session, settings: TrainerSettings, now: datetime) -> bool:
    return session.start_utc - now < timedelta(hours=settings.cancel_deadline_hours)


def client_may_change(session: Session, settings: TrainerSettings, now: datetime) -> bool:
    """A booked session still ahead and outside the deadline: the client may change or
    cancel it online."""
    return (
        session.is_live and session.start_utc > now and not inside_deadline(session, settings, now)
    )


def past_the_deadline(session: Session, settings: TrainerSettings, now: datetime) -> bool:
    """A booked session still ahead but inside the deadline: the client is pointed to
    the trainer instead."""
    return session.is_live and session.start_utc > now and inside_deadline(session, settings, now)


def deadline_message(settings: TrainerSettings, trainer_name: str) -> str:
    return (
        f"It is less than {settings.cancel_deadline_hours} hours before this session, so it "
        f"can no longer be changed or canceled online. Please contact {trainer_name}."
    )


def _refuse_inside_deadline(
    session: Session, settings: TrainerSettings, trainer_name: str, now: datetime
) -> None:
    if session.is_live and session.start_utc > now and inside_deadline(session, settings, now):
        raise InvalidInput({"deadline": deadline_message(settings, trainer_name)})


def client_cancellation(
    session: Session, settings: TrainerSettings, trainer_name: str, now: datetime
) -> Session:
    _refuse_inside_deadline(session, settings, trainer_name, now)
    return cancellation(session, now)


def client_move(
    session: Session,
    target: Slot,
    client: Client | PortalClient,
    settings: TrainerSettings,
    locations: dict[str, LocationName],
    trainer_name: str,
    new_session_id: str,
    now: datetime,
) -> tuple[Session, Session]:
    """A change made by the client: the deadline and the booking rules, then a move."""
    _refuse_inside_deadline(session, settings, trainer_name, now)
    if target.id == session.slot_id:
        raise InvalidInput({"_form": "That is the time you already have."})
    problem = booking_problem(target, client, locations, allowed_weeks(settings, now), now)
    if problem:
        raise InvalidInput({"_form": problem})
    return move(session, target, new_session_id, now)


def optin_choices(
    template: WeeklyTemplate, client: Client | PortalClient, locations: dict[str, LocationName]
) -> list[TemplateSlot]:
    """Template times a client may opt in to: at their enabled, active locations."""
    return [
        t
        for t in sorted(template.slots, key=lambda t: (t.weekday, t.start))
        if t.location_id in client.location_ids
        and t.location_id in locations
        and not locations[t.location_id].archived
    ]

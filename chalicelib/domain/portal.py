"""The client portal's rules: what a client may book, change and cancel, and when.

- Book and change: open slots at the client's enabled (active) locations, in the allowed
  calendar weeks (the booking window in the trainer's time zone, this week counting as
  one), never in the past.
- Cancel and change: refused inside the deadline (default 36 h before the start); the
  client is told to contact the trainer instead.
- The window and the deadline are the client's own where their profile sets one, else
  the trainer's: `effective_rules` says which, and every rule below takes its answer.
- Last-minute opt-ins: the weekly template's times at the client's enabled locations.

The commands below are what the portal's forms ask for. A pick (its hidden week and slot
id) stays text, so the rules here, not the parser, say what is wrong with it, in the words
the client reads.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from chalicelib.domain.clients import Client
from chalicelib.domain.commands import Command, Versioned
from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.models import LocationName
from chalicelib.domain.offers import live_offer
from chalicelib.domain.schedule import (
    Session,
    Slot,
    cancellation,
    move,
    parse_week,
    shift_week,
)
from chalicelib.domain.settings import TrainerSettings
from chalicelib.domain.template import TemplateSlot, WeeklyTemplate
from chalicelib.domain.timeutil import local_today, week_key

TAKEN = "That slot was just taken by someone else. Pick another time."
NOT_LISTED = "That time is not available. Pick one from the list."
GONE = "That time is not available any more. Pick one from the list."
TOO_CLOSE_NOW = (
    "Another session was just booked too close to that time for your trainer to get "
    "there. Pick another time."
)
OUTSIDE_WINDOW = "That week is outside the booking window."


# Commands -------------------------------------------------------------------------------
class SlotChoice(Command):
    """An open slot picked from the portal's list: its week (which Query finds it) and id.
    Both stay text: a tampered week is told "not available", not "not a week"."""

    week: str = ""
    slot_id: str = ""


class BookSlot(SlotChoice):
    """Book a session: the client's home link takes the picked slot."""


class _PageVersion(Versioned):
    @field_validator("version", mode="before")
    @classmethod
    def _garbled_is_stale(cls, value: Any) -> Any:
        # Our pages only ever send the number they were drawn with: anything else is a
        # page we did not draw, refused like a stale one ("This page was out of date").
        if isinstance(value, str) and not (value.strip().isascii() and value.strip().isdigit()):
            return None
        return value


class CancelSession(_PageVersion):
    """Cancel the session a session link opens, as drawn at `version`."""


class ChangeSession(_PageVersion, SlotChoice):
    """Move the session a session link opens (as drawn at `version`) to a picked slot."""


class SetOptin(Command):
    """One tick or untick of a last-minute time (the page's script saves each at once)."""

    template_slot_id: str
    on: bool = False  # the script sends "yes" or "no"


class SaveOptins(Command):
    """The whole set of ticks at once (the form without JavaScript)."""

    template_slot_ids: list[str] = Field(default_factory=list, alias="optin")


# Rules ----------------------------------------------------------------------------------
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
    messages_opt_out: bool = False  # their own choice (STOP or the portal's switch)
    reminders_off: bool = False  # the trainer's choice on their profile
    booking_window_weeks: int | None = None  # their own rules (None: the trainer's)
    cancel_deadline_hours: int | None = None

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
            messages_opt_out=client.messages_opt_out,
            reminders_off=client.reminders_off,
            booking_window_weeks=client.booking_window_weeks,
            cancel_deadline_hours=client.cancel_deadline_hours,
        )

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name.split() else self.name


def weeks_text(weeks: int) -> str:
    return "1 week" if weeks == 1 else f"{weeks} weeks"


def hours_text(hours: int) -> str:
    return "1 hour" if hours == 1 else f"{hours} hours"


class BookingRules(BaseModel):
    """The booking window and cancel/change deadline one client's portal applies, and
    whether each is the trainer's default or the client's own."""

    model_config = ConfigDict(frozen=True)

    time_zone: str  # the trainer's: weeks and days are theirs
    booking_window_weeks: int
    cancel_deadline_hours: int
    window_is_default: bool = True
    deadline_is_default: bool = True

    @property
    def window_text(self) -> str:
        """The window as the client reads it (calendar weeks, this one counting)."""
        if self.booking_window_weeks == 1:
            return "You can book sessions in this calendar week."
        ahead = weeks_text(self.booking_window_weeks - 1)
        return f"You can book sessions this week and up to {ahead} ahead."

    @property
    def change_text(self) -> str:
        """The deadline as the client reads it where a session may still be changed."""
        if self.cancel_deadline_hours == 0:
            return "You can change or cancel online until the session starts."
        hours = hours_text(self.cancel_deadline_hours)
        return f"You can change or cancel up to {hours} before the start."


def default_rules(settings: TrainerSettings) -> BookingRules:
    """The trainer's own rules, for every client without one of their own."""
    return BookingRules(
        time_zone=settings.time_zone,
        booking_window_weeks=settings.booking_window_weeks,
        cancel_deadline_hours=settings.cancel_deadline_hours,
    )


def effective_rules(settings: TrainerSettings, client: Client | PortalClient) -> BookingRules:
    """The rules this client's portal applies: their own where the profile sets one (the
    trainer's "Booking rules" card), else the trainer's default from Settings. The one
    place that decides it: every portal check and text takes what this returns."""
    window, deadline = client.booking_window_weeks, client.cancel_deadline_hours
    defaults = default_rules(settings)
    return defaults.model_copy(
        update={
            "booking_window_weeks": defaults.booking_window_weeks if window is None else window,
            "cancel_deadline_hours": defaults.cancel_deadline_hours
            if deadline is None
            else deadline,
            "window_is_default": window is None,
            "deadline_is_default": deadline is None,
        }
    )


def allowed_weeks(rules: BookingRules, now: datetime) -> list[str]:
    """The calendar weeks the client may book in, this week first."""
    this_week = week_key(local_today(now, rules.time_zone))
    return [shift_week(this_week, n) for n in range(rules.booking_window_weeks)]


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
    if live_offer(slot, now) is not None:
        return "That slot is being held for someone else right now. Pick another time."
    if slot.week not in weeks:
        return OUTSIDE_WINDOW
    location = locations.get(slot.location_id)
    if slot.location_id not in client.location_ids or location is None or location.archived:
        return "That place is not one you can book at."
    if slot.start_utc <= now:
        return "That time has passed. Pick a later one."
    return None


def chosen_week(week: str, rules: BookingRules, now: datetime) -> str:
    """The week a picked slot is said to be in, if the client may book in it."""
    try:
        key = parse_week(week)
    except InvalidInput:
        raise InvalidInput({"_form": NOT_LISTED}) from None
    if key not in allowed_weeks(rules, now):
        raise InvalidInput({"_form": OUTSIDE_WINDOW})
    return key


def picked_slot(week_slots: list[Slot], slot_id: str) -> Slot:
    """The picked slot among its week's (read for this trainer only, so another trainer's
    id, or one from another week, is simply not there)."""
    for slot in week_slots:
        if slot.id == slot_id:
            return slot
    raise InvalidInput({"_form": GONE})


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


def inside_deadline(session: Session, rules: BookingRules, now: datetime) -> bool:
    return session.start_utc - now < timedelta(hours=rules.cancel_deadline_hours)


def client_may_change(session: Session, rules: BookingRules, now: datetime) -> bool:
    """A booked session still ahead and outside the deadline: the client may change or
    cancel it online."""
    return session.is_live and session.start_utc > now and not inside_deadline(session, rules, now)


def past_the_deadline(session: Session, rules: BookingRules, now: datetime) -> bool:
    """A booked session still ahead but inside the deadline: the client is pointed to
    the trainer instead."""
    return session.is_live and session.start_utc > now and inside_deadline(session, rules, now)


def deadline_message(rules: BookingRules, trainer_name: str) -> str:
    return (
        f"It is less than {hours_text(rules.cancel_deadline_hours)} before this session, so "
        f"it can no longer be changed or canceled online. Please contact {trainer_name}."
    )


def _refuse_inside_deadline(
    session: Session, rules: BookingRules, trainer_name: str, now: datetime
) -> None:
    if past_the_deadline(session, rules, now):
        raise InvalidInput({"deadline": deadline_message(rules, trainer_name)})


def client_cancellation(
    session: Session, rules: BookingRules, trainer_name: str, now: datetime
) -> Session:
    _refuse_inside_deadline(session, rules, trainer_name, now)
    return cancellation(session, now)


def client_move(
    session: Session,
    target: Slot,
    client: Client | PortalClient,
    rules: BookingRules,
    locations: dict[str, LocationName],
    trainer_name: str,
    new_session_id: str,
    now: datetime,
) -> tuple[Session, Session]:
    """A change made by the client: the deadline and the booking rules, then a move."""
    _refuse_inside_deadline(session, rules, trainer_name, now)
    if target.id == session.slot_id:
        raise InvalidInput({"_form": "That is the time you already have."})
    problem = booking_problem(target, client, locations, allowed_weeks(rules, now), now)
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

"""Travel time around one booking: what it reads, and what each booking path asks of it.

The rules are in domain/travel.py. Here: the slots around a booking (the week already
read by the page or the write, and the week before or after only for a slot within the
travel time of a week's edge), the words of a clash for the one reading them, and the
open neighbours the booking's write keeps open. With no travel time set (the default),
nothing is read and nothing changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.models import Trainer
from chalicelib.domain.schedule import Session, Slot
from chalicelib.domain.travel import TravelClash, booked_too_close, open_too_close, weeks_to_read
from chalicelib.repo.mapping import Week
from chalicelib.repo.repository import Repository

TRAVEL_OK = "travel_ok"  # the trainer's "Book anyway" tick, and where a clash is shown


@dataclass(frozen=True)
class Around:
    """The slots around a booking, and the sessions of the slot's own week (names)."""

    slots: tuple[Slot, ...]
    sessions: tuple[Session, ...] = ()

    def session_of(self, slot: Slot) -> Session | None:
        return next((s for s in self.sessions if s.id == slot.session_id), None)


def around(
    repo: Repository, trainer: Trainer, slot: Slot, week: Week | Sequence[Slot] | None = None
) -> Around:
    """The slot's week (as given, else one Query) and any edge week (one Query each,
    rarely). Nothing at all is read when the trainer allows no travel time."""
    travel = trainer.settings.travel_minutes
    if travel <= 0:
        return Around(())
    if week is None:
        week = repo.get_week_with_sessions(trainer.id, slot.week)
    slots = list(week.slots) if isinstance(week, Week) else list(week)
    sessions = tuple(week.sessions) if isinstance(week, Week) else ()
    for other_week in weeks_to_read(slot, travel):
        slots += repo.get_week(trainer.id, other_week)
    return Around(tuple(slots), sessions)


def _place(trainer: Trainer, location_id: str) -> str:
    location = trainer.locations.get(location_id)
    return location.name if location else "a deleted location"


def clash(
    trainer: Trainer,
    slot: Slot,
    near: Around,
    *,
    for_client: bool = False,
    moving: Session | None = None,
) -> TravelClash | None:
    """The booked session at another place too close to `slot`, in words for the trainer
    (the client's name) or for a client (never another client's name)."""
    travel = trainer.settings.travel_minutes
    other = booked_too_close(slot, near.slots, travel, moving=moving.id if moving else None)
    if other is None:
        return None
    session = near.session_of(other)
    named = session is not None and not for_client
    who = f"{session.client_name}'s session" if session and named else "another session"
    return TravelClash(
        slot=slot,
        place=_place(trainer, slot.location_id),
        other=other,
        other_place=_place(trainer, other.location_id),
        other_who=who,
        travel_minutes=travel,
    )


def neighbours(
    trainer: Trainer, slot: Slot, near: Around, *, moving: Session | None = None
) -> tuple[Slot, ...]:
    """The open slots the booking's write keeps open (parts.travel_neighbour_open)."""
    leaving = moving.slot_id if moving else None
    travel = trainer.settings.travel_minutes
    return tuple(open_too_close(slot, near.slots, travel, leaving=leaving))


def check_trainer_booking(
    trainer: Trainer,
    slot: Slot,
    near: Around,
    *,
    anyway: bool,
    moving: Session | None = None,
) -> tuple[Slot, ...]:
    """A trainer's booking (allocate, move, an offer sent): refused with both sessions
    named unless they ticked "Book anyway"; else the neighbours its write keeps open."""
    found = clash(trainer, slot, near, moving=moving)
    if found is not None:
        if not anyway:
            raise InvalidInput({TRAVEL_OK: found.message})
        return ()  # booked next to a session on purpose: nothing to keep open for it
    return neighbours(trainer, slot, near, moving=moving)


def check_client_booking(
    trainer: Trainer, slot: Slot, near: Around, *, moving: Session | None = None
) -> tuple[Slot, ...]:
    """A client's booking (portal, change, an offer accepted): refused outright."""
    found = clash(trainer, slot, near, for_client=True, moving=moving)
    if found is not None:
        raise InvalidInput({"_form": found.client_message})
    return neighbours(trainer, slot, near, moving=moving)

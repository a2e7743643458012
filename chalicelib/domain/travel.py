"""Travel time: the minutes a trainer needs between sessions at different locations.

A booking is "too close" when another session at another location ends (or starts)
less than the trainer's travel time away from it, in real time (UTC instants, so a
DST night counts the hours that really pass). Sessions at the same location may touch.
Open slots never clash with each other: only bookings do, since a trainer can stand in
an empty slot anywhere.

What the rule guards is an invariant over two items (two slots of a week), so the write
that books one also bumps the version of every open slot too close to it (see
`repo/parts.travel_neighbour_open`): a booking racing into a neighbour then fails on its
version, reads again and sees this one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from chalicelib.domain.schedule import Slot, week_days
from chalicelib.domain.timeutil import week_key

DAY_MINUTES: Final = 24 * 60


def gap_minutes(a: Slot, b: Slot) -> int:
    """Real minutes from the end of the earlier slot to the start of the later one."""
    earlier, later = (a, b) if a.start_utc <= b.start_utc else (b, a)
    delta = later.start_utc - earlier.end_utc
    return int(delta / timedelta(minutes=1))


def too_close(slot: Slot, other: Slot, travel_minutes: int) -> bool:
    return (
        travel_minutes > 0
        and other.id != slot.id
        and other.location_id != slot.location_id
        and gap_minutes(slot, other) < travel_minutes
    )


def booked_too_close(
    slot: Slot, slots: Iterable[Slot], travel_minutes: int, *, moving: str | None = None
) -> Slot | None:
    """The nearest booked slot at another location too close to `slot`, if any. The
    session being moved (`moving`) leaves its slot, so it never stands in the way."""
    clashes = [
        other
        for other in slots
        if other.session_id is not None
        and other.session_id != moving
        and too_close(slot, other, travel_minutes)
    ]
    return min(clashes, key=lambda other: gap_minutes(slot, other), default=None)


def open_too_close(
    slot: Slot, slots: Iterable[Slot], travel_minutes: int, *, leaving: str | None = None
) -> list[Slot]:
    """Open slots at other locations too close to `slot`: a booking of `slot` must
    keep them open (their versions) in its own write. `leaving` is the slot the same
    write frees (a move's source), which a transaction cannot name twice."""
    return [
        other
        for other in slots
        if other.session_id is None
        and other.id != leaving
        and too_close(slot, other, travel_minutes)
    ]


def weeks_to_read(slot: Slot, travel_minutes: int) -> list[str]:
    """The weeks besides the slot's own whose slots could be too close to it: the one
    before for a Monday slot starting within the travel time of midnight, the one after
    for a Sunday slot ending within it. Almost always none: a week is one Query."""
    if travel_minutes <= 0:
        return []
    days = week_days(slot.week)
    found: list[str] = []
    if slot.day == days[0] and slot.start < travel_minutes:
        found.append(week_key(days[0] - timedelta(days=1)))
    if slot.day == days[-1] and slot.end > DAY_MINUTES - travel_minutes:
        found.append(week_key(days[-1] + timedelta(days=1)))
    return found


@dataclass(frozen=True)
class TravelClash:
    """A booking that leaves too little time to get to or from another session: the
    words name both, as the one reading them may say them (the trainer: the client's
    name; a client: "another session", never someone else's name)."""

    slot: Slot  # the slot being booked
    place: str
    other: Slot  # the booked slot too close to it
    other_place: str
    other_who: str  # "Priya Shah's session" for the trainer, "another session" for a client
    travel_minutes: int

    @property
    def gap(self) -> int:
        return max(0, gap_minutes(self.slot, self.other))

    @property
    def message(self) -> str:
        room = self._room
        this = f"{self.slot.label} at {self.place}"
        that = f"{self.other_who} at {self.other_place} ({self.other.label})"
        rule = f"you allow {self.travel_minutes} minutes to get between places"
        if self.other.start_utc < self.slot.start_utc:
            return f"{that} leaves {room} to get to {this}: {rule}."
        return f"{this} leaves {room} to get to {that}: {rule}."

    def left_open(self, client_name: str) -> str:
        """Apply template's reason for adding the slot open instead of booking it."""
        return (
            f"left open: booking {client_name} would leave {self._room} to get to or from "
            f"{self.other_who} at {self.other_place} ({self.other.label}); you allow "
            f"{self.travel_minutes} minutes between places"
        )

    @property
    def _room(self) -> str:
        return "no time" if self.gap == 0 else f"only {self.gap} minutes"

    @property
    def client_message(self) -> str:
        room = self._room
        return (
            f"{self.slot.label} at {self.place} leaves {room} to get to or from "
            f"{self.other_who} at {self.other_place} ({self.other.label}): "
            "please pick another time."
        )

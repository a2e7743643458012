"""Last-minute offers: who matches a freed slot, and the lock an offer puts on it.

An offer locks an open slot for one client until `expires_at`. Whether a lock is live is
always decided by comparing `expires_at` with now, in code and in every write condition;
the `expire_offer_locks` job only tidies up (and logs) after the fact.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from chalicelib.domain.clients import Client
from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.schedule import Offer, Session, Slot
from chalicelib.domain.template import WeeklyTemplate


class Matchable(Protocol):
    """What matching needs of a client: a `Client`, or the client index's summary."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def archived(self) -> bool: ...
    @property
    def location_ids(self) -> tuple[str, ...]: ...


C = TypeVar("C", bound=Matchable)


def live_offer(slot: Slot, now: datetime) -> Offer | None:
    offer = slot.offer
    return offer if offer is not None and offer.live(now) else None


def can_be_offered(slot: Slot, now: datetime) -> bool:
    """Open, still ahead, and not held by a live offer: the only slots that can be amber
    (the schedule, the dashboard) or get an offer."""
    return slot.is_open and slot.start_utc > now and live_offer(slot, now) is None


def matching_clients(
    slot: Slot,
    clients: Mapping[str, C],
    opted_in: Mapping[str, Collection[str]],
    template: WeeklyTemplate,
    sessions: Iterable[Session],
) -> list[C]:
    """Active clients opted in to the slot's template time (weekday and start), with the
    slot's location enabled, and not already booked at that time. Pure: the schedule
    computes it from the week's Query and the set-up read (`opted_in`: template slot id ->
    the ids of the clients who ticked it; `clients` by id), no per-slot or per-client
    reads."""
    times = [
        t.id for t in template.slots if t.weekday == slot.day.weekday() and t.start == slot.start
    ]
    candidates = {cid for t in times for cid in opted_in.get(t, ())}
    if not candidates:
        return []
    busy = {
        s.client_id
        for s in sessions
        if s.is_live and s.start_utc < slot.end_utc and slot.start_utc < s.end_utc
    }
    return sorted(
        (
            c
            for cid in candidates - busy
            if (c := clients.get(cid)) is not None
            and not c.archived
            and slot.location_id in c.location_ids
        ),
        key=lambda c: c.name.casefold(),
    )


def offer_problem(
    slot: Slot, client_id: str, matches: Iterable[Matchable], now: datetime
) -> str | None:
    if not slot.is_open:
        return "This slot is booked now."
    if slot.start_utc <= now:
        return "This slot has started."
    if live_offer(slot, now) is not None:
        return "This slot is already offered to someone. Withdraw that offer first."
    if client_id not in {c.id for c in matches}:
        return "Choose one of the clients who match this slot."
    return None


def make_offer(
    slot: Slot,
    client: Client,
    offer_id: str,
    lock_minutes: int,
    matches: Iterable[Matchable],
    now: datetime,
) -> Offer:
    problem = offer_problem(slot, client.id, matches, now)
    if problem:
        raise InvalidInput({"client_id": problem})
    # UTC arithmetic: a lock made at 00:30 GMT on a spring-forward day ends 3600 s later,
    # at 02:30 BST, whatever the wall clock did in between.
    return Offer(
        id=offer_id,
        client_id=client.id,
        client_name=client.name,
        expires_at=now + timedelta(minutes=lock_minutes),
    )


def accepted_session_id(offer_id: str) -> str:
    """The session an accepted offer makes shares the offer's id, so the offer link can
    later tell its own client "this is yours" instead of "someone took it"."""
    return offer_id


def was_accepted(slot: Slot | None, offer_id: str) -> bool:
    """True when this slot is booked by accepting this very offer (and still is)."""
    return slot is not None and slot.session_id == accepted_session_id(offer_id)


def acceptance_problem(
    slot: Slot | None, offer_id: str, client_id: str, now: datetime
) -> str | None:
    """Why this offer cannot be accepted now, or None."""
    if slot is None:
        return "This slot no longer exists."
    offer = slot.offer
    if not slot.is_open:
        return "This slot has been booked."
    if offer is None or offer.id != offer_id or offer.client_id != client_id:
        return "This offer was withdrawn or has ended."
    if not offer.live(now):
        return "This offer has expired."
    return None

"""Builders for the things most tests need: a trainer with a location, clients, slots,
bookings and offers, made through the services and the repository's public methods.

The clock is the suite's usual Monday 23 Nov 2026 09:00 UTC (GMT, week 2026-W48).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from chalicelib import runtime
from chalicelib.domain.clients import AddClient, Client, SaveProfile
from chalicelib.domain.messages import WHATSAPP, Message
from chalicelib.domain.models import Trainer
from chalicelib.domain.schedule import AddSlot, Offer, Session, SessionRef, Slot, book
from chalicelib.domain.tokens import new_id, new_token, token_hash
from chalicelib.repo.repository import ClientLink, Repository
from chalicelib.services import account, clients, schedule, sessions

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday, GMT: week 2026-W48
WEDNESDAY = date(2026, 11, 25)
THURSDAY = date(2026, 11, 26)


def make_trainer(repo: Repository, email: str = "coach@example.com") -> Trainer:
    trainer = Trainer(id=email.split("@")[0], email=email, created_at=NOW)
    repo.create_trainer(trainer)
    return trainer


def trainer_of(repo: Repository, trainer_id: str) -> Trainer:
    found = repo.get_trainer(trainer_id)
    assert found is not None
    return found


def add_location(repo: Repository, trainer: Trainer, name: str = "Studio") -> tuple[Trainer, str]:
    """A new active location; returns the trainer re-read (its `locations` mirror filled)."""
    location = account.add_location(repo, trainer.id, name)
    return trainer_of(repo, trainer.id), location.id


def add_client(
    repo: Repository,
    trainer: Trainer,
    name: str = "Priya Shah",
    locations: tuple[str, ...] = (),
    *,
    email: str = "",
    recurring: tuple[str, ...] = (),
) -> Client:
    """A client with a portal link (and, given locations, those enabled): as saved."""
    contact = {"name": name, "phone": "07400 123456", "price": "40", "email": email}
    person = clients.add_client(
        repo, runtime.links(), trainer, AddClient.model_validate(contact), NOW
    )
    if not locations and not recurring:
        return person
    return clients.save_profile(
        repo,
        trainer,
        repo.get_account(trainer.id),
        person,
        SaveProfile.model_validate(
            {
                **contact,
                "version": str(person.version),
                "client_id": person.id,
                "location_ids": list(locations),
                "recurring": list(recurring),
            }
        ),
    )


def add_slot(
    repo: Repository,
    trainer: Trainer,
    location: str,
    start: str = "09:00",
    end: str = "10:00",
    day: date = WEDNESDAY,
) -> Slot:
    typed = AddSlot(day=day.isoformat(), start=start, end=end, location_id=location)
    return schedule.add_slot(repo, trainer, typed, NOW)


def allocate(repo: Repository, trainer: Trainer, slot: Slot, client: Client) -> Session:
    """The trainer books `client` into `slot` (must be the slot as stored now)."""
    return schedule.allocate(
        repo, runtime.links(), trainer, slot, client.id, str(slot.version), NOW
    )


def new_booking(slot: Slot, client: Client, now: datetime = NOW) -> Session:
    """A session for `client` in `slot`, not written yet (what a service would write)."""
    return book(slot, new_id(), client.id, client.name, "manual", now, client.price_minor)[1]


def slot_now(repo: Repository, trainer_id: str, slot: Slot) -> Slot | None:
    """The slot as stored now (None once removed)."""
    week = repo.get_week(trainer_id, slot.week)
    return next((s for s in week if s.id == slot.id), None)


def session_now(repo: Repository, trainer_id: str, session: Session) -> Session:
    ref = SessionRef(session.week, session.start_utc, session.id)
    return repo.get_session(trainer_id, ref)


def client_now(repo: Repository, trainer_id: str, client: Client) -> Client:
    return repo.get_client(trainer_id, client.id)


def message_for(
    client: Client,
    week: str,
    subject_id: str,
    *,
    kind: str = "offer",
    message_id: str | None = None,
    now: datetime = NOW,
    text: str = "A message",
) -> Message:
    return Message(
        id=message_id or new_id(),
        week=week,
        subject_id=subject_id,
        subject_ref="",
        client_id=client.id,
        client_name=client.name,
        kind=kind,
        channel=WHATSAPP,
        to=client.phone,
        text=text,
        created_at=now,
        next_attempt_at=now,
    )


@dataclass(frozen=True)
class Offered:
    slot: Slot  # as locked by the offer (what the trainer's page reads next)
    offer: Offer
    token: str  # the raw offer link token (only its hash is stored)


def offer_slot(
    repo: Repository,
    trainer: Trainer,
    slot: Slot,
    client: Client,
    *,
    now: datetime = NOW,
    minutes: int = 60,
) -> Offered:
    """Lock `slot` (as stored now) for `client` through the repository's offer write."""
    offer = Offer(
        id=new_id(),
        client_id=client.id,
        client_name=client.name,
        expires_at=now + timedelta(minutes=minutes),
    )
    token = new_token()
    locked = repo.offer_slot(
        trainer.id,
        slot,
        offer,
        message_for(client, slot.week, slot.id, now=now),
        ClientLink(token_hash(token), client.portal_generation),
        f"Offered to {client.name}",
        now,
    )
    return Offered(locked, offer, token)


def accepted_session(slot: Slot, offer: Offer, client: Client, now: datetime = NOW) -> Session:
    """The session accepting `offer` would write (it takes the offer's id)."""
    return book(slot, offer.id, client.id, client.name, "manual", now, client.price_minor)[1]


def link_for(trainer: Trainer, client: Client, session: Session) -> ClientLink:
    """The /s/ link item a new session is written with."""
    return sessions.link_for(runtime.links(), trainer.id, client, session)


def archive_location(repo: Repository, trainer_id: str, location_id: str) -> None:
    """Another tab archives the location (at its current version)."""
    location = repo.get_setup(trainer_id).location(location_id)
    account.set_location_archived(repo, trainer_id, location_id, True, location.version)


def archive_client(repo: Repository, trainer_id: str, client: Client) -> Client:
    """Another tab archives the client (at their current version)."""
    current = repo.get_client(trainer_id, client.id)
    return clients.archive(repo, trainer_id, current, current.version)


@dataclass(frozen=True)
class World:
    """A trainer with a studio and a park, and two clients, Priya and Omar."""

    trainer: Trainer
    studio: str
    park: str
    priya: Client
    omar: Client


def make_world(repo: Repository, *, clients_at_park: bool = False) -> World:
    """The usual scene of the stale-write tests; both clients train at the studio (and at
    the park too with `clients_at_park`)."""
    trainer = make_trainer(repo)
    trainer, studio = add_location(repo, trainer, "Studio")
    trainer, park = add_location(repo, trainer, "Park")
    places = (studio, park) if clients_at_park else (studio,)
    priya = add_client(repo, trainer, "Priya Shah", places)
    omar = add_client(repo, trainer, "Omar Haddad", places)
    return World(trainer, studio, park, priya, omar)

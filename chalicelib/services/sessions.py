"""Use cases on one session: payment, cancel, void (each logged in the same write), and
the trainer's Sessions tab and session page as view models."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import field_validator

from chalicelib.domain.clients import Client
from chalicelib.domain.commands import Versioned
from chalicelib.domain.errors import NotFound, expect_version
from chalicelib.domain.messages import LinkRef, Message
from chalicelib.domain.models import Trainer
from chalicelib.domain.portal import PortalClient
from chalicelib.domain.schedule import (
    PAYMENT_TYPES,
    LogEntry,
    Session,
    SessionRef,
    Slot,
    cancellation,
    change_start,
    change_stop,
    parse_session_ref,
    payment_change,
    trainer_move,
    voiding,
)
from chalicelib.domain.settings import format_money
from chalicelib.domain.tokens import new_id
from chalicelib.repo.repository import ClientLink, Repository
from chalicelib.services.deps import Deps
from chalicelib.services.links import Links


class SetPayment(Versioned):
    """Paid or unpaid, and how, for a session drawn at `version`."""

    paid: bool = False  # the radio sends "yes" or "no"; neither ticked is unpaid
    payment_type: str = ""  # checked against PAYMENT_TYPES by the rule, with its message

    @field_validator("version", mode="before")
    @classmethod
    def _garbled_is_stale(cls, value: Any) -> Any:
        # The page only ever sends the number it was drawn with: anything else is refused
        # as a stale page ("changed elsewhere"), not as a typo in a field nobody sees.
        if isinstance(value, str) and not (value.strip().isascii() and value.strip().isdigit()):
            return None
        return value


def submitted_version(version: int | None) -> str | None:
    """A command's version as `expect_version` compares it (None: no version sent)."""
    return None if version is None else str(version)


def _ref(ref_text: str) -> SessionRef:
    ref = parse_session_ref(ref_text)
    if ref is None:
        raise NotFound(ref_text)
    return ref


def open_session(
    repo: Repository, trainer_id: str, ref_text: str
) -> tuple[Session, list[LogEntry | Message]]:
    """The session and its change log with its messages, for the page."""
    return repo.get_session_with_log(trainer_id, _ref(ref_text))


def find_session(repo: Repository, trainer_id: str, ref_text: str) -> Session:
    """Just the session (one GetItem), for a change that may not need the log."""
    return repo.get_session(trainer_id, _ref(ref_text))


def set_payment(
    repo: Repository,
    trainer_id: str,
    session: Session,
    payment: SetPayment,
    now: datetime,
) -> Session:
    expect_version(session.version, submitted_version(payment.version))
    updated, text = payment_change(session, payment.paid, payment.payment_type, now)
    return repo.change_session(trainer_id, session, updated, "trainer", text, now)


def cancel(
    repo: Repository,
    trainer_id: str,
    session: Session,
    version: str | None,
    now: datetime,
    *,
    notice: Message | None = None,
) -> Session:
    """Cancel and free the slot; `notice` (the client's message) is queued in the same
    transaction, so a client is told exactly when the cancel happened, and once."""
    expect_version(session.version, version)
    canceled = cancellation(session, now)
    return repo.change_session(
        trainer_id,
        session,
        canceled,
        "trainer",
        "Canceled by the trainer; slot reopened"
        + ("; the client was told on WhatsApp" if notice else ""),
        now,
        free_slot=True,
        message=notice,
    )


def void(
    repo: Repository, trainer_id: str, session: Session, version: str | None, now: datetime
) -> Session:
    expect_version(session.version, version)
    voided = voiding(session, now)
    return repo.change_session(
        trainer_id, session, voided, "trainer", "Voided: the session did not happen", now
    )


def start_changing(
    repo: Repository, trainer_id: str, session: Session, version: str | None, now: datetime
) -> Session:
    """Mark the session Changing while the trainer picks a slot on the schedule."""
    expect_version(session.version, version)
    changing = change_start(session, now)
    if session.changing:
        return session  # already picking (a second tab, a double click): nothing to log
    return repo.change_session(
        trainer_id, session, changing, "trainer", "Change started: picking another slot", now
    )


def stop_changing(
    repo: Repository, trainer_id: str, session: Session, version: str | None, now: datetime
) -> Session:
    expect_version(session.version, version)
    return repo.change_session(
        trainer_id, session, change_stop(session), "trainer", "Change abandoned: slot kept", now
    )


def move_to(
    repo: Repository,
    links: Links,
    trainer_id: str,
    session: Session,
    target: Slot,
    version: str | None,
    now: datetime,
    actor: str = "trainer",
) -> Session:
    """Move the session to an open slot in one transaction; returns the new session."""
    expect_version(session.version, version)
    moved, replacement = trainer_move(session, target, new_id(), now)
    client = repo.get_client(trainer_id, session.client_id)  # for the new session's link
    repo.move_session(
        trainer_id,
        session,
        moved,
        replacement,
        target,
        actor,
        now,
        link_for(links, trainer_id, client, replacement),
    )
    return replacement


def link_for(
    links: Links, trainer_id: str, client: Client | PortalClient, session: Session
) -> ClientLink:
    """The client's /s/ link to a new session (stored as a hash, made with the session)."""
    generation = client.portal_generation
    return ClientLink(links.session_hash(trainer_id, client.id, generation, session.id), generation)


def encode_cursor(key: dict[str, str] | None) -> str | None:
    if not key:
        return None
    return base64.urlsafe_b64encode(json.dumps(key, sort_keys=True).encode()).decode()


def decode_cursor(text: str) -> dict[str, str] | None:
    """A page cursor from the URL, or None if it is missing or not one of ours."""
    if not text:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(text.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(key, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in key.items()
    ):
        return None
    return key


# Links in messages -------------------------------------------------------------------------
def portal_link_ref(base_url: str, trainer_id: str) -> Callable[[Client], LinkRef]:
    """Which portal link (/c/) a message carries: made again when it is sent or shown."""
    return lambda client: LinkRef(
        kind="portal",
        base=base_url,
        trainer_id=trainer_id,
        client_id=client.id,
        generation=client.portal_generation,
    )


def session_link_ref(base_url: str, trainer_id: str) -> Callable[[Client, Session], LinkRef]:
    """Which session link (/s/) a message carries: made again when it is sent or shown."""

    def link(client: Client, booking: Session) -> LinkRef:
        return LinkRef(
            kind="session",
            base=base_url,
            trainer_id=trainer_id,
            client_id=client.id,
            generation=client.portal_generation,
            target_id=booking.id,
        )

    return link


# Pages --------------------------------------------------------------------------------------
Which = Literal["upcoming", "past"]


@dataclass(frozen=True)
class SessionList:
    """One page of the Sessions tab (canceled sessions are not in the index it reads)."""

    which: Which
    sessions: tuple[Session, ...]
    next_cursor: str | None  # the next page, or None on the last
    first_page: bool
    places: Mapping[str, str]


def sessions_page(deps: Deps, trainer: Trainer, which: Which, after: str) -> SessionList:
    """The Sessions tab: one Query of the trainer's timeline, 20 a page."""
    found, last = deps.repo.trainer_sessions(
        trainer.id, deps.now, upcoming=which != "past", after=decode_cursor(after)
    )
    return SessionList(
        which=which,
        sessions=tuple(found),
        next_cursor=encode_cursor(last),
        first_page=not after,
        places={lid: loc.name for lid, loc in trainer.locations.items()},
    )


@dataclass(frozen=True)
class SessionDetail:
    """The trainer's page of one session, with its change log and messages."""

    session: Session
    log: tuple[LogEntry | Message, ...]
    past: bool
    location_name: str | None  # None: the location was deleted
    price: str | None  # formatted in the trainer's currency; None: no price recorded
    payment_ready: bool  # the bank details an invoice needs are complete
    payment_types: Mapping[str, str]
    send_id: str  # a fresh id for the send form: a double click queues one message
    confirming: str  # the destructive action asked for (?confirm=), while it can be done
    time_zone: str
    now: datetime  # the request's instant, for each message's delivery_label


def session_page(deps: Deps, trainer: Trainer, ref: str, confirming: str = "") -> SessionDetail:
    """A session's page: one read of the session with its log (the week partition)."""
    booking, log = open_session(deps.repo, trainer.id, ref)
    settings = trainer.settings
    location = trainer.locations.get(booking.location_id)
    return SessionDetail(
        session=booking,
        log=tuple(log),
        past=booking.is_past(deps.now),
        location_name=location.name if location else None,
        price=None
        if booking.price_minor is None
        else format_money(booking.price_minor, settings.currency, settings.locale),
        payment_ready=settings.payment.complete,
        payment_types=PAYMENT_TYPES,
        send_id=new_id(),
        confirming=confirming if booking.is_live else "",
        time_zone=settings.time_zone,
        now=deps.now,
    )

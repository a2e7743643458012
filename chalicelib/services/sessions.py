"""Use cases on one session: payment, cancel, void (each logged in the same write)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from chalicelib.domain.clients import Client
from chalicelib.domain.errors import NotFound, expect_version
from chalicelib.domain.messages import Message
from chalicelib.domain.portal import PortalClient
from chalicelib.domain.schedule import (
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
from chalicelib.domain.tokens import new_id
from chalicelib.repo.repository import ClientLink, Repository
from chalicelib.services.links import Links


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
    form: Mapping[str, str],
    now: datetime,
) -> Session:
    expect_version(session.version, form.get("version"))
    paid = form.get("paid") == "yes"
    updated, text = payment_change(session, paid, form.get("payment_type", ""), now)
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


@dataclass(frozen=True)
class SessionPage:
    sessions: list[Session]
    next_cursor: str | None


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


def list_sessions(
    repo: Repository, trainer_id: str, which: str, cursor: str, now: datetime
) -> SessionPage:
    found, last = repo.trainer_sessions(
        trainer_id, now, upcoming=which != "past", after=decode_cursor(cursor)
    )
    return SessionPage(found, encode_cursor(last))

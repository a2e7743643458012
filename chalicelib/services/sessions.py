"""Use cases on one session: payment, cancel, void (each logged in the same write)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from chalicelib.domain.errors import NotFound, VersionConflict
from chalicelib.domain.schedule import (
    LogEntry,
    Session,
    SessionRef,
    cancellation,
    parse_session_ref,
    payment_change,
    voiding,
)
from chalicelib.repo.repository import Repository


def _ref(ref_text: str) -> SessionRef:
    ref = parse_session_ref(ref_text)
    if ref is None:
        raise NotFound(ref_text)
    return ref


def open_session(
    repo: Repository, trainer_id: str, ref_text: str
) -> tuple[Session, list[LogEntry]]:
    """The session and its change log, for the page."""
    return repo.get_session_with_log(trainer_id, _ref(ref_text))


def find_session(repo: Repository, trainer_id: str, ref_text: str) -> Session:
    """Just the session (one GetItem), for a change that may not need the log."""
    return repo.get_session(trainer_id, _ref(ref_text))


def _expect_version(session: Session, submitted: str | None) -> None:
    if str(session.version) != (submitted or "").strip():
        raise VersionConflict()


def set_payment(
    repo: Repository,
    trainer_id: str,
    session: Session,
    form: Mapping[str, str],
    now: datetime,
) -> Session:
    _expect_version(session, form.get("version"))
    paid = form.get("paid") == "yes"
    updated, text = payment_change(session, paid, form.get("payment_type", ""), now)
    return repo.change_session(trainer_id, session, updated, "trainer", text, now)


def cancel(
    repo: Repository, trainer_id: str, session: Session, version: str | None, now: datetime
) -> Session:
    _expect_version(session, version)
    canceled = cancellation(session, now)
    return repo.change_session(
        trainer_id,
        session,
        canceled,
        "trainer",
        "Canceled by the trainer; slot reopened",
        now,
        free_slot=True,
    )


def void(
    repo: Repository, trainer_id: str, session: Session, version: str | None, now: datetime
) -> Session:
    _expect_version(session, version)
    voided = voiding(session, now)
    return repo.change_session(
        trainer_id, session, voided, "trainer", "Voided: the session did not happen", now
    )


@dataclass(frozen=True)
class SessionPage:
    sessions: list[Session]
    next_cursor: str | None


def _encode_cursor(key: dict[str, str] | None) -> str | None:
    if not key:
        return None
    return base64.urlsafe_b64encode(json.dumps(key, sort_keys=True).encode()).decode()


def _decode_cursor(text: str) -> dict[str, str] | None:
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
        trainer_id, now, upcoming=which != "past", after=_decode_cursor(cursor)
    )
    return SessionPage(found, _encode_cursor(last))

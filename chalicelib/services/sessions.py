"""Use cases on one session: payment, cancel, void (each logged in the same write)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from chalicelib.domain.errors import NotFound, VersionConflict
from chalicelib.domain.schedule import (
    LogEntry,
    Session,
    cancellation,
    parse_session_ref,
    payment_change,
    voiding,
)
from chalicelib.repo.repository import Repository


def open_session(
    repo: Repository, trainer_id: str, ref_text: str
) -> tuple[Session, list[LogEntry]]:
    ref = parse_session_ref(ref_text)
    if ref is None:
        raise NotFound(ref_text)
    return repo.get_session_with_log(trainer_id, ref)


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

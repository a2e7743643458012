"""The reminder job's reads and writes (docs/reminders.md).

A booked session carries DueWork keys `DUE#reminder` / `<next stage>#<session id>`
(`mapping.reminder_due_keys`). The job Queries what is due, reads the trainers and
clients of that page in one BatchGetItem, and for each session writes, in one
transaction, the reminder (if one goes) and the session's next stage (or no keys), both
conditional on what it read: the message `attribute_not_exists` on an id made from the
session, its start and the lead; the session at the version, status and DueSK read. Two
runs at once queue each reminder once; a session canceled or moved since the read is
left alone (the cancel dropped its keys; the move's new session has its own).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from chalicelib.domain.clients import Client
from chalicelib.domain.messages import Message
from chalicelib.domain.models import Trainer
from chalicelib.domain.schedule import Session
from chalicelib.domain.timeutil import utc_iso
from chalicelib.repo import keys
from chalicelib.repo.dynamo import (
    Condition,
    ConditionFailed,
    Db,
    Item,
    TransactionFailed,
    tx_update,
)
from chalicelib.repo.mapping import (
    REMINDER_DUE_KIND,
    client_from_item,
    reminder_due_keys,
    session_from_item,
    trainer_from_item,
)
from chalicelib.repo.parts import NEW_MESSAGE, due_next, message_parts

# The session is still exactly as the job read it: same version, still booked, and at the
# stage it was found at (another run has not moved it on).
SESSION_DUE_AS_READ: Final = "session due as read"
BATCH_GET_KEYS: Final = 100

Outcome = Literal["queued", "advanced", "already", "stale"]


@dataclass(frozen=True)
class DueSession:
    trainer_id: str
    session: Session
    due_sk: str  # as read: the write is conditional on it


def _session_key(trainer_id: str, session: Session) -> dict[str, str]:
    return keys.session(trainer_id, session.week, utc_iso(session.start_utc), session.id)


def _due_from(item: Item) -> DueSession:
    return DueSession(
        keys.trainer_id_from_week_pk(item[keys.PK]), session_from_item(item), item[keys.DUE_SK]
    )


class ReminderStore:
    def __init__(self, db: Db) -> None:
        self.db = db

    def due(
        self, now: datetime, limit: int, start_key: dict[str, str] | None = None
    ) -> tuple[list[DueSession], dict[str, str] | None]:
        """One page of sessions at a reminder stage by `now`, oldest first (pattern 15)."""
        items, last = self.db.query_page(
            keys.due_work(REMINDER_DUE_KIND),
            index=keys.DUE_INDEX,
            sk_range=("0", utc_iso(now) + "~"),
            forward=True,
            limit=limit,
            start_key=start_key,
        )
        return [_due_from(i) for i in items if i.get("type") == "session"], last

    def people(
        self, due: Iterable[DueSession]
    ) -> tuple[dict[str, Trainer], dict[tuple[str, str], Client]]:
        """The trainers (their settings) and clients of a page of due sessions, each read
        once, together: one BatchGetItem per 100 keys."""
        wanted: dict[tuple[str, str], dict[str, str]] = {}
        for d in due:
            wanted.setdefault((d.trainer_id, ""), keys.profile(d.trainer_id))
            key = (d.trainer_id, d.session.client_id)
            wanted.setdefault(key, keys.client(d.trainer_id, d.session.client_id))
        key_list = list(wanted.values())
        trainers: dict[str, Trainer] = {}
        clients: dict[tuple[str, str], Client] = {}
        for start in range(0, len(key_list), BATCH_GET_KEYS):
            for item in self.db.batch_get(key_list[start : start + BATCH_GET_KEYS]):
                trainer_id = keys.trainer_id_from_pk(item[keys.PK])
                if item[keys.SK] == keys.PROFILE_SK:
                    trainers[trainer_id] = trainer_from_item(item)
                else:
                    client = client_from_item(item)
                    clients[(trainer_id, client.id)] = client
        return trainers, clients

    def _next_stage(self, due: DueSession, next_at: datetime | None) -> dict[str, Any]:
        """The session moved on to its next stage (or out of the index), only if it is
        still as read. The version stays: the trainer's open forms are not made stale by
        a job that changed nothing they show."""
        action = due_next(due.session.id, next_at)
        return tx_update(
            _session_key(due.trainer_id, due.session),
            action,
            Condition(
                "#version = :read AND #status = :booked AND #due_sk = :seen",
                {"#version": "version", "#status": "status", "#due_sk": keys.DUE_SK},
                {":read": due.session.version, ":booked": "booked", ":seen": due.due_sk},
            ),
            part=SESSION_DUE_AS_READ,
        )

    def advance(
        self, due: DueSession, next_at: datetime | None, message: Message | None
    ) -> Outcome:
        """Queue `message` (if any) and move the session to `next_at`, in one transaction.

        "stale": the session changed since the read (canceled, moved, edited, or another
        run moved it on) and nothing was written. "already": the reminder was queued
        before (a later Put of the session had put its first stage back) and only the
        session moved on."""
        operations = [self._next_stage(due, next_at)]
        if message is not None:
            operations[:0] = message_parts(due.trainer_id, [message])
        try:
            self.db.transact(operations)
        except TransactionFailed as exc:
            if message is None or exc.refused(SESSION_DUE_AS_READ):
                return "stale"
            if exc.refused(NEW_MESSAGE):
                return "already" if self.advance(due, next_at, None) == "advanced" else "stale"
            raise
        return "queued" if message is not None else "advanced"

    # Sessions written before reminders: `python -m infra.manage reminder-keys` --------
    def backfill(self, trainer_id: str, now: datetime) -> int:
        """Give a trainer's upcoming booked sessions that carry no reminder keys the keys a
        write of them would now set. One paged Query of TrainerTimeline from `now`
        (pattern 35's range: every live session ahead, however far), then one
        conditional UpdateItem per session: still booked, at the version read, and still
        without keys (a session written since has its own). Running it again writes
        nothing."""
        written = 0
        for item in self.db.iter_query(
            keys.trainer_timeline(trainer_id),
            index=keys.TRAINER_INDEX,
            sk_range=(keys.timeline_point(utc_iso(now)), "~"),
        ):
            if item.get("type") != "session" or keys.DUE_PK in item:
                continue
            session = session_from_item(item)
            due_keys = reminder_due_keys(session)
            if due_keys[keys.DUE_PK] is None:
                continue  # voided
            try:
                self.db.update(
                    _session_key(trainer_id, session),
                    Condition(
                        "SET #due_pk = :pk, #due_sk = :sk",
                        {"#due_pk": keys.DUE_PK, "#due_sk": keys.DUE_SK},
                        {":pk": due_keys[keys.DUE_PK], ":sk": due_keys[keys.DUE_SK]},
                    ),
                    Condition(
                        "attribute_not_exists(#due_pk) AND #status = :booked AND #version = :read",
                        {"#due_pk": keys.DUE_PK, "#status": "status", "#version": "version"},
                        {":booked": "booked", ":read": session.version},
                    ),
                )
            except ConditionFailed:
                continue
            written += 1
        return written

"""The message outbox in the table: mapping and the dispatcher's conditional writes.

Each message item sits in its subject's week partition (beside the change log) and is
also indexed three ways:
- TrainerTimeline `T#<tid>#MSG`: the WhatsApp tab, newest first;
- ClientTimeline `T#<tid>#C#<cid>#MSG`: the same, filtered to one client;
- DueWork `DUE#message` (sparse): while it waits to be sent, or while a dispatcher holds
  it; the attributes are removed once the message is sent or has failed for good.

Every state change is conditional on the state the writer saw, so two dispatcher runs,
or a dispatcher and a delivery webhook, never both win.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any, Final

from chalicelib.domain.messages import DELIVERY_FROM, LinkRef, Message
from chalicelib.domain.schedule import parse_session_ref
from chalicelib.domain.timeutil import parse_utc_iso, utc_iso
from chalicelib.repo import keys
from chalicelib.repo.dynamo import (
    Condition,
    ConditionFailed,
    Db,
    Item,
    TransactionFailed,
    tx_check,
    tx_update,
)

MESSAGE_DUE_KIND = "message"

# A reminder's claim (Outbox.claim) also checks its session is still booked at its start.
REMINDER_KIND: Final = "reminder"
SKIPPED: Final = "skipped"
CLAIM: Final = "claim message"
SESSION_STILL_BOOKED: Final = "session still booked"
SESSION_GONE: Final = "Not sent: the session was canceled or moved before the reminder went."


def message_key(trainer_id: str, message: Message) -> dict[str, str]:
    return keys.message(trainer_id, message.week, message.subject_id, message.id)


def message_to_item(trainer_id: str, message: Message) -> Item:
    created = utc_iso(message.created_at)
    due = message.next_attempt_at if message.status in ("queued", "sending") else None
    return {
        **message_key(trainer_id, message),
        keys.TRAINER_PK: keys.trainer_messages(trainer_id),
        keys.TRAINER_SK: keys.message_timeline_sk(created, message.id),
        keys.CLIENT_PK: keys.client_messages(trainer_id, message.client_id),
        keys.CLIENT_SK: keys.message_timeline_sk(created, message.id),
        keys.DUE_PK: keys.due_work(MESSAGE_DUE_KIND) if due else None,
        keys.DUE_SK: keys.due_sk(utc_iso(due), message.id) if due else None,
        "type": "message",
        "trainer_id": trainer_id,
        "id": message.id,
        "week": message.week,
        "subject_id": message.subject_id,
        "subject_ref": message.subject_ref,
        "client_id": message.client_id,
        "client_name": message.client_name,
        "kind": message.kind,
        "channel": message.channel,
        "to": message.to,
        "subject": message.subject or None,
        "from_name": message.from_name or None,
        "reply_to": message.reply_to or None,
        "text": message.text,
        "link": message.link.model_dump() if message.link else None,
        "variables": message.variables or None,
        "template": message.template or None,
        "status": message.status,
        "attempts": message.attempts,
        "provider": message.provider,
        "provider_id": message.provider_id,
        "error": message.error,
        "created_at": created,
        "next_attempt_at": utc_iso(due) if due else None,
    }


def message_from_item(item: Item) -> Message:
    next_at = item.get("next_attempt_at")
    return Message(
        id=item["id"],
        week=item["week"],
        subject_id=item["subject_id"],
        subject_ref=item["subject_ref"],
        client_id=item["client_id"],
        client_name=item["client_name"],
        kind=item["kind"],
        channel=item["channel"],
        to=item["to"],
        subject=item.get("subject") or "",
        from_name=item.get("from_name") or "",
        reply_to=item.get("reply_to") or "",
        text=item["text"],
        link=LinkRef.model_validate(item["link"]) if item.get("link") else None,
        variables=item.get("variables") or {},
        template=item.get("template") or "",
        status=item["status"],
        attempts=item.get("attempts", 0),
        provider=item.get("provider"),
        provider_id=item.get("provider_id"),
        error=item.get("error"),
        created_at=parse_utc_iso(item["created_at"]),
        sent_at=(
            parse_utc_iso(item["updated_at"])
            if item.get("status") == "sent" and item.get("updated_at")
            else None
        ),
        next_attempt_at=parse_utc_iso(next_at) if next_at else None,
    )


def _claimed_by(message: Message) -> Condition:
    """Still held by the dispatcher run that claimed it (attempt numbers are unique)."""
    return Condition(
        "#status = :sending AND #attempts = :attempts",
        {"#status": "status", "#attempts": "attempts"},
        {":sending": "sending", ":attempts": message.attempts},
    )


_REMOVE_DUE = "REMOVE #due_pk, #due_sk, #next"
_DUE_NAMES = {"#due_pk": keys.DUE_PK, "#due_sk": keys.DUE_SK, "#next": "next_attempt_at"}


def due_items(db: Db, kind: str, now: datetime, limit: int) -> list[Item]:
    """Items of one kind of scheduled work due by `now`, oldest first (sparse DueWork)."""
    return db.query(
        keys.due_work(kind), index=keys.DUE_INDEX, sk_range=("0", utc_iso(now) + "~"), limit=limit
    )


class Outbox:
    def __init__(self, db: Db) -> None:
        self.db = db

    def due(self, now: datetime, limit: int = 50) -> list[tuple[str, Message]]:
        """(trainer id, message) waiting to be sent or held past their lease, oldest first."""
        items = due_items(self.db, MESSAGE_DUE_KIND, now, limit)
        return [(i["trainer_id"], message_from_item(i)) for i in items]

    def claim(
        self, trainer_id: str, message: Message, now: datetime, lease_until: datetime
    ) -> Message | None:
        """Take a queued message for one send attempt; None if another run has it."""
        claimed = message.model_copy(
            update={
                "status": "sending",
                "attempts": message.attempts + 1,
                "next_attempt_at": lease_until,
            }
        )
        take = Condition(
            "SET #status = :sending, #attempts = :attempts, #due_sk = :lease, "
            "#next = :lease_at, #updated = :now",
            {
                "#status": "status",
                "#attempts": "attempts",
                "#due_sk": keys.DUE_SK,
                "#next": "next_attempt_at",
                "#updated": "updated_at",
            },
            {
                ":sending": "sending",
                ":attempts": claimed.attempts,
                ":lease": keys.due_sk(utc_iso(lease_until), message.id),
                ":lease_at": utc_iso(lease_until),
                ":now": utc_iso(now),
            },
        )
        still_queued = Condition(
            "#status = :queued AND #attempts = :seen",
            {"#status": "status", "#attempts": "attempts"},
            {":queued": "queued", ":seen": message.attempts},
        )
        if message.kind == REMINDER_KIND:
            return self._claim_reminder(trainer_id, message, claimed, take, still_queued, now)
        try:
            self.db.update(message_key(trainer_id, message), take, still_queued)
        except ConditionFailed:
            return None
        return claimed

    def _claim_reminder(
        self,
        trainer_id: str,
        message: Message,
        claimed: Message,
        take: Condition,
        still_queued: Condition,
        now: datetime,
    ) -> Message | None:
        """A reminder is claimed only with its session still booked at that start, in one
        transaction: a session canceled or moved after the reminder was queued refuses the
        claim by itself, and the reminder leaves the queue as "skipped", in words. Returns
        the claimed message, the skipped one (never to be sent), or None (another run)."""
        ref = parse_session_ref(message.subject_ref)
        if ref is None:  # not a session's reminder: nothing it could still be right about
            return self._skip(trainer_id, message, SESSION_GONE, now, still_queued)
        booked = Condition(
            "#status = :booked AND #start = :start",
            {"#status": "status", "#start": "start_utc"},
            {":booked": "booked", ":start": utc_iso(ref.start_utc)},
        )
        operations = [
            tx_update(message_key(trainer_id, message), take, still_queued, part=CLAIM),
            tx_check(
                keys.session(trainer_id, ref.week, utc_iso(ref.start_utc), ref.id),
                booked,
                part=SESSION_STILL_BOOKED,
            ),
        ]
        try:
            self.db.transact(operations)
        except TransactionFailed as exc:
            if exc.refused(CLAIM):
                return None  # another run has it (or it is no longer queued)
            return self._skip(trainer_id, message, SESSION_GONE, now, still_queued)
        return claimed

    def _skip(
        self, trainer_id: str, message: Message, error: str, now: datetime, seen: Condition
    ) -> Message | None:
        """Out of the queue for good, never sent: what it was about is gone."""
        try:
            self.db.update(
                message_key(trainer_id, message),
                Condition(
                    f"SET #status = :skipped, #error = :error, #updated = :now {_REMOVE_DUE}",
                    {
                        "#status": "status",
                        "#error": "error",
                        "#updated": "updated_at",
                        **_DUE_NAMES,
                    },
                    {":skipped": SKIPPED, ":error": error, ":now": utc_iso(now)},
                ),
                seen,
            )
        except ConditionFailed:
            return None
        return message.model_copy(update={"status": SKIPPED, "error": error})

    def mark_sent(
        self, trainer_id: str, message: Message, provider: str, provider_id: str, now: datetime
    ) -> None:
        key = message_key(trainer_id, message)
        values: dict[str, Any] = {":provider": provider, ":pid": provider_id, ":now": utc_iso(now)}
        try:
            self.db.update(
                key,
                Condition(
                    "SET #status = :sent, #provider = :provider, #pid = :pid, #updated = :now "
                    f"{_REMOVE_DUE}, #error",
                    {
                        "#status": "status",
                        "#provider": "provider",
                        "#pid": "provider_id",
                        "#updated": "updated_at",
                        "#error": "error",
                        **_DUE_NAMES,
                    },
                    {**values, ":sent": "sent"},
                ),
                _claimed_by(message),
            )
        except ConditionFailed:
            # A delivery report got there first and already moved the status on: keep
            # it, just record which provider message this is. Only for this attempt: a
            # run whose claim was taken over by a later attempt records nothing.
            with contextlib.suppress(ConditionFailed):
                self.db.update(
                    key,
                    Condition(
                        "SET #provider = :provider, #pid = :pid, #updated = :now",
                        {"#provider": "provider", "#pid": "provider_id", "#updated": "updated_at"},
                        values,
                    ),
                    Condition(
                        "#attempts = :attempts AND NOT #status IN (:queued, :sending)",
                        {"#attempts": "attempts", "#status": "status"},
                        {
                            ":attempts": message.attempts,
                            ":queued": "queued",
                            ":sending": "sending",
                        },
                    ),
                )

    def retry_later(
        self, trainer_id: str, message: Message, error: str, at: datetime, now: datetime
    ) -> bool:
        try:
            self.db.update(
                message_key(trainer_id, message),
                Condition(
                    "SET #status = :queued, #error = :error, #due_sk = :due, #next = :at, "
                    "#updated = :now",
                    {
                        "#status": "status",
                        "#error": "error",
                        "#due_sk": keys.DUE_SK,
                        "#next": "next_attempt_at",
                        "#updated": "updated_at",
                    },
                    {
                        ":queued": "queued",
                        ":error": error,
                        ":due": keys.due_sk(utc_iso(at), message.id),
                        ":at": utc_iso(at),
                        ":now": utc_iso(now),
                    },
                ),
                _claimed_by(message),
            )
        except ConditionFailed:
            return False
        return True

    def mark_failed(
        self, trainer_id: str, message: Message, error: str, now: datetime, *, held: bool = True
    ) -> bool:
        """Failed for good. `held`: the caller holds the claim; otherwise the message
        is an abandoned claim whose lease ran out, still at the attempt it was seen."""
        try:
            self.db.update(
                message_key(trainer_id, message),
                Condition(
                    f"SET #status = :failed, #error = :error, #updated = :now {_REMOVE_DUE}",
                    {
                        "#status": "status",
                        "#error": "error",
                        "#updated": "updated_at",
                        **_DUE_NAMES,
                    },
                    {":failed": "failed", ":error": error, ":now": utc_iso(now)},
                ),
                _claimed_by(message)
                if held
                else Condition(
                    "#status = :sending AND #attempts = :attempts AND #due_sk = :due",
                    {"#status": "status", "#attempts": "attempts", "#due_sk": keys.DUE_SK},
                    {
                        ":sending": "sending",
                        ":attempts": message.attempts,
                        ":due": keys.due_sk(utc_iso(message.next_attempt_at or now), message.id),
                    },
                ),
            )
        except ConditionFailed:
            return False
        return True

    def record_delivery(
        self,
        trainer_id: str,
        week: str,
        subject_id: str,
        message_id: str,
        status: str,
        now: datetime,
        *,
        provider_id: str | None = None,
        error: str | None = None,
    ) -> bool:
        """A provider's delivery report, applied only if it moves the message forward.
        False when it was stale, replayed, out of order or for an unknown message."""
        allowed_from = DELIVERY_FROM.get(status)
        if not allowed_from:
            return False
        names = {"#status": "status", "#updated": "updated_at", **_DUE_NAMES}
        values: dict[str, Any] = {":new": status, ":now": utc_iso(now)}
        sets = ["#status = :new", "#updated = :now"]
        if provider_id:
            names["#pid"] = "provider_id"
            values[":pid"] = provider_id
            sets.append("#pid = if_not_exists(#pid, :pid)")
        if error:
            names["#error"] = "error"
            values[":error"] = error
            sets.append("#error = :error")
        placeholders = []
        for index, state in enumerate(allowed_from):
            values[f":from{index}"] = state
            placeholders.append(f":from{index}")
        try:
            self.db.update(
                keys.message(trainer_id, week, subject_id, message_id),
                Condition(f"SET {', '.join(sets)} {_REMOVE_DUE}", names, values),
                Condition(
                    f"attribute_exists(#pk) AND #status IN ({', '.join(placeholders)})",
                    {"#pk": keys.PK, "#status": "status"},
                    {k: values[k] for k in placeholders},
                ),
            )
        except ConditionFailed:
            return False
        return True

    def page(
        self,
        trainer_id: str,
        client_id: str | None,
        after: dict[str, str] | None,
        limit: int = 25,
    ) -> tuple[list[Message], dict[str, str] | None]:
        """One page of the WhatsApp tab, newest first; optionally one client's only."""
        if client_id:
            pk, index = keys.client_messages(trainer_id, client_id), keys.CLIENT_INDEX
        else:
            pk, index = keys.trainer_messages(trainer_id), keys.TRAINER_INDEX
        pk_name = keys.INDEX_KEYS[index][0]
        if after is not None and after.get(pk_name) != pk:
            after = None  # a cursor from another list, trainer or a tampered URL
        items, last = self.db.query_page(
            pk,
            index=index,
            sk_range=("0", "~"),
            forward=False,
            limit=limit,
            start_key=after,
        )
        return [message_from_item(i) for i in items], last

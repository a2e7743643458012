"""What an SES bounce or complaint changes: the message fails, the client's address is
marked bouncing. Two conditional writes, each applied once however often SNS delivers
the same event (services/email_events.py).

- The message moves to failed only from a state a delivery report may move it from
  (`DELIVERY_FROM`), and only if it is an email: a replay finds it failed already.
- The client is marked only while their address is still the one the email went to and
  not marked yet: an address edited since (the trainer fixed it) is never marked by a
  late event, and the version moves once, so a profile form drawn before the bounce is
  refused as stale instead of writing the flag away.
"""

from __future__ import annotations

from datetime import datetime

from chalicelib.domain.messages import DELIVERY_FROM, EMAIL, Message
from chalicelib.domain.timeutil import utc_iso
from chalicelib.repo import keys
from chalicelib.repo.dynamo import Condition, ConditionFailed, Db
from chalicelib.repo.outbox import message_from_item

FAILED = "failed"


class EmailBounces:
    def __init__(self, db: Db) -> None:
        self.db = db

    def fail_message(
        self,
        trainer_id: str,
        week: str,
        subject_id: str,
        message_id: str,
        error: str,
        now: datetime,
    ) -> tuple[bool, Message | None]:
        """(whether it moved to failed, the message as it is now): one UpdateItem, no
        read first; a refused write still says which message it was (the item as the
        condition found it), so the client can be marked on a redelivery after a crash."""
        allowed = DELIVERY_FROM[FAILED]
        placeholders = {f":from{i}": state for i, state in enumerate(allowed)}
        try:
            item = self.db.update(
                keys.message(trainer_id, week, subject_id, message_id),
                Condition(
                    "SET #status = :failed, #error = :error, #updated = :now "
                    "REMOVE #due_pk, #due_sk, #next",
                    {
                        "#status": "status",
                        "#error": "error",
                        "#updated": "updated_at",
                        "#due_pk": keys.DUE_PK,
                        "#due_sk": keys.DUE_SK,
                        "#next": "next_attempt_at",
                    },
                    {":failed": FAILED, ":error": error, ":now": utc_iso(now)},
                ),
                Condition(
                    "attribute_exists(#pk) AND #channel = :email "
                    f"AND #status IN ({', '.join(placeholders)})",
                    {"#pk": keys.PK, "#channel": "channel", "#status": "status"},
                    {":email": EMAIL, **placeholders},
                ),
                return_new=True,
            )
        except ConditionFailed as refused:
            old = refused.old_item
            return False, message_from_item(old) if old and old.get("type") == "message" else None
        return True, message_from_item(item) if item else None

    def mark_client_bouncing(self, trainer_id: str, client_id: str, address: str) -> bool:
        """Mark the client's address bouncing, if it is still `address` and not marked."""
        try:
            self.db.update(
                keys.client(trainer_id, client_id),
                Condition(
                    "SET #bouncing = :yes, #version = #version + :one",
                    {"#bouncing": "email_bouncing", "#version": "version"},
                    {":yes": True, ":one": 1},
                ),
                Condition(
                    "attribute_exists(#pk) AND #email = :address "
                    "AND (attribute_not_exists(#bouncing) OR #bouncing <> :yes)",
                    {"#pk": keys.PK, "#email": "email", "#bouncing": "email_bouncing"},
                    {":address": address, ":yes": True},
                ),
            )
        except ConditionFailed:
            return False
        return True

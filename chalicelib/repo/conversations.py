"""Inbound WhatsApp messages and each client's conversation summary.

- An inbound message is one item keyed by the provider's message id
  (`INBOUND#<provider>#<id>`), written `attribute_not_exists`: a replayed webhook writes
  nothing. Matched to a client it carries ClientTimeline keys (`T#<tid>#C#<cid>#IN`);
  a shared number or an unknown one carries TrainerTimeline keys (the trainer's
  `T#<tid>#INBOX`, or the stage's `STAGE#INBOX` for ops).
- The summary (`T#<tid>#C#<cid>/CONV`) holds `last_inbound_at` and `unread`, moved in
  the message's own transaction. The time only moves forward: an older message delivered
  late is kept and counted without moving it back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from chalicelib.domain.conversations import InboundMatch, Received
from chalicelib.domain.timeutil import parse_utc_iso, utc_iso
from chalicelib.repo import keys
from chalicelib.repo.dynamo import (
    Condition,
    Db,
    Item,
    TransactionFailed,
    new_item,
    tx_put,
    tx_update,
)

NEW_INBOUND: Final = "new inbound"
LAST_INBOUND_FORWARD: Final = "last inbound moves forward"


def inbound_to_item(message: Received, match: InboundMatch) -> Item:
    received = utc_iso(message.received_at)
    timeline_sk = keys.timeline_point(received) + "#" + message.provider_message_id
    item: Item = {
        **keys.inbound(message.provider, message.provider_message_id),
        "type": "inbound",
        "match": match.kind,
        "trainer_id": match.trainer_id,
        "client_id": match.client_id,
        "client_ids": list(match.client_ids) or None,
        "provider": message.provider,
        "provider_id": message.provider_message_id,
        "from": message.from_e164,
        "to": message.to,
        "text": message.text,
        "kind": message.kind,
        "received_at": received,
    }
    if match.kind == "client" and match.trainer_id and match.client_id:
        item[keys.CLIENT_PK] = keys.client_inbound(match.trainer_id, match.client_id)
        item[keys.CLIENT_SK] = timeline_sk
    else:
        item[keys.TRAINER_PK] = (
            keys.trainer_unmatched_inbound(match.trainer_id)
            if match.trainer_id
            else keys.STAGE_UNMATCHED_INBOUND
        )
        item[keys.TRAINER_SK] = timeline_sk
    return item


class ConversationStore:
    def __init__(self, db: Db) -> None:
        self.db = db

    def record_inbound(self, message: Received, match: InboundMatch) -> bool:
        """Writes the message once; False when it was already there (a replay)."""
        put = tx_put(inbound_to_item(message, match), new_item(), part=NEW_INBOUND)
        if match.kind != "client" or not match.trainer_id or not match.client_id:
            try:
                self.db.transact([put])
            except TransactionFailed as exc:
                if exc.refused(NEW_INBOUND):
                    return False
                raise
            return True
        summary = keys.conversation(match.trainer_id, match.client_id)
        at = utc_iso(message.received_at)
        forward = tx_update(
            summary,
            Condition(
                "SET last_inbound_at = :at ADD unread :one",
                values={":at": at, ":one": 1},
            ),
            Condition(
                "attribute_not_exists(last_inbound_at) OR last_inbound_at < :at",
                values={":at": at},
            ),
            part=LAST_INBOUND_FORWARD,
        )
        try:
            self.db.transact([put, forward])
            return True
        except TransactionFailed as exc:
            if exc.refused(NEW_INBOUND):
                return False
            if not exc.refused(LAST_INBOUND_FORWARD):
                raise
        # Delivered out of order: a later message already moved the time. Keep this one
        # and count it unread; the time stays the later one.
        count_only = tx_update(
            summary, Condition("ADD unread :one", values={":one": 1}), part=LAST_INBOUND_FORWARD
        )
        try:
            self.db.transact([put, count_only])
        except TransactionFailed as exc:
            if exc.refused(NEW_INBOUND):
                return False
            raise
        return True

    def last_inbound_at(self, trainer_id: str, client_id: str) -> datetime | None:
        item = self.db.get(keys.conversation(trainer_id, client_id))
        at = (item or {}).get("last_inbound_at")
        return parse_utc_iso(at) if at else None

    def unread(self, trainer_id: str, client_id: str) -> int:
        item = self.db.get(keys.conversation(trainer_id, client_id))
        return int((item or {}).get("unread", 0))

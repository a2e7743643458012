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

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from chalicelib.domain.clients import Client
from chalicelib.domain.conversations import (
    ConversationSummary,
    InboundMatch,
    InboundMessage,
    Received,
    preview,
)
from chalicelib.domain.errors import Conflict
from chalicelib.domain.messages import LINK_PLACEHOLDER, Message
from chalicelib.domain.timeutil import parse_utc_iso, utc_iso
from chalicelib.repo import keys
from chalicelib.repo.dynamo import (
    Condition,
    ConditionFailed,
    Db,
    Item,
    TransactionFailed,
    new_item,
    tx_put,
    tx_update,
)
from chalicelib.repo.mapping import client_from_item
from chalicelib.repo.outbox import message_from_item
from chalicelib.repo.parts import (
    CLIENT_ACTIVE,
    NEW_MESSAGE,
    WINDOW_OPEN,
    ClientUnavailable,
    client_is_active,
    conversation_update,
    new_message,
)

NEW_INBOUND: Final = "new inbound"
LAST_INBOUND_FORWARD: Final = "last inbound moves forward"
# A page of the tab, and of a conversation: what a phone shows in a scroll or two.
PAGE: Final = 20
NUMBER_ROW_FORWARD: Final = "number row moves forward"


class WindowClosed(Conflict):
    """The client's 24-hour window closed before the reply was written."""


@dataclass(frozen=True)
class ConversationState:
    unread: int
    last_inbound_at: datetime | None


@dataclass(frozen=True)
class ThreadEntry:
    position: str  # the timeline's sort key: `<instant, compact>#<id>`
    entry: Message | InboundMessage


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
        "replied_to": message.replied_to or None,
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
            return self._record_unmatched(put, message, match)
        summary = keys.conversation(match.trainer_id, match.client_id)
        at = utc_iso(message.received_at)
        index_sets, index_names, index_values = _index_entry(
            keys.trainer_conversations(match.trainer_id),
            keys.conversation_index_sk(at, match.client_id),
            message,
        )
        forward = tx_update(
            summary,
            Condition(
                f"SET last_inbound_at = :at, #client = :client, {index_sets} ADD unread :one",
                {**index_names, "#client": "client_id"},
                {**index_values, ":at": at, ":one": 1, ":client": match.client_id},
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

    # The WhatsApp tab ------------------------------------------------------------------
    def _record_unmatched(
        self, put: dict[str, Any], message: Received, match: InboundMatch
    ) -> bool:
        """A shared or unknown number: the message, and (on a trainer's side) that number's
        row of the tab, moved forward only (an older message delivered late is kept
        without moving the row back). Nothing moves for the stage's own inbox."""
        if match.trainer_id is None:
            try:
                self.db.transact([put])
            except TransactionFailed as exc:
                if exc.refused(NEW_INBOUND):
                    return False
                raise
            return True
        at = utc_iso(message.received_at)
        number_id = keys.number_conversation_id(message.from_e164)
        sets, names, values = _index_entry(
            keys.trainer_conversations(match.trainer_id),
            keys.conversation_index_sk(at, number_id),
            message,
        )
        row = tx_update(
            keys.number_conversation(match.trainer_id, message.from_e164),
            Condition(
                f"SET {sets}, #match = :match, #number = :number, #clients = :clients",
                {**names, "#match": "match", "#number": "number", "#clients": "client_ids"},
                {
                    **values,
                    ":match": match.kind,
                    ":number": message.from_e164,
                    ":clients": list(match.client_ids),
                },
            ),
            Condition("attribute_not_exists(#at) OR #at < :at", {"#at": "last_at"}, {":at": at}),
            part=NUMBER_ROW_FORWARD,
        )
        for operations in ([put, row], [put]):
            try:
                self.db.transact(operations)
                return True
            except TransactionFailed as exc:
                if exc.refused(NEW_INBOUND):
                    return False
                if not exc.refused(NUMBER_ROW_FORWARD):
                    raise
        return True  # unreachable: the second try has no row part to refuse

    def summaries(
        self, trainer_id: str, after: dict[str, str] | None, limit: int = PAGE
    ) -> tuple[list[ConversationSummary], dict[str, str] | None]:
        """One page of the tab, most recent activity first: one Query of the trainer's
        conversation index, whatever the number of clients or messages."""
        if after is not None and not _our_cursor(after, trainer_id):
            after = None  # another list's cursor, another trainer's, or a tampered URL
        items, last = self.db.query_page(
            keys.trainer_conversations(trainer_id),
            index=keys.TRAINER_INDEX,
            sk_range=("0", "~"),
            forward=False,
            limit=limit,
            start_key=after,
        )
        return [summary_from_item(i) for i in items], last

    def open(self, trainer_id: str, client_id: str) -> tuple[Client | None, ConversationState]:
        """The client and their conversation summary in one BatchGetItem (two partitions):
        None for a client that is not this trainer's."""
        client_key = keys.client(trainer_id, client_id)
        summary_key = keys.conversation(trainer_id, client_id)
        by_pk = {i[keys.PK]: i for i in self.db.batch_get([client_key, summary_key])}
        client_item = by_pk.get(client_key[keys.PK])
        summary = by_pk.get(summary_key[keys.PK]) or {}
        at = summary.get("last_inbound_at")
        state = ConversationState(
            unread=int(summary.get("unread", 0)),
            last_inbound_at=parse_utc_iso(at) if at else None,
        )
        return (client_from_item(client_item) if client_item else None), state

    def thread(
        self, trainer_id: str, client_id: str, before: str | None, limit: int = PAGE
    ) -> tuple[list[ThreadEntry], str | None]:
        """The newest `limit` messages of one conversation before `before` (a position from
        an earlier page), inbound and outbound merged, oldest first; and the position to
        page back from, or None at the start. Two bounded Queries (one per direction):
        both timelines sort by `<instant, compact>#<id>`, so positions compare across them.
        """
        hi = before or "~"
        found: list[ThreadEntry] = []
        for pk, read in (
            (keys.client_messages(trainer_id, client_id), message_from_item),
            (keys.client_inbound(trainer_id, client_id), inbound_from_item),
        ):
            # One more than the page, plus the boundary itself (BETWEEN is inclusive):
            # each side then shows whether it has more than fits.
            items = self.db.query(
                pk, index=keys.CLIENT_INDEX, sk_range=("0", hi), forward=False, limit=limit + 2
            )
            found += [
                ThreadEntry(i[keys.CLIENT_SK], read(i))
                for i in items
                if before is None or i[keys.CLIENT_SK] < before
            ]
        found.sort(key=lambda e: e.position, reverse=True)
        page = found[:limit]
        earlier = page[-1].position if len(found) > limit else None
        return list(reversed(page)), earlier

    def mark_read(self, trainer_id: str, client_id: str, seen: int) -> bool:
        """Unread back to 0, only if it is still the count the page showed: an inbound
        that arrived meanwhile (ADD unread) makes the write refuse, so it stays unread."""
        if seen <= 0:
            return False
        try:
            self.db.update(
                keys.conversation(trainer_id, client_id),
                Condition("SET #unread = :zero", {"#unread": "unread"}, {":zero": 0}),
                Condition("#unread = :seen", {"#unread": "unread"}, {":seen": seen}),
            )
        except ConditionFailed:
            return False
        return True

    def queue_reply(self, trainer_id: str, message: Message, window_from: datetime) -> bool:
        """A free-form reply, once per send id, only to an active client whose last message
        came after `window_from` (the window's start): all three in one transaction.
        False when this very reply was already queued (a double click)."""
        try:
            self.db.transact(
                [
                    new_message(trainer_id, message),
                    conversation_update(trainer_id, message, window_from=window_from),
                    client_is_active(trainer_id, message.client_id),
                ]
            )
        except TransactionFailed as exc:
            if exc.refused(NEW_MESSAGE):
                return False
            if exc.refused(WINDOW_OPEN):
                raise WindowClosed() from exc
            if exc.refused(CLIENT_ACTIVE):
                raise ClientUnavailable() from exc
            raise
        return True


_CURSOR_KEYS: Final = frozenset({keys.PK, keys.SK, keys.TRAINER_PK, keys.TRAINER_SK})


def _our_cursor(cursor: dict[str, str], trainer_id: str) -> bool:
    """A cursor DynamoDB will take as this list's ExclusiveStartKey: exactly the index's
    and the table's keys, in this trainer's partition (a forged one could otherwise make
    the Query fail instead of starting from the top)."""
    return (
        set(cursor) == _CURSOR_KEYS
        and keys.is_conversation_cursor(cursor, trainer_id)
        and all(0 < len(v) <= 512 for v in cursor.values())
    )


def _index_entry(
    partition: str, sort_key: str, message: Received
) -> tuple[str, dict[str, str], dict[str, Any]]:
    """The SET clauses that put an inbound message on top of the trainer's tab."""
    return (
        "#tpk = :tpk, #tsk = :tsk, #type = :type, #last_at = :last_at, #last_text = :last_text, "
        "#dir = :in, #last_kind = :last_kind",
        {
            "#tpk": keys.TRAINER_PK,
            "#tsk": keys.TRAINER_SK,
            "#type": "type",
            "#last_at": "last_at",
            "#last_text": "last_text",
            "#dir": "last_direction",
            "#last_kind": "last_kind",
        },
        {
            ":tpk": partition,
            ":tsk": sort_key,
            ":type": "conversation",
            ":last_at": utc_iso(message.received_at),
            ":last_text": preview(message.text, LINK_PLACEHOLDER) or _no_text(message.kind),
            ":in": "in",
            ":last_kind": message.kind,
        },
    )


def _no_text(kind: str) -> str:
    return "(a photo or file)" if kind == "media" else f"({kind or 'empty'} message)"


def summary_from_item(item: Item) -> ConversationSummary:
    last_in = item.get("last_inbound_at")
    number = item.get("number") or ""
    return ConversationSummary(
        kind=item.get("match", "client") if number else "client",
        last_at=parse_utc_iso(item["last_at"]),
        last_text=item.get("last_text", ""),
        last_direction="in" if item.get("last_direction") == "in" else "out",
        unread=int(item.get("unread", 0)),
        client_id=item.get("client_id") or "",
        client_name=item.get("client_name") or "",
        number=number,
        client_ids=tuple(item.get("client_ids") or ()),
        last_kind=item.get("last_kind") or "",
        last_inbound_at=parse_utc_iso(last_in) if last_in else None,
    )


def inbound_from_item(item: Item) -> InboundMessage:
    return InboundMessage(
        id=item["provider_id"],
        text=item.get("text", ""),
        kind=item.get("kind", "text"),
        received_at=parse_utc_iso(item["received_at"]),
        replied_to=item.get("replied_to"),
    )

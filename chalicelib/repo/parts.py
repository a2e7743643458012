"""Named transaction parts, each defined once with its one condition.

Every store builds its transactions from these. Each part carries its name, so a refused
transaction says which part refused (`TransactionFailed.refused(TAKE_OPEN_SLOT)`): no
caller decodes failures by position. A part used by one write only may live beside it in
its store; everything two writes share is here, except the client index's two parts
(`client_index.index_entry`, `client_index.link_shared_mark`), which live beside the
item they write and the migration that builds it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

from chalicelib.domain import figures
from chalicelib.domain.conversations import preview
from chalicelib.domain.errors import Conflict
from chalicelib.domain.messages import LINK_PLACEHOLDER, TRAINER_NOTIFICATION, Message
from chalicelib.domain.models import Trainer
from chalicelib.domain.programs import BundleEntry
from chalicelib.domain.schedule import Offer, Session, Slot, guard_instants, unpaid_amount
from chalicelib.domain.settings import TrainerSettings
from chalicelib.domain.timeutil import utc_iso
from chalicelib.domain.tokens import new_id
from chalicelib.repo import keys
from chalicelib.repo.activity import ActivityEntry, activity_to_item
from chalicelib.repo.dynamo import (
    Condition,
    Part,
    TransactionFailed,
    at_version,
    new_item,
    tx_check,
    tx_delete,
    tx_put,
    tx_update,
)
from chalicelib.repo.mapping import epoch, session_to_item, slot_key, slot_to_item
from chalicelib.repo.outbox import message_to_item
from chalicelib.repo.program_items import PACK_DUE_KIND, entry_to_item

# What a refusal reports. The names are the vocabulary of every transaction in the app.
TAKE_OPEN_SLOT: Final = "take open slot"
FREE_SLOT: Final = "free slot"
NEW_SLOT: Final = "new slot"
SLOT_GUARD: Final = "slot guard"
DROP_OPEN_SLOT: Final = "drop open slot"
DROP_SLOT_GUARD: Final = "drop slot guard"
NEW_SESSION: Final = "new session"
SESSION_AT_VERSION: Final = "session at version"
LOG_LINE: Final = "log line"
CLIENT_LINK: Final = "client link"
OFFER_LINK: Final = "offer link"
CLIENT_ACTIVE: Final = "client is active"
LOCATION_ACTIVE: Final = "location is active"
BUNDLE_ENTRY: Final = "bundle entry"
NEW_MESSAGE: Final = "new message"
CLIENT_BALANCE: Final = "client balance"
TRAVEL_NEIGHBOUR: Final = "travel neighbour open"
FIGURES: Final = "report figures"


class ClientUnavailable(Conflict):
    """A booking's client was archived or deleted between the read and the write."""


class NeighbourTaken(Conflict):
    """A slot too close to the one being booked (travel time) was booked meanwhile."""

    def __init__(self) -> None:
        super().__init__(
            "Another session was just booked too close to this time to travel between "
            "places. Reload to see it."
        )


def refuse_neighbour_taken(exc: TransactionFailed) -> None:
    """The refusal as the booking's own words when a travel neighbour is what refused."""
    if exc.refused(TRAVEL_NEIGHBOUR) and not exc.refused(TAKE_OPEN_SLOT, SESSION_AT_VERSION):
        raise NeighbourTaken() from exc


@dataclass(frozen=True)
class ClientLink:
    """The hash of a link handed to a client (to a session, or to accept an offer), and
    the portal generation it belongs to: a rotation retires it."""

    token_hash: str
    generation: int


SESSION_LINK_KIND: Final = "session-link"
OFFER_LINK_KIND: Final = "offer"


# Conditions --------------------------------------------------------------------------
def all_of(*conditions: Condition) -> Condition:
    """Conditions joined with AND, each in parentheses (DynamoDB refuses doubled ones)."""
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    for condition in conditions:
        names.update(condition.names)
        values.update(condition.values)
    return Condition(" AND ".join(f"({c.expression})" for c in conditions), names, values)


def due_next(item_id: str, at: datetime | None) -> Condition:
    """The update action that files an item under its next look in the DueWork index
    (`at`), or takes it out of the index (None): a job's work on it is done."""
    if at is None:
        return Condition(
            "REMOVE #due_pk, #due_sk", {"#due_pk": keys.DUE_PK, "#due_sk": keys.DUE_SK}
        )
    return Condition(
        "SET #due_sk = :next",
        {"#due_sk": keys.DUE_SK},
        {":next": keys.due_sk(utc_iso(at), item_id)},
    )


def not_locked(now: datetime) -> Condition:
    """No live offer holds the slot (expiry is decided here, not by the job)."""
    return Condition(
        "attribute_not_exists(#offer_until) OR #offer_until <= :lock_now",
        {"#offer_until": "offer_expires_at"},
        {":lock_now": utc_iso(now)},
    )


def open_at_version(slot: Slot) -> Condition:
    """The slot is still as it was read, and nobody has booked it."""
    return Condition(
        "#version = :seen AND attribute_not_exists(#session_id)",
        {"#version": "version", "#session_id": "session_id"},
        {":seen": slot.version},
    )


def _active() -> Condition:
    return Condition(
        "attribute_exists(#pk) AND #archived = :false",
        {"#pk": keys.PK, "#archived": "archived"},
        {":false": False},
    )


# Slots -------------------------------------------------------------------------------
def take_open_slot(trainer_id: str, slot: Slot, session_id: str, now: datetime) -> dict[str, Any]:
    """The slot, exactly as read (version), open and held by no live offer, becomes the
    session's. Every booking into an existing slot uses this: by the trainer, by the
    client, a move's target, a bundle's session in an open slot."""
    return tx_update(
        slot_key(trainer_id, slot),
        Condition(
            "SET #session_id = :session, #version = #version + :one",
            {"#session_id": "session_id", "#version": "version"},
            {":session": session_id, ":one": 1},
        ),
        all_of(open_at_version(slot), not_locked(now)),
        part=TAKE_OPEN_SLOT,
    )


def free_slot(trainer_id: str, session: Session) -> dict[str, Any]:
    """The session's slot opens again, only if it is still that session's."""
    return tx_update(
        keys.slot(trainer_id, session.week, utc_iso(session.start_utc), session.slot_id),
        Condition(
            "REMOVE #session_id SET #version = #version + :one",
            {"#session_id": "session_id", "#version": "version"},
            {":one": 1},
        ),
        held_by(session.id),
        part=FREE_SLOT,
    )


def travel_neighbour_open(trainer_id: str, slot: Slot) -> dict[str, Any]:
    """An open slot at another place too close to the one being booked (domain/travel.py)
    stays open, as read, until this write commits, and its version moves: a booking of it
    racing this one then fails on its version, reads again and sees this booking. Tagged
    with the slot's id, so a refusal says which neighbour was taken."""
    return tx_update(
        slot_key(trainer_id, slot),
        Condition("SET #version = #version + :one", {"#version": "version"}, {":one": 1}),
        open_at_version(slot),
        part=Part(TRAVEL_NEIGHBOUR, slot.id),
    )


def travel_neighbours_open(trainer_id: str, slots: Sequence[Slot]) -> list[dict[str, Any]]:
    return [travel_neighbour_open(trainer_id, slot) for slot in slots]


def slot_with_guards(trainer_id: str, slot: Slot) -> list[dict[str, Any]]:
    """A new slot and one guard per 30 real minutes it holds: two slots can never hold
    the same half hour, as every guard is created only if it does not exist."""
    return [
        tx_put(slot_to_item(trainer_id, slot), new_item(), part=NEW_SLOT),
        *(
            tx_put(
                {
                    **keys.slot_guard(trainer_id, slot.week, utc_iso(instant)),
                    "type": "guard",
                    "slot_id": slot.id,
                },
                new_item(),
                part=Part(SLOT_GUARD, instant),
            )
            for instant in guard_instants(slot)
        ),
    ]


def drop_slot_with_guards(
    trainer_id: str, slot: Slot, condition: Condition
) -> list[dict[str, Any]]:
    """Delete a slot (if `condition` holds) and its guards, each only if it is still
    this slot's: a guard another slot took since is never removed."""
    return [
        tx_delete(slot_key(trainer_id, slot), condition, part=DROP_OPEN_SLOT),
        *(
            tx_delete(
                keys.slot_guard(trainer_id, slot.week, utc_iso(instant)),
                Condition("#slot_id = :sid", {"#slot_id": "slot_id"}, {":sid": slot.id}),
                part=Part(DROP_SLOT_GUARD, instant),
            )
            for instant in guard_instants(slot)
        ),
    ]


def held_by(session_id: str) -> Condition:
    """The slot holds this session."""
    return Condition("#session_id = :sid", {"#session_id": "session_id"}, {":sid": session_id})


# Sessions ----------------------------------------------------------------------------
def new_session(trainer_id: str, session: Session) -> dict[str, Any]:
    return tx_put(session_to_item(trainer_id, session), new_item(), part=NEW_SESSION)


def session_at_version(trainer_id: str, before: Session, after: Session) -> dict[str, Any]:
    """The session saved as `after`, only if it is still at the version `before` was read."""
    return tx_put(
        session_to_item(trainer_id, after), at_version(before.version), part=SESSION_AT_VERSION
    )


def log_line(
    trainer_id: str,
    session: Session,
    actor: str,
    text: str,
    now: datetime,
    entry_id: str | None = None,
) -> dict[str, Any]:
    """One change-log line, written with the change it describes."""
    return subject_log_line(trainer_id, session.week, session.id, actor, text, now, entry_id)


def subject_log_line(
    trainer_id: str,
    week: str,
    subject_id: str,
    actor: str,
    text: str,
    now: datetime,
    entry_id: str | None = None,
) -> dict[str, Any]:
    """A log line on anything in a week partition (a session, or a slot for offers)."""
    return tx_put(
        {
            **keys.session_log(trainer_id, week, subject_id, utc_iso(now), entry_id or new_id()),
            "type": "log",
            "at": utc_iso(now),
            "actor": actor,
            "text": text,
        },
        new_item(),
        part=LOG_LINE,
    )


def client_link(trainer_id: str, session: Session, link: ClientLink) -> dict[str, Any]:
    """The client's /s/ link to a session, created with the session."""
    return tx_put(
        {
            **keys.token(link.token_hash),
            "type": "token",
            "kind": SESSION_LINK_KIND,
            "trainer_id": trainer_id,
            "client_id": session.client_id,
            "generation": link.generation,
            "week": session.week,
            "start_utc": utc_iso(session.start_utc),
            "session_id": session.id,
            # It dies with a portal rotation (generation) or an archive, not with time;
            # TTL only clears it away a year after the session.
            "expires_at": "9999-12-31T00:00:00Z",
            keys.TTL: epoch(session.end_utc) + 365 * 86400,
        },
        new_item(),
        part=CLIENT_LINK,
    )


def offer_link(trainer_id: str, slot: Slot, offer: Offer, link: ClientLink) -> dict[str, Any]:
    """The offer message's accept link (hash only). Whether it can still be accepted is
    decided by the slot's current offer, not by this item."""
    return tx_put(
        {
            **keys.token(link.token_hash),
            "type": "token",
            "kind": OFFER_LINK_KIND,
            "trainer_id": trainer_id,
            "client_id": offer.client_id,
            "generation": link.generation,
            "week": slot.week,
            "start_utc": utc_iso(slot.start_utc),
            "slot_id": slot.id,
            "offer_id": offer.id,
            "expires_at": utc_iso(offer.expires_at),
            keys.TTL: epoch(offer.expires_at) + 30 * 86400,
        },
        new_item(),
        part=OFFER_LINK,
    )


def bundle_entry(session: Session) -> dict[str, Any]:
    """A bundle's summary of one of its sessions (see domain.programs.BundleEntry)."""
    return entry_to_item(
        BundleEntry(
            ref=session.ref,
            end_utc=session.end_utc,
            status=session.status,
            charged=session.charged,
        )
    )


def pack_recheck(bundle_id: str) -> tuple[str, dict[str, str], dict[str, str]]:
    """SET clause, names and values asking the pack-notice job to look at a bundle again
    (a change to its sessions may bring "2 left" sooner or later, services/packs.py):
    DueSK `0#…` sorts before every instant, so the next run reads it and files it under
    the moment it is next due, or drops it."""
    return (
        "#due_pk = :pack_due_pk, #due_sk = :pack_due_sk",
        {"#due_pk": keys.DUE_PK, "#due_sk": keys.DUE_SK},
        {
            ":pack_due_pk": keys.due_work(PACK_DUE_KIND),
            ":pack_due_sk": keys.due_sk("0", bundle_id),
        },
    )


def bundle_entry_update(
    trainer_id: str, session: Session, updated: Session
) -> dict[str, Any] | None:
    """Keeps a bundle's summary of the session in step with it: its status (cancel, void,
    no-show) and whether a fee uses its place or, when it moved, the session that replaced
    it. None for a session outside any bundle, or a change the summary does not show."""
    if session.bundle_id is None or session.bundle_index is None:
        return None
    if (
        updated.id == session.id
        and updated.status == session.status
        and updated.charged == session.charged
    ):
        return None
    entry = f"#entries[{session.bundle_index}]"
    recheck, recheck_names, recheck_values = pack_recheck(session.bundle_id)
    names = {"#entries": "entries", "#ref": "ref", **recheck_names}
    values: dict[str, Any] = dict(recheck_values)
    if updated.id == session.id:
        names |= {"#status": "status", "#charged": "charged"}
        values |= {":status": updated.status, ":charged": updated.charged}
        action = Condition(
            f"SET {entry}.#status = :status, {entry}.#charged = :charged, {recheck}",
            names,
            values,
        )
    else:
        values[":entry"] = bundle_entry(updated)
        action = Condition(f"SET {entry} = :entry, {recheck}", names, values)
    return tx_update(
        keys.bundle(trainer_id, session.bundle_id),
        action,
        Condition(
            f"{entry}.#ref = :ref", {"#entries": "entries", "#ref": "ref"}, {":ref": session.ref}
        ),
        part=BUNDLE_ENTRY,
    )


def balance_change(
    trainer_id: str, client_id: str, before: list[Session], after: list[Session]
) -> list[dict[str, Any]]:
    """The client's kept unpaid total follows a write that turns the sessions `before`
    into `after` (a new session: nothing before; a move: the old one before, both after).
    No condition: it is exact because it is written in the same transaction as the
    sessions, which carry their own. One item, so one part per transaction."""
    amount = sum(unpaid_amount(s) for s in after) - sum(unpaid_amount(s) for s in before)
    count = sum(1 for s in after if unpaid_amount(s)) - sum(1 for s in before if unpaid_amount(s))
    if not amount and not count:
        return []
    return [
        tx_update(
            keys.client_balance(trainer_id, client_id),
            Condition(
                "ADD #unpaid :amount, #count :count SET #type = :type, #client = :client",
                {
                    "#unpaid": "unpaid_minor",
                    "#count": "unpaid_count",
                    "#type": "type",
                    "#client": "client_id",
                },
                {":amount": amount, ":count": count, ":type": "balance", ":client": client_id},
            ),
            part=CLIENT_BALANCE,
        )
    ]


def figures_change(
    trainer_id: str,
    before: Sequence[Session] = (),
    after: Sequence[Session] = (),
    *,
    slots_added: Sequence[Slot] = (),
    slots_dropped: Sequence[Slot] = (),
    packs_sold: Sequence[tuple[date, int]] = (),
) -> list[dict[str, Any]]:
    """The trainer's week and month counters follow a write that turns the sessions
    `before` into `after` and adds or drops slots (domain/figures.py): one ADD per period
    item touched, so a transaction names each once. No condition, like the balance: it is
    exact because the sessions and slots it counts are written, conditionally, with it."""
    return [
        tx_update(
            keys.figures(trainer_id, period),
            Condition(
                "ADD "
                + ", ".join(f"#c{i} :c{i}" for i in range(len(counts)))
                + " SET #type = :figures, #period = :period",
                {
                    **{f"#c{i}": name for i, name in enumerate(counts)},
                    "#type": "type",
                    "#period": "period",
                },
                {
                    **{f":c{i}": value for i, value in enumerate(counts.values())},
                    ":figures": "figures",
                    ":period": period,
                },
            ),
            part=Part(FIGURES, period),
        )
        for period, counts in figures.change(
            before,
            after,
            slots_added=slots_added,
            slots_dropped=slots_dropped,
            packs_sold=packs_sold,
        ).items()
    ]


def pack_totals_change(trainer_id: str, places: int = 0, used: int = 0) -> list[dict[str, Any]]:
    """The trainer's running pack totals (domain/figures.PACKS_PERIOD) moved with the write
    that sells places or uses them; one item, so once per transaction."""
    counts = {
        name: value
        for name, value in ((figures.PACK_PLACES, places), (figures.PACK_USED, used))
        if value
    }
    if not counts:
        return []
    return [
        tx_update(
            keys.figures(trainer_id, figures.PACKS_PERIOD),
            Condition(
                "ADD "
                + ", ".join(f"#p{i} :p{i}" for i in range(len(counts)))
                + " SET #type = :figures, #period = :period",
                {
                    **{f"#p{i}": name for i, name in enumerate(counts)},
                    "#type": "type",
                    "#period": "period",
                },
                {
                    **{f":p{i}": value for i, value in enumerate(counts.values())},
                    ":figures": "figures",
                    ":period": figures.PACKS_PERIOD,
                },
            ),
            part=PACK_TOTALS,
        )
    ]


PACK_TOTALS: Final = "pack totals"


def session_change_parts(
    trainer_id: str, client_id: str, before: Sequence[Session], after: Sequence[Session]
) -> list[dict[str, Any]]:
    """Everything kept current from a client's sessions: their balance and the trainer's
    figures. Every session write adds these, once per transaction."""
    return [
        *balance_change(trainer_id, client_id, list(before), list(after)),
        *figures_change(trainer_id, before, after),
    ]


# Others ------------------------------------------------------------------------------
def client_is_active(
    trainer_id: str, client_id: str, *, skips_rev: int | None = None
) -> dict[str, Any]:
    """The client exists and is not archived (a booking for them may be written); with
    `skips_rev`, their skips are also as read (Apply template's recurring bookings)."""
    condition = _active()
    if skips_rev is not None:
        condition = all_of(condition, _skips_as_read(skips_rev))
    return tx_check(keys.client(trainer_id, client_id), condition, part=CLIENT_ACTIVE)


def _skips_as_read(skips_rev: int) -> Condition:
    if skips_rev == 0:  # never skipped: items from before the counter have none
        return Condition(
            "attribute_not_exists(#skips_rev) OR #skips_rev = :no_skips",
            {"#skips_rev": "skips_rev"},
            {":no_skips": 0},
        )
    return Condition(
        "#skips_rev = :skips_rev", {"#skips_rev": "skips_rev"}, {":skips_rev": skips_rev}
    )


def location_is_active(trainer_id: str, location_id: str) -> dict[str, Any]:
    """The location exists and is not archived (a slot there may be made)."""
    return tx_check(keys.location(trainer_id, location_id), _active(), part=LOCATION_ACTIVE)


def new_message(trainer_id: str, message: Message) -> dict[str, Any]:
    """An outbox message, once: its id comes from the form (a double click is refused).
    Queue messages with `message_parts`, which also moves each client's conversation."""
    return tx_put(message_to_item(trainer_id, message), new_item(), part=NEW_MESSAGE)


# The WhatsApp tab's conversation index ----------------------------------------------------
CONVERSATION: Final = "conversation"
WINDOW_OPEN: Final = "window open"


def conversation_update(
    trainer_id: str, message: Message, *, window_from: datetime | None = None
) -> dict[str, Any]:
    """The client's conversation summary (`CONV`) shows `message` as its last activity and
    moves to the top of the trainer's tab (TrainerTimeline `T#<tid>#CONVS`).

    No condition by default: it is the same transaction as the message, so it is exactly
    as true as the message, and it can never refuse a booking. Two writes racing for one
    client leave the later *write*, which may be the earlier message by a moment; the
    conversation page, which reads the messages themselves, is always in order.
    `window_from`: a free-form reply, allowed only if the client wrote after that instant
    (the item is this part's already, so the window is checked here, not by a second
    part on the same item, which DynamoDB refuses)."""
    created = utc_iso(message.created_at)
    condition = None
    if window_from is not None:
        condition = Condition(
            "#last_in > :window_from",
            {"#last_in": "last_inbound_at"},
            {":window_from": utc_iso(window_from)},
        )
    return tx_update(
        keys.conversation(trainer_id, message.client_id),
        Condition(
            "SET #tpk = :tpk, #tsk = :tsk, #type = :type, #client = :client, "
            "#name = :name, #at = :at, #text = :text, #dir = :out, #kind = :kind",
            {
                "#tpk": keys.TRAINER_PK,
                "#tsk": keys.TRAINER_SK,
                "#type": "type",
                "#client": "client_id",
                "#name": "client_name",
                "#at": "last_at",
                "#text": "last_text",
                "#dir": "last_direction",
                "#kind": "last_kind",
            },
            {
                ":tpk": keys.trainer_conversations(trainer_id),
                ":tsk": keys.conversation_index_sk(created, message.client_id),
                ":type": "conversation",
                ":client": message.client_id,
                ":name": message.client_name,
                ":at": created,
                ":text": preview(message.text, LINK_PLACEHOLDER),
                ":out": "out",
                ":kind": message.kind,
            },
        ),
        condition,
        part=WINDOW_OPEN if window_from is not None else CONVERSATION,
    )


def conversation_parts(trainer_id: str, messages: Sequence[Message]) -> list[dict[str, Any]]:
    """One conversation update per client, from the latest of their messages: a
    transaction may queue several for one client (a bundle's confirmations) and DynamoDB
    refuses two operations on one item. The trainer's own notifications are not part of
    the client's conversation."""
    latest: dict[str, Message] = {}
    for message in messages:
        if message.kind == TRAINER_NOTIFICATION:
            continue
        seen = latest.get(message.client_id)
        if seen is None or (message.created_at, message.id) > (seen.created_at, seen.id):
            latest[message.client_id] = message
    return [conversation_update(trainer_id, m) for m in latest.values()]


def message_parts(trainer_id: str, messages: Sequence[Message]) -> list[dict[str, Any]]:
    """Every queued message, once each, and its client's conversation moved with it."""
    return [
        *(new_message(trainer_id, m) for m in messages),
        *conversation_parts(trainer_id, messages),
    ]


NEW_ACTIVITY: Final = "new activity"


def new_activity(trainer_id: str, entry: ActivityEntry) -> dict[str, Any]:
    """An Activity feed line, once: its id comes from the session and the action."""
    return tx_put(activity_to_item(trainer_id, entry), new_item(), part=NEW_ACTIVITY)


@dataclass(frozen=True)
class Notices:
    """What a change tells, written in the change's own transaction: the messages it
    queues (the client's confirmation, the trainer's notification) and its feed line."""

    messages: tuple[Message, ...] = ()
    activity: ActivityEntry | None = None


NO_NOTICES: Final = Notices()


def notice_parts(
    trainer_id: str, notices: Notices, also: Sequence[Message] = ()
) -> list[dict[str, Any]]:
    """The notices' messages and feed line. `also`: other messages the same transaction
    queues (a trainer's cancel notice), so each client's conversation moves once."""
    return [
        *message_parts(trainer_id, (*also, *notices.messages)),
        *([new_activity(trainer_id, notices.activity)] if notices.activity else []),
    ]


PROFILE_AT_VERSION: Final = "profile at version"


def settings_at_version(
    trainer: Trainer, settings: TrainerSettings
) -> tuple[Trainer, dict[str, Any]]:
    """The trainer with `settings`, and the part that writes them if the profile is still
    at the version the form was drawn from (refused as PROFILE_AT_VERSION otherwise), for
    a settings save that writes more in the same transaction (a sender's claims, the
    auto-apply due item)."""
    updated = trainer.model_copy(update={"settings": settings, "version": trainer.version + 1})
    return updated, tx_update(
        keys.profile(trainer.id),
        Condition(
            "SET #settings = :settings, #version = :next",
            {"#settings": "settings", "#version": "version"},
            {":settings": settings.model_dump(mode="json"), ":next": updated.version},
        ),
        at_version(trainer.version),
        part=PROFILE_AT_VERSION,
    )

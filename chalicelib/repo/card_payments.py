"""Card payments with Stripe: the trainer's connection and what Stripe reported.

- The connection is the profile's `card_payments` map (SSM refs, on/off, mode, its own
  version): written by one conditional UpdateItem at the version the page was drawn from,
  and never by the general settings save (which SETs only `settings`), so neither form
  makes the other stale.
- A session marked paid by card is marked by `repo.change_session` (its log line, balance
  and report counters come with it) plus, in the same transaction, an `EVENT#<event>#<session>`
  item written `attribute_not_exists`: a replayed event, or two deliveries at once, find it
  there and that transaction is refused whole. The first session's transaction also
  writes the payment (`PAY#<payment intent>`): what it paid for, for the refunds.
- A refund adds the session it gives back to the payment's `refunded_sessions`, only if it
  is not there yet and never past what was paid, in the session's own transaction.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from chalicelib.domain.card_payments import CardSettings, CheckoutCompleted
from chalicelib.domain.clients import Client
from chalicelib.domain.errors import NotFound, VersionConflict
from chalicelib.domain.models import Trainer
from chalicelib.domain.schedule import Session, SessionRef
from chalicelib.domain.timeutil import utc_iso
from chalicelib.repo import keys
from chalicelib.repo.dynamo import (
    Condition,
    ConditionFailed,
    Db,
    new_item,
    tx_put,
    tx_update,
)
from chalicelib.repo.mapping import (
    card_settings_from_profile,
    client_from_item,
    session_from_item,
    trainer_from_item,
)

EVENT_SEEN: Final = "card event not seen yet"
NEW_PAYMENT: Final = "new card payment"
REFUND_ONCE: Final = "card refund once"


@dataclass(frozen=True)
class PayView:
    client: Client
    trainer: Trainer
    card: CardSettings
    session: Session | None


@dataclass(frozen=True)
class PaidSession:
    ref: str
    id: str
    price_minor: int


@dataclass(frozen=True)
class CardPayment:
    payment_intent: str
    checkout_id: str
    client_id: str
    amount_minor: int
    currency: str
    sessions: tuple[PaidSession, ...]
    refunded_minor: int = 0
    refunded_sessions: tuple[str, ...] = ()
    pack_id: str = ""  # a pack's payment (docs/packs.md): no sessions listed


class CardPaymentStore:
    def __init__(self, db: Db) -> None:
        self.db = db

    # The connection ---------------------------------------------------------------------
    def settings(self, trainer_id: str) -> CardSettings | None:
        """The trainer's connection (one GetItem of the profile); None: no such trainer."""
        item = self.db.get(keys.profile(trainer_id))
        return None if item is None else card_settings_from_profile(item)

    def pay_view(self, trainer_id: str, client_id: str, session: SessionRef | None) -> PayView:
        """What a pay page needs in one BatchGetItem: the client, the trainer's profile
        with its connection and, for one session's link, the session. NotFound unless the
        client and the profile both exist."""
        client_key = keys.client(trainer_id, client_id)
        wanted = [client_key, keys.profile(trainer_id)]
        if session is not None:
            wanted.append(
                keys.session(trainer_id, session.week, utc_iso(session.start_utc), session.id)
            )
        found = {(i[keys.PK], i[keys.SK]): i for i in self.db.batch_get(wanted)}
        client, profile = (found.get((k[keys.PK], k[keys.SK])) for k in wanted[:2])
        if client is None or profile is None:
            raise NotFound(client_id)
        booked = found.get((wanted[-1][keys.PK], wanted[-1][keys.SK])) if session else None
        return PayView(
            client_from_item(client),
            trainer_from_item(profile),
            card_settings_from_profile(profile),
            session_from_item(booked) if booked else None,
        )

    def save_settings(self, trainer_id: str, seen: CardSettings, new: CardSettings) -> CardSettings:
        """Only if the connection is still as `seen` (a stale page, or a second tab's save
        meanwhile, is refused by the write: VersionConflict)."""
        saved = dataclasses.replace(new, version=seen.version + 1)
        value = dataclasses.asdict(saved)
        names = {"#pk": keys.PK, "#card": "card_payments"}
        if seen.version == 0:
            condition = Condition("attribute_exists(#pk) AND attribute_not_exists(#card)", names)
        else:
            condition = Condition(
                "#card.#version = :seen",
                {"#card": "card_payments", "#version": "version"},
                {":seen": seen.version},
            )
        try:
            self.db.update(
                keys.profile(trainer_id),
                Condition("SET #card = :card", {"#card": "card_payments"}, {":card": value}),
                condition,
            )
        except ConditionFailed as exc:
            raise VersionConflict() from exc
        return saved

    # What Stripe reported -----------------------------------------------------------------
    def sessions(self, trainer_id: str, refs: Sequence[SessionRef]) -> dict[str, Session]:
        """The sessions a payment names, by id, in one BatchGetItem (at most 40 keys)."""
        found = self.db.batch_get(
            [keys.session(trainer_id, r.week, utc_iso(r.start_utc), r.id) for r in refs]
        )
        return {str(item["id"]): session_from_item(item) for item in found}

    def marked(self, trainer_id: str, event_id: str, session_ids: Sequence[str]) -> set[str]:
        """Which of these sessions this event already marked (one BatchGetItem)."""
        if not session_ids:
            return set()
        found = self.db.batch_get([keys.card_event(trainer_id, event_id, s) for s in session_ids])
        return {str(item["session_id"]) for item in found}

    def payment(self, trainer_id: str, payment_intent: str) -> CardPayment | None:
        item = self.db.get(keys.card_payment(trainer_id, payment_intent))
        if item is None:
            return None
        return CardPayment(
            payment_intent=payment_intent,
            checkout_id=str(item.get("checkout_id", "")),
            client_id=str(item["client_id"]),
            amount_minor=int(item["amount_minor"]),
            currency=str(item.get("currency", "")),
            sessions=tuple(
                PaidSession(str(s["ref"]), str(s["id"]), int(s["price_minor"]))
                for s in item.get("sessions") or ()
            ),
            refunded_minor=int(item.get("refunded_minor", 0)),
            refunded_sessions=tuple(item.get("refunded_sessions") or ()),
            pack_id=str(item.get("pack_id") or ""),
        )

    def record_refund_total(self, trainer_id: str, payment_intent: str, total: int) -> bool:
        """A refund that gives back no whole session is still kept (the page shows it):
        only ever raised, never past what was paid. False when nothing changed."""
        try:
            self.db.update(
                keys.card_payment(trainer_id, payment_intent),
                Condition(
                    "SET #refunded = :total", {"#refunded": "refunded_minor"}, {":total": total}
                ),
                Condition(
                    "attribute_exists(#pk) AND #refunded < :total AND #amount >= :total",
                    {"#pk": keys.PK, "#refunded": "refunded_minor", "#amount": "amount_minor"},
                    {":total": total},
                ),
            )
        except ConditionFailed:
            return False
        return True

    def transact(self, operations: Sequence[dict[str, Any]]) -> None:
        self.db.transact(operations)


# Parts added to a session's own transaction ----------------------------------------------
def event_seen(
    trainer_id: str, event_id: str, session_id: str, outcome: str, now: datetime
) -> dict[str, Any]:
    """Refused when this event already marked this session (a replay, a second delivery)."""
    item = {
        **keys.card_event(trainer_id, event_id, session_id),
        "type": "card_event",
        "event_id": event_id,
        "session_id": session_id,
        "outcome": outcome,  # paid, refunded, or why it was left (already paid, voided)
        "at": utc_iso(now),
    }
    return tx_put(item, new_item(), part=EVENT_SEEN)


def new_payment(
    trainer_id: str, event: CheckoutCompleted, sessions: Sequence[PaidSession], now: datetime
) -> dict[str, Any]:
    item = {
        **keys.card_payment(trainer_id, event.payment_intent),
        "type": "card_payment",
        "checkout_id": event.checkout_id,
        "event_id": event.event_id,
        "client_id": event.client_id,
        "amount_minor": event.amount_minor,
        "currency": event.currency,
        "sessions": [{"ref": s.ref, "id": s.id, "price_minor": s.price_minor} for s in sessions],
        "refunded_minor": 0,
        "refunded_sessions": [],
        "pack_id": event.pack_id or None,
        "at": utc_iso(now),
    }
    return tx_put(item, new_item(), part=NEW_PAYMENT)


def refund_once(
    trainer_id: str, payment_intent: str, session_id: str, refunded_total: int
) -> dict[str, Any]:
    """The payment gives this session back once, never past what it paid."""
    return tx_update(
        keys.card_payment(trainer_id, payment_intent),
        Condition(
            "SET #sessions = list_append(#sessions, :one), "
            "#refunded = if_not_exists(#refunded, :zero)",
            {"#sessions": "refunded_sessions", "#refunded": "refunded_minor"},
            {":one": [session_id], ":zero": 0},
        ),
        Condition(
            "attribute_exists(#pk) AND NOT contains(#sessions, :sid) AND #amount >= :total",
            {"#pk": keys.PK, "#sessions": "refunded_sessions", "#amount": "amount_minor"},
            {":sid": session_id, ":total": refunded_total},
        ),
        part=REFUND_ONCE,
    )

"""Last-minute offers: locking an open slot for one client, withdraw, expire, accept."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from chalicelib.domain.clients import Client
from chalicelib.domain.errors import Conflict, VersionConflict
from chalicelib.domain.messages import Message
from chalicelib.domain.models import Trainer
from chalicelib.domain.schedule import (
    Offer,
    Session,
    Slot,
)
from chalicelib.domain.timeutil import utc_iso
from chalicelib.repo import keys
from chalicelib.repo.dynamo import (
    Condition,
    Db,
    TransactionFailed,
    tx_update,
)
from chalicelib.repo.mapping import (
    OFFER_ATTRIBUTES,
    OFFER_LOCK_KIND,
    offer_attributes,
    slot_from_item,
    slot_key,
)
from chalicelib.repo.outbox import Outbox, due_items
from chalicelib.repo.parts import (
    CLIENT_ACTIVE,
    NEW_MESSAGE,
    NO_NOTICES,
    TRAVEL_NEIGHBOUR,
    ClientLink,
    ClientUnavailable,
    NeighbourTaken,
    Notices,
    all_of,
    client_is_active,
    client_link,
    log_line,
    message_parts,
    new_session,
    not_locked,
    notice_parts,
    offer_link,
    open_at_version,
    session_change_parts,
    subject_log_line,
    travel_neighbours_open,
)

# Parts only offers use: the slot's lock, set by one write and ended by three.
LOCK_OPEN_SLOT = "lock open slot"
WITHDRAW_OFFER = "withdraw offer"
EXPIRE_OFFER = "expire offer"
TAKE_OFFERED_SLOT = "take offered slot"


class OfferStore:
    db: Db
    outbox: Outbox

    # Last-minute offers --------------------------------------------------------------
    def offer_slot(
        self,
        trainer_id: str,
        slot: Slot,
        offer: Offer,
        message: Message,
        link: ClientLink,
        note: str,
        now: datetime,
    ) -> Slot:
        """Lock an open slot for one client, queue the offer message and store the
        offer link's hash: all or nothing. Refused if the slot changed, was booked, or
        another offer is still live."""
        locked = slot.model_copy(update={"offer": offer, "version": slot.version + 1})
        attributes = offer_attributes(locked)
        names = {f"#a{i}": name for i, name in enumerate(attributes)}
        values = {f":a{i}": value for i, value in enumerate(attributes.values())}
        sets = ", ".join(f"#a{i} = :a{i}" for i in range(len(attributes)))
        try:
            self.db.transact(
                [
                    tx_update(
                        slot_key(trainer_id, slot),
                        Condition(
                            f"SET {sets}, #version = :next",
                            {**names, "#version": "version"},
                            {**values, ":next": locked.version},
                        ),
                        all_of(open_at_version(slot), not_locked(now)),
                        part=LOCK_OPEN_SLOT,
                    ),
                    *message_parts(trainer_id, [message]),
                    offer_link(trainer_id, locked, offer, link),
                    subject_log_line(
                        trainer_id,
                        slot.week,
                        slot.id,
                        "trainer",
                        note,
                        now,
                    ),
                ]
            )
        except TransactionFailed as exc:
            if exc.refused(NEW_MESSAGE) and not exc.refused(LOCK_OPEN_SLOT):
                raise Conflict("That offer was already sent.") from exc
            raise VersionConflict() from exc
        return locked

    @staticmethod
    def _end_offer(
        slot_key: dict[str, str],
        condition: Condition,
        part: str,
        set_session: str | None = None,
    ) -> dict[str, Any]:
        removes = ", ".join(f"#o{i}" for i in range(len(OFFER_ATTRIBUTES)))
        names = {f"#o{i}": name for i, name in enumerate(OFFER_ATTRIBUTES)}
        names.update({"#due_pk": keys.DUE_PK, "#due_sk": keys.DUE_SK, "#version": "version"})
        values: dict[str, Any] = {":one": 1}
        sets = "#version = #version + :one"
        if set_session:
            names["#session_id"] = "session_id"
            values[":session"] = set_session
            sets += ", #session_id = :session"
        return tx_update(
            slot_key,
            Condition(f"SET {sets} REMOVE {removes}, #due_pk, #due_sk", names, values),
            condition,
            part=part,
        )

    def withdraw_offer(self, trainer_id: str, slot: Slot, now: datetime) -> None:
        offer = slot.offer
        if offer is None:
            raise Conflict("There is no offer on this slot.")
        try:
            self.db.transact(
                [
                    self._end_offer(
                        slot_key(trainer_id, slot),
                        Condition(
                            "#offer_id = :oid", {"#offer_id": "offer_id"}, {":oid": offer.id}
                        ),
                        WITHDRAW_OFFER,
                    ),
                    subject_log_line(
                        trainer_id,
                        slot.week,
                        slot.id,
                        "trainer",
                        f"Offer to {offer.client_name} withdrawn",
                        now,
                    ),
                ]
            )
        except TransactionFailed as exc:
            raise Conflict("That offer has already ended or been accepted.") from exc

    def expire_offer(self, trainer_id: str, slot: Slot, now: datetime) -> bool:
        """Release an expired lock once (two runs at once: one wins); never a slot whose
        offer was accepted, withdrawn or replaced meanwhile."""
        offer = slot.offer
        if offer is None:
            return False
        try:
            self.db.transact(
                [
                    self._end_offer(
                        slot_key(trainer_id, slot),
                        Condition(
                            "#offer_id = :oid AND #offer_until <= :now",
                            {"#offer_id": "offer_id", "#offer_until": "offer_expires_at"},
                            {":oid": offer.id, ":now": utc_iso(now)},
                        ),
                        EXPIRE_OFFER,
                    ),
                    subject_log_line(
                        trainer_id,
                        slot.week,
                        slot.id,
                        "system",
                        f"Offer to {offer.client_name} expired; the slot is open again",
                        now,
                    ),
                ]
            )
        except TransactionFailed:
            return False
        return True

    def accept_offer(
        self,
        trainer_id: str,
        slot: Slot,
        offer_id: str,
        session: Session,
        link: ClientLink,
        now: datetime,
        notices: Notices = NO_NOTICES,
        neighbours: Sequence[Slot] = (),
    ) -> None:
        """The offered client takes the slot: only while the lock is theirs and live.
        `notices` (their confirmation, the trainer's word, the feed line) go with it;
        `neighbours` (travel time) stay open as read."""
        try:
            self.db.transact(
                [
                    self._end_offer(
                        slot_key(trainer_id, slot),
                        Condition(
                            "#offer_id = :oid AND #offer_client = :cid AND #offer_until > :now "
                            "AND attribute_not_exists(#session_id)",
                            {
                                "#offer_id": "offer_id",
                                "#offer_client": "offer_client_id",
                                "#offer_until": "offer_expires_at",
                                "#session_id": "session_id",
                            },
                            {":oid": offer_id, ":cid": session.client_id, ":now": utc_iso(now)},
                        ),
                        TAKE_OFFERED_SLOT,
                        set_session=session.id,
                    ),
                    *travel_neighbours_open(trainer_id, neighbours),
                    new_session(trainer_id, session),
                    client_is_active(trainer_id, session.client_id),
                    log_line(
                        trainer_id,
                        session,
                        "client",
                        "Booked by accepting a last-minute offer",
                        now,
                    ),
                    client_link(trainer_id, session, link),
                    *session_change_parts(trainer_id, session.client_id, [], [session]),
                    *notice_parts(trainer_id, notices),
                ]
            )
        except TransactionFailed as exc:
            if exc.refused(CLIENT_ACTIVE) and not exc.refused(TAKE_OFFERED_SLOT):
                raise ClientUnavailable("That client was archived.") from exc
            if exc.refused(TRAVEL_NEIGHBOUR) and not exc.refused(TAKE_OFFERED_SLOT):
                raise NeighbourTaken() from exc
            raise Conflict("This offer has ended.") from exc

    def offer_slots_due(self, now: datetime, limit: int = 100) -> list[tuple[str, Slot]]:
        """(trainer id, slot) whose offer lock has run out: the sparse DueWork index."""
        items = due_items(self.db, OFFER_LOCK_KIND, now, limit)
        return [(keys.trainer_id_from_week_pk(i[keys.PK]), slot_from_item(i)) for i in items]

    def slot_with_client(
        self, trainer_id: str, client_id: str, week: str, start_utc_iso: str, slot_id: str
    ) -> tuple[Client, Trainer, Slot | None]:
        """An offer page's data in one BatchGetItem: client, profile, the slot."""
        slot_key = keys.slot(trainer_id, week, start_utc_iso, slot_id)
        client, trainer, found = self._client_and_profile(trainer_id, client_id, slot_key)
        slot = found.get(slot_key[keys.SK])
        return client, trainer, (slot_from_item(slot) if slot else None)

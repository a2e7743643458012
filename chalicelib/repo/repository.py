"""The repository: item <-> model mapping and every conditional write of the app.

Services call these methods; no other module touches the table or builds keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from chalicelib.domain.clients import Client
from chalicelib.domain.errors import Conflict, NotFound, VersionConflict
from chalicelib.domain.messages import Message
from chalicelib.domain.models import Location, LocationName, Trainer
from chalicelib.domain.schedule import (
    Document,
    LogEntry,
    Offer,
    Session,
    SessionRef,
    Slot,
    guard_instants,
)
from chalicelib.domain.settings import TrainerSettings
from chalicelib.domain.template import TemplateSlot, WeeklyTemplate
from chalicelib.domain.timeutil import parse_utc_iso, utc_iso
from chalicelib.domain.tokens import new_id
from chalicelib.repo import keys
from chalicelib.repo.dynamo import (
    Condition,
    ConditionFailed,
    Db,
    Item,
    TransactionFailed,
    at_version,
    new_item,
    tx_check,
    tx_delete,
    tx_put,
    tx_update,
)
from chalicelib.repo.outbox import Outbox, due_items, message_from_item, message_to_item


def _slot_key(trainer_id: str, slot: Slot) -> dict[str, str]:
    return keys.slot(trainer_id, slot.week, utc_iso(slot.start_utc), slot.id)


def _open_at_version(slot: Slot) -> Condition:
    """The slot is still as the form showed it, and nobody has booked it."""
    return Condition(
        "#version = :seen AND attribute_not_exists(#session_id)",
        {"#version": "version", "#session_id": "session_id"},
        {":seen": slot.version},
    )


def _log_op(
    trainer_id: str,
    session: Session,
    actor: str,
    text: str,
    now: datetime,
    entry_id: str | None = None,
) -> dict[str, Any]:
    """Transaction part: one change-log line, written with the change it describes."""
    return _subject_log_op(trainer_id, session.week, session.id, actor, text, now, entry_id)


def _subject_log_op(
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
    )


def _is_active(key: dict[str, str]) -> dict[str, Any]:
    """Transaction part: a location or client that exists and is not archived."""
    return tx_check(
        key,
        Condition(
            "attribute_exists(#pk) AND #archived = :false",
            {"#pk": keys.PK, "#archived": "archived"},
            {":false": False},
        ),
    )


@dataclass(frozen=True)
class ClientLink:
    """The hash of a link handed to a client (to a session, or to accept an offer), and
    the portal generation it belongs to: a rotation retires it."""

    token_hash: str
    generation: int


SESSION_LINK_KIND = "session-link"


def _session_link_op(trainer_id: str, session: Session, link: ClientLink) -> dict[str, Any]:
    """Transaction part: the client's /s/ link to a session, created with the session."""
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
            keys.TTL: _epoch(session.end_utc) + 365 * 86400,
        },
        new_item(),
    )


OFFER_LINK_KIND = "offer"


def _offer_link_op(trainer_id: str, slot: Slot, offer: Offer, link: ClientLink) -> dict[str, Any]:
    """Transaction part: the offer message's accept link (hash only). Whether it can still
    be accepted is decided by the slot's current offer, not by this item."""
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
            keys.TTL: _epoch(offer.expires_at) + 30 * 86400,
        },
        new_item(),
    )


def bundle_entry(session: Session) -> dict[str, Any]:
    """A bundle's summary of one of its sessions (see domain.programs.BundleEntry)."""
    return {"ref": session.ref, "end_utc": utc_iso(session.end_utc), "status": session.status}


def _bundle_entry_op(trainer_id: str, session: Session, updated: Session) -> dict[str, Any] | None:
    """Transaction part keeping a bundle's summary of the session in step with it: its
    status (cancel, void) or, when it moved, the session that replaced it. None for a
    session outside any bundle, or a change the summary does not show."""
    if session.bundle_id is None or session.bundle_index is None:
        return None
    if updated.id == session.id and updated.status == session.status:
        return None
    entry = f"#entries[{session.bundle_index}]"
    names = {"#entries": "entries", "#ref": "ref"}
    if updated.id == session.id:
        names["#status"] = "status"
        action = Condition(f"SET {entry}.#status = :status", names, {":status": updated.status})
    else:
        action = Condition(f"SET {entry} = :entry", names, {":entry": bundle_entry(updated)})
    return tx_update(
        keys.bundle(trainer_id, session.bundle_id),
        action,
        Condition(
            f"{entry}.#ref = :ref", {"#entries": "entries", "#ref": "ref"}, {":ref": session.ref}
        ),
    )


class ClientUnavailable(Conflict):
    """A booking's client was archived or deleted between the read and the write."""


def _iso_or_none(instant: datetime | None) -> str | None:
    return None if instant is None else utc_iso(instant)


def _instant_or_none(text: str | None) -> datetime | None:
    return None if not text else parse_utc_iso(text)


def _epoch(instant: datetime) -> int:
    return int(instant.timestamp())


# Mapping -----------------------------------------------------------------------------
def trainer_to_item(trainer: Trainer) -> Item:
    return {
        **keys.profile(trainer.id),
        "type": "trainer",
        "id": trainer.id,
        "email": trainer.email,
        "settings": trainer.settings.model_dump(mode="json"),
        "locations": {
            lid: {"name": mirror.name, "archived": mirror.archived}
            for lid, mirror in trainer.locations.items()
        },
        "version": trainer.version,
        "created_at": utc_iso(trainer.created_at),
        "template_applied_at": (
            utc_iso(trainer.template_applied_at) if trainer.template_applied_at else None
        ),
        "portal_link_shared_at": (
            utc_iso(trainer.portal_link_shared_at) if trainer.portal_link_shared_at else None
        ),
    }


def trainer_from_item(item: Item) -> Trainer:
    return Trainer(
        id=item["id"],
        email=item["email"],
        settings=TrainerSettings.model_validate(item.get("settings") or {}),
        locations={
            lid: LocationName(name=v["name"], archived=bool(v.get("archived")))
            for lid, v in (item.get("locations") or {}).items()
        },
        version=item["version"],
        created_at=parse_utc_iso(item["created_at"]),
        template_applied_at=(
            parse_utc_iso(item["template_applied_at"]) if item.get("template_applied_at") else None
        ),
        portal_link_shared_at=(
            parse_utc_iso(item["portal_link_shared_at"])
            if item.get("portal_link_shared_at")
            else None
        ),
    )


def location_from_item(item: Item) -> Location:
    return Location(
        id=keys.location_id_from_sk(item[keys.SK]),
        name=item["name"],
        archived=bool(item.get("archived", False)),
        version=item["version"],
    )


def template_from_item(item: Item | None) -> WeeklyTemplate:
    if not item:
        return WeeklyTemplate()
    return WeeklyTemplate(
        slots=tuple(TemplateSlot.model_validate(s) for s in item.get("slots", [])),
        version=item["version"],
    )


def client_to_item(trainer_id: str, client: Client) -> Item:
    return {
        **keys.client(trainer_id, client.id),
        "type": "client",
        "name": client.name,
        "phone": client.phone,
        "email": client.email or None,
        "price_minor": client.price_minor,
        "location_ids": list(client.location_ids),
        "recurring": list(client.recurring),
        "shared_notes": client.shared_notes or None,
        "private_notes": client.private_notes or None,
        "archived": client.archived,
        "portal_generation": client.portal_generation,
        "version": client.version,
        "created_at": utc_iso(client.created_at),
    }


def client_from_item(item: Item) -> Client:
    return Client(
        id=keys.client_id_from_sk(item[keys.SK]),
        name=item["name"],
        phone=item["phone"],
        email=item.get("email") or "",
        price_minor=item.get("price_minor"),
        location_ids=tuple(item.get("location_ids") or ()),
        recurring=tuple(item.get("recurring") or ()),
        shared_notes=item.get("shared_notes") or "",
        private_notes=item.get("private_notes") or "",
        archived=bool(item.get("archived", False)),
        portal_generation=item.get("portal_generation", 1),
        version=item["version"],
        created_at=parse_utc_iso(item["created_at"]),
    )


def slot_to_item(trainer_id: str, slot: Slot) -> Item:
    return {
        **_slot_key(trainer_id, slot),
        "type": "slot",
        "id": slot.id,
        "day": slot.day.isoformat(),
        "start": slot.start,
        "end": slot.end,
        "start_utc": utc_iso(slot.start_utc),
        "end_utc": utc_iso(slot.end_utc),
        "location_id": slot.location_id,
        "template_slot_id": slot.template_slot_id,
        "session_id": slot.session_id,
        **_offer_attributes(slot),
        "version": slot.version,
    }


OFFER_LOCK_KIND = "offer-lock"
# Names of the attributes an offer puts on its slot (all removed together when it ends).
OFFER_ATTRIBUTES = ("offer_id", "offer_client_id", "offer_client_name", "offer_expires_at")


def _offer_attributes(slot: Slot) -> dict[str, Any]:
    offer = slot.offer
    if offer is None:
        return {}
    until = utc_iso(offer.expires_at)
    return {
        "offer_id": offer.id,
        "offer_client_id": offer.client_id,
        "offer_client_name": offer.client_name,
        "offer_expires_at": until,
        # Due for expire_offer_locks once the lock runs out (sparse DueWork index).
        keys.DUE_PK: keys.due_work(OFFER_LOCK_KIND),
        keys.DUE_SK: keys.due_sk(until, slot.id),
    }


def _offer_from(item: Item) -> Offer | None:
    if not item.get("offer_id"):
        return None
    return Offer(
        id=item["offer_id"],
        client_id=item["offer_client_id"],
        client_name=item.get("offer_client_name", ""),
        expires_at=parse_utc_iso(item["offer_expires_at"]),
    )


def _not_locked(now: datetime) -> Condition:
    """Condition part: no live offer holds the slot (expiry is decided here, not by the job)."""
    return Condition(
        "attribute_not_exists(#offer_until) OR #offer_until <= :lock_now",
        {"#offer_until": "offer_expires_at"},
        {":lock_now": utc_iso(now)},
    )


def _and(*conditions: Condition) -> Condition:
    """Conditions joined with AND, each in parentheses (DynamoDB refuses doubled ones)."""
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    for condition in conditions:
        names.update(condition.names)
        values.update(condition.values)
    return Condition(" AND ".join(f"({c.expression})" for c in conditions), names, values)


def slot_from_item(item: Item) -> Slot:
    return Slot(
        id=item["id"],
        day=date.fromisoformat(item["day"]),
        start=item["start"],
        end=item["end"],
        start_utc=parse_utc_iso(item["start_utc"]),
        end_utc=parse_utc_iso(item["end_utc"]),
        location_id=item["location_id"],
        template_slot_id=item.get("template_slot_id"),
        session_id=item.get("session_id"),
        offer=_offer_from(item),
        version=item["version"],
    )


def _is_timeline_cursor(key: dict[str, str], trainer_id: str, sk_range: tuple[str, str]) -> bool:
    """Only a key this query could have returned: DynamoDB answers anything else (a
    missing attribute, a key outside the range) with a ValidationException, not a page."""
    return (
        set(key) == {keys.PK, keys.SK, keys.TRAINER_PK, keys.TRAINER_SK}
        and key[keys.TRAINER_PK] == keys.trainer_timeline(trainer_id)
        and key[keys.PK].startswith(keys.week_pk(trainer_id, ""))
        and key[keys.SK].startswith(keys.SESSION_PREFIX)
        and sk_range[0] <= key[keys.TRAINER_SK] <= sk_range[1]
    )


def session_to_item(trainer_id: str, session: Session) -> Item:
    gone = session.status in ("canceled", "moved")
    return {
        **keys.session(trainer_id, session.week, utc_iso(session.start_utc), session.id),
        keys.CLIENT_PK: keys.client_timeline(trainer_id, session.client_id),
        keys.CLIENT_SK: keys.client_timeline_sk(utc_iso(session.start_utc), session.id),
        # Sparse: a canceled or moved session leaves the Sessions tab's index.
        keys.TRAINER_PK: None if gone else keys.trainer_timeline(trainer_id),
        keys.TRAINER_SK: (
            None if gone else keys.client_timeline_sk(utc_iso(session.start_utc), session.id)
        ),
        "type": "session",
        "id": session.id,
        "slot_id": session.slot_id,
        "client_id": session.client_id,
        "client_name": session.client_name,
        "day": session.day.isoformat(),
        "start": session.start,
        "end": session.end,
        "start_utc": utc_iso(session.start_utc),
        "end_utc": utc_iso(session.end_utc),
        "location_id": session.location_id,
        "template_slot_id": session.template_slot_id,
        "kind": session.kind,
        "status": session.status,
        "paid": session.paid,
        "payment_type": session.payment_type,
        "price_minor": session.price_minor,
        "invoice_sent_at": _iso_or_none(session.invoice_sent_at),
        "changing": session.changing,
        "moved_from": session.moved_from,
        "moved_to": session.moved_to,
        "bundle_id": session.bundle_id,
        "bundle_index": session.bundle_index,
        "bundle_title": session.bundle_title or None,
        "video_link": session.video_link or None,
        "documents": [d.model_dump() for d in session.documents] or None,
        "created_at": utc_iso(session.created_at),
        "version": session.version,
    }


def session_from_item(item: Item) -> Session:
    return Session(
        id=item["id"],
        slot_id=item["slot_id"],
        client_id=item["client_id"],
        client_name=item["client_name"],
        day=date.fromisoformat(item["day"]),
        start=item["start"],
        end=item["end"],
        start_utc=parse_utc_iso(item["start_utc"]),
        end_utc=parse_utc_iso(item["end_utc"]),
        location_id=item["location_id"],
        template_slot_id=item.get("template_slot_id"),
        kind=item["kind"],
        status=item["status"],
        paid=bool(item.get("paid", False)),
        payment_type=item.get("payment_type"),
        price_minor=item.get("price_minor"),
        invoice_sent_at=_instant_or_none(item.get("invoice_sent_at")),
        changing=bool(item.get("changing", False)),
        moved_from=item.get("moved_from"),
        moved_to=item.get("moved_to"),
        bundle_id=item.get("bundle_id"),
        bundle_index=item.get("bundle_index"),
        bundle_title=item.get("bundle_title") or "",
        video_link=item.get("video_link") or "",
        documents=tuple(Document.model_validate(d) for d in item.get("documents") or ()),
        created_at=parse_utc_iso(item["created_at"]),
        version=item["version"],
    )


@dataclass(frozen=True)
class Week:
    slots: list[Slot]
    sessions: list[Session]


@dataclass(frozen=True)
class Setup:
    """Locations and weekly template of one trainer, read together."""

    locations: list[Location]
    template: WeeklyTemplate

    def location(self, location_id: str) -> Location:
        for loc in self.locations:
            if loc.id == location_id:
                return loc
        raise NotFound(location_id)

    @property
    def active_locations(self) -> list[Location]:
        return [loc for loc in self.locations if not loc.archived]

    def location_names(self) -> dict[str, str]:
        return {loc.id: loc.name for loc in self.locations}


@dataclass(frozen=True)
class Account:
    """Everything in a trainer's account partition: set-up and clients, one Query."""

    setup: Setup
    clients: list[Client]
    optins: dict[str, set[str]] = field(default_factory=dict)  # client id -> template slots
    shared: dict[str, int] = field(default_factory=dict)  # client id -> link generation shared

    def link_shared(self, client: Client) -> bool:
        """The client's current portal link (not a rotated one) was copied or sent."""
        return self.shared.get(client.id) == client.portal_generation

    def client(self, client_id: str) -> Client:
        for client in self.clients:
            if client.id == client_id:
                return client
        raise NotFound(client_id)

    def recurring_holders(self) -> dict[str, str]:
        """Template slot id -> the client holding it as a recurring slot."""
        return {t: c.id for c in self.clients for t in c.recurring}

    def client_names(self) -> dict[str, str]:
        return {c.id: c.name for c in self.clients}


@dataclass(frozen=True)
class TokenRecord:
    kind: str
    expires_at: datetime
    used_at: datetime | None
    data: dict[str, Any]


class Repository:
    def __init__(self, db: Db) -> None:
        self.outbox = Outbox(db)
        self.db = db

    # Trainers ------------------------------------------------------------------------
    def get_trainer(self, trainer_id: str) -> Trainer | None:
        item = self.db.get(keys.profile(trainer_id))
        return trainer_from_item(item) if item else None

    def trainer_id_for_email(self, email: str) -> str | None:
        item = self.db.get(keys.email(email))
        return item["trainer_id"] if item else None

    def create_trainer_ops(self, trainer: Trainer) -> list[dict[str, Any]]:
        """Transaction parts that create a trainer and claim the email (unique)."""
        return [
            tx_put({**keys.email(trainer.email), "trainer_id": trainer.id}, new_item()),
            tx_put(trainer_to_item(trainer), new_item()),
        ]

    def create_trainer(self, trainer: Trainer) -> None:
        try:
            self.db.transact(self.create_trainer_ops(trainer))
        except TransactionFailed as exc:
            raise Conflict("email already registered") from exc

    def save_settings(self, trainer: Trainer, settings: TrainerSettings) -> Trainer:
        """Replace the settings if the profile is still at the version the form showed."""
        updated = trainer.model_copy(update={"settings": settings, "version": trainer.version + 1})
        try:
            self.db.update(
                keys.profile(trainer.id),
                Condition(
                    "SET #settings = :settings, #version = :next",
                    {"#settings": "settings", "#version": "version"},
                    {":settings": settings.model_dump(mode="json"), ":next": updated.version},
                ),
                at_version(trainer.version),
            )
        except ConditionFailed as exc:
            raise VersionConflict() from exc
        return updated

    def mark_template_applied(self, trainer_id: str, now: datetime) -> None:
        """Getting-started step 5; the first time only (not a form field: no version)."""
        self.db.update(
            keys.profile(trainer_id),
            Condition(
                "SET #applied = if_not_exists(#applied, :now)",
                {"#applied": "template_applied_at"},
                {":now": utc_iso(now)},
            ),
        )

    # Set-up: locations and weekly template -----------------------------------------
    def get_setup(self, trainer_id: str) -> Setup:
        """Locations and template in one Query of the account partition's CFG# items."""
        return self._setup_from(
            self.db.query(keys.trainer_pk(trainer_id), sk_prefix=keys.CFG_PREFIX)
        )

    @staticmethod
    def _setup_from(items: list[Item]) -> Setup:
        locations: list[Location] = []
        template_item: Item | None = None
        for item in items:
            if item[keys.SK] == keys.TEMPLATE_SK:
                template_item = item
            elif item[keys.SK].startswith(keys.LOCATION_PREFIX):
                locations.append(location_from_item(item))
        locations.sort(key=lambda loc: (loc.archived, loc.name.casefold()))
        return Setup(locations, template_from_item(template_item))

    def get_account(self, trainer_id: str) -> Account:
        """Set-up and clients in one Query of the whole account partition."""
        items = self.db.query(keys.trainer_pk(trainer_id))
        clients = [client_from_item(i) for i in items if i[keys.SK].startswith(keys.CLIENT_PREFIX)]
        optins: dict[str, set[str]] = {}
        shared: dict[str, int] = {}
        for item in items:
            if item[keys.SK].startswith(keys.OPTIN_PREFIX):
                optins.setdefault(item["client_id"], set()).add(item["template_slot_id"])
            elif item[keys.SK].startswith(keys.SHARED_PREFIX):
                shared[item["client_id"]] = int(item["generation"])
        return Account(self._setup_from(items), clients, optins, shared)

    @staticmethod
    def _portal_shared_op(trainer_id: str, client: Client, how: str, now: datetime) -> list:
        """Transaction parts: the share mark, and that the link shared is still the
        client's current one (not rotated, client not archived) when it is written."""
        return [
            tx_put(
                {
                    **keys.portal_shared(trainer_id, client.id),
                    "type": "portal_shared",
                    "client_id": client.id,
                    "generation": client.portal_generation,
                    "how": how,
                    "at": utc_iso(now),
                }
            ),
            tx_check(
                keys.client(trainer_id, client.id),
                Condition(
                    "#generation = :generation AND #archived = :false",
                    {"#generation": "portal_generation", "#archived": "archived"},
                    {":generation": client.portal_generation, ":false": False},
                ),
            ),
        ]

    def mark_portal_shared(self, trainer_id: str, client: Client, how: str, now: datetime) -> None:
        """The trainer copied the link: counted only if it is still the live link."""
        try:
            self.db.transact(self._portal_shared_op(trainer_id, client, how, now))
        except TransactionFailed as exc:
            raise Conflict("This portal link was replaced meanwhile: copy the new one.") from exc

    def queue_portal_link(self, trainer_id: str, client: Client, message: Message) -> bool:
        """Queue the portal link message and mark the link shared, together. False if this
        very message (a double click, a replayed form) was already queued."""
        operations = [
            tx_put(message_to_item(trainer_id, message), new_item()),
            *self._portal_shared_op(trainer_id, client, "sent", message.created_at),
        ]
        try:
            self.db.transact(operations)
        except TransactionFailed as exc:
            if exc.failed_at(0):
                return False
            raise Conflict(
                "This portal link was replaced or the client archived meanwhile. Reload the page."
            ) from exc
        return True

    # Clients -------------------------------------------------------------------------
    def list_clients(self, trainer_id: str) -> list[Client]:
        items = self.db.query(keys.trainer_pk(trainer_id), sk_prefix=keys.CLIENT_PREFIX)
        return [client_from_item(item) for item in items]

    def get_client(self, trainer_id: str, client_id: str) -> Client:
        item = self.db.get(keys.client(trainer_id, client_id))
        if item is None:
            raise NotFound(client_id)
        return client_from_item(item)

    @staticmethod
    def _portal_token_op(trainer_id: str, client: Client, token_hash: str) -> dict[str, Any]:
        return tx_put(
            {
                **keys.token(token_hash),
                "type": "token",
                "kind": "portal",
                "trainer_id": trainer_id,
                "client_id": client.id,
                "generation": client.portal_generation,
                # a portal link does not expire; it dies when rotated (see rotate_portal)
                "expires_at": "9999-12-31T00:00:00Z",
            },
            new_item(),
        )

    def add_client(self, trainer_id: str, client: Client, portal_hash: str) -> None:
        """The client and their portal link's token (hash only), together."""
        self.db.transact(
            [
                tx_put(client_to_item(trainer_id, client), new_item()),
                self._portal_token_op(trainer_id, client, portal_hash),
            ]
        )

    def rotate_portal(
        self,
        trainer_id: str,
        client: Client,
        old_hash: str,
        new_hash: str,
        now: datetime,
        **changes: Any,
    ) -> Client:
        """Revoke the current portal link and issue the next one, atomically, with any
        other `changes` to the client (restoring an archived client rotates too)."""
        rotated = client.model_copy(
            update={
                **changes,
                "portal_generation": client.portal_generation + 1,
                "version": client.version + 1,
            }
        )
        try:
            self.db.transact(
                [
                    tx_put(client_to_item(trainer_id, rotated), at_version(client.version)),
                    # Kept (not deleted) so the old link answers "no longer active", not 404;
                    # TTL removes it after 90 days.
                    tx_update(
                        keys.token(old_hash),
                        Condition(
                            "SET #revoked_at = :now, #ttl = :ttl, #kind = :kind, "
                            "#client_id = :me, #trainer_id = :tid, #expires_at = :never",
                            {
                                "#revoked_at": "revoked_at",
                                "#ttl": keys.TTL,
                                "#kind": "kind",
                                "#client_id": "client_id",
                                "#trainer_id": "trainer_id",
                                "#expires_at": "expires_at",
                            },
                            {
                                ":now": utc_iso(now),
                                ":ttl": _epoch(now) + 90 * 86400,
                                ":kind": "portal",
                                ":me": client.id,
                                ":tid": trainer_id,
                                ":never": "9999-12-31T00:00:00Z",
                            },
                        ),
                        Condition(
                            "attribute_not_exists(#pk) OR #client_id = :me",
                            {"#pk": keys.PK, "#client_id": "client_id"},
                            {":me": client.id},
                        ),
                    ),
                    self._portal_token_op(trainer_id, rotated, new_hash),
                ]
            )
        except TransactionFailed as exc:
            raise VersionConflict() from exc
        return rotated

    def _client_and_profile(
        self, trainer_id: str, client_id: str, *more: dict[str, str]
    ) -> tuple[Client, Trainer, dict[str, Item]]:
        """A client, their trainer's profile and `more` items (by SK) in one BatchGetItem;
        NotFound unless the client and the profile both exist."""
        client_key = keys.client(trainer_id, client_id)
        found = {
            i[keys.SK]: i for i in self.db.batch_get([client_key, keys.profile(trainer_id), *more])
        }
        client, profile = found.get(client_key[keys.SK]), found.get(keys.PROFILE_SK)
        if client is None or profile is None:
            raise NotFound(client_id)
        return client_from_item(client), trainer_from_item(profile), found

    def portal_view(
        self, trainer_id: str, client_id: str, session: SessionRef | None = None
    ) -> tuple[Client, Trainer, WeeklyTemplate, Session | None]:
        """What a portal page needs in one BatchGetItem: the client, the trainer's profile,
        the weekly template (for opt-ins) and, for a session page, the session."""
        session_key = (
            keys.session(trainer_id, session.week, utc_iso(session.start_utc), session.id)
            if session
            else None
        )
        more = [keys.template(trainer_id), *([session_key] if session_key else [])]
        client, trainer, found = self._client_and_profile(trainer_id, client_id, *more)
        item = found.get(session_key[keys.SK]) if session_key else None
        return (
            client,
            trainer,
            template_from_item(found.get(keys.TEMPLATE_SK)),
            session_from_item(item) if item else None,
        )

    def client_optins(self, trainer_id: str, client_id: str) -> set[str]:
        """The template slot ids a client has opted in to for last-minute offers."""
        items = self.db.query(keys.trainer_pk(trainer_id), sk_prefix=keys.optin_prefix(client_id))
        return {i["template_slot_id"] for i in items}

    def set_optin(self, trainer_id: str, client_id: str, template_slot_id: str, on: bool) -> None:
        """Opt in or out: idempotent, so a repeated or crossed tick cannot fail."""
        key = keys.optin(trainer_id, client_id, template_slot_id)
        if not on:
            self.db.delete(key)
            return
        try:
            self.db.transact(
                [
                    tx_put(
                        {
                            **key,
                            "type": "optin",
                            "client_id": client_id,
                            "template_slot_id": template_slot_id,
                        }
                    ),
                    _is_active(keys.client(trainer_id, client_id)),
                ]
            )
        except TransactionFailed as exc:
            raise NotFound(client_id) from exc

    def save_client(self, trainer_id: str, client: Client, **changes: Any) -> Client:
        """Replace the client if it is still at the version the form was rendered from.

        Recurring slots are claimed in the same transaction (one RECUR# item per template
        slot), so two clients can never hold the same one, even when saved at once.
        """
        updated = client.model_copy(update={**changes, "version": client.version + 1})
        me = {":me": client.id}
        operations = [tx_put(client_to_item(trainer_id, updated), at_version(client.version))]
        added = [t for t in updated.recurring if t not in client.recurring]
        removed = [t for t in client.recurring if t not in updated.recurring]
        operations += [
            tx_put(
                {
                    **keys.recurring_claim(trainer_id, t),
                    "type": "recurring",
                    "client_id": client.id,
                },
                Condition(
                    "attribute_not_exists(#pk) OR #client_id = :me",
                    {"#pk": keys.PK, "#client_id": "client_id"},
                    me,
                ),
            )
            for t in added
        ]
        operations += [
            tx_delete(
                keys.recurring_claim(trainer_id, t),
                Condition("#client_id = :me", {"#client_id": "client_id"}, me),
            )
            for t in removed
        ]
        try:
            self.db.transact(operations)
        except TransactionFailed as exc:
            if not exc.failed_at(0) and any(exc.failed_at(1 + i) for i in range(len(added))):
                raise Conflict(
                    "Another client took one of these recurring slots meanwhile. Reload the page."
                ) from exc
            raise VersionConflict() from exc
        return updated

    @staticmethod
    def _mirror_location(trainer_id: str, location: Location | None, location_id: str) -> Any:
        """Transaction part that keeps the profile's copy of a location's name in step.

        The profile (read with the session on every request) carries {id: name, archived}
        of every location, so pages that show location names, like the week view, need no
        extra read. It is only ever written in the same transaction as the location item.
        """
        names = {"#locations": "locations", "#lid": location_id}
        if location is None:
            return tx_update(keys.profile(trainer_id), Condition("REMOVE #locations.#lid", names))
        return tx_update(
            keys.profile(trainer_id),
            Condition(
                "SET #locations.#lid = :mirror",
                names,
                {":mirror": {"name": location.name, "archived": location.archived}},
            ),
        )

    def add_location(self, trainer_id: str, location: Location) -> None:
        self.db.transact(
            [
                tx_put(
                    {
                        **keys.location(trainer_id, location.id),
                        "type": "location",
                        "name": location.name,
                        "archived": location.archived,
                        "version": location.version,
                    },
                    new_item(),
                ),
                self._mirror_location(trainer_id, location, location.id),
            ]
        )

    def update_location(self, trainer_id: str, location: Location, **changes: Any) -> Location:
        updated = location.model_copy(update={**changes, "version": location.version + 1})
        try:
            self.db.transact(
                [
                    tx_update(
                        keys.location(trainer_id, location.id),
                        Condition(
                            "SET #name = :name, #archived = :archived, #version = :next",
                            {"#name": "name", "#archived": "archived", "#version": "version"},
                            {
                                ":name": updated.name,
                                ":archived": updated.archived,
                                ":next": updated.version,
                            },
                        ),
                        at_version(location.version),
                    ),
                    self._mirror_location(trainer_id, updated, location.id),
                ]
            )
        except TransactionFailed as exc:
            raise VersionConflict() from exc
        return updated

    def delete_location(
        self, trainer_id: str, location: Location, template: WeeklyTemplate
    ) -> None:
        """Delete only if the location is unchanged and the template is still the one that
        was checked not to use it (a slot added meanwhile cancels the delete)."""
        try:
            self.db.transact(
                [
                    tx_delete(keys.location(trainer_id, location.id), at_version(location.version)),
                    tx_check(keys.template(trainer_id), at_version(template.version)),
                    self._mirror_location(trainer_id, None, location.id),
                ]
            )
        except TransactionFailed as exc:
            raise VersionConflict() from exc

    def save_template(
        self,
        trainer_id: str,
        template: WeeklyTemplate,
        new_template: WeeklyTemplate,
        location_id: str | None,
    ) -> WeeklyTemplate:
        """Write the template if unchanged since read and the slot's location is usable."""
        saved = new_template.model_copy(update={"version": template.version + 1})
        operations: list[dict[str, Any]] = [
            tx_put(
                {
                    **keys.template(trainer_id),
                    "type": "template",
                    "slots": [s.model_dump() for s in saved.slots],
                    "version": saved.version,
                },
                at_version(template.version),
            )
        ]
        if location_id:
            operations.append(_is_active(keys.location(trainer_id, location_id)))
        try:
            self.db.transact(operations)
        except TransactionFailed as exc:
            if exc.failed_at(1) and not exc.failed_at(0):
                raise Conflict("That location was archived or deleted meanwhile.") from exc
            raise VersionConflict() from exc
        return saved

    # Schedule: slots in trainer-weeks ---------------------------------------------
    def get_week(self, trainer_id: str, week: str) -> list[Slot]:
        return self.get_week_with_sessions(trainer_id, week).slots

    def get_week_with_sessions(self, trainer_id: str, week: str) -> Week:
        """A week of the schedule: one Query of the trainer-week partition."""
        items = self.db.query(keys.week_pk(trainer_id, week), sk_range=keys.WEEK_VIEW_RANGE)
        return Week(
            slots=[slot_from_item(i) for i in items if i[keys.SK].startswith(keys.SLOT_PREFIX)],
            sessions=[
                session_from_item(i) for i in items if i[keys.SK].startswith(keys.SESSION_PREFIX)
            ],
        )

    def get_session(self, trainer_id: str, ref: SessionRef) -> Session:
        item = self.db.get(keys.session(trainer_id, ref.week, utc_iso(ref.start_utc), ref.id))
        if item is None:
            raise NotFound(ref.id)
        return session_from_item(item)

    def client_sessions(
        self, trainer_id: str, client_id: str, now: datetime, limit: int = 20
    ) -> tuple[list[Session], list[Session]]:
        """A client's next sessions (soonest first, up to `limit`) and all past ones
        (latest first): the balance needs every past session, not just a page."""
        pk = keys.client_timeline(trainer_id, client_id)
        point = keys.timeline_point(utc_iso(now))
        upcoming = self.client_upcoming(trainer_id, client_id, now, limit)
        past = self.db.query(pk, index=keys.CLIENT_INDEX, sk_range=("0", point), forward=False)
        return upcoming, [session_from_item(i) for i in past]

    def get_session_with_log(
        self, trainer_id: str, ref: SessionRef
    ) -> tuple[Session, list[LogEntry | Message]]:
        """A session and its change log with its messages, oldest first (GetItem + one
        Query: messages sit beside the log lines in the week partition)."""
        session = self.get_session(trainer_id, ref)
        return session, self.log_of(trainer_id, ref.week, ref.id)

    def log_of(self, trainer_id: str, week: str, subject_id: str) -> list[LogEntry | Message]:
        """The change log of a session or a slot, with its messages, oldest first."""
        items = self.db.query(
            keys.week_pk(trainer_id, week), sk_prefix=keys.session_log_prefix(subject_id)
        )
        log: list[LogEntry | Message] = [
            message_from_item(i)
            if keys.is_message_sk(i[keys.SK])
            else LogEntry(at=parse_utc_iso(i["at"]), actor=i["actor"], text=i["text"])
            for i in items
        ]
        log.sort(key=lambda entry: entry.at)
        return log

    def change_session(
        self,
        trainer_id: str,
        session: Session,
        updated: Session,
        actor: str,
        text: str,
        now: datetime,
        *,
        free_slot: bool = False,
        message: Message | None = None,
    ) -> Session:
        """Save a session change with its log line; a cancel also frees the slot, and a
        `message` to the client is queued with it. All or nothing, and only if the session
        is unchanged since it was read."""
        saved = updated.model_copy(update={"version": session.version + 1})
        operations = [
            tx_put(session_to_item(trainer_id, saved), at_version(session.version)),
            _log_op(trainer_id, session, actor, text, now),
        ]
        if message is not None:
            operations.append(tx_put(message_to_item(trainer_id, message), new_item()))
        if (bundle_op := _bundle_entry_op(trainer_id, session, saved)) is not None:
            operations.append(bundle_op)
        if free_slot:
            operations.append(
                tx_update(
                    keys.slot(
                        trainer_id, session.week, utc_iso(session.start_utc), session.slot_id
                    ),
                    Condition(
                        "REMOVE #session_id SET #version = #version + :one",
                        {"#session_id": "session_id", "#version": "version"},
                        {":one": 1},
                    ),
                    Condition(
                        "#session_id = :sid", {"#session_id": "session_id"}, {":sid": session.id}
                    ),
                )
            )
        try:
            self.db.transact(operations)
        except TransactionFailed as exc:
            raise VersionConflict() from exc
        return saved

    def queue_session_message(
        self,
        trainer_id: str,
        session: Session,
        message: Message,
        *,
        invoiced: Session | None = None,
    ) -> bool:
        """Queue a message about a live session, with the session's invoice mark when it
        is an invoice. False if this very message (same id: a double click, a replayed
        form) is already queued; nothing is written twice."""
        session_key = keys.session(trainer_id, session.week, utc_iso(session.start_utc), session.id)
        still_live = Condition("#status = :booked", {"#status": "status"}, {":booked": "booked"})
        operations = [tx_put(message_to_item(trainer_id, message), new_item())]
        if invoiced is not None:
            operations.append(
                tx_update(
                    session_key,
                    Condition(
                        "SET #sent = :sent, #price = :price, #version = #version + :one",
                        {
                            "#sent": "invoice_sent_at",
                            "#price": "price_minor",
                            "#version": "version",
                        },
                        {
                            ":sent": utc_iso(message.created_at),
                            ":price": invoiced.price_minor,
                            ":one": 1,
                        },
                    ),
                    still_live,
                )
            )
        else:
            operations.append(tx_check(session_key, still_live))
        try:
            self.db.transact(operations)
        except TransactionFailed as exc:
            if exc.failed_at(0):
                return False
            raise Conflict(
                "This session was canceled or moved meanwhile. Reload the page to see it."
            ) from exc
        return True

    def move_session(
        self,
        trainer_id: str,
        session: Session,
        moved: Session,
        replacement: Session,
        target: Slot,
        actor: str,
        now: datetime,
        link: ClientLink | None = None,
    ) -> None:
        """One transaction: the target slot taken by the replacement session, the old slot
        freed, the old session marked moved (only if unchanged since read), both logged."""
        operations = [
            tx_update(
                _slot_key(trainer_id, target),
                Condition(
                    "SET #session_id = :session, #version = #version + :one",
                    {"#session_id": "session_id", "#version": "version"},
                    {":session": replacement.id, ":one": 1},
                ),
                _and(
                    Condition(
                        "attribute_exists(#pk) AND attribute_not_exists(#session_id)",
                        {"#pk": keys.PK, "#session_id": "session_id"},
                    ),
                    _not_locked(now),
                ),
            ),
            tx_put(
                session_to_item(
                    trainer_id, moved.model_copy(update={"version": session.version + 1})
                ),
                at_version(session.version),
            ),
            tx_update(
                keys.slot(trainer_id, session.week, utc_iso(session.start_utc), session.slot_id),
                Condition(
                    "REMOVE #session_id SET #version = #version + :one",
                    {"#session_id": "session_id", "#version": "version"},
                    {":one": 1},
                ),
                Condition(
                    "#session_id = :sid", {"#session_id": "session_id"}, {":sid": session.id}
                ),
            ),
            tx_put(session_to_item(trainer_id, replacement), new_item()),
            _log_op(trainer_id, session, actor, f"Moved to {replacement.label}", now),
            _log_op(trainer_id, replacement, actor, f"Moved here from {session.label}", now),
            *([_session_link_op(trainer_id, replacement, link)] if link else []),
        ]
        if (bundle_op := _bundle_entry_op(trainer_id, session, replacement)) is not None:
            operations.append(bundle_op)
        try:
            self.db.transact(operations)
        except TransactionFailed as exc:
            if exc.failed_at(0) and not exc.failed_at(1):
                raise Conflict(
                    "That slot was just taken. The session stays where it was: pick another "
                    "open slot."
                ) from exc
            raise VersionConflict() from exc

    def trainer_sessions(
        self,
        trainer_id: str,
        now: datetime,
        *,
        upcoming: bool,
        after: dict[str, str] | None,
        limit: int = 20,
    ) -> tuple[list[Session], dict[str, str] | None]:
        """One page of the Sessions tab: upcoming soonest first, past latest first."""
        pk = keys.trainer_timeline(trainer_id)
        point = keys.timeline_point(utc_iso(now))
        sk_range = (point, "~") if upcoming else ("0", point)
        if after is not None and not _is_timeline_cursor(after, trainer_id, sk_range):
            after = None  # a cursor from elsewhere (tampered, another trainer): start over
        items, last = self.db.query_page(
            pk,
            index=keys.TRAINER_INDEX,
            sk_range=sk_range,
            forward=upcoming,
            limit=limit,
            start_key=after,
        )
        return [session_from_item(i) for i in items], last

    def trainer_sessions_between(
        self, trainer_id: str, since: datetime, until: datetime, limit: int
    ) -> tuple[list[Session], bool]:
        """Live and voided sessions starting in [since, until), latest first: one Query
        page of TrainerTimeline, so the read is bounded by time *and* by `limit` however
        old the account is (the dashboard's unpaid total). The flag is True when the
        page did not reach `since` (the limit or DynamoDB's 1 MB page cut it short)."""
        items, last = self.db.query_page(
            keys.trainer_timeline(trainer_id),
            index=keys.TRAINER_INDEX,
            sk_range=(keys.timeline_point(utc_iso(since)), keys.timeline_point(utc_iso(until))),
            forward=False,
            limit=limit,
            start_key=None,
        )
        return [session_from_item(i) for i in items], last is not None

    def client_upcoming(
        self, trainer_id: str, client_id: str, now: datetime, limit: int = 20
    ) -> list[Session]:
        """A client's next sessions, soonest first: one Query of ClientTimeline."""
        items = self.db.query(
            keys.client_timeline(trainer_id, client_id),
            index=keys.CLIENT_INDEX,
            sk_range=(keys.timeline_point(utc_iso(now)), "~"),
            limit=limit,
        )
        return [session_from_item(i) for i in items]

    def book_slot(
        self,
        trainer_id: str,
        slot: Slot,
        session: Session,
        link: ClientLink | None = None,
        *,
        actor: str = "trainer",
        note: str = "Booked by the trainer",
    ) -> None:
        """Take an open slot for a session: exactly one of two bookings at once wins."""
        try:
            self.db.transact(
                [
                    tx_update(
                        _slot_key(trainer_id, slot),
                        Condition(
                            "SET #session_id = :session, #version = :next",
                            {"#session_id": "session_id", "#version": "version"},
                            {":session": session.id, ":next": slot.version + 1},
                        ),
                        _and(
                            Condition(
                                "attribute_exists(#pk) AND attribute_not_exists(#session_id)",
                                {"#pk": keys.PK, "#session_id": "session_id"},
                            ),
                            _not_locked(session.created_at),
                        ),
                    ),
                    tx_put(session_to_item(trainer_id, session), new_item()),
                    _is_active(keys.client(trainer_id, session.client_id)),
                    _log_op(trainer_id, session, actor, note, session.created_at),
                    *([_session_link_op(trainer_id, session, link)] if link else []),
                ]
            )
        except TransactionFailed as exc:
            if exc.failed_at(2) and not exc.failed_at(0):
                raise ClientUnavailable("That client was archived meanwhile.") from exc
            raise Conflict("This slot was just taken. Reload the schedule to see it.") from exc

    def add_slot(
        self,
        trainer_id: str,
        slot: Slot,
        booking: Session | None = None,
        link: ClientLink | None = None,
    ) -> None:
        """Create a slot and take its half hours; refused if any is taken or the location
        was archived or deleted meanwhile. With a booking, the slot is created taken by
        that session, in the same transaction (and only if the client is still active)."""
        guards = guard_instants(slot)
        if booking is not None:
            slot = slot.model_copy(update={"session_id": booking.id})
        operations = [
            tx_put(slot_to_item(trainer_id, slot), new_item()),
            _is_active(keys.location(trainer_id, slot.location_id)),
            *(
                tx_put(
                    {
                        **keys.slot_guard(trainer_id, slot.week, utc_iso(instant)),
                        "type": "guard",
                        "slot_id": slot.id,
                    },
                    new_item(),
                )
                for instant in guards
            ),
        ]
        if booking is not None:
            operations += [
                tx_put(session_to_item(trainer_id, booking), new_item()),
                _log_op(
                    trainer_id,
                    booking,
                    "trainer",
                    "Booked by Apply template (recurring slot)",
                    booking.created_at,
                ),
                _is_active(keys.client(trainer_id, booking.client_id)),
            ]
            if link is not None:
                operations.insert(len(operations) - 1, _session_link_op(trainer_id, booking, link))
        try:
            self.db.transact(operations)
        except TransactionFailed as exc:
            if exc.failed_at(1):
                raise Conflict("That location was archived or deleted meanwhile.") from exc
            if booking is not None and exc.failed_at(len(operations) - 1):
                raise ClientUnavailable("That client was archived meanwhile.") from exc
            raise Conflict(
                "Another slot already takes part of that time. Reload the schedule to see it."
            ) from exc

    def remove_slot(self, trainer_id: str, slot: Slot, now: datetime) -> None:
        """Remove an open slot (unchanged since read, no live offer on it) and free its
        half hours."""
        try:
            self.db.transact(
                [
                    tx_delete(
                        _slot_key(trainer_id, slot),
                        _and(_open_at_version(slot), _not_locked(now)),
                    ),
                    *(
                        tx_delete(
                            keys.slot_guard(trainer_id, slot.week, utc_iso(instant)),
                            Condition(
                                "#slot_id = :sid", {"#slot_id": "slot_id"}, {":sid": slot.id}
                            ),
                        )
                        for instant in guard_instants(slot)
                    ),
                ]
            )
        except TransactionFailed as exc:
            raise VersionConflict() from exc

    def move_slot_location(self, trainer_id: str, slot: Slot, location_id: str) -> Slot:
        moved = slot.model_copy(update={"location_id": location_id, "version": slot.version + 1})
        try:
            self.db.transact(
                [
                    tx_update(
                        _slot_key(trainer_id, slot),
                        Condition(
                            "SET #location_id = :location, #version = :next",
                            {"#location_id": "location_id", "#version": "version"},
                            {":location": location_id, ":next": moved.version},
                        ),
                        _open_at_version(slot),
                    ),
                    _is_active(keys.location(trainer_id, location_id)),
                ]
            )
        except TransactionFailed as exc:
            if exc.failed_at(1) and not exc.failed_at(0):
                raise Conflict("That location was archived or deleted meanwhile.") from exc
            raise VersionConflict() from exc
        return moved

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
        attributes = _offer_attributes(locked)
        names = {f"#a{i}": name for i, name in enumerate(attributes)}
        values = {f":a{i}": value for i, value in enumerate(attributes.values())}
        sets = ", ".join(f"#a{i} = :a{i}" for i in range(len(attributes)))
        try:
            self.db.transact(
                [
                    tx_update(
                        _slot_key(trainer_id, slot),
                        Condition(
                            f"SET {sets}, #version = :next",
                            {**names, "#version": "version"},
                            {**values, ":next": locked.version},
                        ),
                        _and(_open_at_version(slot), _not_locked(now)),
                    ),
                    tx_put(message_to_item(trainer_id, message), new_item()),
                    _offer_link_op(trainer_id, locked, offer, link),
                    _subject_log_op(
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
            if exc.failed_at(1) and not exc.failed_at(0):
                raise Conflict("That offer was already sent.") from exc
            raise VersionConflict() from exc
        return locked

    @staticmethod
    def _end_offer(
        slot_key: dict[str, str], condition: Condition, set_session: str | None = None
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
        )

    def withdraw_offer(self, trainer_id: str, slot: Slot, now: datetime) -> None:
        offer = slot.offer
        if offer is None:
            raise Conflict("There is no offer on this slot.")
        try:
            self.db.transact(
                [
                    self._end_offer(
                        _slot_key(trainer_id, slot),
                        Condition(
                            "#offer_id = :oid", {"#offer_id": "offer_id"}, {":oid": offer.id}
                        ),
                    ),
                    _subject_log_op(
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
                        _slot_key(trainer_id, slot),
                        Condition(
                            "#offer_id = :oid AND #offer_until <= :now",
                            {"#offer_id": "offer_id", "#offer_until": "offer_expires_at"},
                            {":oid": offer.id, ":now": utc_iso(now)},
                        ),
                    ),
                    _subject_log_op(
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
    ) -> None:
        """The offered client takes the slot: only while the lock is theirs and live."""
        try:
            self.db.transact(
                [
                    self._end_offer(
                        _slot_key(trainer_id, slot),
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
                        set_session=session.id,
                    ),
                    tx_put(session_to_item(trainer_id, session), new_item()),
                    _is_active(keys.client(trainer_id, session.client_id)),
                    _log_op(
                        trainer_id,
                        session,
                        "client",
                        "Booked by accepting a last-minute offer",
                        now,
                    ),
                    _session_link_op(trainer_id, session, link),
                ]
            )
        except TransactionFailed as exc:
            if exc.failed_at(2) and not exc.failed_at(0):
                raise ClientUnavailable("That client was archived.") from exc
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

    # Tokens (sign-in links, session cookies) -----------------------------------------
    def put_token(
        self, token_hash: str, kind: str, expires_at: datetime, data: dict[str, Any]
    ) -> None:
        self.db.put(
            {
                **keys.token(token_hash),
                "type": "token",
                "kind": kind,
                "expires_at": utc_iso(expires_at),
                # TTL only tidies up (a day late is fine): validity is decided in code
                # and in write conditions against "now".
                keys.TTL: _epoch(expires_at) + 86400,
                **data,
            },
            new_item(),
        )

    def get_token(self, token_hash: str) -> TokenRecord | None:
        item = self.db.get(keys.token(token_hash))
        return self._token_record(item) if item else None

    @staticmethod
    def _token_record(item: Item) -> TokenRecord:
        reserved = {keys.PK, keys.SK, "type", "kind", "expires_at", "used_at", keys.TTL}
        # revoked_at stays in data: portal links are revoked rather than used
        return TokenRecord(
            kind=item["kind"],
            expires_at=parse_utc_iso(item["expires_at"]),
            used_at=parse_utc_iso(item["used_at"]) if item.get("used_at") else None,
            data={k: v for k, v in item.items() if k not in reserved},
        )

    def use_token_op(self, token_hash: str, kind: str, now: datetime) -> dict[str, Any]:
        """Transaction part that marks a single-use token used, if valid at `now`."""
        return tx_update(
            keys.token(token_hash),
            Condition("SET #used_at = :now", {"#used_at": "used_at"}, {":now": utc_iso(now)}),
            Condition(
                "attribute_exists(#pk) AND #kind = :kind AND attribute_not_exists(#used_at)"
                " AND #expires_at > :now",
                {
                    "#pk": keys.PK,
                    "#kind": "kind",
                    "#expires_at": "expires_at",
                    "#used_at": "used_at",
                },
                {":kind": kind, ":now": utc_iso(now)},
            ),
        )

    def session_op(self, token_hash: str, trainer_id: str, csrf: str, expires_at: datetime) -> Any:
        return tx_put(
            {
                **keys.token(token_hash),
                "type": "token",
                "kind": "session",
                "trainer_id": trainer_id,
                "csrf": csrf,
                "expires_at": utc_iso(expires_at),
                keys.TTL: _epoch(expires_at) + 86400,
            },
            new_item(),
        )

    def transact(self, operations: list[dict[str, Any]]) -> None:
        self.db.transact(operations)

    def delete_token(self, token_hash: str) -> None:
        self.db.delete(keys.token(token_hash))

    def session_with_profile(
        self, token_hash: str, trainer_id: str
    ) -> tuple[TokenRecord | None, Trainer | None]:
        """The session and the trainer's profile in one round trip (BatchGetItem)."""
        items = self.db.batch_get([keys.token(token_hash), keys.profile(trainer_id)])
        token = profile = None
        for item in items:
            if item[keys.SK] == "TOKEN":
                token = self._token_record(item)
            else:
                profile = trainer_from_item(item)
        return token, profile

    # Rate limits ---------------------------------------------------------------------
    def count_attempt(
        self, scope: str, subject_hash: str, window_start: int, window_seconds: int, limit: int
    ) -> bool:
        """Count one attempt in a fixed window; False once the window's limit is reached."""
        try:
            self.db.update(
                keys.rate_window(scope, subject_hash, window_start),
                Condition(
                    "ADD #n :one SET #ttl = :ttl",
                    {"#n": "attempts", "#ttl": keys.TTL},
                    {":one": 1, ":ttl": window_start + 2 * window_seconds},
                ),
                Condition(
                    "attribute_not_exists(#n) OR #n < :limit", {"#n": "attempts"}, {":limit": limit}
                ),
            )
        except ConditionFailed:
            return False
        return True

    def release_attempt(self, scope: str, subject_hash: str, window_start: int) -> None:
        """Give back an attempt that did not happen after all (e.g. the email bounced)."""
        try:
            self.db.update(
                keys.rate_window(scope, subject_hash, window_start),
                Condition("ADD #n :minus_one", {"#n": "attempts"}, {":minus_one": -1}),
                Condition("#n > :zero", {"#n": "attempts"}, {":zero": 0}),
            )
        except ConditionFailed:
            return  # the window has passed or was never counted: nothing to give back

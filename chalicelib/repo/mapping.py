"""Item <-> model mapping, and the read models several stores return.

Items are the app's own (written by these functions), so mapping trusts their shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from chalicelib.domain.card_payments import CardSettings
from chalicelib.domain.clients import Client
from chalicelib.domain.errors import NotFound
from chalicelib.domain.models import Location, LocationName, Trainer
from chalicelib.domain.reminders import first_stage
from chalicelib.domain.schedule import (
    ClientBalance,
    Document,
    Offer,
    Session,
    Slot,
)
from chalicelib.domain.settings import TrainerSettings
from chalicelib.domain.skips import ClientSkips
from chalicelib.domain.template import TemplateSlot, WeeklyTemplate
from chalicelib.domain.time_off_periods import TimeOff, TimeOffPeriod
from chalicelib.domain.timeutil import parse_utc_iso, utc_iso
from chalicelib.repo import keys
from chalicelib.repo.dynamo import (
    Item,
)


def epoch(instant: datetime) -> int:
    return int(instant.timestamp())


def slot_key(trainer_id: str, slot: Slot) -> dict[str, str]:
    return keys.slot(trainer_id, slot.week, utc_iso(slot.start_utc), slot.id)


def iso_or_none(instant: datetime | None) -> str | None:
    return None if instant is None else utc_iso(instant)


def instant_or_none(text: str | None) -> datetime | None:
    return None if not text else parse_utc_iso(text)


# Mapping -----------------------------------------------------------------------------
def balance_from_item(item: Item) -> ClientBalance:
    return ClientBalance(
        unpaid_minor=int(item.get("unpaid_minor", 0)),
        unpaid_count=int(item.get("unpaid_count", 0)),
        counted=bool(item.get("counted", False)),
    )


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
        **({} if trainer.time_off is None else {"time_off": time_off_mirror(trainer.time_off)}),
    }


def time_off_period_to_map(period: TimeOffPeriod) -> dict[str, Any]:
    """A period as the `CFG#TIMEOFF` item and the profile's copy both store it."""
    return {
        "id": period.id,
        "first_day": period.first_day.isoformat(),
        "last_day": period.last_day.isoformat(),
        "start": period.start,
        "end": period.end,
        "start_utc": utc_iso(period.start_utc),
        "end_utc": utc_iso(period.end_utc),
        "note": period.note,
    }


def time_off_period_from_map(data: dict[str, Any]) -> TimeOffPeriod:
    return TimeOffPeriod(
        id=data["id"],
        first_day=data["first_day"],
        last_day=data["last_day"],
        start=None if data.get("start") is None else int(data["start"]),
        end=None if data.get("end") is None else int(data["end"]),
        start_utc=parse_utc_iso(data["start_utc"]),
        end_utc=parse_utc_iso(data["end_utc"]),
        note=data.get("note") or "",
    )


def time_off_mirror(time_off: TimeOff) -> dict[str, Any]:
    """The profile's copy of the time-off item: its periods and the version it copies."""
    return {
        "periods": [time_off_period_to_map(p) for p in time_off.periods],
        "version": time_off.version,
    }


def time_off_from_mirror(data: dict[str, Any] | None) -> TimeOff | None:
    if data is None:
        return None  # a profile written before the copy existed
    return TimeOff(
        periods=tuple(time_off_period_from_map(p) for p in data.get("periods") or ()),
        version=int(data.get("version") or 0),
    )


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
        time_off=time_off_from_mirror(item.get("time_off")),
        takes_card_payments=card_settings_from_profile(item).takes_payments,
    )


def card_settings_from_profile(profile: Item) -> CardSettings:
    """The Stripe connection kept on the trainer's profile (docs/card-payments.md)."""
    saved = profile.get("card_payments") or {}
    return CardSettings(
        enabled=bool(saved.get("enabled", False)),
        key_ref=str(saved.get("key_ref", "")),
        webhook_secret_ref=str(saved.get("webhook_secret_ref", "")),
        mode=saved.get("mode"),
        version=int(saved.get("version", 0)),
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
        keys.PHONE_PK: keys.phone(client.phone) if client.phone else None,
        "type": "client",
        "name": client.name,
        "phone": client.phone,
        "email": client.email or None,
        "price_minor": client.price_minor,
        "location_ids": list(client.location_ids),
        "recurring": list(client.recurring),
        "pack_ties": dict(client.pack_ties) or None,  # absent when none
        "shared_notes": client.shared_notes or None,
        "private_notes": client.private_notes or None,
        "archived": client.archived,
        "messages_opt_out": client.messages_opt_out,
        "reminders_off": client.reminders_off or None,
        "email_bouncing": client.email_bouncing or None,
        # Absent = the trainer's default (None is dropped when the item is written).
        "booking_window_weeks": client.booking_window_weeks,
        "cancel_deadline_hours": client.cancel_deadline_hours,
        # Absent when none, so clients who never skip keep their items as they were.
        "skipped_dates": [
            {"template_slot_id": s.template_slot_id, "day": s.day.isoformat()}
            for s in client.skips.dates
        ]
        or None,
        "pauses": [
            {"first_day": p.first_day.isoformat(), "last_day": p.last_day.isoformat()}
            for p in client.skips.pauses
        ]
        or None,
        "skips_rev": client.skips_rev or None,
        "portal_generation": client.portal_generation,
        "version": client.version,
        "created_at": utc_iso(client.created_at),
    }


def _optional_int(value: Any) -> int | None:
    # DynamoDB numbers come back as Decimal; items from before a field existed lack it.
    return None if value is None else int(value)


def client_from_item(item: Item) -> Client:
    return Client(
        id=keys.client_id_from_sk(item[keys.SK]),
        name=item["name"],
        phone=item["phone"],
        email=item.get("email") or "",
        price_minor=item.get("price_minor"),
        location_ids=tuple(item.get("location_ids") or ()),
        recurring=tuple(item.get("recurring") or ()),
        pack_ties=tuple(sorted((item.get("pack_ties") or {}).items())),
        shared_notes=item.get("shared_notes") or "",
        private_notes=item.get("private_notes") or "",
        archived=bool(item.get("archived", False)),
        messages_opt_out=bool(item.get("messages_opt_out", False)),
        reminders_off=bool(item.get("reminders_off", False)),
        email_bouncing=bool(item.get("email_bouncing", False)),
        booking_window_weeks=_optional_int(item.get("booking_window_weeks")),
        cancel_deadline_hours=_optional_int(item.get("cancel_deadline_hours")),
        skips=ClientSkips.model_validate(
            {"dates": item.get("skipped_dates") or (), "pauses": item.get("pauses") or ()}
        ),
        skips_rev=int(item.get("skips_rev") or 0),
        portal_generation=item.get("portal_generation", 1),
        version=item["version"],
        created_at=parse_utc_iso(item["created_at"]),
    )


def slot_to_item(trainer_id: str, slot: Slot) -> Item:
    return {
        **slot_key(trainer_id, slot),
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
        **offer_attributes(slot),
        "version": slot.version,
    }


OFFER_LOCK_KIND = "offer-lock"
# Names of the attributes an offer puts on its slot (all removed together when it ends).
OFFER_ATTRIBUTES = ("offer_id", "offer_client_id", "offer_client_name", "offer_expires_at")


def offer_attributes(slot: Slot) -> dict[str, Any]:
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


def offer_from(item: Item) -> Offer | None:
    if not item.get("offer_id"):
        return None
    return Offer(
        id=item["offer_id"],
        client_id=item["offer_client_id"],
        client_name=item.get("offer_client_name", ""),
        expires_at=parse_utc_iso(item["offer_expires_at"]),
    )


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
        offer=offer_from(item),
        version=item["version"],
    )


def is_timeline_cursor(key: dict[str, str], trainer_id: str, sk_range: tuple[str, str]) -> bool:
    """Only a key this query could have returned: DynamoDB answers anything else (a
    missing attribute, a key outside the range) with a ValidationException, not a page."""
    return (
        set(key) == {keys.PK, keys.SK, keys.TRAINER_PK, keys.TRAINER_SK}
        and key[keys.TRAINER_PK] == keys.trainer_timeline(trainer_id)
        and key[keys.PK].startswith(keys.week_pk(trainer_id, ""))
        and key[keys.SK].startswith(keys.SESSION_PREFIX)
        and sk_range[0] <= key[keys.TRAINER_SK] <= sk_range[1]
    )


REMINDER_DUE_KIND = "reminder"


def reminder_due_keys(session: Session) -> dict[str, str | None]:
    """A booked session is due for the reminder job at its first stage (sparse DueWork
    index; docs/reminders.md); any other status carries none, so a cancel, a move or a
    void drops them in its own write. The job moves DueSK on to the next stage (or
    removes it) without touching the version; a later Put of the session puts the first
    stage back, which costs that job one look and no message (the ids are fixed)."""
    if session.status != "booked":
        return {keys.DUE_PK: None, keys.DUE_SK: None}
    return {
        keys.DUE_PK: keys.due_work(REMINDER_DUE_KIND),
        keys.DUE_SK: keys.due_sk(utc_iso(first_stage(session.start_utc)), session.id),
    }


GONE_STATUSES = frozenset({"canceled", "moved"})


def trainer_timeline_keys(trainer_id: str, session: Session) -> dict[str, str]:
    """A canceled or moved session leaves the Sessions tab's partition for the gone one
    (the trainer's calendar feed shows it as cancelled), in the write that changes its
    status: no other write, and no path that cancels or moves can forget it."""
    partition = (
        keys.trainer_gone_timeline(trainer_id)
        if session.status in GONE_STATUSES
        else keys.trainer_timeline(trainer_id)
    )
    return {
        keys.TRAINER_PK: partition,
        keys.TRAINER_SK: keys.client_timeline_sk(utc_iso(session.start_utc), session.id),
    }


def session_to_item(trainer_id: str, session: Session) -> Item:
    return {
        **keys.session(trainer_id, session.week, utc_iso(session.start_utc), session.id),
        **reminder_due_keys(session),
        keys.CLIENT_PK: keys.client_timeline(trainer_id, session.client_id),
        keys.CLIENT_SK: keys.client_timeline_sk(utc_iso(session.start_utc), session.id),
        **trainer_timeline_keys(trainer_id, session),
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
        "invoice_sent_at": iso_or_none(session.invoice_sent_at),
        "payment_reference": session.payment_reference,
        "charge_minor": session.charge_minor,
        "late_cancel": session.late_cancel or None,
        "changing": session.changing,
        "moved_from": session.moved_from,
        "moved_to": session.moved_to,
        "bundle_id": session.bundle_id,
        "bundle_index": session.bundle_index,
        "bundle_title": session.bundle_title or None,
        "video_link": session.video_link or None,
        "documents": [d.model_dump(exclude_defaults=True) for d in session.documents] or None,
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
        invoice_sent_at=instant_or_none(item.get("invoice_sent_at")),
        payment_reference=item.get("payment_reference"),
        charge_minor=_optional_int(item.get("charge_minor")),
        late_cancel=bool(item.get("late_cancel", False)),
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
    """The account's set-up read, one Query of its CFG# items: locations and template,
    who opted in to each template time, who holds each template slot, and the client
    index. Bounded by the template and one index item: it reads no client item, so it
    does not grow with the clients (the clients list and a client's own page read
    those)."""

    setup: Setup
    clients: dict[str, ClientSummary] = field(default_factory=dict)  # the index, by id
    opted_in: dict[str, frozenset[str]] = field(default_factory=dict)  # template slot -> ids
    holders: dict[str, str] = field(default_factory=dict)  # template slot -> client id

    def link_shared(self, client: Client | ClientSummary) -> bool:
        """The client's current portal link (not a rotated one) was copied or sent."""
        entry = self.clients.get(client.id)
        return entry is not None and entry.shared_generation == client.portal_generation

    def active_clients(self) -> list[ClientSummary]:
        """Clients not archived, by name: the pickers' choices."""
        active = (c for c in self.clients.values() if not c.archived)
        return sorted(active, key=lambda c: c.name.casefold())

    def recurring_holders(self) -> dict[str, str]:
        """Template slot id -> the client holding it as a recurring slot."""
        return dict(self.holders)

    def client_names(self) -> dict[str, str]:
        return {c.id: c.name for c in self.clients.values()}

    def optins_of(self, client_id: str) -> set[str]:
        """The template slot ids one client opted in to."""
        return {t for t, ids in self.opted_in.items() if client_id in ids}


@dataclass(frozen=True)
class TokenRecord:
    kind: str
    expires_at: datetime
    used_at: datetime | None
    data: dict[str, Any]


@dataclass(frozen=True)
class ClientSummary:
    """A client as the client index keeps them (repo/client_index.py): what pickers,
    filters, counts and matching need, read without the client's own item."""

    id: str
    name: str
    archived: bool = False
    location_ids: tuple[str, ...] = ()
    portal_generation: int = 1
    shared_generation: int | None = None  # the portal link generation last copied or sent

    @property
    def configured(self) -> bool:
        """Getting-started step 4, as `Client.configured`: a location is enabled."""
        return bool(self.location_ids)

    @property
    def link_shared(self) -> bool:
        """Its current portal link (not a rotated one) was copied or sent."""
        return self.shared_generation == self.portal_generation

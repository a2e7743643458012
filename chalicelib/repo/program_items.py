"""Programs' items: templates, bundles and wizard drafts <-> models, and the hub's keys."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Final

from chalicelib.domain.programs import (
    Bundle,
    BundleEntry,
    DateCard,
    Draft,
    OfferInput,
    ProgramTemplate,
    QuickInput,
)
from chalicelib.domain.schedule import Document
from chalicelib.domain.timeutil import parse_utc_iso, utc_iso
from chalicelib.repo import keys
from chalicelib.repo.dynamo import (
    Item,
)

MAX_TRANSACTION: Final = 100
PACK_DUE_KIND: Final = "pack"  # DueWork partition of the pack-notice job
MAX_BATCH_GET: Final = 100
DRAFT_DAYS: Final = 14
HUB_PAGE: Final = 20


# Mapping -----------------------------------------------------------------------------------
def _documents(item: Item) -> tuple[Document, ...]:
    return tuple(Document.model_validate(d) for d in item.get("documents") or ())


def template_to_item(trainer_id: str, template: ProgramTemplate) -> Item:
    return {
        **keys.program(trainer_id, template.id),
        "type": "program",
        "id": template.id,
        "title": template.title,
        "sessions": template.sessions,
        "price_minor": template.price_minor,
        "location_id": template.location_id,
        "length": template.length,
        "video_link": template.video_link or None,
        "documents": [d.model_dump(exclude_defaults=True) for d in template.documents],
        "version": template.version,
        "created_at": utc_iso(template.created_at),
    }


def template_from_item(item: Item) -> ProgramTemplate:
    return ProgramTemplate(
        id=item["id"],
        title=item["title"],
        sessions=item["sessions"],
        price_minor=item["price_minor"],
        location_id=item["location_id"],
        length=item.get("length", 60),
        video_link=item.get("video_link") or "",
        documents=_documents(item),
        version=item["version"],
        created_at=parse_utc_iso(item["created_at"]),
    )


def hub_sk(bundle: Bundle, at: datetime) -> str:
    """Where the bundle sorts in the hub (TrainerTimeline `T#<tid>#BUNDLES`): by when it
    is over, newest first. Completed by hand: `at`, the moment of that write. Active
    with every planned session booked: when the last of them ends (it completes by
    itself then). Otherwise (paused, being created, sessions still to book) it has no
    end and sorts first. Written with every write of the bundle made here; a cancel,
    void or move of one of its sessions (pattern 63) leaves it as it was, so the hub
    splits each page by the bundle's state, never by this key."""
    over = at if bundle.status == "completed" else bundle.finishes_at()
    return keys.bundle_hub_sk(
        utc_iso(over) if over else None, utc_iso(bundle.created_at), bundle.id
    )


def bundle_to_item(trainer_id: str, bundle: Bundle, at: datetime | None = None) -> Item:
    created = utc_iso(bundle.created_at)
    return {
        **keys.bundle(trainer_id, bundle.id),
        keys.CLIENT_PK: keys.client_bundles(trainer_id, bundle.client_id),
        keys.CLIENT_SK: keys.timeline_point(created) + "#" + bundle.id,
        keys.TRAINER_PK: keys.trainer_bundles(trainer_id),
        keys.TRAINER_SK: hub_sk(bundle, at or bundle.created_at),
        # The pack-notice job looks at every new bundle once (services/packs.py).
        keys.DUE_PK: keys.due_work(PACK_DUE_KIND),
        keys.DUE_SK: keys.due_sk("0", bundle.id),
        "type": "bundle",
        "id": bundle.id,
        "client_id": bundle.client_id,
        "client_name": bundle.client_name,
        "title": bundle.title,
        "sessions_planned": bundle.sessions_planned,
        "price_minor": bundle.price_minor,
        "location_id": bundle.location_id,
        "length": bundle.length,
        "video_link": bundle.video_link or None,
        "documents": [d.model_dump(exclude_defaults=True) for d in bundle.documents],
        "template_id": bundle.template_id,
        "status": bundle.status,
        "entries": [entry_to_item(e) for e in bundle.entries],
        "confirmations_round": bundle.confirmations_round,
        "confirmations_sent_at": (
            utc_iso(bundle.confirmations_sent_at) if bundle.confirmations_sent_at else None
        ),
        "pack_paid_at": _iso(bundle.pack_paid_at),
        "pack_payment_type": bundle.pack_payment_type,
        "tied_slot_id": bundle.tied_slot_id,
        "low_noticed_at": _iso(bundle.low_noticed_at),
        "renewal_sent_at": _iso(bundle.renewal_sent_at),
        "used_counted": bundle.used_counted or None,
        "invoice_number": bundle.invoice_number,
        "sessions_invoiced": bundle.sessions_invoiced or None,
        "created_at": created,
        "version": bundle.version,
    }


def _iso(at: datetime | None) -> str | None:
    return utc_iso(at) if at else None


def _at(item: Item, name: str) -> datetime | None:
    value = item.get(name)
    return parse_utc_iso(value) if value else None


def entry_to_item(entry: BundleEntry) -> dict[str, object]:
    """One entry of a bundle's summary (`charged` only when set: older items lack it)."""
    item: dict[str, object] = {
        "ref": entry.ref,
        "end_utc": utc_iso(entry.end_utc),
        "status": entry.status,
    }
    if entry.charged:
        item["charged"] = True
    return item


def bundle_from_item(item: Item) -> Bundle:
    sent = item.get("confirmations_sent_at")
    return Bundle(
        id=item["id"],
        client_id=item["client_id"],
        client_name=item["client_name"],
        title=item["title"],
        sessions_planned=item["sessions_planned"],
        price_minor=item["price_minor"],
        location_id=item["location_id"],
        length=item.get("length", 60),
        video_link=item.get("video_link") or "",
        documents=_documents(item),
        template_id=item.get("template_id"),
        status=item["status"],
        entries=tuple(
            BundleEntry(
                ref=e["ref"],
                end_utc=parse_utc_iso(e["end_utc"]),
                status=e["status"],
                charged=bool(e.get("charged")),
            )
            for e in item.get("entries") or ()
        ),
        confirmations_round=item.get("confirmations_round", 0),
        confirmations_sent_at=parse_utc_iso(sent) if sent else None,
        pack_paid_at=_at(item, "pack_paid_at"),
        pack_payment_type=item.get("pack_payment_type"),
        tied_slot_id=item.get("tied_slot_id"),
        low_noticed_at=_at(item, "low_noticed_at"),
        renewal_sent_at=_at(item, "renewal_sent_at"),
        used_counted=int(item.get("used_counted") or 0),
        invoice_number=int(item["invoice_number"]) if item.get("invoice_number") else None,
        sessions_invoiced=int(item.get("sessions_invoiced", 0)),
        created_at=parse_utc_iso(item["created_at"]),
        version=item["version"],
    )


def draft_to_item(trainer_id: str, draft: Draft) -> Item:
    return {
        **keys.draft(trainer_id, draft.id),
        "type": "draft",
        "id": draft.id,
        "client_id": draft.client_id,
        "template_id": draft.template_id,
        "template_title": draft.template_title or None,
        # Stored by the forms' field names, as typed (drafts written before kept them so).
        "offer": draft.offer.typed(),
        "quick": draft.quick.typed(),
        "cards": [{"day": c.day, "start": c.start} for c in draft.cards],
        "version": draft.version,
        "created_at": utc_iso(draft.created_at),
        # A wizard left open is cleaned up after two weeks (TTL only tidies up).
        keys.TTL: int(draft.created_at.timestamp()) + DRAFT_DAYS * 86400,
    }


def draft_from_item(item: Item) -> Draft:
    return Draft(
        id=item["id"],
        client_id=item["client_id"],
        template_id=item.get("template_id"),
        template_title=item.get("template_title") or "",
        offer=OfferInput.model_validate(item.get("offer") or {}),
        quick=QuickInput.model_validate(item.get("quick") or {}),
        cards=tuple(DateCard.model_validate(c) for c in item.get("cards") or ()),
        version=item["version"],
        created_at=parse_utc_iso(item["created_at"]),
    )


HUB_RANGE: Final = ("0", keys.OPEN_ENDED * 2)  # every dated key, then every open-ended one


def is_hub_cursor(key: Mapping[str, str], trainer_id: str) -> bool:
    """Only a key the hub's Query could have returned: DynamoDB answers anything else
    with a ValidationException, not a page."""
    return (
        set(key) == {keys.PK, keys.SK, keys.TRAINER_PK, keys.TRAINER_SK}
        and key[keys.TRAINER_PK] == keys.trainer_bundles(trainer_id)
        and key[keys.PK] == keys.programs_pk(trainer_id)
        and key[keys.SK].startswith(keys.BUNDLE_PREFIX)
        and HUB_RANGE[0] <= key[keys.TRAINER_SK] <= HUB_RANGE[1]
    )

"""Every mapped model read back from the item it is written as is the same model.

Each item takes the real way through: `to_attrs` (what is sent), JSON (what DynamoDB
answers, read as plain JSON by `Db`), `from_attrs` and the `*_from_item` function. So a
reader that skipped a conversion (a date left a string, a list left a list where the model
holds a tuple, a naive datetime, a Decimal) makes the models differ.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest

from chalicelib.domain.bank import PaymentDetails
from chalicelib.domain.clients import Client
from chalicelib.domain.models import Location, LocationName, Trainer
from chalicelib.domain.schedule import ClientBalance, Document, Offer, Session, Slot
from chalicelib.domain.settings import TrainerSettings
from chalicelib.domain.template import TemplateSlot, WeeklyTemplate
from chalicelib.repo import keys, mapping
from chalicelib.repo.dynamo import from_attrs, to_attrs

TID = "trainer1"
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
LATER = datetime(2026, 11, 25, 18, 30, tzinfo=UTC)


def stored(item: dict[str, Any]) -> dict[str, Any]:
    """The item as a read gets it back: serialized, over the wire as JSON, converted."""
    return from_attrs(json.loads(json.dumps(to_attrs(item))))


def same_model(read: Any, written: Any) -> None:
    assert read == written
    assert type(read) is type(written)
    # Field by field too, with their types: equality alone would let 1 == 1.0 through.
    for name in type(written).model_fields:
        assert type(getattr(read, name)) is type(getattr(written, name)), name


# Trainer -------------------------------------------------------------------------------
TRAINERS = [
    Trainer(id=TID, email="coach@example.com", created_at=NOW),
    Trainer(
        id=TID,
        email="coach@example.com",
        settings=TrainerSettings(
            business_name="Sam Carter PT",
            whatsapp_number="+447400123456",
            time_zone="Europe/Paris",
            country="FR",
            day_start=6 * 60,
            day_end=22 * 60,
            default_view="day",
            booking_window_weeks=3,
            cancel_deadline_hours=24,
            offer_lock_minutes=30,
            currency="EUR",
            payment=PaymentDetails(
                scheme="iban", payee_name="Sam", iban="FR1420041010050500013M02606"
            ),
        ),
        locations={
            "loc1": LocationName(name="Studio"),
            "loc2": LocationName(name="Park", archived=True),
        },
        version=7,
        created_at=NOW,
        template_applied_at=LATER,
        portal_link_shared_at=NOW,
    ),
]


@pytest.mark.parametrize("trainer", TRAINERS, ids=["defaults", "everything set"])
def test_a_trainer_reads_back_as_written(trainer: Trainer) -> None:
    read = mapping.trainer_from_item(stored(mapping.trainer_to_item(trainer)))
    same_model(read, trainer)
    same_model(read.settings, trainer.settings)
    same_model(read.settings.payment, trainer.settings.payment)
    assert read.display_name == trainer.display_name


# Client --------------------------------------------------------------------------------
CLIENTS = [
    Client(id="c1", name="Priya Shah", phone="+447400123456", created_at=NOW),
    Client(
        id="c2",
        name="Omar Haddad",
        phone="+447400654321",
        email="omar@example.com",
        price_minor=4550,
        location_ids=("loc1", "loc2"),
        recurring=("t1",),
        shared_notes="Bring water",
        private_notes="Knee injury in 2024",
        archived=True,
        portal_generation=3,
        version=12,
        created_at=LATER,
    ),
    Client(id="c3", name="Free Session", phone="+447400000000", price_minor=0, created_at=NOW),
]


@pytest.mark.parametrize("client", CLIENTS, ids=["defaults", "everything set", "free"])
def test_a_client_reads_back_as_written(client: Client) -> None:
    read = mapping.client_from_item(stored(mapping.client_to_item(TID, client)))
    same_model(read, client)
    assert read.first_name == client.first_name
    assert read.configured == client.configured


# Slot ----------------------------------------------------------------------------------
OPEN = Slot(
    id="s1",
    day=date(2026, 11, 25),
    start=18 * 60 + 30,
    end=19 * 60 + 30,
    start_utc=LATER,
    end_utc=datetime(2026, 11, 25, 19, 30, tzinfo=UTC),
    location_id="loc1",
)
SLOTS = [
    OPEN,
    OPEN.model_copy(update={"template_slot_id": "t1", "session_id": "sess1", "version": 4}),
    OPEN.model_copy(
        update={
            "offer": Offer(id="off1", client_id="c2", client_name="Omar Haddad", expires_at=NOW),
            "version": 2,
        }
    ),
    OPEN.model_copy(
        update={"offer": Offer(id="off2", client_id="c2", client_name="", expires_at=LATER)}
    ),
]


@pytest.mark.parametrize("slot", SLOTS, ids=["open", "booked", "offered", "offer, no name"])
def test_a_slot_reads_back_as_written(slot: Slot) -> None:
    read = mapping.slot_from_item(stored(mapping.slot_to_item(TID, slot)))
    same_model(read, slot)
    if slot.offer is not None:
        assert read.offer is not None
        same_model(read.offer, slot.offer)
    assert (read.week, read.is_open, read.label) == (slot.week, slot.is_open, slot.label)


# Session -------------------------------------------------------------------------------
BOOKED = Session(
    id="sess1",
    slot_id="s1",
    client_id="c1",
    client_name="Priya Shah",
    day=date(2026, 11, 25),
    start=18 * 60 + 30,
    end=19 * 60 + 30,
    start_utc=LATER,
    end_utc=datetime(2026, 11, 25, 19, 30, tzinfo=UTC),
    location_id="loc1",
    kind="manual",
    created_at=NOW,
)
SESSIONS = [
    BOOKED,
    BOOKED.model_copy(
        update={
            "template_slot_id": "t1",
            "kind": "recurring",
            "paid": True,
            "payment_type": "cash",
            "price_minor": 4000,
            "invoice_sent_at": LATER,
            "changing": True,
            "moved_from": "2026-W47.20261118T183000Z.oldsess1",
            "version": 9,
        }
    ),
    BOOKED.model_copy(update={"status": "canceled", "price_minor": 0}),
    BOOKED.model_copy(update={"status": "moved", "moved_to": "2026-W49.20261202T183000Z.newsess"}),
    BOOKED.model_copy(update={"status": "voided"}),
    BOOKED.model_copy(
        update={
            "kind": "program",
            "bundle_id": "b1",
            "bundle_index": 0,
            "bundle_title": "Starter pack",
            "video_link": "https://meet.example.com/coach",
            "documents": (
                Document(name="Training plan", url="https://docs.example.com/plan.pdf"),
                Document(name="Diet", url="https://docs.example.com/diet.pdf"),
            ),
        }
    ),
]


@pytest.mark.parametrize(
    "session",
    SESSIONS,
    ids=["defaults", "everything set", "canceled", "moved", "voided", "bundle with documents"],
)
def test_a_session_reads_back_as_written(session: Session) -> None:
    read = mapping.session_from_item(stored(mapping.session_to_item(TID, session)))
    same_model(read, session)
    for document, written in zip(read.documents, session.documents, strict=True):
        same_model(document, written)
    assert (read.week, read.ref, read.is_live) == (session.week, session.ref, session.is_live)


# Location, template, balance (written by their stores, read by mapping) ---------------
@pytest.mark.parametrize(
    "location",
    [
        Location(id="loc1", name="Studio"),
        Location(id="loc2", name="Victoria Park", archived=True, version=5),
    ],
)
def test_a_location_reads_back_as_its_store_writes_it(location: Location) -> None:
    item = {  # as AccountStore.add_location puts it
        **keys.location(TID, location.id),
        "type": "location",
        "name": location.name,
        "archived": location.archived,
        "version": location.version,
    }
    same_model(mapping.location_from_item(stored(item)), location)


@pytest.mark.parametrize(
    "template",
    [
        WeeklyTemplate(slots=(), version=1),
        WeeklyTemplate(
            slots=(
                TemplateSlot(id="t1", weekday=0, start=420, end=480, location_id="loc1"),
                TemplateSlot(id="t2", weekday=6, start=1380, end=1440, location_id="loc2"),
            ),
            version=3,
        ),
    ],
    ids=["empty", "two slots"],
)
def test_a_template_reads_back_as_its_store_writes_it(template: WeeklyTemplate) -> None:
    item = {  # as AccountStore.save_template puts it
        **keys.template(TID),
        "type": "template",
        "slots": [s.model_dump() for s in template.slots],
        "version": template.version,
    }
    read = mapping.template_from_item(stored(item))
    same_model(read, template)
    for slot, written in zip(read.slots, template.slots, strict=True):
        same_model(slot, written)


def test_no_template_item_is_the_never_saved_template() -> None:
    assert mapping.template_from_item(None) == WeeklyTemplate()


@pytest.mark.parametrize(
    ("item", "balance"),
    [
        ({}, ClientBalance()),
        (
            {"unpaid_minor": 12050, "unpaid_count": 3, "counted": True},
            ClientBalance(unpaid_minor=12050, unpaid_count=3, counted=True),
        ),
    ],
)
def test_a_balance_reads_back(item: dict[str, Any], balance: ClientBalance) -> None:
    read = mapping.balance_from_item(stored({**keys.client_balance(TID, "c1"), **item}))
    assert read == balance
    for name in ("unpaid_minor", "unpaid_count", "counted"):
        assert type(getattr(read, name)) is type(getattr(balance, name)), name

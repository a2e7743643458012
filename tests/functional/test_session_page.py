"""The trainer's session page: payment, cancel, void, and the change log."""

from __future__ import annotations

import pytest

from tests.functional.conftest import Browser
from tests.functional.test_locations_and_template import add_location
from tests.functional.test_schedule_pages import add_client, new_slot, slots_on


@pytest.fixture
def booked(trainer: Browser, clock) -> str:
    """A Manual session on Thursday 26 Nov 09:00 (the clock is Monday 23 Nov 09:00 UTC)."""
    studio = add_location(trainer, "Studio")
    client = add_client(trainer, "Priya Shah")
    new_slot(trainer, "2026-11-26", "09:00", "10:00", studio)
    ((week, slot_id),) = slots_on(trainer, "2026-W48")
    page = trainer.post(
        f"/dashboard/schedule/{week}/slots/{slot_id}",
        {"action": "allocate", "client_id": client, "version": "1"},
    )
    return page.location.split("?")[0]


def test_marking_paid_records_the_type_and_logs_it(trainer: Browser, booked: str) -> None:
    page = trainer.post(
        booked,
        {"action": "payment", "paid": "yes", "payment_type": "bank_transfer", "version": "1"},
    )
    assert page.status == 303
    body = trainer.get(booked).body
    assert "Paid · Bank transfer" in body
    assert "Booked by the trainer" in body and "Marked paid (bank transfer)" in body
    unpaid = trainer.post(
        booked, {"action": "payment", "paid": "no", "payment_type": "", "version": "2"}
    )
    assert unpaid.status == 303 and "Marked unpaid" in trainer.get(booked).body


@pytest.mark.parametrize("payment_type", ["", "bitcoin", "<b>cash</b>"])
def test_a_payment_type_not_in_the_list_is_refused(
    trainer: Browser, booked: str, payment_type: str
) -> None:
    page = trainer.post(
        booked, {"action": "payment", "paid": "yes", "payment_type": payment_type, "version": "1"}
    )
    assert page.status == 400 and "Choose how it was paid." in page.body
    assert "Unpaid" in trainer.get(booked).body


def test_cancelling_keeps_the_record_and_opens_the_slot_again(
    trainer: Browser, booked: str
) -> None:
    page = trainer.post(booked, {"action": "cancel", "version": "1"})
    assert page.status == 303
    body = trainer.get(booked).body
    assert "Canceled" in body and "Canceled by the trainer; slot reopened" in body
    assert len(slots_on(trainer, "2026-W48")) == 1  # open (green, linkable) again
    assert "slot slot-open" in trainer.get("/dashboard/schedule?week=2026-W48").body
    again = trainer.post(booked, {"action": "cancel", "version": "2"})
    assert again.status == 400 and "already canceled" in again.body


def test_a_past_session_cannot_be_canceled_only_voided(
    trainer: Browser, booked: str, clock
) -> None:
    assert trainer.post(booked, {"action": "void", "version": "1"}).status == 400  # upcoming
    clock.advance(days=3, hours=2)  # Thursday 11:00: the session is over
    refused = trainer.post(booked, {"action": "cancel", "version": "1"})
    assert refused.status == 400 and "void it instead" in refused.body
    voided = trainer.post(booked, {"action": "void", "version": "1"})
    assert voided.status == 303
    body = trainer.get(booked).body
    assert "Voided" in body and "Voided: the session did not happen" in body
    assert (
        trainer.post(
            booked, {"action": "payment", "paid": "yes", "payment_type": "cash", "version": "2"}
        ).status
        == 400
    )


def test_a_stale_session_form_changes_nothing(trainer: Browser, booked: str) -> None:
    trainer.post(
        booked, {"action": "payment", "paid": "yes", "payment_type": "cash", "version": "1"}
    )
    page = trainer.post(booked, {"action": "cancel", "version": "1"})
    assert page.status == 409 and "changed elsewhere" in page.body
    assert "Canceled" not in trainer.get(booked).body


def test_another_trainer_cannot_change_my_session(
    trainer: Browser, other_trainer: Browser, booked: str
) -> None:
    assert other_trainer.post(booked, {"action": "cancel", "version": "1"}).status == 404
    assert "Canceled" not in trainer.get(booked).body

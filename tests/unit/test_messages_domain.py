"""Message rules and moving a session: pure functions, no table."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.messages import (
    DELIVERY_FROM,
    MAX_ATTEMPTS,
    Message,
    after_failure,
    backoff,
    confirmation_problem,
    invoice_problem,
)
from chalicelib.domain.schedule import book, change_start, change_stop, make_slot, move
from chalicelib.domain.settings import PaymentDetails

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
FULL = PaymentDetails(payee_name="A", bank_name="B", account_number="1", sort_code="2")


def _session(day: date = date(2026, 11, 26), start: int = 540, slot_id: str = "s1"):
    slot = make_slot(slot_id, day, start, start + 60, "loc", "Europe/London")
    return book(slot, "sess" + slot_id, "c1", "Priya Shah", "recurring", NOW, 4000)[1]


def test_backoff_grows_fourfold_and_is_capped_at_an_hour() -> None:
    assert [backoff(n) for n in range(1, 6)] == [
        timedelta(minutes=1),
        timedelta(minutes=4),
        timedelta(minutes=16),
        timedelta(hours=1),
        timedelta(hours=1),
    ]


def test_after_failure_retries_until_the_cap_and_never_for_permanent_errors() -> None:
    assert after_failure(1, True, NOW) == NOW + timedelta(minutes=1)
    assert after_failure(MAX_ATTEMPTS - 1, True, NOW) is not None
    assert after_failure(MAX_ATTEMPTS, True, NOW) is None
    assert after_failure(1, False, NOW) is None


def test_delivery_reports_never_lead_back_to_queued_or_from_a_final_state() -> None:
    for target, sources in DELIVERY_FROM.items():
        assert "queued" not in sources and "failed" not in sources and target not in sources
    assert "read" not in DELIVERY_FROM["delivered"]  # delivered after read is a step back


def test_invoice_needs_a_live_session_a_price_and_complete_details() -> None:
    session = _session()
    assert invoice_problem(session, 4000, FULL) is None
    assert "no session price" in invoice_problem(session, None, FULL)["invoice"]  # type: ignore[index]
    partial = PaymentDetails(payee_name="A", bank_name="B", account_number="1")
    assert "incomplete" in invoice_problem(session, 4000, partial)["invoice"]  # type: ignore[index]
    for status in ("canceled", "voided", "moved"):
        gone = session.model_copy(update={"status": status})
        assert status in invoice_problem(gone, 4000, FULL)["invoice"]  # type: ignore[index]
    assert invoice_problem(session, 0, FULL) is None  # a free session can still be invoiced


def test_confirmation_only_before_the_start() -> None:
    session = _session()
    assert confirmation_problem(session, NOW) is None
    assert confirmation_problem(session, session.start_utc) is not None
    assert confirmation_problem(session.model_copy(update={"status": "canceled"}), NOW)


def test_moving_keeps_payment_and_price_and_links_both_records() -> None:
    session = _session().model_copy(update={"paid": True, "payment_type": "cash", "changing": True})
    target = make_slot("s2", date(2026, 11, 27), 660, 720, "loc2", "Europe/London")
    moved, replacement = move(session, target, "new1", NOW)
    assert moved.status == "moved" and not moved.changing and moved.moved_to == replacement.ref
    assert replacement.moved_from == session.ref and replacement.slot_id == "s2"
    assert replacement.paid and replacement.payment_type == "cash"
    assert replacement.price_minor == 4000 and replacement.kind == "manual"
    assert (replacement.start, replacement.location_id) == (660, "loc2")
    assert moved.status_label == "Moved" and not moved.is_live


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("same slot", "already in"),
        ("taken", "just taken"),
        ("past slot", "in the past"),
        ("past session", "has started"),
        ("canceled", "canceled"),
    ],
)
def test_impossible_moves_are_refused_with_a_reason(case: str, reason: str) -> None:
    session = _session()
    target = make_slot("s2", date(2026, 11, 27), 660, 720, "loc", "Europe/London")
    now = NOW
    if case == "same slot":
        target = target.model_copy(update={"id": session.slot_id})
    elif case == "taken":
        target = target.model_copy(update={"session_id": "someone"})
    elif case == "past slot":
        target = make_slot("s2", date(2026, 11, 23), 480, 540, "loc", "Europe/London")
    elif case == "past session":
        now = session.start_utc
    else:
        session = session.model_copy(update={"status": "canceled"})
    with pytest.raises(InvalidInput) as refused:
        move(session, target, "new1", now)
    assert reason in refused.value.errors["_form"]


def test_changing_is_shown_and_can_be_stopped() -> None:
    session = _session()
    changing = change_start(session, NOW)
    assert changing.status_label == "Changing" and changing.badge == "changing"
    assert change_stop(changing).status_label == "Recurring"
    with pytest.raises(InvalidInput):
        change_stop(session)
    with pytest.raises(InvalidInput):
        change_start(session, session.start_utc)


def test_the_log_provider_shows_sent_messages_as_logged() -> None:
    message = Message(
        id="m1",
        week="2026-W48",
        subject_id="s",
        subject_ref="r",
        client_id="c",
        client_name="P",
        kind="invoice",
        channel="whatsapp",
        to="+447400123456",
        text="t",
        created_at=NOW,
        status="sent",
        provider="log",
    )
    assert message.status_label == "Logged"
    assert message.model_copy(update={"provider": "twilio"}).status_label == "Sent"
    assert message.ref == "2026-W48.s.m1"

"""Item 12 of issue 14: a WhatsApp message whose delivery report never came is not shown
"Sent" forever (`Message.delivery_label`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.messages import NO_DELIVERY_REPORT, Message

QUEUED_AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
A_SECOND = timedelta(seconds=1)
A_DAY = timedelta(hours=24)  # written out, not the constant: the rule is "a day"


def message(**overrides: object) -> Message:
    fields: dict[str, object] = {
        "id": "m1",
        "week": "2026-W48",
        "subject_id": "s",
        "subject_ref": "r",
        "client_id": "c",
        "client_name": "Priya",
        "kind": "confirmation",
        "channel": "whatsapp",
        "to": "+447400123456",
        "text": "t",
        "created_at": QUEUED_AT,
        "status": "sent",
        "provider": "twilio",
        **overrides,
    }
    return Message.model_validate(fields)


@pytest.mark.parametrize(
    ("age", "label"),
    [
        (timedelta(hours=23), "Sent"),
        (A_DAY - A_SECOND, "Sent"),
        (A_DAY, "Sent"),  # exactly a day: still waiting
        (A_DAY + A_SECOND, NO_DELIVERY_REPORT),
        (timedelta(hours=25), NO_DELIVERY_REPORT),
    ],
)
def test_a_sent_message_without_a_report_after_a_day_says_so(age: timedelta, label: str) -> None:
    assert message().delivery_label(QUEUED_AT + age) == label


@pytest.mark.parametrize(
    ("status", "label"),
    [
        ("delivered", "Delivered"),
        ("read", "Read"),
        ("failed", "Failed"),
        ("queued", "Queued"),
        ("sending", "Sending"),
    ],
)
def test_a_message_that_did_hear_back_or_is_not_sent_keeps_its_status(
    status: str, label: str
) -> None:
    late = QUEUED_AT + timedelta(days=3)
    assert message(status=status).delivery_label(late) == label


def test_the_log_provider_never_reports_so_its_messages_stay_logged() -> None:
    assert message(provider="log").delivery_label(QUEUED_AT + timedelta(days=3)) == "Logged"


def test_email_has_no_delivery_reports_to_wait_for() -> None:
    email = message(channel="email", to="priya@example.com")
    assert email.delivery_label(QUEUED_AT + timedelta(days=3)) == "Sent"


def test_the_day_counts_from_when_it_was_sent_not_when_it_was_queued() -> None:
    # Queued, retried for an hour and a half, then sent: the wait starts at the send.
    sent_at = QUEUED_AT + timedelta(minutes=90)
    late = message(sent_at=sent_at)
    assert late.delivery_label(QUEUED_AT + A_DAY + A_SECOND) == "Sent"
    assert late.delivery_label(sent_at + A_DAY + A_SECOND) == NO_DELIVERY_REPORT


def test_the_outbox_reads_the_send_time_of_a_sent_message_only() -> None:
    from chalicelib.repo.outbox import message_from_item, message_to_item

    sent = message(sent_at=None)
    item = {**message_to_item("t1", sent), "updated_at": "2026-11-23T10:30:00Z"}
    assert message_from_item(item).sent_at == datetime(2026, 11, 23, 10, 30, tzinfo=UTC)
    delivered = {**item, "status": "delivered"}
    assert message_from_item(delivered).sent_at is None

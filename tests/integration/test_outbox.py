"""The outbox on moto: one message per send form, one send per message, forward-only
delivery reports, moves racing each other; and the Twilio loop against a fake server."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import ClassVar
from urllib.parse import parse_qsl, urlsplit

import pytest

from chalicelib import runtime
from chalicelib.domain.clients import AddClient
from chalicelib.domain.errors import Conflict, VersionConflict
from chalicelib.domain.messages import LinkRef, Message
from chalicelib.domain.models import Trainer
from chalicelib.domain.schedule import Session, Slot, parse_session_ref
from chalicelib.domain.tokens import new_id
from chalicelib.messaging import whatsapp
from chalicelib.repo.repository import Repository
from chalicelib.services import account, clients, dispatcher, messages, schedule, sessions, webhooks
from tests.integration.test_repository import make_trainer, race
from tests.integration.test_schedule_repository import NOW, slot_form
from tests.support.fake_http import serving


@pytest.fixture
def coach(repo: Repository) -> tuple[Trainer, str]:
    trainer = make_trainer(repo)
    studio = account.add_location(repo, trainer.id, "Studio")
    refreshed = repo.get_trainer(trainer.id)
    assert refreshed is not None
    return refreshed, studio.id


def _booking(repo: Repository, trainer: Trainer, studio: str, start: str, end: str) -> Session:
    slot = schedule.add_slot(repo, trainer, slot_form(start, end, studio), NOW)
    person = clients.add_client(
        repo,
        runtime.links(),
        trainer,
        AddClient.model_validate({"name": "Priya Shah", "phone": "07400 123456", "price": "40"}),
        NOW,
    )
    return schedule.allocate(repo, runtime.links(), trainer, slot, person.id, "1", NOW)


def _portal(client: object, session: Session) -> LinkRef:
    """The session link a confirmation carries (made again from the secret when sent)."""
    return LinkRef(
        kind="session",
        base="https://example.test",
        trainer_id="coach",
        client_id=client.id,
        generation=client.portal_generation,
        target_id=session.id,
    )


def _queue(repo: Repository, trainer: Trainer, booking: Session, send_id: str | None = None):
    return messages.send_confirmation(repo, trainer, booking, send_id or new_id(), _portal, NOW)


def _all_messages(repo: Repository, trainer: Trainer) -> list[Message]:
    return repo.outbox.page(trainer.id, None, None, limit=100)[0]


def test_ten_clicks_on_one_send_form_queue_one_message(repo: Repository, coach) -> None:
    trainer, studio = coach
    booking = _booking(repo, trainer, studio, "09:00", "10:00")
    send_id = new_id()
    outcomes = race(10, lambda _i: _queue(repo, trainer, booking, send_id))
    assert [o.new for o in outcomes].count(True) == 1, outcomes
    assert all(not isinstance(o, Exception) for o in outcomes)
    assert len(_all_messages(repo, trainer)) == 1


def test_two_invoices_racing_from_one_form_bump_the_session_once(repo: Repository, coach) -> None:
    from chalicelib.domain.settings import PaymentDetails

    trainer, studio = coach
    trainer = trainer.model_copy(
        update={
            "settings": trainer.settings.model_copy(
                update={
                    "payment": PaymentDetails(
                        payee_name="A", bank_name="B", account_number="1", sort_code="2"
                    )
                }
            )
        }
    )
    booking = _booking(repo, trainer, studio, "09:00", "10:00")
    send_id = new_id()
    outcomes = race(6, lambda _i: messages.send_invoice(repo, trainer, booking, send_id, NOW))
    assert [o.new for o in outcomes].count(True) == 1
    ref = parse_session_ref(booking.ref)
    assert ref is not None
    stored = repo.get_session(trainer.id, ref)
    assert stored.version == booking.version + 1 and stored.invoice_sent_at == NOW


def test_concurrent_dispatcher_runs_send_each_message_exactly_once(repo: Repository, coach) -> None:
    trainer, studio = coach
    booking = _booking(repo, trainer, studio, "09:00", "10:00")
    queued = {_queue(repo, trainer, booking).message_id for _ in range(8)}
    sent: list[str] = []
    lock = threading.Lock()

    def slow_sender(_tid: str, message: Message) -> whatsapp.SendResult:
        time.sleep(0.01)  # widen the window between claim and result
        with lock:
            sent.append(message.id)
        return whatsapp.SendResult("log", f"log-{message.id}")

    reports = race(4, lambda _i: dispatcher.dispatch(repo, NOW, slow_sender))
    assert all(not isinstance(r, Exception) for r in reports), reports
    assert Counter(sent) == Counter(queued)  # every message, once
    assert sum(r.claimed for r in reports) == len(queued)
    assert {m.status for m in _all_messages(repo, trainer)} == {"sent"}
    assert repo.outbox.due(NOW) == []


def test_a_delivery_report_before_the_dispatcher_records_success_is_kept(
    repo: Repository, coach
) -> None:
    trainer, studio = coach
    booking = _booking(repo, trainer, studio, "09:00", "10:00")
    _queue(repo, trainer, booking)
    ((tid, message),) = repo.outbox.due(NOW)
    claimed = repo.outbox.claim(tid, message, NOW, NOW + dispatcher.SENDING_LEASE)
    assert claimed is not None
    # Twilio answers "delivered" before our own write of "sent" lands...
    assert repo.outbox.record_delivery(
        tid, message.week, message.subject_id, message.id, "delivered", NOW, provider_id="SM1"
    )
    repo.outbox.mark_sent(tid, claimed, "twilio", "SM1", NOW)
    (stored,) = _all_messages(repo, trainer)
    assert stored.status == "delivered" and stored.provider == "twilio"
    assert stored.provider_id == "SM1"
    assert repo.outbox.due(NOW + dispatcher.SENDING_LEASE * 2) == []  # nothing left to do


def test_delivery_reports_racing_each_other_end_on_the_furthest(repo: Repository, coach) -> None:
    trainer, studio = coach
    booking = _booking(repo, trainer, studio, "09:00", "10:00")
    _queue(repo, trainer, booking)
    dispatcher.dispatch(repo, NOW, lambda _t, m: whatsapp.SendResult("twilio", "SM2"))
    (message,) = _all_messages(repo, trainer)
    statuses = ["delivered", "read", "sent", "delivered", "read", "sent"]
    race(
        len(statuses),
        lambda i: repo.outbox.record_delivery(
            trainer.id, message.week, message.subject_id, message.id, statuses[i], NOW
        ),
    )
    assert _all_messages(repo, trainer)[0].status == "read"


def _changing(repo: Repository, trainer, booking: Session) -> Session:
    """A trainer's move starts with Change on schedule (the move refuses without it)."""
    return sessions.start_changing(repo, trainer.id, booking, str(booking.version), NOW)


def test_two_sessions_moved_into_one_slot_at_once_one_wins(repo: Repository, coach) -> None:
    trainer, studio = coach
    first = _changing(repo, trainer, _booking(repo, trainer, studio, "09:00", "10:00"))
    second = _changing(repo, trainer, _booking(repo, trainer, studio, "11:00", "12:00"))
    target = schedule.add_slot(repo, trainer, slot_form("14:00", "15:00", studio), NOW)
    movers = [first, second] * 3

    def act(i: int) -> Session:
        booking = movers[i]
        return sessions.move_to(
            repo, runtime.links(), trainer.id, booking, target, str(booking.version), NOW
        )

    outcomes = race(len(movers), act)
    winners = [o for o in outcomes if isinstance(o, Session)]
    assert len(winners) == 1
    losers = [o for o in outcomes if not isinstance(o, Session)]
    assert all(isinstance(o, (Conflict, VersionConflict)) for o in losers), losers
    week = repo.get_week_with_sessions(trainer.id, "2026-W48")
    slots = {s.id: s for s in week.slots}
    assert slots[target.id].session_id == winners[0].id
    live = [s for s in week.sessions if s.is_live]
    assert len(live) == 2  # the winner's new session and the loser, untouched
    loser = next(b for b in (first, second) if b.client_id != winners[0].client_id)
    assert slots[loser.slot_id].session_id == loser.id


def test_a_move_racing_a_cancel_of_the_same_session_has_one_outcome(
    repo: Repository, coach
) -> None:
    trainer, studio = coach
    booking = _changing(repo, trainer, _booking(repo, trainer, studio, "09:00", "10:00"))
    target = schedule.add_slot(repo, trainer, slot_form("14:00", "15:00", studio), NOW)
    version = str(booking.version)

    def act(i: int) -> object:
        if i % 2:
            return sessions.cancel(repo, trainer.id, booking, version, NOW)
        return sessions.move_to(repo, runtime.links(), trainer.id, booking, target, version, NOW)

    outcomes = race(6, act)
    assert len([o for o in outcomes if not isinstance(o, Exception)]) == 1
    week = repo.get_week_with_sessions(trainer.id, "2026-W48")
    slots = {s.id: s for s in week.slots}
    old = next(s for s in week.sessions if s.id == booking.id)
    assert slots[booking.slot_id].session_id is None  # freed either way
    if old.status == "canceled":
        assert slots[target.id].session_id is None and len(week.sessions) == 1
    else:
        assert old.status == "moved"
        (new,) = [s for s in week.sessions if s.is_live]
        assert slots[target.id].session_id == new.id and old.moved_to == new.ref


# Twilio, end to end against a fake API -------------------------------------------------
class _FakeTwilio(BaseHTTPRequestHandler):
    requests: ClassVar[list[dict[str, str]]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        form = dict(parse_qsl(self.rfile.read(length).decode()))
        type(self).requests.append({"path": self.path, **form})
        body = b'{"sid": "SMfake0001", "status": "queued"}'
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def fake_twilio() -> Iterator[str]:
    _FakeTwilio.requests = []
    with serving(_FakeTwilio) as url:
        yield url


def test_twilio_send_then_signed_delivery_report_round_trip(
    repo: Repository, coach, fake_twilio: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WHATSAPP_PROVIDER", "twilio")
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC123")
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "secret-token")
    monkeypatch.setenv("TWILIO_WHATSAPP_FROM", "+14155238886")
    monkeypatch.setenv("TWILIO_API_BASE", fake_twilio)
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://app.example.com/api")
    trainer, studio = coach
    booking = _booking(repo, trainer, studio, "09:00", "10:00")
    _queue(repo, trainer, booking)

    report = dispatcher.dispatch(
        repo, NOW, runtime.message_sender()
    )  # the real provider from the environment

    assert report.claimed == 1 and not report.failed and not report.retried
    (request,) = _FakeTwilio.requests
    assert request["path"] == "/2010-04-01/Accounts/AC123/Messages.json"
    assert request["To"] == "whatsapp:+447400123456" and "is confirmed" in request["Body"]
    callback = request["StatusCallback"]
    assert callback.startswith("https://app.example.com/api/webhooks/twilio/status?m=")
    (message,) = _all_messages(repo, trainer)
    assert message.status == "sent" and message.provider_id == "SMfake0001"

    params = {"MessageSid": "SMfake0001", "MessageStatus": "delivered"}
    signature = whatsapp.twilio_signature("secret-token", callback, params)
    reference = dict(parse_qsl(urlsplit(callback).query))["m"]
    forged = webhooks.twilio_status(
        repo, runtime.config().public_base_url, reference, params, signature[:-2] + "xx", NOW
    )
    assert forged.status == 403 and _all_messages(repo, trainer)[0].status == "sent"
    other_ref = reference.replace(message.id, new_id())  # valid shape, not what was signed
    assert (
        webhooks.twilio_status(
            repo, runtime.config().public_base_url, other_ref, params, signature, NOW
        ).status
        == 403
    )
    accepted = webhooks.twilio_status(
        repo, runtime.config().public_base_url, reference, params, signature, NOW
    )
    assert accepted.status == 204 and accepted.applied
    assert _all_messages(repo, trainer)[0].status == "delivered"
    replay = webhooks.twilio_status(
        repo, runtime.config().public_base_url, reference, params, signature, NOW
    )
    assert replay.status == 204 and not replay.applied


def test_an_unreachable_provider_is_retried_not_lost(
    repo: Repository, coach, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WHATSAPP_PROVIDER", "twilio")
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC123")
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "secret-token")
    monkeypatch.setenv("TWILIO_WHATSAPP_FROM", "+14155238886")
    monkeypatch.setenv("TWILIO_API_BASE", "http://127.0.0.1:9")  # nothing listens there
    trainer, studio = coach
    booking = _booking(repo, trainer, studio, "09:00", "10:00")
    _queue(repo, trainer, booking)
    report = dispatcher.dispatch(repo, NOW, runtime.message_sender())
    assert report.retried and not report.failed
    (message,) = _all_messages(repo, trainer)
    assert message.status == "queued" and message.attempts == 1
    assert message.error and "Twilio" in message.error


def test_slots_are_untouched_by_messages(repo: Repository, coach) -> None:
    """Messages live in the week partition but never show up as slots or sessions."""
    trainer, studio = coach
    booking = _booking(repo, trainer, studio, "09:00", "10:00")
    _queue(repo, trainer, booking)
    week = repo.get_week_with_sessions(trainer.id, "2026-W48")
    assert len(week.slots) == 1 and len(week.sessions) == 1
    assert isinstance(week.slots[0], Slot)


# Email through SES ---------------------------------------------------------------------
def _queue_email(repo: Repository, trainer: Trainer, booking: Session) -> Message:
    message = Message(
        id=new_id(),
        week=booking.week,
        subject_id=booking.id,
        subject_ref=booking.ref,
        client_id=booking.client_id,
        client_name=booking.client_name,
        kind="confirmation",
        channel="email",
        to="priya@example.com",
        subject="Your session is confirmed",
        text="See you on Wednesday.",
        created_at=NOW,
        next_attempt_at=NOW,
    )
    assert repo.queue_session_message(trainer.id, booking, message)
    return message


def test_an_email_message_is_sent_through_ses(
    repo: Repository, coach, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3
    from moto.backends import get_backend

    monkeypatch.setenv("EMAIL_PROVIDER", "ses")
    monkeypatch.setenv("EMAIL_SENDER", "coach@ptbookings.example")
    boto3.client("ses", region_name="eu-west-2").verify_email_identity(
        EmailAddress="coach@ptbookings.example"
    )
    trainer, studio = coach
    _queue_email(repo, trainer, _booking(repo, trainer, studio, "09:00", "10:00"))

    report = dispatcher.dispatch(repo, NOW, runtime.message_sender())

    assert report.claimed == 1 and not report.failed and not report.retried
    (sent,) = get_backend("ses")["123456789012"]["eu-west-2"].sent_messages
    assert sent.destinations["ToAddresses"] == ["priya@example.com"]
    assert sent.subject == "Your session is confirmed"
    (stored,) = _all_messages(repo, trainer)
    assert stored.status == "sent" and stored.provider == "ses" and stored.provider_id


def test_an_email_ses_rejects_fails_with_its_reason(
    repo: Repository, coach, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMAIL_PROVIDER", "ses")
    monkeypatch.setenv("EMAIL_SENDER", "unverified@ptbookings.example")
    trainer, studio = coach
    _queue_email(repo, trainer, _booking(repo, trainer, studio, "09:00", "10:00"))
    report = dispatcher.dispatch(repo, NOW, runtime.message_sender())
    assert len(report.failed) == 1  # a rejected sender will not get better by retrying
    (stored,) = _all_messages(repo, trainer)
    assert stored.status == "failed" and stored.error
    assert stored.error.startswith("SES MessageRejected")

"""Card payments with Stripe (issue 16 item 3) on moto (DynamoDB and SSM) with a local fake
Stripe: the trainer's keys only in SSM, the Checkout Session request as Stripe gets it, and
the webhook's exactly-once marking (replays, deliveries racing, a stale session) and
refunds (owed again, never more than was paid)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import boto3
import pytest

from chalicelib import runtime
from chalicelib.domain.card_payments import SaveCardSettings, parse_event
from chalicelib.domain.clients import Client
from chalicelib.domain.errors import InvalidInput, VersionConflict
from chalicelib.domain.models import Trainer
from chalicelib.domain.schedule import REFUNDED_BY_CARD, Session
from chalicelib.repo import keys
from chalicelib.repo.card_payments import NEW_PAYMENT, CardPaymentStore, new_payment
from chalicelib.repo.dynamo import TransactionFailed
from chalicelib.repo.repository import Repository
from chalicelib.services import card_payments
from chalicelib.services import links as links_module
from chalicelib.services.deps import Deps
from tests.support.builders import (
    NOW,
    add_client,
    add_location,
    add_slot,
    allocate,
    make_trainer,
    session_now,
)
from tests.support.fake_stripe import (
    SECRET_KEY,
    WEBHOOK_SECRET,
    FakeStripe,
    completed_event,
    refunded_event,
    signed,
)
from tests.support.pages import counted
from tests.support.race import race
from tests.support.table import table_items, unchanged

# A test stage with no proxy and no remembered secrets (tests/support/fake_stripe.py).
pytestmark = pytest.mark.usefixtures("card_stage")

BASE = "https://book.example.com"
LATER = NOW + timedelta(days=10)  # the sessions below are over: owed
PREFIX = "/pt-bookings/test/trainers"


def _deps(repo: Repository, now: datetime = LATER) -> Deps:
    return Deps(repo, links_module.fixed(b"stage-secret"), runtime.config(), now, BASE)


def _connect(repo: Repository, trainer: Trainer, *, on: bool = True) -> None:
    command = SaveCardSettings.model_validate(
        {
            "version": "0",
            "secret_key": SECRET_KEY,
            "webhook_secret": WEBHOOK_SECRET,
            "card_payments": "on" if on else "",
        }
    )
    card_payments.save_card_settings(_deps(repo), trainer.id, command)


def _booked(repo: Repository, count: int = 1) -> tuple[Trainer, Client, list[Session]]:
    trainer = make_trainer(repo)
    trainer, studio = add_location(repo, trainer)
    client = add_client(repo, trainer, "Priya Shah", (studio,))
    sessions = []
    for n in range(count):
        slot = add_slot(repo, trainer, studio, f"{9 + n:02d}:00", f"{10 + n:02d}:00")
        sessions.append(allocate(repo, trainer, slot, client))
    return trainer, client, sessions


def _post(repo: Repository, trainer: Trainer, payload: bytes, *, at: datetime = LATER):
    header = signed(payload, int(at.timestamp()))
    return card_payments.stripe_event_report(_deps(repo, at), trainer.id, payload, header)


def _ssm_names() -> list[str]:
    ssm = boto3.client("ssm", region_name="eu-west-2")
    found = ssm.get_parameters_by_path(Path=PREFIX, Recursive=True)["Parameters"]
    return sorted(p["Name"] for p in found)


# The connection ---------------------------------------------------------------------------
def test_the_keys_go_to_ssm_and_the_profile_holds_only_their_refs(repo: Repository) -> None:
    trainer, _client, _ = _booked(repo)
    _connect(repo, trainer)

    card = CardPaymentStore(repo.db).settings(trainer.id)
    assert card is not None and card.takes_payments and card.mode == "test"
    assert _ssm_names() == sorted(
        [
            f"{PREFIX}/{trainer.id}/stripe-secret-key-{card.key_ref}",
            f"{PREFIX}/{trainer.id}/stripe-webhook-secret-{card.webhook_secret_ref}",
        ]
    )
    text = json.dumps(table_items(repo), default=str)
    assert SECRET_KEY not in text and WEBHOOK_SECRET not in text


def test_a_new_key_takes_a_new_parameter_and_the_old_one_is_deleted(repo: Repository) -> None:
    trainer, _client, _ = _booked(repo)
    _connect(repo, trainer)
    store = CardPaymentStore(repo.db)
    before = store.settings(trainer.id)
    assert before is not None
    live = "sk_live_" + "Q" * 30
    command = SaveCardSettings.model_validate(
        {"version": str(before.version), "secret_key": live, "card_payments": "on"}
    )
    card_payments.save_card_settings(_deps(repo), trainer.id, command)

    after = store.settings(trainer.id)
    assert after is not None and after.mode == "live" and after.key_ref != before.key_ref
    assert after.webhook_secret_ref == before.webhook_secret_ref  # left blank: kept
    assert _ssm_names() == sorted(
        [
            f"{PREFIX}/{trainer.id}/stripe-secret-key-{after.key_ref}",
            f"{PREFIX}/{trainer.id}/stripe-webhook-secret-{after.webhook_secret_ref}",
        ]
    )


def test_a_stale_settings_page_is_refused_by_the_write_and_its_secret_forgotten(
    repo: Repository,
) -> None:
    trainer, _client, _ = _booked(repo)
    _connect(repo, trainer)
    store = CardPaymentStore(repo.db)
    seen = store.settings(trainer.id)
    assert seen is not None
    stale = SaveCardSettings.model_validate(
        {"version": "0", "secret_key": "sk_test_" + "Z" * 30, "card_payments": "on"}
    )
    names = _ssm_names()
    with unchanged(repo), pytest.raises(VersionConflict):
        card_payments.save_card_settings(_deps(repo), trainer.id, stale)
    assert _ssm_names() == names
    with unchanged(repo), pytest.raises(VersionConflict):  # the write itself refuses it
        store.save_settings(trainer.id, seen.__class__(version=0), seen)


def test_two_first_saves_at_once_connect_one(repo: Repository) -> None:
    trainer, _client, _ = _booked(repo)
    outcomes = race(
        4,
        lambda _i: card_payments.save_card_settings(
            _deps(repo),
            trainer.id,
            SaveCardSettings.model_validate(
                {"version": "0", "secret_key": SECRET_KEY, "webhook_secret": WEBHOOK_SECRET}
            ),
        ),
    )
    assert sum(not isinstance(o, Exception) for o in outcomes) == 1
    assert all(isinstance(o, VersionConflict) for o in outcomes if isinstance(o, Exception))
    assert len(_ssm_names()) == 2  # the losers' parameters were deleted


def test_bad_keys_are_refused_in_words_and_never_echoed(repo: Repository) -> None:
    trainer, _client, _ = _booked(repo)
    typed = {"version": "0", "secret_key": "pk_test_oops12345678", "webhook_secret": "nope"}
    with unchanged(repo), pytest.raises(InvalidInput) as refused:
        card_payments.save_card_settings(
            _deps(repo), trainer.id, SaveCardSettings.model_validate(typed)
        )
    assert set(refused.value.errors) == {"secret_key", "webhook_secret"}
    assert "pk_test_oops" not in str(refused.value)
    with pytest.raises(InvalidInput) as off:
        card_payments.save_card_settings(
            _deps(repo),
            trainer.id,
            SaveCardSettings.model_validate({"version": "0", "card_payments": "on"}),
        )
    assert off.value.errors["secret_key"].startswith("Type your Stripe secret key")


# Checkout -------------------------------------------------------------------------------
def test_checkout_sends_stripe_the_amount_the_currency_and_the_sessions(
    repo: Repository, stripe_api: FakeStripe
) -> None:
    trainer, client, (session,) = _booked(repo)
    _connect(repo, trainer)
    link = card_payments.card_payment_link(
        links_module.fixed(b"stage-secret"),
        BASE,
        trainer.id,
        client,
        CardPaymentStore(repo.db).settings(trainer.id),  # type: ignore[arg-type]
        session.ref,
    )
    assert link is not None and link.startswith(f"{BASE}/pay/")
    token = link.removeprefix(f"{BASE}/pay/")

    url, calls = counted(lambda: card_payments.start_checkout(_deps(repo), token))

    assert url == "https://checkout.stripe.com/c/pay/cs_test_0001"
    assert calls == 1  # the client, the profile and the session in one BatchGetItem
    (request,) = stripe_api.requests
    assert request.path == "/v1/checkout/sessions"
    assert request.headers["authorization"] == f"Bearer {SECRET_KEY}"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert len(request.headers["idempotency-key"]) == 64
    assert request.headers["stripe-version"] == card_payments.STRIPE_API_VERSION
    form = request.form
    assert form["mode"] == "payment"
    assert form["payment_method_types[0]"] == "card"
    assert form["line_items[0][quantity]"] == "1"
    assert form["line_items[0][price_data][currency]"] == "gbp"
    assert form["line_items[0][price_data][unit_amount]"] == "4000"
    assert form["line_items[0][price_data][product_data][name]"].startswith(
        "Session Wednesday 25 Nov 09:00–10:00 with "
    )
    assert form["client_reference_id"] == f"{trainer.id}:{client.id}"
    assert form["metadata[trainer_id]"] == trainer.id
    assert form["metadata[client_id]"] == client.id
    assert form["metadata[session_0]"] == session.ref
    assert form["payment_intent_data[metadata][session_0]"] == session.ref
    assert form["success_url"] == f"{link}?paid=1"
    assert form["cancel_url"] == link

    again = card_payments.start_checkout(_deps(repo), token)  # a double click
    assert again == url and len(stripe_api.sessions) == 1
    assert stripe_api.requests[1].headers["idempotency-key"] == request.headers["idempotency-key"]


def test_the_balance_link_pays_every_owed_session(repo: Repository, stripe_api: FakeStripe) -> None:
    trainer, client, sessions = _booked(repo, 3)
    _connect(repo, trainer)
    token = links_module.fixed(b"stage-secret").pay(
        trainer.id, client.id, client.portal_generation, None
    )
    page = card_payments.pay_page(_deps(repo), token)
    assert page.total == "£120.00" and len(page.lines) == 3 and not page.problem

    card_payments.start_checkout(_deps(repo), token)
    form = stripe_api.requests[0].form
    assert form["line_items[0][price_data][unit_amount]"] == "12000"
    assert {form[f"metadata[session_{n}]"] for n in range(3)} == {s.ref for s in sessions}


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"status": "voided"}, "This session was voided, so there is nothing to pay for it."),
        ({"status": "canceled"}, "This session was canceled, so there is nothing to pay for it."),
        ({"paid": True, "payment_type": "cash"}, "This session is paid. Thank you!"),
    ],
)
def test_no_checkout_for_a_voided_canceled_or_paid_session(
    repo: Repository, stripe_api: FakeStripe, change: dict[str, object], problem: str
) -> None:
    trainer, client, (session,) = _booked(repo)
    _connect(repo, trainer)
    repo.change_session(
        trainer.id, session, session.model_copy(update=change), "trainer", "x", LATER
    )
    token = links_module.fixed(b"stage-secret").pay(
        trainer.id, client.id, client.portal_generation, session.ref
    )
    page = card_payments.pay_page(_deps(repo), token)
    assert page.problem == problem
    with unchanged(repo), pytest.raises(card_payments.CheckoutRefused):
        card_payments.start_checkout(_deps(repo), token)
    assert stripe_api.requests == []


def test_stripe_refusing_the_key_is_said_in_words(repo: Repository, stripe_api: FakeStripe) -> None:
    trainer, client, (session,) = _booked(repo)
    _connect(repo, trainer)
    stripe_api.status = 401
    token = links_module.fixed(b"stage-secret").pay(
        trainer.id, client.id, client.portal_generation, session.ref
    )
    with unchanged(repo), pytest.raises(card_payments.CheckoutUnavailable) as refused:
        card_payments.start_checkout(_deps(repo), token)
    assert refused.value.user_message.startswith("Card payment is not available just now")


# The webhook: paid --------------------------------------------------------------------------
def _paid_event(trainer: Trainer, client: Client, sessions: list[Session], event: str) -> bytes:
    total = sum(s.price_minor or 0 for s in sessions)
    return completed_event(event, trainer.id, client.id, [s.ref for s in sessions], total)


def test_a_completed_checkout_marks_the_sessions_paid_by_card_once(repo: Repository) -> None:
    trainer, client, sessions = _booked(repo, 2)
    _connect(repo, trainer)
    payload = _paid_event(trainer, client, sessions, "evt_1")

    result, calls = counted(lambda: _post(repo, trainer, payload))

    assert (result.status, result.body) == (200, "marked 2")
    assert calls == 5  # the connection, the sessions, the event's marks, a write per session
    for session in sessions:
        now = session_now(repo, trainer.id, session)
        assert now.paid and now.payment_type == "card" and now.version == session.version + 1
    assert repo.client_balance(trainer.id, client.id).unpaid_minor == 0
    with unchanged(repo):
        replay, calls = counted(
            lambda: _post(repo, trainer, payload, at=LATER + timedelta(minutes=1))
        )
    assert (replay.status, replay.body, calls) == (200, "marked 0", 3)


def test_deliveries_racing_mark_each_session_once(repo: Repository) -> None:
    trainer, client, sessions = _booked(repo, 2)
    _connect(repo, trainer)
    payload = _paid_event(trainer, client, sessions, "evt_race")

    outcomes = race(6, lambda _i: _post(repo, trainer, payload))

    assert all(o.status == 200 for o in outcomes), outcomes
    assert sum(int(o.body.split()[1]) for o in outcomes) == 2  # each session marked once
    for session in sessions:
        assert session_now(repo, trainer.id, session).version == session.version + 1
    lines = [
        entry
        for session in sessions
        for entry in repo.log_of(trainer.id, session.week, session.id)
        if entry.text.startswith("Paid by card")
    ]
    assert len(lines) == 2
    assert repo.client_balance(trainer.id, client.id).unpaid_minor == 0


def test_a_stale_session_is_refused_by_the_write_itself(repo: Repository) -> None:
    trainer, client, (session,) = _booked(repo)
    _connect(repo, trainer)
    event = parse_event(_paid_event(trainer, client, [session], "evt_stale"))
    repo.change_session(  # the trainer writes a note meanwhile: the version moves on
        trainer.id, session, session.model_copy(update={"video_link": ""}), "trainer", "x", LATER
    )
    store = CardPaymentStore(repo.db)
    with unchanged(repo), pytest.raises(VersionConflict):
        card_payments.mark_paid_by_card(
            repo,
            store,
            trainer.id,
            session,
            event,
            (),
            LATER,  # type: ignore[arg-type]
        )
    # The webhook reads it again and marks it.
    assert _post(repo, trainer, _paid_event(trainer, client, [session], "evt_stale")).body == (
        "marked 1"
    )


def test_a_session_paid_meanwhile_is_left_and_the_event_still_recorded(repo: Repository) -> None:
    trainer, client, (session,) = _booked(repo)
    _connect(repo, trainer)
    cash = session.model_copy(update={"paid": True, "payment_type": "cash"})
    repo.change_session(trainer.id, session, cash, "trainer", "Marked paid (cash)", LATER)

    result = _post(repo, trainer, _paid_event(trainer, client, [session], "evt_late"))

    assert result.body == "marked 0"
    assert session_now(repo, trainer.id, session).payment_type == "cash"
    assert CardPaymentStore(repo.db).payment(trainer.id, "pi_test_0001") is not None


def test_forged_and_old_signatures_are_refused_after_reading_only_the_secret(
    repo: Repository,
) -> None:
    trainer, client, (session,) = _booked(repo)
    _connect(repo, trainer)
    payload = _paid_event(trainer, client, [session], "evt_forged")
    forged = signed(payload, int(LATER.timestamp()), secret="whsec_" + "A" * 32)
    with unchanged(repo):
        result, calls = counted(
            lambda: card_payments.stripe_event_report(_deps(repo), trainer.id, payload, forged)
        )
        assert (result.status, calls) == (403, 1)  # the profile's connection, nothing else
        early = signed(payload, int((LATER - timedelta(minutes=6)).timestamp()))
        old = card_payments.stripe_event_report(_deps(repo), trainer.id, payload, early)
        assert old.status == 403  # signed six minutes ago
        ahead = signed(payload, int((LATER + timedelta(minutes=6)).timestamp()))
        assert (
            card_payments.stripe_event_report(_deps(repo), trainer.id, payload, ahead).status == 403
        )
    assert not session_now(repo, trainer.id, session).paid


def test_an_old_timestamp_is_refused(repo: Repository) -> None:
    trainer, client, (session,) = _booked(repo)
    _connect(repo, trainer)
    payload = _paid_event(trainer, client, [session], "evt_old")
    header = signed(payload, int((LATER - timedelta(minutes=5, seconds=1)).timestamp()))
    with unchanged(repo):
        result = card_payments.stripe_event_report(_deps(repo), trainer.id, payload, header)
    assert result.status == 403


def test_unknown_events_and_unknown_trainers(repo: Repository) -> None:
    trainer, _client, _ = _booked(repo)
    _connect(repo, trainer)
    payload = json.dumps({"id": "evt_x", "type": "customer.created", "data": {"object": {}}})
    with unchanged(repo):
        assert _post(repo, trainer, payload.encode()).status == 200
        nobody = card_payments.stripe_event_report(_deps(repo), "nobody", b"{}", "t=1,v1=00")
        assert nobody.status == 404


# The webhook: refunds ---------------------------------------------------------------------
def test_a_full_refund_makes_the_sessions_owed_again(repo: Repository) -> None:
    trainer, client, sessions = _booked(repo, 2)
    _connect(repo, trainer)
    _post(repo, trainer, _paid_event(trainer, client, sessions, "evt_pay"))

    result, calls = counted(lambda: _post(repo, trainer, refunded_event("evt_refund", 8000, 8000)))

    assert (result.status, result.body) == (200, "refunded 2")
    assert calls == 7  # the connection, the payment, per session a read and a write, the total
    for session in sessions:
        now = session_now(repo, trainer.id, session)
        assert not now.paid and now.payment_type == REFUNDED_BY_CARD and now.refunded
    assert repo.client_balance(trainer.id, client.id).unpaid_minor == 8000
    with unchanged(repo):
        assert _post(repo, trainer, refunded_event("evt_refund", 8000, 8000)).body == "refunded 0"


def test_a_partial_refund_gives_back_whole_sessions_the_last_first(repo: Repository) -> None:
    trainer, client, sessions = _booked(repo, 3)
    _connect(repo, trainer)
    _post(repo, trainer, _paid_event(trainer, client, sessions, "evt_pay"))

    assert _post(repo, trainer, refunded_event("evt_r1", 12000, 5000)).body == "refunded 1"

    states = [session_now(repo, trainer.id, s).paid for s in sessions]
    assert states == [True, True, False]
    payment = CardPaymentStore(repo.db).payment(trainer.id, "pi_test_0001")
    assert payment is not None and payment.refunded_minor == 5000
    assert _post(repo, trainer, refunded_event("evt_r2", 12000, 8000)).body == "refunded 1"
    assert [session_now(repo, trainer.id, s).paid for s in sessions] == [True, False, False]


def test_refund_deliveries_racing_give_back_once(repo: Repository) -> None:
    trainer, client, sessions = _booked(repo, 2)
    _connect(repo, trainer)
    _post(repo, trainer, _paid_event(trainer, client, sessions, "evt_pay"))

    outcomes = race(5, lambda _i: _post(repo, trainer, refunded_event("evt_rr", 8000, 8000)))

    assert sum(int(o.body.split()[1]) for o in outcomes) == 2
    assert repo.client_balance(trainer.id, client.id).unpaid_minor == 8000


def test_a_refund_for_more_than_was_paid_is_refused_and_nothing_written(
    repo: Repository, caplog: pytest.LogCaptureFixture
) -> None:

    trainer, client, (session,) = _booked(repo)
    _connect(repo, trainer)
    _post(repo, trainer, _paid_event(trainer, client, [session], "evt_pay"))

    with unchanged(repo):
        result = _post(repo, trainer, refunded_event("evt_big", 4000, 4001))
    assert result.status == 409
    assert "refused" in caplog.text
    assert session_now(repo, trainer.id, session).paid


def test_the_payment_record_refuses_a_second_first_write(repo: Repository) -> None:
    trainer, client, (session,) = _booked(repo)
    event = parse_event(_paid_event(trainer, client, [session], "evt_once"))
    store = CardPaymentStore(repo.db)
    store.transact([new_payment(trainer.id, event, (), LATER)])  # type: ignore[arg-type]
    with unchanged(repo), pytest.raises(TransactionFailed) as refused:
        store.transact([new_payment(trainer.id, event, (), LATER)])  # type: ignore[arg-type]
    assert refused.value.refused(NEW_PAYMENT)
    assert repo.db.get(keys.card_payment(trainer.id, "pi_test_0001")) is not None


class FailingSsm:
    """An SSM that refuses every write, as with a missing IAM permission."""

    def put_parameter(self, **_request: object) -> None:
        raise RuntimeError("AccessDeniedException")

    def delete_parameter(self, **_request: object) -> None:
        raise RuntimeError("AccessDeniedException")


def test_a_key_ssm_would_not_store_refuses_the_save_in_words(repo: Repository) -> None:
    trainer, _client, _ = _booked(repo)
    vault = card_payments.CardSecrets("/pt-bookings/test", client=FailingSsm)
    command = SaveCardSettings.model_validate(
        {"version": "0", "secret_key": SECRET_KEY, "webhook_secret": WEBHOOK_SECRET}
    )
    with unchanged(repo), pytest.raises(InvalidInput) as refused:
        card_payments.save_card_settings(_deps(repo), trainer.id, command, vault)
    assert refused.value.errors == {
        "secret_key": "We could not store it just now, so nothing was saved. Type it again "
        "in a minute."
    }
    assert SECRET_KEY not in str(refused.value)

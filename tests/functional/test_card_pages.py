"""Card payments through the real app (chalice.test.Client): Settings → Card payments, the
client's pay page and its Pay button, and Stripe's webhook (403 forged or old, a replay
marks once, a refund, an over-refund refused, unknown events). The clock is Monday 23 Nov
2026 09:00 UTC; the sessions are on Wednesday 25 Nov and the pages read on 3 Dec."""

from __future__ import annotations

import html
import json
import re
from datetime import datetime, timedelta

import pytest

from chalicelib import runtime
from chalicelib.domain.clients import Client
from chalicelib.domain.models import Trainer
from chalicelib.domain.schedule import Session
from chalicelib.repo.repository import Repository
from chalicelib.services import card_payments, clients
from tests.conftest import Clock
from tests.functional.conftest import Browser
from tests.functional.test_schedule_pages import trainer_id
from tests.support.builders import (
    NOW,
    add_client,
    add_location,
    add_slot,
    allocate,
    session_now,
    trainer_of,
)
from tests.support.fake_stripe import (
    SECRET_KEY,
    WEBHOOK_SECRET,
    FakeStripe,
    completed_event,
    refunded_event,
    signed,
)
from tests.support.table import unchanged

# A test stage with no proxy and no remembered secrets (tests/support/fake_stripe.py).
pytestmark = pytest.mark.usefixtures("card_stage")

SETTINGS = "/dashboard/settings/payments/card"
PAID_AT = NOW + timedelta(days=10)


def connect(trainer: Browser, *, on: bool = True) -> None:
    page = trainer.get(SETTINGS)
    version = re.search(r'name="version" value="(\d+)"', page.body)
    assert version
    form = {"version": version.group(1), "secret_key": SECRET_KEY, "webhook_secret": WEBHOOK_SECRET}
    if on:
        form["card_payments"] = "on"
    saved = trainer.post(SETTINGS, form)
    assert saved.status == 303, saved.body
    assert saved.db_calls == 3  # the session, the connection read, its conditional write


def booked(
    repo: Repository, trainer: Browser, count: int = 1
) -> tuple[Trainer, Client, list[Session]]:
    coach = trainer_of(repo, trainer_id(trainer))
    coach, studio = add_location(repo, coach)
    client = add_client(repo, coach, "Priya <b>Shah</b>", (studio,))
    sessions = []
    for n in range(count):
        slot = add_slot(repo, coach, studio, f"{9 + n:02d}:00", f"{10 + n:02d}:00")
        sessions.append(allocate(repo, coach, slot, client))
    return coach, client, sessions


def pay_path(coach: Trainer, client: Client, session: Session | None) -> str:
    link = card_payments.card_payment_link(
        runtime.links(),
        "http://testserver",
        coach.id,
        client,
        card_payments.CardPaymentStore(runtime.repository().db).settings(coach.id),  # type: ignore[arg-type]
        session.ref if session else None,
    )
    assert link is not None
    return link.removeprefix("http://testserver")


def post_event(browser: Browser, coach: Trainer, payload: bytes, at: datetime, **extra: str):
    headers = {
        "content-type": "application/json; charset=utf-8",
        "stripe-signature": extra.get("signature") or signed(payload, int(at.timestamp())),
    }
    return browser.request("POST", f"/webhooks/stripe/{coach.id}", payload.decode(), headers)


# Settings → Card payments ---------------------------------------------------------------
def test_the_settings_page_connects_stripe_without_ever_showing_a_key(
    trainer: Browser, clock: Clock
) -> None:
    page = trainer.get(SETTINGS)
    assert page.status == 200 and page.db_calls == 2  # the session, the profile's connection
    assert "Not connected" in page.body
    tid = trainer_id(trainer)
    assert f'value="http://testserver/webhooks/stripe/{tid}"' in page.body
    assert "<code>checkout.session.completed</code>" in page.body
    assert "<code>charge.refunded</code>" in page.body
    assert '<label for="secret_key">' in page.body and '<label for="webhook_secret">' in page.body

    connect(trainer)

    page = trainer.get(SETTINGS + "?saved=saved")
    assert "Card payment settings saved." in page.body
    assert "Connected (test mode), card payments on" in page.body
    assert "A key is saved. Leave blank to keep it." in page.body
    assert SECRET_KEY not in page.body and WEBHOOK_SECRET not in page.body


def test_a_bad_key_is_refused_in_words_with_the_tick_kept_and_no_key_shown(
    trainer: Browser, clock: Clock
) -> None:
    typed = "pk_test_" + "x" * 24
    page = trainer.post(
        SETTINGS, {"version": "0", "secret_key": typed, "webhook_secret": "", "card_payments": "on"}
    )
    assert page.status == 400
    assert "That is not a Stripe secret key" in page.body
    assert 'aria-invalid="true"' in page.body and typed not in page.body
    assert "keys you typed are never shown back" in page.body
    assert 'name="card_payments" value="on" checked' in page.body
    assert "Not connected" in page.body


def test_a_stale_settings_form_is_refused(trainer: Browser, clock: Clock) -> None:
    connect(trainer)
    stale = trainer.post(SETTINGS, {"version": "0", "secret_key": SECRET_KEY})
    assert stale.status == 409 and "changed elsewhere" in stale.body


# The pay page ------------------------------------------------------------------------------
def test_the_pay_page_shows_the_amount_and_pay_goes_to_stripe(
    trainer: Browser, repo: Repository, clock: Clock, stripe_api: FakeStripe
) -> None:
    connect(trainer)
    coach, client, (session,) = booked(repo, trainer)
    clock.advance(days=10)
    path = pay_path(coach, client, session)
    visitor = Browser(trainer.client, [])

    page = visitor.get(path)
    assert page.status == 200 and page.db_calls == 1, page.body
    assert "Wednesday 25 Nov 09:00–10:00" in page.body and "£40.00" in page.body
    assert "Pay £40.00 by card" in page.body

    sent = visitor.post(path, {}, csrf=page.csrf())
    assert sent.status == 303 and sent.db_calls == 1
    assert sent.location == "https://checkout.stripe.com/c/pay/cs_test_0001"
    (request,) = stripe_api.requests
    assert request.path == "/v1/checkout/sessions"
    assert request.form["success_url"] == f"http://testserver{path}?paid=1"

    back = visitor.get(path + "?paid=1")
    assert "Stripe has your payment" in back.body


def test_the_balance_page_lists_what_is_owed(
    trainer: Browser, repo: Repository, clock: Clock
) -> None:
    connect(trainer)
    coach, client, _sessions = booked(repo, trainer, 2)
    clock.advance(days=10)
    page = Browser(trainer.client, []).get(pay_path(coach, client, None))
    assert page.status == 200 and "£80.00" in page.body and "Your sessions" in page.body


def test_a_voided_session_gets_no_checkout(
    trainer: Browser, repo: Repository, clock: Clock, stripe_api: FakeStripe
) -> None:
    connect(trainer)
    coach, client, (session,) = booked(repo, trainer)
    clock.advance(days=10)
    repo.change_session(
        coach.id,
        session,
        session.model_copy(update={"status": "voided"}),
        "trainer",
        "x",
        clock.now,
    )
    path = pay_path(coach, client, session)
    visitor = Browser(trainer.client, [])
    page = visitor.get(path)
    assert "This session was voided, so there is nothing to pay for it." in page.body
    assert "by card</button>" not in page.body
    with unchanged(repo):
        refused = visitor.post(path, {})  # a form kept open in another tab
    assert refused.status == 409 and "was voided" in refused.body
    assert stripe_api.requests == []


def test_forged_and_rotated_pay_links(trainer: Browser, repo: Repository, clock: Clock) -> None:
    connect(trainer)
    coach, client, (session,) = booked(repo, trainer)
    path = pay_path(coach, client, session)
    visitor = Browser(trainer.client, [])
    forged = visitor.get(path[:-2] + ("AA" if not path.endswith("AA") else "BB"))
    assert forged.status == 404 and forged.db_calls == 0
    assert visitor.get("/pay/nonsense").status == 404
    clients.rotate_portal_link(repo, runtime.links(), coach.id, client, client.version, NOW)
    assert visitor.get(path).status == 410


def test_without_card_payments_the_page_says_to_ask_and_no_link_is_made(
    trainer: Browser, repo: Repository, clock: Clock
) -> None:
    connect(trainer, on=False)
    coach, client, (session,) = booked(repo, trainer)
    card = card_payments.CardPaymentStore(repo.db).settings(coach.id)
    assert card is not None
    assert (
        card_payments.card_payment_link(runtime.links(), "http://x", coach.id, client, card) is None
    )
    token = runtime.links().pay(coach.id, client.id, client.portal_generation, session.ref)
    page = Browser(trainer.client, []).get(f"/pay/{token}")
    assert "Card payments are not available just now" in page.body


# The webhook ---------------------------------------------------------------------------------
def test_the_webhook_refuses_forged_and_old_posts(
    trainer: Browser, repo: Repository, clock: Clock
) -> None:
    connect(trainer)
    coach, client, (session,) = booked(repo, trainer)
    payload = completed_event("evt_1", coach.id, client.id, [session.ref], 4000)
    with unchanged(repo):
        forged = post_event(
            trainer,
            coach,
            payload,
            clock.now,
            signature=signed(payload, int(clock.now.timestamp()), "whsec_" + "B" * 30),
        )
        assert (forged.status, forged.body) == (403, "bad signature")
        assert forged.db_calls == 1 and forged.headers["content-type"] == "text/plain"
        old = post_event(trainer, coach, payload, clock.now - timedelta(minutes=6))
        assert old.status == 403


def test_a_replayed_event_marks_once_then_a_refund_makes_it_owed_again(
    trainer: Browser, repo: Repository, clock: Clock
) -> None:
    connect(trainer)
    coach, client, (session,) = booked(repo, trainer)
    clock.advance(days=10)
    payload = completed_event("evt_pay", coach.id, client.id, [session.ref], 4000)

    first = post_event(trainer, coach, payload, clock.now)
    assert (first.status, first.body) == (200, "marked 1")
    assert session_now(repo, coach.id, session).payment_type == "card"
    assert "Outstanding balance: £0.00" in trainer.get(f"/dashboard/clients/{client.id}").body
    page = trainer.get(f"/dashboard/sessions/{session.ref}").body
    assert "Paid · Card" in page and "Paid by card through Stripe (£40.00)" in page
    with unchanged(repo):
        replay = post_event(trainer, coach, payload, clock.now)
    assert (replay.status, replay.body, replay.db_calls) == (200, "marked 0", 3)

    refund = post_event(trainer, coach, refunded_event("evt_refund", 4000, 4000), clock.now)
    assert (refund.status, refund.body) == (200, "refunded 1")
    page = trainer.get(f"/dashboard/sessions/{session.ref}").body
    assert "Unpaid" in page and "Card payment refunded through Stripe (£40.00): owed again" in page
    profile = trainer.get(f"/dashboard/clients/{client.id}").body
    assert "Outstanding balance: £40.00" in profile  # owed again
    pay = Browser(trainer.client, []).get(pay_path(coach, client, session)).body
    assert "was refunded, so it is to pay again" in pay


def test_a_refund_for_more_than_was_paid_is_refused(
    trainer: Browser, repo: Repository, clock: Clock
) -> None:
    connect(trainer)
    coach, client, (session,) = booked(repo, trainer)
    payload = completed_event("evt_pay", coach.id, client.id, [session.ref], 4000)
    assert post_event(trainer, coach, payload, clock.now).status == 200
    with unchanged(repo):
        big = post_event(trainer, coach, refunded_event("evt_big", 4000, 5000), clock.now)
    assert big.status == 409
    assert session_now(repo, coach.id, session).paid


def test_unknown_events_are_acknowledged_and_change_nothing(
    trainer: Browser, repo: Repository, clock: Clock
) -> None:
    connect(trainer)
    coach, _client, _ = booked(repo, trainer)
    payload = json.dumps({"id": "evt_x", "type": "payout.paid", "data": {"object": {}}}).encode()
    with unchanged(repo):
        answered = post_event(trainer, coach, payload, clock.now)
        assert (answered.status, answered.body) == (200, "ignored")
        unknown = trainer.request(
            "POST",
            "/webhooks/stripe/nobody",
            payload.decode(),
            {"content-type": "application/json", "stripe-signature": "t=1,v1=00"},
        )
        assert unknown.status == 404


# The invoice's card link -----------------------------------------------------------------------
def test_an_invoice_carries_the_pay_link_once_card_payments_are_on(
    trainer: Browser, repo: Repository, clock: Clock
) -> None:

    from tests.functional.test_messages import set_payment_details

    set_payment_details(trainer)
    coach, client, (session,) = booked(repo, trainer)
    session_page = f"/dashboard/sessions/{session.ref}"

    def invoice_text() -> str:
        page = trainer.get(session_page)
        send_id = re.search(r'name="send_id" value="([^"]+)"', page.body)
        assert send_id
        sent = trainer.post(session_page, {"action": "invoice", "send_id": send_id.group(1)})
        assert sent.status == 303, sent.body
        return html.unescape(trainer.get("/dashboard/whatsapp/all").body)

    assert "Pay by card" not in invoice_text()  # not connected: bank transfer only
    connect(trainer)
    tab = invoice_text()
    link = re.search(r"Pay by card: (http://testserver/pay/[A-Za-z0-9_.~-]+)", tab)
    assert link, tab[-2000:]
    assert link.group(1).removeprefix("http://testserver") == pay_path(coach, client, session)
    assert "Or by bank transfer to:" in tab

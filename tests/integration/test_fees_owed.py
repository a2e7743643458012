"""Fees paid by card, against the table: a balance checkout's webhook marks a no-show
fee once however many deliveries race, a stale fee session is refused by the write
itself, and late cancels racing charge one fee. The sessions are on Wednesday 25 Nov,
read ten days later (LATER) unless said."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.domain.card_payments import CheckoutCompleted, parse_event
from chalicelib.domain.errors import VersionConflict
from chalicelib.domain.models import Trainer
from chalicelib.domain.schedule import Session, outstanding
from chalicelib.repo.card_payments import CardPaymentStore
from chalicelib.repo.repository import Repository
from chalicelib.services import card_payments, sessions
from tests.integration.test_card_payments import LATER, _booked, _connect, _deps, _post
from tests.support.builders import NOW, session_now
from tests.support.fake_stripe import completed_event, fake_stripe
from tests.support.race import race
from tests.support.table import unchanged

# A test stage with no proxy and no remembered secrets (tests/support/fake_stripe.py).
pytestmark = pytest.mark.usefixtures("card_stage")


def _charging(trainer: Trainer) -> Trainer:
    """The trainer with a policy of half the price for each mark."""
    settings = trainer.settings.model_copy(
        update={"no_show_percent": 50, "late_cancel_percent": 50}
    )
    return trainer.model_copy(update={"settings": settings})


def _no_show(repo: Repository, trainer: Trainer, session: Session) -> Session:
    return sessions.mark_no_show(repo, trainer, session, str(session.version), LATER)


def test_deliveries_racing_mark_a_fee_and_a_session_paid_once_each(repo: Repository) -> None:
    trainer, client, (first, second) = _booked(repo, 2)
    trainer = _charging(trainer)
    _connect(repo, trainer)
    fee = _no_show(repo, trainer, first)
    payload = completed_event("evt_fee", trainer.id, client.id, [first.ref, second.ref], 6000)

    outcomes = race(6, lambda _i: _post(repo, trainer, payload))

    assert all(o.status == 200 for o in outcomes), outcomes
    assert sum(int(o.body.split()[1]) for o in outcomes) == 2
    paid = session_now(repo, trainer.id, first)
    assert (paid.status, paid.paid, paid.version) == ("no_show", True, fee.version + 1)
    lines = [e.text for e in repo.log_of(trainer.id, first.week, first.id)]
    assert lines.count("Paid by card through Stripe (£20.00)") == 1
    assert repo.client_balance(trainer.id, client.id).unpaid_minor == 0
    payment = CardPaymentStore(repo.db).payment(trainer.id, "pi_test_0001")
    assert payment is not None
    # What a refund would give back per session: the fee, not the price.
    assert [(s.id, s.price_minor) for s in payment.sessions] == [
        (first.id, 2000),
        (second.id, 4000),
    ]


def test_a_stale_fee_session_is_refused_by_the_write_itself(repo: Repository) -> None:
    trainer, client, (first,) = _booked(repo, 1)
    trainer = _charging(trainer)
    fee = _no_show(repo, trainer, first)
    # Paid in cash meanwhile: the object the webhook read is stale.
    command = sessions.SetPayment.model_validate(
        {"paid": "yes", "payment_type": "cash", "version": str(fee.version)}
    )
    sessions.set_payment(repo, trainer.id, fee, command, LATER)
    payload = completed_event("evt_stale", trainer.id, client.id, [first.ref], 2000)
    event = parse_event(payload)
    assert isinstance(event, CheckoutCompleted)
    with unchanged(repo), pytest.raises(VersionConflict):
        card_payments.mark_paid_by_card(
            repo, CardPaymentStore(repo.db), trainer.id, fee, event, (), LATER
        )
    # Redelivered, it reads the session again and leaves the cash payment as it is.
    _connect(repo, trainer)
    assert _post(repo, trainer, payload).body == "marked 0"
    assert session_now(repo, trainer.id, first).payment_type == "cash"


def test_late_cancels_racing_charge_one_fee(repo: Repository) -> None:
    trainer, client, (session,) = _booked(repo, 1)
    trainer = _charging(trainer)
    at = NOW + timedelta(hours=24)  # Tuesday 09:00: inside the trainer's 36 hours

    outcomes = race(
        4,
        lambda _i: sessions.cancel(
            repo, trainer.id, session, str(session.version), at, late=trainer, client=client
        ),
    )

    assert sum(not isinstance(o, Exception) for o in outcomes) == 1, outcomes
    assert all(isinstance(o, VersionConflict) for o in outcomes if isinstance(o, Exception))
    assert repo.client_balance(trainer.id, client.id).unpaid_minor == 2000
    canceled = session_now(repo, trainer.id, session)
    assert outstanding([canceled], at) == (2000, [canceled])  # owed at once


def test_a_balance_checkout_asks_stripe_for_the_fees_listed(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    trainer, client, (first, second) = _booked(repo, 2)
    trainer = _charging(trainer)
    _connect(repo, trainer)
    _no_show(repo, trainer, first)
    token = _deps(repo).links.pay(trainer.id, client.id, client.portal_generation, None)
    page = card_payments.pay_page(_deps(repo), token)
    assert [line.amount for line in page.lines] == ["£20.00", "£40.00"] and page.total == "£60.00"
    with fake_stripe() as fake:
        monkeypatch.setenv(card_payments.API_BASE_ENV, fake.url)
        card_payments.start_checkout(_deps(repo), token)
    (request,) = fake.requests
    assert request.form["line_items[0][price_data][unit_amount]"] == "6000"
    assert request.form["metadata[session_0]"] == first.ref
    assert request.form["metadata[session_1]"] == second.ref

"""No-show and late-cancel fees are owed like prices everywhere a balance is drawn: the
dashboard's unpaid total, the client's balance pay page and its Checkout, and Stripe's
webhook, which marks a fee session paid (it is not booked any more, yet it is owed).

The clock is Monday 23 Nov 2026 09:00 UTC; Priya's £40 sessions are on Wednesday 25 Nov
09:00 and 10:00; the policy charges half for each mark (£20.00)."""

from __future__ import annotations

import html
import re

import pytest

from chalicelib.domain.clients import Client
from chalicelib.domain.models import Trainer
from chalicelib.domain.schedule import Session
from chalicelib.repo.repository import Repository
from chalicelib.services import sessions
from tests.conftest import Clock
from tests.functional.conftest import Browser
from tests.functional.test_card_pages import booked, connect, pay_path, post_event
from tests.functional.test_dashboard import section
from tests.functional.test_locations_and_template import add_slot as add_template_slot
from tests.functional.test_policy import set_policy
from tests.support.builders import session_now, trainer_of
from tests.support.fake_stripe import (
    FakeStripe,
    completed_event,
)
from tests.support.table import unchanged

# A test stage with no proxy and no remembered secrets (tests/support/fake_stripe.py).
pytestmark = pytest.mark.usefixtures("card_stage")


def text(page) -> str:
    return html.unescape(page.body)


def with_fees(
    trainer: Browser, repo: Repository, count: int = 2
) -> tuple[Trainer, Client, list[Session]]:
    """Card payments on, fees at half the price, a template slot (so the dashboard is
    set up), and Priya's `count` sessions on Wednesday."""
    connect(trainer)
    assert set_policy(trainer, "50", "50").status == 303
    coach, client, booked_sessions = booked(repo, trainer, count)
    studio = next(iter(coach.locations))
    add_template_slot(trainer, 4, "07:00", "08:00", studio)
    return trainer_of(repo, coach.id), client, booked_sessions


def mark_no_show(repo: Repository, coach: Trainer, session: Session, clock: Clock) -> Session:
    current = session_now(repo, coach.id, session)
    return sessions.mark_no_show(repo, coach, current, str(current.version), clock.now)


def late_cancel(repo: Repository, coach: Trainer, session: Session, clock: Clock) -> Session:
    current = session_now(repo, coach.id, session)
    return sessions.cancel(repo, coach.id, current, str(current.version), clock.now, late=coach)


def test_the_dashboard_total_counts_a_no_show_fee_and_a_late_cancel_fee(
    trainer: Browser, repo: Repository, clock: Clock
) -> None:
    coach, _client, (first, second) = with_fees(trainer, repo)
    clock.advance(hours=24)  # Tuesday 09:00: Wednesday is inside the 36-hour deadline
    late_cancel(repo, coach, second, clock)
    unpaid = section(trainer.get("/dashboard").body, "unpaid")
    # The late cancel's fee is owed at once, though its session is still to come.
    assert "£20.00" in unpaid and "1 unpaid session in the last 8 weeks" in unpaid
    clock.advance(days=2)  # Thursday: Wednesday 09:00 is over, Priya never came
    mark_no_show(repo, coach, first, clock)
    unpaid = section(trainer.get("/dashboard").body, "unpaid")
    assert "£40.00" in unpaid and "2 unpaid sessions in the last 8 weeks" in unpaid


def test_the_balance_page_lists_each_fee_and_checkout_charges_what_it_lists(
    trainer: Browser, repo: Repository, clock: Clock, stripe_api: FakeStripe
) -> None:
    coach, client, (first, second, third) = with_fees(trainer, repo, 3)
    clock.advance(hours=24)
    late_cancel(repo, coach, third, clock)  # its fee is owed before its start
    path = pay_path(coach, client, None)
    visitor = Browser(trainer.client, [])
    page = text(visitor.get(path))
    assert "Wednesday 25 Nov 11:00–12:00 (late-cancel fee)</dt><dd>£20.00" in page
    assert "Pay £20.00 by card" in page
    clock.advance(days=2)
    mark_no_show(repo, coach, first, clock)
    page = visitor.get(path)
    shown = text(page)
    assert page.status == 200 and page.db_calls == 3, page.db_calls  # link, upcoming, past
    assert "Wednesday 25 Nov 09:00–10:00 (no-show fee)</dt><dd>£20.00" in shown
    assert "Wednesday 25 Nov 10:00–11:00</dt><dd>£40.00" in shown
    assert "Pay £80.00 by card" in shown

    sent = visitor.post(path, {}, csrf=page.csrf())
    assert sent.status == 303
    (request,) = stripe_api.requests
    assert request.form["line_items[0][price_data][unit_amount]"] == "8000"
    name = request.form["line_items[0][price_data][product_data][name]"]
    assert name == f"3 sessions with {coach.display_name}"
    assert [request.form[f"metadata[session_{n}]"] for n in range(3)] == [
        first.ref,
        second.ref,
        third.ref,
    ]


def test_a_balance_checkout_completed_by_stripe_marks_the_fees_paid(
    trainer: Browser, repo: Repository, clock: Clock
) -> None:
    coach, client, (first, second) = with_fees(trainer, repo)
    clock.advance(days=3)
    mark_no_show(repo, coach, first, clock)
    payload = completed_event("evt_fees", coach.id, client.id, [first.ref, second.ref], 6000)

    done = post_event(trainer, coach, payload, clock.now)
    assert (done.status, done.body) == (200, "marked 2")
    fee = session_now(repo, coach.id, first)
    assert (fee.status, fee.paid, fee.payment_type) == ("no_show", True, "card")
    assert session_now(repo, coach.id, second).paid
    log = text(trainer.get(f"/dashboard/sessions/{first.ref}"))
    assert "Paid by card through Stripe (£20.00)" in log  # the fee, not the price
    assert "Outstanding balance: £0.00" in text(trainer.get(f"/dashboard/clients/{client.id}"))
    page = text(Browser(trainer.client, []).get(pay_path(coach, client, None)))
    assert "There is nothing to pay just now. Thank you!" in page
    with unchanged(repo):
        replay = post_event(trainer, coach, payload, clock.now)
    assert (replay.status, replay.body) == (200, "marked 0")


def test_a_late_cancel_fee_paid_through_its_own_link(
    trainer: Browser, repo: Repository, clock: Clock, stripe_api: FakeStripe
) -> None:
    coach, client, (session,) = with_fees(trainer, repo, 1)
    clock.advance(hours=24)
    late_cancel(repo, coach, session, clock)
    path = pay_path(coach, client, session)
    visitor = Browser(trainer.client, [])
    page = visitor.get(path)
    assert "Pay £20.00 by card" in text(page)  # the fee, not the £40 price
    assert visitor.post(path, {}, csrf=page.csrf()).status == 303
    (request,) = stripe_api.requests
    assert request.form["line_items[0][price_data][unit_amount]"] == "2000"
    payload = completed_event("evt_late", coach.id, client.id, [session.ref], 2000)
    assert post_event(trainer, coach, payload, clock.now).body == "marked 1"
    paid = session_now(repo, coach.id, session)
    assert (paid.status, paid.late_cancel, paid.paid) == ("canceled", True, True)
    assert "This fee is paid. Thank you!" in text(visitor.get(path))


def test_a_refused_checkout_is_drawn_from_the_one_read(
    trainer: Browser, repo: Repository, clock: Clock, stripe_api: FakeStripe
) -> None:

    coach, client, _sessions = with_fees(trainer, repo, 1)
    path = pay_path(coach, client, None)  # nothing owed yet: the session is to come
    visitor = Browser(trainer.client, [])
    page = visitor.get(path)
    assert "There is nothing to pay just now" in page.body
    with unchanged(repo):
        refused = visitor.post(path, {})  # a form kept open in another tab
    assert refused.status == 409 and "There is nothing to pay just now" in refused.body
    assert refused.db_calls == 3  # the link's read, upcoming and past: once, not twice
    assert stripe_api.requests == []
    assert re.search(r"by card</button>", refused.body) is None

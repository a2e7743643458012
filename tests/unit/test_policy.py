"""No-show and late-cancel rules (domain/policy.py) and what a fee owes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from chalicelib.domain import policy
from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.schedule import book, make_slot, unpaid_amount

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _session(day: date = date(2026, 11, 24), price: int | None = 4500):
    slot = make_slot("s1", day, 9 * 60, 10 * 60, "studio", "Europe/London")
    return book(slot, "x1", "c1", "Priya Shah", "manual", NOW, price)[1]


@pytest.mark.parametrize(
    ("price", "percent", "fee"),
    [(4500, 100, 4500), (4500, 50, 2250), (4501, 50, 2251), (4500, 0, None), (None, 50, None)],
)
def test_the_fee_is_the_share_of_the_price_half_rounded_up(price, percent, fee) -> None:
    assert policy.fee(price, percent) == fee


def test_a_no_show_is_marked_once_the_session_started_and_owes_its_fee() -> None:
    session = _session()
    with pytest.raises(InvalidInput, match="has not started yet"):
        policy.mark_no_show(session, 100, NOW)
    marked = policy.mark_no_show(session, 50, session.start_utc + timedelta(minutes=5))
    assert (marked.status, marked.charge_minor, marked.charged) == ("no_show", 2250, True)
    assert unpaid_amount(marked) == 2250 and marked.status_label == "No-show"
    assert unpaid_amount(marked.model_copy(update={"paid": True})) == 0
    with pytest.raises(InvalidInput, match="no-show"):
        policy.mark_no_show(marked, 50, session.start_utc + timedelta(hours=1))


def test_a_late_cancel_is_only_inside_the_deadline() -> None:
    session = _session(date(2026, 11, 27)).model_copy(update={"status": "canceled"})
    with pytest.raises(InvalidInput, match="outside the cancel deadline"):
        policy.mark_late_cancel(session, 50, 36, NOW)
    late = policy.mark_late_cancel(session, 50, 36, session.start_utc - timedelta(hours=35))
    assert late.late_cancel and late.charge_minor == 2250 and late.status_label == "Late cancel"
    free = policy.mark_late_cancel(session, 0, 36, session.start_utc - timedelta(hours=1))
    assert free.late_cancel and not free.charged and unpaid_amount(free) == 0


def test_the_portal_words_name_only_what_costs_something() -> None:
    assert policy.policy_text(0, 0, 36) == ""
    assert policy.policy_text(100, 0, 36) == "A missed session (no-show) costs the full price."
    assert policy.policy_text(0, 50, 24) == (
        "A cancel less than 24 hours before costs half the price."
    )

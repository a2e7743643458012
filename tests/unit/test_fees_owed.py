"""What a client owes (`schedule.outstanding`) counts unpaid no-show and late-cancel fees
at their `charge_minor`, never the price, oldest first; and a late cancel is judged by
the client's own deadline (`policy.cancel_deadline_hours`)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain import policy
from chalicelib.domain.clients import Client
from chalicelib.domain.schedule import Session, book, make_slot, outstanding, unpaid_amount
from chalicelib.domain.settings import TrainerSettings

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # Monday
LATER = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _session(day: int, price: int | None = 4000, **changes) -> Session:
    slot = make_slot(f"s{day}", date(2026, 11, day), 540, 600, "studio", "Europe/London")
    return book(slot, f"x{day}", "c", "C", "manual", NOW, price)[1].model_copy(update=changes)


def _no_show(day: int, fee: int | None = 2000, **changes) -> Session:
    return _session(day, status="no_show", charge_minor=fee, **changes)


def _late(day: int, fee: int | None = 2000, **changes) -> Session:
    return _session(day, status="canceled", late_cancel=True, charge_minor=fee, **changes)


def test_unpaid_fees_are_owed_at_their_fee_with_the_prices_oldest_first() -> None:
    sessions = [
        _session(26),  # £40 owed
        _no_show(24),  # £20 fee owed
        _late(25, 1000),  # £10 fee owed
        _no_show(23, paid=True),  # paid
        _late(27, None),  # a late cancel the policy charged nothing for
        _no_show(28, None),
        _session(29, status="canceled"),  # not late: nothing owed
    ]
    total, owed = outstanding(sessions, LATER)
    assert total == 7000
    assert [s.day.day for s in owed] == [24, 25, 26]


def test_a_late_cancels_fee_is_owed_before_its_session_starts() -> None:
    ahead = _late(26)  # Thursday, canceled late on Monday
    booked_ahead = _session(27)  # still to come: not owed yet
    assert outstanding([booked_ahead, ahead], NOW) == (2000, [ahead])


def test_a_refunded_fee_is_owed_again() -> None:
    refunded = _no_show(24, payment_type="card_refunded")
    assert outstanding([refunded], LATER) == (2000, [refunded])


@given(
    st.lists(
        st.tuples(
            st.integers(min_value=1, max_value=29),
            st.sampled_from(["booked", "no_show", "late", "canceled", "voided", "moved"]),
            st.booleans(),
            st.one_of(st.none(), st.integers(min_value=0, max_value=10_000)),
        ),
        max_size=12,
    )
)
def test_the_total_is_what_each_owed_session_adds_to_the_balance(rows) -> None:
    sessions = []
    for n, (day, status, paid, amount) in enumerate(rows):
        late = status == "late"
        session = _session(
            day,
            price=amount,
            status="canceled" if late else status,
            late_cancel=late,
            charge_minor=amount if status in ("no_show", "late") else None,
            paid=paid,
        ).model_copy(update={"id": f"x{n}"})
        sessions.append(session)
    total, owed = outstanding(sessions, LATER)
    # Every session is over by LATER: what each adds to the kept balance is owed now.
    assert total == sum(unpaid_amount(s) for s in owed)
    assert {s.id for s in sessions if unpaid_amount(s)} <= {s.id for s in owed}
    assert not any(s.paid for s in owed)
    assert [s.start_utc for s in owed] == sorted(s.start_utc for s in owed)


def _client(deadline: int | None) -> Client:
    return Client(
        id="c",
        name="Priya Shah",
        phone="+447400123456",
        created_at=NOW,
        cancel_deadline_hours=deadline,
    )


@pytest.mark.parametrize(("own", "effective"), [(None, 36), (12, 12), (0, 0), (168, 168)])
def test_the_late_cancel_deadline_is_the_clients_own_or_the_trainers(own, effective) -> None:
    settings = TrainerSettings(cancel_deadline_hours=36)
    assert policy.cancel_deadline_hours(settings, _client(own)) == effective


def test_late_cancel_is_possible_only_upcoming_booked_and_inside_the_deadline() -> None:
    session = _session(24)  # Tuesday 09:00, 24 hours after NOW
    assert policy.late_cancel_possible(session, 36, NOW)
    assert not policy.late_cancel_possible(session, 24, NOW)  # exactly 24 h: outside
    assert not policy.late_cancel_possible(session, 12, NOW)
    assert not policy.late_cancel_possible(session, 36, session.start_utc)  # started
    canceled = session.model_copy(update={"status": "canceled"})
    assert not policy.late_cancel_possible(canceled, 36, NOW)
    # Nothing further than the horizon can be late under any deadline a client may have.
    horizon = policy.LATE_CANCEL_HORIZON_HOURS
    assert policy.late_cancel_possible(session, horizon, session.start_utc - timedelta(days=13))
    too_early = session.start_utc - policy.LATE_CANCEL_HORIZON - timedelta(hours=1)
    assert not policy.late_cancel_possible(session, horizon, too_early)
    assert horizon >= 168  # the longest a client's own deadline may be (the profile's)

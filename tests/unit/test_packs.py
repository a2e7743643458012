"""The pack rules (domain/packs.py): the countdown, what a pack payment marks, when the
trainer hears "2 left", and what the running totals count as used."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain import packs
from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.programs import Bundle, BundleEntry
from chalicelib.domain.schedule import Session

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
FIRST = datetime(2026, 12, 1, 11, 0, tzinfo=UTC)  # the first session's end


def bundle(planned: int = 4, statuses: tuple[str, ...] = (), **changes: object) -> Bundle:
    entries = tuple(
        BundleEntry(
            ref=f"2026-W49.x.{i}",
            end_utc=FIRST + timedelta(weeks=i),
            status=status.removesuffix("+fee"),
            charged=status.endswith("+fee"),
        )
        for i, status in enumerate(statuses or ("booked",) * planned)
    )
    return Bundle(
        id="b1",
        client_id="c1",
        client_name="Priya Shah",
        title="Four-pack",
        sessions_planned=planned,
        price_minor=20000,
        location_id="l1",
        entries=entries,
        created_at=NOW,
        **changes,
    )


def session(index: int, **changes: object) -> Session:
    start = FIRST - timedelta(hours=1) + timedelta(weeks=index)
    values: dict[str, object] = {
        "id": f"s{index}",
        "slot_id": f"slot{index}",
        "client_id": "c1",
        "client_name": "Priya Shah",
        "day": start.date(),
        "start": 600,
        "end": 660,
        "start_utc": start,
        "end_utc": start + timedelta(hours=1),
        "location_id": "l1",
        "kind": "program",
        "price_minor": 5000,
        "bundle_id": "b1",
        "bundle_index": index,
        "bundle_title": "Four-pack",
        "created_at": NOW,
    }
    values.update(changes)
    return Session.model_validate(values)


@pytest.mark.parametrize(
    ("statuses", "days", "left"),
    [
        (("booked",) * 4, 0, 4),
        (("booked",) * 4, 9, 3),  # 1 Dec is over
        (("booked",) * 4, 30, 0),
        (("canceled", "booked", "booked", "booked"), 30, 1),  # a free cancel gives it back
        (("no_show+fee", "booked", "booked", "booked"), 0, 3),  # a charged no-show uses it
        (("no_show", "booked", "booked", "booked"), 0, 4),  # a free one does not
        (("canceled+fee", "booked"), 0, 3),
    ],
)
def test_left_counts_what_was_used(statuses: tuple[str, ...], days: int, left: int) -> None:
    pack = bundle(4, statuses)
    now = NOW + timedelta(days=days)
    assert pack.left(now) == left
    assert pack.left_label(now) == f"{left} of 4 left"


def test_places_free_counts_bookings_and_fees_not_free_cancels() -> None:
    assert bundle(4, ("booked", "canceled", "no_show+fee")).places_free() == 2
    assert bundle(4, ("booked",) * 4).places_free() == 0
    assert packs.takes_booking(bundle(4, ("booked", "canceled")), NOW)
    assert not packs.takes_booking(bundle(4, ("booked",) * 4), NOW)
    assert not packs.takes_booking(bundle(4, ("booked",), status="paused"), NOW)


def test_a_pack_payment_marks_what_is_owed_and_only_once() -> None:
    pack = bundle(4)
    sessions = [
        session(0),
        session(1, paid=True, payment_type="cash"),  # paid by hand before: kept
        session(2, status="canceled"),  # owes nothing
        session(3, status="no_show", charge_minor=5000),  # a fee: covered
    ]
    payment = packs.pay_pack(pack, sessions, "bank_transfer", NOW)
    assert [b.id for b, _ in payment.sessions] == ["s0", "s3"]
    assert all(a.paid and a.payment_type == "pack" for _, a in payment.sessions)
    assert payment.bundle.pack_paid and payment.bundle.pack_payment_type == "bank_transfer"
    with pytest.raises(packs.PackAlreadyPaid, match="already marked paid on 23 Nov 2026"):
        packs.pay_pack(payment.bundle, sessions, "cash", NOW)
    with pytest.raises(InvalidInput, match="Choose how the pack was paid"):
        packs.pay_pack(pack, sessions, "bitcoin", NOW)
    with pytest.raises(InvalidInput, match="not fully created"):
        packs.pay_pack(bundle(4, status="creating"), sessions, "cash", NOW)
    marked = [a for _, a in payment.sessions]
    undone = packs.undo_pack_payment(payment.bundle, marked)
    assert all(not a.paid and a.payment_type is None for _, a in undone.sessions)
    assert not undone.bundle.pack_paid
    with pytest.raises(InvalidInput, match="not marked paid"):
        packs.undo_pack_payment(pack, marked)


def test_a_session_born_into_a_paid_pack_is_paid() -> None:
    assert packs.born_paid(bundle(4)) == {}
    paid = bundle(4, pack_paid_at=NOW, pack_payment_type="cash")
    assert packs.born_paid(paid) == {"paid": True, "payment_type": "pack"}


def test_the_notice_comes_once_at_two_left_and_not_for_a_new_two_pack() -> None:
    pack = bundle(4)
    assert not packs.notice_due(pack, NOW)
    assert packs.next_check(pack, NOW) == FIRST
    after_two = NOW + timedelta(days=16)
    assert packs.notice_due(pack, after_two)
    assert not packs.notice_due(pack.model_copy(update={"low_noticed_at": NOW}), after_two)
    assert not packs.notice_due(bundle(2), NOW)  # nothing used yet
    assert packs.notice_due(bundle(2), NOW + timedelta(days=9))
    assert not packs.notice_due(bundle(4), NOW + timedelta(days=60))  # completed


def test_counted_used_gives_up_what_a_completed_pack_left() -> None:
    pack = bundle(4)
    later = NOW + timedelta(days=9)
    assert packs.counted_used(pack, later) == 1
    assert packs.counted_used(pack.model_copy(update={"status": "completed"}), later) == 4
    assert packs.counted_used(pack.model_copy(update={"status": "creating"}), later) == 0
    assert packs.next_check(pack.model_copy(update={"status": "completed"}), later) is None


def test_renewal_waits_for_two_left_and_goes_once() -> None:
    pack = bundle(4)
    assert "2 sessions or fewer" in (packs.renewal_problem(pack, NOW) or "")
    later = NOW + timedelta(days=16)
    assert packs.renewal_problem(pack, later) is None
    sent = pack.model_copy(update={"renewal_sent_at": later})
    assert "already sent" in (packs.renewal_problem(sent, later) or "")


def test_the_payment_words() -> None:
    assert packs.payment_words(bundle(4)) == "Paid session by session"
    paid = bundle(4, pack_paid_at=NOW, pack_payment_type="cash")
    assert packs.payment_words(paid) == "Paid as a pack on 23 Nov 2026 (cash)"
    assert date(2026, 11, 23) == NOW.date()


STATUSES = ("booked", "canceled", "canceled+fee", "no_show", "no_show+fee", "voided", "moved")


@given(
    statuses=st.lists(st.sampled_from(STATUSES), min_size=1, max_size=12),
    planned=st.integers(min_value=1, max_value=12),
    days=st.integers(min_value=0, max_value=120),
)
def test_the_countdown_never_goes_below_nothing_or_above_the_pack(
    statuses: list[str], planned: int, days: int
) -> None:
    pack = bundle(planned, tuple(statuses))
    now = NOW + timedelta(days=days)
    used = sum(
        1
        for i, s in enumerate(statuses)
        if s.endswith("+fee") or (s == "booked" and FIRST + timedelta(weeks=i) <= now)
    )
    assert pack.used(now) == used
    assert pack.left(now) == max(planned - used, 0)
    assert 0 <= pack.left(now) <= planned
    taken = sum(1 for s in statuses if s == "booked" or s.endswith("+fee"))
    assert pack.places_free() == max(planned - taken, 0)
    assert packs.counted_used(pack, now) <= planned
    if pack.state(now) == "completed":
        assert packs.counted_used(pack, now) == planned
        assert not packs.takes_booking(pack, now)

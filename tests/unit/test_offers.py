"""Matching and offer locks: pure rules, no table."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from chalicelib.domain.clients import Client
from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.offers import acceptance_problem, make_offer, matching_clients
from chalicelib.domain.schedule import book, make_slot
from chalicelib.domain.template import TemplateSlot, WeeklyTemplate

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
THURSDAY = date(2026, 11, 26)
TEMPLATE = WeeklyTemplate(
    slots=(
        TemplateSlot(id="thu18", weekday=3, start=18 * 60, end=19 * 60, location_id="studio"),
        TemplateSlot(id="thu07", weekday=3, start=7 * 60, end=8 * 60, location_id="park"),
    ),
    version=1,
)


def client(cid: str, locations=("studio",), archived: bool = False) -> Client:
    return Client(
        id=cid,
        name=cid.title(),
        phone="+447400123456",
        location_ids=tuple(locations),
        archived=archived,
        created_at=NOW,
    )


def by_id(*clients: Client) -> dict[str, Client]:
    return {c.id: c for c in clients}


def slot(start: int = 18 * 60, location: str = "studio", day: date = THURSDAY):
    return make_slot("s1", day, start, start + 60, location, "Europe/London")


def test_matching_is_opt_in_time_location_and_not_busy() -> None:
    ana, ben, eve = (client(n) for n in ("ana", "ben", "eve"))
    cy = client("cy", locations=("park",))  # opted in, but the studio is not enabled
    dee = client("dee", archived=True)
    optins = {"thu18": {"ana", "ben", "cy", "dee"}}
    busy = book(slot(), "x", "ben", "Ben", "manual", NOW)[1]  # Ben is booked then
    found = matching_clients(slot(), by_id(ana, ben, cy, dee, eve), optins, TEMPLATE, [busy])
    assert [c.id for c in found] == ["ana"]  # eve never opted in


def test_a_one_off_slot_at_a_template_time_matches_and_other_times_do_not() -> None:
    ana = client("ana")
    optins = {"thu18": {"ana"}}
    assert matching_clients(slot(), by_id(ana), optins, TEMPLATE, []) == [ana]
    assert matching_clients(slot(start=18 * 60 + 30), by_id(ana), optins, TEMPLATE, []) == []
    wednesday = slot(day=THURSDAY - timedelta(days=1))
    assert matching_clients(wednesday, by_id(ana), optins, TEMPLATE, []) == []


def test_matching_reads_the_client_index_and_skips_ids_it_does_not_hold() -> None:
    from chalicelib.repo.mapping import ClientSummary

    ana = ClientSummary(id="ana", name="Ana", location_ids=("studio",))
    bo = ClientSummary(id="bo", name="bo", location_ids=("studio",))
    opted_in = {"thu18": {"ana", "bo", "gone"}, "thu07": {"cy"}}  # "gone": no entry
    found = matching_clients(slot(), {"bo": bo, "ana": ana}, opted_in, TEMPLATE, [])
    assert found == [ana, bo]  # by name, whatever the case


def test_a_canceled_session_does_not_make_a_client_busy() -> None:
    ana = client("ana")
    gone = book(slot(), "x", "ana", "Ana", "manual", NOW)[1].model_copy(
        update={"status": "canceled"}
    )
    assert matching_clients(slot(), by_id(ana), {"thu18": {"ana"}}, TEMPLATE, [gone]) == [ana]


def test_a_lock_over_the_spring_forward_lasts_exactly_the_setting() -> None:
    at = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # 00:30 GMT, London
    late = make_slot("s", date(2026, 3, 29), 10 * 60, 11 * 60, "studio", "Europe/London")
    ana = client("ana")
    offer = make_offer(late, ana, "o1", 60, [ana], at)
    assert (offer.expires_at - at).total_seconds() == 3600
    local = offer.expires_at.astimezone(ZoneInfo("Europe/London"))
    assert (local.hour, local.minute, local.tzname()) == (2, 30, "BST")


def test_acceptance_is_decided_by_the_clock_not_by_the_job() -> None:
    ana = client("ana")
    offered = slot().model_copy(update={"offer": make_offer(slot(), ana, "o1", 60, [ana], NOW)})
    expiry = offered.offer.expires_at  # type: ignore[union-attr]
    assert acceptance_problem(offered, "o1", "ana", expiry - timedelta(seconds=1)) is None
    assert "expired" in acceptance_problem(offered, "o1", "ana", expiry + timedelta(seconds=1))  # type: ignore[operator]
    assert "withdrawn" in acceptance_problem(offered, "o1", "ben", NOW)  # type: ignore[operator]
    assert "withdrawn" in acceptance_problem(offered, "o2", "ana", NOW)  # type: ignore[operator]
    taken = offered.model_copy(update={"session_id": "s"})
    assert "booked" in acceptance_problem(taken, "o1", "ana", NOW)  # type: ignore[operator]


@pytest.mark.parametrize(
    ("case", "reason"),
    [("not a match", "Choose one"), ("locked", "already offered"), ("started", "started")],
)
def test_an_offer_is_refused_when_it_cannot_hold(case: str, reason: str) -> None:
    ana, ben = client("ana"), client("ben")
    target, now, matches = slot(), NOW, [ana]
    who = ben if case == "not a match" else ana
    if case == "locked":
        target = target.model_copy(update={"offer": make_offer(target, ana, "o1", 60, [ana], NOW)})
    if case == "started":
        now = target.start_utc
    with pytest.raises(InvalidInput) as refused:
        make_offer(target, who, "o2", 60, matches, now)
    assert reason in refused.value.errors["client_id"]


def test_only_open_future_slots_without_a_live_offer_can_be_offered() -> None:
    from datetime import timedelta

    from chalicelib.domain.offers import can_be_offered

    slot = make_slot("s", date(2026, 11, 25), 18 * 60, 19 * 60, "studio", "Europe/London")
    before = slot.start_utc - timedelta(hours=2)
    assert can_be_offered(slot, before)
    assert not can_be_offered(slot, slot.start_utc)  # started
    assert not can_be_offered(slot.model_copy(update={"session_id": "x"}), before)  # booked
    omar = Client(id="c", name="Omar", phone="+447400123456", created_at=before)
    offer = make_offer(slot, omar, "o1", 60, [omar], before)
    held = slot.model_copy(update={"offer": offer})
    assert not can_be_offered(held, before)
    assert can_be_offered(held, before + timedelta(minutes=61))  # the lock ran out

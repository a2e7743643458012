"""Schedule rules: week keys, dated slots across DST, guards, and the Apply-template plan."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime

import pytest

from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.models import LocationName
from chalicelib.domain.schedule import (
    book,
    guard_instants,
    handled_recurring,
    make_slot,
    parse_day,
    parse_week,
    plan_template_week,
    recurring_booking_skip,
    shift_week,
    week_days,
)
from chalicelib.domain.template import TemplateSlot, WeeklyTemplate

LONDON = "Europe/London"


@pytest.mark.parametrize("text", ["2026-W48", "2026-W53", "2020-W53"])
def test_real_weeks_parse(text: str) -> None:
    assert parse_week(text) == text


@pytest.mark.parametrize("text", ["2026-W60", "2026-W00", "2025-W53", "2026-48", "<b>", ""])
def test_impossible_weeks_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_week(text)
    assert "is not a week" in refused.value.errors["week"]


@pytest.mark.parametrize("text", ["2026-02-30", "26-11-2026", "tomorrow", ""])
def test_impossible_days_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_day(text)


def test_weeks_run_monday_to_sunday_and_shift_across_years() -> None:
    days = week_days("2026-W53")
    assert days[0] == date(2026, 12, 28) and days[-1] == date(2027, 1, 3)
    assert shift_week("2026-W53", 1) == "2027-W01"
    assert shift_week("2027-W01", -1) == "2026-W53"


def test_a_slot_knows_its_utc_instants_and_week() -> None:
    slot = make_slot("s", date(2026, 7, 1), 9 * 60, 10 * 60, "loc", LONDON)
    assert slot.start_utc == datetime(2026, 7, 1, 8, 0, tzinfo=UTC)  # BST
    assert slot.week == "2026-W27"


def test_a_slot_in_the_spring_forward_gap_is_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        make_slot("s", date(2026, 3, 29), 60, 120, "loc", LONDON)
    assert "does not exist" in refused.value.errors["start"]


def test_guards_count_real_half_hours_on_dst_days() -> None:
    spring = make_slot("s", date(2026, 3, 29), 30, 150, "loc", LONDON)  # 00:30-02:30 local
    autumn = make_slot("a", date(2026, 10, 25), 30, 150, "loc", LONDON)
    ordinary = make_slot("o", date(2026, 11, 25), 30, 150, "loc", LONDON)
    assert len(guard_instants(spring)) == 2  # one real hour
    assert len(guard_instants(autumn)) == 6  # three real hours
    assert len(guard_instants(ordinary)) == 4


def test_overlapping_slots_share_a_guard_and_touching_ones_do_not() -> None:
    day = date(2026, 11, 25)
    a = make_slot("a", day, 9 * 60, 10 * 60, "loc", LONDON)
    b = make_slot("b", day, 9 * 60 + 30, 11 * 60, "loc", LONDON)
    c = make_slot("c", day, 10 * 60, 11 * 60, "loc", LONDON)
    assert set(guard_instants(a)) & set(guard_instants(b)) and a.overlaps(b)
    assert not set(guard_instants(a)) & set(guard_instants(c)) and not a.overlaps(c)


def test_a_45_minute_one_off_slot_is_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        make_slot("s", date(2026, 11, 25), 9 * 60, 9 * 60 + 45, "loc", LONDON)
    assert "not 45 min" in refused.value.errors["end"]


def _template(*slots: tuple[int, int, int, str]) -> WeeklyTemplate:
    return WeeklyTemplate(
        slots=tuple(
            TemplateSlot(id=f"t{i}", weekday=w, start=s, end=e, location_id=loc)
            for i, (w, s, e, loc) in enumerate(slots)
        ),
        version=1,
    )


LOCATIONS = {"studio": LocationName(name="Studio"), "old": LocationName(name="Old", archived=True)}
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # Wednesday noon


def _ids():
    counter = itertools.count()
    return lambda: f"n{next(counter)}"


def test_the_plan_adds_future_template_slots_and_says_why_others_are_left_out() -> None:
    template = _template(
        (0, 9 * 60, 10 * 60, "studio"),  # Monday: past
        (2, 11 * 60, 12 * 60, "studio"),  # Wednesday 11:00: past by an hour
        (2, 18 * 60, 19 * 60, "studio"),  # Wednesday evening: added
        (4, 9 * 60, 10 * 60, "old"),  # archived location
        (5, 9 * 60, 10 * 60, "studio"),  # added
    )
    plan = plan_template_week(template, LOCATIONS, "2026-W48", LONDON, NOW, [], _ids())
    assert [s.label for s in plan.add] == [
        "Wednesday 25 Nov 18:00–19:00",
        "Saturday 28 Nov 09:00–10:00",
    ]
    assert {s.template_slot_id for s in plan.add} == {"t2", "t4"}
    reasons = {skip.label: skip.reason for skip in plan.skipped}
    assert reasons["Monday 23 Nov 09:00–10:00"] == "it is in the past"
    assert reasons["Wednesday 25 Nov 11:00–12:00"] == "it is in the past"
    assert reasons["Friday 27 Nov 09:00–10:00"] == "its location is archived or deleted"


def test_applying_twice_adds_nothing_and_overlaps_are_not_added() -> None:
    template = _template((5, 9 * 60, 10 * 60, "studio"), (6, 9 * 60, 10 * 60, "studio"))
    first = plan_template_week(template, LOCATIONS, "2026-W48", LONDON, NOW, [], _ids())
    sunday_clash = make_slot("x", date(2026, 11, 29), 9 * 60 + 30, 11 * 60, "studio", LONDON)
    existing = [first.add[0], sunday_clash]
    second = plan_template_week(template, LOCATIONS, "2026-W48", LONDON, NOW, existing, _ids())
    assert second.add == []
    assert [s.reason for s in second.skipped] == [
        "it is already there",
        "it overlaps a slot already there",
    ]


def test_a_booked_week_still_gets_the_template_slots_that_do_not_clash() -> None:
    # a bundle session on Saturday 09:30: the Saturday 09:00 template slot overlaps it,
    # the Saturday 12:00 one does not. The booking itself is never part of the plan.
    booked = make_slot("b", date(2026, 11, 28), 9 * 60 + 30, 10 * 60 + 30, "studio", LONDON)
    booked = booked.model_copy(update={"session_id": "sess"})
    template = _template((5, 9 * 60, 10 * 60, "studio"), (5, 12 * 60, 13 * 60, "studio"))
    plan = plan_template_week(
        template, LOCATIONS, "2026-W48", LONDON, NOW, [booked], _ids(), {"b": "Ella Brown"}
    )
    assert [s.label for s in plan.add] == ["Saturday 28 Nov 12:00–13:00"]
    assert [(s.label, s.reason) for s in plan.skipped] == [
        ("Saturday 28 Nov 09:00–10:00", "Ella Brown's session is there (09:30–10:30)")
    ]


def test_a_recurring_client_with_a_session_for_the_slot_this_week_is_not_booked_again() -> None:
    template_made = make_slot(
        "s1", date(2026, 11, 28), 9 * 60, 10 * 60, "studio", LONDON, template_slot_id="t0"
    )
    _, session = book(template_made, "sess", "priya", "Priya", "recurring", NOW)
    assert session.template_slot_id == "t0"
    # the session was moved away (its old record stays, status moved), and the old slot
    # is gone: the week still knows Priya's t0 is handled
    moved = session.model_copy(update={"status": "moved"})
    handled = handled_recurring([moved], [])
    assert handled == {"priya": {"t0"}}
    again = template_made.model_copy(update={"id": "s2"})
    assert recurring_booking_skip("Priya", ("studio",), again, handled["priya"]) == (
        "left open: Priya already has this week's session for it"
    )
    assert recurring_booking_skip("Priya", ("studio",), again, set()) is None
    assert recurring_booking_skip("Priya", ("park",), again, set()) == (
        "left open: Priya is not enabled at its location"
    )
    # an older session without the field is traced through its slot, when it is there
    legacy = session.model_copy(update={"template_slot_id": None})
    assert handled_recurring([legacy], [template_made]) == {"priya": {"t0"}}


def test_template_slots_in_the_dst_gap_are_skipped_with_the_reason() -> None:
    template = _template((6, 60, 120, "studio"), (6, 9 * 60, 10 * 60, "studio"))
    plan = plan_template_week(
        template, LOCATIONS, "2026-W13", LONDON, datetime(2026, 3, 23, tzinfo=UTC), [], _ids()
    )
    assert [s.day for s in plan.add] == [date(2026, 3, 29)]
    assert plan.skipped[0].reason == "that time does not exist (clocks go forward)"


def test_the_balance_counts_past_unpaid_booked_sessions_with_a_price_only() -> None:
    from chalicelib.domain.schedule import book, outstanding

    def session(day: int, month: int = 11, **changes):
        slot = make_slot(f"s{day}", date(2026, month, day), 540, 600, "studio", LONDON)
        return book(slot, f"x{day}", "c", "C", "manual", NOW, 4000)[1].model_copy(update=changes)

    later = datetime(2026, 11, 30, tzinfo=UTC)
    sessions = [
        session(24),  # owed
        session(25, paid=True),
        session(26, status="voided"),
        session(27, status="canceled"),
        session(28, price_minor=None),
        session(23),  # owed, older
        session(5, month=12),  # still to come
    ]
    total, owed = outstanding(sessions, later)
    assert total == 8000
    assert [s.day.day for s in owed] == [23, 24]


@pytest.mark.parametrize("text", ["0001-01-01", "9999-12-31", "1999-12-31", "2101-01-01"])
def test_dates_outside_the_calendar_range_are_refused_not_crashed_on(text: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_day(text)
    assert "between 2000 and 2100" in refused.value.errors["day"]


@pytest.mark.parametrize("text", ["0001-W01", "9999-W50", "1999-W52", "2101-W01"])
def test_weeks_outside_the_calendar_range_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_week(text)
    assert refused.value.errors["week"] == "Pick a week between 2000 and 2100."

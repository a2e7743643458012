"""Schedule rules: week keys, dated slots across DST, guards, and the Apply-template plan."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime

import pytest

from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.models import LocationName
from chalicelib.domain.schedule import (
    guard_instants,
    make_slot,
    parse_day,
    parse_week,
    plan_template_week,
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


def test_a_week_with_booked_sessions_is_not_applied() -> None:
    booked = make_slot("b", date(2026, 11, 28), 12 * 60, 13 * 60, "studio", LONDON)
    booked = booked.model_copy(update={"session_id": "sess"})
    template = _template((5, 9 * 60, 10 * 60, "studio"))
    plan = plan_template_week(template, LOCATIONS, "2026-W48", LONDON, NOW, [booked], _ids())
    assert plan.refused == "it already has booked sessions" and plan.add == []


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

"""Time off rules: whole and part days, DST days, bad input, overlaps, Apply's plan."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import count

import pytest

from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.models import Trainer
from chalicelib.domain.schedule import WeekPlan, make_slot
from chalicelib.domain.time_off import (
    MAX_DAYS,
    AddTimeOff,
    TimeOff,
    TimeOffPeriod,
    keep_out_of_time_off,
    make_period,
    overlaps,
)
from chalicelib.repo import mapping
from tests.unit.test_mapping_round_trip import same_model, stored

LONDON = "Europe/London"
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # Monday


def ids():
    numbers = count(1)
    return lambda: f"p{next(numbers)}"


def period(existing: tuple[TimeOffPeriod, ...] = (), now: datetime = NOW, **fields: str):
    form = {"from_day": "", "to_day": "", "from_time": "", "to_time": "", "note": ""}
    form.update(fields)
    return make_period(AddTimeOff.model_validate(form), LONDON, now, existing, ids())


def errors_of(**fields: str) -> dict[str, str]:
    with pytest.raises(InvalidInput) as refused:
        period(**fields)
    return refused.value.errors


def test_a_whole_day_runs_from_local_midnight_to_midnight() -> None:
    day = period(from_day="2026-12-25", note="Christmas")
    assert day.whole_days and day.first_day == day.last_day == date(2026, 12, 25)
    assert day.start_utc == datetime(2026, 12, 25, 0, 0, tzinfo=UTC)  # GMT in winter
    assert day.end_utc == datetime(2026, 12, 26, 0, 0, tzinfo=UTC)
    assert day.title == "Time off: Christmas"
    assert day.label == "Fri 25 Dec 2026"


def test_a_summer_day_is_in_british_summer_time() -> None:
    day = period(from_day="2027-07-01", now=NOW)
    assert day.start_utc == datetime(2027, 6, 30, 23, 0, tzinfo=UTC)
    assert day.end_utc - day.start_utc == timedelta(hours=24)


@pytest.mark.parametrize(
    ("day", "hours"),
    [("2027-03-28", 23), ("2027-10-31", 25)],  # clocks forward, clocks back
)
def test_whole_days_on_dst_days_last_their_real_length(day: str, hours: int) -> None:
    off = period(from_day=day)
    assert off.end_utc - off.start_utc == timedelta(hours=hours)


def test_a_part_of_a_day_and_a_range_with_times() -> None:
    morning = period(from_day="2026-11-26", from_time="09:00", to_time="12:30")
    assert not morning.whole_days
    assert (morning.start_utc.hour, morning.end_utc.hour, morning.end_utc.minute) == (9, 12, 30)
    assert morning.label == "Thu 26 Nov 2026 09:00–12:30"
    assert morning.minutes_on(date(2026, 11, 26)) == (540, 750)
    holiday = period(from_day="2026-12-24", from_time="14:00", to_day="2027-01-03", note="Hols")
    assert holiday.label == "Thu 24 Dec 2026 14:00 – Sun 3 Jan 2027"
    assert holiday.minutes_on(date(2026, 12, 24)) == (840, 1440)
    assert holiday.minutes_on(date(2026, 12, 28)) == (0, 1440)
    assert holiday.end_utc == datetime(2027, 1, 4, 0, 0, tzinfo=UTC)


def test_a_blank_to_day_is_the_same_day_and_the_note_is_one_line() -> None:
    off = period(from_day="2026-11-27", note="  Dentist \n appointment ")
    assert off.last_day == off.first_day and off.note == "Dentist appointment"


def test_time_off_ending_before_it_starts_is_refused_by_field() -> None:
    assert errors_of(from_day="2026-12-10", to_day="2026-12-09") == {
        "last_day": "The time off ends before it starts: check the dates."
    }
    assert errors_of(from_day="2026-12-10", from_time="12:00", to_time="11:00") == {
        "end": "The time off ends before it starts: check the times."
    }


def test_time_off_in_the_past_is_refused() -> None:
    assert errors_of(from_day="2026-11-20") == {
        "first_day": "That day is in the past: time off starts today or later."
    }
    # today, but already over
    assert errors_of(from_day="2026-11-23", to_time="08:00") == {
        "first_day": "That time off is in the past: pick a later date."
    }
    # the rest of today is fine
    assert period(from_day="2026-11-23", from_time="10:00").start_utc.hour == 10


def test_unreadable_fields_are_each_explained() -> None:
    found = errors_of(from_day="2026-02-30", to_day="soon", from_time="9h", to_time="25:00")
    assert set(found) == {"first_day", "last_day", "start", "end"}
    assert "is not a date" in found["first_day"]
    assert errors_of() == {"first_day": "Enter the first day of your time off."}
    assert errors_of(from_day="2026-12-01", note="x" * 61) == {
        "note": "Keep the note to 60 characters."
    }


def test_longer_than_a_year_is_refused() -> None:
    assert errors_of(from_day="2026-12-01", to_day="2027-12-02") == {
        "last_day": f"Time off can last at most {MAX_DAYS} days at once."
    }


def test_a_time_that_does_not_exist_is_refused() -> None:
    found = errors_of(from_day="2027-03-28", from_time="01:30")
    assert "does not exist" in found["start"]


def test_overlapping_an_existing_period_is_refused_touching_is_not() -> None:
    holiday = period(from_day="2026-12-20", to_day="2026-12-27", note="Holiday")
    found = errors_of(existing=(holiday,), from_day="2026-12-27", to_day="2026-12-30")
    assert found == {
        "first_day": "This overlaps your time off Sun 20 Dec 2026 – Sun 27 Dec 2026: "
        "remove that one first."
    }
    after = period((holiday,), from_day="2026-12-28")
    assert not overlaps(holiday, after.start_utc, after.end_utc)
    # a period over does not block a new one
    old = holiday.model_copy(update={"end_utc": NOW - timedelta(hours=1)})
    assert period((old,), from_day="2026-12-21").first_day == date(2026, 12, 21)


def test_overlaps_is_half_open() -> None:
    off = period(from_day="2026-11-26", from_time="09:00", to_time="10:00")
    nine = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    assert overlaps(off, nine - timedelta(minutes=30), nine + timedelta(minutes=1))
    assert not overlaps(off, nine - timedelta(hours=1), nine)
    assert not overlaps(off, nine + timedelta(hours=1), nine + timedelta(hours=2))


def test_the_list_keeps_only_what_is_to_come() -> None:
    first = period(from_day="2026-11-30")
    second = period(from_day="2026-11-24")
    current = TimeOff(periods=(first,), version=1)
    later = NOW + timedelta(days=8)  # the first is over by then
    assert [p.id for p in TimeOff(periods=current.with_period(second, NOW)).upcoming(NOW)] == [
        second.id,
        first.id,
    ]
    assert current.with_period(second, later) == (second,)
    assert current.without(first.id, NOW) == ()


def test_apply_templates_plan_skips_the_slots_in_time_off() -> None:
    holiday = period(from_day="2026-11-26", note="Holiday")
    slots = [
        make_slot(f"s{d}", date(2026, 11, d), 540, 600, "studio", LONDON) for d in (25, 26, 27)
    ]
    plan = keep_out_of_time_off(
        WeekPlan("2026-W48", add=slots), TimeOff(periods=(holiday,), version=1)
    )
    assert [s.id for s in plan.add] == ["s25", "s27"]
    assert [(s.label, s.reason) for s in plan.skipped] == [
        ("Thursday 26 Nov 09:00–10:00", "it is in your time off (Holiday)")
    ]


def test_the_grid_draws_a_labelled_band_within_its_hours_under_the_slots() -> None:
    from chalicelib.domain.settings import TrainerSettings
    from chalicelib.web.grids import schedule_grid

    holiday = period(from_day="2026-11-26", note="Holiday")
    dentist = period((holiday,), from_day="2026-11-27", from_time="10:15", to_time="11:00")
    slot = make_slot("s1", date(2026, 11, 26), 540, 600, "studio", LONDON)
    days = [date(2026, 11, 25), date(2026, 11, 26), date(2026, 11, 27)]
    grid = schedule_grid(
        days, [slot], [], TrainerSettings(), {}, date(2026, 11, 23), time_off=(holiday, dentist)
    )
    wednesday, thursday, friday = grid.days
    assert not [b for b in wednesday.blocks if b.who.startswith("Time off")]
    band, drawn = thursday.blocks
    assert (band.who, band.status, band.times) == ("Time off: Holiday", "Time off", "07:00–21:00")
    assert band.href == "/dashboard/settings/time-off" and drawn.times == "09:00–10:00"
    assert thursday.empty == []  # no "+ add" inside time off
    (part,) = friday.blocks
    assert (part.who, part.times) == ("Time off", "10:00–11:00")  # widened to half hours
    assert grid.times[0] == 7 * 60 and grid.times[-1] == 20 * 60 + 30  # not stretched


# The profile's copy ----------------------------------------------------------------------
def test_the_profile_copy_reads_back_as_written_and_is_absent_on_older_profiles() -> None:
    holiday = period(from_day="2026-12-21", to_day="2027-01-03", note="Holiday")
    dentist = period(from_day="2026-12-02", from_time="09:30", to_time="11:00")
    trainer = Trainer(
        id="t1",
        email="coach@example.com",
        created_at=NOW,
        time_off=TimeOff(periods=(dentist, holiday), version=4),
    )
    read = mapping.trainer_from_item(stored(mapping.trainer_to_item(trainer)))
    same_model(read, trainer)
    assert read.time_off is not None and read.time_off.periods[0].start == 9 * 60 + 30
    older = {k: v for k, v in mapping.trainer_to_item(trainer).items() if k != "time_off"}
    assert mapping.trainer_from_item(stored(older)).time_off is None  # never copied yet
    fresh = Trainer(id="t2", email="new@example.com", created_at=NOW)
    assert mapping.trainer_from_item(stored(mapping.trainer_to_item(fresh))).time_off == TimeOff()

"""The 30-minute grid: clock parsing, formatting, range rules and half-open overlaps; and its
presentation (web.grids): dates for weeks, a word for every kind of block, the focus row."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.grid import (
    GRID_MINUTES,
    MINUTES_PER_DAY,
    WEEKDAYS,
    WEEKDAYS_SHORT,
    ClockError,
    format_clock,
    format_date_range,
    format_duration,
    format_long_date,
    grid_times,
    is_on_grid,
    overlaps,
    parse_clock,
    range_errors,
    schedule_nav,
)
from chalicelib.domain.models import LocationName
from chalicelib.domain.schedule import Offer, Session, Slot, book, make_slot, week_days
from chalicelib.domain.settings import TrainerSettings
from chalicelib.domain.template import TemplateSlot, WeeklyTemplate
from chalicelib.web.grids import Grid, schedule_grid, template_grid

on_grid_starts = st.integers(0, MINUTES_PER_DAY // GRID_MINUTES - 1).map(lambda n: n * GRID_MINUTES)
on_grid_ends = st.integers(1, MINUTES_PER_DAY // GRID_MINUTES).map(lambda n: n * GRID_MINUTES)
off_grid_minutes = st.integers(0, MINUTES_PER_DAY).filter(lambda m: m % GRID_MINUTES != 0)


# --- constants ---------------------------------------------------------------------------


def test_the_grid_is_thirty_minutes_and_a_day_is_1440_minutes():
    assert GRID_MINUTES == 30
    assert MINUTES_PER_DAY == 1440


def test_weekdays_start_on_monday_like_date_weekday():
    assert WEEKDAYS[0] == "Monday"
    assert WEEKDAYS[6] == "Sunday"
    assert [d[:3] for d in WEEKDAYS] == list(WEEKDAYS_SHORT)


# --- parse_clock -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("00:00", 0),
        ("09:00", 540),
        ("09:30", 570),
        ("9:30", 570),
        ("12:45", 765),
        ("23:30", 1410),
        ("23:59", 1439),
        (" 07:00 ", 420),
    ],
)
def test_parse_clock_reads_hours_and_minutes_as_minutes_since_midnight(text, minutes):
    assert parse_clock(text) == minutes


def test_parse_clock_does_not_require_the_grid_itself():
    # Grid checks belong to range_errors, so an off-grid time parses and is refused there.
    assert parse_clock("09:15") == 555


def test_24_00_is_accepted_as_an_end_of_day():
    assert parse_clock("24:00", allow_end_of_day=True) == MINUTES_PER_DAY


def test_24_00_is_refused_as_a_start():
    with pytest.raises(ClockError, match="24:00 can only end a slot"):
        parse_clock("24:00")


def test_24_30_is_not_a_time_even_as_an_end():
    with pytest.raises(ClockError, match="24:30 is not a time of day"):
        parse_clock("24:30", allow_end_of_day=True)


@pytest.mark.parametrize("text", ["09:60", "25:00", "99:99", "10:75"])
def test_out_of_range_clock_values_are_not_a_time_of_day(text):
    with pytest.raises(ClockError, match=f"{text} is not a time of day"):
        parse_clock(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "0930",
        "09.30",
        "09:3",
        "9",
        "09:30:00",
        "090:30",
        "-1:00",
        "ab:cd",
        "09:30am",
        "nine",
        "09 :30",
    ],
)
def test_malformed_clock_text_asks_for_hh_mm(text):
    with pytest.raises(ClockError, match="Enter a time as HH:MM"):
        parse_clock(text)


def test_a_missing_clock_value_asks_for_hh_mm():
    with pytest.raises(ClockError, match="HH:MM"):
        parse_clock(None)  # type: ignore[arg-type]


def test_clock_error_is_a_value_error():
    assert issubclass(ClockError, ValueError)


@given(st.integers(0, MINUTES_PER_DAY - 1))
def test_every_minute_of_the_day_round_trips_through_format_and_parse(minutes):
    assert parse_clock(format_clock(minutes)) == minutes


# --- formatting --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minutes", "text"),
    [(0, "00:00"), (5, "00:05"), (540, "09:00"), (570, "09:30"), (1410, "23:30"), (1440, "24:00")],
)
def test_format_clock_pads_to_hh_mm(minutes, text):
    assert format_clock(minutes) == text


@pytest.mark.parametrize(
    ("minutes", "text"),
    [
        (0, "0 min"),
        (30, "30 min"),
        (45, "45 min"),
        (60, "1 h"),
        (90, "1 h 30 min"),
        (120, "2 h"),
        (150, "2 h 30 min"),
        (1440, "24 h"),
    ],
)
def test_format_duration_uses_hours_and_minutes(minutes, text):
    assert format_duration(minutes) == text


# --- is_on_grid / grid_times -------------------------------------------------------------


@pytest.mark.parametrize("minutes", [0, 30, 60, 540, 570, 1410, 1440])
def test_half_and_whole_hours_are_on_the_grid(minutes):
    assert is_on_grid(minutes)


@pytest.mark.parametrize("minutes", [1, 15, 29, 31, 45, 555, 1439])
def test_other_minutes_are_off_the_grid(minutes):
    assert not is_on_grid(minutes)


def test_grid_times_lists_every_half_hour_from_start_up_to_but_not_including_end():
    assert grid_times(540, 660) == [540, 570, 600, 630]


def test_grid_times_of_the_default_schedule_hours_are_28_cells():
    times = grid_times(7 * 60, 21 * 60)
    assert len(times) == 28
    assert times[0] == 420
    assert times[-1] == 1230


def test_grid_times_rounds_an_off_grid_start_up_to_the_next_grid_time():
    assert grid_times(545, 660) == [570, 600, 630]


def test_grid_times_of_an_empty_range_is_empty():
    assert grid_times(600, 600) == []
    assert grid_times(600, 540) == []


def test_grid_times_of_a_whole_day_is_48_cells():
    assert grid_times(0, MINUTES_PER_DAY) == list(range(0, 1440, 30))


@given(st.integers(0, MINUTES_PER_DAY), st.integers(0, MINUTES_PER_DAY))
def test_grid_times_are_on_the_grid_inside_the_range_and_complete(start, end):
    times = grid_times(start, end)
    assert all(is_on_grid(t) and start <= t < end for t in times)
    assert times == [m for m in range(start, end) if is_on_grid(m)]


# --- range_errors ------------------------------------------------------------------------


def test_a_45_minute_slot_is_refused_with_a_grid_message():
    errors = range_errors(540, 585)  # 09:00-09:45
    assert set(errors) == {"end"}
    assert "09:45" in errors["end"]
    assert "30-minute grid" in errors["end"]
    assert "45 min" in errors["end"]


def test_a_start_off_the_grid_is_refused_with_a_start_message():
    errors = range_errors(555, 600)  # 09:15-10:00
    assert set(errors) == {"start"}
    assert "09:15" in errors["start"]
    assert "30-minute grid" in errors["start"]


def test_both_ends_off_the_grid_report_both_fields():
    errors = range_errors(555, 615)
    assert set(errors) == {"start", "end"}


def test_an_end_before_the_start_is_refused():
    assert range_errors(600, 540) == {"end": "The end must be after the start."}


def test_an_end_equal_to_the_start_is_refused():
    assert range_errors(600, 600) == {"end": "The end must be after the start."}


@pytest.mark.parametrize("length", [30, 60, 90, 120, 150])
def test_slots_of_a_multiple_of_30_minutes_are_fine(length):
    assert range_errors(540, 540 + length) == {}


def test_a_slot_may_end_at_midnight():
    assert range_errors(1410, MINUTES_PER_DAY) == {}


def test_a_slot_may_not_start_at_the_end_of_the_day():
    errors = range_errors(MINUTES_PER_DAY, MINUTES_PER_DAY + 30)
    assert errors["start"] == "A slot must start before midnight."


def test_a_missing_start_or_end_is_not_reported_by_range_errors():
    assert range_errors(None, None) == {}
    assert range_errors(None, 600) == {}
    assert range_errors(540, None) == {}


def test_a_missing_start_still_reports_an_off_grid_end():
    assert set(range_errors(None, 615)) == {"end"}


@given(on_grid_starts, on_grid_ends)
def test_any_on_grid_range_with_end_after_start_has_no_errors(start, end):
    if end > start:
        assert range_errors(start, end) == {}
    else:
        assert set(range_errors(start, end)) == {"end"}


@given(off_grid_minutes, on_grid_ends)
def test_any_off_grid_start_is_an_error(start, end):
    assert "start" in range_errors(start, end)


@given(on_grid_starts, off_grid_minutes)
def test_any_off_grid_end_is_an_error(start, end):
    assert "end" in range_errors(start, end)


@given(st.integers(0, MINUTES_PER_DAY - 1), st.integers(1, MINUTES_PER_DAY))
def test_a_range_is_valid_exactly_when_both_ends_are_on_grid_and_ordered(start, end):
    valid = is_on_grid(start) and is_on_grid(end) and end > start
    assert (range_errors(start, end) == {}) is valid


# --- overlaps ----------------------------------------------------------------------------


def test_touching_slots_do_not_overlap():
    assert not overlaps(540, 600, 600, 660)
    assert not overlaps(600, 660, 540, 600)


def test_a_slot_overlaps_itself():
    assert overlaps(540, 600, 540, 600)


def test_partly_overlapping_slots_overlap():
    assert overlaps(540, 630, 600, 660)
    assert overlaps(600, 660, 540, 630)


def test_a_slot_inside_another_overlaps_it():
    assert overlaps(540, 720, 600, 630)
    assert overlaps(600, 630, 540, 720)


def test_separate_slots_do_not_overlap():
    assert not overlaps(540, 570, 600, 630)


intervals = st.tuples(st.integers(0, 1439), st.integers(1, 1440)).filter(lambda p: p[0] < p[1])


@given(intervals, intervals)
def test_overlap_means_sharing_at_least_one_minute(a, b):
    shared = set(range(*a)) & set(range(*b))
    assert overlaps(*a, *b) is bool(shared)


@given(intervals, intervals)
def test_overlap_is_symmetric(a, b):
    assert overlaps(*a, *b) == overlaps(*b, *a)


# --- dates instead of ISO week codes (the schedule's headings, navigation, Apply) --------

ISO_WEEK_CODE = re.compile(r"\d{4}-W\d{2}|\bW\d{1,2}\b")


def test_a_date_range_names_the_year_once_unless_it_crosses_new_year():
    assert format_date_range(date(2026, 11, 30), date(2026, 12, 6)) == "30 Nov – 6 Dec 2026"
    assert format_date_range(date(2026, 12, 7), date(2026, 12, 13)) == "7 Dec – 13 Dec 2026"
    assert format_date_range(date(2026, 12, 28), date(2027, 1, 3)) == "28 Dec 2026 – 3 Jan 2027"


def test_a_long_date_is_the_day_views_heading():
    assert format_long_date(date(2026, 12, 3)) == "Thursday 3 December 2026"


def test_the_week_navigation_and_apply_choices_are_dates():
    nav = schedule_nav(week_days("2026-W49"), 12)
    assert nav.previous == "Previous week: 23 Nov – 29 Nov 2026"
    assert nav.next == "Next week: 7 Dec – 13 Dec 2026"
    assert nav.apply_from == "Monday 30 November 2026"
    assert nav.apply_choices[:2] == [
        (1, "1 week: 30 Nov – 6 Dec 2026"),
        (2, "2 weeks: 30 Nov – 13 Dec 2026"),
    ]
    # the values stay the number of weeks the Apply handler reads
    assert [n for n, _ in nav.apply_choices] == list(range(1, 13))
    assert nav.apply_choices[-1] == (12, "12 weeks: 30 Nov 2026 – 21 Feb 2027")
    texts = [nav.previous, nav.next, nav.apply_from, *(t for _, t in nav.apply_choices)]
    assert not [t for t in texts if ISO_WEEK_CODE.search(t)]


def test_the_day_navigation_names_days_and_apply_starts_on_that_weeks_monday():
    nav = schedule_nav([date(2026, 12, 3)], 2)
    assert nav.previous == "Previous day: Wednesday 2 December 2026"
    assert nav.next == "Next day: Friday 4 December 2026"
    assert nav.apply_from == "Monday 30 November 2026"
    assert nav.apply_choices == [
        (1, "1 week: 30 Nov – 6 Dec 2026"),
        (2, "2 weeks: 30 Nov – 13 Dec 2026"),
    ]


# --- the schedule grid's blocks: a word for every kind, half-hour blocks, focus row -------

NOW = datetime(2026, 11, 30, 9, 10, tzinfo=UTC)  # Monday 09:10 in London (GMT)
MONDAY = date(2026, 11, 30)
PLACES = {"studio": LocationName(name="Studio")}


def _slot(slot_id: str, start: str, end: str, day: date = MONDAY) -> Slot:
    return make_slot(slot_id, day, parse_clock(start), parse_clock(end), "studio", "Europe/London")


def _week_grid(slots: list[Slot], sessions: list[Session], **kwargs: object) -> Grid:
    days = week_days("2026-W49")
    return schedule_grid(days, slots, sessions, TrainerSettings(), PLACES, MONDAY, **kwargs)


def _kinds_week() -> Grid:
    offer = Offer(id="o1", client_id="c9", client_name="Omar", expires_at=NOW + timedelta(hours=1))
    open_, match = _slot("open", "10:00", "11:00"), _slot("match", "11:00", "11:30")
    locked = _slot("locked", "12:00", "13:00").model_copy(update={"offer": offer})
    taken = [_slot(i, f"{h}:00", f"{h}:30") for i, h in (("rec", 14), ("man", 15), ("chg", 16))]
    sessions = [
        book(taken[0], "s1", "c1", "Priya Shah", "recurring", NOW)[1],
        book(taken[1], "s2", "c2", "Tom Okafor", "manual", NOW)[1],
        book(taken[2], "s3", "c3", "Ella Morgan", "manual", NOW)[1].model_copy(
            update={"changing": True}
        ),
    ]
    booked = [book(s, f"x{i}", "c", "n", "manual", NOW)[0] for i, s in enumerate(taken)]
    return _week_grid(
        [open_, match, locked, *booked], sessions, matched=frozenset({"match"}), now=NOW
    )


def test_every_kind_of_block_says_what_it_is_in_words():
    blocks = {b.kind: b for b in _kinds_week().days[0].blocks}
    assert {kind: b.status for kind, b in blocks.items()} == {
        "open": "Open",
        "match": "Open, last-minute matches",
        "locked": "Offer locked",
        "recurring": "Recurring",
        "booked": "Booked",
        "changing": "Changing",
    }
    assert blocks["locked"].who == "Offered: Omar"
    # the tooltip carries everything, whatever the block's height cuts off
    assert blocks["recurring"].title == "Recurring · 14:00–14:30 · Priya Shah · Studio"


def test_a_half_hour_block_is_compact_and_longer_ones_are_not():
    blocks = {b.kind: b for b in _kinds_week().days[0].blocks}
    assert blocks["recurring"].compact and blocks["match"].compact
    assert not blocks["open"].compact and not blocks["locked"].compact


def test_the_focus_row_is_now_when_today_is_shown_during_the_grids_hours():
    grid = _week_grid([_slot("late", "19:00", "20:00", MONDAY + timedelta(days=2))], [], now=NOW)
    assert grid.times[0] == 7 * 60
    assert grid.focus_row == 5  # 09:10 is in the 09:00 row: 07:00, 07:30, 08:00, 08:30, 09:00


def test_the_focus_row_is_the_first_block_when_now_is_not_on_the_grid():
    late = [_slot("late", "19:00", "20:00", MONDAY + timedelta(days=2))]
    evening = NOW.replace(hour=22)  # after the grid's 21:00 end
    assert _week_grid(late, [], now=evening).focus_row == 25  # 19:00
    next_week = [d + timedelta(weeks=1) for d in week_days("2026-W49")]
    later = schedule_grid(next_week, [], [], TrainerSettings(), PLACES, MONDAY, now=NOW)
    assert later.focus_row is None  # nothing to go to: the grid opens at its top


def test_the_template_grid_focuses_its_first_slot():
    settings = TrainerSettings()
    template = WeeklyTemplate(
        slots=[TemplateSlot(id="t1", weekday=5, start=9 * 60, end=10 * 60, location_id="x")]
    )
    grid = template_grid(template, settings, [])
    assert grid.focus_row == 5
    assert grid.days[5].blocks[0].status == ""  # a template slot is not a booking state

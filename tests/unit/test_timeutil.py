"""Time zones, ISO weeks and local-to-UTC conversion, including the 2026 UK DST changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from chalicelib.domain.timeutil import (
    NonexistentLocalTime,
    all_time_zones,
    interval_to_utc,
    is_valid_time_zone,
    local_today,
    parse_utc_iso,
    to_utc,
    utc_iso,
    week_key,
    week_monday,
    zone,
)

LONDON = "Europe/London"
SPRING_FORWARD = date(2026, 3, 29)
FALL_BACK = date(2026, 10, 25)


def hm(hours: int, minutes: int = 0) -> int:
    return hours * 60 + minutes


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- week keys ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "key"),
    [
        (date(2024, 12, 30), "2025-W01"),
        (date(2027, 1, 1), "2026-W53"),
        (date(2026, 1, 1), "2026-W01"),
        (date(2025, 12, 29), "2026-W01"),
        (date(2026, 3, 29), "2026-W13"),
        (date(2026, 11, 23), "2026-W48"),
    ],
)
def test_week_key_is_the_iso_week(day, key):
    assert week_key(day) == key


def test_a_sunday_belongs_to_the_week_of_the_preceding_monday():
    monday = date(2026, 11, 23)
    sunday = date(2026, 11, 29)
    assert sunday.weekday() == 6
    assert week_key(sunday) == week_key(monday) == "2026-W48"
    assert week_key(sunday + timedelta(days=1)) == "2026-W49"


def test_week_key_pads_the_week_number():
    assert week_key(date(2026, 1, 5)) == "2026-W02"


def test_week_monday_is_the_monday_of_the_key():
    assert week_monday("2025-W01") == date(2024, 12, 30)
    assert week_monday("2026-W53") == date(2026, 12, 28)
    assert week_monday("2026-W48") == date(2026, 11, 23)


@given(st.dates(min_value=date(1900, 1, 8), max_value=date(2200, 12, 24)))
def test_every_date_maps_to_the_monday_of_its_week(day):
    monday = week_monday(week_key(day))
    assert monday.weekday() == 0
    assert monday <= day < monday + timedelta(days=7)
    assert monday == day - timedelta(days=day.weekday())


@given(st.dates(min_value=date(1900, 1, 8), max_value=date(2200, 12, 24)))
def test_week_key_of_a_weeks_monday_round_trips(day):
    key = week_key(day)
    assert week_key(week_monday(key)) == key


@given(st.dates(min_value=date(1900, 1, 8), max_value=date(2200, 12, 24)))
def test_week_keys_sort_in_date_order(day):
    assert week_key(day) < week_key(day + timedelta(days=7))


# --- to_utc on ordinary days -------------------------------------------------------------


def test_a_winter_time_in_london_is_the_same_in_utc():
    assert to_utc(date(2026, 1, 15), hm(9), LONDON) == utc(2026, 1, 15, 9, 0)


def test_a_summer_time_in_london_is_one_hour_ahead_of_utc():
    assert to_utc(date(2026, 7, 15), hm(9), LONDON) == utc(2026, 7, 15, 8, 0)


def test_to_utc_returns_an_aware_utc_datetime():
    result = to_utc(date(2026, 7, 15), hm(9, 30), LONDON)
    assert result.tzinfo is UTC


def test_new_york_is_five_hours_behind_in_winter():
    assert to_utc(date(2026, 1, 15), hm(9), "America/New_York") == utc(2026, 1, 15, 14, 0)


def test_a_morning_in_auckland_is_the_previous_day_in_utc():
    assert to_utc(date(2026, 1, 15), hm(9), "Pacific/Auckland") == utc(2026, 1, 14, 20, 0)


def test_end_of_day_maps_to_the_next_days_midnight():
    assert to_utc(date(2026, 1, 15), 1440, LONDON) == utc(2026, 1, 16, 0, 0)
    assert to_utc(date(2026, 7, 15), 1440, LONDON) == utc(2026, 7, 15, 23, 0)


def test_end_of_day_before_spring_forward_is_that_nights_midnight():
    assert to_utc(date(2026, 3, 28), 1440, LONDON) == utc(2026, 3, 29, 0, 0)


def test_end_of_year_rolls_into_the_next_year():
    assert to_utc(date(2026, 12, 31), 1440, LONDON) == utc(2027, 1, 1, 0, 0)


def test_an_unknown_zone_is_refused():
    with pytest.raises(ValueError, match="Unknown time zone"):
        to_utc(date(2026, 1, 15), hm(9), "Mars/Olympus")


# --- DST: spring forward 2026-03-29 (01:00 GMT -> 02:00 BST) ------------------------------


def test_half_past_midnight_before_spring_forward_is_still_gmt():
    assert to_utc(SPRING_FORWARD, hm(0, 30), LONDON) == utc(2026, 3, 29, 0, 30)


@pytest.mark.parametrize("minutes", [hm(1), hm(1, 30), hm(1, 59)])
def test_local_times_in_the_spring_forward_gap_do_not_exist(minutes):
    with pytest.raises(NonexistentLocalTime) as info:
        to_utc(SPRING_FORWARD, minutes, LONDON)
    assert info.value.day == SPRING_FORWARD
    assert info.value.minutes == minutes


def test_the_nonexistent_time_message_names_the_time_date_and_zone():
    with pytest.raises(NonexistentLocalTime) as info:
        to_utc(SPRING_FORWARD, hm(1, 30), LONDON)
    message = str(info.value)
    assert "01:30" in message
    assert "2026-03-29" in message
    assert LONDON in message
    assert "does not exist" in message


def test_nonexistent_local_time_is_a_value_error():
    assert issubclass(NonexistentLocalTime, ValueError)


def test_two_oclock_after_spring_forward_is_bst():
    assert to_utc(SPRING_FORWARD, hm(2), LONDON) == utc(2026, 3, 29, 1, 0)


def test_a_slot_across_spring_forward_lasts_one_hour_less_than_its_wall_length():
    start, end = interval_to_utc(SPRING_FORWARD, hm(0, 30), hm(2, 30), LONDON)
    assert start == utc(2026, 3, 29, 0, 30)
    assert end - start == timedelta(hours=1)


def test_a_slot_ending_inside_the_gap_is_refused():
    with pytest.raises(NonexistentLocalTime):
        interval_to_utc(SPRING_FORWARD, hm(0, 30), hm(1, 30), LONDON)


def test_the_spring_forward_day_is_23_hours_long():
    start, end = interval_to_utc(SPRING_FORWARD, 0, 1440, LONDON)
    assert end - start == timedelta(hours=23)


def test_the_day_before_spring_forward_has_no_gap():
    assert to_utc(date(2026, 3, 28), hm(1, 30), LONDON) == utc(2026, 3, 28, 1, 30)


# --- DST: fall back 2026-10-25 (02:00 BST -> 01:00 GMT) -----------------------------------


def test_one_oclock_on_fall_back_day_is_the_first_occurrence_in_bst():
    assert to_utc(FALL_BACK, hm(1), LONDON) == utc(2026, 10, 25, 0, 0)


def test_half_past_one_on_fall_back_day_is_the_first_occurrence_in_bst():
    assert to_utc(FALL_BACK, hm(1, 30), LONDON) == utc(2026, 10, 25, 0, 30)


def test_two_oclock_after_fall_back_is_gmt():
    assert to_utc(FALL_BACK, hm(2), LONDON) == utc(2026, 10, 25, 2, 0)


def test_half_past_midnight_on_fall_back_day_is_still_bst():
    assert to_utc(FALL_BACK, hm(0, 30), LONDON) == utc(2026, 10, 24, 23, 30)


def test_a_slot_across_fall_back_lasts_one_hour_more_than_its_wall_length():
    start, end = interval_to_utc(FALL_BACK, hm(0, 30), hm(2, 30), LONDON)
    assert start == utc(2026, 10, 24, 23, 30)
    assert end == utc(2026, 10, 25, 2, 30)
    assert end - start == timedelta(hours=3)


def test_an_ambiguous_half_hour_slot_is_the_first_half_hour():
    start, end = interval_to_utc(FALL_BACK, hm(1), hm(1, 30), LONDON)
    assert (start, end) == (utc(2026, 10, 25, 0, 0), utc(2026, 10, 25, 0, 30))


def test_the_fall_back_day_is_25_hours_long():
    start, end = interval_to_utc(FALL_BACK, 0, 1440, LONDON)
    assert end - start == timedelta(hours=25)


DST_ZONES = [
    LONDON,
    "America/New_York",
    "Australia/Sydney",
    "Australia/Lord_Howe",  # 30-minute DST shift
    "Pacific/Auckland",
    "Asia/Kolkata",
    "America/Sao_Paulo",
]


@given(
    st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31)),
    st.integers(0, 1439),
    st.sampled_from(DST_ZONES),
)
def test_an_existing_local_time_round_trips_to_the_same_wall_clock(day, minutes, zone_name):
    try:
        instant = to_utc(day, minutes, zone_name)
    except NonexistentLocalTime:
        return
    local = instant.astimezone(ZoneInfo(zone_name))
    assert local.date() == day
    assert local.hour * 60 + local.minute == minutes
    # an ambiguous wall time resolves to the first (earlier) occurrence
    assert local.fold == 0


@given(
    st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31)),
    st.integers(0, 1439),
    st.sampled_from(DST_ZONES),
)
def test_a_rejected_local_time_really_is_skipped_by_the_clocks(day, minutes, zone_name):
    try:
        to_utc(day, minutes, zone_name)
    except NonexistentLocalTime:
        tz = ZoneInfo(zone_name)
        naive = datetime(day.year, day.month, day.day, minutes // 60, minutes % 60)
        for fold in (0, 1):
            back = naive.replace(tzinfo=tz, fold=fold).astimezone(UTC).astimezone(tz)
            assert back.replace(tzinfo=None) != naive


@given(
    st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31)),
    st.integers(0, 1439),
    st.integers(1, 1440),
    st.sampled_from(DST_ZONES),
)
def test_a_later_wall_time_is_a_later_instant_on_the_same_day(day, a, b, zone_name):
    assume(a < b)
    try:
        first, second = interval_to_utc(day, a, b, zone_name)
    except NonexistentLocalTime:
        return
    assert first < second


@given(st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31)), st.integers(0, 47))
def test_in_utc_to_utc_is_the_wall_clock_itself(day, cell):
    minutes = cell * 30
    assert to_utc(day, minutes, "UTC") == datetime(
        day.year, day.month, day.day, tzinfo=UTC
    ) + timedelta(minutes=minutes)


# --- local_today -------------------------------------------------------------------------


def test_local_today_just_before_midnight_utc_in_winter():
    now = utc(2026, 1, 15, 23, 30)
    assert local_today(now, LONDON) == date(2026, 1, 15)
    assert local_today(now, "Europe/Paris") == date(2026, 1, 16)
    assert local_today(now, "America/New_York") == date(2026, 1, 15)
    assert local_today(now, "Pacific/Auckland") == date(2026, 1, 16)


def test_local_today_in_london_summer_is_tomorrow_after_23_00_utc():
    assert local_today(utc(2026, 7, 15, 22, 59), LONDON) == date(2026, 7, 15)
    assert local_today(utc(2026, 7, 15, 23, 0), LONDON) == date(2026, 7, 16)


def test_local_today_just_after_midnight_utc_is_still_yesterday_in_new_york():
    now = utc(2026, 1, 16, 0, 30)
    assert local_today(now, "America/New_York") == date(2026, 1, 15)
    assert local_today(now, LONDON) == date(2026, 1, 16)


def test_local_today_accepts_a_non_utc_aware_now():
    now = datetime(2026, 1, 16, 1, 0, tzinfo=ZoneInfo("Europe/Paris"))  # 00:00Z
    assert local_today(now, LONDON) == date(2026, 1, 16)
    assert local_today(now, "America/New_York") == date(2026, 1, 15)


# --- utc_iso -----------------------------------------------------------------------------


def test_utc_iso_is_fixed_width_with_a_z():
    assert utc_iso(utc(2026, 3, 29, 1, 0)) == "2026-03-29T01:00:00Z"


def test_utc_iso_converts_other_zones_to_utc():
    instant = datetime(2026, 7, 15, 9, 0, tzinfo=ZoneInfo(LONDON))
    assert utc_iso(instant) == "2026-07-15T08:00:00Z"


def test_utc_iso_drops_fractions_of_a_second():
    assert utc_iso(datetime(2026, 1, 1, 9, 0, 5, 999_999, tzinfo=UTC)) == "2026-01-01T09:00:05Z"


def test_parse_utc_iso_returns_an_aware_utc_datetime():
    assert parse_utc_iso("2026-10-25T02:00:00Z") == utc(2026, 10, 25, 2, 0)
    assert parse_utc_iso("2026-10-25T02:00:00Z").tzinfo is UTC


@pytest.mark.parametrize(
    "text", ["", "2026-10-25", "2026-10-25T02:00:00", "2026-10-25 02:00:00Z", "garbage"]
)
def test_parse_utc_iso_refuses_other_shapes(text):
    with pytest.raises(ValueError):
        parse_utc_iso(text)


@given(
    st.datetimes(
        min_value=datetime(1000, 1, 1),
        max_value=datetime(9999, 12, 30),
        timezones=st.just(UTC),
    ).map(lambda d: d.replace(microsecond=0))
)
def test_utc_iso_round_trips(instant):
    assert parse_utc_iso(utc_iso(instant)) == instant


def _strptime_reading(text: str) -> datetime | str:
    """What parse_utc_iso did before its fast path: the datetime, or the error's text."""
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError as exc:
        return str(exc)


# Texts laid out like ours (the fast path's shape) with any characters in the fields.
_FIELD_CHARS = st.sampled_from("0123456789 +-:TZ.\u0663")
ours_in_shape = (
    st.tuples(*(st.text(_FIELD_CHARS, min_size=n, max_size=n) for n in (4, 2, 2)))
    .map("-".join)
    .flatmap(
        lambda day: st.tuples(
            *(st.text(_FIELD_CHARS, min_size=2, max_size=2) for _ in range(3))
        ).map(lambda hms: f"{day}T{':'.join(hms)}Z")
    )
)


@given(st.one_of(ours_in_shape, st.text(max_size=24)))
def test_parse_utc_iso_reads_and_refuses_exactly_as_strptime(text):
    try:
        reading: datetime | str = parse_utc_iso(text)
    except ValueError as exc:
        reading = str(exc)
    assert reading == _strptime_reading(text)


@pytest.mark.parametrize(
    "text",
    [
        "2026-02-29T09:00:00Z",
        "2026-11-23T24:00:00Z",
        "2026-11-23T09:60:00Z",
        "0000-01-01T00:00:00Z",
    ],
)
def test_parse_utc_iso_refuses_impossible_instants_as_strptime(text):
    with pytest.raises(ValueError) as refused:
        parse_utc_iso(text)
    assert str(refused.value) == _strptime_reading(text)


def test_parse_utc_iso_reads_the_edges_of_the_calendar():
    assert parse_utc_iso("0001-01-01T00:00:00Z") == utc(1, 1, 1)
    assert parse_utc_iso("9999-12-31T23:59:59Z") == utc(9999, 12, 31, 23, 59, 59)
    assert parse_utc_iso("2028-02-29T12:00:00Z") == utc(2028, 2, 29, 12)


@given(
    st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 30)),
    st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 30)),
)
def test_utc_iso_strings_sort_like_the_instants(a, b):
    a, b = a.replace(tzinfo=UTC, microsecond=0), b.replace(tzinfo=UTC, microsecond=0)
    assert (utc_iso(a) < utc_iso(b)) == (a < b)


# --- time zone names ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["Europe/London", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "UTC"]
)
def test_real_time_zones_are_valid(name):
    assert is_valid_time_zone(name)


@pytest.mark.parametrize(
    "name",
    [
        "Mars/Olympus",
        "",
        "<script>",
        "<script>alert(1)</script>",
        "europe/london",
        " Europe/London",
        "../../etc/passwd",
        "Etc/GMT+5",
    ],
)
def test_made_up_or_odd_time_zone_names_are_invalid(name):
    assert not is_valid_time_zone(name)


def test_the_zone_list_is_sorted_region_slash_city_names():
    zones = all_time_zones()
    assert list(zones) == sorted(zones)
    assert LONDON in zones
    assert all("/" in z and not z.startswith("Etc/") for z in zones)


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "../../etc/passwd"])
def test_zone_refuses_unknown_names_with_a_value_error(name):
    with pytest.raises(ValueError, match="Unknown time zone"):
        zone(name)


def test_zone_returns_the_zoneinfo():
    assert zone(LONDON) == ZoneInfo(LONDON)

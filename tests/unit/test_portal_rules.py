"""domain/portal.py at its edges: the cancel/change deadline to the minute, and the
booking window in the trainer's own calendar weeks (Monday first), in New York and
Auckland, and across DST changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from chalicelib.domain.clients import Client
from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.models import LocationName
from chalicelib.domain.portal import (
    allowed_weeks,
    booking_problem,
    client_cancellation,
    client_move,
    default_rules,
    inside_deadline,
)
from chalicelib.domain.schedule import Offer, Session, Slot
from chalicelib.domain.settings import TrainerSettings
from chalicelib.domain.timeutil import to_utc

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # Monday, week 2026-W48 in London
OUTSIDE_WINDOW = "That week is outside the booking window."
LOCATIONS = {"studio": LocationName(name="Studio")}
CLIENT = Client(
    id="priya", name="Priya Shah", phone="+447400123456", location_ids=("studio",), created_at=NOW
)
MINUTE, HOUR = timedelta(minutes=1), timedelta(hours=1)


def slot_at(day: date, start: int, end: int, zone: str, slot_id: str = "slot") -> Slot:
    """A slot on a trainer-local date from `start` to `end` local minutes (any minute)."""
    return Slot(
        id=slot_id,
        day=day,
        start=start,
        end=end,
        start_utc=to_utc(day, start, zone),
        end_utc=to_utc(day, end, zone),
        location_id="studio",
    )


def session_at(start_utc: datetime, slot_id: str = "slot-a") -> Session:
    return Session(
        id="sess",
        slot_id=slot_id,
        client_id=CLIENT.id,
        client_name=CLIENT.name,
        day=start_utc.date(),
        start=start_utc.hour * 60 + start_utc.minute,
        end=start_utc.hour * 60 + start_utc.minute + 60,
        start_utc=start_utc,
        end_utc=start_utc + HOUR,
        location_id="studio",
        kind="manual",
        created_at=NOW - timedelta(days=7),
    )


def local(zone: str, *fields: int) -> datetime:
    """A trainer-local wall-clock time as a UTC instant (first occurrence)."""
    day = date(*fields[:3])
    return to_utc(day, fields[3] * 60 + fields[4], zone)


# The cancel/change deadline ------------------------------------------------------------
START = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)  # Friday 27 Nov 18:00 GMT


@pytest.mark.parametrize("hours", [36, 24, 48, 1])
@pytest.mark.parametrize(
    ("offset", "inside"),
    [
        (timedelta(0), False),  # exactly `hours` before: still allowed
        (MINUTE, True),  # a minute later: too late
        (-MINUTE, False),
        (HOUR, True),
        (-HOUR, False),
    ],
    ids=["exactly", "one-minute-later", "one-minute-earlier", "one-hour-later", "one-hour-earlier"],
)
def test_the_deadline_starts_exactly_the_setting_hours_before_the_session(
    hours: int, offset: timedelta, inside: bool
) -> None:
    rules = default_rules(TrainerSettings(cancel_deadline_hours=hours))
    now = START - timedelta(hours=hours) + offset
    assert inside_deadline(session_at(START), rules, now) is inside


def test_a_cancel_exactly_36_hours_before_is_accepted_and_a_minute_later_refused() -> None:
    rules = default_rules(TrainerSettings(business_name="Sam Fit"))
    at_deadline = START - timedelta(hours=36)
    canceled = client_cancellation(session_at(START), rules, "Sam Fit", at_deadline)
    assert canceled.status == "canceled"
    with pytest.raises(InvalidInput) as refused:
        client_cancellation(session_at(START), rules, "Sam Fit", at_deadline + MINUTE)
    message = refused.value.errors["deadline"]
    assert "less than 36 hours" in message and "contact Sam Fit" in message


def test_a_change_follows_the_same_deadline_as_a_cancel() -> None:
    rules = default_rules(TrainerSettings(cancel_deadline_hours=24))
    target = slot_at(date(2026, 11, 28), 9 * 60, 10 * 60, "Europe/London", "slot-b")
    at_deadline = START - timedelta(hours=24)
    moved, replacement = client_move(
        session_at(START), target, CLIENT, rules, LOCATIONS, "Sam", "new", at_deadline
    )
    assert moved.status == "moved" and replacement.slot_id == "slot-b"
    with pytest.raises(InvalidInput) as refused:
        client_move(
            session_at(START),
            target,
            CLIENT,
            rules,
            LOCATIONS,
            "Sam",
            "new",
            at_deadline + MINUTE,
        )
    assert "less than 24 hours" in refused.value.errors["deadline"]


def test_a_zero_hour_deadline_lets_a_client_cancel_until_the_start() -> None:
    rules = default_rules(TrainerSettings(cancel_deadline_hours=0))
    assert not inside_deadline(session_at(START), rules, START - MINUTE)
    assert client_cancellation(session_at(START), rules, "Sam", START - MINUTE).is_live is False


def test_the_deadline_counts_real_hours_across_the_clocks_going_back() -> None:
    # Monday 26 Oct 2026 09:00 GMT; the clocks went back on Sunday 25 Oct (BST -> GMT).
    start = local("Europe/London", 2026, 10, 26, 9, 0)
    rules = default_rules(TrainerSettings())
    deadline = datetime(2026, 10, 24, 21, 0, tzinfo=UTC)  # Saturday 22:00 BST: 36 real hours
    assert not inside_deadline(session_at(start), rules, deadline)
    assert inside_deadline(session_at(start), rules, deadline + MINUTE)
    # Saturday 21:30 BST is 36 h before Monday 09:00 on the wall clock, 36.5 h in real time.
    assert not inside_deadline(session_at(start), rules, deadline - 30 * MINUTE)


def test_the_deadline_counts_real_hours_across_the_clocks_going_forward_in_new_york() -> None:
    zone = "America/New_York"  # EST -> EDT at 02:00 on Sunday 8 Mar 2026
    start = local(zone, 2026, 3, 9, 8, 0)  # Monday 08:00 EDT = 12:00 UTC
    rules = default_rules(TrainerSettings(time_zone=zone))
    deadline = start - timedelta(hours=36)  # Saturday 7 Mar 19:00 EST = 00:00 UTC Sunday
    assert deadline == datetime(2026, 3, 8, 0, 0, tzinfo=UTC)
    assert not inside_deadline(session_at(start), rules, deadline)
    assert inside_deadline(session_at(start), rules, deadline + MINUTE)


# The booking window: calendar weeks in the trainer's time zone ------------------------
@pytest.mark.parametrize(
    ("weeks", "expected"),
    [
        (1, ["2026-W48"]),
        (2, ["2026-W48", "2026-W49"]),
        (3, ["2026-W48", "2026-W49", "2026-W50"]),
    ],
)
def test_the_window_is_this_calendar_week_and_the_next_ones(weeks: int, expected: list) -> None:
    rules = default_rules(TrainerSettings(booking_window_weeks=weeks))
    assert allowed_weeks(rules, NOW) == expected


def test_the_window_runs_over_the_new_year_and_a_53_week_year() -> None:
    rules = default_rules(TrainerSettings(booking_window_weeks=3))
    monday = datetime(2026, 12, 28, 9, 0, tzinfo=UTC)  # 2026 has a week 53
    assert allowed_weeks(rules, monday) == ["2026-W53", "2027-W01", "2027-W02"]


@pytest.mark.parametrize(
    ("zone", "last_sunday_minute", "first_monday_minute"),
    [
        # Sunday 29 Nov 23:59 EST is already Monday 04:59 in UTC...
        (
            "America/New_York",
            datetime(2026, 11, 30, 4, 59, tzinfo=UTC),
            datetime(2026, 11, 30, 5, 0, tzinfo=UTC),
        ),
        # ...and Monday 30 Nov 00:00 NZDT is still Sunday 11:00 in UTC.
        (
            "Pacific/Auckland",
            datetime(2026, 11, 29, 10, 59, tzinfo=UTC),
            datetime(2026, 11, 29, 11, 0, tzinfo=UTC),
        ),
    ],
)
def test_the_window_moves_on_at_the_trainers_local_monday_midnight(
    zone: str, last_sunday_minute: datetime, first_monday_minute: datetime
) -> None:
    rules = default_rules(TrainerSettings(time_zone=zone))
    assert allowed_weeks(rules, last_sunday_minute) == ["2026-W48", "2026-W49"]
    assert allowed_weeks(rules, first_monday_minute) == ["2026-W49", "2026-W50"]


@pytest.mark.parametrize("zone", ["America/New_York", "Pacific/Auckland", "Europe/London"])
def test_next_sundays_last_minute_is_inside_a_two_week_window_and_the_monday_after_is_not(
    zone: str,
) -> None:
    rules = default_rules(TrainerSettings(time_zone=zone, booking_window_weeks=2))
    now = local(zone, 2026, 11, 23, 9, 0)  # Monday 09:00 local, week 48
    weeks = allowed_weeks(rules, now)
    next_sunday, monday_after = date(2026, 12, 6), date(2026, 12, 7)
    last_minute = slot_at(next_sunday, 23 * 60 + 59, 24 * 60, zone)
    last_half_hour = slot_at(next_sunday, 23 * 60 + 30, 24 * 60, zone)
    first_minute = slot_at(monday_after, 0, 1, zone)
    first_half_hour = slot_at(monday_after, 0, 30, zone)
    assert booking_problem(last_minute, CLIENT, LOCATIONS, weeks, now) is None
    assert booking_problem(last_half_hour, CLIENT, LOCATIONS, weeks, now) is None
    assert booking_problem(first_minute, CLIENT, LOCATIONS, weeks, now) == OUTSIDE_WINDOW
    assert booking_problem(first_half_hour, CLIENT, LOCATIONS, weeks, now) == OUTSIDE_WINDOW


def test_the_window_edges_hold_across_the_spring_change_in_new_york() -> None:
    zone = "America/New_York"  # EST -> EDT on Sunday 8 Mar 2026
    rules = default_rules(TrainerSettings(time_zone=zone))
    # Sunday 8 Mar 23:59 EDT is 03:59 UTC; under EST it would have been 04:59 UTC.
    assert allowed_weeks(rules, datetime(2026, 3, 9, 3, 59, tzinfo=UTC)) == [
        "2026-W10",
        "2026-W11",
    ]
    # 04:30 UTC is Monday 00:30 EDT (an EST reading would still say Sunday 23:30).
    assert allowed_weeks(rules, datetime(2026, 3, 9, 4, 30, tzinfo=UTC)) == [
        "2026-W11",
        "2026-W12",
    ]
    now = local(zone, 2026, 3, 2, 9, 0)  # Monday 2 Mar, EST: the change is in this week
    weeks = allowed_weeks(rules, now)
    assert weeks == ["2026-W10", "2026-W11"]
    inside = slot_at(date(2026, 3, 15), 23 * 60 + 59, 24 * 60, zone)
    outside = slot_at(date(2026, 3, 16), 0, 1, zone)
    assert booking_problem(inside, CLIENT, LOCATIONS, weeks, now) is None
    assert booking_problem(outside, CLIENT, LOCATIONS, weeks, now) == OUTSIDE_WINDOW


def test_the_window_edges_hold_across_the_autumn_change_in_auckland() -> None:
    zone = "Pacific/Auckland"  # NZDT -> NZST at 03:00 on Sunday 5 Apr 2026
    rules = default_rules(TrainerSettings(time_zone=zone))
    # 11:30 UTC on 5 Apr is Sunday 23:30 NZST (an NZDT reading would say Monday 00:30).
    assert allowed_weeks(rules, datetime(2026, 4, 5, 11, 30, tzinfo=UTC)) == [
        "2026-W14",
        "2026-W15",
    ]
    assert allowed_weeks(rules, datetime(2026, 4, 5, 12, 0, tzinfo=UTC)) == [
        "2026-W15",
        "2026-W16",
    ]
    now = local(zone, 2026, 3, 23, 9, 0)  # Monday 23 Mar, NZDT: next Sunday is the change
    weeks = allowed_weeks(rules, now)
    assert weeks == ["2026-W13", "2026-W14"]
    inside = slot_at(date(2026, 4, 5), 23 * 60 + 59, 24 * 60, zone)  # after the change
    outside = slot_at(date(2026, 4, 6), 0, 1, zone)
    assert booking_problem(inside, CLIENT, LOCATIONS, weeks, now) is None
    assert booking_problem(outside, CLIENT, LOCATIONS, weeks, now) == OUTSIDE_WINDOW


def test_this_weeks_monday_first_minute_is_inside_until_it_has_passed() -> None:
    zone = "Pacific/Auckland"
    rules = default_rules(TrainerSettings(time_zone=zone))
    monday = slot_at(date(2026, 11, 30), 0, 30, zone)  # Monday 30 Nov 00:00 NZDT
    before = monday.start_utc - MINUTE  # Sunday 23:59 local: next week, still in the window
    weeks = allowed_weeks(rules, before)
    assert booking_problem(monday, CLIENT, LOCATIONS, weeks, before) is None
    at_start = monday.start_utc
    weeks = allowed_weeks(rules, at_start)
    assert booking_problem(monday, CLIENT, LOCATIONS, weeks, at_start) == (
        "That time has passed. Pick a later one."
    )


# What else booking_problem refuses, at its edges ----------------------------------------
def test_a_slot_starting_now_is_refused_and_one_a_minute_later_is_not() -> None:
    rules = default_rules(TrainerSettings())
    weeks = allowed_weeks(rules, NOW)
    starting_now = slot_at(date(2026, 11, 23), 9 * 60, 10 * 60, "Europe/London")
    assert booking_problem(starting_now, CLIENT, LOCATIONS, weeks, NOW) == (
        "That time has passed. Pick a later one."
    )
    assert booking_problem(starting_now, CLIENT, LOCATIONS, weeks, NOW - MINUTE) is None


def test_an_offer_holds_the_slot_until_its_last_second_and_frees_it_at_expiry() -> None:
    rules = default_rules(TrainerSettings())
    weeks = allowed_weeks(rules, NOW)
    open_slot = slot_at(date(2026, 11, 25), 18 * 60, 19 * 60, "Europe/London")
    until = NOW + HOUR
    held = open_slot.model_copy(
        update={"offer": Offer(id="o", client_id="ben", client_name="Ben", expires_at=until)}
    )
    assert "held for someone else" in str(
        booking_problem(held, CLIENT, LOCATIONS, weeks, until - timedelta(seconds=1))
    )
    assert booking_problem(held, CLIENT, LOCATIONS, weeks, until) is None


def test_a_disabled_or_archived_location_cannot_be_booked() -> None:
    weeks = allowed_weeks(default_rules(TrainerSettings()), NOW)
    slot = slot_at(date(2026, 11, 25), 18 * 60, 19 * 60, "Europe/London")
    archived = {"studio": LocationName(name="Studio", archived=True)}
    elsewhere = CLIENT.model_copy(update={"location_ids": ("park",)})
    place = "That place is not one you can book at."
    assert booking_problem(slot, CLIENT, archived, weeks, NOW) == place
    assert booking_problem(slot, elsewhere, LOCATIONS, weeks, NOW) == place

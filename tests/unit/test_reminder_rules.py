"""When a reminder is due and whether it still goes (domain/reminders.py), DST included."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from chalicelib.domain.reminders import (
    DAY_BEFORE,
    HOURS_BEFORE,
    ReminderStep,
    first_stage,
    lead_label,
    parse_choice,
    reminder_step,
)
from chalicelib.domain.timeutil import to_utc, zone

START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
BOOKED = START - timedelta(days=7)


def step_at(
    now: datetime, choice: str = "both", *, booked_at: datetime = BOOKED, wanted: bool = True
) -> ReminderStep:
    return reminder_step(START, booked_at, now, choice, wanted=wanted)


def test_the_first_stage_is_a_day_before_and_the_next_two_hours_before() -> None:
    assert first_stage(START) == START - timedelta(hours=24)
    day = step_at(START - DAY_BEFORE)
    assert day.send == DAY_BEFORE and day.next_at == START - HOURS_BEFORE
    hours = step_at(START - HOURS_BEFORE)
    assert hours.send == HOURS_BEFORE and hours.next_at is None


@pytest.mark.parametrize(
    ("choice", "day_sent", "hours_sent"),
    [("off", False, False), ("24h", True, False), ("2h", False, True), ("both", True, True)],
)
def test_the_setting_decides_which_go_but_every_stage_is_visited(
    choice: str, day_sent: bool, hours_sent: bool
) -> None:
    day = step_at(START - DAY_BEFORE, choice)
    hours = step_at(START - HOURS_BEFORE, choice)
    assert (day.send is not None, hours.send is not None) == (day_sent, hours_sent)
    # Visited whatever the choice: a setting changed later applies from the next stage.
    assert day.next_at == START - HOURS_BEFORE and hours.next_at is None


def test_a_client_who_wants_none_gets_none_and_the_session_still_moves_on() -> None:
    step = step_at(START - DAY_BEFORE, wanted=False)
    assert step.send is None and step.next_at == START - HOURS_BEFORE
    assert step.why_not == "no reminders for this client"


def test_not_sent_when_booked_after_it_was_due() -> None:
    late_booking = START - timedelta(hours=20)
    step = step_at(START - timedelta(hours=19), booked_at=late_booking)
    assert step.send is None and step.why_not == "booked after the reminder was due"
    # ...but the 2 h one still goes: it was booked well before that one was due.
    assert step_at(START - HOURS_BEFORE, booked_at=late_booking).send == HOURS_BEFORE
    # Booked at the very moment it was due: the confirmation has just told them.
    assert step_at(START - DAY_BEFORE, booked_at=START - DAY_BEFORE).send is None


def test_not_sent_with_less_than_half_the_lead_left() -> None:
    assert step_at(START - timedelta(hours=12, minutes=1)).send == DAY_BEFORE
    too_late = step_at(START - timedelta(hours=11, minutes=59))
    assert too_late.send is None and too_late.why_not.startswith("too late")
    assert too_late.next_at == START - HOURS_BEFORE
    assert step_at(START - timedelta(minutes=61)).send == HOURS_BEFORE
    assert step_at(START - timedelta(minutes=59)).send is None


def test_a_missed_stage_stays_missed_and_a_started_session_is_done() -> None:
    # The job was down through the 24 h window: at the 2 h stage only the 2 h one goes.
    assert step_at(START - timedelta(hours=1, minutes=30)).send == HOURS_BEFORE
    started = step_at(START)
    assert started.send is None and started.next_at is None
    assert step_at(START + timedelta(days=3)).next_at is None


def test_before_the_first_stage_nothing_is_due_yet() -> None:
    early = step_at(START - timedelta(days=2))
    assert early.send is None and early.next_at == START - DAY_BEFORE


def test_choices_and_labels() -> None:
    assert [parse_choice(c) for c in ("off", "24h", "2h", "both")] == ["off", "24h", "2h", "both"]
    assert parse_choice("12h") is None and parse_choice("") is None
    assert lead_label(DAY_BEFORE) == "24h" and lead_label(HOURS_BEFORE) == "2h"


@pytest.mark.parametrize(
    ("zone_name", "day"),
    [
        ("Europe/London", date(2026, 3, 29)),  # clocks go forward at 01:00 GMT
        ("Europe/London", date(2026, 10, 25)),  # and back at 02:00 BST
        ("America/New_York", date(2026, 3, 8)),  # forward at 02:00 EST
        ("America/New_York", date(2026, 11, 1)),  # back at 02:00 EDT
    ],
)
def test_a_24_hour_reminder_is_24_real_hours_before_across_a_clock_change(
    zone_name: str, day: date
) -> None:
    """A 09:00 session on the morning after the clocks change: its 24 h reminder is due 24
    real hours before, so the wall clock the day before reads an hour off 09:00."""
    start = to_utc(day, 9 * 60, zone_name)
    due = first_stage(start)
    assert start - due == timedelta(hours=24)
    local_due = due.astimezone(zone(zone_name))
    assert local_due.date() == day - timedelta(days=1)
    spring = day.month == 3
    assert local_due.hour == (8 if spring else 10)  # an hour lost overnight, or gained
    step = reminder_step(start, start - timedelta(days=7), due, "both")
    assert step.send == DAY_BEFORE and step.next_at == start - HOURS_BEFORE
    # One real minute before it is due, nothing goes yet.
    assert (
        reminder_step(start, start - timedelta(days=7), due - timedelta(minutes=1), "both").send
        is None
    )

"""Skip a week / pause (issue 15 item 2): the pure rules, dates from Monday 23 Nov 2026."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.skips import (
    MAX_SKIPS,
    ClientSkips,
    Pause,
    SkippedDate,
    add_date,
    add_pause,
    date_key,
    dates_to_cancel,
    is_skipped,
    remove,
    skip_reason,
    upcoming,
)

TODAY = date(2026, 11, 23)  # a Monday
WEDNESDAY = date(2026, 12, 2)
LABEL = "Wed 18:00–19:00"
NONE = ClientSkips()


def _skip(skips: ClientSkips = NONE, day: date = WEDNESDAY) -> ClientSkips:
    return add_date(skips, "t1", 2, LABEL, day, TODAY)


def test_a_skipped_date_is_skipped_for_its_slot_only() -> None:
    skips = _skip()
    assert is_skipped(skips, "t1", WEDNESDAY)
    assert not is_skipped(skips, "t2", WEDNESDAY)
    assert not is_skipped(skips, "t1", WEDNESDAY + timedelta(days=7))
    assert skip_reason(skips, "Priya", "t1", WEDNESDAY) == "Priya skipped this date"
    assert skip_reason(skips, "Priya", "t1", WEDNESDAY + timedelta(days=7)) is None


def test_a_pause_covers_every_recurring_slot_from_its_first_to_its_last_day() -> None:
    skips = add_pause(ClientSkips(), date(2026, 12, 1), date(2026, 12, 14), TODAY)
    assert all(
        is_skipped(skips, t, d)
        for t in ("t1", "t2")
        for d in (date(2026, 12, 1), date(2026, 12, 14))
    )
    assert not is_skipped(skips, "t1", date(2026, 11, 30))
    assert not is_skipped(skips, "t1", date(2026, 12, 15))
    assert (
        skip_reason(skips, "Priya", "t1", date(2026, 12, 9))
        == "Priya skipped (paused until 14 Dec)"
    )


def test_a_pause_whose_end_is_before_its_start_is_refused_with_a_clear_message() -> None:
    with pytest.raises(InvalidInput) as refused:
        add_pause(ClientSkips(), date(2026, 12, 14), date(2026, 12, 1), TODAY)
    assert refused.value.errors == {
        "last_day": "The pause ends (1 Dec) before it starts (14 Dec): "
        "choose a last day on or after the first."
    }


@pytest.mark.parametrize(
    ("first", "last", "errors"),
    [
        (
            None,
            None,
            {
                "first_day": "Choose the first day of the pause.",
                "last_day": "Choose the last day of the pause.",
            },
        ),
        (
            date(2026, 11, 20),
            date(2026, 11, 30),
            {"first_day": "20 Nov is in the past: start the pause today or later."},
        ),
        (
            TODAY,
            TODAY + timedelta(days=400),
            {"last_day": "Keep a pause to a year or less: untick the recurring slot instead."},
        ),
    ],
)
def test_other_bad_pauses(first: date | None, last: date | None, errors: dict[str, str]) -> None:
    with pytest.raises(InvalidInput) as refused:
        add_pause(ClientSkips(), first, last, TODAY)
    assert refused.value.errors == errors


def test_a_one_day_pause_today_is_fine() -> None:
    assert add_pause(ClientSkips(), TODAY, TODAY, TODAY).pauses == (
        Pause(first_day=TODAY, last_day=TODAY),
    )


@pytest.mark.parametrize(
    ("day", "message"),
    [
        (None, "Choose the date to skip."),
        (date(2026, 12, 3), "3 Dec is a Thursday: Wed 18:00–19:00 is not on it."),
        (date(2026, 11, 18), "18 Nov is in the past: choose a coming date."),
    ],
)
def test_a_bad_date_to_skip_is_refused(day: date | None, message: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        add_date(ClientSkips(), "t1", 2, LABEL, day, TODAY)
    assert refused.value.errors == {"day": message}


def test_skipping_twice_is_unchanged_and_past_ones_are_dropped_on_each_write() -> None:
    once = _skip()
    assert _skip(once) == once
    old = ClientSkips(
        dates=(SkippedDate(template_slot_id="t1", day=date(2026, 11, 18)),),
        pauses=(Pause(first_day=date(2026, 11, 1), last_day=date(2026, 11, 10)),),
    )
    assert upcoming(old, TODAY) == ClientSkips()
    assert _skip(old) == once


def test_skips_are_bounded() -> None:
    skips = ClientSkips()
    for week in range(MAX_SKIPS):
        skips = _skip(skips, WEDNESDAY + timedelta(weeks=week))
    with pytest.raises(InvalidInput) as refused:
        _skip(skips, WEDNESDAY + timedelta(weeks=MAX_SKIPS))
    assert refused.value.errors == {"day": f"A client can have at most {MAX_SKIPS} skipped dates."}


def test_resume_removes_one_and_a_second_resume_changes_nothing() -> None:
    skips = add_pause(_skip(), date(2026, 12, 7), date(2026, 12, 20), TODAY)
    key = date_key(skips.dates[0])
    assert key == "t1@2026-12-02"
    without = remove(skips, "date", key, TODAY)
    assert without.dates == () and without.pauses == skips.pauses
    assert remove(without, "date", key, TODAY) == without
    assert remove(without, "pause", "2026-12-07..2026-12-20", TODAY) == ClientSkips()
    with pytest.raises(InvalidInput):
        remove(skips, "other", key, TODAY)


def test_only_what_is_new_is_canceled() -> None:
    before = _skip()
    after = add_pause(before, date(2026, 12, 7), date(2026, 12, 20), TODAY)
    assert dates_to_cancel(before, after) == ((None, date(2026, 12, 7), date(2026, 12, 20)),)
    assert dates_to_cancel(ClientSkips(), before) == (("t1", WEDNESDAY, WEDNESDAY),)
    assert dates_to_cancel(after, before) == ()

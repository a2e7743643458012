"""Keep the template applied (issue 15 item 3): the setting's rules, when the weekly run
falls (across DST), which weeks a run applies and the Activity feed's words."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.schedule import WeekPlan, make_slot
from chalicelib.domain.settings import (
    SaveSettings,
    auto_apply_summary,
    auto_apply_weeks,
    next_auto_apply_run,
    parse_settings,
)
from chalicelib.domain.time_off import TimeOff, TimeOffPeriod, keep_out_of_time_off
from chalicelib.services.auto_apply import TIME_OFF_REASON
from tests.unit.test_settings import valid_form


def _parse(**fields: str) -> int | None:
    return parse_settings(SaveSettings.model_validate(valid_form(**fields))).auto_apply_weeks


def test_off_by_default_and_on_with_a_number_of_weeks() -> None:
    assert _parse() is None  # a form from before the setting (the service keeps the current)
    assert _parse(auto_apply="off", auto_apply_weeks="5") is None  # a number left while off
    assert _parse(auto_apply="on", auto_apply_weeks="1") == 1
    assert _parse(auto_apply="on", auto_apply_weeks=" 12 ") == 12


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("0", "between 1 and 12"),
        ("13", "between 1 and 12"),
        ("abc", "must be a whole number"),
        ("", "must be a whole number"),
        ("-2", "cannot be negative"),
    ],
)
def test_a_bad_number_of_weeks_is_refused_in_words(typed: str, message: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        _parse(auto_apply="on", auto_apply_weeks=typed)
    assert message in refused.value.errors["auto_apply_weeks"]


def test_an_unknown_choice_is_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        _parse(auto_apply="sometimes", auto_apply_weeks="3")
    assert refused.value.errors["auto_apply"] == "Choose on or off."


def _at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_the_next_run_is_monday_two_in_the_morning_local_time() -> None:
    # Wed 25 Nov 2026, London on GMT: next Monday 30 Nov 02:00 GMT.
    assert next_auto_apply_run(_at(2026, 11, 25, 14), "Europe/London") == _at(2026, 11, 30, 2)
    # Strictly after: at the run's own instant, the next one is a week later.
    assert next_auto_apply_run(_at(2026, 11, 30, 2), "Europe/London") == _at(2026, 12, 7, 2)
    # Monday 01:00 is before that Monday's run.
    assert next_auto_apply_run(_at(2026, 11, 30, 1), "Europe/London") == _at(2026, 11, 30, 2)


def test_the_run_keeps_its_wall_time_across_the_dst_changes() -> None:
    # London springs forward on Sun 29 Mar 2026: Mon 23 Mar 02:00 GMT, Mon 30 Mar 02:00 BST.
    london = "Europe/London"
    assert next_auto_apply_run(_at(2026, 3, 22, 12), london) == _at(2026, 3, 23, 2)
    assert next_auto_apply_run(_at(2026, 3, 23, 2), london) == _at(2026, 3, 30, 1)
    # and falls back on Sun 25 Oct 2026: Mon 26 Oct 02:00 GMT again.
    assert next_auto_apply_run(_at(2026, 10, 19, 1), london) == _at(2026, 10, 26, 2)
    # New York: Mon 9 Mar 2026 02:00 EDT (the change was the Sunday before).
    assert next_auto_apply_run(_at(2026, 3, 3, 7), "America/New_York") == _at(2026, 3, 9, 6)
    # A zone ahead of UTC: Monday 02:00 in Sydney is Sunday afternoon in UTC.
    assert next_auto_apply_run(_at(2026, 11, 25), "Australia/Sydney") == _at(2026, 11, 29, 15)


def test_a_run_applies_this_week_through_n_weeks_ahead_then_only_the_new_week() -> None:
    assert auto_apply_weeks("2026-W48", None, 2) == ["2026-W48", "2026-W49", "2026-W50"]
    # The next Monday: W49–W50 were applied already, so only W51 is new (a slot the
    # trainer removed by hand from W50 is not put back).
    assert auto_apply_weeks("2026-W49", "2026-W50", 2) == ["2026-W51"]
    # Fewer weeks ahead than already applied: nothing new.
    assert auto_apply_weeks("2026-W49", "2026-W52", 1) == []
    # A run missed for weeks starts again from this week, not from the old watermark.
    assert auto_apply_weeks("2027-W02", "2026-W50", 1) == ["2027-W02", "2027-W03"]
    assert len(auto_apply_weeks("2026-W48", None, 12)) == 13  # applied in two calls


def test_the_feed_line_says_what_the_run_did() -> None:
    weeks = ["2026-W49", "2026-W50", "2026-W51", "2026-W52"]
    assert auto_apply_summary(weeks, 12, 3, 2, 0) == (
        "Template applied automatically to W49–W52: 12 slots added, "
        "3 recurring clients booked, 2 skipped (time off)"
    )
    assert auto_apply_summary(["2026-W49"], 1, 1, 0, 2) == (
        "Template applied automatically to W49: 1 slot added, 1 recurring client booked, "
        "0 skipped (time off), 2 skipped (something else is there)"
    )
    assert auto_apply_summary(["2026-W49", "2026-W50"], 2, 0, 0, 0, left_open=1) == (
        "Template applied automatically to W49–W50: 2 slots added, 0 recurring clients "
        "booked, 0 skipped (time off), 1 recurring slot left open"
    )
    assert auto_apply_summary(["2026-W52", "2026-W53", "2027-W01"], 0, 0, 0, 0).startswith(
        "Template applied automatically to 2026-W52–2027-W01:"
    )


def test_time_off_skips_are_counted_by_the_words_time_off_gives_them() -> None:
    # The summary tells time off apart by its reason: this pins the wording it relies on.
    slot = make_slot("s1", date(2026, 12, 2), 600, 660, "loc", "Europe/London")
    period = TimeOffPeriod(
        id="p1",
        first_day=date(2026, 12, 1),
        last_day=date(2026, 12, 3),
        start_utc=_at(2026, 12, 1),
        end_utc=_at(2026, 12, 4),
        note="Holiday",
    )
    plan = keep_out_of_time_off(WeekPlan("2026-W49", [slot]), TimeOff(periods=(period,)))
    assert plan.add == [] and plan.skipped[0].reason.startswith(TIME_OFF_REASON)

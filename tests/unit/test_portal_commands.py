"""The portal's commands: what each form parses into, and the words a bad one gets.

Parsing only checks shape; the portal's own rules (week, window, picked slot) say what is
wrong with a well-formed pick, in the words the client reads.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.portal import (
    GONE,
    NOT_LISTED,
    OUTSIDE_WINDOW,
    BookSlot,
    CancelSession,
    ChangeSession,
    SaveOptins,
    SetOptin,
    chosen_week,
    default_rules,
    picked_slot,
)
from chalicelib.domain.schedule import make_slot
from chalicelib.domain.settings import TrainerSettings
from chalicelib.web import forms

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # Monday of 2026-W48, GMT


# BookSlot ---------------------------------------------------------------------------------
def test_a_booking_form_parses_into_the_picked_week_and_slot() -> None:
    form = {"csrf_token": "t" * 43, "week": " 2026-W48 ", "slot_id": "abc", "colour": "red"}
    command = forms.command(BookSlot, form)
    assert command == BookSlot(week="2026-W48", slot_id="abc")
    assert set(command.model_dump()) == {"week", "slot_id"}  # csrf and extras dropped


def test_an_empty_booking_form_still_parses_and_the_rule_refuses_it() -> None:
    command = forms.command(BookSlot, {})
    with pytest.raises(InvalidInput) as refused:
        chosen_week(command.week, default_rules(TrainerSettings()), NOW)
    assert refused.value.errors == {"_form": NOT_LISTED}


@pytest.mark.parametrize(
    ("week", "errors"),
    [
        ("<script>", {"_form": NOT_LISTED}),
        ("2026-W60", {"_form": NOT_LISTED}),
        ("2026-W47", {"_form": OUTSIDE_WINDOW}),  # last week
        ("2026-W50", {"_form": OUTSIDE_WINDOW}),  # the default window is two weeks
    ],
)
def test_a_picked_week_outside_the_window_or_not_a_week_is_refused(
    week: str, errors: dict[str, str]
) -> None:
    with pytest.raises(InvalidInput) as refused:
        chosen_week(week, default_rules(TrainerSettings()), NOW)
    assert refused.value.errors == errors


def test_the_window_counts_weeks_in_the_trainers_zone() -> None:
    # Sunday 29 Nov 23:30 in London is already Monday 30 Nov (W49) in Auckland.
    late_sunday = datetime(2026, 11, 29, 23, 30, tzinfo=UTC)
    london = default_rules(TrainerSettings())
    auckland = default_rules(TrainerSettings(time_zone="Pacific/Auckland"))
    assert chosen_week("2026-W48", london, late_sunday) == "2026-W48"
    with pytest.raises(InvalidInput):
        chosen_week("2026-W48", auckland, late_sunday)
    assert chosen_week("2026-W50", auckland, late_sunday) == "2026-W50"


def test_a_slot_id_not_in_its_week_is_gone() -> None:
    slot = make_slot("s1", NOW.date(), 18 * 60, 19 * 60, "studio", "Europe/London")
    assert picked_slot([slot], "s1") is slot
    with pytest.raises(InvalidInput) as refused:
        picked_slot([slot], "s2")
    assert refused.value.errors == {"_form": GONE}


# CancelSession and ChangeSession --------------------------------------------------------------
def test_a_cancel_form_carries_the_version_it_was_drawn_from() -> None:
    command = forms.command(CancelSession, {"csrf_token": "x", "version": "3", "action": "cancel"})
    assert command == CancelSession(version=3)
    assert set(command.model_dump()) == {"version"}


@pytest.mark.parametrize("version", ["", "  ", "abc", "3.5", "²", "-1"])
def test_a_blank_or_garbled_version_is_a_stale_page_not_a_field_error(version: str) -> None:
    # None: the version check refuses it ("This page was out of date"), as before commands.
    assert forms.command(CancelSession, {"version": version}).version is None
    assert forms.command(ChangeSession, {"version": version}).version is None
    assert forms.command(CancelSession, {}).version is None


def test_a_change_form_carries_the_pick_and_the_version() -> None:
    form = {"csrf_token": "x", "week": "2026-W49", "slot_id": "s9", "version": "2", "x": "1"}
    command = forms.command(ChangeSession, form)
    assert command == ChangeSession(week="2026-W49", slot_id="s9", version=2)
    assert set(command.model_dump()) == {"week", "slot_id", "version"}


# Opt-ins --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("sent", "on"), [({"on": "yes"}, True), ({"on": "no"}, False), ({}, False)]
)
def test_one_tick_is_the_time_and_whether_it_is_on(sent: dict[str, str], on: bool) -> None:
    command = forms.command(SetOptin, {"csrf_token": "x", "template_slot_id": "t1", **sent})
    assert command == SetOptin(template_slot_id="t1", on=on)
    assert set(command.model_dump()) == {"template_slot_id", "on"}


def test_a_tick_without_its_time_or_with_a_garbled_state_is_refused_by_field() -> None:
    with pytest.raises(InvalidInput) as missing:
        forms.command(SetOptin, {"on": "yes"})
    assert missing.value.errors == {"template_slot_id": forms.DEFAULT_MESSAGE}
    with pytest.raises(InvalidInput) as garbled:
        forms.command(SetOptin, {"template_slot_id": "t1", "on": "maybe"})
    assert garbled.value.errors == {"on": forms.DEFAULT_MESSAGE}


def test_the_form_without_javascript_sends_every_tick_under_one_name() -> None:
    form = {"csrf_token": "x", "optin": "t2", "other": "y"}
    command = forms.command(SaveOptins, form, lists={"optin": ["t1", "t2"]})
    assert command.template_slot_ids == ["t1", "t2"]
    assert set(command.model_dump()) == {"template_slot_ids"}
    assert forms.command(SaveOptins, {}).template_slot_ids == []  # nothing ticked
    # an error about the ticks is put beside the form's own input
    assert forms.errors(SaveOptins, InvalidInput({"template_slot_ids": "No."})) == {"optin": "No."}

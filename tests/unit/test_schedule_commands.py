"""The Schedule tab's forms as commands: what each parses into, the message of each field
that does not parse, extra fields and the CSRF token left out, and the rules' errors
(named for the command's fields) mapped back to the form's inputs."""

from __future__ import annotations

from datetime import date

import pytest

from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.models import LocationName
from chalicelib.domain.schedule import (
    WEEKS_AT_ONCE,
    AddSlot,
    ApplyTemplate,
    parse_one_off,
    shift_week,
    weeks_to_apply,
)
from chalicelib.services.schedule import MoveSession, SlotAction
from chalicelib.web import forms

NOISE = {"csrf_token": "secret-token", "utm_source": "newsletter"}
LOCATIONS = {"studio": LocationName(name="Studio"), "old": LocationName(name="Old", archived=True)}
ONE_OFF = {"day": "2026-11-26", "start": "09:00", "end": "10:30", "location_id": "studio"}


def refused(model: type, form: dict[str, str], **context: object) -> dict[str, str]:
    with pytest.raises(InvalidInput) as caught:
        forms.command(model, form, **context)
    return caught.value.errors


def leaves_out_the_noise(command: object) -> None:
    dumped = command.model_dump()  # type: ignore[attr-defined]
    assert "csrf_token" not in dumped and "utm_source" not in dumped


def one_off_errors(**typed: str) -> dict[str, str]:
    with pytest.raises(InvalidInput) as caught:
        parse_one_off(forms.command(AddSlot, {**ONE_OFF, **typed}), LOCATIONS)
    return caught.value.errors


# + Add a one-off slot ----------------------------------------------------------------------
def test_a_one_off_slot_form_is_kept_as_typed_and_trimmed() -> None:
    command = forms.command(AddSlot, {**ONE_OFF, "location_id": " studio ", **NOISE})
    assert command == AddSlot(day="2026-11-26", start="09:00", end="10:30", location_id="studio")
    leaves_out_the_noise(command)
    day = date(2026, 11, 26)
    assert parse_one_off(command, LOCATIONS) == (day, 9 * 60, 10 * 60 + 30, "studio")


def test_a_one_off_slot_form_never_fails_to_parse_its_rules_say_what_is_wrong() -> None:
    assert forms.command(AddSlot, {}) == AddSlot()
    assert one_off_errors(day="2026-02-30")["day"] == (
        "“2026-02-30” is not a date. Use the form 2026-11-26."
    )
    assert one_off_errors(day="1999-12-31")["day"] == "Pick a date between 2000 and 2100."
    assert one_off_errors(start="9h")["start"] == "Enter a time as HH:MM, for example 09:30."
    assert one_off_errors(end="25:00")["end"] == "25:00 is not a time of day."
    for location in ("", "old", "someone-elses"):
        assert one_off_errors(location_id=location) == {
            "location_id": "Pick one of your active locations."
        }


def test_every_bad_field_of_a_one_off_slot_is_reported_at_once() -> None:
    errors = one_off_errors(day="tomorrow", start="", end="", location_id="")
    assert set(errors) == {"day", "start", "end", "location_id"}
    assert forms.errors(AddSlot, InvalidInput(errors)) == errors  # fields are the inputs


# Apply template ----------------------------------------------------------------------------
def test_apply_template_takes_the_week_shown_and_a_number_of_weeks() -> None:
    command = forms.command(ApplyTemplate, {"week": " 2026-W48 ", "weeks": "3", **NOISE})
    assert command == ApplyTemplate(week="2026-W48", weeks=3)
    leaves_out_the_noise(command)
    assert forms.command(ApplyTemplate, {"week": "2026-W48", "weeks": ""}).weeks == 1
    assert forms.command(ApplyTemplate, {"week": "2026-W48"}).weeks == 1


@pytest.mark.parametrize("weeks", ["two", "²", "-1", "+2", "2.0", "1e1"])
def test_a_number_of_weeks_that_is_not_digits_is_refused_in_the_rules_words(weeks: str) -> None:
    assert refused(ApplyTemplate, {"week": "2026-W48", "weeks": weeks}) == {
        "weeks": "Apply to 1 to 12 weeks at a time."
    }
    assert WEEKS_AT_ONCE == "Apply to 1 to 12 weeks at a time."


@pytest.mark.parametrize(
    ("week", "weeks", "field", "message"),
    [
        ("2026-W60", 1, "week", "“2026-W60” is not a week. Use the form 2026-W48."),
        ("9999-W50", 12, "week", "Pick a week between 2000 and 2100."),
        ("2026-W48", 0, "weeks", "Apply to 1 to 12 weeks at a time."),
        ("2026-W48", 13, "weeks", "Apply to 1 to 12 weeks at a time."),
        ("2100-W50", 12, "week", "Those weeks are too far ahead: pick a nearer week."),
        ("2026-W40", 2, "week", "Those weeks are over: pick this week or a later one."),
        ("2028-W50", 1, "week", "Apply template reaches at most 104 weeks ahead."),
    ],
)
def test_the_weeks_to_apply_are_all_checked_before_anything_is_written(
    week: str, weeks: int, field: str, message: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        weeks_to_apply(week, weeks, "2026-W48")
    assert caught.value.errors == {field: message}


def test_the_weeks_to_apply_run_on_across_new_year_and_may_end_this_week() -> None:
    assert weeks_to_apply("2026-W52", 3, "2026-W48") == ["2026-W52", "2026-W53", "2027-W01"]
    assert weeks_to_apply("2026-W47", 2, "2026-W48") == ["2026-W47", "2026-W48"]
    furthest = shift_week("2026-W48", 104)
    assert weeks_to_apply(furthest, 1, "2026-W48") == [furthest]
    with pytest.raises(InvalidInput):
        weeks_to_apply(shift_week(furthest, 1), 1, "2026-W48")


# The open-slot page ------------------------------------------------------------------------
@pytest.mark.parametrize("action", ["remove", "allocate", "offer", "withdraw", "location"])
def test_a_slot_action_is_the_button_its_fields_and_the_slot_from_the_url(action: str) -> None:
    form = {"action": action, "version": "3", "client_id": " c1 ", "location_id": "park"}
    command = forms.command(SlotAction, {**form, **NOISE}, week="2026-W48", slot_id="s1")
    assert command == SlotAction(
        week="2026-W48",
        slot_id="s1",
        action=action,  # type: ignore[arg-type]
        version=3,
        client_id="c1",
        location_id="park",
    )
    leaves_out_the_noise(command)


def test_a_slot_action_takes_the_slot_from_the_url_never_the_form() -> None:
    form = {"action": "remove", "version": "1", "week": "2030-W01", "slot_id": "theirs"}
    command = forms.command(SlotAction, form, week="2026-W48", slot_id="mine")
    assert (command.week, command.slot_id) == ("2026-W48", "mine")


@pytest.mark.parametrize("action", ["", "publish", "REMOVE"])
def test_an_unknown_slot_action_is_refused_on_its_field(action: str) -> None:
    assert refused(SlotAction, {"action": action, "version": "1"}, week="w", slot_id="s") == {
        "action": "Unknown action."
    }


@pytest.mark.parametrize("version", ["", "abc", "1e3"])
def test_a_slot_action_with_a_garbled_version_is_a_stale_page(version: str) -> None:
    command = forms.command(
        SlotAction, {"action": "remove", "version": version}, week="w", slot_id="s"
    )
    assert command.version is None  # the version check refuses it (409), not a field error


def test_a_slot_actions_rule_errors_go_back_to_their_inputs() -> None:
    errors = InvalidInput({"client_id": "Choose a client.", "_form": "Nothing was moved."})
    assert forms.errors(SlotAction, errors) == {
        "client_id": "Choose a client.",
        "_form": "Nothing was moved.",
    }


# Move here ---------------------------------------------------------------------------------
def test_a_move_is_the_session_ref_its_version_and_the_slot_picked() -> None:
    form = {
        "session": "2026-W48.20261125T180000Z.abcdefgh",
        "version": "2",
        "week": "2026-W48",
        "slot_id": "s9",
        **NOISE,
    }
    command = forms.command(MoveSession, form)
    assert command == MoveSession(
        session_ref="2026-W48.20261125T180000Z.abcdefgh", version=2, week="2026-W48", slot_id="s9"
    )
    leaves_out_the_noise(command)
    assert MoveSession.form_name("session_ref") == "session"
    assert forms.command(MoveSession, {}) == MoveSession()  # the rules refuse what is missing

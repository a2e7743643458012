"""The Settings forms as commands: the settings form, a new location, a location's buttons,
a template slot and its removal. What each form parses into, the message of each field
that does not parse, extra fields and the CSRF token left out, and the rules' errors
(named for the command's fields) mapped back to the form's inputs."""

from __future__ import annotations

import pytest

from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.models import Location
from chalicelib.domain.settings import SaveSettings, parse_settings
from chalicelib.domain.template import RemoveSlot, SaveSlot, SlotDraft, WeeklyTemplate, parse_slot
from chalicelib.services.account import AddLocation, ChangeLocation
from chalicelib.web import forms
from tests.unit.test_settings import valid_form

NOISE = {"csrf_token": "secret-token", "utm_source": "newsletter"}


def refused(model: type, form: dict[str, str], **context: object) -> dict[str, str]:
    with pytest.raises(InvalidInput) as caught:
        forms.command(model, form, **context)
    return caught.value.errors


def rules_refuse(call, model: type) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """What the page shows beside each input when the rules refuse the command."""
    with pytest.raises(InvalidInput) as caught:
        call()
    return forms.errors(model, caught.value)


def leaves_out_the_noise(command: object) -> None:
    dumped = command.model_dump()  # type: ignore[attr-defined]
    assert "csrf_token" not in dumped and "utm_source" not in dumped


# Settings -------------------------------------------------------------------------------
def test_the_settings_form_is_kept_as_typed_with_its_version() -> None:
    command = forms.command(SaveSettings, {**valid_form(), "version": "4", **NOISE})
    assert command.version == 4
    assert (command.time_zone, command.day_start, command.sort_code) == (
        "Europe/London",
        "07:00",
        "12-34-56",
    )
    assert command.bank_scheme == ""  # a form from before formats: read as UK details
    leaves_out_the_noise(command)
    assert parse_settings(command).payment.scheme == "uk"


def test_a_settings_form_without_a_readable_version_is_a_stale_page_not_an_error() -> None:
    for version in ("", "two", "-1"):
        assert forms.command(SaveSettings, {**valid_form(), "version": version}).version is None
    assert forms.command(SaveSettings, valid_form()).version is None


def test_every_settings_field_is_text_so_every_problem_is_told_at_once() -> None:
    command = forms.command(
        SaveSettings,
        valid_form(default_view="month", cancel_deadline_hours="-5", offer_lock_minutes="x"),
    )
    assert rules_refuse(lambda: parse_settings(command), SaveSettings) == {
        "default_view": "Choose day or week.",
        "cancel_deadline_hours": (
            "The cancel/change deadline cannot be negative: use a whole number between 0 and 336."
        ),
        "offer_lock_minutes": "The last-minute lock must be a whole number.",
    }


def test_settings_values_are_trimmed_before_the_rules_read_them() -> None:
    command = forms.command(SaveSettings, valid_form(time_zone="  Europe/Paris ", country=" fr"))
    settings = parse_settings(command)
    assert (settings.time_zone, settings.country) == ("Europe/Paris", "FR")


# Locations ------------------------------------------------------------------------------
def test_a_new_location_is_its_name() -> None:
    command = forms.command(AddLocation, {"name": " Riverside Studio ", **NOISE})
    assert command == AddLocation(name="Riverside Studio")
    leaves_out_the_noise(command)
    assert forms.command(AddLocation, {}) == AddLocation(name="")


def test_the_location_name_rules_speak_of_the_name_input() -> None:
    error = InvalidInput({"name": "You already have a location called “Studio”."})
    assert forms.errors(AddLocation, error) == {
        "name": "You already have a location called “Studio”."
    }
    assert forms.errors(ChangeLocation, error) == {
        "name": "You already have a location called “Studio”."
    }


@pytest.mark.parametrize("action", ["rename", "archive", "restore", "delete"])
def test_a_location_change_is_its_button_version_and_the_location_from_the_url(
    action: str,
) -> None:
    form = {"action": action, "version": "3", "name": "Park", **NOISE}
    command = forms.command(ChangeLocation, form, location_id="loc1")
    assert (command.location_id, command.action, command.version) == ("loc1", action, 3)
    assert command.name == "Park"
    leaves_out_the_noise(command)


@pytest.mark.parametrize("form", [{"action": "burn", "version": "1"}, {"version": "1"}])
def test_an_unknown_location_button_is_refused_on_the_action(form: dict[str, str]) -> None:
    assert refused(ChangeLocation, form, location_id="loc1") == {"action": "Unknown action."}


# Template slots -------------------------------------------------------------------------
STUDIO = Location(id="loc-studio", name="Studio")
SLOT_FORM = {"weekday": "2", "start": "09:30", "end": "11:00", "location_id": STUDIO.id}


def test_a_slot_form_is_its_fields_as_typed_and_the_version() -> None:
    command = forms.command(SaveSlot, {**SLOT_FORM, "weekday": " 2 ", "version": "0", **NOISE})
    assert command == SaveSlot(**SLOT_FORM, version=0, slot_id=None)
    leaves_out_the_noise(command)
    assert parse_slot(command) == SlotDraft(weekday=2, start=570, end=660, location_id=STUDIO.id)


def test_a_changed_slot_names_the_slot_from_the_url() -> None:
    command = forms.command(SaveSlot, {**SLOT_FORM, "version": "5"}, slot_id="s1")
    assert (command.slot_id, command.version) == ("s1", 5)


def test_the_slot_rules_speak_of_the_slot_forms_inputs() -> None:
    command = forms.command(SaveSlot, {"weekday": "9", "start": "9", "end": "", "version": "1"})
    assert set(rules_refuse(lambda: parse_slot(command), SaveSlot)) == {
        "weekday",
        "start",
        "end",
        "location_id",
    }
    overlap = SlotDraft(weekday=2, start=600, end=660, location_id=STUDIO.id)
    template = WeeklyTemplate().with_slot("a", parse_slot(SaveSlot(**SLOT_FORM)), [STUDIO])
    errors = rules_refuse(lambda: template.with_slot("b", overlap, [STUDIO]), SaveSlot)
    assert errors == {
        "start": "This overlaps 09:30–11:00 on Wednesday. Slots on the same day cannot overlap."
    }


def test_removing_a_slot_is_the_slot_from_the_url_and_the_version() -> None:
    command = forms.command(RemoveSlot, {"action": "remove", "version": "7", **NOISE}, slot_id="s1")
    assert command == RemoveSlot(slot_id="s1", version=7)
    leaves_out_the_noise(command)
    assert forms.command(RemoveSlot, {"version": "x"}, slot_id="s1").version is None

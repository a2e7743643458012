"""The Clients tab's forms as commands: a new client, the profile, its buttons (archive,
restore, rotate, send the link) and the Copy button. What each form parses into, the
message of each field that does not parse, extra fields and the CSRF token left out, and
the rules' errors (named for the command's fields) mapped back to the form's inputs."""

from __future__ import annotations

import pytest

from chalicelib.domain.clients import AddClient, SaveProfile, parse_contact, parse_profile
from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.models import Location
from chalicelib.services.clients import ClientAction, LinkCopied, SendPortalLink
from chalicelib.web import forms

NOISE = {"csrf_token": "secret-token", "utm_source": "newsletter"}
CONTACT = {"name": "Priya Shah", "phone": "07400 123456", "email": "", "price": "45.50"}
STUDIO = Location(id="loc-studio", name="Studio")


def refused(model: type, form: dict[str, str], **context: object) -> dict[str, str]:
    with pytest.raises(InvalidInput) as caught:
        forms.command(model, form, **context)
    return caught.value.errors


def leaves_out_the_noise(command: object) -> None:
    dumped = command.model_dump()  # type: ignore[attr-defined]
    assert "csrf_token" not in dumped and "utm_source" not in dumped


# A new client ---------------------------------------------------------------------------
def test_a_new_client_is_the_contact_details_as_typed() -> None:
    command = forms.command(AddClient, {**CONTACT, "name": "  Priya  Shah ", **NOISE})
    assert command == AddClient(**{**CONTACT, "name": "Priya  Shah"})  # the rule joins words
    leaves_out_the_noise(command)
    contact = parse_contact(command, "GB", "GBP")
    assert (contact.name, contact.phone, contact.price_minor) == (
        "Priya Shah",
        "+447400123456",
        4550,
    )
    assert forms.command(AddClient, {}) == AddClient(name="", phone="", email="", price="")


def test_every_contact_problem_is_told_beside_its_input() -> None:
    command = forms.command(AddClient, {"name": " ", "phone": "1", "email": "x", "price": "-1"})
    with pytest.raises(InvalidInput) as caught:
        parse_contact(command, "GB", "GBP")
    errors = forms.errors(AddClient, caught.value)
    assert set(errors) == {"name", "phone", "email", "price"}
    assert errors["name"] == "Enter the client's name."


# The profile ------------------------------------------------------------------------------
def test_the_profile_is_its_inputs_ticked_boxes_version_and_the_client_from_the_url() -> None:
    form = {**CONTACT, "shared_notes": " Bring a towel. ", "version": "3", "action": "save"}
    lists = {"location_ids": ["loc-studio"], "recurring": ["wed", "fri"]}
    command = forms.command(SaveProfile, {**form, **NOISE}, lists=lists, client_id="c1")
    assert (command.client_id, command.version) == ("c1", 3)
    assert (command.location_ids, command.recurring) == (("loc-studio",), ("wed", "fri"))
    assert command.shared_notes == "Bring a towel."
    leaves_out_the_noise(command)
    _contact, locations, shared, private = parse_profile(command, "GB", "GBP", [STUDIO])
    assert (locations, shared, private) == (("loc-studio",), "Bring a towel.", "")


def test_a_profile_with_no_box_ticked_has_none() -> None:
    command = forms.command(
        SaveProfile, CONTACT, lists={"location_ids": [], "recurring": []}, client_id="c1"
    )
    assert (command.location_ids, command.recurring, command.version) == ((), (), None)


def test_the_profile_rules_speak_of_the_profile_forms_inputs() -> None:
    command = forms.command(
        SaveProfile,
        {**CONTACT, "private_notes": "x" * 2001},
        lists={"location_ids": ["gone"]},
        client_id="c1",
    )
    with pytest.raises(InvalidInput) as caught:
        parse_profile(command, "GB", "GBP", [STUDIO])
    assert forms.errors(SaveProfile, caught.value) == {
        "location_ids": "One of the chosen locations does not exist any more.",
        "private_notes": "Keep notes to 2000 characters or fewer.",
    }


def test_a_profile_form_needs_the_client_from_the_url() -> None:
    assert refused(SaveProfile, CONTACT) == {"client_id": "Check this value."}


# The profile's buttons ----------------------------------------------------------------------
@pytest.mark.parametrize("action", ["archive", "restore", "rotate"])
def test_a_client_button_is_the_action_and_the_version(action: str) -> None:
    command = forms.command(
        ClientAction, {"action": action, "version": "2", **NOISE}, client_id="c1"
    )
    assert command == ClientAction(client_id="c1", action=action, version=2)  # type: ignore[arg-type]
    leaves_out_the_noise(command)


def test_an_unknown_client_button_is_refused_on_the_action() -> None:
    assert refused(ClientAction, {"action": "delete", "version": "2"}, client_id="c1") == {
        "action": "Unknown action."
    }


def test_sending_the_portal_link_carries_the_send_id_made_with_the_page() -> None:
    form = {"action": "send_link", "version": "2", "send_id": " abcdefghijkl ", **NOISE}
    command = forms.command(SendPortalLink, form, client_id="c1")
    assert command == SendPortalLink(client_id="c1", send_id="abcdefghijkl")
    leaves_out_the_noise(command)
    assert forms.command(SendPortalLink, {}, client_id="c1").send_id == ""  # refused by the rule
    error = InvalidInput({"_form": "This form has expired. Reload the page and try again."})
    assert forms.errors(SendPortalLink, error) == error.errors


def test_the_copy_button_is_the_link_generation_the_page_showed() -> None:
    command = forms.command(LinkCopied, {"generation": "2", **NOISE}, client_id="c1")
    assert command == LinkCopied(client_id="c1", generation=2)
    leaves_out_the_noise(command)
    # Anything else is a link the page did not show: the rule refuses it as replaced.
    for garbled in ("", "two", "-1", "²"):
        assert forms.command(LinkCopied, {"generation": garbled}, client_id="c1").generation is None
    assert forms.command(LinkCopied, {}, client_id="c1").generation is None

"""The sign-in forms as commands: the address, and the confirm page's link and name."""

from __future__ import annotations

from chalicelib.domain.errors import InvalidInput
from chalicelib.services.auth import ConfirmSignIn, RequestSignIn
from chalicelib.web import forms


def test_the_sign_in_form_is_the_address_as_typed_less_its_spaces() -> None:
    command = forms.command(
        RequestSignIn, {"csrf_token": "x", "email": " Coach@Example.com ", "a": "1"}
    )
    assert command == RequestSignIn(email="Coach@Example.com")  # normalised by parse_email
    assert set(command.model_dump()) == {"email"}
    assert forms.command(RequestSignIn, {}).email == ""  # "Enter an email address." later


def test_the_confirm_form_tells_a_name_not_asked_from_a_blank_one() -> None:
    token = "t" * 43
    asked = forms.command(ConfirmSignIn, {"csrf_token": "x", "token": token, "business_name": "  "})
    assert asked == ConfirmSignIn(token=token, business_name="")  # refused by the name rule
    not_asked = forms.command(ConfirmSignIn, {"token": token, "other": "y"})
    assert not_asked.business_name is None  # the page did not ask: the account has a name
    assert set(not_asked.model_dump()) == {"token", "business_name"}


def test_errors_are_keyed_by_the_forms_own_inputs() -> None:
    exc = InvalidInput({"business_name": "Keep the name to 80 characters or fewer."})
    assert forms.errors(ConfirmSignIn, exc) == exc.errors
    assert forms.errors(RequestSignIn, InvalidInput({"email": "No."})) == {"email": "No."}

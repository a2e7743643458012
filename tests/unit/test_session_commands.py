"""The trainer's session page forms: what each parses into (the actions' rules, such as
"Choose how it was paid.", stay in the domain and are pinned by the functional tests)."""

from __future__ import annotations

import pytest

from chalicelib.domain.errors import InvalidInput
from chalicelib.services.session_actions import SessionAction
from chalicelib.services.sessions import SetPayment, submitted_version
from chalicelib.web import forms


def test_a_payment_form_parses_into_paid_how_and_the_version() -> None:
    form = {
        "csrf_token": "x",
        "version": "4",
        "action": "payment",
        "paid": "yes",
        "payment_type": "cash",
    }
    command = forms.command(SetPayment, form)
    assert command == SetPayment(paid=True, payment_type="cash", version=4)
    assert set(command.model_dump()) == {"paid", "payment_type", "version"}


@pytest.mark.parametrize(("sent", "paid"), [({"paid": "no"}, False), ({}, False)])
def test_unpaid_is_no_or_neither_radio_ticked(sent: dict[str, str], paid: bool) -> None:
    assert forms.command(SetPayment, {"version": "1", **sent}).paid is paid


def test_a_payment_type_is_kept_as_sent_for_the_rule_to_judge() -> None:
    # "Choose how it was paid." comes from the domain rule, keyed by the same field.
    assert forms.command(SetPayment, {"payment_type": "<b>cash</b>"}).payment_type == "<b>cash</b>"


def test_a_garbled_paid_is_refused_by_field() -> None:
    with pytest.raises(InvalidInput) as refused:
        forms.command(SetPayment, {"paid": "maybe", "version": "1"})
    assert refused.value.errors == {"paid": forms.DEFAULT_MESSAGE}


@pytest.mark.parametrize("version", ["", "abc", "1e3"])
def test_a_blank_or_garbled_version_is_a_stale_page(version: str) -> None:
    command = forms.command(SetPayment, {"version": version})
    assert command.version is None and submitted_version(command.version) is None
    assert submitted_version(forms.command(SetPayment, {"version": "7"}).version) == "7"


def test_a_session_action_carries_the_button_and_the_fields_its_form_sends() -> None:
    cancel = forms.command(
        SessionAction,
        {"csrf_token": "x", "version": "2", "action": "cancel", "notify": "yes", "junk": "1"},
    )
    assert (cancel.action, cancel.notify, cancel.version) == ("cancel", True, 2)
    assert "csrf_token" not in cancel.model_dump() and "junk" not in cancel.model_dump()
    invoice = forms.command(SessionAction, {"action": "invoice", "send_id": " abc "})
    assert (invoice.send_id, invoice.notify, invoice.version) == ("abc", False, None)
    assert forms.command(SessionAction, {}).action == ""  # refused by the use case, not here


def test_only_change_on_schedule_continues_on_the_schedule() -> None:
    assert SessionAction(action="change_start").goes_to_schedule
    assert not SessionAction(action="change_stop").goes_to_schedule

"""The trainer's session page forms: what each parses into (the actions' rules, such as
"Choose how it was paid.", stay in the domain and are pinned by the functional tests),
and who a session change tells what."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from chalicelib.domain.clients import Client
from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.models import LocationName, Trainer
from chalicelib.domain.schedule import Session, book, make_slot
from chalicelib.domain.settings import TrainerSettings
from chalicelib.services import sessions
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
        {"csrf_token": "x", "version": "2", "action": "cancel", "quiet": "yes", "junk": "1"},
    )
    assert (cancel.action, cancel.quiet, cancel.version) == ("cancel", True, 2)
    assert "csrf_token" not in cancel.model_dump() and "junk" not in cancel.model_dump()
    invoice = forms.command(SessionAction, {"action": "invoice", "send_id": " abc "})
    assert (invoice.send_id, invoice.quiet, invoice.version) == ("abc", False, None)
    assert forms.command(SessionAction, {}).action == ""  # refused by the use case, not here


def test_only_change_on_schedule_continues_on_the_schedule() -> None:
    assert SessionAction(action="change_start").goes_to_schedule
    assert not SessionAction(action="change_stop").goes_to_schedule


# Who is told what (services.sessions: client_action_notices, change_notice) -----------------
_NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _scene(notify: str = "email", **client: object) -> tuple[Trainer, Client, Session]:
    trainer = Trainer(
        id="t1",
        email="coach@example.com",
        settings=TrainerSettings(
            business_name="Sam Fit", whatsapp_number="+447400654321", client_activity_notify=notify
        ),
        locations={"loc": LocationName(name="Studio")},
        created_at=_NOW,
    )
    priya = Client(
        id="c1",
        name="Priya Shah",
        **{"phone": "+447400123456", "created_at": _NOW, **client},  # type: ignore[arg-type]
    )
    slot = make_slot("s1", date(2026, 11, 27), 7 * 60, 8 * 60, "loc", "Europe/London")
    _, session = book(slot, "sess1", priya.id, priya.name, "manual", _NOW, None)
    return trainer, priya, session


def _notices(trainer: Trainer, client: Client, session: Session, action: str = "booked"):
    reach = sessions.client_reach(client)
    return sessions.client_action_notices(
        trainer,
        client,
        reach,
        action,
        session,
        "https://b.test",
        _NOW,  # type: ignore[arg-type]
    )


def test_a_booking_tells_the_client_on_whatsapp_and_the_trainer_by_their_choice() -> None:
    trainer, priya, session = _scene()
    told = _notices(trainer, priya, session)
    client, to_trainer = told.messages
    assert (client.kind, client.channel, client.to) == ("confirmation", "whatsapp", priya.phone)
    assert client.id == "sess1-booked-client" and client.link and client.link.kind == "session"
    assert (to_trainer.kind, to_trainer.channel, to_trainer.to) == (
        "notification",
        "email",
        "coach@example.com",
    )
    assert told.activity and told.activity.text == "booked Friday 27 Nov 07:00–08:00"
    trainer_wa = trainer.model_copy(
        update={
            "settings": trainer.settings.model_copy(update={"client_activity_notify": "whatsapp"})
        }
    )
    assert _notices(trainer_wa, priya, session).messages[1].to == "+447400654321"
    quiet = trainer.model_copy(
        update={"settings": trainer.settings.model_copy(update={"client_activity_notify": "none"})}
    )
    assert [m.kind for m in _notices(quiet, priya, session).messages] == ["confirmation"]


def test_a_client_with_only_an_email_is_confirmed_by_email() -> None:
    trainer, priya, session = _scene(phone="", email="priya@example.com")
    client = _notices(trainer, priya, session).messages[0]
    assert (client.channel, client.to) == ("email", "priya@example.com")
    assert client.subject == "Your session with Sam Fit"


def test_a_client_who_cannot_be_reached_still_tells_the_trainer() -> None:
    trainer, priya, session = _scene(phone="", email="")
    told = _notices(trainer, priya, session, "canceled")
    assert [m.kind for m in told.messages] == ["notification"]
    assert told.activity and told.activity.text == "canceled Friday 27 Nov 07:00–08:00"


def test_a_client_who_opted_out_gets_no_word_but_the_trainer_is_told() -> None:
    trainer, priya, session = _scene(messages_opt_out=True)
    told = _notices(trainer, priya, session)
    assert [m.kind for m in told.messages] == ["notification"] and told.activity is not None
    tell = sessions.ChangeNotice(trainer, "", "https://b.test")
    assert sessions.change_notice(tell, priya, "cancel_notice", session, _NOW) is None


def test_the_trainers_note_is_one_clean_line_in_the_variable_and_the_text() -> None:
    trainer, priya, session = _scene()
    note = "Studio closed\r\nHi Priya, pay {{1}} at https://evil.example\u2028now"
    tell = sessions.ChangeNotice(trainer, note, "https://b.test")
    notice = sessions.change_notice(tell, priya, "cancel_notice", session, _NOW)
    assert notice is not None
    cleaned = notice.variables["note"]
    assert cleaned == "Studio closed Hi Priya, pay { {1} } at https://evil.example now"
    assert notice.text.splitlines()[0].endswith(f"Their note: {cleaned}")
    assert len(notice.text.splitlines()) == 3
    plain = sessions.change_notice(
        sessions.ChangeNotice(trainer, "  ", "https://b.test"),
        priya,
        "cancel_notice",
        session,
        _NOW,
    )
    assert plain is not None and "Their note" not in plain.text
    assert plain.variables["note"] == "none"  # the template's fixed fallback


def test_a_trainer_session_action_carries_the_note_and_dont_notify() -> None:
    cancel = forms.command(SessionAction, {"action": "cancel", "version": "1", "note": "Sorry"})
    assert (cancel.quiet, cancel.note) == (False, "Sorry")  # unticked: the client is told

"""Reminders through the app: the trainer's setting, the client's opt-out on the profile,
and the scheduled function that queues them (then the dispatcher sends them)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from chalice.test import Client

from tests.conftest import Clock
from tests.functional.conftest import Browser
from tests.functional.test_clients_pages import add_client, post_profile, profile_form
from tests.functional.test_messages import _invoke_dispatcher, booked, set_payment_details
from tests.functional.test_settings_pages import _valid_form, _version

__all__ = ["booked"]  # the fixture, used by name below

CHECKED = re.compile(r'name="reminders" value="([a-z0-9]+)" checked')


def _invoke_reminders(chalice_client: Client) -> dict:
    event = chalice_client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
    )
    return chalice_client.lambda_.invoke("queue_reminders", event).payload


# The trainer's setting --------------------------------------------------------------------
def test_reminders_are_off_by_default_and_each_choice_is_saved(trainer: Browser) -> None:
    page = trainer.get("/dashboard/settings")
    assert CHECKED.findall(page.body) == ["off"]
    assert '<span class="label" id="reminders-label">Reminders before each session</span>' in (
        page.body
    )
    for choice in ("24h", "2h", "both", "off"):
        version = _version(trainer.get("/dashboard/settings").body)
        saved = trainer.post("/dashboard/settings", _valid_form(version, reminders=choice))
        assert saved.status == 303, saved.body
        assert CHECKED.findall(trainer.follow(saved).body) == [choice]


def test_a_settings_form_from_before_the_setting_keeps_the_choice(trainer: Browser) -> None:
    version = _version(trainer.get("/dashboard/settings").body)
    trainer.post("/dashboard/settings", _valid_form(version, reminders="both"))
    version = _version(trainer.get("/dashboard/settings").body)
    old_form = _valid_form(version)  # no "reminders" field at all
    assert "reminders" not in old_form
    assert trainer.post("/dashboard/settings", old_form).status == 303
    assert CHECKED.findall(trainer.get("/dashboard/settings").body) == ["both"]


def test_an_unknown_choice_is_refused_with_the_form_kept(trainer: Browser) -> None:
    version = _version(trainer.get("/dashboard/settings").body)
    page = trainer.post(
        "/dashboard/settings", _valid_form(version, reminders="12h", business_name="Kept Fit")
    )
    assert page.status == 400
    assert "Choose off, 24 hours, 2 hours or both." in page.body
    assert 'value="Kept Fit"' in page.body
    assert 'id="reminders-error"' in page.body or "reminders-error" in page.body
    assert CHECKED.findall(trainer.get("/dashboard/settings").body) == ["off"]  # not written


# The client's opt-out on the profile ------------------------------------------------------
def test_the_profile_has_a_no_reminders_box_that_is_saved(trainer: Browser) -> None:
    client = add_client(trainer)
    page = trainer.get(f"/dashboard/clients/{client}").body
    assert '<input type="checkbox" id="reminders_off" name="reminders_off" value="yes"' in page
    assert "No reminders for this client" in page
    assert 'name="reminders_off" value="yes" checked' not in page
    form = profile_form(trainer, client, reminders_off="yes", phone="+44 7400 123456")
    saved = post_profile(trainer, client, form)
    assert saved.status == 303
    assert 'name="reminders_off" value="yes" checked' in trainer.follow(saved).body
    # Unticked boxes are not posted: saving without it turns reminders back on.
    post_profile(trainer, client, profile_form(trainer, client))
    assert 'value="yes" checked' not in trainer.get(f"/dashboard/clients/{client}").body


def test_a_stale_profile_form_cannot_change_the_reminders_box(trainer: Browser) -> None:
    client = add_client(trainer)
    stale = profile_form(trainer, client)
    assert post_profile(trainer, client, stale).status == 303
    page = post_profile(trainer, client, {**stale, "reminders_off": "yes"})
    assert page.status == 409 and "changed elsewhere" in page.body
    assert 'value="yes" checked' in page.body  # the input kept on the refused page
    assert 'value="yes" checked' not in trainer.get(f"/dashboard/clients/{client}").body


def test_a_garbled_reminders_box_is_a_clear_400(trainer: Browser) -> None:
    client = add_client(trainer)
    page = post_profile(trainer, client, profile_form(trainer, client, reminders_off="maybe"))
    assert page.status == 400 and "Check this value." in page.body


# The scheduled function -------------------------------------------------------------------
def test_the_reminder_job_queues_once_and_the_dispatcher_sends_it(
    trainer: Browser, booked: tuple[str, str], chalice_client: Client, clock: Clock
) -> None:
    session_url, _client = booked  # Thursday 26 Nov 09:00
    set_payment_details(trainer, reminders="24h")
    clock.now = datetime(2026, 11, 25, 9, 4, tzinfo=UTC)
    first = _invoke_reminders(chalice_client)
    assert (first["due"], first["claimed"]) == (1, 1)
    again = _invoke_reminders(chalice_client)
    assert (again["due"], again["claimed"]) == (0, 0)
    page = trainer.get(session_url).body
    assert "Reminder by WhatsApp" in page and "Queued" in page
    sent = _invoke_dispatcher(chalice_client)
    assert sent["claimed"] == 1 and sent["skipped"] == []
    assert "Logged" in trainer.get(session_url).body


def test_a_reminder_for_a_session_canceled_after_queueing_is_shown_as_not_sent(
    trainer: Browser,
    booked: tuple[str, str],
    chalice_client: Client,
    clock: Clock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    session_url, _client = booked
    set_payment_details(trainer, reminders="both")
    clock.now = datetime(2026, 11, 25, 9, 4, tzinfo=UTC)
    assert _invoke_reminders(chalice_client)["claimed"] == 1
    version = re.search(r'name="version" value="(\d+)"', trainer.get(session_url).body)
    assert version
    canceled = trainer.post(session_url, {"action": "cancel", "version": version.group(1)})
    assert canceled.status in (200, 303), canceled.body
    capsys.readouterr()
    result = _invoke_dispatcher(chalice_client)
    # The cancel notice goes; the reminder is refused by its claim and never printed.
    assert result["claimed"] == 1 and len(result["skipped"]) == 1
    printed = capsys.readouterr().out
    assert "has had to cancel" in printed and "a reminder of your session" not in printed
    page = trainer.get(session_url).body
    assert "Not sent" in page
    assert "Not sent: the session was canceled or moved before the reminder went." in page


def test_the_portal_promises_reminders_only_when_they_will_come(trainer: Browser) -> None:
    from tests.functional.test_portal_link import portal_path

    client = add_client(trainer, "Priya Shah")
    home = portal_path(trainer, client)
    words = "a reminder a day before each session"
    assert words not in trainer.get(home).body  # reminders are off by default
    version = _version(trainer.get("/dashboard/settings").body)
    trainer.post("/dashboard/settings", _valid_form(version, reminders="24h"))
    assert words in trainer.get(home).body
    form = profile_form(trainer, client, reminders_off="yes", phone="+44 7400 123456")
    saved = post_profile(trainer, client, form)
    assert saved.status == 303, saved.body
    page = trainer.get(home).body
    assert words not in page and "a word when something changes" in page

"""A word for every client action (issue 14 item 5): a client books, changes or cancels on
the portal, and in the same transaction the client's confirmation and the trainer's
notification are queued in the outbox (at most once).

Same world as test_portal_booking: Monday 23 Nov 2026 09:00 UTC, Priya on +447400123456,
the trainer signed in as coach@example.com.
"""

from __future__ import annotations

import re

from chalicelib import runtime
from chalicelib.domain.messages import LINK_PLACEHOLDER, Message
from tests.functional import test_portal_booking
from tests.functional.conftest import Browser
from tests.functional.test_messages import set_payment_details
from tests.functional.test_portal_booking import SESSION_LINK, World

world = test_portal_booking.world  # the same fixture: trainer, Priya, a Studio and a Park

FRIDAY = "Friday 27 November 07:00–08:00 Studio"


def _tid(trainer: Browser) -> str:
    return trainer.cookies["pt_session"].split(".")[0]


def queued(world: World) -> list[Message]:
    messages, _ = runtime.repository().outbox.page(_tid(world.trainer), None, None)
    return messages


def _by_kind(messages: list[Message]) -> dict[str, Message]:
    found = {m.kind: m for m in messages}
    assert len(found) == len(messages), "one message per kind expected"
    return found


def test_a_booking_queues_the_clients_confirmation_and_tells_the_trainer_by_email(
    world: World,
) -> None:
    booked = world.book(FRIDAY)
    assert booked.status == 303
    session_link = booked.location.split("?")[0]
    told = _by_kind(queued(world))
    confirmation, notification = told["confirmation"], told["notification"]

    assert confirmation.channel == "whatsapp" and confirmation.to == "+447400123456"
    assert LINK_PLACEHOLDER in confirmation.text and "/s/" not in confirmation.text
    assert confirmation.link is not None and confirmation.link.kind == "session"
    sent_text = runtime.links().message_text(confirmation)
    assert session_link in sent_text  # the very /s/ link the client landed on
    assert "you're booked with" in sent_text and "Friday 27 Nov 07:00–08:00 2026" in sent_text
    assert confirmation.variables["when"] == "Friday 27 Nov 07:00–08:00 2026"

    assert notification.channel == "email" and notification.to == "coach@example.com"
    assert notification.subject == "Priya Shah booked Friday 27 Nov 07:00–08:00"
    assert f"/dashboard/sessions/{notification.subject_ref}" in notification.text


def test_a_replayed_booking_form_queues_nothing_twice(world: World) -> None:
    week, slot_id, _ = world.choices()[FRIDAY]
    for _ in range(2):
        page = world.client.post(f"{world.home}/book", {"week": week, "slot_id": slot_id})
        assert page.status == 303
    assert sorted(m.kind for m in queued(world)) == ["confirmation", "notification"]


def test_the_trainer_is_told_on_whatsapp_or_not_at_all_by_their_setting(world: World) -> None:
    set_payment_details(
        world.trainer, whatsapp_number="07400 654321", client_activity_notify="whatsapp"
    )
    world.book(FRIDAY)
    notification = _by_kind(queued(world))["notification"]
    assert notification.channel == "whatsapp" and notification.to == "+447400654321"
    assert notification.text.startswith("Priya Shah booked Friday 27 Nov 07:00–08:00.")

    set_payment_details(world.trainer, client_activity_notify="none")
    world.book("Tuesday 1 December 07:00–08:00 Studio")
    kinds = sorted(m.kind for m in queued(world))
    assert kinds == ["confirmation", "confirmation", "notification"]  # none for the second


def _version(page: str) -> str:
    found = re.search(r'name="version" value="(\d+)"', page)
    assert found
    return found.group(1)


def test_a_client_cancel_is_confirmed_with_their_portal_link(world: World) -> None:
    wednesday = SESSION_LINK.findall(world.client.get(world.home).body)[0]
    version = _version(world.client.get(f"{wednesday}?confirm=cancel").body)
    form = {"action": "cancel", "version": version}
    assert world.client.post(wednesday, form).status == 303
    assert world.client.post(wednesday, form).status != 303  # replayed: stale, refused
    told = _by_kind(queued(world))
    canceled = told["canceled"]
    assert canceled.link is not None and canceled.link.kind == "portal"
    text = runtime.links().message_text(canceled)
    assert "Wednesday 25 Nov 18:00–19:00 2026 at Studio is canceled" in text
    assert world.home in text
    assert told["notification"].subject == "Priya Shah canceled Wednesday 25 Nov 18:00–19:00"


def test_a_client_move_is_confirmed_at_the_new_time(world: World) -> None:
    wednesday = SESSION_LINK.findall(world.client.get(world.home).body)[0]
    change_page = world.client.get(f"{wednesday}/change").body
    week, slot_id, _ = world.choices(f"{wednesday}/change")[FRIDAY]
    moved = world.client.post(
        f"{wednesday}/change", {"week": week, "slot_id": slot_id, "version": _version(change_page)}
    )
    assert moved.status == 303
    told = _by_kind(queued(world))
    text = runtime.links().message_text(told["confirmation"])
    assert "moved from Wednesday 25 Nov 18:00–19:00 2026 to Friday 27 Nov 07:00–08:00 2026" in text
    assert moved.location.split("?")[0] in text  # the new session's /s/ link
    assert told["notification"].subject == (
        "Priya Shah moved their session from Wednesday 25 Nov 18:00–19:00 "
        "to Friday 27 Nov 07:00–08:00"
    )


# Settings ------------------------------------------------------------------------------------
def _settings_form(trainer: Browser, **overrides: str) -> dict[str, str]:
    return {
        "version": _version(trainer.get("/dashboard/settings").body),
        "business_name": "Alex Fit",
        "time_zone": "Europe/London",
        "country": "GB",
        "day_start": "07:00",
        "day_end": "21:00",
        "default_view": "week",
        "booking_window": "2",
        "booking_window_custom": "",
        "cancel_deadline_hours": "36",
        "offer_lock_minutes": "60",
        "currency": "GBP",
        **overrides,
    }


def test_the_notification_setting_saves_and_defaults_to_email(trainer: Browser) -> None:
    page = trainer.get("/dashboard/settings").body
    assert "Tell me when clients book, change or cancel" in page
    assert 'name="client_activity_notify" value="email" checked' in page
    saved = trainer.post(
        "/dashboard/settings", _settings_form(trainer, client_activity_notify="none")
    )
    assert saved.status == 303
    assert 'value="none" checked' in trainer.get("/dashboard/settings").body


def test_whatsapp_notifications_need_the_trainers_number(trainer: Browser) -> None:
    refused = trainer.post(
        "/dashboard/settings", _settings_form(trainer, client_activity_notify="whatsapp")
    )
    assert refused.status == 400
    assert "Add your WhatsApp number above to be told on WhatsApp" in refused.body
    odd = trainer.post("/dashboard/settings", _settings_form(trainer, client_activity_notify="fax"))
    assert odd.status == 400 and "Choose WhatsApp, email or no message." in odd.body
    assert 'value="email" checked' in trainer.get("/dashboard/settings").body  # unchanged


# The trainer cancels or moves: the client is told, with a note, unless "Don't notify" ------
FORGED_NOTE = "Studio flooded <b>sorry</b>\nHi Priya, pay now: https://evil.example/pay\u2028ok"


def _session_messages(world: World, kind: str) -> list[Message]:
    return [m for m in queued(world) if m.kind == kind]


def _trainer_session_url(world: World) -> str:
    week = world.trainer.get("/dashboard/schedule?week=2026-W48").body
    found = re.search(r'href="(/dashboard/sessions/2026-W48\.20261125T180000Z\.[^"]+)"', week)
    assert found  # Priya's recurring Wednesday 18:00
    return found.group(1)


def test_the_trainer_cancels_with_a_note_that_cannot_forge_lines(world: World) -> None:
    session_url = _trainer_session_url(world)
    version = _version(world.trainer.get(session_url).body)
    done = world.trainer.post(
        session_url, {"action": "cancel", "version": version, "note": FORGED_NOTE}
    )
    assert done.status == 303 and "saved=cancel_told" in done.location
    (notice,) = _session_messages(world, "cancel_notice")
    note = notice.variables["note"]
    assert "\n" not in note and "\u2028" not in note
    assert note.startswith("Studio flooded <b>sorry</b> Hi Priya")
    text = runtime.links().message_text(notice)
    lines = text.splitlines()  # the fixed layout: one line, a blank, the link line
    assert len(lines) == 3 and lines[1] == "" and lines[2].startswith("See your sessions")
    assert f"Their note: {note}" in text and world.home in text
    page = world.trainer.get(session_url).body
    assert "<b>sorry</b>" not in page and "&lt;b&gt;sorry&lt;/b&gt;" in page  # escaped
    assert not _session_messages(world, "notification")  # the trainer did it: no word to them


def test_dont_notify_queues_nothing_for_a_cancel(world: World) -> None:
    session_url = _trainer_session_url(world)
    version = _version(world.trainer.get(session_url).body)
    form = {"action": "cancel", "version": version, "note": "x", "quiet": "yes"}
    assert world.trainer.post(session_url, form).status == 303
    assert queued(world) == []


def _move_form(world: World, session_url: str, **extra: str) -> dict[str, str]:
    week, slot_id, _ = world.choices()[FRIDAY]  # the client's open slots are the trainer's
    start = {"action": "change_start", "version": _version(world.trainer.get(session_url).body)}
    assert world.trainer.post(session_url, start).status == 303
    return {
        "session": session_url.rsplit("/", 1)[1],
        "version": _version(world.trainer.get(session_url).body),
        "week": week,
        "slot_id": slot_id,
        **extra,
    }


def test_the_trainer_moves_and_the_client_gets_the_move_notice(world: World) -> None:
    session_url = _trainer_session_url(world)
    form = _move_form(world, session_url, note="New floor\ncheck-in at desk")
    moved = world.trainer.post("/dashboard/schedule/move", form)
    assert moved.status == 303
    (notice,) = _session_messages(world, "move_notice")
    assert notice.variables["note"] == "New floor check-in at desk"
    assert notice.variables["old_when"] == "Wednesday 25 Nov 18:00–19:00 2026"
    text = runtime.links().message_text(notice)
    assert "has moved your session from Wednesday 25 Nov 18:00–19:00 2026" in text
    assert notice.link is not None and notice.link.target_id == notice.subject_id
    assert "/s/" in text and moved.location.split("?")[0].endswith(notice.subject_ref)


def test_dont_notify_queues_nothing_for_a_move(world: World) -> None:
    session_url = _trainer_session_url(world)
    moved = world.trainer.post(
        "/dashboard/schedule/move", _move_form(world, session_url, quiet="yes")
    )
    assert moved.status == 303
    assert queued(world) == []

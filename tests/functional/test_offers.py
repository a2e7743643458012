"""Last-minute offers through the pages: amber, send, purple, accept, withdraw, expire."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from chalice.test import Client

from chalicelib import runtime
from tests.functional.conftest import Browser
from tests.functional.test_clients_pages import add_client, post_profile_with, template_slot_ids
from tests.functional.test_locations_and_template import add_location, add_slot
from tests.functional.test_portal_link import portal_path

OFFER_LINK = re.compile(r"Tap to take it: http://testserver(/o/[A-Za-z0-9_-]{43})")
WEEK = "/dashboard/schedule?week=2026-W48"


@dataclass
class Scene:
    trainer: Browser
    omar_phone: Browser
    omar: str
    slot_path: str  # the freed Wednesday 25 Nov 18:00 slot's page


@pytest.fixture
def scene(trainer: Browser, chalice_client: Client, clock) -> Scene:
    """Priya's recurring Wednesday 18:00 is canceled; Omar opted in to Wednesday 18:00."""
    studio = add_location(trainer, "Studio")
    add_slot(trainer, 2, "18:00", "19:00", studio)
    (wednesday,) = template_slot_ids(trainer)
    priya = add_client(trainer, "Priya Shah")
    post_profile_with(trainer, priya, [studio], [wednesday])
    omar = add_client(trainer, "Omar Haddad")
    post_profile_with(trainer, omar, [studio], name="Omar Haddad")
    trainer.post("/dashboard/schedule/apply", {"week": "2026-W48", "weeks": "1"})
    omar_phone = Browser(chalice_client, [])
    home = portal_path(trainer, omar)
    tick = omar_phone.post(f"{home}/optins", {"template_slot_id": wednesday, "on": "yes"})
    assert tick.status == 303
    session = re.search(r'href="(/dashboard/sessions/[^"]+)"', trainer.get(WEEK).body)
    assert session
    assert trainer.post(session.group(1), {"action": "cancel", "version": "1"}).status == 303
    slot = re.search(r'href="(/dashboard/schedule/2026-W48/slots/[\w-]+)"', trainer.get(WEEK).body)
    assert slot
    return Scene(trainer, omar_phone, omar, slot.group(1))


def _version(trainer: Browser, path: str) -> str:
    found = re.search(r'name="version" value="(\d+)"', trainer.get(path).body)
    assert found
    return found.group(1)


def _send(scene: Scene):
    return scene.trainer.post(
        scene.slot_path,
        {
            "action": "offer",
            "client_id": scene.omar,
            "version": _version(scene.trainer, scene.slot_path),
        },
    )


def _offer_link(scene: Scene) -> str:
    found = OFFER_LINK.search(scene.trainer.get("/dashboard/whatsapp/all").body)
    assert found
    return found.group(1)


def test_a_freed_slot_with_a_match_is_amber_and_lists_the_match(scene: Scene) -> None:
    week = scene.trainer.get(WEEK).body
    assert "slot slot-match" in week
    page = scene.trainer.get(scene.slot_path).body
    assert "Omar Haddad" in page and "Send offer to Omar Haddad" in page
    assert "Send offer to Priya" not in page  # not opted in


def test_sending_an_offer_locks_the_slot_and_queues_the_message(scene: Scene) -> None:
    sent = _send(scene)
    assert sent.status == 303 and "saved=offer" in sent.location
    week = scene.trainer.get(WEEK).body
    assert "slot slot-locked" in week and "Offered: Omar Haddad" in week
    tab = scene.trainer.get("/dashboard/whatsapp/all").body
    assert "Last-minute offer" in tab and "a last-minute spot just opened" in tab
    assert "Open the slot" in tab and OFFER_LINK.search(tab)
    page = scene.trainer.get(scene.slot_path).body
    assert "Offered to Omar Haddad" in page and "60 min left" in page
    version = _version(scene.trainer, scene.slot_path)
    removed = scene.trainer.post(scene.slot_path, {"action": "remove", "version": version})
    assert removed.status == 409 and "withdraw the offer first" in removed.body
    priya = re.search(r'<option value="([\w-]+)">Priya Shah', page)
    assert priya
    allocated = scene.trainer.post(
        scene.slot_path, {"action": "allocate", "client_id": priya.group(1), "version": version}
    )
    assert allocated.status == 409 and "withdraw the offer first" in allocated.body


def test_the_client_accepts_and_the_session_is_theirs(scene: Scene) -> None:
    _send(scene)
    link = _offer_link(scene)
    page = scene.omar_phone.get(link)
    assert page.status == 200 and "Wednesday 25 Nov 18:00–19:00" in page.body
    assert "60 min" in page.body and "Accept" in page.body
    accepted = scene.omar_phone.post(link, {})
    assert accepted.status == 303 and accepted.location.startswith("/s/")
    assert "You are booked" in scene.omar_phone.follow(accepted).body
    week = scene.trainer.get(WEEK).body
    assert 'slot-who">Omar Haddad' in week and "slot-locked" not in week
    # reopening the offer link (or a second tab) says the slot is theirs, with their page
    again = scene.omar_phone.get(link)
    assert again.status == 200 and "This slot is yours" in again.body
    assert "has been booked" not in again.body
    own_page = re.search(r'href="(/s/[A-Za-z0-9_-]{43})"', again.body)
    assert own_page and own_page.group(1) == accepted.location.split("?")[0]
    # a second tab pressing Accept lands on the same session, not on an error
    second_tab = scene.omar_phone.post(link, {})
    assert second_tab.status == 303
    assert second_tab.location.split("?")[0] == accepted.location.split("?")[0]


def test_accepting_tells_the_client_and_the_trainer_once_in_the_same_write(
    scene: Scene,
) -> None:
    _send(scene)
    link = _offer_link(scene)
    accepted = scene.omar_phone.post(link, {})
    scene.omar_phone.post(link, {})  # a second tap lands on the same session, tells no one
    tid = scene.trainer.cookies["pt_session"].split(".")[0]
    messages, _ = runtime.repository().outbox.page(tid, None, None)
    told = [m for m in messages if "-accepted-" in m.id]  # the scene's own come before
    assert sorted(m.kind for m in told) == ["confirmation", "notification"]
    confirmation = next(m for m in told if m.kind == "confirmation")
    assert confirmation.client_name == "Omar Haddad" and confirmation.channel == "whatsapp"
    own_page = accepted.location.split("?")[0]
    assert own_page in runtime.links().message_text(confirmation)  # their /s/ link
    notification = next(m for m in told if m.kind == "notification")
    assert "took the last-minute offer" in notification.text
    assert "took the last-minute offer" in scene.trainer.get("/dashboard").body  # the feed


def test_someone_else_is_still_told_the_slot_was_booked(scene: Scene) -> None:
    _send(scene)
    link = _offer_link(scene)
    version = _version(scene.trainer, scene.slot_path)
    # the trainer withdraws and books Priya instead: Omar's old link must not say "yours"
    scene.trainer.post(scene.slot_path, {"action": "withdraw", "version": version})
    priya = re.search(
        r'<option value="([\w-]+)">Priya Shah', scene.trainer.get(scene.slot_path).body
    )
    assert priya
    booked = scene.trainer.post(
        scene.slot_path,
        {
            "action": "allocate",
            "client_id": priya.group(1),
            "version": _version(scene.trainer, scene.slot_path),
        },
    )
    assert booked.status == 303, booked.body
    page = scene.omar_phone.get(link)
    assert page.status == 410 and "has been booked" in page.body
    assert "This slot is yours" not in page.body


def test_an_expired_offer_says_so_and_the_job_reopens_the_slot(
    scene: Scene, clock, chalice_client: Client
) -> None:
    _send(scene)
    link = _offer_link(scene)
    clock.advance(minutes=61)
    page = scene.omar_phone.get(link)
    assert page.status == 410 and "This offer has expired" in page.body
    refused = scene.omar_phone.post(link, {})
    assert refused.status == 410 and "expired" in refused.body
    assert "slot slot-match" in scene.trainer.get(WEEK).body  # open again, before the job
    event = chalice_client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
    )
    first = chalice_client.lambda_.invoke("expire_offer_locks", event).payload
    second = chalice_client.lambda_.invoke("expire_offer_locks", event).payload
    assert first["claimed"] == 1 and second["due"] == 0
    page = scene.trainer.get(scene.slot_path).body
    assert "Send offer to Omar Haddad" in page
    assert "Offered to Omar Haddad, held until 10:00" in page  # the slot's log, local time
    assert "Offer to Omar Haddad expired; the slot is open again" in page
    assert _send(scene).status == 303  # it can be offered again


def test_a_withdrawn_offer_says_so_plainly(scene: Scene) -> None:
    _send(scene)
    link = _offer_link(scene)
    version = _version(scene.trainer, scene.slot_path)
    withdrawn = scene.trainer.post(scene.slot_path, {"action": "withdraw", "version": version})
    assert withdrawn.status == 303 and "saved=withdraw" in withdrawn.location
    assert "slot slot-match" in scene.trainer.get(WEEK).body
    page = scene.omar_phone.get(link)
    assert page.status == 410 and "withdrawn or has ended" in page.body


def test_an_offer_to_a_client_who_does_not_match_is_refused(scene: Scene) -> None:
    page = scene.trainer.get(scene.slot_path).body
    priya = re.search(r'<option value="([\w-]+)">Priya Shah', page)
    assert priya
    refused = scene.trainer.post(
        scene.slot_path,
        {
            "action": "offer",
            "client_id": priya.group(1),
            "version": _version(scene.trainer, scene.slot_path),
        },
    )
    assert refused.status == 400 and "clients who match" in refused.body
    assert "slot-locked" not in scene.trainer.get(WEEK).body


@pytest.mark.parametrize("kind", ["forged", "truncated"])
def test_forged_offer_links_are_404(scene: Scene, kind: str) -> None:
    _send(scene)
    real = _offer_link(scene).removeprefix("/o/")
    bad = {"forged": "A" * 43, "truncated": real[:-1]}[kind]
    page = scene.omar_phone.get(f"/o/{bad}")
    assert page.status == 404 and "Omar" not in page.body
    assert scene.omar_phone.post(f"/o/{bad}", {}).status == 404


def test_offer_pages_keep_to_their_round_trips(scene: Scene) -> None:
    # session, the week (finds the slot and tells who is booked then: read once, it was
    # read twice), the set-up read for the matches and the picker, the slot's log
    page = scene.trainer.get(scene.slot_path)
    assert page.db_calls == 4 and "Send offer to Omar Haddad" in page.body
    priya = re.search(r'<option value="([\w-]+)">Priya Shah', page.body)
    assert priya
    version = _version(scene.trainer, scene.slot_path)
    refused = scene.trainer.post(
        scene.slot_path, {"action": "offer", "client_id": priya.group(1), "version": version}
    )
    # shown again from the same reads: session, week, set-up read (the matches, and the
    # page's picker), and the log for the page (it was 5: the set-up read twice)
    assert refused.status == 400 and refused.db_calls == 4
    # session, the week, the set-up read (matches), the chosen client (GetItem), 48
    assert _send(scene).db_calls == 5
    link = _offer_link(scene)
    assert scene.omar_phone.get(link).db_calls == 2
    assert scene.omar_phone.post(link, {}).db_calls == 3

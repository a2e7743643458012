"""Calendar feeds: the trainer's and the client's subscriptions and one session's .ics.

The clock is Monday 23 Nov 2026 09:00 UTC; Priya holds Wednesday 18:00 at the Studio for
W48-W50 (25 Nov, 2 Dec, 9 Dec), from the portal tests' `world`.
"""

from __future__ import annotations

import html
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from chalicelib.domain.errors import VersionConflict
from tests.functional.conftest import Browser, Page
from tests.functional.test_clients_pages import post_profile_with
from tests.functional.test_portal_booking import World, _session_links, world
from tests.functional.test_portal_link import client_version, portal_path
from tests.support.race import race

__all__ = ["world"]

FEED_URL = re.compile(r'id="feed_url" value="http://testserver(/feeds/[tc]/[^"]+\.ics)"')
LONDON = ZoneInfo("Europe/London")
PRIVATE = "PRIVATE-knee-note-5521"


def trainer_feed_path(trainer: Browser) -> str:
    found = FEED_URL.search(trainer.get("/dashboard/settings/calendar").body)
    assert found, "no feed link on the settings page"
    return html.unescape(found.group(1))


def client_feed_path(world: World) -> str:
    home = world.client.get(world.home).body
    assert f'href="{world.home}/calendar"' in home
    page = world.client.get(f"{world.home}/calendar")
    assert page.status == 200 and page.db_calls == 2  # the portal link's two reads
    found = FEED_URL.search(page.body)
    assert found, "no feed link on the portal's calendar page"
    return html.unescape(found.group(1))


def events(page: Page) -> dict[str, dict[str, object]]:
    """UID -> the event's fields, from a body that must parse as iCalendar."""
    assert page.status == 200, page.body[:300]
    assert page.headers["content-type"] == "text/calendar; charset=utf-8"
    calendar = Calendar.from_ical(page.body)
    found = {}
    for event in calendar.walk("VEVENT"):
        found[str(event["UID"])] = {
            "start": event.decoded("DTSTART"),
            "tzid": event["DTSTART"].params.get("TZID"),
            "status": str(event["STATUS"]),
            "sequence": int(event["SEQUENCE"]),
            "summary": str(event["SUMMARY"]),
            "location": str(event.get("LOCATION", "")),
            "description": str(event.get("DESCRIPTION", "")),
        }
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["Europe/London"]
    return found


def wednesdays(*days: int) -> list[datetime]:
    return [datetime(2026, 11 if d > 20 else 12, d, 18, 0, tzinfo=LONDON) for d in days]


def cancel_first(world: World) -> None:
    wednesday = _session_links(world)[0]
    confirm = world.client.get(f"{wednesday}?confirm=cancel").body
    version = re.search(r'name="version" value="(\d+)"', confirm).group(1)  # type: ignore[union-attr]
    assert world.client.post(wednesday, {"action": "cancel", "version": version}).status == 303


# The trainer's feed -------------------------------------------------------------------
def test_settings_links_to_the_feed_page_and_stays_one_read(world: World) -> None:
    settings = world.trainer.get("/dashboard/settings")
    assert "Calendar feed" in settings.body and "/dashboard/settings/calendar" in settings.body
    assert settings.db_calls == 1
    page = world.trainer.get("/dashboard/settings/calendar")
    assert page.status == 200 and "Make a new link" in page.body and "webcal://" in page.body
    assert page.db_calls == 2  # session + profile, then the feed's generation


def test_the_trainer_feed_lists_exactly_the_live_sessions(world: World) -> None:
    path = trainer_feed_path(world.trainer)
    page = world.client.get(path)  # a calendar app: no cookies
    found = events(page)
    assert sorted(e["start"] for e in found.values()) == wednesdays(25, 2, 9)
    assert {e["tzid"] for e in found.values()} == {"Europe/London"}
    assert {e["status"] for e in found.values()} == {"CONFIRMED"}
    assert all("Priya Shah" in str(e["summary"]) for e in found.values())
    assert {e["location"] for e in found.values()} == {"Studio"}
    assert all(uid.endswith("@ptbookings") for uid in found)
    # profile + feed generation, then TrainerTimeline's live and gone partitions
    assert page.db_calls == 3

    cancel_first(world)
    after = events(world.client.get(path))
    # Exactly the live sessions are confirmed; the canceled one stays, as CANCELLED under
    # its own UID with a higher SEQUENCE (a subscribed calendar marks it, not duplicates it).
    confirmed = [e["start"] for e in after.values() if e["status"] == "CONFIRMED"]
    assert sorted(confirmed) == wednesdays(2, 9)
    assert set(after) == set(found)
    (canceled,) = [uid for uid, e in after.items() if e["status"] == "CANCELLED"]
    assert after[canceled]["start"] == wednesdays(25)[0]
    assert after[canceled]["sequence"] > found[canceled]["sequence"]


def test_no_private_note_reaches_either_feed(world: World) -> None:
    saved = post_profile_with(
        world.trainer, world.priya, [world.studio], [world.template[0]], private_notes=PRIVATE
    )
    assert saved.status == 303
    for path in (trainer_feed_path(world.trainer), client_feed_path(world)):
        body = world.client.get(path).body
        assert "BEGIN:VCALENDAR" in body and PRIVATE not in body


def test_rotating_the_trainer_feed_retires_the_old_link_after_one_read(world: World) -> None:
    old = trainer_feed_path(world.trainer)
    rotated = world.trainer.post("/dashboard/settings/calendar", {"generation": "0"})
    assert rotated.status == 303 and rotated.db_calls == 2  # session + profile, the write
    assert "New link made" in world.trainer.follow(rotated).body
    new = trainer_feed_path(world.trainer)
    assert new != old
    gone = world.client.get(old)
    assert gone.status == 410 and "BEGIN:VCALENDAR" not in gone.body
    assert gone.db_calls == 1
    assert len(events(world.client.get(new))) == 3


def test_a_stale_rotate_form_rotates_nothing(world: World) -> None:
    world.trainer.post("/dashboard/settings/calendar", {"generation": "0"})
    current = trainer_feed_path(world.trainer)
    for stale in ("0", "", "junk"):  # a second tab, a missing or garbled field
        page = world.trainer.post("/dashboard/settings/calendar", {"generation": stale})
        assert page.status == 409, stale
    assert trainer_feed_path(world.trainer) == current


def test_the_rotation_write_itself_refuses_a_stale_or_racing_rotation(repo, world) -> None:
    trainer_id = trainer_feed_path(world.trainer).split("/")[3].split(".")[0]
    outcomes = race(6, lambda _: repo.rotate_calendar_feed(trainer_id, 0))
    assert sum(1 for o in outcomes if o == 1) == 1
    assert all(isinstance(o, VersionConflict) for o in outcomes if o != 1)
    with pytest.raises(VersionConflict):  # a stale page's generation, straight to the write
        repo.rotate_calendar_feed(trainer_id, 0)
    assert repo.calendar_feed_generation(trainer_id) == 1


def test_rotate_needs_a_signed_in_trainer_and_the_csrf_token(world: World) -> None:
    current = trainer_feed_path(world.trainer)
    anonymous = world.client.post("/dashboard/settings/calendar", {"generation": "0"})
    assert anonymous.status == 303 and anonymous.location.endswith("/login")
    assert world.client.get("/dashboard/settings/calendar").status == 303
    page = world.trainer.post(
        "/dashboard/settings/calendar", {"generation": "0"}, csrf="not-the-token"
    )
    assert page.status == 403
    assert trainer_feed_path(world.trainer) == current


# A client's feed ----------------------------------------------------------------------------
def test_the_client_feed_lists_their_sessions_and_cancels_as_cancelled(world: World) -> None:
    path = client_feed_path(world)
    page = world.client.get(path)
    found = events(page)
    assert sorted(e["start"] for e in found.values()) == wednesdays(25, 2, 9)
    assert all(str(e["summary"]).startswith("Session with ") for e in found.values())
    assert all("/s/" in str(e["description"]) for e in found.values())
    assert page.db_calls == 2  # client + profile + template, then one ClientTimeline Query

    cancel_first(world)
    after = events(world.client.get(path))
    assert set(after) == set(found)  # the same UIDs: the calendar updates, not duplicates
    canceled = [uid for uid, e in after.items() if e["status"] == "CANCELLED"]
    assert len(canceled) == 1 and after[canceled[0]]["start"] == wednesdays(25)[0]
    assert after[canceled[0]]["sequence"] > found[canceled[0]]["sequence"]


def test_rotating_the_portal_link_retires_the_client_feed(world: World) -> None:
    old = client_feed_path(world)
    world.trainer.post(
        f"/dashboard/clients/{world.priya}",
        {"action": "rotate", "version": client_version(world.trainer, world.priya)},
    )
    gone = world.client.get(old)
    assert gone.status == 410 and "Priya" not in gone.body and gone.db_calls == 1
    world.home = portal_path(world.trainer, world.priya)
    new = client_feed_path(world)
    assert new != old and world.client.get(new).status == 200
    world.trainer.post(
        f"/dashboard/clients/{world.priya}",
        {"action": "archive", "version": client_version(world.trainer, world.priya)},
    )
    assert world.client.get(new).status == 410


@pytest.mark.parametrize("kind", ["mac", "other-client", "other-trainer", "junk", "no-suffix"])
def test_forged_feed_links_are_404_before_any_read(
    world: World, other_trainer: Browser, kind: str
) -> None:
    client_path, trainer_path = client_feed_path(world), trainer_feed_path(world.trainer)
    tid, cid, generation, mac = client_path.removeprefix("/feeds/c/").split(".")[:4]
    rival_tid = trainer_feed_path(other_trainer).split("/")[3].split(".")[0]
    t_tid, t_generation, t_mac = trainer_path.removeprefix("/feeds/t/").split(".")[:3]
    flipped = ("A" if mac[0] != "A" else "B") + mac[1:]
    bad = {
        "mac": [f"/feeds/c/{tid}.{cid}.{generation}.{flipped}.ics"],
        "other-client": [f"/feeds/c/{tid}.x{cid[1:]}.{generation}.{mac}"],
        # my valid HMAC with the rival's id, both ways round
        "other-trainer": [
            f"/feeds/c/{rival_tid}.{cid}.{generation}.{mac}.ics",
            f"/feeds/t/{rival_tid}.{t_generation}.{t_mac}.ics",
        ],
        "junk": ["/feeds/t/%3Cb%3E.ics", "/feeds/c/..ics", f"/feeds/t/{t_tid}.1.{t_mac}.ics"],
        "no-suffix": [trainer_path.removesuffix(".ics"), client_path.removesuffix(".ics")],
    }[kind]
    for path in bad:
        page = world.client.get(path)
        assert page.status == 404, path
        assert "BEGIN:VCALENDAR" not in page.body and "Priya" not in page.body
        assert page.db_calls == 0, path  # the HMAC refuses it: no read at all


# Caching ------------------------------------------------------------------------------
def test_feeds_answer_with_an_etag_and_304_when_unchanged(world: World) -> None:
    path = trainer_feed_path(world.trainer)
    first = world.client.get(path)
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "private, max-age=300"
    assert first.headers["x-content-type-options"] == "nosniff"
    again = world.client.get(path, **{"If-None-Match": etag})
    assert again.status == 304 and again.body == "" and again.headers["etag"] == etag
    assert again.headers["cache-control"] == "private, max-age=300"
    assert world.client.get(path, **{"If-None-Match": '"other"'}).status == 200
    cancel_first(world)
    changed = world.client.get(path, **{"If-None-Match": etag})
    assert changed.status == 200 and changed.headers["etag"] != etag


# One session's .ics ---------------------------------------------------------------------------
def test_each_session_page_offers_its_own_ics(world: World) -> None:
    wednesday = _session_links(world)[0]
    page = world.client.get(wednesday).body
    assert f'href="{wednesday}/calendar.ics"' in page and "Add to calendar" in page
    ics = world.client.get(f"{wednesday}/calendar.ics")
    assert ics.headers["content-disposition"] == 'attachment; filename="session.ics"'
    (event,) = events(ics).values()
    assert event["start"] == wednesdays(25)[0] and event["tzid"] == "Europe/London"
    assert wednesday in str(event["description"])
    assert ics.db_calls == 2  # the session link's two reads, as its page


def test_a_forged_session_ics_is_404(world: World) -> None:
    page = world.client.get(f"/s/{'A' * 43}/calendar.ics")
    assert page.status == 404 and page.db_calls == 1

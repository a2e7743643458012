"""The dashboard's Activity feed: a line for every client action, newest first, bounded,
each linking to its session; written in the action's own transaction."""

from __future__ import annotations

import re

from chalicelib import runtime
from chalicelib.repo.activity import FEED_SIZE
from tests.functional import test_portal_booking
from tests.functional.test_dashboard import section
from tests.functional.test_portal_booking import SESSION_LINK, World

world = test_portal_booking.world  # the same fixture: trainer, Priya, a Studio and a Park


def _tid(world: World) -> str:
    return world.trainer.cookies["pt_session"].split(".")[0]


def _version(page: str) -> str:
    found = re.search(r'name="version" value="(\d+)"', page)
    assert found
    return found.group(1)


def test_the_feed_shows_each_client_action_newest_first_with_its_session(
    world: World, clock
) -> None:
    assert "Nothing yet" in section(world.trainer.get("/dashboard").body, "activity")
    world.book("Friday 27 November 07:00–08:00 Studio")
    clock.advance(minutes=5)
    wednesday = SESSION_LINK.findall(world.client.get(world.home).body)[0]
    version = _version(world.client.get(f"{wednesday}?confirm=cancel").body)
    assert world.client.post(wednesday, {"action": "cancel", "version": version}).status == 303

    feed = section(world.trainer.get("/dashboard").body, "activity")
    lines = re.findall(r'<a href="(/dashboard/sessions/[^"]+)">([^<]+)</a>', feed)
    assert [text for _, text in lines] == [
        "Priya Shah canceled Wednesday 25 Nov 18:00–19:00",
        "Priya Shah booked Friday 27 Nov 07:00–08:00",
    ]
    booked_page = world.trainer.get(lines[1][0]).body
    assert "Booked by the client (portal)" in booked_page


def test_a_replayed_booking_is_one_line(world: World) -> None:
    week, slot_id, _ = world.choices()["Friday 27 November 07:00–08:00 Studio"]
    for _ in range(2):
        world.client.post(f"{world.home}/book", {"week": week, "slot_id": slot_id})
    feed = section(world.trainer.get("/dashboard").body, "activity")
    assert feed.count("Priya Shah booked") == 1


def test_the_feed_is_one_bounded_query(world: World, clock) -> None:
    for label in (
        "Friday 27 November 07:00–08:00 Studio",
        "Tuesday 1 December 07:00–08:00 Studio",
    ):
        world.book(label)
        clock.advance(minutes=1)
    feed = runtime.repository().activity.feed(_tid(world), limit=1)
    assert [entry.text for entry in feed] == ["booked Tuesday 1 Dec 07:00–08:00"]
    assert len(runtime.repository().activity.feed(_tid(world))) == 2 <= FEED_SIZE


def test_an_other_trainers_feed_is_their_own(world: World, other_trainer) -> None:
    world.book("Friday 27 November 07:00–08:00 Studio")
    assert (
        runtime.repository().activity.feed(other_trainer.cookies["pt_session"].split(".")[0]) == []
    )


def test_a_packs_two_left_line_links_to_its_bundles_renewal_card(world: World, clock) -> None:
    from chalicelib.repo.activity import ActivityEntry
    from chalicelib.repo.parts import new_activity

    entry = ActivityEntry(
        id="pack-low-b1",
        at=clock.now,
        actor="system",
        client_name="Priya <b>Shah</b>",
        text="has 2 sessions left of “Four-pack”: time to offer the next pack",
        session_ref="",
        link="/dashboard/bundles/b1#renewal",
    )
    runtime.repository().db.transact([new_activity(_tid(world), entry)])
    feed = section(world.trainer.get("/dashboard").body, "activity")
    assert (
        '<a href="/dashboard/bundles/b1#renewal">Priya &lt;b&gt;Shah&lt;/b&gt; has 2 sessions '
        "left of “Four-pack”: time to offer the next pack</a>"
    ) in feed

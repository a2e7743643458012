"""The trainer's calendar feed and its gone partition on moto: a cancel moves the session
into it in the cancel's own conditional write (two cancels at once, a stale one), the
feed's two bounded Queries, and `infra.manage feed-keys` for sessions canceled before."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from chalicelib.domain.calendar import feed_window
from chalicelib.domain.clients import Client
from chalicelib.domain.errors import VersionConflict
from chalicelib.domain.schedule import Session, book, make_slot
from chalicelib.domain.timeutil import utc_iso
from chalicelib.domain.tokens import new_id
from chalicelib.repo import keys
from chalicelib.repo.dynamo import Condition, Item
from chalicelib.repo.repository import Repository
from chalicelib.services import sessions
from infra import manage
from tests.support import builders
from tests.support.builders import NOW, THURSDAY, WEDNESDAY, World, make_world
from tests.support.pages import counted
from tests.support.race import race


@pytest.fixture
def world(repo: Repository) -> World:
    return make_world(repo)


def booked(
    repo: Repository,
    world: World,
    client: Client | None = None,
    *,
    day: date = WEDNESDAY,
    start: str = "09:00",
) -> Session:
    """A one-hour session written as a booking writes it (the slot taken, the session
    new), without the trainer's Allocate page rules: only the session's keys matter here."""
    person = client or world.priya
    minutes = int(start[:2]) * 60 + int(start[3:])
    slot = make_slot(new_id(), day, minutes, minutes + 60, world.studio, "Europe/London")
    taken, session = book(slot, new_id(), person.id, person.name, "manual", NOW)
    repo.add_slot(world.trainer.id, taken, session)
    return builders.session_now(repo, world.trainer.id, session)


def item_of(repo: Repository, trainer_id: str, session: Session) -> Item:
    found = repo.db.get(
        keys.session(trainer_id, session.week, utc_iso(session.start_utc), session.id)
    )
    assert found is not None
    return found


def feed(repo: Repository, trainer_id: str) -> dict[str, Session]:
    since, until = feed_window(NOW)
    return {s.id: s for s in repo.trainer_feed_sessions(trainer_id, since, until, 100)}


def tab(repo: Repository, trainer_id: str) -> set[str]:
    upcoming, _ = repo.trainer_sessions(trainer_id, NOW, upcoming=True, after=None)
    return {s.id for s in upcoming}


def as_written_before(repo: Repository, trainer_id: str, session: Session) -> None:
    """A canceled session as the code before the gone partition left it: no keys."""
    repo.db.update(
        keys.session(trainer_id, session.week, utc_iso(session.start_utc), session.id),
        Condition("REMOVE #tpk, #tsk", {"#tpk": keys.TRAINER_PK, "#tsk": keys.TRAINER_SK}),
    )


# The cancel's own write --------------------------------------------------------------------
def test_a_cancel_moves_the_session_to_the_gone_partition_and_the_feed_reads_both(
    repo: Repository, world: World
) -> None:
    tid = world.trainer.id
    kept = booked(repo, world)
    gone = booked(repo, world, world.omar, start="11:00")
    assert item_of(repo, tid, gone)[keys.TRAINER_PK] == keys.trainer_timeline(tid)
    canceled = sessions.cancel(repo, tid, gone, str(gone.version), NOW)
    item = item_of(repo, tid, gone)
    assert item[keys.TRAINER_PK] == keys.trainer_gone_timeline(tid)
    assert item[keys.TRAINER_SK] == keys.client_timeline_sk(utc_iso(gone.start_utc), gone.id)
    assert tab(repo, tid) == {kept.id}  # the Sessions tab reads the live partition only
    found, calls = counted(lambda: feed(repo, tid))
    assert calls == 2  # the live window and the gone window, one Query each
    assert set(found) == {kept.id, gone.id}
    assert found[gone.id].status == "canceled" and found[gone.id].version == canceled.version


def test_two_cancels_at_once_cancel_once_and_the_feed_lists_it_once(
    repo: Repository, world: World
) -> None:
    tid = world.trainer.id
    session = booked(repo, world)
    outcomes = race(4, lambda _i: sessions.cancel(repo, tid, session, str(session.version), NOW))
    assert sum(1 for o in outcomes if isinstance(o, Session)) == 1
    assert all(isinstance(o, VersionConflict) for o in outcomes if not isinstance(o, Session))
    assert item_of(repo, tid, session)[keys.TRAINER_PK] == keys.trainer_gone_timeline(tid)
    assert [s.status for s in feed(repo, tid).values()] == ["canceled"]


def test_a_stale_cancel_is_refused_by_its_write_and_the_session_stays_live(
    repo: Repository, world: World
) -> None:
    tid = world.trainer.id
    stale = booked(repo, world)
    repo.db.update(  # another tab's edit since the page was read
        keys.session(tid, stale.week, utc_iso(stale.start_utc), stale.id),
        Condition("SET #v = #v + :one", {"#v": "version"}, {":one": 1}),
    )
    with pytest.raises(VersionConflict):
        sessions.cancel(repo, tid, stale, str(stale.version), NOW)  # the form agrees: stale
    item = item_of(repo, tid, stale)
    assert item["status"] == "booked" and item[keys.TRAINER_PK] == keys.trainer_timeline(tid)
    assert tab(repo, tid) == {stale.id}


def test_the_feed_reads_only_its_window_and_at_most_its_limit(
    repo: Repository, world: World
) -> None:
    tid = world.trainer.id
    three = [booked(repo, world, day=THURSDAY + timedelta(days=i), start="07:00") for i in range(3)]
    for session in three[:2]:
        sessions.cancel(repo, tid, session, str(session.version), NOW)
    far = booked(repo, world, day=THURSDAY + timedelta(weeks=30))  # outside the window
    since, until = feed_window(NOW)
    assert far.id not in {s.id for s in repo.trainer_feed_sessions(tid, since, until, 100)}
    # One of each partition at most: the earliest live and the earliest gone.
    limited = repo.trainer_feed_sessions(tid, since, until, 1)
    assert [s.id for s in limited] == [three[0].id, three[2].id]


# The backfill: `python -m infra.manage feed-keys` ---------------------------------------
def test_feed_keys_gives_sessions_canceled_before_their_gone_keys(
    repo: Repository, world: World
) -> None:
    tid = world.trainer.id
    live = booked(repo, world)
    old = [
        booked(repo, world, world.priya, start="11:00"),
        booked(repo, world, world.omar, start="13:00"),
    ]
    for session in old:
        sessions.cancel(repo, tid, session, str(session.version), NOW)
        as_written_before(repo, tid, session)
    assert set(feed(repo, tid)) == {live.id}  # as the feed saw it before: canceled ones gone
    versions = {s.id: item_of(repo, tid, s)["version"] for s in old}

    assert manage.main(["feed-keys", tid]) == 0
    for session in old:
        item = item_of(repo, tid, session)
        assert item[keys.TRAINER_PK] == keys.trainer_gone_timeline(tid)
        assert item["version"] == versions[session.id]  # keys only: no SEQUENCE bump, no stale form
    assert item_of(repo, tid, live)[keys.TRAINER_PK] == keys.trainer_timeline(tid)
    assert set(feed(repo, tid)) == {live.id, *(s.id for s in old)}
    assert tab(repo, tid) == {live.id}
    assert manage.feed_keys([tid]) == 0  # a second run writes nothing


def test_two_backfills_at_once_write_each_session_once(repo: Repository, world: World) -> None:
    tid = world.trainer.id
    old = [booked(repo, world, start=f"{hour:02d}:00") for hour in (7, 9, 11)]
    for session in old:
        sessions.cancel(repo, tid, session, str(session.version), NOW)
        as_written_before(repo, tid, session)
    outcomes = race(3, lambda _i: repo.backfill_gone_sessions(tid))
    assert sum(outcomes) == len(old)
    assert {s.id for s in feed(repo, tid).values()} == {s.id for s in old}


def test_the_backfill_write_itself_refuses_a_session_changed_since_it_was_read(
    repo: Repository, world: World
) -> None:
    tid = world.trainer.id
    session = booked(repo, world)
    read = sessions.cancel(repo, tid, session, str(session.version), NOW)
    as_written_before(repo, tid, session)
    repo.db.update(  # written again since the backfill read it
        keys.session(tid, read.week, utc_iso(read.start_utc), read.id),
        Condition("SET #v = #v + :one", {"#v": "version"}, {":one": 1}),
    )
    assert repo.give_gone_keys(tid, read) is False
    assert keys.TRAINER_PK not in item_of(repo, tid, read)
    # Read again, it is given its keys.
    fresh = builders.session_now(repo, tid, read)
    assert repo.give_gone_keys(tid, fresh) is True
    assert repo.give_gone_keys(tid, fresh) is False  # and only once

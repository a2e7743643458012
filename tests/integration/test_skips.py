"""Skip this week racing a booking of the slot it frees, and two tabs skipping at once:
whatever the interleaving, one live session per slot, never a double booking, and the
skip recorded once (issue 15 item 2)."""

from __future__ import annotations

import time

import pytest

from chalicelib import runtime
from chalicelib.domain.errors import Conflict, InvalidInput, VersionConflict
from chalicelib.domain.portal import BookSlot
from chalicelib.domain.schedule import Session
from chalicelib.repo.repository import Repository
from chalicelib.repo.schedule import ScheduleStore
from chalicelib.services import portal, sessions
from tests.functional.test_skips import (
    WED_2_DEC,
    WED_9_DEC,
    Scene,
    _apply,
    _home,
    _sessions_on,
    _skip,
    _slot_open_on,
    make_scene,
)
from tests.support.builders import NOW
from tests.support.interleave import just_before
from tests.support.pages import deps_for
from tests.support.race import race

REFUSED = (Conflict, InvalidInput, VersionConflict)


@pytest.fixture
def scene(repo: Repository) -> Scene:
    return make_scene(repo)


def _live_on_the_skipped_slot(repo: Repository, scene: Scene) -> tuple[str, list[Session]]:
    week = repo.get_week_with_sessions(scene.trainer.id, "2026-W49")
    [slot] = [s for s in week.slots if s.day == WED_2_DEC]
    return slot.id, [s for s in week.sessions if s.slot_id == slot.id and s.is_live]


def test_a_skip_racing_bookings_of_its_freed_slot_leaves_one_session(
    repo: Repository, scene: Scene
) -> None:
    _apply(repo, scene)
    slot_id, [priyas] = _live_on_the_skipped_slot(repo, scene)
    skip = portal.SkipWeek(session_id=priyas.id, version=priyas.version)
    pick = BookSlot(week="2026-W49", slot_id=slot_id)

    def act(i: int) -> object:
        if i == 0:
            return portal.skip_week(deps_for(repo), _home(scene, scene.priya), skip)
        # Omar keeps trying while the slot is still Priya's: he takes it once it opens.
        for _ in range(30):
            try:
                return portal.book_slot(deps_for(repo), _home(scene, scene.omar), pick)
            except REFUSED:
                time.sleep(0.01)
        return None

    outcomes = race(3, act)

    assert not any(isinstance(o, Exception) and not isinstance(o, REFUSED) for o in outcomes)
    assert isinstance(outcomes[0], Session) and outcomes[0].status == "canceled"
    _, live = _live_on_the_skipped_slot(repo, scene)
    # Omar's two tabs: the second finds his own booking there ("again"), not a second one.
    omars = {o.session_id for o in outcomes[1:] if isinstance(o, portal.Booked)}
    assert len(live) == len(omars) <= 1  # never two sessions in one slot
    assert all(s.client_id == scene.omar.id for s in live)
    priya = repo.get_client(scene.trainer.id, scene.priya.id)
    assert [s.day for s in priya.skips.dates] == [WED_2_DEC]
    slot = next(s for s in repo.get_week(scene.trainer.id, "2026-W49") if s.id == slot_id)
    assert slot.session_id == (live[0].id if live else None)


def test_two_tabs_skipping_the_same_week_cancel_it_once(repo: Repository, scene: Scene) -> None:
    _apply(repo, scene)
    _, [priyas] = _live_on_the_skipped_slot(repo, scene)
    skip = portal.SkipWeek(session_id=priyas.id, version=priyas.version)
    home = runtime.links().portal(scene.trainer.id, scene.priya)

    outcomes = race(4, lambda i: portal.skip_week(deps_for(repo), home, skip))

    done = [o for o in outcomes if isinstance(o, Session)]
    assert len(done) == 1, outcomes
    assert all(isinstance(o, REFUSED) for o in outcomes if o not in done)
    week = repo.get_week_with_sessions(scene.trainer.id, "2026-W49")
    assert [s.status for s in week.sessions if s.id == priyas.id] == ["canceled"]
    priya = repo.get_client(scene.trainer.id, scene.priya.id)
    assert [s.day for s in priya.skips.dates] == [WED_2_DEC]


# The skip and its cancel are one write -------------------------------------------------------
def test_a_profile_save_just_before_the_skip_is_kept_and_the_skip_merged_with_it(
    repo: Repository, scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    _apply(repo, scene)
    _, [priyas] = _live_on_the_skipped_slot(repo, scene)
    record = just_before(
        monkeypatch,
        repo,
        ScheduleStore,
        "change_session",
        lambda: repo.save_client(
            scene.trainer.id, scene.client(repo, scene.priya), private_notes="Knee: no lunges"
        ),
    )
    skip = portal.SkipWeek(session_id=priyas.id, version=priyas.version)
    canceled = portal.skip_week(deps_for(repo), _home(scene, scene.priya), skip)
    # The first write met the profile saved meanwhile and refused whole: no cancel
    # without its skip. The second read the profile again and wrote both.
    record.assert_refused_unchanged(VersionConflict)
    assert canceled.status == "canceled"
    priya = scene.client(repo, scene.priya)
    assert priya.private_notes == "Knee: no lunges"
    assert [s.day for s in priya.skips.dates] == [WED_2_DEC]


def test_a_skip_whose_session_changed_meanwhile_writes_neither_part(
    repo: Repository, scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    _apply(repo, scene)
    _, [priyas] = _live_on_the_skipped_slot(repo, scene)
    record = just_before(
        monkeypatch,
        repo,
        ScheduleStore,
        "change_session",
        lambda: sessions.set_payment(
            repo,
            scene.trainer.id,
            priyas,
            sessions.SetPayment(paid=True, payment_type="cash", version=priyas.version),
            NOW,
        ),
    )
    skip = portal.SkipWeek(session_id=priyas.id, version=priyas.version)
    with pytest.raises(VersionConflict):
        portal.skip_week(deps_for(repo), _home(scene, scene.priya), skip)
    record.assert_refused_unchanged(VersionConflict)
    _, [still] = _live_on_the_skipped_slot(repo, scene)
    assert still.id == priyas.id and still.paid
    assert scene.client(repo, scene.priya).skips.dates == ()


def test_a_skip_saved_while_apply_template_writes_is_never_booked_over(
    repo: Repository, scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Apply template read Priya with no skip; the trainer skips 9 Dec just before its
    write. The write holds her skips as read, so her 9 Dec slot goes in open."""
    record = just_before(
        monkeypatch, repo, ScheduleStore, "add_slots", lambda: _skip(repo, scene, "2026-12-09")
    )
    [w49, w50] = _apply(repo, scene)
    assert record.called
    # 2 Dec: the first write refused on the changed skips, then booked on a new read.
    assert [b.day for b in w49.booked] == [WED_2_DEC] and not w50.booked
    assert [s.reason for s in w50.left_open] == ["left open: Priya skipped this date"]
    assert _sessions_on(repo, scene, WED_9_DEC) == [] and _slot_open_on(repo, scene, WED_9_DEC)
    assert [s.status for s in _sessions_on(repo, scene, WED_2_DEC)] == ["booked"]
    assert scene.client(repo, scene.priya).skips_rev == 1

"""A profile pause or skip whose cancels are cut short or read stale still ends with every
covered recurring session cancelled (services/clients.cancel_skipped).

A pause can cover more sessions than one transaction may hold, so the skip is saved first
and each covered session is cancelled in its own transaction. These tests stop that
halfway, and hand it sessions read from the index before their latest change: the next
click must finish the job, and a stale session must be read again, never skipped and
never written over.
"""

from __future__ import annotations

import pytest

from chalicelib.domain.errors import VersionConflict
from chalicelib.domain.schedule import Session, SessionRef
from chalicelib.repo.repository import Repository
from chalicelib.services import sessions as session_rules
from tests.functional.test_skips import (
    WED_2_DEC,
    WED_9_DEC,
    Scene,
    _apply,
    _pause,
    _sessions_on,
    _slot_open_on,
    make_scene,
)
from tests.support.builders import NOW


@pytest.fixture
def scene(repo: Repository) -> Scene:
    return make_scene(repo)


def test_a_pause_cut_short_after_its_first_cancel_is_finished_by_the_next_click(
    repo: Repository, scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    _apply(repo, scene)
    real_cancel = session_rules.cancel
    calls: list[str] = []

    def dies_on_the_second(*args, **kwargs):
        calls.append("cancel")
        if len(calls) == 2:
            raise RuntimeError("the function timed out here")
        return real_cancel(*args, **kwargs)

    monkeypatch.setattr(session_rules, "cancel", dies_on_the_second)
    with pytest.raises(RuntimeError):
        _pause(repo, scene, "2026-11-30", "2026-12-14")
    # Half done: the pause is saved, one of its two sessions is still booked.
    assert scene.client(repo, scene.priya).skips.pauses
    live = [s for day in (WED_2_DEC, WED_9_DEC) for s in _sessions_on(repo, scene, day)]
    assert sorted(s.is_live for s in live) == [False, True]

    monkeypatch.setattr(session_rules, "cancel", real_cancel)
    again = _pause(repo, scene, "2026-11-30", "2026-12-14")  # the trainer clicks again

    assert again.unchanged and len(again.canceled) == 1
    assert _slot_open_on(repo, scene, WED_2_DEC) and _slot_open_on(repo, scene, WED_9_DEC)
    assert not any(
        s.is_live for day in (WED_2_DEC, WED_9_DEC) for s in _sessions_on(repo, scene, day)
    )


def _index_read_before(
    repo: Repository, scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> tuple[Session, list[Session]]:
    """Wednesday 9 Dec's booked session, and the client's upcoming sessions as the index
    has them now, which every later read of the index is then handed (the index lags)."""
    _apply(repo, scene)
    [booked] = _sessions_on(repo, scene, WED_9_DEC)
    stale = repo.client_upcoming(scene.trainer.id, scene.priya.id, NOW, limit=None)
    monkeypatch.setattr(type(repo), "client_upcoming", lambda self, *a, **k: stale)
    return booked, stale


def test_a_session_read_stale_from_the_index_is_read_again_and_cancelled(
    repo: Repository, scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    booked, stale = _index_read_before(repo, scene, monkeypatch)
    # Marked paid meanwhile: what the index handed over is one version behind.
    paid = session_rules.set_payment(
        repo,
        scene.trainer.id,
        booked,
        session_rules.SetPayment(paid=True, payment_type="cash", version=str(booked.version)),
        NOW,
    )
    # The write itself refuses the stale object...
    with pytest.raises(VersionConflict):
        session_rules.cancel(
            repo,
            scene.trainer.id,
            next(s for s in stale if s.id == booked.id),
            str(booked.version),
            NOW,
        )

    done = _pause(repo, scene, "2026-12-07", "2026-12-13")

    # ...so the cancel read it again, kept what changed, and cancelled it.
    [canceled] = done.canceled
    assert canceled.id == booked.id and canceled.version > paid.version
    after = repo.get_session(scene.trainer.id, SessionRef(booked.week, booked.start_utc, booked.id))
    assert after.status == "canceled" and after.paid
    assert _slot_open_on(repo, scene, WED_9_DEC)


def test_a_session_moved_or_cancelled_since_the_index_read_is_left_as_it_is(
    repo: Repository, scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    booked, _stale = _index_read_before(repo, scene, monkeypatch)
    session_rules.cancel(repo, scene.trainer.id, booked, str(booked.version), NOW)

    done = _pause(repo, scene, "2026-12-07", "2026-12-13")

    assert done.canceled == ()  # nothing cancelled twice, nothing refused
    assert scene.client(repo, scene.priya).skips.pauses

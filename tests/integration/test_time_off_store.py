"""The time-off item: one conditional write per change, so two tabs adding overlapping
periods at once give one period, and a stale list is refused by the write itself."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from chalicelib import runtime
from chalicelib.domain.errors import InvalidInput, VersionConflict
from chalicelib.domain.models import Trainer
from chalicelib.domain.time_off import (
    AddTimeOff,
    RemoveTimeOff,
    TimeOff,
    TimeOffPeriod,
    make_period,
)
from chalicelib.repo import keys
from chalicelib.repo.dynamo import Condition
from chalicelib.repo.repository import Repository
from chalicelib.repo.time_off import TimeOffStore
from chalicelib.services import time_off
from chalicelib.services.deps import Deps
from infra import manage
from tests.support.builders import NOW, add_location, add_slot, make_trainer, trainer_of
from tests.support.moto_tables import table_per_test
from tests.support.pages import counted
from tests.support.race import race
from tests.support.table import unchanged

moto_client, repo = table_per_test()


def _deps(repo: Repository) -> Deps:
    return Deps(repo, runtime.links(), runtime.config(), NOW)


def _form(version: int, first: str, last: str = "", note: str = "") -> AddTimeOff:
    return AddTimeOff.model_validate(
        {"from_day": first, "to_day": last, "note": note, "version": version}
    )


def _period(first: str, last: str = "", new_id: Callable[[], str] = lambda: "p1") -> TimeOffPeriod:
    return make_period(_form(0, first, last), "Europe/London", NOW, (), new_id)


@pytest.fixture
def trainer(repo: Repository) -> Trainer:
    return make_trainer(repo)


def test_periods_round_trip_and_the_set_up_read_holds_them(repo: Repository, trainer) -> None:
    store = repo.time_off
    holiday = _period("2026-12-20", "2027-01-03")
    saved = store.save_time_off(trainer.id, store.get_time_off(trainer.id), [holiday])
    assert saved.version == 1
    assert store.get_time_off(trainer.id) == saved
    (account, held), calls = counted(lambda: store.account_with_time_off(trainer.id))
    assert held == saved and calls == 1
    assert account.setup.locations == []


def test_a_stale_list_is_refused_by_the_write(repo: Repository, trainer) -> None:
    # `unchanged` holds the whole table: the item and the profile's copy are both refused
    store = repo.time_off
    stale = store.get_time_off(trainer.id)
    store.save_time_off(trainer.id, stale, [_period("2026-12-01")])
    with unchanged(repo), pytest.raises(VersionConflict):
        store.save_time_off(trainer.id, stale, [_period("2026-12-02", new_id=lambda: "p2")])
    first = store.get_time_off(trainer.id)
    assert mirrored(repo, trainer) == first
    store.save_time_off(trainer.id, first, [])  # removed
    with unchanged(repo), pytest.raises(VersionConflict):
        store.save_time_off(trainer.id, first, [_period("2026-12-03", new_id=lambda: "p3")])
    assert mirrored(repo, trainer) == store.get_time_off(trainer.id) == TimeOff(version=2)


def mirrored(repo: Repository, trainer: Trainer) -> TimeOff | None:
    """The profile's copy, as the session read gives it to every request."""
    return trainer_of(repo, trainer.id).time_off


def test_a_new_trainer_starts_with_an_empty_copy(repo: Repository, trainer) -> None:
    assert mirrored(repo, trainer) == TimeOff() == repo.time_off.get_time_off(trainer.id)


def test_the_profile_copy_follows_every_add_and_remove(repo: Repository, trainer) -> None:
    deps = _deps(repo)
    store = repo.time_off
    first = time_off.add(deps, trainer, _form(0, "2026-12-01", note="Dentist")).period
    assert mirrored(repo, trainer) == store.get_time_off(trainer.id)
    time_off.add(deps, trainer, _form(1, "2026-12-20", "2027-01-03", note="Holiday"))
    source = store.get_time_off(trainer.id)
    assert mirrored(repo, trainer) == source and len(source.periods) == 2
    removed = time_off.remove(
        deps, trainer, RemoveTimeOff.model_validate({"period": first.id, "version": 2})
    )
    assert removed == first
    source = store.get_time_off(trainer.id)
    assert mirrored(repo, trainer) == source and [p.note for p in source.periods] == ["Holiday"]


def test_a_period_over_leaves_the_copy_with_the_next_save(repo: Repository, trainer) -> None:
    # Only periods not yet over are written: the copy on the profile stays small.
    store = repo.time_off
    store.save_time_off(trainer.id, TimeOff(), [_period("2026-11-24")])
    later = NOW + timedelta(days=3)
    deps = Deps(repo, runtime.links(), runtime.config(), later)
    time_off.add(deps, trainer, _form(1, "2026-12-20"))
    copy = mirrored(repo, trainer)
    assert copy == store.get_time_off(trainer.id)
    assert copy is not None and [p.first_day.isoformat() for p in copy.periods] == ["2026-12-20"]


def test_a_copy_is_never_written_for_a_trainer_without_a_profile(repo: Repository) -> None:
    with unchanged(repo), pytest.raises(VersionConflict):
        repo.time_off.save_time_off("nobody", TimeOff(), [_period("2026-12-01")])


def test_a_form_drawn_before_another_tab_saved_is_refused(repo: Repository, trainer) -> None:
    deps = _deps(repo)
    time_off.add(deps, trainer, _form(0, "2026-12-01"))
    with unchanged(repo), pytest.raises(VersionConflict):
        time_off.add(deps, trainer, _form(0, "2026-12-08"))


def test_two_overlapping_periods_added_at_once_from_stale_reads_give_one(
    repo: Repository, trainer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every thread reads the empty list first, then all write: only the version decides.
    original = TimeOffStore.get_time_off
    empty = original(repo.time_off, trainer.id)
    monkeypatch.setattr(TimeOffStore, "get_time_off", lambda self, tid: empty)
    forms = [_form(0, "2026-12-20", "2026-12-27", f"Tab {i}") for i in range(6)]
    outcomes = race(6, lambda i: time_off.add(_deps(repo), trainer, forms[i]))
    winners = [o for o in outcomes if isinstance(o, time_off.Added)]
    assert len(winners) == 1, outcomes
    assert all(isinstance(o, VersionConflict) for o in outcomes if o not in winners)
    stored = original(repo.time_off, trainer.id)
    assert [p.note for p in stored.periods] == [winners[0].period.note]
    assert mirrored(repo, trainer) == stored  # the losers wrote no copy either


def test_an_overlapping_period_is_refused_with_nothing_written(repo: Repository, trainer) -> None:
    deps = _deps(repo)
    time_off.add(deps, trainer, _form(0, "2026-12-20", "2026-12-27"))
    with unchanged(repo), pytest.raises(InvalidInput) as refused:
        time_off.add(deps, trainer, _form(1, "2026-12-25"))
    assert "overlaps your time off" in refused.value.errors["first_day"]


def test_saving_a_period_removes_the_open_slots_inside_it(repo: Repository, trainer) -> None:
    trainer, studio = add_location(repo, trainer)
    inside = add_slot(repo, trainer, studio)  # Wednesday 25 Nov 09:00
    outside = add_slot(repo, trainer, studio, "11:00", "12:00", day=inside.day.replace(day=26))
    added = time_off.add(_deps(repo), trainer, _form(0, "2026-11-25"))
    assert added.slots_removed == 1
    assert [s.id for s in repo.get_week(trainer.id, inside.week)] == [outside.id]


def _without_copy(repo: Repository, trainer: Trainer) -> None:
    """The profile as written before the copy existed."""
    repo.db.update(keys.profile(trainer.id), Condition("REMOVE #copy", {"#copy": "time_off"}))


def test_the_backfill_copies_the_item_onto_older_profiles_once(repo: Repository, trainer) -> None:
    other = make_trainer(repo, "other@example.com")  # no time off at all
    time_off.add(_deps(repo), trainer, _form(0, "2026-12-20", "2027-01-03", note="Holiday"))
    for who in (trainer, other):
        _without_copy(repo, who)
        assert mirrored(repo, who) is None
    assert manage.main(["time-off-copy", trainer.id, other.id]) == 0
    assert mirrored(repo, trainer) == repo.time_off.get_time_off(trainer.id)
    assert mirrored(repo, other) == TimeOff()
    with unchanged(repo):
        assert manage.time_off_copy([trainer.id, other.id]) == 0  # a second run: nothing


def test_the_backfill_never_overwrites_the_copy_a_save_made_meanwhile(
    repo: Repository, trainer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The backfill read the item before a save; the save wrote its own copy: it stands.
    time_off.add(_deps(repo), trainer, _form(0, "2026-12-01"))
    _without_copy(repo, trainer)
    read_before = repo.time_off.get_time_off(trainer.id)
    time_off.add(_deps(repo), trainer, _form(1, "2026-12-20", note="Holiday"))
    monkeypatch.setattr(TimeOffStore, "get_time_off", lambda self, tid: read_before)
    with unchanged(repo):
        assert repo.time_off.copy_to_profile(trainer.id) is False
    monkeypatch.undo()
    source = repo.time_off.get_time_off(trainer.id)
    assert mirrored(repo, trainer) == source and source.version == 2


def test_saves_racing_the_backfill_leave_the_copy_equal_to_the_item(
    repo: Repository, trainer
) -> None:
    _without_copy(repo, trainer)
    deps = _deps(repo)
    days = ["2026-12-01", "2026-12-03", "2026-12-05"]

    def one(i: int) -> object:
        if i % 2:
            return repo.time_off.copy_to_profile(trainer.id)
        version = repo.time_off.get_time_off(trainer.id).version
        return time_off.add(deps, trainer, _form(version, days[i // 2]))

    race(6, one)
    assert mirrored(repo, trainer) == repo.time_off.get_time_off(trainer.id)

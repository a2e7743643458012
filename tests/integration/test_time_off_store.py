"""The time-off item: one conditional write per change, so two tabs adding overlapping
periods at once give one period, and a stale list is refused by the write itself."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from chalicelib import runtime
from chalicelib.domain.errors import InvalidInput, VersionConflict
from chalicelib.domain.models import Trainer
from chalicelib.domain.time_off import AddTimeOff, TimeOffPeriod, make_period
from chalicelib.repo.repository import Repository
from chalicelib.repo.time_off import TimeOffStore
from chalicelib.services import time_off
from chalicelib.services.deps import Deps
from tests.support.builders import NOW, add_location, add_slot, make_trainer
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
    store = repo.time_off
    stale = store.get_time_off(trainer.id)
    store.save_time_off(trainer.id, stale, [_period("2026-12-01")])
    with unchanged(repo), pytest.raises(VersionConflict):
        store.save_time_off(trainer.id, stale, [_period("2026-12-02", new_id=lambda: "p2")])
    first = store.get_time_off(trainer.id)
    store.save_time_off(trainer.id, first, [])  # removed
    with unchanged(repo), pytest.raises(VersionConflict):
        store.save_time_off(trainer.id, first, [_period("2026-12-03", new_id=lambda: "p3")])


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

"""Keep the template applied on moto: the setting's due item written in the settings
save's own transaction, the weekly run (the Apply template use case, time off kept out),
two runs at once adding nothing twice, and stale runs refused by the write itself."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from chalicelib import runtime
from chalicelib.domain.errors import VersionConflict
from chalicelib.domain.models import Trainer
from chalicelib.domain.settings import SaveSettings
from chalicelib.domain.template import SlotDraft
from chalicelib.domain.time_off import TimeOff, TimeOffPeriod
from chalicelib.domain.timeutil import utc_iso
from chalicelib.repo import keys
from chalicelib.repo.auto_apply import CLAIM_LEASE, AutoApplyStore
from chalicelib.repo.repository import Repository
from chalicelib.services import account, auto_apply
from tests.support.builders import NOW, World, client_now, make_world, trainer_of
from tests.support.pages import counted
from tests.support.race import race
from tests.unit.test_settings import valid_form

WEEKS = ("2026-W48", "2026-W49", "2026-W50")  # this week (Mon 23 Nov) and two ahead
NEXT_MONDAY_RUN = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # 02:00 GMT


def turn_on(repo: Repository, trainer: Trainer, weeks: str = "2", now: datetime = NOW) -> Trainer:
    form = {**valid_form(), "auto_apply": "on", "auto_apply_weeks": weeks}
    command = SaveSettings.model_validate({**form, "version": str(trainer.version)})
    return account.save_settings(runtime.deps(now), trainer, command)


def turn_off(repo: Repository, trainer: Trainer) -> Trainer:
    form = {**valid_form(), "auto_apply": "off", "version": str(trainer.version)}
    return account.save_settings(runtime.deps(NOW), trainer, SaveSettings.model_validate(form))


@pytest.fixture
def world(repo: Repository) -> World:
    """Wednesday 18:00 and Thursday 07:00 at the studio; Priya holds Wednesday."""
    scene = make_world(repo)
    setup = repo.get_setup(scene.trainer.id)
    template = setup.template.with_slot(
        "wed",
        SlotDraft(weekday=2, start=18 * 60, end=19 * 60, location_id=scene.studio),
        setup.locations,
    )
    template = template.with_slot(
        "thu",
        SlotDraft(weekday=3, start=7 * 60, end=8 * 60, location_id=scene.studio),
        setup.locations,
    )
    repo.save_template(scene.trainer.id, setup.template, template, scene.studio)
    priya = repo.save_client(
        scene.trainer.id, client_now(repo, scene.trainer.id, scene.priya), recurring=("wed",)
    )
    return World(scene.trainer, scene.studio, scene.park, priya, scene.omar)


def run(repo: Repository, now: datetime = NOW) -> auto_apply.AutoApplyReport:
    return auto_apply.run_due(repo, runtime.links(), now)


def week_counts(repo: Repository, trainer_id: str, weeks=WEEKS) -> list[tuple[int, int]]:
    """(slots, booked sessions) per week."""
    out = []
    for week in weeks:
        found = repo.get_week_with_sessions(trainer_id, week)
        out.append((len(found.slots), sum(s.is_live for s in found.sessions)))
    return out


def feed_texts(repo: Repository, trainer_id: str) -> list[str]:
    return [e.text for e in repo.activity.feed(trainer_id)]


def test_turning_it_on_makes_a_run_due_now_and_off_removes_it(repo: Repository, world) -> None:
    store = AutoApplyStore(repo.db)
    assert store.due(NOW) == []  # off by default: nobody to find
    trainer = turn_on(repo, world.trainer)
    assert trainer_of(repo, trainer.id).settings.auto_apply_weeks == 2
    [due] = store.due(NOW)
    assert due.trainer_id == trainer.id and due.run_at == NOW
    assert due.due_sk == keys.due_sk(utc_iso(NOW), trainer.id)
    turn_off(repo, trainer)
    assert store.get(trainer.id) is None and store.due(NOW) == []
    assert trainer_of(repo, trainer.id).settings.auto_apply_weeks is None


def test_a_stale_settings_form_writes_neither_the_setting_nor_the_due_item(
    repo: Repository, world
) -> None:
    stale = world.trainer
    turn_on(repo, stale)  # another tab
    with pytest.raises(VersionConflict):
        turn_on(repo, stale, weeks="5", now=NOW + timedelta(hours=1))
    assert trainer_of(repo, stale.id).settings.auto_apply_weeks == 2
    [due] = AutoApplyStore(repo.db).due(NOW + timedelta(hours=2))
    assert due.run_at == NOW  # not moved by the refused save


def test_a_form_from_before_the_setting_keeps_it(repo: Repository, world) -> None:
    trainer = turn_on(repo, world.trainer)
    form = {**valid_form(), "version": str(trainer.version)}  # no auto_apply field
    account.save_settings(runtime.deps(NOW), trainer, SaveSettings.model_validate(form))
    assert trainer_of(repo, trainer.id).settings.auto_apply_weeks == 2
    assert AutoApplyStore(repo.db).get(trainer.id) is not None


def test_a_run_applies_this_week_through_n_ahead_and_books_the_recurring_client(
    repo: Repository, world
) -> None:
    trainer = turn_on(repo, world.trainer)
    report, calls = counted(lambda: run(repo))
    assert (report.due, report.claimed, report.applied) == (1, 1, [trainer.id])
    assert week_counts(repo, trainer.id) == [(2, 1), (2, 1), (2, 1)]
    assert feed_texts(repo, trainer.id) == [
        "Template applied automatically to W48–W50: 6 slots added, "
        "3 recurring clients booked, 0 skipped (time off)"
    ]
    # Due-work Query, claim, profile, set-up read, Priya, 2 per week, the checklist's
    # "template applied" mark (the first time only), the last move with the feed line.
    assert calls == 1 + 1 + 1 + 1 + 1 + 2 * len(WEEKS) + 1 + 1
    due = AutoApplyStore(repo.db).get(trainer.id)
    assert due is not None and due.run_at == NEXT_MONDAY_RUN
    assert due.applied_through == "2026-W50"
    # Nothing is due until Monday 02:00: an idle run is one Query.
    idle, calls = counted(lambda: run(repo, NOW + timedelta(hours=1)))
    assert (idle.due, calls) == (0, 1)


def test_the_next_monday_applies_only_the_week_that_came_into_range(
    repo: Repository, world
) -> None:
    trainer = turn_on(repo, world.trainer)
    run(repo)
    # The trainer removes W50's Thursday slot by hand: no later run puts it back.
    thursday = next(s for s in repo.get_week(trainer.id, "2026-W50") if s.template_slot_id == "thu")
    repo.remove_slot(trainer.id, thursday, NOW)
    later = NEXT_MONDAY_RUN + timedelta(minutes=5)
    report, calls = counted(lambda: run(repo, later))
    assert report.applied == [trainer.id]
    # Due-work Query, claim, profile, set-up read, Priya, W51's 2, the last move.
    assert calls == 8
    assert week_counts(repo, trainer.id, ("2026-W50", "2026-W51")) == [(1, 1), (2, 1)]
    assert feed_texts(repo, trainer.id)[0] == (
        "Template applied automatically to W51: 2 slots added, "
        "1 recurring client booked, 0 skipped (time off)"
    )
    due = AutoApplyStore(repo.db).get(trainer.id)
    assert due is not None and due.run_at == datetime(2026, 12, 7, 2, 0, tzinfo=UTC)


def test_time_off_gets_no_slot_and_no_booking_and_the_line_counts_it(
    repo: Repository, world
) -> None:
    holiday = TimeOffPeriod(
        id="hol",
        first_day=date(2026, 12, 2),
        last_day=date(2026, 12, 3),
        start_utc=datetime(2026, 12, 2, tzinfo=UTC),
        end_utc=datetime(2026, 12, 4, tzinfo=UTC),
        note="Holiday",
    )
    repo.time_off.save_time_off(world.trainer.id, TimeOff(), [holiday])
    trainer = turn_on(repo, world.trainer)
    run(repo)
    assert week_counts(repo, trainer.id) == [(2, 1), (0, 0), (2, 1)]
    assert feed_texts(repo, trainer.id)[0].endswith(
        "4 slots added, 2 recurring clients booked, 2 skipped (time off)"
    )


def test_two_runs_at_once_apply_the_weeks_once(repo: Repository, world) -> None:
    trainer = turn_on(repo, world.trainer)
    reports = race(4, lambda _i: run(repo))
    assert not [r for r in reports if isinstance(r, Exception)]
    assert sum(r.claimed for r in reports) == 1
    assert sum(r.stale for r in reports) == 3 - sum(r.due == 0 for r in reports)
    assert week_counts(repo, trainer.id) == [(2, 1), (2, 1), (2, 1)]
    assert len(feed_texts(repo, trainer.id)) == 1


def test_a_run_working_from_a_stale_read_is_refused_by_its_claim(repo: Repository, world) -> None:
    trainer = turn_on(repo, world.trainer)
    store = AutoApplyStore(repo.db)
    [seen] = store.due(NOW)  # a second run read the item here...
    run(repo)  # ...while the first one applied the weeks and moved it on
    assert store.claim(seen, NOW) is None  # the write itself refuses
    assert week_counts(repo, trainer.id) == [(2, 1), (2, 1), (2, 1)]
    assert len(feed_texts(repo, trainer.id)) == 1


def test_a_run_whose_lease_ran_out_is_retried_and_adds_nothing_twice(
    repo: Repository, world
) -> None:
    trainer = turn_on(repo, world.trainer)
    store = AutoApplyStore(repo.db)
    [seen] = store.due(NOW)
    dead = store.claim(seen, NOW)  # a run that died after claiming, before applying all
    assert dead is not None
    assert run(repo, NOW + CLAIM_LEASE - timedelta(minutes=1)).due == 0  # still held
    retry = run(repo, NOW + CLAIM_LEASE + timedelta(minutes=1))
    assert retry.applied == [trainer.id]
    # The dead run comes back to life and finishes: its lease is not the item's any more.
    assert store.finish(dead, NEXT_MONDAY_RUN, "2026-W50", None) is False
    assert week_counts(repo, trainer.id) == [(2, 1), (2, 1), (2, 1)]
    assert len(feed_texts(repo, trainer.id)) == 1


def test_a_setting_changed_during_a_run_keeps_the_new_schedule(repo: Repository, world) -> None:
    trainer = turn_on(repo, world.trainer)
    store = AutoApplyStore(repo.db)
    [seen] = store.due(NOW)
    claimed = store.claim(seen, NOW)
    assert claimed is not None
    trainer = turn_on(repo, trainer_of(repo, trainer.id), weeks="4", now=NOW + timedelta(minutes=1))
    assert auto_apply.apply_for(repo, runtime.links(), store, claimed, NOW) is False
    due = store.get(trainer.id)
    assert due is not None and due.run_at == NOW + timedelta(minutes=1)  # as the save made it
    assert len(feed_texts(repo, trainer.id)) == 1  # the weeks were applied: the line says so
    # The new number is applied by the run the save made due; what is there stays.
    assert run(repo, NOW + timedelta(minutes=2)).applied == [trainer.id]
    weeks = (*WEEKS, "2026-W51", "2026-W52")
    assert week_counts(repo, trainer.id, weeks) == [(2, 1)] * 5

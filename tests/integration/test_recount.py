"""The operator's recount (`python -m infra.manage figures-recount`): counters lost (an
account from before them) are rebuilt equal to a recomputation from the sessions, the
pack sale counters are kept, and the pack totals come back from the bundles."""

from __future__ import annotations

from datetime import timedelta

from chalicelib.domain import figures
from chalicelib.repo import keys
from chalicelib.repo.repository import Repository
from chalicelib.services import account, packs
from infra import manage
from tests.integration.test_pack_races import _pay
from tests.integration.test_program_bundles import (
    NOW,
    Studio,
    add_person,
    bundle_weeks,
    new_bundle,
)
from tests.integration.test_repository import make_trainer
from tests.support.figures import kept_figures, recomputed


def _studio(repo: Repository) -> Studio:
    trainer = make_trainer(repo)
    location = account.add_location(repo, trainer.id, "Studio")
    refreshed = repo.get_trainer(trainer.id)
    assert refreshed is not None
    return Studio(refreshed, location.id, add_person(repo, refreshed, location.id, "Priya"))


def _wipe(repo: Repository, trainer_id: str) -> None:
    for item in repo.db.query(keys.figures_pk(trainer_id)):
        repo.db.delete({keys.PK: item[keys.PK], keys.SK: item[keys.SK]})


def test_a_recount_rebuilds_lost_counters_equal_to_the_sessions(repo: Repository) -> None:
    studio = _studio(repo)
    tid = studio.trainer.id
    bundle = new_bundle(repo, studio, count=12, price="540")  # Tuesdays 1 Dec to 16 Feb
    _pay(repo, studio, bundle, "cash")
    packs.run_notices(repo, NOW + timedelta(days=16))  # two places used
    expected = kept_figures(repo, tid)
    assert expected == recomputed(repo, tid, bundle_weeks(12))
    sold = repo.db.get(keys.figures(tid, "M#2026-11")) or {}
    assert int(sold[figures.PACKS_SOLD]) == 1
    _wipe(repo, tid)
    # the sale counters cannot be rebuilt from sessions: one kept is left as it is
    repo.db.put({**keys.figures(tid, "M#2026-11"), figures.PACKS_SOLD: 1, "type": "figures"})
    manage.main(["figures-recount", "2026-11", "2027-02", tid])
    assert kept_figures(repo, tid) == expected
    assert repo.figures.pack_totals(tid) == (12, 2)
    again = repo.db.get(keys.figures(tid, "M#2026-11")) or {}
    assert int(again[figures.PACKS_SOLD]) == 1


def test_a_recount_leaves_weeks_running_out_of_the_range_and_months_outside_it(
    repo: Repository,
) -> None:
    studio = _studio(repo)
    tid = studio.trainer.id
    new_bundle(repo, studio, count=12, price="540")
    before = kept_figures(repo, tid)
    _wipe(repo, tid)
    manage.main(["figures-recount", "2027-01", "2027-01", tid])
    kept = kept_figures(repo, tid)
    assert set(kept) == {
        p
        for p in before
        if p == "M#2027-01" or p in {"W#2027-W01", "W#2027-W02", "W#2027-W03", "W#2027-W04"}
    }
    for period, counts in kept.items():
        assert counts == before[period]

"""Keep the template applied (issue 15 item 3): who is due a weekly run, and the writes
that make one run apply a week once.

Each trainer with the setting on has one item (`keys.auto_apply`) in the sparse DueWork
index, `DueSK = <when>#<tid>`:
- the settings save writes it (or deletes it) in the same transaction as the settings,
  so the index and the setting never disagree;
- a run claims it by moving `DueSK` to a lease, conditional on the `DueSK` it read: of
  two runs at once one claims, the other's claim is refused and it does nothing. A run
  that dies holding a claim is retried once the lease is over (Apply template adds only
  what is missing, so a retry adds nothing twice);
- the run ends by moving `DueSK` to the next weekly run, conditional on its own lease, in
  one transaction with the Activity feed line, whose key is made from the run's
  scheduled instant: a second line for one run is refused by `attribute_not_exists`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from chalicelib.domain.errors import VersionConflict
from chalicelib.domain.models import Trainer
from chalicelib.domain.settings import TrainerSettings
from chalicelib.domain.timeutil import parse_utc_iso, utc_iso
from chalicelib.repo import keys
from chalicelib.repo.activity import ActivityEntry, activity_to_item
from chalicelib.repo.dynamo import (
    Condition,
    ConditionFailed,
    Db,
    Item,
    TransactionFailed,
    new_item,
    tx_delete,
    tx_put,
    tx_update,
)
from chalicelib.repo.outbox import due_items
from chalicelib.repo.parts import PROFILE_AT_VERSION, settings_at_version

KIND: Final = keys.AUTO_APPLY_KIND
SCHEDULE_RUN: Final = "schedule auto-apply run"
RUN_STILL_OURS: Final = "auto-apply run still ours"
RUN_SUMMARY: Final = "auto-apply summary"
# Longer than a scheduled function may run (15 minutes), so a live run never loses it.
CLAIM_LEASE: Final = timedelta(minutes=20)


@dataclass(frozen=True)
class DueRun:
    trainer_id: str
    due_sk: str  # as read (or as claimed): every write of the run is conditional on it
    run_at: datetime  # the run's scheduled instant: names its Activity feed line
    applied_through: str | None  # the last week a run applied (None: none since turned on)


def _due_run(item: Item) -> DueRun:
    return DueRun(
        trainer_id=item["trainer_id"],
        due_sk=item[keys.DUE_SK],
        run_at=parse_utc_iso(item["run_at"]),
        applied_through=item.get("applied_through"),
    )


def _due_is(seen: str) -> Condition:
    return Condition("#due_sk = :seen", {"#due_sk": keys.DUE_SK}, {":seen": seen})


def schedule_run_part(trainer_id: str, weeks: int | None, now: datetime) -> dict[str, Any]:
    """The trainer's due item as the setting now says: turned on or to another number of
    weeks, a run is due at once (it applies only weeks no run applied yet); turned off,
    the item goes. Part of the settings save that changes the setting."""
    if weeks is None:
        return tx_delete(keys.auto_apply(trainer_id), part=SCHEDULE_RUN)
    # An Update, not a Put: the weeks already applied stay applied.
    return tx_update(
        keys.auto_apply(trainer_id),
        Condition(
            "SET #type = :type, #trainer = :tid, #run_at = :at, "
            "#due_pk = :due_pk, #due_sk = :due_sk",
            {
                "#type": "type",
                "#trainer": "trainer_id",
                "#run_at": "run_at",
                "#due_pk": keys.DUE_PK,
                "#due_sk": keys.DUE_SK,
            },
            {
                ":type": "auto-apply",
                ":tid": trainer_id,
                ":at": utc_iso(now),
                ":due_pk": keys.due_work(KIND),
                ":due_sk": keys.due_sk(utc_iso(now), trainer_id),
            },
        ),
        part=SCHEDULE_RUN,
    )


class AutoApplyStore:
    def __init__(self, db: Db) -> None:
        self.db = db

    # The settings save ------------------------------------------------------------------
    def save_settings(self, trainer: Trainer, settings: TrainerSettings, now: datetime) -> Trainer:
        """Settings whose auto-apply changed, with the trainer's due item in the same
        transaction: turned on or to another number of weeks, a run is due at once (it
        applies only weeks no run applied yet); turned off, the item goes."""
        updated, profile = settings_at_version(trainer, settings)
        operations = [profile, schedule_run_part(trainer.id, settings.auto_apply_weeks, now)]
        try:
            self.db.transact(operations)
        except TransactionFailed as exc:
            if exc.refused(PROFILE_AT_VERSION):
                raise VersionConflict() from exc
            raise
        return updated

    def get(self, trainer_id: str) -> DueRun | None:
        item = self.db.get(keys.auto_apply(trainer_id))
        return _due_run(item) if item else None

    # The weekly run ---------------------------------------------------------------------
    def due(self, now: datetime, limit: int = 100) -> list[DueRun]:
        """Trainers whose run is due (or whose run's lease ran out), oldest first."""
        return [_due_run(item) for item in due_items(self.db, KIND, now, limit)]

    def claim(self, run: DueRun, now: datetime) -> DueRun | None:
        """This run's, if the item is still as read; None: another run has it (or the
        trainer changed the setting meanwhile)."""
        leased = keys.due_sk(utc_iso(now + CLAIM_LEASE), run.trainer_id)
        try:
            self.db.update(
                keys.auto_apply(run.trainer_id),
                Condition("SET #due_sk = :lease", {"#due_sk": keys.DUE_SK}, {":lease": leased}),
                _due_is(run.due_sk),
            )
        except ConditionFailed:
            return None
        return DueRun(run.trainer_id, leased, run.run_at, run.applied_through)

    def finish(
        self,
        run: DueRun,
        next_run: datetime,
        applied_through: str | None,
        entry: ActivityEntry | None,
    ) -> bool:
        """Schedule the next run and write the run's feed line, together. False if the run
        was no longer ours (the setting changed meanwhile): the line is still written, as
        the weeks were applied, and the item is left as the settings save made it."""
        sets = "#due_sk = :next_sk, #run_at = :next_at"
        names = {"#due_sk": keys.DUE_SK, "#run_at": "run_at"}
        values: dict[str, str] = {
            ":next_sk": keys.due_sk(utc_iso(next_run), run.trainer_id),
            ":next_at": utc_iso(next_run),
        }
        if applied_through is not None:
            sets += ", #through = :through"
            names["#through"] = "applied_through"
            values[":through"] = applied_through
        move = tx_update(
            keys.auto_apply(run.trainer_id),
            Condition(f"SET {sets}", names, values),
            _due_is(run.due_sk),
            part=RUN_STILL_OURS,
        )
        if entry is None:
            try:
                self.db.transact([move])
            except TransactionFailed:
                return False
            return True
        line = activity_to_item(run.trainer_id, entry)
        try:
            self.db.transact([move, tx_put(line, new_item(), part=RUN_SUMMARY)])
            return True
        except TransactionFailed as exc:
            ours = not exc.refused(RUN_STILL_OURS)
        if ours:  # only the line was refused: this run's line is there already
            self.db.transact([move])
            return True
        with contextlib.suppress(ConditionFailed):
            self.db.put(line, new_item())
        return False

    def drop(self, run: DueRun) -> None:
        """The setting is off but the item is there (written outside the app): no run."""
        with contextlib.suppress(ConditionFailed):
            self.db.delete(keys.auto_apply(run.trainer_id), _due_is(run.due_sk))

"""Keep the template applied (issue 15 item 3): the hourly job that applies each due
trainer's template with the same use case as the Apply template button.

What a run applies, when, and what it never touches: docs/auto-apply.md. Why two runs at
once apply a week once: `repo/auto_apply.py`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from chalicelib.domain.schedule import MAX_WEEKS_AT_ONCE
from chalicelib.domain.settings import (
    auto_apply_summary,
    auto_apply_weeks,
    next_auto_apply_run,
)
from chalicelib.domain.timeutil import local_today, week_key
from chalicelib.repo.activity import ActivityEntry
from chalicelib.repo.auto_apply import AutoApplyStore, DueRun
from chalicelib.repo.repository import Repository
from chalicelib.services.links import Links
from chalicelib.services.schedule import AppliedWeek, apply_template

log = logging.getLogger("pt_bookings.jobs")

# How `domain/time_off.keep_out_of_time_off` words its skips (pinned by a unit test), so
# the summary can count them apart from the other reasons.
TIME_OFF_REASON = "it is in your time off"
# Skips that are not news to the trainer: the slot is there, or its time has passed.
UNREMARKABLE_REASONS = ("it is already there", "it is in the past")
# Below this many milliseconds left, a run takes no further trainer (the next run will).
RESERVE_MS = 60_000


@dataclass
class AutoApplyReport:
    kind: str = "auto-apply"
    due: int = 0
    claimed: int = 0
    applied: list[str] = field(default_factory=list)  # trainer ids whose run completed
    stale: int = 0  # claims refused: another run has it, or the setting changed
    failed: list[str] = field(default_factory=list)  # retried once their lease is over
    stopped_early: bool = False


@dataclass(frozen=True)
class RunCounts:
    added: int
    booked: int
    time_off: int
    other_skips: int
    left_open: int


def count(results: list[AppliedWeek]) -> RunCounts:
    skips = [skip for r in results for skip in r.plan.skipped]
    time_off = sum(skip.reason.startswith(TIME_OFF_REASON) for skip in skips)
    other = sum(
        not skip.reason.startswith((TIME_OFF_REASON, *UNREMARKABLE_REASONS)) for skip in skips
    )
    return RunCounts(
        added=sum(len(r.added) for r in results),
        booked=sum(len(r.booked) for r in results),
        time_off=time_off,
        other_skips=other,
        left_open=sum(len(r.left_open) for r in results),
    )


def summary_entry(
    trainer_id: str, run: DueRun, weeks: list[str], counts: RunCounts
) -> ActivityEntry:
    """The run's feed line. Its id is the trainer and the run's week, and its instant the
    run's scheduled one, so a second write of one run lands on the same key and is refused."""
    return ActivityEntry(
        id=f"auto-apply-{trainer_id}-{weeks[0]}",
        at=run.run_at,
        actor="system",
        client_name="",
        text=auto_apply_summary(
            weeks,
            counts.added,
            counts.booked,
            counts.time_off,
            counts.other_skips,
            counts.left_open,
        ),
        session_ref="",
    )


def run_due(
    repo: Repository,
    links: Links,
    now: datetime,
    *,
    time_left: Callable[[], int] | None = None,
) -> AutoApplyReport:
    """Every trainer whose weekly run is due: claim it, apply, schedule the next."""
    store = AutoApplyStore(repo.db)
    report = AutoApplyReport()
    for due in store.due(now):
        report.due += 1
        if time_left is not None and time_left() < RESERVE_MS:
            report.stopped_early = True
            break
        claimed = store.claim(due, now)
        if claimed is None:
            report.stale += 1
            continue
        report.claimed += 1
        try:
            if apply_for(repo, links, store, claimed, now):
                report.applied.append(claimed.trainer_id)
        except Exception:
            # Left claimed: the lease runs out and a later run tries again.
            log.exception("auto-apply failed for trainer %s", claimed.trainer_id)
            report.failed.append(claimed.trainer_id)
    return report


def apply_for(
    repo: Repository, links: Links, store: AutoApplyStore, run: DueRun, now: datetime
) -> bool:
    """One claimed run: the weeks no run applied yet, through N weeks ahead."""
    trainer = repo.get_trainer(run.trainer_id)
    weeks_ahead = trainer.settings.auto_apply_weeks if trainer else None
    if trainer is None or weeks_ahead is None:
        store.drop(run)
        return False
    zone = trainer.settings.time_zone
    weeks = auto_apply_weeks(week_key(local_today(now, zone)), run.applied_through, weeks_ahead)
    results: list[AppliedWeek] = []
    # The Apply template use case itself, so the button's rules hold here too: time off
    # gets no slot, existing slots and bookings are left alone, a recurring client with a
    # session of theirs that week is not booked again. Pauses and skipped weeks
    # (issue 15 item 2) belong in `apply_template` for the same reason: once it honours
    # them, this run does with no change here.
    for start in range(0, len(weeks), MAX_WEEKS_AT_ONCE):
        chunk = weeks[start : start + MAX_WEEKS_AT_ONCE]
        results += apply_template(repo, links, trainer, chunk[0], len(chunk), now)
    entry = summary_entry(trainer.id, run, weeks, count(results)) if weeks else None
    through = weeks[-1] if weeks else run.applied_through
    return store.finish(run, next_auto_apply_run(now, zone), through, entry)

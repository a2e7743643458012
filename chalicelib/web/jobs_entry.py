"""Entry points of the scheduled functions (kept out of app.py, which only registers).

Like a request, each run is handed its dependencies by the composition root, with one
`now` for the whole run."""

from __future__ import annotations

import dataclasses
import logging
import os

from chalicelib import observability, runtime

log = logging.getLogger("pt_bookings.jobs")


def _begin_run(job: str, context: object | None) -> None:
    """Every line of this run carries Lambda's request id (the one its START, REPORT and
    error lines carry) and the job's name."""
    observability.begin(str(getattr(context, "aws_request_id", "") or ""), job=job)


def expire_offer_locks(context: object | None = None) -> dict:
    from chalicelib.services import offers  # deferred: web requests never load it

    _begin_run("expire_offer_locks", context)
    deps = runtime.deps()
    report = offers.expire_locks(deps.repo, deps.now)
    if report.due:
        log.info("offer locks: %s due, %s released", report.due, report.claimed)
    return dataclasses.asdict(report)


def dispatch_messages(context: object | None = None) -> dict:
    """`context` is the Lambda context: the run stops taking work when its time runs low."""
    from chalicelib.services import dispatcher  # deferred: web requests never load it

    _begin_run("dispatch_messages", context)
    deps = runtime.deps()
    # Only a real Lambda's clock: Chalice's local context counts down from a made-up 3 s.
    deployed = bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))
    time_left = getattr(context, "get_remaining_time_in_millis", None) if deployed else None
    report = dispatcher.dispatch(deps.repo, deps.now, runtime.message_sender(), time_left=time_left)
    if report.paused or report.stopped_early:
        log.warning(
            "messages: paused %s, %s deferred, stopped early: %s",
            report.paused,
            len(report.deferred),
            report.stopped_early,
        )
    if report.due:
        log.info(
            "messages: %s due, %s claimed, %s sent, %s retried, %s failed",
            report.due,
            report.claimed,
            report.sent,
            len(report.retried),
            len(report.failed),
        )
    return dataclasses.asdict(report)


def queue_reminders(context: object | None = None) -> dict:
    """Queue the reminders due before sessions (each once); the dispatcher sends them."""
    from chalicelib.services import reminders  # deferred: web requests never load it

    _begin_run("queue_reminders", context)
    deps = runtime.job_deps()
    deployed = bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))
    time_left = getattr(context, "get_remaining_time_in_millis", None) if deployed else None
    report = reminders.queue_reminders(deps.repo, deps.base_url, deps.now, time_left=time_left)
    if report.not_configured:
        log.warning("reminders: %s", report.not_configured)
    if report.due:
        log.info(
            "reminders: %s due, %s queued, %s passed with none, %s changed meanwhile",
            report.due,
            report.claimed,
            report.skipped,
            report.stale,
        )
    # The packs down to 2 sessions ride on the same 5-minute run: a notice is one Query
    # and one write a bundle, and a separate schedule would be one more function to run.
    from chalicelib.services import packs  # deferred: web requests never load it

    notices = packs.run_notices(deps.repo, deps.now)
    if notices.looked:
        log.info(
            "packs: %s looked at, %s told to the trainer, %s filed for later",
            notices.looked,
            notices.noticed,
            notices.filed,
        )
    return {**dataclasses.asdict(report), "packs": dataclasses.asdict(notices)}


def apply_templates(context: object | None = None) -> dict:
    """Keep each template applied for the trainers who turned it on (docs/auto-apply.md)."""
    from chalicelib.services import auto_apply  # deferred: web requests never load it

    _begin_run("apply_templates", context)
    deps = runtime.deps()
    deployed = bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))
    time_left = getattr(context, "get_remaining_time_in_millis", None) if deployed else None
    report = auto_apply.run_due(deps.repo, deps.links, deps.now, time_left=time_left)
    if report.failed or report.stopped_early:
        log.warning(
            "auto-apply: %s failed (retried later), stopped early: %s",
            len(report.failed),
            report.stopped_early,
        )
    if report.due:
        log.info(
            "auto-apply: %s due, %s claimed, %s applied, %s taken by another run",
            report.due,
            report.claimed,
            len(report.applied),
            report.stale,
        )
    return dataclasses.asdict(report)

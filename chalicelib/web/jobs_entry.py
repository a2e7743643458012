"""Entry points of the scheduled functions (kept out of app.py, which only registers)."""

from __future__ import annotations

import dataclasses
import logging

from chalicelib import runtime
from chalicelib.services import jobs

log = logging.getLogger("pt_bookings.jobs")


def _run(kind: str) -> dict:
    report = jobs.run_due_work(runtime.repository(), kind, runtime.now())
    if report.due:
        log.info("%s: %s due, %s claimed", kind, report.due, report.claimed)
    return dataclasses.asdict(report)


def expire_offer_locks() -> dict:
    return _run(jobs.OFFER_LOCK)


def dispatch_messages() -> dict:
    from chalicelib.services import dispatcher  # deferred: web requests never load it

    report = dispatcher.dispatch(runtime.repository(), runtime.now())
    if report.due:
        log.info(
            "messages: %s due, %s claimed, %s retried, %s failed",
            report.due,
            report.claimed,
            len(report.retried),
            len(report.failed),
        )
    return dataclasses.asdict(report)

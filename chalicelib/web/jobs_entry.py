"""Entry points of the scheduled functions (kept out of app.py, which only registers).

Like a request, each run is handed its dependencies by the composition root, with one
`now` for the whole run."""

from __future__ import annotations

import dataclasses
import logging

from chalicelib import runtime

log = logging.getLogger("pt_bookings.jobs")


def expire_offer_locks() -> dict:
    from chalicelib.services import offers  # deferred: web requests never load it

    deps = runtime.deps()
    report = offers.expire_locks(deps.repo, deps.now)
    if report.due:
        log.info("offer locks: %s due, %s released", report.due, report.claimed)
    return dataclasses.asdict(report)


def dispatch_messages() -> dict:
    from chalicelib.services import dispatcher  # deferred: web requests never load it

    deps = runtime.deps()
    report = dispatcher.dispatch(deps.repo, deps.now, runtime.message_sender())
    if report.due:
        log.info(
            "messages: %s due, %s claimed, %s retried, %s failed",
            report.due,
            report.claimed,
            len(report.retried),
            len(report.failed),
        )
    return dataclasses.asdict(report)

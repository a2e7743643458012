"""Entry points of the scheduled functions (kept out of app.py, which only registers)."""

from __future__ import annotations

import dataclasses
import logging

from chalicelib import runtime

log = logging.getLogger("pt_bookings.jobs")


def expire_offer_locks() -> dict:
    from chalicelib.services import offers  # deferred: web requests never load it

    report = offers.expire_locks(runtime.repository(), runtime.now())
    if report.due:
        log.info("offer locks: %s due, %s released", report.due, report.claimed)
    return dataclasses.asdict(report)


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

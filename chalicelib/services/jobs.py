"""Scheduled work: claim what is due from the sparse DueWork index and hand it on.

Items that need a job to act on them at a given time carry `DuePK = DUE#<kind>` and
`DueSK = <utc instant>#...`. A run Queries its kind's partition up to "now" and claims
each item with a conditional update that removes the index attributes, so two runs at
once never process the same item and nothing is ever Scanned.

Kinds and what handles them:
- `offer-lock`: expire_offer_locks, releasing expired last-minute locks (offers issue).
- `message`: dispatch_messages, sending queued outbox messages. It has its own claim
  (queued -> sending with a lease, see `dispatcher`), so it does not go through
  `run_due_work`.
Until offers land no item carries an `offer-lock` due-work key, so those runs find nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from chalicelib.repo.dynamo import Item
from chalicelib.repo.repository import Repository

log = logging.getLogger("pt_bookings.jobs")

OFFER_LOCK = "offer-lock"
MESSAGE = "message"

Handler = Callable[[Repository, Item, datetime], None]
HANDLERS: dict[str, Handler] = {}


@dataclass
class JobReport:
    kind: str
    due: int = 0
    claimed: int = 0
    failed: list[str] = field(default_factory=list)
    retried: list[str] = field(default_factory=list)


def register(kind: str) -> Callable[[Handler], Handler]:
    def decorator(handler: Handler) -> Handler:
        HANDLERS[kind] = handler
        return handler

    return decorator


def run_due_work(repo: Repository, kind: str, now: datetime) -> JobReport:
    report = JobReport(kind)
    handler = HANDLERS.get(kind)
    for item in repo.due_work(kind, now):
        report.due += 1
        if handler is None:
            # Never claim work nobody can do: it stays due for the code that handles it.
            log.warning("no handler for due work of kind %s", kind)
            continue
        if not repo.claim_due_work(item):
            continue  # another run took it
        report.claimed += 1
        try:
            handler(repo, item, now)
        except Exception:  # one bad item must not stop the rest of the batch
            log.exception("due work %s failed for %s", kind, item.get("SK"))
            report.failed.append(str(item.get("SK")))
    return report

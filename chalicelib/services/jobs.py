"""Scheduled work: what is due is found through the sparse DueWork index, never a Scan.

Items that need a job to act on them at a given time carry `DuePK = DUE#<kind>` and
`DueSK = <utc instant>#<id>`. A run Queries its kind's partition up to "now" and acts on
each item with a conditional write, so two runs at once never act on one item twice.

Kinds and their jobs:
- `offer-lock`: expire_offer_locks (`services/offers.expire_locks`) releases a lock once
  its time has run out, conditional on it still being that offer.
- `message`: dispatch_messages (`services/dispatcher.dispatch`) claims a queued message
  (queued -> sending, with a lease) and records the outcome.
- `auto-apply`: apply_templates (`services/auto_apply.run_due`) applies a trainer's weekly
  template N weeks ahead once a week, by their setting (docs/auto-apply.md).
- `reminder`: queue_reminders (`services/reminders.queue_reminders`) queues a session's
  reminder once, 24 h and 2 h before it, by the trainer's setting (docs/reminders.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chalicelib.repo.outbox import MESSAGE_DUE_KIND
from chalicelib.repo.repository import OFFER_LOCK_KIND

OFFER_LOCK = OFFER_LOCK_KIND
MESSAGE = MESSAGE_DUE_KIND


@dataclass
class JobReport:
    kind: str
    due: int = 0
    claimed: int = 0
    failed: list[str] = field(default_factory=list)
    retried: list[str] = field(default_factory=list)

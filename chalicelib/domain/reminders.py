"""Automatic reminders before a session: when each is due, and whether it still goes.

A trainer chooses off (the default), 24 h, 2 h or both (Settings); a client can be left
out on their profile, or leave by STOP / the portal's toggle. The rules, all in real
(UTC) time, so a change of the clocks never moves a reminder:

- A reminder with lead L is due at `start - L`: a 24 h reminder is 24 real hours before,
  even when the clocks change overnight (it then reads 08:00 the day before a 09:00
  session, or 10:00), because "in 24 hours" is what the client plans by.
- It is not sent when the session was booked (or moved there) after that moment: the
  booking's own confirmation has just told the client, and a "reminder" a minute later
  is noise.
- It is not sent when less than half its lead is left (the job was down, the keys were
  backfilled late): a "24 h" reminder three hours before would arrive beside the 2 h one
  and mislead. So a 24 h reminder goes between 24 h and 12 h before, a 2 h one between
  2 h and 1 h before.

Every session is visited at each stage (24 h, then 2 h before) whatever the setting: the
setting decides only whether a message goes, so turning reminders on (or off) applies
to every upcoming session from its next stage, with nothing to rewrite.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

ReminderChoice = Literal["off", "24h", "2h", "both"]

DAY_BEFORE: Final = timedelta(hours=24)
HOURS_BEFORE: Final = timedelta(hours=2)
# The stages every booked session passes through, earliest first.
LEADS: Final = (DAY_BEFORE, HOURS_BEFORE)

CHOICES: Final[dict[str, tuple[timedelta, ...]]] = {
    "off": (),
    "24h": (DAY_BEFORE,),
    "2h": (HOURS_BEFORE,),
    "both": (DAY_BEFORE, HOURS_BEFORE),
}


def first_stage(start_utc: datetime) -> datetime:
    """When a booked session is first due for a look: its earliest possible reminder."""
    return start_utc - LEADS[0]


def lead_label(lead: timedelta) -> str:
    """`24h`, `2h`: part of a reminder's message id and its log words."""
    return f"{int(lead.total_seconds() // 3600)}h"


@dataclass(frozen=True)
class ReminderStep:
    """What one look at a session decides."""

    send: timedelta | None  # the lead whose reminder is queued now, or None
    next_at: datetime | None  # when to look again (the next stage); None: never
    why_not: str = ""  # why no reminder goes at this stage (the job's report)


def reminder_step(
    start_utc: datetime,
    booked_at: datetime,
    now: datetime,
    choice: str,
    *,
    wanted: bool = True,
) -> ReminderStep:
    """The reminder due at `now` for a session starting at `start_utc`, booked (or moved
    there) at `booked_at`, under the trainer's `choice`; `wanted` is False for a client
    who must get none (opted out, left out by the trainer, archived, unreachable).

    The stage is the latest one reached by `now`; stages before it were missed and stay
    missed (they are past their half-lead window anyway)."""
    reached = [lead for lead in LEADS if start_utc - lead <= now]
    later = [start_utc - lead for lead in LEADS if start_utc - lead > now]
    next_at = min(later) if later else None
    if start_utc <= now:
        return ReminderStep(None, None, "the session has started")
    if not reached:
        return ReminderStep(None, next_at, "not due yet")
    lead = reached[-1]
    due_at = start_utc - lead
    if lead not in CHOICES.get(choice, ()):
        return ReminderStep(None, next_at, "not chosen in Settings")
    if not wanted:
        return ReminderStep(None, next_at, "no reminders for this client")
    if booked_at >= due_at:
        return ReminderStep(None, next_at, "booked after the reminder was due")
    if start_utc - now < lead / 2:
        return ReminderStep(None, next_at, "too late: less than half the lead left")
    return ReminderStep(lead, next_at)


def parse_choice(raw: str) -> str | None:
    """A Settings choice as posted, or None when it is not one."""
    return raw if raw in CHOICES else None

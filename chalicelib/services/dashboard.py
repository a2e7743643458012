"""The dashboard home: the getting-started checklist, then (once set up) the trainer's day.

One call, `home_page`, builds the whole page's view model from a fixed number of reads that
never grow with the account's history (docs/access-patterns.md, "Dashboard home"):

1. the set-up read (pattern 17): checklist, client index, opt-ins, template;
2. this week's and next week's partitions (pattern 22, two Queries): today's sessions,
   open slots and the sessions that make a client busy for last-minute matching;
3. TrainerTimeline from tomorrow, 5 items (pattern 65): the next sessions after today;
4. TrainerTimeline over the last 8 weeks and the next 14 days, both partitions (pattern
   64 and the gone one, two Queries): the unpaid total with its fees (a no-show stays in
   the live partition; a late cancel, owed at once, is in the gone one);
5. TrainerTimeline `MSG`, the newest 25 (pattern 66): failed messages among them;
6. the Activity feed partition, the newest 20 (pattern 76): what clients did.

With the session read that is 9 round trips. Before set-up (steps 1-3 of the checklist)
only the first read is made: 2.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from chalicelib.domain.checklist import Step
from chalicelib.domain.messages import Message
from chalicelib.domain.models import Trainer
from chalicelib.domain.offers import can_be_offered, matching_clients
from chalicelib.domain.policy import LATE_CANCEL_HORIZON
from chalicelib.domain.schedule import Session, Slot, outstanding, shift_week
from chalicelib.domain.timeutil import local_today, week_key, zone
from chalicelib.repo.activity import ActivityEntry
from chalicelib.repo.repository import Account, ClientSummary, Repository, Setup, Week
from chalicelib.services.account import checklist
from chalicelib.services.deps import Deps

# Checklist steps that make an account "set up": locations, template, a first client.
SET_UP_STEPS = (1, 2, 3)
NEXT_SESSIONS = 5
UNPAID_WEEKS = 8
# Cap on the sessions the unpaid total reads: 8 weeks of a very full diary (50 a week)
# and well inside DynamoDB's 1 MB page. Past it, the page says "at least".
UNPAID_READ_LIMIT = 400
RECENT_MESSAGES = 25
ACTIVITY_LINES = 20


@dataclass(frozen=True)
class SessionLine:
    """A session as the dashboard lists it, with its place and where it stands now."""

    session: Session
    place: str
    now: bool = False  # under way
    over: bool = False  # ended (earlier today)


@dataclass(frozen=True)
class Unpaid:
    total_minor: int
    count: int
    weeks: int
    complete: bool  # False: the bounded read was cut short, the total is a minimum


@dataclass(frozen=True)
class MatchedSlot:
    """An open future slot with last-minute matches (amber on the schedule)."""

    slot: Slot
    place: str
    matches: list[ClientSummary]

    @property
    def path(self) -> str:
        return f"/dashboard/schedule/{self.slot.week}/slots/{self.slot.id}"


@dataclass(frozen=True)
class Overview:
    """The trainer's day, once set up."""

    today: list[SessionLine]
    upcoming: list[SessionLine]
    unpaid: Unpaid
    matched: list[MatchedSlot]
    open_slots: int  # every open future slot this week and next, matched or not
    failed: list[Message]
    recent_messages: int  # how many newest messages the failed list was drawn from
    activity: list[ActivityEntry]  # newest first: bookings, moves, cancels by clients


@dataclass(frozen=True)
class Home:
    steps: list[Step]
    done: int
    setup: Setup
    active_clients: int
    today: date
    overview: Overview | None  # None until set up: the page is the checklist

    @property
    def set_up(self) -> bool:
        return self.overview is not None

    @property
    def all_done(self) -> bool:
        return self.done == len(self.steps)


def home_page(deps: Deps, trainer: Trainer) -> Home:
    repo, now = deps.repo, deps.now
    steps, account = checklist(repo, trainer)
    today = local_today(now, trainer.settings.time_zone)
    set_up = all(step.done for step in steps if step.number in SET_UP_STEPS)
    return Home(
        steps=steps,
        done=sum(step.done for step in steps),
        setup=account.setup,
        active_clients=len(account.active_clients()),
        today=today,
        overview=_overview(repo, trainer, account, today, now) if set_up else None,
    )


def _overview(
    repo: Repository, trainer: Trainer, account: Account, today: date, now: datetime
) -> Overview:
    tid = trainer.id
    this_week = week_key(today)
    weeks = [repo.get_week_with_sessions(tid, w) for w in (this_week, shift_week(this_week, 1))]
    places = {lid: loc.name for lid, loc in trainer.locations.items()}

    def line(session: Session) -> SessionLine:
        return SessionLine(
            session,
            places.get(session.location_id, "Deleted location"),
            now=session.start_utc <= now < session.end_utc,
            over=session.is_past(now),
        )

    todays = sorted(
        (s for s in weeks[0].sessions if s.day == today and s.is_live), key=lambda s: s.start_utc
    )
    tomorrow = _day_start_utc(today + timedelta(days=1), trainer.settings.time_zone)
    upcoming, _ = repo.trainer_sessions(
        tid, tomorrow, upcoming=True, after=None, limit=NEXT_SESSIONS
    )
    # A late cancel is marked at most the longest deadline before its start, and its fee
    # is owed at once: the read reaches that far ahead.
    unpaid_window = repo.trainer_feed_sessions(
        tid, now - timedelta(weeks=UNPAID_WEEKS), now + LATE_CANCEL_HORIZON, UNPAID_READ_LIMIT
    )
    # Either partition's Query stopped at the limit only if as many sessions came back.
    cut_short = len(unpaid_window) >= UNPAID_READ_LIMIT
    total, owed = outstanding(unpaid_window, now)
    open_slots, matched = _matched_slots(account, weeks, places, now)
    recent, _ = repo.outbox.page(tid, None, None, limit=RECENT_MESSAGES)
    return Overview(
        today=[line(s) for s in todays],
        upcoming=[line(s) for s in upcoming if s.is_live],
        unpaid=Unpaid(total, len(owed), UNPAID_WEEKS, complete=not cut_short),
        matched=matched,
        open_slots=open_slots,
        failed=[m for m in recent if m.status == "failed"],
        recent_messages=RECENT_MESSAGES,
        activity=repo.activity.feed(tid, ACTIVITY_LINES),
    )


def _matched_slots(
    account: Account, weeks: list[Week], places: dict[str, str], now: datetime
) -> tuple[int, list[MatchedSlot]]:
    """Open, unlocked, future slots and, of those, the ones with last-minute matches: the
    schedule's amber rule, from the same domain functions."""
    template = account.setup.template
    candidates = 0
    matched: list[MatchedSlot] = []
    for week in weeks:
        for slot in week.slots:
            if not can_be_offered(slot, now):
                continue
            candidates += 1
            matches = matching_clients(
                slot, account.clients, account.opted_in, template, week.sessions
            )
            if matches:
                place = places.get(slot.location_id, "Deleted location")
                matched.append(MatchedSlot(slot, place, matches))
    matched.sort(key=lambda m: m.slot.start_utc)
    return candidates, matched


def _day_start_utc(day: date, zone_name: str) -> datetime:
    """The first instant of a local day. Never refused: where clocks skip midnight, the
    earlier offset is used, which is the instant the day actually starts."""
    return datetime.combine(day, time(0), tzinfo=zone(zone_name)).astimezone(UTC)

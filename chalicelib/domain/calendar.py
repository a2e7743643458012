"""Calendar feeds (RFC 5545): which sessions a feed shows, as what, and the iCalendar text.

Pure: the sessions, names and links come in, bytes go out. `icalendar` is imported only
when a calendar is built (it costs ~180 ms to import), so no other request pays for it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

from chalicelib.domain.schedule import Session
from chalicelib.domain.timeutil import zone

# What a feed reads: a bounded window around now, never all history. Four weeks back keeps
# last month's sessions (and their cancels) in a phone's calendar; half a year ahead is
# further than anyone books.
WEEKS_BACK = 4
WEEKS_AHEAD = 26
WINDOW_TEXT = f"Sessions from {WEEKS_BACK} weeks ago to {WEEKS_AHEAD} weeks ahead."
# Each of the trainer feed's two Queries (live sessions, canceled and moved ones) stops
# here: 50 sessions a week for the 30 weeks, more than one trainer can give, and still
# about one 1 MB page of DynamoDB. Past it the furthest ahead wait for a later fetch.
TRAINER_FEED_LIMIT = 1500

PRODID = "-//PT Bookings//Calendar feed//EN"
UID_DOMAIN = "ptbookings"
# How often calendar apps should fetch again (they mostly choose for themselves).
REFRESH = timedelta(hours=1)

_ID = r"[A-Za-z0-9_-]{1,64}"
_GENERATION = r"\d{1,9}"
_MAC = r"[A-Za-z0-9_-]{43}"
_TRAINER_FEED = re.compile(rf"({_ID})\.({_GENERATION})\.({_MAC})")
_CLIENT_FEED = re.compile(rf"({_ID})\.({_ID})\.({_GENERATION})\.({_MAC})")


def feed_window(now: datetime) -> tuple[datetime, datetime]:
    return now - timedelta(weeks=WEEKS_BACK), now + timedelta(weeks=WEEKS_AHEAD)


@dataclass(frozen=True)
class TrainerFeedToken:
    trainer_id: str
    generation: int
    mac: str


@dataclass(frozen=True)
class ClientFeedToken:
    trainer_id: str
    client_id: str
    generation: int
    mac: str


def parse_trainer_feed(token: str) -> TrainerFeedToken | None:
    """`<trainer>.<generation>.<mac>`; None for anything else, before any read."""
    found = _TRAINER_FEED.fullmatch(token)
    if found is None:
        return None
    return TrainerFeedToken(found[1], int(found[2]), found[3])


def parse_client_feed(token: str) -> ClientFeedToken | None:
    """`<trainer>.<client>.<portal generation>.<mac>`; None for anything else."""
    found = _CLIENT_FEED.fullmatch(token)
    if found is None:
        return None
    return ClientFeedToken(found[1], found[2], int(found[3]), found[4])


@dataclass(frozen=True)
class FeedEvent:
    """One session as a calendar shows it."""

    uid: str
    sequence: int
    start_utc: datetime
    end_utc: datetime
    cancelled: bool
    summary: str
    location: str
    description: str
    stamp: datetime
    url: str = ""


def session_uid(session: Session) -> str:
    # The session's id is stable for its whole life (a move makes a new session, and the
    # old one is shown canceled), so calendars update the event rather than duplicate it.
    return f"{session.id}@{UID_DOMAIN}"


def session_event(
    session: Session,
    *,
    summary: str,
    location: str,
    description: str,
    url: str = "",
) -> FeedEvent:
    return FeedEvent(
        uid=session_uid(session),
        # Every write of a session raises its version, so SEQUENCE rises on every change.
        sequence=session.version,
        start_utc=session.start_utc,
        end_utc=session.end_utc,
        cancelled=not session.is_live,
        summary=summary,
        location=location,
        description=description,
        # The session keeps no "last changed" instant; its creation is the stable stamp
        # (a per-request "now" would change the body, and so the ETag, on every fetch).
        stamp=session.created_at,
        url=url,
    )


# Why a trainer's event is cancelled, in words for the calendar's notes.
GONE_LINES: Mapping[str, str] = {
    "canceled": "Canceled.",
    "moved": "Moved to another time (the new time is its own event).",
    "voided": "Voided.",
}


def trainer_events(sessions: Iterable[Session], places: Mapping[str, str]) -> list[FeedEvent]:
    """The trainer's feed: booked sessions, and canceled, moved and voided ones as
    cancelled with their SEQUENCE, so a subscribed calendar marks the change rather than
    just losing the event. A move's new time is a new session with its own UID. The
    client's name, never a note."""
    events = []
    for session in sessions:
        place = places.get(session.location_id, "")
        title = session.bundle_title or "Session"
        lines = [
            f"Client: {session.client_name}",
            *([f"Location: {place}"] if place else []),
            *([GONE_LINES[session.status]] if session.status in GONE_LINES else []),
        ]
        events.append(
            session_event(
                session,
                summary=f"{session.client_name} · {title}",
                location=place,
                description="\n".join(lines),
            )
        )
    return events


def client_event(session: Session, trainer_name: str, place: str, session_url: str) -> FeedEvent:
    """One of a client's sessions: with their trainer, where, and its /s/ link."""
    title = session.bundle_title or "Session"
    return session_event(
        session,
        summary=f"{title} with {trainer_name}",
        location=place,
        description=f"Your session link (change or cancel): {session_url}",
        url=session_url,
    )


def _local(instant: datetime, tz: tzinfo) -> datetime:
    """The instant in the trainer's zone, or in UTC when its local time is the second of
    the hour repeated as clocks go back: RFC 5545 reads an ambiguous local time as the
    first occurrence, which would put it an hour early."""
    local = instant.astimezone(tz)
    return instant.astimezone(UTC) if local.fold else local


def build_calendar(
    name: str, description: str, zone_name: str, events: Iterable[FeedEvent]
) -> bytes:
    """The iCalendar text: times in the trainer's zone with its VTIMEZONE, so a session
    the week the clocks change shows its local time everywhere."""
    import icalendar  # here, not at import: only feed requests load it

    tz = zone(zone_name)
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", name)
    calendar.add("x-wr-caldesc", description)
    calendar.add("x-wr-timezone", zone_name)
    calendar.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", "PT1H")
    days: list[date] = []
    for item in events:
        event = icalendar.Event()
        event.add("uid", item.uid)
        event.add("sequence", item.sequence)
        event.add("dtstamp", item.stamp)
        event.add("dtstart", _local(item.start_utc, tz))
        event.add("dtend", _local(item.end_utc, tz))
        event.add("summary", item.summary)
        if item.location:
            event.add("location", item.location)
        event.add("description", item.description)
        if item.url:
            event.add("url", item.url)
        event.add("status", "CANCELLED" if item.cancelled else "CONFIRMED")
        event.add("transp", "TRANSPARENT" if item.cancelled else "OPAQUE")
        calendar.add_component(event)
        days.append(item.start_utc.date())
    if days:
        # VTIMEZONE rules for the years the events span only: a short, correct block.
        calendar.add_missing_timezones(
            first_date=min(days) - timedelta(days=366), last_date=max(days) + timedelta(days=366)
        )
    return calendar.to_ical()

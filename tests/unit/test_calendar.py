"""iCalendar generation (domain/calendar.py): local times with TZID across the DST weeks
in Europe/London, UIDs and SEQUENCE, cancels, escaping, and the feed tokens' shape."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from chalicelib.domain.calendar import (
    WINDOW_TEXT,
    build_calendar,
    client_event,
    feed_window,
    parse_client_feed,
    parse_trainer_feed,
    trainer_events,
)
from chalicelib.domain.schedule import Session
from chalicelib.domain.timeutil import week_key
from chalicelib.services import links as links_module
from tests.conftest import ROOT

LONDON = ZoneInfo("Europe/London")


def session(
    start_utc: datetime,
    *,
    minutes: int = 60,
    status: str = "booked",
    version: int = 1,
    name: str = "Priya Shah",
    sid: str = "s1",
) -> Session:
    local = start_utc.astimezone(LONDON)
    start = local.hour * 60 + local.minute
    return Session(
        id=sid,
        slot_id="slot-" + sid,
        client_id="c1",
        client_name=name,
        day=local.date(),
        start=start,
        end=start + minutes,
        start_utc=start_utc,
        end_utc=start_utc + timedelta(minutes=minutes),
        location_id="studio",
        kind="manual",
        status=status,
        created_at=datetime(2026, 1, 5, 12, 0, tzinfo=UTC),
        version=version,
    )


def parsed(*sessions: Session, zone: str = "Europe/London") -> Calendar:
    body = build_calendar(
        "Coach", WINDOW_TEXT, zone, trainer_events(sessions, {"studio": "Studio"})
    )
    return Calendar.from_ical(body)


def raw_lines(*sessions: Session) -> list[str]:
    body = build_calendar("Coach", WINDOW_TEXT, "Europe/London", trainer_events(sessions, {}))
    return body.decode().split("\r\n")


# Across the clocks changing ------------------------------------------------------------
@pytest.mark.parametrize(
    ("start_utc", "local"),
    [
        # The week the clocks go forward (Sunday 29 March 2026, 01:00 UTC).
        (datetime(2026, 3, 28, 9, 0, tzinfo=UTC), "20260328T090000"),  # Saturday, GMT
        (datetime(2026, 3, 29, 8, 0, tzinfo=UTC), "20260329T090000"),  # Sunday, BST
        (datetime(2026, 3, 30, 17, 0, tzinfo=UTC), "20260330T180000"),  # Monday, BST
        # The week they go back (Sunday 25 October 2026, 01:00 UTC).
        (datetime(2026, 10, 24, 8, 0, tzinfo=UTC), "20261024T090000"),  # Saturday, BST
        (datetime(2026, 10, 25, 9, 0, tzinfo=UTC), "20261025T090000"),  # Sunday, GMT
        (datetime(2026, 10, 26, 18, 0, tzinfo=UTC), "20261026T180000"),  # Monday, GMT
    ],
)
def test_a_session_in_a_dst_week_has_its_local_time_with_the_zone(
    start_utc: datetime, local: str
) -> None:
    lines = raw_lines(session(start_utc))
    assert f"DTSTART;TZID=Europe/London:{local}" in lines
    (event,) = Calendar.from_ical("\r\n".join(lines)).walk("VEVENT")
    assert event.decoded("DTSTART") == start_utc  # the same instant, read back
    assert event.decoded("DTEND") - event.decoded("DTSTART") == timedelta(hours=1)


def test_a_session_across_the_spring_gap_keeps_its_real_length() -> None:
    # 00:30-02:30 local on the spring-forward day is one real hour (02:30 BST = 01:30Z).
    start = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
    lines = raw_lines(session(start, minutes=60))
    assert "DTSTART;TZID=Europe/London:20260329T003000" in lines
    assert "DTEND;TZID=Europe/London:20260329T023000" in lines


def test_the_repeated_hour_when_clocks_go_back_is_never_an_hour_early() -> None:
    first = session(datetime(2026, 10, 25, 0, 30, tzinfo=UTC), minutes=30, sid="a")
    second = session(datetime(2026, 10, 25, 1, 30, tzinfo=UTC), minutes=30, sid="b")
    calendar = parsed(first, second)
    # (in UTC: an ambiguous local datetime never compares equal across zones, PEP 495)
    starts = {str(e["UID"]): e.decoded("DTSTART").astimezone(UTC) for e in calendar.walk("VEVENT")}
    # Both read 01:30 on a London clock; RFC 5545 takes a bare 01:30 as the first one,
    # so the second is written in UTC.
    assert starts == {"a@ptbookings": first.start_utc, "b@ptbookings": second.start_utc}


def test_the_vtimezone_carries_both_offsets_of_the_year() -> None:
    calendar = parsed(session(datetime(2026, 3, 29, 8, 0, tzinfo=UTC)))
    (tz,) = calendar.walk("VTIMEZONE")
    assert str(tz["TZID"]) == "Europe/London"
    offsets = {(sub.name, sub["TZOFFSETTO"].td) for sub in tz.walk() if sub is not tz}
    assert ("DAYLIGHT", timedelta(hours=1)) in offsets and ("STANDARD", timedelta(0)) in offsets


def test_a_calendar_with_no_sessions_still_parses_and_says_its_window() -> None:
    calendar = Calendar.from_ical(build_calendar("Coach", WINDOW_TEXT, "Europe/London", []))
    assert calendar.walk("VEVENT") == []
    assert str(calendar["X-WR-CALDESC"]) == WINDOW_TEXT
    assert str(calendar["X-WR-TIMEZONE"]) == "Europe/London"


# What each event says ------------------------------------------------------------------
def test_uid_is_stable_and_sequence_follows_the_version() -> None:
    start = datetime(2026, 12, 2, 18, 0, tzinfo=UTC)
    before = parsed(session(start, version=1)).walk("VEVENT")[0]
    after = parsed(session(start, version=3, status="canceled")).walk("VEVENT")[0]
    assert str(before["UID"]) == str(after["UID"]) == "s1@ptbookings"
    assert int(after["SEQUENCE"]) > int(before["SEQUENCE"])
    assert str(before["STATUS"]) == "CONFIRMED" and str(after["STATUS"]) == "CANCELLED"
    assert after.decoded("DTSTAMP") == datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("status", ["canceled", "voided", "moved"])
def test_every_session_that_will_not_happen_is_cancelled(status: str) -> None:
    event = parsed(session(datetime(2026, 12, 2, 18, 0, tzinfo=UTC), status=status))
    assert str(event.walk("VEVENT")[0]["STATUS"]) == "CANCELLED"


@pytest.mark.parametrize(
    ("status", "words"),
    [("canceled", "Canceled."), ("moved", "Moved to another time"), ("voided", "Voided.")],
)
def test_the_trainers_cancelled_event_says_why_and_a_booked_one_says_nothing(
    status: str, words: str
) -> None:
    start = datetime(2026, 12, 2, 18, 0, tzinfo=UTC)
    (gone,) = parsed(session(start, status=status)).walk("VEVENT")
    (live,) = parsed(session(start)).walk("VEVENT")
    assert words in str(gone["DESCRIPTION"]) and str(gone["TRANSP"]) == "TRANSPARENT"
    assert str(live["DESCRIPTION"]) == "Client: Priya Shah\nLocation: Studio"


def test_names_with_separators_newlines_and_html_survive_escaping_and_folding() -> None:
    name = "Zoë O'Brien; coach, <b>VIP</b>\\" + " very long name" * 8
    calendar_text = build_calendar(
        "Coach",
        WINDOW_TEXT,
        "Europe/London",
        trainer_events([session(datetime(2026, 12, 2, 18, 0, tzinfo=UTC), name=name)], {}),
    )
    assert all(len(line) <= 75 for line in calendar_text.split(b"\r\n"))  # folded
    (event,) = Calendar.from_ical(calendar_text).walk("VEVENT")
    assert str(event["SUMMARY"]) == f"{name} · Session"
    assert str(event["DESCRIPTION"]) == f"Client: {name}"


def test_the_client_event_carries_its_session_link_and_no_client_name() -> None:
    one = session(datetime(2026, 12, 2, 18, 0, tzinfo=UTC), name="Priya Shah")
    url = "https://example.com/s/" + "A" * 43
    body = build_calendar(
        "Coach", WINDOW_TEXT, "Europe/London", [client_event(one, "Coach & Co", "Studio", url)]
    )
    (event,) = Calendar.from_ical(body).walk("VEVENT")
    assert str(event["SUMMARY"]) == "Session with Coach & Co"
    assert url in str(event["DESCRIPTION"]) and str(event["URL"]) == url
    assert "Priya" not in body.decode()


def test_the_window_is_four_weeks_back_to_half_a_year_ahead() -> None:
    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    since, until = feed_window(now)
    assert (now - since, until - now) == (timedelta(weeks=4), timedelta(weeks=26))
    assert week_key(date(2026, 11, 23)) == "2026-W48"


# Feed tokens -------------------------------------------------------------------------------
def test_feed_tokens_round_trip_and_refuse_anything_else() -> None:
    links = links_module.fixed(b"k" * 32)
    token = links.trainer_feed("coach", 2)
    found = parse_trainer_feed(token)
    assert found is not None and (found.trainer_id, found.generation) == ("coach", 2)
    assert links.is_trainer_feed("coach", 2, found.mac)
    assert not links.is_trainer_feed("coach", 1, found.mac)
    assert not links.is_trainer_feed("rival", 2, found.mac)
    assert not links_module.fixed(b"x" * 32).is_trainer_feed("coach", 2, found.mac)
    for junk in ("", ".", "coach.2", f"{token}.x", "coach.-1." + "A" * 43, "<b>.1." + "A" * 43):
        assert parse_trainer_feed(junk) is None, junk
    client = parse_client_feed(f"coach.c1.3.{'A' * 43}")
    assert client is not None and (client.client_id, client.generation) == ("c1", 3)
    assert parse_client_feed(token) is None
    # The two kinds never verify as each other, nor as the same ids in another order.
    assert not links.is_client_feed("coach", "c1", 2, found.mac)


def test_importing_the_app_does_not_load_icalendar() -> None:
    code = "import sys, app; print('icalendar' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "False"

""" "Add to calendar" in confirmations (issue 15 item 4): the session confirmation and the
program confirmations say how to add the session to a calendar, with the session link's
own `.ics` (`<session link>/calendar.ics`), made again from the stage secret when shown or
sent; the table holds only the placeholder."""

from __future__ import annotations

import html
import re

from chalice.test import Client
from icalendar import Calendar

from chalicelib import runtime
from chalicelib.domain.messages import LINK_PLACEHOLDER
from chalicelib.repo import keys
from tests.functional.conftest import Browser
from tests.functional.test_clients_pages import post_profile, profile_form
from tests.functional.test_messages import _invoke_dispatcher, booked, send
from tests.functional.test_programs import create_bundle, studio_setup

__all__ = ["booked", "studio_setup"]

CHANGE = re.compile(r"Change or cancel it here: http://testserver(/s/[A-Za-z0-9_-]{43})\n")
CALENDAR = re.compile(
    r"Add it to your calendar: http://testserver(/s/[A-Za-z0-9_-]{43})/calendar\.ics\n"
    r'\(open it and your phone offers to add the session; or press "Add to calendar" on your '
    r"session page\)"
)


def ics_opens(chalice_client: Client, session_link: str, start_text: str) -> None:
    """The client taps the calendar link: the session's one event, no cookies needed."""
    page = Browser(chalice_client, []).get(f"{session_link}/calendar.ics")
    assert page.status == 200 and page.headers["content-type"].startswith("text/calendar")
    (event,) = Calendar.from_ical(page.body).walk("VEVENT")
    assert event.decoded("DTSTART").strftime("%Y-%m-%d %H:%M") == start_text


def stored_texts(trainer_id: str) -> list[str]:
    """The texts as the table holds them (messages in the trainer's timeline)."""
    items = runtime.repository().db.query(
        keys.trainer_messages(trainer_id), index=keys.TRAINER_INDEX
    )
    return [item["text"] for item in items]


def test_a_session_confirmation_says_how_to_add_it_to_a_calendar(
    trainer: Browser, booked: tuple[str, str], chalice_client: Client
) -> None:
    session_url, _ = booked
    assert send(trainer, session_url, "confirm").status == 303
    tab = html.unescape(trainer.get("/dashboard/whatsapp/all").body)
    change, calendar = CHANGE.search(tab), CALENDAR.search(tab)
    assert change and calendar, tab[:2000]
    assert calendar.group(1) == change.group(1)  # the same session link, with the file's path
    ics_opens(chalice_client, calendar.group(1), "2026-11-26 09:00")
    tid = trainer.cookies["pt_session"].split(".")[0]
    (text,) = stored_texts(tid)
    # Stored with the placeholder only: the link is made again when shown or sent.
    assert f"Add it to your calendar: {LINK_PLACEHOLDER}/calendar.ics" in text
    assert change.group(1).removeprefix("/s/") not in text


def test_program_confirmations_by_email_carry_the_calendar_link(
    trainer: Browser, studio_setup: dict[str, str], chalice_client: Client, outbox
) -> None:
    form = profile_form(trainer, studio_setup["priya"], email="priya@example.com")
    post_profile(trainer, studio_setup["priya"], form, [studio_setup["studio"]])
    bundle = create_bundle(trainer, studio_setup["studio"], studio_setup["priya"], sessions="2")
    sent = trainer.post(f"/dashboard/bundles/{bundle}", {"action": "confirm", "round": "0"})
    assert sent.status == 303 and "sent=2" in sent.location
    before = len(outbox)
    assert _invoke_dispatcher(chalice_client)["claimed"] == 2
    emails = sorted(
        (m for m in outbox[before:] if m.to == "priya@example.com"), key=lambda m: m.subject
    )
    assert len(emails) == 2
    first = emails[0]
    assert first.subject.startswith("Confirmed: Tuesday 1 Dec 10:00–11:00 2026")
    change, calendar = CHANGE.search(first.text), CALENDAR.search(first.text)
    assert change and calendar, first.text
    assert calendar.group(1) == change.group(1)
    assert "session 1 of 2." in first.text
    ics_opens(chalice_client, calendar.group(1), "2026-12-01 10:00")
    links = {CALENDAR.search(m.text).group(1) for m in emails}  # type: ignore[union-attr]
    assert len(links) == 2  # each email its own session's file


def test_program_confirmations_on_whatsapp_carry_it_too(
    trainer: Browser, studio_setup: dict[str, str]
) -> None:
    bundle = create_bundle(trainer, studio_setup["studio"], studio_setup["priya"], sessions="2")
    trainer.post(f"/dashboard/bundles/{bundle}", {"action": "confirm", "round": "0"})
    tab = html.unescape(trainer.get("/dashboard/whatsapp/all").body)
    assert len(CALENDAR.findall(tab)) == 2

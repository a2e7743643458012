"""A word for every client action, seen as both people see it (issue 14): Priya books on
her phone; the trainer's dashboard shows it in the Activity feed, the WhatsApp tab holds
the conversation with her confirmation, and the dispatcher (the runner's scheduled
function, on the log provider) prints the confirmation with her /s/ link."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from chalicelib.domain.timeutil import week_monday
from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.test_portal import add_one_off
from tests.browser.test_schedule import next_week, set_up_studio
from tests.browser.test_sessions import add_priya
from tests.runner import Runner

pytestmark = pytest.mark.browser


def test_a_portal_booking_reaches_the_feed_the_conversation_and_the_client(
    new_page: Callable[..., Page],
    sign_up: Callable[[Page, str], None],
    screenshot: Callable[..., Any],
    runner: Runner,
) -> None:
    trainer = new_page(DESKTOP)
    sign_up(trainer, "client-words@example.com")
    set_up_studio(trainer, 2, "18:00")
    add_priya(trainer)
    tuesday = week_monday(next_week()) + timedelta(days=1)
    add_one_off(trainer, tuesday.isoformat(), "07:00", "08:00")
    trainer.goto("/dashboard/clients")
    trainer.get_by_role("link", name="Priya Shah", exact=True).click()
    link = trainer.locator("#portal_url").input_value()

    since = runner.mark()
    phone = new_page(PHONE)
    phone.goto(link)
    phone.get_by_role("link", name="Book a session").click()
    day = f"{tuesday:%A} {tuesday.day} {tuesday:%B}"
    phone.locator("section.slot-day", has_text=day).get_by_role(
        "button", name=re.compile("07:00–08:00")
    ).click()
    expect(phone.get_by_text("You are booked")).to_be_visible()
    session_link = phone.url.split("?")[0]

    # The client's confirmation goes out through the outbox: the dispatcher prints it.
    runner.wait_for(
        lambda lines: next(
            (ln for ln in lines[since:] if "you're booked with" in ln and "07:00–08:00" in ln),
            None,
        ),
        timeout=20,
        what="Priya's booking confirmation",
    )
    assert session_link in "\n".join(runner.lines[since:])  # with the very /s/ link

    # The trainer's Activity feed says what she did.
    trainer.goto("/dashboard")
    feed = trainer.get_by_role("list", name="Recent activity, newest first")
    expect(feed).to_contain_text(f"Priya Shah booked {tuesday:%A} {tuesday.day}")
    screenshot(trainer, "client-words-1-activity")

    # The WhatsApp tab: one conversation, the confirmation in it.
    trainer.goto("/dashboard/whatsapp")
    conversations = trainer.get_by_role("list", name="Conversations")
    expect(conversations).to_contain_text("Priya Shah")
    expect(conversations).to_contain_text("you're booked with")
    screenshot(trainer, "client-words-2-conversations")
    conversations.get_by_role("link", name="Priya Shah").click()
    chat = trainer.get_by_role("list", name=re.compile("Conversation with Priya Shah"))
    expect(chat).to_contain_text("Confirmation")
    expect(chat).to_contain_text(f"{tuesday:%A} {tuesday.day}")
    screenshot(trainer, "client-words-3-conversation")
    assert not trainer.js_errors  # type: ignore[attr-defined]
    assert not phone.js_errors  # type: ignore[attr-defined]

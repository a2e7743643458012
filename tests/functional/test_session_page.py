"""The trainer's session page: payment, cancel, void, and the change log."""

from __future__ import annotations

import re

import pytest

from tests.functional.conftest import Browser
from tests.functional.test_locations_and_template import add_location
from tests.functional.test_schedule_pages import add_client, allocate, new_slot, slots_on


@pytest.fixture
def booked(trainer: Browser, clock) -> str:
    """A Manual session on Thursday 26 Nov 09:00 (the clock is Monday 23 Nov 09:00 UTC)."""
    studio = add_location(trainer, "Studio")
    client = add_client(trainer, "Priya Shah")
    new_slot(trainer, "2026-11-26", "09:00", "10:00", studio)
    ((week, slot_id),) = slots_on(trainer, "2026-W48")
    return allocate(trainer, week, slot_id, client).location.split("?")[0]


def test_marking_paid_records_the_type_and_logs_it(trainer: Browser, booked: str) -> None:
    page = trainer.post(
        booked,
        {"action": "payment", "paid": "yes", "payment_type": "bank_transfer", "version": "1"},
    )
    assert page.status == 303
    body = trainer.get(booked).body
    assert "Paid · Bank transfer" in body
    assert "Booked by the trainer" in body and "Marked paid (bank transfer)" in body
    assert "23 Nov 2026 09:00</time>" in body  # the trainer's local time (GMT in November)
    unpaid = trainer.post(
        booked, {"action": "payment", "paid": "no", "payment_type": "", "version": "2"}
    )
    assert unpaid.status == 303 and "Marked unpaid" in trainer.get(booked).body


@pytest.mark.parametrize("payment_type", ["", "bitcoin", "<b>cash</b>"])
def test_a_payment_type_not_in_the_list_is_refused(
    trainer: Browser, booked: str, payment_type: str
) -> None:
    page = trainer.post(
        booked, {"action": "payment", "paid": "yes", "payment_type": payment_type, "version": "1"}
    )
    assert page.status == 400 and "Choose how it was paid." in page.body
    assert "Unpaid" in trainer.get(booked).body


def test_cancelling_keeps_the_record_and_opens_the_slot_again(
    trainer: Browser, booked: str
) -> None:
    page = trainer.post(booked, {"action": "cancel", "version": "1"})
    assert page.status == 303
    body = trainer.get(booked).body
    assert "Canceled" in body and "Canceled by the trainer; slot reopened" in body
    assert len(slots_on(trainer, "2026-W48")) == 1  # open (green, linkable) again
    assert "slot slot-open" in trainer.get("/dashboard/schedule?week=2026-W48").body
    again = trainer.post(booked, {"action": "cancel", "version": "2"})
    assert again.status == 400 and "already canceled" in again.body


def test_cancel_asks_first_and_tells_the_client_on_whatsapp(trainer: Browser, booked: str) -> None:
    import html

    page = trainer.get(booked).body
    # step one is a link, not a form that cancels: no cancel button without ?confirm=
    assert 'value="cancel"' not in page
    link = re.search(r'href="([^"]+confirm=cancel)[^"]*"', page)
    assert link
    confirm = html.unescape(trainer.get(html.unescape(link.group(1))).body)
    assert "Cancel Priya Shah's session on Thursday 26 Nov 09:00–10:00?" in confirm
    assert (
        'value="cancel"' in confirm
        and '<input type="checkbox" name="quiet" value="yes">' in confirm
    )
    assert "Keep it" in confirm and "Session canceled" not in trainer.get(booked).body
    done = trainer.post(booked, {"action": "cancel", "version": "1"})
    assert done.status == 303 and "saved=cancel_told" in done.location
    body = html.unescape(trainer.get(booked).body)
    assert "the client was told on WhatsApp" in body and "Cancellation notice" in body
    tab = html.unescape(trainer.get("/dashboard/whatsapp/all").body)
    assert "has had to cancel your session on Thursday 26 Nov 09:00–10:00 2026 at Studio" in tab
    assert re.search(r"book another time: http://testserver/c/[A-Za-z0-9_-]{43}", tab)
    # a replay of the same form is refused by the version: no second message
    again = trainer.post(booked, {"action": "cancel", "version": "1"})
    assert again.status == 409
    assert (
        html.unescape(trainer.get("/dashboard/whatsapp/all").body).count("has had to cancel") == 1
    )


def test_cancel_without_telling_queues_no_message(trainer: Browser, booked: str) -> None:
    done = trainer.post(booked, {"action": "cancel", "version": "1", "quiet": "yes"})
    assert done.status == 303 and "saved=cancel" in done.location
    assert "has had to cancel" not in trainer.get("/dashboard/whatsapp/all").body


def test_a_past_session_cannot_be_canceled_only_voided(
    trainer: Browser, booked: str, clock
) -> None:
    assert trainer.post(booked, {"action": "void", "version": "1"}).status == 400  # upcoming
    clock.advance(days=3, hours=2)  # Thursday 11:00: the session is over
    refused = trainer.post(booked, {"action": "cancel", "version": "1"})
    assert refused.status == 400 and "void it instead" in refused.body
    voided = trainer.post(booked, {"action": "void", "version": "1"})
    assert voided.status == 303
    body = trainer.get(booked).body
    assert "Voided" in body and "Voided: the session did not happen" in body
    assert (
        trainer.post(
            booked, {"action": "payment", "paid": "yes", "payment_type": "cash", "version": "2"}
        ).status
        == 400
    )


def test_a_stale_session_form_changes_nothing(trainer: Browser, booked: str) -> None:
    trainer.post(
        booked, {"action": "payment", "paid": "yes", "payment_type": "cash", "version": "1"}
    )
    page = trainer.post(booked, {"action": "cancel", "version": "1"})
    assert page.status == 409 and "changed elsewhere" in page.body
    assert "Canceled" not in trainer.get(booked).body


def test_another_trainer_cannot_change_my_session(
    trainer: Browser, other_trainer: Browser, booked: str
) -> None:
    assert other_trainer.post(booked, {"action": "cancel", "version": "1"}).status == 404
    assert "Canceled" not in trainer.get(booked).body


# The Sessions tab ----------------------------------------------------------------------
def _book(trainer: Browser, studio: str, client: str, day: str, start: str, end: str) -> str:
    new_slot(trainer, day, start, end, studio)
    week_slots = slots_on(trainer, "2026-W48") + slots_on(trainer, "2026-W49")
    for week, slot_id in week_slots:
        page = trainer.get(f"/dashboard/schedule/{week}/slots/{slot_id}")
        if f"{start}–{end}" in page.body and day[-2:].lstrip("0") in page.body:
            return allocate(trainer, week, slot_id, client).location.split("?")[0]
    raise AssertionError("slot not found")


def test_the_sessions_tab_lists_upcoming_and_past_and_hides_canceled(
    trainer: Browser, clock
) -> None:
    studio = add_location(trainer, "Studio")
    client = add_client(trainer, "Priya Shah")
    thursday = _book(trainer, studio, client, "2026-11-26", "09:00", "10:00")
    _book(trainer, studio, client, "2026-11-27", "09:00", "10:00")
    saturday = _book(trainer, studio, client, "2026-11-28", "09:00", "10:00")
    trainer.post(saturday, {"action": "cancel", "version": "1"})
    trainer.post(
        thursday, {"action": "payment", "paid": "yes", "payment_type": "card", "version": "1"}
    )
    upcoming = trainer.get("/dashboard/sessions").body
    assert upcoming.index("Thursday 26 Nov") < upcoming.index("Friday 27 Nov")  # soonest first
    assert "Saturday 28 Nov" not in upcoming  # canceled: only in the client's history
    assert "Paid" in upcoming and "Unpaid" in upcoming
    clock.advance(days=5)  # Saturday 28 Nov: both live sessions are past now
    past = trainer.get("/dashboard/sessions?list=past").body
    assert past.index("Friday 27 Nov") < past.index("Thursday 26 Nov")  # newest first
    assert "Saturday 28 Nov" not in past
    history = trainer.get(f"/dashboard/clients/{client}").body
    assert "Saturday 28 Nov" in history and "Canceled" in history


def test_the_sessions_tab_pages_through_long_lists(trainer: Browser, clock) -> None:
    from datetime import date, timedelta

    from chalicelib import runtime
    from chalicelib.domain.schedule import book, make_slot

    studio = add_location(trainer, "Studio")
    client = add_client(trainer, "Priya Shah")
    repo = runtime.repository()
    tid = trainer.cookies["pt_session"].split(".")[0]
    for i in range(25):
        slot = make_slot(
            f"s{i:02d}", date(2026, 12, 1) + timedelta(days=i), 540, 600, studio, "Europe/London"
        )
        repo.add_slot(
            tid, slot, book(slot, f"sess{i:02d}abcd", client, "Priya Shah", "manual", clock.now)[1]
        )
    first = trainer.get("/dashboard/sessions").body
    assert first.count('class="list-row"') == 20
    cursor = re.search(r'after=([^"&]+)"', first)
    assert cursor
    second = trainer.get(f"/dashboard/sessions?after={cursor.group(1)}").body
    assert second.count('class="list-row"') == 5
    assert "Friday 25 Dec" in second and "Friday 25 Dec" not in first


@pytest.mark.parametrize("cursor", ["garbage", "e30=", "eyJQSyI6ICJUI290aGVyIn0="])
def test_a_tampered_page_cursor_starts_over_instead_of_failing(
    trainer: Browser, cursor: str
) -> None:
    page = trainer.get(f"/dashboard/sessions?after={cursor}")
    assert page.status == 200


def test_the_sessions_tab_is_two_round_trips(trainer: Browser, booked: str) -> None:
    assert trainer.get("/dashboard/sessions").db_calls == 2
    assert trainer.get("/dashboard/sessions?list=past").db_calls == 2


def test_the_client_profile_shows_the_outstanding_balance(trainer: Browser, clock) -> None:
    studio = add_location(trainer, "Studio")
    client = add_client(trainer, "Priya Shah")  # £40 a session
    thursday = _book(trainer, studio, client, "2026-11-26", "09:00", "10:00")
    _book(trainer, studio, client, "2026-11-27", "09:00", "10:00")
    saturday = _book(trainer, studio, client, "2026-11-28", "09:00", "10:00")
    _book(trainer, studio, client, "2026-12-02", "09:00", "10:00")  # still upcoming
    assert "Outstanding balance: £0.00" in trainer.get(f"/dashboard/clients/{client}").body
    clock.advance(days=6)  # Sunday 29 Nov: three sessions are past
    trainer.post(
        thursday, {"action": "payment", "paid": "yes", "payment_type": "cash", "version": "1"}
    )
    trainer.post(saturday, {"action": "void", "version": "1"})  # did not happen: owes nothing
    page = trainer.get(f"/dashboard/clients/{client}").body
    assert "Outstanding balance: £40.00" in page
    unpaid = page[page.index('id="balance"') : page.index("Upcoming sessions")]
    assert "Friday 27 Nov" in unpaid and "Thursday 26 Nov" not in unpaid
    assert "Saturday 28 Nov" not in unpaid

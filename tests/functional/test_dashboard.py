"""The dashboard home: checklist until set up, then today, next sessions, unpaid total,
last-minute matches and failed messages, from a fixed number of reads."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from chalicelib import runtime
from chalicelib.domain.models import Trainer
from chalicelib.domain.schedule import book, make_slot
from chalicelib.domain.template import SaveSlot
from chalicelib.messaging import whatsapp
from chalicelib.repo import metrics
from chalicelib.repo.repository import Repository
from chalicelib.services import account, dashboard, dispatcher
from chalicelib.services.deps import Deps
from tests.functional.conftest import Browser
from tests.functional.test_clients_pages import _share_form, post_profile_with
from tests.functional.test_locations_and_template import add_location, add_slot
from tests.functional.test_messages import send, set_payment_details
from tests.functional.test_offers import Scene, _send, scene  # noqa: F401 (the fixture)
from tests.functional.test_schedule_pages import (
    SLOT_LINK,
    add_client,
    allocate,
    new_slot,
    trainer_id,
)
from tests.support import builders

# The frozen clock (tests/conftest.py) is Monday 2026-11-23 09:00 UTC (09:00 in London).
TODAY = "2026-11-23"


def set_up(trainer: Browser, client: str = "Priya Shah") -> tuple[str, str]:
    """Checklist steps 1-3: a location, a template slot, a first client (£40)."""
    studio = add_location(trainer, "Studio")
    add_slot(trainer, 4, "07:00", "08:00", studio)  # Friday: nothing to do with the tests
    return studio, add_client(trainer, client)


def booked(trainer: Browser, day: str, start: str, end: str, studio: str, client: str) -> str:
    """A one-off slot allocated to the client; returns the session page's path."""
    week = date.fromisoformat(day).isocalendar()
    week_key = f"{week.year}-W{week.week:02d}"
    before = set(SLOT_LINK.findall(trainer.get(f"/dashboard/schedule?week={week_key}").body))
    assert new_slot(trainer, day, start, end, studio).status == 303
    after = set(SLOT_LINK.findall(trainer.get(f"/dashboard/schedule?week={week_key}").body))
    ((week_text, slot_id),) = after - before
    page = allocate(trainer, week_text, slot_id, client)
    assert page.status == 303, page.body
    return page.location.split("?")[0]


def section(body: str, name: str) -> str:
    """The HTML of one dashboard card, by its id."""
    start = body.index(f'id="{name}"')
    return body[start : body.index("</section>", start)]


def fail_all_due(clock) -> None:
    def rejected(_trainer_id: str, _message) -> whatsapp.SendResult:
        raise whatsapp.SendError("Twilio 21211: Invalid 'To' Phone Number", retryable=False)

    dispatcher.dispatch(runtime.repository(), clock.now, rejected)


# Set-up: checklist first ----------------------------------------------------------------
def test_before_set_up_the_dashboard_is_the_full_checklist(trainer: Browser, clock) -> None:
    studio = add_location(trainer, "Studio")
    add_slot(trainer, 4, "07:00", "08:00", studio)
    page = trainer.get("/dashboard")
    assert 'aria-labelledby="checklist-title"' in page.body and "2 of 6 done" in page.body
    assert 'id="today"' not in page.body and "Unpaid" not in page.body
    assert page.db_calls == 2  # session + profile, the set-up read


def test_once_set_up_the_checklist_folds_away_and_goes_when_all_six_are_done(
    trainer: Browser, clock
) -> None:
    studio, priya = set_up(trainer)
    body = trainer.get("/dashboard").body
    assert '<details class="card setup-compact"' in body and "3 of 6 done" in body
    assert '<details class="card setup-compact" open' not in body  # folded: the day first
    assert 'id="today"' in body and 'id="unpaid"' in body
    # steps 4 (configure), 5 (apply the template) and 6 (share the portal link)
    post_profile_with(trainer, priya, [studio])
    trainer.post("/dashboard/schedule/apply", {"week": "2026-W48", "weeks": "1"})
    profile = trainer.get(f"/dashboard/clients/{priya}").body
    assert trainer.post(f"/dashboard/clients/{priya}/shared", _share_form(profile)).status == 303
    body = trainer.get("/dashboard").body
    assert "setup-compact" not in body and "Getting started" not in body
    assert "of 6 done" not in body and 'id="today"' in body


# Today and next sessions --------------------------------------------------------------
def test_todays_and_the_next_sessions_are_listed_with_their_links(trainer: Browser, clock) -> None:
    studio, priya = set_up(trainer)
    tonight = booked(trainer, TODAY, "18:00", "19:00", studio, priya)
    thursday = booked(trainer, "2026-11-26", "09:00", "10:00", studio, priya)
    in_three_weeks = booked(trainer, "2026-12-15", "07:30", "08:30", studio, priya)
    body = trainer.get("/dashboard").body
    today = section(body, "today")
    assert f'href="{tonight}">Priya Shah</a>' in today
    assert "<strong>18:00</strong>" in today and "1 h · Studio" in today
    assert "badge-unpaid" in today and "Manual" in today
    assert thursday not in today
    upcoming = section(body, "next")
    assert thursday in upcoming and "26 Nov" in upcoming and "09:00–10:00 · Studio" in upcoming
    assert in_three_weeks in upcoming and "15 Dec" in upcoming  # beyond next week too
    assert upcoming.index("26 Nov") < upcoming.index("15 Dec")
    assert tonight not in upcoming  # today's are under Today only


def test_today_follows_the_trainers_time_zone(trainer: Browser, clock) -> None:
    set_payment_details(trainer, time_zone="America/New_York")
    studio, priya = set_up(trainer)
    late = booked(trainer, TODAY, "23:00", "23:30", studio, priya)  # Tue 04:00 UTC
    tuesday = booked(trainer, "2026-11-24", "09:00", "10:00", studio, priya)
    clock.advance(hours=18)  # Tuesday 03:00 UTC: still Monday 22:00 in New York
    body = trainer.get("/dashboard").body
    assert "Monday 23 November 2026" in body and "America/New_York" in body
    assert late in section(body, "today") and late not in section(body, "next")
    assert tuesday in section(body, "next") and tuesday not in section(body, "today")


def test_a_session_under_way_and_one_that_ended_are_marked(trainer: Browser, clock) -> None:
    studio, priya = set_up(trainer)
    booked(trainer, TODAY, "10:00", "11:00", studio, priya)
    booked(trainer, TODAY, "12:00", "13:00", studio, priya)
    clock.advance(hours=3, minutes=15)  # 12:15
    today = section(trainer.get("/dashboard").body, "today")
    assert today.count("agenda-row is-over") == 1 and ">Done</span>" in today
    assert 'badge badge-now">Now</span>' in today


def test_a_canceled_session_is_not_listed(trainer: Browser, clock) -> None:
    studio, priya = set_up(trainer)
    for day in (TODAY, "2026-11-26"):
        path = booked(trainer, day, "18:00", "19:00", studio, priya)
        assert trainer.post(path, {"action": "cancel", "version": "1"}).status == 303
    body = trainer.get("/dashboard").body
    assert "Priya Shah" not in section(body, "today") + section(body, "next")
    assert "No sessions today." in body and "Nothing booked after today yet." in body


# Unpaid ----------------------------------------------------------------------------------
def test_the_unpaid_total_counts_past_unpaid_sessions_not_paid_or_future_ones(
    trainer: Browser, clock
) -> None:
    studio, priya = set_up(trainer)
    first = booked(trainer, TODAY, "10:00", "11:00", studio, priya)
    booked(trainer, TODAY, "11:00", "12:00", studio, priya)
    booked(trainer, "2026-11-26", "09:00", "10:00", studio, priya)
    unpaid = section(trainer.get("/dashboard").body, "unpaid")
    assert "£0.00" in unpaid and "Nothing owed from the last 8 weeks" in unpaid  # not yet
    clock.advance(hours=4)  # 13:00: both of today's sessions are over
    unpaid = section(trainer.get("/dashboard").body, "unpaid")
    assert "£80.00" in unpaid and "2 unpaid sessions in the last 8 weeks" in unpaid
    assert 'href="/dashboard/sessions?list=past"' in unpaid
    paid = {"action": "payment", "paid": "yes", "payment_type": "cash", "version": "1"}
    assert trainer.post(first, paid).status == 303
    unpaid = section(trainer.get("/dashboard").body, "unpaid")
    assert "£40.00" in unpaid and "1 unpaid session in the last 8 weeks" in unpaid


def _past_session(trainer: Browser, studio: str, client: str, day: date, sid: str) -> None:
    """A £40 session at 10:00 on `day`, written straight to the table as if booked then."""
    slot = make_slot(f"slot-{sid}", day, 600, 660, studio, "Europe/London")
    booked_at = slot.start_utc - timedelta(days=7)
    _slot, session = book(slot, sid, client, "Priya Shah", "manual", booked_at, 4000)
    runtime.repository().add_slot(trainer_id(trainer), slot, session)


def test_the_unpaid_total_reads_only_the_last_8_weeks(trainer: Browser, clock) -> None:
    studio, priya = set_up(trainer)
    _past_session(trainer, studio, priya, date(2026, 10, 5), "seven-weeks-ago")
    _past_session(trainer, studio, priya, date(2026, 9, 21), "nine-weeks-ago")
    unpaid = section(trainer.get("/dashboard").body, "unpaid")
    assert "£40.00" in unpaid and "1 unpaid session in the last 8 weeks" in unpaid
    assert "at least" not in unpaid


def test_a_read_cut_short_says_at_least(
    trainer: Browser, clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    studio, priya = set_up(trainer)
    _past_session(trainer, studio, priya, date(2026, 10, 5), "older")
    _past_session(trainer, studio, priya, date(2026, 11, 2), "newer")
    monkeypatch.setattr(dashboard, "UNPAID_READ_LIMIT", 1)
    unpaid = section(trainer.get("/dashboard").body, "unpaid")
    assert "at least £40.00" in unpaid


# Last-minute matches ---------------------------------------------------------------------
def test_an_amber_slot_is_listed_with_its_match_and_leaves_once_offered(
    scene: Scene,  # noqa: F811 (the fixture imported above)
) -> None:
    matches = section(scene.trainer.get("/dashboard").body, "matches")
    assert "Wednesday 25 Nov 18:00–19:00" in matches and "Studio" in matches
    assert "1 match: Omar Haddad" in matches and "Priya" not in matches  # not opted in
    assert f'href="{scene.slot_path}">Send an offer' in matches
    assert _send(scene).status == 303  # offered: held for Omar, purple, no longer amber
    matches = section(scene.trainer.get("/dashboard").body, "matches")
    assert "Omar Haddad" not in matches and "no client has opted in" not in matches
    assert "No open slots this week or next." in matches


def test_open_slots_without_matches_are_counted_not_listed(trainer: Browser, clock) -> None:
    studio, _priya = set_up(trainer)
    new_slot(trainer, "2026-11-25", "18:00", "19:00", studio)
    new_slot(trainer, "2026-12-02", "18:00", "19:00", studio)  # next week
    new_slot(trainer, "2026-12-09", "18:00", "19:00", studio)  # the week after: not counted
    matches = section(trainer.get("/dashboard").body, "matches")
    assert "2 open slots this week and next, but no client has opted in" in matches


# Failed messages -------------------------------------------------------------------------
def test_a_failed_message_is_listed_with_its_error_and_links(trainer: Browser, clock) -> None:
    studio, priya = set_up(trainer)
    failing = booked(trainer, "2026-11-26", "09:00", "10:00", studio, priya)
    send(trainer, failing, "confirm")
    fail_all_due(clock)
    fine = booked(trainer, "2026-11-27", "09:00", "10:00", studio, priya)
    send(trainer, fine, "confirm")
    dispatcher.dispatch(
        runtime.repository(), clock.now, lambda _t, _m: whatsapp.SendResult("log", "log-1")
    )
    failed = section(trainer.get("/dashboard").body, "failed")
    assert failed.count('class="failed-row"') == 1
    assert "Confirmation to Priya Shah" in failed
    assert "Invalid &#39;To&#39; Phone Number" in failed
    assert f'href="{failing}">Open the session' in failed and fine not in failed
    assert f'href="/dashboard/whatsapp?client={priya}"' in failed


def test_no_failed_messages_is_said_plainly(trainer: Browser, clock) -> None:
    set_up(trainer)
    failed = section(trainer.get("/dashboard").body, "failed")
    assert "No failed messages among your latest 25." in failed


# Safety ----------------------------------------------------------------------------------
def test_html_in_a_client_name_is_escaped_everywhere_on_the_dashboard(
    trainer: Browser, clock
) -> None:
    studio, _priya = set_up(trainer)
    eve = add_client(trainer, "<img src=x onerror=alert(1)> Eve")
    booked(trainer, TODAY, "18:00", "19:00", studio, eve)
    upcoming = booked(trainer, "2026-11-26", "09:00", "10:00", studio, eve)
    send(trainer, upcoming, "confirm")
    fail_all_due(clock)
    body = trainer.get("/dashboard").body
    assert "<img src=x" not in body
    assert body.count("&lt;img src=x onerror=alert(1)&gt; Eve") >= 3  # today, next, failed


def test_another_trainers_data_never_shows(trainer: Browser, other_trainer: Browser, clock) -> None:
    studio, priya = set_up(trainer)
    mine = booked(trainer, TODAY, "18:00", "19:00", studio, priya)
    send(trainer, mine, "confirm")
    fail_all_due(clock)
    assert "Priya Shah" in section(trainer.get("/dashboard").body, "failed")
    set_up(other_trainer, "Tom Okafor")
    body = other_trainer.get("/dashboard").body
    assert "Priya" not in body and mine not in body
    assert "No sessions today." in body and "No failed messages" in body


# Round trips -----------------------------------------------------------------------------
def test_the_dashboard_makes_a_fixed_number_of_round_trips(trainer: Browser, clock) -> None:
    studio, priya = set_up(trainer)
    # session + profile; the set-up read; this week and next (two Queries); the next
    # sessions after today; the last 8 weeks of sessions (two Queries: the live partition
    # and the gone one, where late cancels' fees are); the newest messages; the Activity
    # feed (one Query of its partition)
    assert trainer.get("/dashboard").db_calls == 9
    for i in range(6):
        add_client(trainer, f"Client {i}")
    for weeks_ago in range(1, 30):
        _past_session(
            trainer, studio, priya, date(2026, 11, 20) - timedelta(weeks=weeks_ago), f"p{weeks_ago}"
        )
    for day in (TODAY, "2026-11-24", "2026-11-26", "2026-12-01", "2026-12-22"):
        send(trainer, booked(trainer, day, "18:00", "19:00", studio, priya), "confirm")
    fail_all_due(clock)
    page = trainer.get("/dashboard")
    assert "Priya Shah" in section(page.body, "failed")
    assert page.db_calls == 9


# The page query (services.dashboard.home_page) -------------------------------------------
def _home_page(repo: Repository, trainer: Trainer) -> tuple[dashboard.Home, int]:
    recorded = metrics.begin()
    deps = Deps(repo, runtime.links(), runtime.config(), builders.NOW)
    return dashboard.home_page(deps, trainer), recorded.calls


def test_the_home_page_before_set_up_is_the_checklist_from_one_read(repo: Repository) -> None:
    page, calls = _home_page(repo, builders.make_trainer(repo))
    assert calls == 1  # the set-up read
    assert not page.set_up and page.done == 0 and len(page.steps) == 6
    assert page.active_clients == 0 and page.today == builders.NOW.date()


def test_the_home_page_once_set_up_is_eight_reads(repo: Repository) -> None:
    trainer, studio = builders.add_location(repo, builders.make_trainer(repo), "Studio")
    deps = Deps(repo, runtime.links(), runtime.config(), builders.NOW)
    slot = SaveSlot(weekday="2", start="09:00", end="10:00", location_id=studio, version=0)
    account.save_template_slot(deps, trainer.id, slot)
    priya = builders.add_client(repo, trainer, "Priya Shah", (studio,))
    booked = builders.allocate(repo, trainer, builders.add_slot(repo, trainer, studio), priya)
    page, calls = _home_page(repo, trainer)
    # the set-up read, this week and next, the next sessions, 8 weeks of past (the live
    # and the gone partitions), messages, the Activity feed
    assert calls == 8
    assert page.set_up and page.active_clients == 1 and page.overview is not None
    assert [line.session.id for line in page.overview.upcoming] == [booked.id]
    assert page.overview.today == [] and page.overview.failed == []

"""The Schedule tab through its pages: views, one-off slots, open-slot actions, Apply."""

from __future__ import annotations

import html
import re
from datetime import date, timedelta

import pytest

from chalicelib import runtime
from chalicelib.domain.schedule import make_slot
from tests.functional.conftest import Browser
from tests.functional.test_locations_and_template import add_location, add_slot, location_version

SLOT_LINK = re.compile(r'/dashboard/schedule/(\d{4}-W\d{2})/slots/([A-Za-z0-9_-]+)"')
# The frozen clock (tests/conftest.py) is Monday 2026-11-23 09:00 UTC: week 2026-W48.


def trainer_id(browser: Browser) -> str:
    return browser.cookies["pt_session"].split(".")[0]


def new_slot(browser: Browser, day: str, start: str, end: str, location: str):
    return browser.post(
        "/dashboard/schedule/new",
        {"day": day, "start": start, "end": end, "location_id": location},
    )


def slots_on(browser: Browser, week: str) -> list[tuple[str, str]]:
    return SLOT_LINK.findall(browser.get(f"/dashboard/schedule?week={week}").body)


def test_the_week_view_shows_the_default_view_with_legend_and_navigation(
    trainer: Browser, clock
) -> None:
    page = trainer.get("/dashboard/schedule")
    assert page.status == 200
    assert "23 Nov – 29 Nov 2026" in page.body and "2026-W48" in page.body
    for label in ("Recurring", "Booked / manual", "Open", "last-minute matches", "Offer locked"):
        assert label in page.body
    assert "view=week&amp;day=2026-11-16" in page.body  # previous week
    assert "view=week&amp;day=2026-11-30" in page.body  # next week
    assert 'class="day today"' in page.body


def test_the_week_and_the_day_are_addressable_by_url(trainer: Browser, clock) -> None:
    week = trainer.get("/dashboard/schedule?week=2026-W50")
    assert "7 Dec – 13 Dec 2026" in week.body
    day = trainer.get("/dashboard/schedule?day=2026-11-26")
    assert "Thursday 26 November 2026" in day.body
    assert day.body.count('<section class="day') == 1


def test_the_default_view_comes_from_settings(trainer: Browser, clock) -> None:
    from chalicelib.domain.settings import TrainerSettings

    repo = runtime.repository()
    me = repo.get_trainer(trainer_id(trainer))
    assert me is not None
    repo.save_settings(me, TrainerSettings(default_view="day"))
    page = trainer.get("/dashboard/schedule")
    assert "Monday 23 November 2026" in page.body
    assert page.body.count('<section class="day') == 1


@pytest.mark.parametrize(
    "query", ["week=2026-W60", "week=2025-W53", "day=2026-02-30", "week=%3Cb%3E"]
)
def test_impossible_weeks_and_days_are_a_clear_400(trainer: Browser, query: str) -> None:
    page = trainer.get(f"/dashboard/schedule?{query}")
    assert page.status == 400
    assert "is not a week" in html.unescape(page.body) or "is not a date" in html.unescape(
        page.body
    )
    assert "<b>" not in page.body


def test_adding_a_one_off_slot_from_an_empty_cell(trainer: Browser, clock) -> None:
    studio = add_location(trainer, "Studio")
    form = trainer.get("/dashboard/schedule/new?day=2026-11-26&start=18:00")
    assert 'value="2026-11-26"' in form.body and '<option value="19:00" selected>' in form.body
    added = new_slot(trainer, "2026-11-26", "18:00", "19:30", studio)
    assert added.status == 303 and "week=2026-W48" in added.location
    week = trainer.get("/dashboard/schedule?week=2026-W48").body
    assert "18:00–19:30" in week and "Studio" in week


@pytest.mark.parametrize(
    ("day", "start", "end", "message"),
    [
        ("2026-11-26", "09:00", "09:45", "not 45 min"),
        ("2026-11-26", "10:00", "09:00", "The end must be after the start."),
        ("2026-11-26", "09:15", "10:15", "not on the 30-minute grid"),
        ("2026-11-26", "09:30", "10:30", "This overlaps the slot Thursday 26 Nov 09:00–10:00"),
        ("2026-11-23", "08:00", "08:30", "That time has passed"),
        ("2026-02-30", "09:00", "10:00", "is not a date"),
        ("2027-03-28", "01:00", "02:00", "does not exist"),
    ],
)
def test_bad_one_off_slots_are_explained_with_input_kept_and_nothing_saved(
    trainer: Browser, clock, day: str, start: str, end: str, message: str
) -> None:
    studio = add_location(trainer, "Studio")
    assert new_slot(trainer, "2026-11-26", "09:00", "10:00", studio).status == 303
    page = new_slot(trainer, day, start, end, studio)
    assert page.status == 400
    assert message in html.unescape(page.body)
    assert f'value="{day}"' in page.body
    assert len(slots_on(trainer, "2026-W48")) == 1


def test_a_slot_needs_an_active_location_of_this_trainer(
    trainer: Browser, other_trainer: Browser, clock
) -> None:
    theirs = add_location(other_trainer, "Theirs")
    mine = add_location(trainer, "Mine")
    trainer.post(
        f"/dashboard/settings/locations/{mine}",
        {"action": "archive", "version": location_version(trainer, mine)},
    )
    for location in (theirs, mine, ""):
        page = new_slot(trainer, "2026-11-26", "09:00", "10:00", location)
        assert page.status == 400 and "Pick one of your active locations." in page.body
    assert slots_on(trainer, "2026-W48") == []


def test_an_open_slot_can_move_location_and_be_removed(trainer: Browser, clock) -> None:
    studio = add_location(trainer, "Studio")
    park = add_location(trainer, "Park")
    new_slot(trainer, "2026-11-26", "09:00", "10:00", studio)
    ((week, slot_id),) = slots_on(trainer, "2026-W48")
    path = f"/dashboard/schedule/{week}/slots/{slot_id}"
    page = trainer.get(path)
    assert page.status == 200 and "Thursday 26 Nov 09:00–10:00" in page.body
    moved = trainer.post(path, {"action": "location", "location_id": park, "version": "1"})
    assert moved.status == 303
    assert "Park" in trainer.get(path).body
    stale = trainer.post(path, {"action": "remove", "version": "1"})
    assert stale.status == 409 and "changed elsewhere" in stale.body
    removed = trainer.post(path, {"action": "remove", "version": "2"})
    assert removed.status == 303
    assert slots_on(trainer, "2026-W48") == []
    assert trainer.get(path).status == 404


def test_another_trainers_slot_ids_give_404_and_change_nothing(
    trainer: Browser, other_trainer: Browser, clock
) -> None:
    studio = add_location(trainer, "Studio")
    new_slot(trainer, "2026-11-26", "09:00", "10:00", studio)
    ((week, slot_id),) = slots_on(trainer, "2026-W48")
    path = f"/dashboard/schedule/{week}/slots/{slot_id}"
    assert other_trainer.get(path).status == 404
    assert other_trainer.post(path, {"action": "remove", "version": "1"}).status == 404
    assert trainer.get(f"/dashboard/schedule/2026-W49/slots/{slot_id}").status == 404
    assert slots_on(trainer, "2026-W48") == [(week, slot_id)]


def test_apply_template_fills_the_weeks_and_explains_what_it_left_out(
    trainer: Browser, clock
) -> None:
    studio = add_location(trainer, "Studio")
    add_slot(trainer, 0, "07:00", "08:00", studio)  # Monday 07:00: already past this week
    add_slot(trainer, 2, "18:00", "19:00", studio)
    page = trainer.post("/dashboard/schedule/apply", {"week": "2026-W48", "weeks": "2"})
    assert page.status == 200
    body = html.unescape(page.body)
    assert "1 not added: it is in the past" in body
    assert "<li>Monday 23 Nov 07:00–08:00</li>" in body
    assert "Wednesday 25 Nov 18:00–19:00" in body
    assert len(slots_on(trainer, "2026-W48")) == 1
    assert len(slots_on(trainer, "2026-W49")) == 2
    again = html.unescape(
        trainer.post("/dashboard/schedule/apply", {"week": "2026-W48", "weeks": "2"}).body
    )
    assert "0 slots added" in again and "2 not added: it is already there" in again
    assert len(slots_on(trainer, "2026-W49")) == 2
    # steps 1, 2 and now 5 (Apply the template) are done; the client steps are not
    assert "3 of 6 done" in trainer.get("/dashboard").body


def test_apply_template_keeps_existing_bookings_and_fills_the_rest_of_the_week(
    trainer: Browser, clock
) -> None:
    from tests.functional.test_clients_pages import (
        add_client,
        post_profile_with,
        template_slot_ids,
    )

    studio = add_location(trainer, "Studio")
    add_slot(trainer, 2, "18:00", "19:00", studio)  # Priya's recurring slot
    add_slot(trainer, 5, "12:00", "13:00", studio)  # clashes with Ella's booking below
    add_slot(trainer, 4, "09:00", "10:00", studio)  # free
    priya = add_client(trainer, "Priya Shah")
    wednesday = template_slot_ids(trainer)[0]
    assert post_profile_with(trainer, priya, [studio], [wednesday]).status == 303
    # a hand-made booking (as a bundle session would be) for Ella, Saturday 12:30–13:30, in
    # this week and the next: before, it made Apply skip both weeks whole
    ella = add_client(trainer, "Ella Brown")
    tid = trainer_id(trainer)
    for week_day in (date(2026, 11, 28), date(2026, 12, 5)):
        new_slot(trainer, week_day.isoformat(), "12:30", "13:30", studio)
        week = "2026-W48" if week_day.day == 28 else "2026-W49"
        (slot_id,) = [sid for w, sid in slots_on(trainer, week)]
        slot_page = trainer.get(f"/dashboard/schedule/{week}/slots/{slot_id}").body
        version = re.search(r'name="version" value="(\d+)"', slot_page)
        assert version
        booked = trainer.post(
            f"/dashboard/schedule/{week}/slots/{slot_id}",
            {"action": "allocate", "client_id": ella, "version": version.group(1)},
        )
        assert booked.status == 303, booked.body
    before = runtime.repository().get_week_with_sessions(tid, "2026-W48")
    ella_session = next(s for s in before.sessions if s.client_name == "Ella Brown")

    page = html.unescape(
        trainer.post("/dashboard/schedule/apply", {"week": "2026-W48", "weeks": "2"}).body
    )
    assert page.count("2 slots added.") == 2
    assert "Wednesday 25 Nov 18:00–19:00 · <strong>Priya Shah</strong> (recurring)" in page
    assert "Wednesday 2 Dec 18:00–19:00 · <strong>Priya Shah</strong> (recurring)" in page
    assert "1 not added: Ella Brown's session is there (12:30–13:30)" in page
    for week in ("2026-W48", "2026-W49"):
        got = runtime.repository().get_week_with_sessions(tid, week)
        live = [s for s in got.sessions if s.is_live]
        assert sorted(s.client_name for s in live) == ["Ella Brown", "Priya Shah"]
        assert len(got.slots) == 3  # Ella's, Priya's, and the free Friday one
    after = runtime.repository().get_week_with_sessions(tid, "2026-W48")
    assert next(s for s in after.sessions if s.id == ella_session.id) == ella_session

    # applying again writes nothing and books nobody twice
    again = html.unescape(
        trainer.post("/dashboard/schedule/apply", {"week": "2026-W48", "weeks": "2"}).body
    )
    assert again.count("0 slots added.") == 2
    got = runtime.repository().get_week_with_sessions(tid, "2026-W48")
    assert len([s for s in got.sessions if s.client_name == "Priya Shah"]) == 1


def test_apply_template_does_not_rebook_a_recurring_client_who_moved_this_week(
    trainer: Browser, clock
) -> None:
    from tests.functional.test_clients_pages import (
        add_client,
        post_profile_with,
        template_slot_ids,
    )

    studio = add_location(trainer, "Studio")
    add_slot(trainer, 2, "18:00", "19:00", studio)
    priya = add_client(trainer, "Priya Shah")
    post_profile_with(trainer, priya, [studio], [template_slot_ids(trainer)[0]])
    trainer.post("/dashboard/schedule/apply", {"week": "2026-W48", "weeks": "1"})
    tid = trainer_id(trainer)
    week = runtime.repository().get_week_with_sessions(tid, "2026-W48")
    (session,) = week.sessions
    # Priya moves to Thursday: the trainer opens a Thursday slot, starts Change, moves her
    new_slot(trainer, "2026-11-26", "10:00", "11:00", studio)
    target = next(s for s in runtime.repository().get_week(tid, "2026-W48") if s.is_open)
    trainer.post(f"/dashboard/sessions/{session.ref}", {"action": "change_start", "version": "1"})
    moved = trainer.post(
        "/dashboard/schedule/move",
        {"session": session.ref, "slot_id": target.id, "version": "2", "week": "2026-W48"},
    )
    assert moved.status == 303, moved.body
    # then the trainer removes the freed Wednesday slot, and applies the template again
    freed = next(
        s
        for s in runtime.repository().get_week(tid, "2026-W48")
        if s.is_open and s.id == session.slot_id
    )
    slot_page = trainer.get(f"/dashboard/schedule/2026-W48/slots/{freed.id}").body
    version = re.search(r'name="version" value="(\d+)"', slot_page)
    assert version
    trainer.post(
        f"/dashboard/schedule/2026-W48/slots/{freed.id}",
        {"action": "remove", "version": version.group(1)},
    )
    page = html.unescape(
        trainer.post("/dashboard/schedule/apply", {"week": "2026-W48", "weeks": "1"}).body
    )
    assert "1 slot added." in page
    assert "left open: Priya Shah already has this week's session for it" in page
    live = [
        s
        for s in runtime.repository().get_week_with_sessions(tid, "2026-W48").sessions
        if s.is_live
    ]
    assert [s.start for s in live] == [10 * 60]  # only the Thursday session


@pytest.mark.parametrize(
    ("week", "weeks", "message"),
    [
        ("9999-W50", "12", "Pick a week between 2000 and 2100."),
        ("2100-W50", "12", "Those weeks are too far ahead"),
        ("2029-W01", "1", "Apply template reaches at most 104 weeks ahead."),
        ("2026-W40", "2", "Those weeks are over"),
    ],
)
def test_apply_template_refuses_weeks_out_of_range_before_writing_anything(
    trainer: Browser, clock, week: str, weeks: str, message: str
) -> None:
    studio = add_location(trainer, "Studio")
    add_slot(trainer, 4, "09:00", "10:00", studio)
    page = trainer.post("/dashboard/schedule/apply", {"week": week, "weeks": weeks})
    assert page.status == 400 and message in html.unescape(page.body)
    tid = trainer_id(trainer)
    start = week if week.startswith("20") and week < "2100" else "2100-W50"
    from chalicelib.domain.schedule import shift_week

    for offset in range(3):
        assert runtime.repository().get_week(tid, shift_week(start, offset)) == []


@pytest.mark.parametrize("weeks", ["0", "13", "-1", "two", "²"])
def test_apply_template_refuses_a_bad_number_of_weeks(trainer: Browser, clock, weeks: str) -> None:
    page = trainer.post("/dashboard/schedule/apply", {"week": "2026-W48", "weeks": weeks})
    assert page.status == 400 and "Apply to 1 to 12 weeks" in page.body


def test_the_week_view_is_one_query_even_with_a_year_of_history(trainer: Browser, clock) -> None:
    studio = add_location(trainer, "Studio")
    repo = runtime.repository()
    for weeks_ago in range(0, 53):
        day = date(2026, 11, 26) - timedelta(weeks=weeks_ago)
        repo.add_slot(
            trainer_id(trainer), make_slot(f"s{weeks_ago}", day, 540, 600, studio, "Europe/London")
        )
    page = trainer.get("/dashboard/schedule?week=2026-W48")
    assert "09:00–10:00" in page.body
    # session + profile (with location names) in one BatchGetItem, the week's Query, and
    # the set-up read (client index, opt-ins, template) for last-minute matches (amber)
    assert page.db_calls == 3
    assert trainer.get("/dashboard/schedule?day=2026-11-26").db_calls == 3
    # a week with no open future slot has nothing to match: no account read
    assert trainer.get("/dashboard/schedule?week=2026-W46").db_calls == 2


def add_client(browser: Browser, name: str) -> str:
    page = browser.post(
        "/dashboard/clients", {"name": name, "phone": "07400 123456", "price": "40"}
    )
    assert page.status == 303, page.body
    return page.location.split("/dashboard/clients/")[1].split("?")[0]


def allocate(browser: Browser, week: str, slot_id: str, client: str):
    return browser.post(
        f"/dashboard/schedule/{week}/slots/{slot_id}",
        {"action": "allocate", "client_id": client, "version": "1"},
    )


def test_a_trainer_allocates_a_client_and_opens_the_session_page(trainer: Browser, clock) -> None:
    studio = add_location(trainer, "Studio")
    client = add_client(trainer, "Priya Shah")
    new_slot(trainer, "2026-11-26", "09:00", "10:00", studio)
    ((week, slot_id),) = slots_on(trainer, "2026-W48")
    path = f"/dashboard/schedule/{week}/slots/{slot_id}"
    assert "Priya Shah (location not enabled)" in trainer.get(path).body
    booked = trainer.post(path, {"action": "allocate", "client_id": client, "version": "1"})
    assert booked.status == 303 and "/dashboard/sessions/2026-W48." in booked.location
    session_page = trainer.follow(booked)
    assert "Priya Shah is booked." in session_page.body
    assert "Thursday 26 Nov 09:00–10:00" in session_page.body and "Studio" in session_page.body
    assert "Manual" in session_page.body
    week_page = trainer.get("/dashboard/schedule?week=2026-W48").body
    assert "slot slot-booked" in week_page and "Priya Shah" in week_page
    assert slots_on(trainer, "2026-W48") == []  # the booking links to its session now
    # a replayed allocation form books nothing more
    again = trainer.post(path, {"action": "allocate", "client_id": client, "version": "1"})
    assert again.status == 409


@pytest.mark.parametrize("client_id", ["", "nope", "other-trainers"])
def test_allocating_needs_one_of_your_clients(
    trainer: Browser, other_trainer: Browser, clock, client_id: str
) -> None:
    studio = add_location(trainer, "Studio")
    add_client(trainer, "Mine")
    if client_id == "other-trainers":
        client_id = add_client(other_trainer, "Theirs")
    new_slot(trainer, "2026-11-26", "09:00", "10:00", studio)
    ((week, slot_id),) = slots_on(trainer, "2026-W48")
    page = trainer.post(
        f"/dashboard/schedule/{week}/slots/{slot_id}",
        {"action": "allocate", "client_id": client_id, "version": "1"},
    )
    assert page.status == 400 and "Choose" in page.body
    assert len(slots_on(trainer, "2026-W48")) == 1


@pytest.mark.parametrize(
    "ref",
    ["nope", "2026-W48.20261126T090000Z.x", "2026-W60.20261126T090000Z.abcdefghijkl", "<script>"],
)
def test_bad_or_foreign_session_ids_give_404(trainer: Browser, ref: str) -> None:
    assert trainer.get(f"/dashboard/sessions/{ref}").status == 404


def test_another_trainers_session_is_404(trainer: Browser, other_trainer: Browser, clock) -> None:
    studio = add_location(trainer, "Studio")
    client = add_client(trainer, "Priya Shah")
    new_slot(trainer, "2026-11-26", "09:00", "10:00", studio)
    ((week, slot_id),) = slots_on(trainer, "2026-W48")
    session_path = allocate(trainer, week, slot_id, client).location.split("?")[0]
    assert trainer.get(session_path).status == 200
    page = other_trainer.get(session_path)
    assert page.status == 404 and "Priya" not in page.body
    # session + profile, then the session (GetItem) and its change log (one Query); the log
    # lines sit outside the week view's key range so the week never reads them
    assert trainer.get(session_path).db_calls == 3


def test_remove_slot_asks_first_and_the_first_step_changes_nothing(trainer: Browser, clock) -> None:
    studio = add_location(trainer, "Studio")
    new_slot(trainer, "2026-11-26", "09:00", "10:00", studio)
    ((week, slot_id),) = slots_on(trainer, "2026-W48")
    path = f"/dashboard/schedule/{week}/slots/{slot_id}"
    page = trainer.get(path).body
    assert 'value="remove"' not in page and "confirm=remove" in page
    confirm = html.unescape(trainer.get(f"{path}?confirm=remove").body)
    assert "Remove the open slot Thursday 26 Nov 09:00–10:00?" in confirm
    assert 'value="remove"' in confirm and "Keep it" in confirm
    assert slots_on(trainer, "2026-W48") == [(week, slot_id)]


def test_apply_template_is_one_query_and_one_transaction_per_week(trainer: Browser, clock) -> None:
    studio = add_location(trainer, "Studio")
    for weekday in range(3):
        for start, end in (("07:00", "08:00"), ("18:00", "19:00")):
            add_slot(trainer, weekday, start, end, studio)
    first = trainer.post("/dashboard/schedule/apply", {"week": "2026-W49", "weeks": "1"})
    assert "6 slots added." in first.body
    # session, the set-up read (template, recurring claims: none here, so no client is
    # read), the week's Query, one transaction, the checklist mark
    assert first.db_calls == 5
    three = trainer.post("/dashboard/schedule/apply", {"week": "2026-W50", "weeks": "3"})
    assert three.body.count("6 slots added.") == 3
    assert three.db_calls == 2 + 3 * 2  # before: a transaction per slot (20 calls)


def test_an_unknown_slot_action_or_a_refused_one_shows_the_slot_again_with_the_input(
    trainer: Browser, clock
) -> None:
    studio = add_location(trainer, "Studio")
    client = add_client(trainer, "Priya Shah")
    new_slot(trainer, "2026-11-23", "09:30", "10:30", studio)  # starts in half an hour
    ((week, slot_id),) = slots_on(trainer, "2026-W48")
    path = f"/dashboard/schedule/{week}/slots/{slot_id}"
    unknown = trainer.post(path, {"action": "publish", "version": "1"})
    assert unknown.status == 400 and "Unknown action." in unknown.body
    assert "Monday 23 Nov 09:30–10:30" in unknown.body
    # a rule's refusal sits beside its input, with the client still chosen
    clock.advance(minutes=45)
    started = trainer.post(path, {"action": "allocate", "client_id": client, "version": "1"})
    assert started.status == 400
    assert "This slot has started: it cannot be booked any more." in started.body
    assert f'<option value="{client}" selected>' in started.body
    assert 'id="client_id-error"' in started.body
    assert len(slots_on(trainer, "2026-W48")) == 1

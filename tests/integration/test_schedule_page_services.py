"""Page query services and form use cases of the Schedule tab: what each view model holds,
and how many DynamoDB calls each costs (the functional tests pin the same numbers per
request, plus the trainer's session read)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from chalicelib.domain.errors import Conflict, InvalidInput, NotFound, VersionConflict
from chalicelib.domain.schedule import AddSlot, ApplyTemplate, Session, Slot
from chalicelib.domain.template import TemplateSlot, WeeklyTemplate
from chalicelib.repo import metrics
from chalicelib.repo.repository import Repository
from chalicelib.services import schedule, sessions
from chalicelib.services.schedule import (
    MoveHerePage,
    MoveSession,
    SlotAction,
    SlotPage,
    SlotRefused,
)
from tests.support.builders import (
    NOW,
    THURSDAY,
    World,
    add_slot,
    allocate,
    make_world,
    offer_slot,
    slot_now,
    trainer_of,
)
from tests.support.pages import counted, holds_no_service_objects
from tests.support.pages import deps_for as _deps

BASE = "https://app.example.test"


def _base() -> str:
    return BASE


def _no_url() -> str:
    raise AssertionError("only an offer asks for the public URL")


@pytest.fixture
def world(repo: Repository) -> World:
    """Omar ticked the template's Wednesday 09:00 at the Studio; Priya did not."""
    world = make_world(repo)
    template = repo.get_setup(world.trainer.id).template
    wednesday = TemplateSlot(id="wed9", weekday=2, start=540, end=600, location_id=world.studio)
    repo.save_template(world.trainer.id, template, WeeklyTemplate(slots=(wednesday,)), world.studio)
    repo.set_optin(world.trainer.id, world.omar.id, "wed9", True)
    return world


@pytest.fixture
def wednesday(repo: Repository, world: World) -> Slot:
    """The open Wednesday 25 Nov 09:00–10:00 at the Studio (Omar matches it)."""
    return add_slot(repo, world.trainer, world.studio)


def _action(slot: Slot, action: str, **fields: object) -> SlotAction:
    return SlotAction(
        week=slot.week,
        slot_id=slot.id,
        action=action,  # type: ignore[arg-type]
        version=slot.version,
        **fields,  # type: ignore[arg-type]
    )


# The week and day views --------------------------------------------------------------------
def test_the_week_is_its_query_and_the_set_up_read_for_amber(
    repo: Repository, world: World, wednesday: Slot
) -> None:
    page, calls = counted(lambda: schedule.week_page(_deps(repo), world.trainer, week="2026-W48"))
    assert calls == 2
    assert (page.view, page.week, page.day, page.today) == (
        "week",
        "2026-W48",
        NOW.date(),
        NOW.date(),
    )
    assert page.days == tuple(date(2026, 11, 23) + timedelta(days=i) for i in range(7))
    assert (page.previous, page.next) == (date(2026, 11, 16), date(2026, 11, 30))
    assert page.label == "23 Nov – 29 Nov 2026"
    assert page.nav.previous == "Previous week: 16 Nov – 22 Nov 2026"
    assert [s.id for s in page.slots] == [wednesday.id] and page.sessions == ()
    assert page.matched == frozenset({wednesday.id}) and page.moving is None
    holds_no_service_objects(page)


def test_a_week_with_nothing_to_offer_skips_the_set_up_read(
    repo: Repository, world: World, wednesday: Slot
) -> None:
    allocate(repo, world.trainer, wednesday, world.priya)
    page, calls = counted(lambda: schedule.week_page(_deps(repo), world.trainer))
    assert calls == 1 and page.matched == frozenset()
    assert len(page.sessions) == 1 and page.week == "2026-W48"
    assert schedule.week_page(_deps(repo), world.trainer, week="2026-W46").slots == ()


def test_a_day_is_its_weeks_query_and_the_day_view(
    repo: Repository, world: World, wednesday: Slot
) -> None:
    page = schedule.week_page(_deps(repo), world.trainer, day=THURSDAY)
    assert (page.view, page.days, page.week) == ("day", (THURSDAY,), "2026-W48")
    assert page.label == "Thursday 26 November 2026"
    assert (page.previous, page.next) == (THURSDAY - timedelta(days=1), THURSDAY + timedelta(1))
    # the week view of a day's week, and a view nobody knows is the week
    assert schedule.week_page(_deps(repo), world.trainer, view="week", day=THURSDAY).days[0] == (
        date(2026, 11, 23)
    )
    assert schedule.week_page(_deps(repo), world.trainer, view="month").view == "week"
    # another week opens at its Monday; today's week at today
    other = schedule.week_page(_deps(repo), world.trainer, view="day", week="2026-W50")
    assert other.days == (date(2026, 12, 7),)


def test_the_week_shows_the_session_being_moved_only_while_it_is_changing(
    repo: Repository, world: World, wednesday: Slot
) -> None:
    booked = allocate(repo, world.trainer, wednesday, world.priya)
    plain = schedule.week_page(_deps(repo), world.trainer, move_ref=booked.ref)
    assert plain.moving is None  # not in Changing: the plain schedule
    changing = sessions.start_changing(repo, world.trainer.id, booked, "1", NOW)
    page, calls = counted(
        lambda: schedule.week_page(_deps(repo), world.trainer, move_ref=booked.ref)
    )
    assert page.moving == changing and calls == 2  # the session, the week (nothing open)
    later = NOW + timedelta(days=3)  # the session is over: nothing to move any more
    assert schedule.week_page(_deps(repo, later), world.trainer, move_ref=booked.ref).moving is None
    assert schedule.week_page(_deps(repo), world.trainer, move_ref="nope").moving is None


# + Add a one-off slot ----------------------------------------------------------------------
def test_the_add_form_proposes_an_hour_from_the_cell_and_reads_nothing(world: World) -> None:
    page, calls = counted(lambda: schedule.new_slot_page(world.trainer, THURSDAY, "18:00"))
    assert calls == 0
    assert page.form == {"day": "2026-11-26", "start": "18:00", "end": "19:00"}
    assert page.locations == [(world.park, "Park"), (world.studio, "Studio")]
    assert page.start_times[0] == (0, "00:00") and page.start_times[-1] == (1410, "23:30")
    assert page.end_times[0] == (30, "00:30") and page.end_times[-1] == (1440, "24:00")
    assert schedule.new_slot_page(world.trainer, THURSDAY, "23:30").form["end"] == "24:00"
    assert schedule.new_slot_page(world.trainer, THURSDAY, "9").form["end"] == ""
    typed = {"day": "2026-02-30", "start": "09:00", "end": "09:45", "location_id": "x"}
    assert schedule.new_slot_page(world.trainer, typed=typed).form == typed


def test_adding_a_one_off_slot_takes_the_command(repo: Repository, world: World) -> None:
    command = AddSlot(day="2026-11-26", start="18:00", end="19:30", location_id=world.studio)
    slot, calls = counted(lambda: schedule.add_one_off(_deps(repo), world.trainer, command))
    assert calls == 2  # the week for a friendly overlap message, the slot's transaction
    assert (slot.day, slot.start, slot.end) == (THURSDAY, 18 * 60, 19 * 60 + 30)
    with pytest.raises(InvalidInput) as refused:
        schedule.add_one_off(_deps(repo), world.trainer, command)
    assert refused.value.errors == {"start": "This overlaps the slot Thursday 26 Nov 18:00–19:30."}


# The open-slot page ------------------------------------------------------------------------
def test_the_open_slot_page_is_the_week_the_set_up_read_and_the_log(
    repo: Repository, world: World, wednesday: Slot
) -> None:
    page, calls = counted(
        lambda: schedule.slot_page(
            _deps(repo), world.trainer, "2026-W48", wednesday.id, confirming="remove"
        )
    )
    assert calls == 3
    assert page.slot == wednesday and page.location and page.location.name == "Studio"
    assert page.live_offer is None and page.minutes_left == 0
    assert [c.name for c in page.matches] == ["Omar Haddad"]
    assert [c.name for c in page.clients] == ["Omar Haddad", "Priya Shah"]
    assert page.locations == [(world.park, "Park"), (world.studio, "Studio")]
    assert (page.lock_minutes, page.time_zone, page.confirming) == (60, "Europe/London", "remove")
    assert page.log == []
    holds_no_service_objects(page)


def test_a_slot_under_a_live_offer_shows_it_and_no_matches(
    repo: Repository, world: World, wednesday: Slot
) -> None:
    offered = offer_slot(repo, world.trainer, wednesday, world.omar, minutes=30)
    later = NOW + timedelta(minutes=10, seconds=30)
    page = schedule.slot_page(_deps(repo, later), world.trainer, "2026-W48", wednesday.id)
    assert page.live_offer == offered.offer and page.minutes_left == 19
    assert page.matches == []  # a held slot cannot be offered again
    # the offer's log line and its WhatsApp message: the page's offer history
    assert sorted((entry.is_message, entry.text) for entry in page.log) == [
        (False, "Offered to Omar Haddad"),
        (True, "A message"),
    ]
    ended = schedule.slot_page(
        _deps(repo, NOW + timedelta(minutes=31)), world.trainer, "2026-W48", wednesday.id
    )
    assert ended.live_offer is None and [c.name for c in ended.matches] == ["Omar Haddad"]


def test_a_slot_of_another_week_or_trainer_is_not_found(
    repo: Repository, world: World, wednesday: Slot
) -> None:
    with pytest.raises(NotFound):
        schedule.slot_page(_deps(repo), world.trainer, "2026-W49", wednesday.id)
    with pytest.raises(NotFound):
        schedule.slot_or_move_here(_deps(repo), world.trainer, "2026-W48", "nope", move_ref="x")


def test_a_slot_picked_while_moving_asks_to_move_here_from_two_reads(
    repo: Repository, world: World, wednesday: Slot
) -> None:
    friday = add_slot(repo, world.trainer, world.park, "11:00", "12:00", date(2026, 11, 27))
    booked = allocate(repo, world.trainer, wednesday, world.priya)
    changing = sessions.start_changing(repo, world.trainer.id, booked, "1", NOW)
    page, calls = counted(
        lambda: schedule.slot_or_move_here(
            _deps(repo), world.trainer, "2026-W48", friday.id, move_ref=booked.ref
        )
    )
    assert calls == 2  # the week, the session
    assert isinstance(page, MoveHerePage)
    assert (page.slot, page.moving) == (friday, changing)
    assert page.location and page.location.name == "Park"
    assert page.was_at and page.was_at.name == "Studio"
    # the slot it is in now is not open: its own page, as without a move
    own = schedule.slot_or_move_here(
        _deps(repo), world.trainer, "2026-W48", wednesday.id, move_ref=booked.ref
    )
    assert isinstance(own, SlotPage)


# The open-slot actions ---------------------------------------------------------------------
def test_sending_an_offer_is_the_week_the_set_up_read_the_client_and_one_write(
    repo: Repository, world: World, wednesday: Slot
) -> None:
    asked: list[str] = []

    def base_url() -> str:
        asked.append(BASE)
        return BASE

    command = _action(wednesday, "offer", client_id=world.omar.id)
    done, calls = counted(
        lambda: schedule.change_slot(_deps(repo), world.trainer, command, base_url)
    )
    assert calls == 4 and asked == [BASE]
    assert (done.action, done.week, done.booked) == ("offer", "2026-W48", None)
    locked = slot_now(repo, world.trainer.id, wednesday)
    assert locked and locked.offer and locked.offer.client_name == "Omar Haddad"


def test_a_refused_offer_comes_with_its_page_from_the_same_reads(
    repo: Repository, world: World, wednesday: Slot
) -> None:
    command = _action(wednesday, "offer", client_id=world.priya.id)
    with pytest.raises(SlotRefused) as caught:
        recorded = metrics.begin()
        schedule.change_slot(_deps(repo), world.trainer, command, lambda: BASE)
    assert recorded.calls == 3  # the week, the set-up read, the log: each once
    refused = caught.value
    assert refused.status == 400
    assert refused.errors == {"client_id": "Choose one of the clients who match this slot."}
    assert refused.page.slot == wednesday and [c.name for c in refused.page.matches] == [
        "Omar Haddad"
    ]
    assert slot_now(repo, world.trainer.id, wednesday) == wednesday  # nothing written


def test_a_stale_page_is_refused_with_409_and_the_page_again(
    repo: Repository, world: World, wednesday: Slot
) -> None:
    moved = schedule.change_slot(
        _deps(repo),
        world.trainer,
        _action(wednesday, "location", location_id=world.park),
        _no_url,
    )
    assert moved.action == "location"
    stale = _action(wednesday, "remove")  # drawn before the move: version 1
    with pytest.raises(SlotRefused) as caught:
        schedule.change_slot(_deps(repo), world.trainer, stale, _no_url)
    assert caught.value.status == 409
    assert caught.value.errors == {"_form": VersionConflict.message}
    assert caught.value.page.location and caught.value.page.location.name == "Park"


def test_allocating_books_the_client_and_says_which_session_to_open(
    repo: Repository, world: World, wednesday: Slot
) -> None:
    command = _action(wednesday, "allocate", client_id=world.priya.id)
    done, calls = counted(
        lambda: schedule.change_slot(_deps(repo), world.trainer, command, _no_url)
    )
    assert calls == 3  # the week, the client, one transaction
    assert isinstance(done.booked, Session) and done.booked.client_name == "Priya Shah"
    with pytest.raises(SlotRefused) as again:  # the same form, replayed
        schedule.change_slot(_deps(repo), world.trainer, command, _no_url)
    assert again.value.status == 409


def test_withdraw_and_remove_take_only_the_week_and_their_write(
    repo: Repository, world: World, wednesday: Slot
) -> None:
    locked = offer_slot(repo, world.trainer, wednesday, world.omar).slot
    withdrawn, calls = counted(
        lambda: schedule.change_slot(
            _deps(repo), world.trainer, _action(locked, "withdraw"), _no_url
        )
    )
    assert calls == 2 and withdrawn.action == "withdraw"
    current = slot_now(repo, world.trainer.id, wednesday)
    assert current is not None
    schedule.change_slot(_deps(repo), world.trainer, _action(current, "remove"), _no_url)
    assert slot_now(repo, world.trainer.id, wednesday) is None


# Moves -------------------------------------------------------------------------------------
def _changing(repo: Repository, world: World, slot: Slot) -> Session:
    booked = allocate(repo, world.trainer, slot, world.priya)
    return sessions.start_changing(repo, world.trainer.id, booked, "1", NOW)


def test_a_move_is_the_session_the_week_the_client_and_one_write(
    repo: Repository, world: World, wednesday: Slot
) -> None:
    changing = _changing(repo, world, wednesday)
    target = add_slot(repo, world.trainer, world.studio, "11:00", "12:00", THURSDAY)
    command = MoveSession(
        session_ref=changing.ref, version=changing.version, week="2026-W48", slot_id=target.id
    )
    moved, calls = counted(
        lambda: schedule.move_session(_deps(repo), world.trainer, command, _base)
    )
    assert calls == 4 and moved.slot_id == target.id and moved.moved_from == changing.ref


def test_a_move_to_a_slot_removed_meanwhile_is_a_conflict_and_an_unknown_session_404(
    repo: Repository, world: World, wednesday: Slot
) -> None:
    changing = _changing(repo, world, wednesday)
    gone = MoveSession(
        session_ref=changing.ref, version=changing.version, week="2026-W48", slot_id="gone"
    )
    with pytest.raises(Conflict) as refused:
        schedule.move_session(_deps(repo), world.trainer, gone, _base)
    assert refused.value.user_message == schedule.SLOT_GONE
    with pytest.raises(NotFound):
        schedule.move_session(
            _deps(repo), world.trainer, MoveSession(session_ref="nope", week="2026-W48"), _base
        )
    with pytest.raises(InvalidInput) as bad_week:
        schedule.move_session(_deps(repo), world.trainer, MoveSession(week="2026-W60"), _base)
    assert set(bad_week.value.errors) == {"week"}


# Apply template ----------------------------------------------------------------------------
def test_apply_returns_its_summary_by_week(repo: Repository, world: World) -> None:
    trainer = trainer_of(repo, world.trainer.id)
    page = schedule.apply(_deps(repo), trainer, ApplyTemplate(week="2026-W48", weeks=2))
    assert page.first_week == "2026-W48" and page.span == "23 Nov – 6 Dec 2026"
    assert [(label, r.plan.week, len(r.added)) for label, r in page.weeks] == [
        ("23 Nov – 29 Nov 2026", "2026-W48", 1),
        ("30 Nov – 6 Dec 2026", "2026-W49", 1),
    ]
    with pytest.raises(InvalidInput) as refused:
        schedule.apply(_deps(repo), trainer, ApplyTemplate(week="2026-W40", weeks=2))
    assert refused.value.errors == {"week": "Those weeks are over: pick this week or a later one."}

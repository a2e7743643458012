"""Schedule writes refuse stale objects by their own conditions, not only by the checks
before them.

Each test reads an object, lets another request change the item underneath, then hands
the stale object straight to the repository's write: the write must raise and leave
every item of the table as it was. Each test fails if the condition it is about is
removed from the write (checked by removing each clause in turn). Where a clause is
backed up by another (the version and "not booked" of take open slot), a second test
hands the write the object as it is now, so that clause alone stands in the way.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.domain.clients import Client
from chalicelib.domain.errors import Conflict, VersionConflict
from chalicelib.domain.schedule import (
    cancellation,
    change_start,
    change_stop,
    make_slot,
    payment_change,
    trainer_move,
    voiding,
)
from chalicelib.domain.tokens import new_id
from chalicelib.repo import keys
from chalicelib.repo.parts import Notices, new_activity, new_message
from chalicelib.repo.repository import ClientUnavailable, Repository
from chalicelib.repo.schedule import NewSlot
from chalicelib.services import schedule, sessions
from tests.support.builders import (
    NOW,
    THURSDAY,
    WEDNESDAY,
    World,
    add_location,
    add_slot,
    allocate,
    archive_client,
    archive_location,
    link_for,
    make_world,
    message_for,
    new_booking,
    offer_slot,
    session_now,
    slot_now,
)
from tests.support.moto_tables import table_per_test
from tests.support.table import raw_set, unchanged

LATER = NOW + timedelta(days=3)  # after Wednesday's sessions: they can be voided

moto_client, repo = table_per_test()  # a fresh table per test, one moto per module


@pytest.fixture
def world(repo: Repository) -> World:
    return make_world(repo, clients_at_park=True)


# book_slot -------------------------------------------------------------------------------
def test_book_slot_refuses_a_slot_read_open_and_booked_since(repo: Repository, world) -> None:
    slot = add_slot(repo, world.trainer, world.studio)
    allocate(repo, world.trainer, slot, world.omar)  # another request got there first
    session = new_booking(slot, world.priya)
    with unchanged(repo), pytest.raises(Conflict, match="just taken"):
        repo.book_slot(
            world.trainer.id, slot, session, link_for(world.trainer, world.priya, session)
        )


def test_book_slot_refuses_a_slot_removed_since(repo: Repository, world) -> None:
    slot = add_slot(repo, world.trainer, world.studio)
    schedule.remove_slot(repo, world.trainer.id, slot, str(slot.version), NOW)
    session = new_booking(slot, world.priya)
    with unchanged(repo), pytest.raises(Conflict, match="just taken"):
        repo.book_slot(
            world.trainer.id, slot, session, link_for(world.trainer, world.priya, session)
        )


def test_book_slot_refuses_a_slot_offered_to_someone_else_since(repo: Repository, world) -> None:
    slot = add_slot(repo, world.trainer, world.studio)
    offer_slot(repo, world.trainer, slot, world.omar)  # held for Omar for an hour
    session = new_booking(slot, world.priya, NOW + timedelta(minutes=59))
    with unchanged(repo), pytest.raises(Conflict, match="just taken"):
        repo.book_slot(
            world.trainer.id, slot, session, link_for(world.trainer, world.priya, session)
        )


def test_book_slot_refuses_a_slot_moved_elsewhere_since_it_was_read(
    repo: Repository, world
) -> None:
    slot = add_slot(repo, world.trainer, world.studio)
    schedule.move_slot(repo, world.trainer, slot, world.park, str(slot.version), NOW)
    session = new_booking(slot, world.priya)  # booked for the World, as the page showed
    with unchanged(repo), pytest.raises(Conflict, match="just taken"):
        repo.book_slot(
            world.trainer.id, slot, session, link_for(world.trainer, world.priya, session)
        )


def test_book_slot_refuses_a_booked_slot_even_at_its_current_version(
    repo: Repository, world
) -> None:
    slot = add_slot(repo, world.trainer, world.studio)
    allocate(repo, world.trainer, slot, world.omar)
    booked = slot_now(repo, world.trainer.id, slot)  # read after the booking
    session = new_booking(booked, world.priya)
    with unchanged(repo), pytest.raises(Conflict, match="just taken"):
        repo.book_slot(
            world.trainer.id, booked, session, link_for(world.trainer, world.priya, session)
        )


def test_book_slot_refuses_a_slot_under_a_live_offer_even_at_its_current_version(
    repo: Repository, world
) -> None:
    slot = add_slot(repo, world.trainer, world.studio)
    locked = offer_slot(repo, world.trainer, slot, world.omar).slot  # read with the lock
    session = new_booking(locked, world.priya, NOW + timedelta(minutes=59))
    with unchanged(repo), pytest.raises(Conflict, match="just taken"):
        repo.book_slot(
            world.trainer.id, locked, session, link_for(world.trainer, world.priya, session)
        )


def test_book_slot_refuses_a_client_archived_since(repo: Repository, world) -> None:
    slot = add_slot(repo, world.trainer, world.studio)
    session = new_booking(slot, world.priya)  # the client was read active
    archive_client(repo, world.trainer.id, world.priya)
    with unchanged(repo), pytest.raises(ClientUnavailable):
        repo.book_slot(
            world.trainer.id, slot, session, link_for(world.trainer, world.priya, session)
        )


# add_slot --------------------------------------------------------------------------------
def test_add_slot_refuses_half_hours_taken_since_the_week_was_read(repo: Repository, world) -> None:
    assert repo.get_week(world.trainer.id, "2026-W48") == []  # the friendly read: all free
    mine = make_slot(new_id(), WEDNESDAY, 9 * 60, 10 * 60, world.studio, "Europe/London")
    add_slot(repo, world.trainer, world.park, "09:30", "10:30")  # another tab, meanwhile
    with unchanged(repo), pytest.raises(Conflict, match="already takes part"):
        repo.add_slot(world.trainer.id, mine)


def test_add_slot_refuses_a_location_archived_since(repo: Repository, world) -> None:
    slot = make_slot(new_id(), WEDNESDAY, 9 * 60, 10 * 60, world.studio, "Europe/London")
    archive_location(repo, world.trainer.id, world.studio)
    with unchanged(repo), pytest.raises(Conflict, match="archived"):
        repo.add_slot(world.trainer.id, slot)


def test_add_slot_with_a_recurring_booking_refuses_a_client_archived_since(
    repo: Repository, world
) -> None:
    slot = make_slot(new_id(), WEDNESDAY, 9 * 60, 10 * 60, world.studio, "Europe/London")
    booking = new_booking(slot, world.priya)
    link = link_for(world.trainer, world.priya, booking)
    archive_client(repo, world.trainer.id, world.priya)
    with unchanged(repo), pytest.raises(ClientUnavailable):
        repo.add_slot(world.trainer.id, slot, booking, link)


def _apply_entries(world: World, booked_for: Client | None = None) -> list[NewSlot]:
    """What Apply template read and would add: Wednesday 09:00 and 11:00 at the Studio."""
    entries = []
    for start in (9 * 60, 11 * 60):
        slot = make_slot(new_id(), WEDNESDAY, start, start + 60, world.studio, "Europe/London")
        booking = new_booking(slot, booked_for) if booked_for else None
        link = link_for(world.trainer, booked_for, booking) if booked_for and booking else None
        entries.append(NewSlot(slot, booking, link))
    return entries


def test_apply_template_writes_drop_a_slot_whose_time_was_taken_since(
    repo: Repository, world
) -> None:
    entries = _apply_entries(world)
    add_slot(repo, world.trainer, world.park, "11:30", "12:30")  # another tab, meanwhile
    added = repo.add_slots(world.trainer.id, entries)
    assert (added.written, added.lost) == ([0], [1])
    week = repo.get_week(world.trainer.id, "2026-W48")
    assert [s.id for s in week if s.location_id == world.studio] == [entries[0].slot.id]


def test_apply_template_writes_drop_slots_at_a_location_archived_since(
    repo: Repository, world
) -> None:
    entries = _apply_entries(world)
    archive_location(repo, world.trainer.id, world.studio)
    with unchanged(repo):
        added = repo.add_slots(world.trainer.id, entries)
    assert (added.written, added.lost) == ([], [0, 1])


def test_apply_template_writes_leave_open_the_slots_of_a_client_archived_since(
    repo: Repository, world
) -> None:
    entries = _apply_entries(world, booked_for=world.priya)
    archive_client(repo, world.trainer.id, world.priya)
    added = repo.add_slots(world.trainer.id, entries)
    assert (added.written, added.booked, added.lost) == ([0, 1], [], [])
    week = repo.get_week_with_sessions(world.trainer.id, "2026-W48")
    assert week.sessions == [] and all(s.is_open for s in week.slots)


# remove_slot -----------------------------------------------------------------------------
def test_remove_slot_refuses_a_slot_changed_since_it_was_read(repo: Repository, world) -> None:
    slot = add_slot(repo, world.trainer, world.studio)
    schedule.move_slot(repo, world.trainer, slot, world.park, str(slot.version), NOW)
    with unchanged(repo), pytest.raises(VersionConflict):
        repo.remove_slot(world.trainer.id, slot, NOW)


def test_remove_slot_refuses_a_booked_slot_even_at_its_current_version(
    repo: Repository, world
) -> None:
    slot = add_slot(repo, world.trainer, world.studio)
    allocate(repo, world.trainer, slot, world.priya)
    booked = slot_now(repo, world.trainer.id, slot)
    assert booked is not None and booked.session_id is not None
    with unchanged(repo), pytest.raises(VersionConflict):
        repo.remove_slot(world.trainer.id, booked, NOW)


def test_remove_slot_refuses_a_slot_under_a_live_offer_even_at_its_current_version(
    repo: Repository, world
) -> None:
    slot = add_slot(repo, world.trainer, world.studio)
    locked = offer_slot(repo, world.trainer, slot, world.omar).slot
    with unchanged(repo), pytest.raises(VersionConflict):
        repo.remove_slot(world.trainer.id, locked, NOW + timedelta(minutes=59))


def test_remove_slot_refuses_guards_that_belong_to_another_slot(repo: Repository, world) -> None:
    # Constructed (the app never lets it happen): a guard of this slot's time marked as
    # another slot's. Removing this slot must not free the other's half hour.
    slot = add_slot(repo, world.trainer, world.studio)
    guard = keys.slot_guard(world.trainer.id, slot.week, "2026-11-25T09:30:00Z")
    raw_set(repo, guard, slot_id="someone-else")
    with unchanged(repo), pytest.raises(VersionConflict):
        repo.remove_slot(world.trainer.id, slot, NOW)


# move_slot_location ----------------------------------------------------------------------
def test_move_slot_location_refuses_a_slot_changed_since_it_was_read(
    repo: Repository, world
) -> None:
    trainer, gym = add_location(repo, world.trainer, "Gym")
    slot = add_slot(repo, trainer, world.studio)
    schedule.move_slot(repo, trainer, slot, world.park, str(slot.version), NOW)  # another tab
    with unchanged(repo), pytest.raises(VersionConflict):
        repo.move_slot_location(trainer.id, slot, gym)


def test_move_slot_location_refuses_a_booked_slot_even_at_its_current_version(
    repo: Repository, world
) -> None:
    slot = add_slot(repo, world.trainer, world.studio)
    allocate(repo, world.trainer, slot, world.priya)
    booked = slot_now(repo, world.trainer.id, slot)
    assert booked is not None
    with unchanged(repo), pytest.raises(VersionConflict):
        repo.move_slot_location(world.trainer.id, booked, world.park)


def test_move_slot_location_refuses_a_location_archived_since(repo: Repository, world) -> None:
    slot = add_slot(repo, world.trainer, world.studio)
    archive_location(repo, world.trainer.id, world.park)
    with unchanged(repo), pytest.raises(Conflict, match="archived"):
        repo.move_slot_location(world.trainer.id, slot, world.park)


# change_session: cancel, void, payment, changing -----------------------------------------
CHANGES = {
    "cancel": lambda s: (cancellation(s, NOW), {"free_slot": True}),
    "void": lambda s: (voiding(s, LATER), {}),
    "payment": lambda s: (payment_change(s, True, "card", NOW)[0], {}),
    "start-changing": lambda s: (change_start(s, NOW), {}),
    "stop-changing": lambda s: (change_stop(s.model_copy(update={"changing": True})), {}),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_change_session_refuses_a_session_changed_since_it_was_read(
    repo: Repository, world, change: str
) -> None:
    slot = add_slot(repo, world.trainer, world.studio)
    stale = allocate(repo, world.trainer, slot, world.priya)
    if change == "stop-changing":  # read while Changing
        stale = sessions.start_changing(repo, world.trainer.id, stale, str(stale.version), NOW)
    form = {"paid": "yes", "payment_type": "cash", "version": str(stale.version)}
    payment = sessions.SetPayment(**form)
    sessions.set_payment(repo, world.trainer.id, stale, payment, NOW)  # another tab, meanwhile
    updated, options = CHANGES[change](stale)
    with unchanged(repo), pytest.raises(VersionConflict):
        repo.change_session(world.trainer.id, stale, updated, "trainer", "x", LATER, **options)


def test_a_cancel_frees_only_a_slot_that_still_holds_this_session(repo: Repository, world) -> None:
    # Constructed: the slot's session_id names another session (the app never leaves it
    # so). The cancel must not free a slot it does not hold.
    slot = add_slot(repo, world.trainer, world.studio)
    booked = allocate(repo, world.trainer, slot, world.priya)
    raw_set(
        repo,
        keys.slot(world.trainer.id, slot.week, "2026-11-25T09:00:00Z", slot.id),
        session_id="someone-else",
    )
    with unchanged(repo), pytest.raises(VersionConflict):
        repo.change_session(
            world.trainer.id, booked, cancellation(booked, NOW), "trainer", "x", NOW, free_slot=True
        )


def test_a_cancel_notice_is_not_written_over_a_message_already_queued(
    repo: Repository, world
) -> None:
    slot = add_slot(repo, world.trainer, world.studio)
    booked = allocate(repo, world.trainer, slot, world.priya)
    first = message_for(world.priya, booked.week, booked.id, kind="confirmation")
    assert repo.queue_session_message(world.trainer.id, booked, first)
    current = session_now(repo, world.trainer.id, booked)
    notice = first.model_copy(update={"kind": "cancel_notice", "text": "Canceled"})
    with unchanged(repo), pytest.raises(VersionConflict):
        repo.change_session(
            world.trainer.id,
            current,
            cancellation(current, NOW),
            "trainer",
            "x",
            NOW,
            free_slot=True,
            message=notice,
        )


# move_session ----------------------------------------------------------------------------
def _changing(repo: Repository, world: World):
    slot = add_slot(repo, world.trainer, world.studio)
    booked = allocate(repo, world.trainer, slot, world.priya)
    return sessions.start_changing(repo, world.trainer.id, booked, str(booked.version), NOW)


def _move(repo: Repository, world: World, session, target, now=NOW) -> None:
    moved, replacement = trainer_move(session, target, new_id(), now)
    repo.move_session(
        world.trainer.id,
        session,
        moved,
        replacement,
        target,
        "trainer",
        now,
        link_for(world.trainer, world.priya, replacement),
    )


def test_move_session_refuses_a_target_read_open_and_booked_since(repo: Repository, world) -> None:
    session = _changing(repo, world)
    target = add_slot(repo, world.trainer, world.studio, day=THURSDAY)
    allocate(repo, world.trainer, target, world.omar)
    with unchanged(repo), pytest.raises(Conflict, match="just taken"):
        _move(repo, world, session, target)


def test_move_session_refuses_a_target_removed_since(repo: Repository, world) -> None:
    session = _changing(repo, world)
    target = add_slot(repo, world.trainer, world.studio, day=THURSDAY)
    schedule.remove_slot(repo, world.trainer.id, target, str(target.version), NOW)
    with unchanged(repo), pytest.raises(Conflict, match="just taken"):
        _move(repo, world, session, target)


def test_move_session_refuses_a_target_offered_since(repo: Repository, world) -> None:
    session = _changing(repo, world)
    target = add_slot(repo, world.trainer, world.studio, day=THURSDAY)
    offer_slot(repo, world.trainer, target, world.omar)
    with unchanged(repo), pytest.raises(Conflict, match="just taken"):
        _move(repo, world, session, target, NOW + timedelta(minutes=59))


def test_move_session_refuses_a_target_moved_elsewhere_since_it_was_read(
    repo: Repository, world
) -> None:
    session = _changing(repo, world)
    target = add_slot(repo, world.trainer, world.studio, day=THURSDAY)
    schedule.move_slot(repo, world.trainer, target, world.park, str(target.version), NOW)
    with unchanged(repo), pytest.raises(Conflict, match="just taken"):
        _move(repo, world, session, target)


def test_move_session_refuses_a_session_changed_since_it_was_read(repo: Repository, world) -> None:
    session = _changing(repo, world)
    target = add_slot(repo, world.trainer, world.studio, day=THURSDAY)
    form = {"paid": "yes", "payment_type": "cash", "version": str(session.version)}
    sessions.set_payment(repo, world.trainer.id, session, sessions.SetPayment(**form), NOW)
    with unchanged(repo), pytest.raises(VersionConflict):
        _move(repo, world, session, target)


def test_move_session_frees_only_an_old_slot_that_still_holds_the_session(
    repo: Repository, world
) -> None:
    # Constructed: the old slot names another session; the move must not free it.
    session = _changing(repo, world)
    target = add_slot(repo, world.trainer, world.studio, day=THURSDAY)
    raw_set(
        repo,
        keys.slot(world.trainer.id, session.week, "2026-11-25T09:00:00Z", session.slot_id),
        session_id="someone-else",
    )
    with unchanged(repo), pytest.raises(VersionConflict):
        _move(repo, world, session, target)


# queue_session_message -------------------------------------------------------------------
def _canceled_since(repo: Repository, world: World):
    slot = add_slot(repo, world.trainer, world.studio)
    stale = allocate(repo, world.trainer, slot, world.priya)
    sessions.cancel(repo, world.trainer.id, stale, str(stale.version), NOW)
    return stale


def test_an_invoice_is_refused_for_a_session_read_booked_and_canceled_since(
    repo: Repository, world
) -> None:
    stale = _canceled_since(repo, world)
    message = message_for(world.priya, stale.week, stale.id, kind="invoice")
    invoiced = stale.model_copy(update={"price_minor": 4000, "invoice_sent_at": NOW})
    with unchanged(repo), pytest.raises(Conflict, match="canceled or moved"):
        repo.queue_session_message(world.trainer.id, stale, message, invoiced=invoiced)


def test_a_confirmation_is_refused_for_a_session_read_booked_and_canceled_since(
    repo: Repository, world
) -> None:
    stale = _canceled_since(repo, world)
    message = message_for(world.priya, stale.week, stale.id, kind="confirmation")
    with unchanged(repo), pytest.raises(Conflict, match="canceled or moved"):
        repo.queue_session_message(world.trainer.id, stale, message)


def test_the_same_message_queued_twice_writes_nothing_the_second_time(
    repo: Repository, world
) -> None:
    slot = add_slot(repo, world.trainer, world.studio)
    booked = allocate(repo, world.trainer, slot, world.priya)
    message = message_for(world.priya, booked.week, booked.id, kind="invoice")
    invoiced = booked.model_copy(update={"price_minor": 4000, "invoice_sent_at": NOW})
    assert repo.queue_session_message(world.trainer.id, booked, message, invoiced=invoiced)
    with unchanged(repo):
        assert not repo.queue_session_message(world.trainer.id, booked, message, invoiced=invoiced)


# What a change tells (notices): each written once, with its change or not at all ---------
def _booked_notices(world: World, session):
    return sessions.client_action_notices(
        world.trainer,
        world.priya,
        sessions.client_reach(world.priya),
        "booked",
        session,
        "https://app.example.test",
        NOW,
    )


def test_book_slot_refuses_a_feed_line_written_since(repo: Repository, world) -> None:
    slot = add_slot(repo, world.trainer, world.studio)
    session = new_booking(slot, world.priya)
    notices = _booked_notices(world, session)
    assert notices.activity is not None
    repo.db.transact([new_activity(world.trainer.id, notices.activity)])  # a replay got there
    with unchanged(repo), pytest.raises(Conflict):
        repo.book_slot(
            world.trainer.id,
            slot,
            session,
            link_for(world.trainer, world.priya, session),
            notices=Notices(activity=notices.activity),
        )


def test_book_slot_refuses_a_confirmation_queued_since(repo: Repository, world) -> None:
    slot = add_slot(repo, world.trainer, world.studio)
    session = new_booking(slot, world.priya)
    notices = _booked_notices(world, session)
    repo.db.transact([new_message(world.trainer.id, notices.messages[0])])
    with unchanged(repo), pytest.raises(Conflict):
        repo.book_slot(
            world.trainer.id,
            slot,
            session,
            link_for(world.trainer, world.priya, session),
            notices=Notices(messages=notices.messages[:1]),
        )


def test_a_booking_written_twice_queues_its_notices_once(repo: Repository, world) -> None:
    slot = add_slot(repo, world.trainer, world.studio)
    session = new_booking(slot, world.priya)
    notices = _booked_notices(world, session)
    link = link_for(world.trainer, world.priya, session)
    repo.book_slot(world.trainer.id, slot, session, link, notices=notices)
    with unchanged(repo), pytest.raises(Conflict):
        repo.book_slot(world.trainer.id, slot, session, link, notices=notices)
    messages, _ = repo.outbox.page(world.trainer.id, None, None)
    assert sorted(m.id for m in messages) == sorted(m.id for m in notices.messages)
    assert [e.id for e in repo.activity.feed(world.trainer.id)] == [f"{session.id}-booked"]


def test_change_session_refuses_a_feed_line_written_since(repo: Repository, world) -> None:
    slot = add_slot(repo, world.trainer, world.studio)
    booked = allocate(repo, world.trainer, slot, world.priya)
    canceled = cancellation(booked, NOW)
    notices = sessions.client_action_notices(
        world.trainer, world.priya, None, "canceled", canceled, "https://x.test", NOW
    )
    assert notices.activity is not None and notices.messages[0].kind == "notification"
    repo.db.transact([new_activity(world.trainer.id, notices.activity)])
    with unchanged(repo), pytest.raises(VersionConflict):
        repo.change_session(
            world.trainer.id, booked, canceled, "client", "Canceled", NOW, notices=notices
        )


def test_move_session_refuses_a_move_notice_queued_since(repo: Repository, world) -> None:
    session = _changing(repo, world)
    target = add_slot(repo, world.trainer, world.studio, day=THURSDAY)
    moved, replacement = trainer_move(session, target, new_id(), NOW)
    tell = sessions.ChangeNotice(world.trainer, "", "https://x.test")
    notice = sessions.change_notice(
        tell, world.priya, "move_notice", replacement, NOW, before=session
    )
    assert notice is not None
    repo.db.transact([new_message(world.trainer.id, notice)])
    with unchanged(repo), pytest.raises(VersionConflict):
        repo.move_session(
            world.trainer.id,
            session,
            moved,
            replacement,
            target,
            "trainer",
            NOW,
            link_for(world.trainer, world.priya, replacement),
            notices=Notices((notice,)),
        )

"""The report counters (issue 16 item 5) stay equal to a recomputation from the sessions
and slots, whatever sequence of writes made them: book, pay, unpay, cancel, void, move,
add and remove slots, Apply template, across a month's end (Nov → Dec 2026)."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from chalicelib import runtime
from chalicelib.domain import figures
from chalicelib.domain.errors import Conflict, InvalidInput, VersionConflict
from chalicelib.domain.schedule import Session, Slot
from chalicelib.repo.repository import Repository
from chalicelib.services import schedule, sessions
from tests.support.builders import (
    NOW,
    add_slot,
    allocate,
    make_world,
    session_now,
    slot_now,
    trainer_of,
)
from tests.support.figures import kept_figures, recomputed

WEEKS = ["2026-W48", "2026-W49", "2026-W50"]
DAYS = [NOW.date() + timedelta(days=d) for d in range(1, 20)]  # 24 Nov – 12 Dec
REFUSED = (Conflict, InvalidInput, VersionConflict)


def _live(repo: Repository, trainer_id: str) -> tuple[list[Slot], list[Session]]:
    slots: list[Slot] = []
    found: list[Session] = []
    for week in WEEKS:
        data = repo.get_week_with_sessions(trainer_id, week)
        slots += data.slots
        found += data.sessions
    return slots, found


@pytest.mark.parametrize("seed", range(6))
def test_random_writes_keep_the_counters_equal_to_a_recomputation(
    repo: Repository, clock, seed: int
) -> None:
    world = make_world(repo, clients_at_park=True)
    fees = world.trainer.settings.model_copy(
        update={"no_show_percent": 100, "late_cancel_percent": 50, "cancel_deadline_hours": 72}
    )
    repo.save_settings(world.trainer, fees)
    trainer, links = trainer_of(repo, world.trainer.id), runtime.links()
    pick = random.Random(seed)
    later = NOW + timedelta(days=30)  # when past sessions may be voided
    for _step in range(40):
        slots, known = _live(repo, trainer.id)
        open_slots = [s for s in slots if s.is_open]
        booked = [s for s in known if s.is_live]
        action = pick.choice(["add", "add", "remove", "book", "book", "pay", "unpay", "cancel"])
        action = pick.choice([action, action, "void", "move", "no_show", "late"])
        try:
            if action == "add" or not (open_slots or booked):
                hour = pick.randrange(7, 19)
                place = pick.choice([world.studio, world.park])
                add_slot(
                    repo, trainer, place, f"{hour:02d}:00", f"{hour + 1:02d}:00", pick.choice(DAYS)
                )
            elif action == "remove" and open_slots:
                slot = pick.choice(open_slots)
                schedule.remove_slot(repo, trainer.id, slot, str(slot.version), NOW)
            elif action == "book" and open_slots:
                allocate(
                    repo, trainer, pick.choice(open_slots), pick.choice([world.priya, world.omar])
                )
            elif action in ("pay", "unpay") and booked:
                session = pick.choice(booked)
                payment = sessions.SetPayment(
                    paid=action == "pay",
                    payment_type=pick.choice(["cash", "bank_transfer", "card"]),
                    version=session.version,
                )
                sessions.set_payment(repo, trainer.id, session, payment, NOW)
            elif action == "cancel" and booked:
                session = pick.choice(booked)
                sessions.cancel(repo, trainer.id, session, str(session.version), NOW)
            elif action == "no_show" and booked:
                session = pick.choice(booked)
                sessions.mark_no_show(repo, trainer, session, str(session.version), later)
            elif action == "late" and booked:
                session = pick.choice(booked)
                sessions.cancel(repo, trainer.id, session, str(session.version), NOW, late=trainer)
            elif action == "void" and booked:
                session = pick.choice(booked)
                sessions.void(repo, trainer.id, session, str(session.version), later)
            elif action == "move" and booked and open_slots:
                session = pick.choice(booked)
                changing = sessions.start_changing(
                    repo, trainer.id, session, str(session.version), NOW
                )
                target = pick.choice(open_slots)
                sessions.move_to(
                    repo, links, trainer.id, changing, target, str(changing.version), NOW
                )
        except REFUSED:
            pass  # an overlap, a clash: refused writes change nothing, counters included
        assert kept_figures(repo, trainer.id) == recomputed(repo, trainer.id, WEEKS), (
            seed,
            _step,
            action,
        )
    slots, known = _live(repo, trainer.id)
    assert known, "the sequence booked nothing: the test would prove little"


def test_apply_template_counts_its_slots_and_bookings_once_each(repo: Repository, clock) -> None:
    from chalicelib.domain.template import SaveSlot
    from chalicelib.services import account
    from tests.support.builders import add_client
    from tests.support.pages import deps_for

    world = make_world(repo)
    for weekday in (0, 2, 4):
        account.save_template_slot(
            deps_for(repo),
            world.trainer.id,
            SaveSlot(
                weekday=str(weekday),
                start="18:00",
                end="19:30",
                location_id=world.studio,
                version=repo.get_setup(world.trainer.id).template.version,
            ),
        )
    template = repo.get_setup(world.trainer.id).template
    add_client(repo, world.trainer, "Sam Lee", (world.studio,), recurring=(template.slots[0].id,))
    trainer = trainer_of(repo, world.trainer.id)
    schedule.apply_template(repo, runtime.links(), trainer, "2026-W49", 2, NOW)
    schedule.apply_template(repo, runtime.links(), trainer, "2026-W49", 2, NOW)  # adds none
    kept = kept_figures(repo, trainer.id)
    assert kept == recomputed(repo, trainer.id, ["2026-W49", "2026-W50"])
    assert kept["W#2026-W49"] == {
        figures.SESSIONS: 1,
        figures.MINUTES: 90,
        figures.UNPAID: 4000,
        figures.OFFERED: 3 * 90,
    }
    # Monday 30 Nov counts in November, the other five in December.
    assert kept["M#2026-11"][figures.OFFERED] == 90
    assert kept["M#2026-12"][figures.OFFERED] == 5 * 90


def test_a_refused_write_moves_no_counter(repo: Repository, clock) -> None:
    world = make_world(repo)
    slot = add_slot(repo, world.trainer, world.studio, "09:00", "10:00")
    before = kept_figures(repo, world.trainer.id)
    allocate(repo, world.trainer, slot, world.priya)
    stale = slot  # read before the booking: its version moved
    with pytest.raises(REFUSED):
        allocate(repo, world.trainer, stale, world.omar)
    booked = kept_figures(repo, world.trainer.id)
    assert booked != before and booked == recomputed(repo, world.trainer.id, WEEKS)
    session = session_now(
        repo, world.trainer.id, repo.get_week_with_sessions(world.trainer.id, slot.week).sessions[0]
    )
    assert slot_now(repo, world.trainer.id, slot).session_id == session.id


def test_fees_count_as_revenue_and_their_marks_are_counted(repo: Repository, clock) -> None:
    world = make_world(repo)
    fees = world.trainer.settings.model_copy(
        update={"no_show_percent": 100, "late_cancel_percent": 50}
    )
    repo.save_settings(world.trainer, fees)
    trainer = trainer_of(repo, world.trainer.id)
    missed = allocate(
        repo, trainer, add_slot(repo, trainer, world.studio, "10:00", "11:00"), world.priya
    )
    sessions.mark_no_show(repo, trainer, missed, str(missed.version), NOW + timedelta(days=3))
    soon = add_slot(repo, trainer, world.studio, "10:00", "11:00", NOW.date() + timedelta(days=1))
    late = allocate(repo, trainer, soon, world.omar)
    sessions.cancel(repo, trainer.id, late, str(late.version), NOW, late=trainer)
    kept = kept_figures(repo, trainer.id)
    assert kept == recomputed(repo, trainer.id, WEEKS)
    assert kept["M#2026-11"] == {
        figures.UNPAID: 4000 + 2000,  # the no-show's full price, half the late cancel's
        figures.CANCELED: 1,
        figures.NO_SHOWS: 1,
        figures.LATE_CANCELS: 1,
        figures.OFFERED: 120,
    }

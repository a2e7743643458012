"""A client's unpaid total is kept current by every session write, in its transaction,
so the profile never reads the whole history to show what is owed."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from chalicelib import runtime
from chalicelib.domain.clients import AddClient
from chalicelib.domain.errors import Conflict
from chalicelib.domain.schedule import AddSlot, ClientBalance
from chalicelib.repo import keys
from chalicelib.repo.repository import Repository
from chalicelib.services import account, clients, schedule, sessions
from tests.integration.test_repository import NOW, make_trainer, race

SECRET = b"test-secret"


@pytest.fixture
def scene(repo: Repository):
    trainer = make_trainer(repo)
    studio = account.add_location(repo, trainer.id, "Studio")
    trainer = repo.get_trainer(trainer.id)
    assert trainer is not None
    form = {"name": "Priya Shah", "phone": "07400 123456", "email": "", "price": "40"}
    priya = clients.add_client(repo, runtime.links(), trainer, AddClient.model_validate(form), NOW)
    return trainer, studio.id, priya


def _book(repo: Repository, scene, day: date, start: str = "09:00", end: str = "10:00"):
    trainer, studio, priya = scene
    typed = AddSlot(day=day.isoformat(), start=start, end=end, location_id=studio)
    slot = schedule.add_slot(repo, trainer, typed, NOW)
    return schedule.allocate(repo, runtime.links(), trainer, slot, priya.id, str(slot.version), NOW)


def _kept(repo: Repository, scene) -> tuple[int, int]:
    trainer, _studio, priya = scene
    balance = repo.client_balance(trainer.id, priya.id)
    return balance.unpaid_minor, balance.unpaid_count


def test_every_session_write_moves_the_kept_total_in_its_transaction(
    repo: Repository, scene
) -> None:
    trainer, studio, priya = scene
    assert repo.client_balance(trainer.id, priya.id).counted  # new clients start counted
    first = _book(repo, scene, date(2026, 11, 25))
    second = _book(repo, scene, date(2026, 11, 26))
    third = _book(repo, scene, date(2026, 11, 27))
    assert _kept(repo, scene) == (12000, 3)
    paid = sessions.set_payment(
        repo, trainer.id, first, sessions.SetPayment(paid=True, payment_type="cash", version=1), NOW
    )
    assert _kept(repo, scene) == (8000, 2)
    sessions.set_payment(
        repo, trainer.id, paid, sessions.SetPayment(paid=False, payment_type="", version=2), NOW
    )
    assert _kept(repo, scene) == (12000, 3)
    sessions.cancel(repo, trainer.id, second, "1", NOW)
    assert _kept(repo, scene) == (8000, 2)
    # a move keeps what is owed: the old record leaves the total, the new one enters it
    target = schedule.add_slot(
        repo,
        trainer,
        AddSlot(day="2026-11-28", start="09:00", end="10:00", location_id=studio),
        NOW,
    )
    changing = sessions.start_changing(repo, trainer.id, third, "1", NOW)
    sessions.move_to(
        repo, runtime.links(), trainer.id, changing, target, str(changing.version), NOW
    )
    assert _kept(repo, scene) == (8000, 2)
    # voided once past: it is no longer owed
    later = NOW + timedelta(days=10)
    (past_first,) = [
        s for s in repo.get_week_with_sessions(trainer.id, "2026-W48").sessions if s.id == first.id
    ]
    sessions.void(repo, trainer.id, past_first, str(past_first.version), later)
    assert _kept(repo, scene) == (4000, 1)


def test_the_profile_owes_only_what_is_past_and_reads_one_page_of_history(
    repo: Repository, scene
) -> None:
    trainer, _studio, priya = scene
    for offset in range(25):  # 25 weekly sessions from Wednesday 25 Nov
        _book(repo, scene, date(2026, 11, 25) + timedelta(weeks=offset))
    now = NOW + timedelta(weeks=22)  # 22 are past, 3 to come
    shown = clients.client_sessions(repo, trainer.id, priya.id, now)
    assert shown.owed.total_minor == 22 * 4000 and shown.owed.count == 22
    assert len(shown.owed.listed) == 20 and shown.owed.more == 2  # one page of the past
    assert len(shown.upcoming) == 3 and len(shown.history) == 20


def test_a_client_from_before_balances_were_kept_is_counted_once(repo: Repository, scene) -> None:
    trainer, _studio, priya = scene
    for offset in range(3):
        _book(repo, scene, date(2026, 11, 25) + timedelta(weeks=offset))
    # as if the client predates kept balances: no item at all
    repo.db.delete(keys.client_balance(trainer.id, priya.id))
    now = NOW + timedelta(weeks=5)
    shown = clients.client_sessions(repo, trainer.id, priya.id, now)
    assert shown.owed.total_minor == 3 * 4000
    stored = repo.client_balance(trainer.id, priya.id)
    assert stored == ClientBalance(3 * 4000, 3, counted=True)
    # from then on the writes keep it
    _book(repo, scene, date(2027, 1, 20))
    assert _kept(repo, scene) == (4 * 4000, 4)


def test_a_count_from_a_stale_read_is_refused_by_the_write(repo: Repository, scene) -> None:
    trainer, _studio, priya = scene
    repo.db.delete(keys.client_balance(trainer.id, priya.id))
    seen = repo.client_balance(trainer.id, priya.id)  # nothing kept yet
    _book(repo, scene, date(2026, 11, 25))  # a booking lands after the read: 4000 kept
    stale_count = ClientBalance(0, 0, counted=True)  # counted before that booking
    assert not repo.count_balance(trainer.id, priya.id, seen, stale_count)
    assert _kept(repo, scene) == (4000, 1)  # the booking's amount is not lost


def test_bookings_at_once_all_reach_the_kept_total(repo: Repository, scene) -> None:
    trainer, studio, priya = scene
    slots = [
        schedule.add_slot(
            repo,
            trainer,
            AddSlot(
                day=(date(2026, 11, 25) + timedelta(days=i % 4)).isoformat(),
                start=f"{8 + i // 4:02d}:00",
                end=f"{9 + i // 4:02d}:00",
                location_id=studio,
            ),
            NOW,
        )
        for i in range(8)
    ]
    outcomes = race(
        len(slots),
        lambda i: schedule.allocate(
            repo, runtime.links(), trainer, slots[i], priya.id, str(slots[i].version), NOW
        ),
    )
    assert not [o for o in outcomes if isinstance(o, Exception)]
    assert _kept(repo, scene) == (8 * 4000, 8)


def test_a_refused_booking_changes_no_total(repo: Repository, scene) -> None:
    trainer, studio, priya = scene
    typed = AddSlot(day="2026-11-25", start="09:00", end="10:00", location_id=studio)
    slot = schedule.add_slot(repo, trainer, typed, NOW)
    schedule.allocate(repo, runtime.links(), trainer, slot, priya.id, str(slot.version), NOW)
    with pytest.raises(Conflict):  # the stale, already-read slot: taken meanwhile
        schedule.allocate(repo, runtime.links(), trainer, slot, priya.id, str(slot.version), NOW)
    assert _kept(repo, scene) == (4000, 1)

"""Apply template writes a week in as few transactions as fit, each slot still all or
nothing: a refusal loses only the slot that refused."""

from __future__ import annotations

from datetime import date

import pytest

from chalicelib import runtime
from chalicelib.domain.clients import AddClient
from chalicelib.domain.schedule import book, make_slot
from chalicelib.repo.repository import Repository
from chalicelib.repo.schedule import NewSlot
from chalicelib.services import account, clients, schedule, sessions
from tests.integration.test_repository import NOW, make_trainer
from tests.integration.test_schedule_repository import slot_form

LONDON = "Europe/London"


@pytest.fixture
def scene(repo: Repository):
    trainer = make_trainer(repo)
    studio = account.add_location(repo, trainer.id, "Studio")
    park = account.add_location(repo, trainer.id, "Park")
    trainer = repo.get_trainer(trainer.id)
    assert trainer is not None
    form = {"name": "Priya Shah", "phone": "07400 123456", "email": "", "price": "40"}
    priya = clients.add_client(repo, runtime.links(), trainer, AddClient.model_validate(form), NOW)
    return trainer, studio.id, park.id, priya


def _entries(trainer, studio: str, park: str, priya, count: int = 10) -> list[NewSlot]:
    entries = []
    for i in range(count):
        day = date(2026, 11, 24 + i % 5)
        place = park if i == 3 else studio
        slot = make_slot(f"n{i}", day, (8 + i // 5) * 60, (9 + i // 5) * 60, place, LONDON)
        booking = link = None
        if i % 2 == 0:
            booking = book(slot, f"b{i}", priya.id, priya.name, "recurring", NOW, 4000)[1]
            link = sessions.link_for(runtime.links(), trainer.id, priya, booking)
        entries.append(NewSlot(slot, booking, link))
    return entries


def test_a_week_is_one_transaction_and_every_slot_lands(repo: Repository, scene) -> None:
    trainer, studio, park, priya = scene
    entries = _entries(trainer, studio, park, priya)
    written = repo.add_slots(trainer.id, entries)
    assert written.written == list(range(10)) and written.lost == []
    assert written.booked == [0, 2, 4, 6, 8]
    week = repo.get_week_with_sessions(trainer.id, "2026-W48")
    assert len(week.slots) == 10 and len(week.sessions) == 5
    assert repo.client_balance(trainer.id, priya.id).unpaid_minor == 5 * 4000


def test_a_time_taken_meanwhile_loses_only_that_slot(repo: Repository, scene) -> None:
    trainer, studio, park, priya = scene
    entries = _entries(trainer, studio, park, priya)
    # after the plan was made, someone adds a slot over Thursday 08:30-09:30: it takes
    # half of entry 2 (08:00-09:00) and half of entry 7 (09:00-10:00)
    schedule.add_slot(repo, trainer, slot_form("08:30", "09:30", studio, date(2026, 11, 26)), NOW)
    written = repo.add_slots(trainer.id, entries)
    assert written.lost == [2, 7]
    assert written.written == [0, 1, 3, 4, 5, 6, 8, 9]
    assert written.booked == [0, 4, 6, 8]
    week = repo.get_week_with_sessions(trainer.id, "2026-W48")
    assert len(week.slots) == 9  # 8 of ours and the intruder
    assert repo.client_balance(trainer.id, priya.id).unpaid_minor == 4 * 4000


def test_a_location_archived_meanwhile_loses_its_slots_only(repo: Repository, scene) -> None:
    trainer, studio, park, priya = scene
    entries = _entries(trainer, studio, park, priya)
    location = repo.get_setup(trainer.id).location(park)
    account.set_location_archived(repo, trainer.id, park, True, location.version)
    written = repo.add_slots(trainer.id, entries)
    assert written.lost == [3]
    assert len(repo.get_week(trainer.id, "2026-W48")) == 9


def test_a_client_archived_meanwhile_leaves_their_slots_open(repo: Repository, scene) -> None:
    trainer, studio, park, priya = scene
    entries = _entries(trainer, studio, park, priya)
    clients.archive(repo, trainer.id, priya, priya.version)
    written = repo.add_slots(trainer.id, entries)
    assert written.written == list(range(10)) and written.booked == [] and written.lost == []
    week = repo.get_week_with_sessions(trainer.id, "2026-W48")
    assert len(week.slots) == 10 and week.sessions == []
    assert all(s.session_id is None for s in week.slots)


def test_more_than_one_transaction_of_slots_is_split_and_all_land(repo: Repository, scene) -> None:
    trainer, studio, _park, priya = scene
    entries = []
    for i in range(40):  # 40 one-hour booked slots: about 240 items, three transactions
        day = date(2026, 11, 24 + i % 5)
        slot = make_slot(f"m{i}", day, (6 + i // 5) * 60, (7 + i // 5) * 60, studio, LONDON)
        booking = book(slot, f"c{i}", priya.id, priya.name, "recurring", NOW, 4000)[1]
        entries.append(
            NewSlot(slot, booking, sessions.link_for(runtime.links(), trainer.id, priya, booking))
        )
    written = repo.add_slots(trainer.id, entries)
    assert written.written == list(range(40)) and len(written.booked) == 40
    assert repo.client_balance(trainer.id, priya.id).unpaid_count == 40

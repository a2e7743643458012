"""Portal integrity on moto: clients racing for one slot, change racing book, cancel
racing change. Each invariant is a conditional write; threads prove it."""

from __future__ import annotations

from collections import Counter

import pytest

from chalicelib import runtime
from chalicelib.domain.clients import AddClient, Client, SaveProfile
from chalicelib.domain.errors import Conflict, InvalidInput, VersionConflict
from chalicelib.domain.models import Trainer
from chalicelib.domain.portal import TAKEN, BookSlot, CancelSession, ChangeSession
from chalicelib.domain.schedule import Session, Slot
from chalicelib.repo.repository import Repository
from chalicelib.services import account, clients, portal, schedule
from chalicelib.services.deps import Deps
from tests.integration.test_repository import make_trainer, race
from tests.integration.test_schedule_repository import NOW, slot_form
from tests.support import race as barrier
from tests.support.builders import link_for, new_booking, slot_now


@pytest.fixture
def studio(repo: Repository) -> tuple[Trainer, str]:
    trainer = make_trainer(repo)
    location = account.add_location(repo, trainer.id, "Studio")
    refreshed = repo.get_trainer(trainer.id)
    assert refreshed is not None
    return refreshed, location.id


def _client(repo: Repository, trainer: Trainer, location: str, n: int) -> Client:
    person = clients.add_client(
        repo,
        runtime.links(),
        trainer,
        AddClient.model_validate({"name": f"Client {n}", "phone": "07400 123456", "price": "40"}),
        NOW,  # the secret links.portal derives from
    )
    return clients.save_profile(
        repo,
        trainer,
        repo.get_account(trainer.id),
        person,
        SaveProfile.model_validate(
            {
                "name": person.name,
                "phone": "07400 123456",
                "price": "40",
                "version": "1",
                "client_id": person.id,
                "location_ids": [location],
                "recurring": [],
            }
        ),
    )


def _home(trainer: Trainer, client: Client) -> str:
    return runtime.links().portal(trainer.id, client)


def _deps(repo: Repository) -> Deps:
    return Deps(repo, runtime.links(), runtime.config(), NOW)


def _live_sessions_in(repo: Repository, trainer: Trainer, slot: Slot) -> list[Session]:
    week = repo.get_week_with_sessions(trainer.id, slot.week)
    return [s for s in week.sessions if s.slot_id == slot.id and s.is_live]


def test_twenty_clients_booking_one_slot_make_exactly_one_session(repo: Repository, studio) -> None:
    trainer, location = studio
    slot = schedule.add_slot(repo, trainer, slot_form("18:00", "19:00", location), NOW)
    people = [_client(repo, trainer, location, n) for n in range(20)]
    pick = BookSlot(week=slot.week, slot_id=slot.id)

    outcomes = race(20, lambda i: portal.book_slot(_deps(repo), _home(trainer, people[i]), pick))

    winners = [o for o in outcomes if isinstance(o, portal.Booked)]
    assert len(winners) == 1, outcomes
    losers = [o for o in outcomes if not isinstance(o, portal.Booked)]
    assert len(losers) == 19
    assert all(isinstance(o, InvalidInput) and o.errors["_form"] == TAKEN for o in losers)
    (live,) = _live_sessions_in(repo, trainer, slot)
    assert live.id == winners[0].session_id
    stored = {s.id: s for s in repo.get_week(trainer.id, slot.week)}
    assert stored[slot.id].session_id == live.id


def test_a_change_racing_a_booking_for_the_same_slot_has_one_winner(
    repo: Repository, studio
) -> None:
    trainer, location = studio
    wanted = schedule.add_slot(repo, trainer, slot_form("18:00", "19:00", location), NOW)
    first = schedule.add_slot(repo, trainer, slot_form("09:00", "10:00", location), NOW)
    mover, booker = (_client(repo, trainer, location, n) for n in (1, 2))
    held = schedule.allocate(repo, runtime.links(), trainer, first, mover.id, "1", NOW)
    session_token = runtime.links().session(trainer.id, mover.id, mover.portal_generation, held.id)
    pick = BookSlot(week=wanted.week, slot_id=wanted.id)
    move = ChangeSession(week=wanted.week, slot_id=wanted.id, version=held.version)

    def act(i: int) -> object:
        if i % 2:
            return portal.book_slot(_deps(repo), _home(trainer, booker), pick)
        return portal.change(_deps(repo), session_token, move)

    outcomes = race(6, act)
    # The booker's later threads may find the slot already theirs: a replay, not a win.
    successes = [
        o
        for o in outcomes
        if isinstance(o, portal.SessionView) or (isinstance(o, portal.Booked) and not o.again)
    ]
    assert len(successes) == 1, outcomes
    assert all(
        isinstance(o, (InvalidInput, VersionConflict)) for o in outcomes if isinstance(o, Exception)
    )
    (live,) = _live_sessions_in(repo, trainer, wanted)
    first_now = _live_sessions_in(repo, trainer, first)
    if live.client_id == mover.id:  # the change won: the old slot is free
        assert first_now == []
    else:  # the booking won: the mover keeps their session
        assert [s.id for s in first_now] == [held.id]


def test_cancel_racing_change_of_one_session_leaves_one_outcome(repo: Repository, studio) -> None:
    trainer, location = studio
    first = schedule.add_slot(repo, trainer, slot_form("09:00", "10:00", location), NOW)
    target = schedule.add_slot(repo, trainer, slot_form("18:00", "19:00", location), NOW)
    person = _client(repo, trainer, location, 1)
    held = schedule.allocate(repo, runtime.links(), trainer, first, person.id, "1", NOW)
    token = runtime.links().session(trainer.id, person.id, person.portal_generation, held.id)
    move = ChangeSession(week=target.week, slot_id=target.id, version=held.version)

    def act(i: int) -> object:
        if i % 2:
            return portal.cancel(_deps(repo), token, CancelSession(version=held.version))
        return portal.change(_deps(repo), token, move)

    outcomes = race(6, act)
    kinds = Counter(type(o).__name__ for o in outcomes)
    assert kinds["SessionView"] == 1, outcomes
    week = repo.get_week_with_sessions(trainer.id, first.week)
    live = [s for s in week.sessions if s.is_live]
    old = next(s for s in week.sessions if s.id == held.id)
    slots = {s.id: s for s in week.slots}
    assert slots[first.id].session_id is None  # freed by whichever won
    if old.status == "canceled":
        assert live == [] and slots[target.id].session_id is None
    else:
        assert old.status == "moved" and [s.slot_id for s in live] == [target.id]


def test_twenty_clients_holding_one_read_of_a_slot_make_exactly_one_session_every_time(
    repo: Repository, studio
) -> None:
    """The deterministic version: the slot is read once, before any thread starts, and all
    twenty write with that very object, released together by a barrier. No thread reads
    again, so nothing but the booking write's own condition (take open slot) can stop
    nineteen of them, however the threads happen to be scheduled."""
    trainer, location = studio
    slot = schedule.add_slot(repo, trainer, slot_form("18:00", "19:00", location), NOW)
    read_once = slot_now(repo, trainer.id, slot)
    assert read_once is not None and read_once.is_open
    people = [
        clients.add_client(
            repo,
            runtime.links(),
            trainer,
            AddClient.model_validate({"name": f"Client {n}", "phone": "07400 123456"}),
            NOW,
        )
        for n in range(20)
    ]
    bookings = [new_booking(read_once, person) for person in people]
    session_links = [link_for(trainer, p, b) for p, b in zip(people, bookings, strict=True)]

    outcomes = barrier.race(
        20,
        lambda i: repo.book_slot(
            trainer.id,
            read_once,
            bookings[i],
            session_links[i],
            actor="client",
            note="Booked by the client (portal)",
        ),
    )

    winners = [i for i, outcome in enumerate(outcomes) if outcome is None]
    assert len(winners) == 1, outcomes
    losers = [outcome for outcome in outcomes if outcome is not None]
    assert len(losers) == 19 and all(type(o) is Conflict for o in losers), losers
    (winner,) = winners
    week = repo.get_week_with_sessions(trainer.id, slot.week)
    assert [s.id for s in week.sessions] == [bookings[winner].id]
    assert [s.session_id for s in week.slots] == [bookings[winner].id]
    stored_links = [repo.get_token(link.token_hash) is not None for link in session_links]
    assert stored_links == [i == winner for i in range(20)]  # one /s/ link, the winner's

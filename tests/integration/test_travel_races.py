"""Travel time is an invariant over two slots, so the write that books one keeps every
open slot too close to it (at another place) open and moves its version: two bookings
racing into a Park 12:00 and a Studio 13:00 never both win, and a write handed a
neighbour read before someone booked it refuses by itself.

The clock is Monday 23 Nov 2026 09:00 UTC; the trainer allows 30 minutes between places.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from chalicelib import runtime
from chalicelib.domain.errors import Conflict, InvalidInput
from chalicelib.domain.models import Trainer
from chalicelib.domain.schedule import Slot, make_slot, trainer_move
from chalicelib.domain.tokens import new_id
from chalicelib.repo.parts import NeighbourTaken
from chalicelib.repo.repository import Repository
from chalicelib.repo.schedule import NewSlot, ScheduleStore
from chalicelib.services import offers, schedule, sessions, travel
from tests.support.builders import (
    NOW,
    THURSDAY,
    World,
    accepted_session,
    add_slot,
    allocate,
    link_for,
    make_world,
    new_booking,
    offer_slot,
    slot_now,
    trainer_of,
)
from tests.support.interleave import just_before
from tests.support.race import race


@dataclass
class Scene:
    world: World
    trainer: Trainer
    park_noon: Slot  # Thursday 12:00–13:00 at the Park
    studio_one: Slot  # Thursday 13:00–14:00 at the Studio: no time from the Park


def _with_travel(repo: Repository, trainer: Trainer, minutes: int) -> Trainer:
    settings = trainer.settings.model_copy(update={"travel_minutes": minutes})
    repo.save_settings(trainer, settings)
    return trainer_of(repo, trainer.id)


@pytest.fixture
def scene(repo: Repository, clock) -> Scene:
    world = make_world(repo, clients_at_park=True)
    trainer = _with_travel(repo, world.trainer, 30)
    park = add_slot(repo, trainer, world.park, "12:00", "13:00", THURSDAY)
    studio = add_slot(repo, trainer, world.studio, "13:00", "14:00", THURSDAY)
    return Scene(world, trainer, park, studio)


def _booked_without_neighbours(repo: Repository, trainer: Trainer, slot: Slot, client) -> None:
    """A booking that keeps no neighbour open (one made before the travel time was set,
    or "Book anyway"): only the stale write's own condition can then refuse it."""
    booking = new_booking(slot, client)
    repo.book_slot(trainer.id, slot, booking, link_for(trainer, client, booking))


def _booked(repo: Repository, trainer: Trainer, *slots: Slot) -> list[bool]:
    return [not (now := slot_now(repo, trainer.id, s)) or not now.is_open for s in slots]


def test_two_bookings_racing_into_slots_too_close_never_both_win(
    repo: Repository, scene: Scene
) -> None:
    world, trainer = scene.world, scene.trainer
    results = race(
        2,
        lambda i: allocate(
            repo,
            trainer,
            (scene.park_noon, scene.studio_one)[i],
            (world.priya, world.omar)[i],
        ),
    )
    won = [r for r in results if not isinstance(r, Exception)]
    lost = [r for r in results if isinstance(r, Exception)]
    assert len(won) == 1 and len(lost) == 1, results
    # The loser either read the winner's booking (the rule refuses, naming it) or read
    # both open and its write met the moved version: never a second booking.
    assert isinstance(lost[0], InvalidInput | Conflict)
    assert sorted(_booked(repo, trainer, scene.park_noon, scene.studio_one)) == [False, True]


def test_a_booking_handed_an_open_neighbour_booked_since_refuses_by_itself(
    repo: Repository, scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    world, trainer = scene.world, scene.trainer
    near = travel.around(repo, trainer, scene.studio_one)  # the Park read open
    assert [s.id for s in travel.neighbours(trainer, scene.studio_one, near)] == [
        scene.park_noon.id
    ]
    record = just_before(
        monkeypatch,
        repo,
        ScheduleStore,
        "book_slot",
        lambda: _booked_without_neighbours(repo, trainer, scene.park_noon, world.priya),
    )
    with pytest.raises(Conflict):
        schedule.allocate(
            repo,
            runtime.links(),
            trainer,
            scene.studio_one,
            world.omar.id,
            "1",
            NOW,
            near,
        )
    record.assert_refused_unchanged(NeighbourTaken)
    assert _booked(repo, trainer, scene.park_noon, scene.studio_one) == [True, False]


def test_the_write_keeps_no_neighbour_when_no_travel_time_is_set(
    repo: Repository, scene: Scene
) -> None:
    trainer = _with_travel(repo, scene.trainer, 0)
    near = travel.around(repo, trainer, scene.studio_one)
    assert near.slots == () and travel.neighbours(trainer, scene.studio_one, near) == ()
    allocate(repo, trainer, scene.park_noon, scene.world.priya)
    allocate(repo, trainer, slot_now(repo, trainer.id, scene.studio_one), scene.world.omar)
    assert _booked(repo, trainer, scene.park_noon, scene.studio_one) == [True, True]


def test_a_move_handed_an_open_neighbour_booked_since_refuses_by_itself(
    repo: Repository, scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    world, trainer = scene.world, scene.trainer
    later = add_slot(repo, trainer, world.studio, "16:00", "17:00", THURSDAY)
    booked = allocate(repo, trainer, later, world.omar)
    session = sessions.start_changing(repo, trainer.id, booked, str(booked.version), NOW)
    near = travel.around(repo, trainer, scene.studio_one)
    neighbours = travel.neighbours(trainer, scene.studio_one, near, moving=session)
    moved, replacement = trainer_move(session, scene.studio_one, new_id(), NOW)
    _booked_without_neighbours(repo, trainer, scene.park_noon, world.priya)  # meanwhile
    with pytest.raises(NeighbourTaken):
        repo.move_session(
            trainer.id,
            session,
            moved,
            replacement,
            scene.studio_one,
            "trainer",
            NOW,
            neighbours=neighbours,
        )
    assert _booked(repo, trainer, scene.studio_one) == [False]
    assert slot_now(repo, trainer.id, later).session_id == session.id  # the session stayed


def test_an_offer_accepted_next_to_a_session_booked_since_is_refused_in_words(
    repo: Repository, scene: Scene
) -> None:
    world, trainer = scene.world, scene.trainer
    offered = offer_slot(repo, trainer, scene.studio_one, world.omar)
    allocate(repo, trainer, scene.park_noon, world.priya)  # booked after the offer went
    with pytest.raises(InvalidInput) as refused:
        offers.accept(repo, runtime.links(), offered.token, NOW)
    message = refused.value.errors["_form"]
    assert "another session at Park (Thursday 26 Nov 12:00–13:00)" in message
    assert "Priya" not in message  # a client never sees another client's name
    assert _booked(repo, trainer, scene.studio_one) == [False]


def test_an_accept_handed_an_open_neighbour_booked_since_refuses_by_itself(
    repo: Repository, scene: Scene
) -> None:
    world, trainer = scene.world, scene.trainer
    offered = offer_slot(repo, trainer, scene.studio_one, world.omar)
    slot = offered.slot
    near = travel.around(repo, trainer, slot)
    neighbours = travel.neighbours(trainer, slot, near)
    _booked_without_neighbours(repo, trainer, scene.park_noon, world.priya)
    session = accepted_session(slot, offered.offer, world.omar)
    with pytest.raises(NeighbourTaken):
        repo.accept_offer(
            trainer.id,
            slot,
            offered.offer.id,
            session,
            link_for(trainer, world.omar, session),
            NOW,
            neighbours=neighbours,
        )
    assert _booked(repo, trainer, slot) == [False]


def test_apply_template_handed_a_neighbour_booked_since_adds_its_slot_open(
    repo: Repository, scene: Scene
) -> None:
    """Apply template's write: the neighbour refuses, the slot still goes in, open."""
    world, trainer = scene.world, scene.trainer
    slot = make_slot(new_id(), THURSDAY, 14 * 60, 14 * 60 + 30, world.studio, "Europe/London")
    park_later = add_slot(repo, trainer, world.park, "14:30", "15:30", THURSDAY)
    booking = new_booking(slot, world.omar)
    _booked_without_neighbours(repo, trainer, park_later, world.priya)  # read open before
    result = repo.add_slots(
        trainer.id,
        [NewSlot(slot, booking, link_for(trainer, world.omar, booking), (park_later,))],
    )
    assert result.written == [0] and result.too_close == [0] and result.booked == []
    assert slot_now(repo, trainer.id, slot).is_open

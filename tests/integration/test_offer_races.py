"""Offers on moto: accept at the edge of expiry, and every race the issue names."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib import runtime
from chalicelib.domain.clients import AddClient, Client, SaveProfile
from chalicelib.domain.errors import Conflict, InvalidInput, NotFound, VersionConflict
from chalicelib.domain.models import Trainer
from chalicelib.domain.schedule import Slot, book
from chalicelib.domain.template import SaveSlot
from chalicelib.repo.repository import Repository
from chalicelib.services import account, clients, offers, portal, schedule
from chalicelib.services.deps import Deps
from chalicelib.services.portal import LinkInactive
from tests.integration.test_repository import make_trainer, race
from tests.integration.test_schedule_repository import NOW, slot_form

BASE = "https://app.example.test"


@pytest.fixture
def world(repo: Repository) -> tuple[Trainer, Slot, list[Client]]:
    """Thursday 18:00 Studio is open; Ana and Ben opted in to that template time."""
    trainer = make_trainer(repo)
    studio = account.add_location(repo, trainer.id, "Studio").id
    setup = repo.get_setup(trainer.id)
    account.save_template_slot(
        Deps(repo, runtime.links(), runtime.config(), NOW),
        trainer.id,
        SaveSlot(
            weekday="3",
            start="18:00",
            end="19:00",
            location_id=studio,
            version=setup.template.version,
        ),
    )
    template_slot = repo.get_setup(trainer.id).template.slots[0].id
    people = []
    for name in ("Ana", "Ben"):
        person = clients.add_client(
            repo,
            runtime.links(),
            trainer,
            AddClient.model_validate({"name": name, "phone": "07400 123456"}),
            NOW,
        )
        person = clients.save_profile(
            repo,
            trainer,
            repo.get_account(trainer.id),
            person,
            SaveProfile.model_validate(
                {
                    "name": name,
                    "phone": "07400 123456",
                    "version": "1",
                    "client_id": person.id,
                    "location_ids": [studio],
                    "recurring": [],
                }
            ),
        )
        repo.set_optin(trainer.id, person.id, template_slot, True)
        people.append(person)
    refreshed = repo.get_trainer(trainer.id)
    assert refreshed is not None
    slot = schedule.add_slot(
        repo, refreshed, slot_form("18:00", "19:00", studio, NOW.date() + timedelta(days=3)), NOW
    )
    return refreshed, slot, people


def _offer(repo: Repository, trainer: Trainer, slot: Slot, person: Client) -> tuple[Slot, str]:
    """Send an offer and return the locked slot and the link token from the message."""
    seen = {m.id for m in repo.outbox.page(trainer.id, person.id, None)[0]}
    locked = offers.send_offer(
        repo, runtime.links(), trainer, slot, person.id, str(slot.version), BASE, NOW
    )
    (message,) = [m for m in repo.outbox.page(trainer.id, person.id, None)[0] if m.id not in seen]
    return locked, runtime.links().message_text(message).split(f"{BASE}/o/")[1].split()[0]


def _fresh(repo: Repository, trainer: Trainer, slot: Slot) -> Slot:
    return next(s for s in repo.get_week(trainer.id, slot.week) if s.id == slot.id)


def test_accept_one_second_before_expiry_succeeds(repo: Repository, world) -> None:
    trainer, slot, (ana, _ben) = world
    locked, token = _offer(repo, trainer, slot, ana)
    expiry = locked.offer.expires_at  # type: ignore[union-attr]
    _view, session = offers.accept(repo, runtime.links(), token, expiry - timedelta(seconds=1))
    stored = _fresh(repo, trainer, slot)
    assert stored.session_id == session.id and stored.offer is None


def test_accept_one_second_after_expiry_fails_before_the_job_runs(repo: Repository, world) -> None:
    trainer, slot, (ana, _ben) = world
    locked, token = _offer(repo, trainer, slot, ana)
    expiry = locked.offer.expires_at  # type: ignore[union-attr]
    with pytest.raises(InvalidInput) as refused:
        offers.accept(repo, runtime.links(), token, expiry + timedelta(seconds=1))
    assert "expired" in refused.value.errors["_form"]
    assert _fresh(repo, trainer, slot).is_open


def test_accept_racing_expiry_has_one_outcome(repo: Repository, world) -> None:
    trainer, slot, (ana, _ben) = world
    locked, token = _offer(repo, trainer, slot, ana)
    expiry = locked.offer.expires_at  # type: ignore[union-attr]

    def act(i: int) -> object:
        if i % 2:
            return offers.accept(repo, runtime.links(), token, expiry - timedelta(seconds=1))
        return offers.expire_locks(repo, expiry + timedelta(seconds=1)).claimed

    outcomes = race(6, act)
    accepted = [o for o in outcomes if isinstance(o, tuple)]
    released = sum(o for o in outcomes if isinstance(o, int))
    assert len(accepted) + released == 1, outcomes
    stored = _fresh(repo, trainer, slot)
    assert stored.offer is None  # never a session plus a live lock
    assert (stored.session_id is not None) == bool(accepted)


def test_accept_racing_withdraw_has_one_outcome(repo: Repository, world) -> None:
    trainer, slot, (ana, _ben) = world
    locked, token = _offer(repo, trainer, slot, ana)

    def act(i: int) -> object:
        if i % 2:
            return offers.accept(repo, runtime.links(), token, NOW)
        offers.withdraw(repo, trainer.id, locked, NOW)
        return "withdrawn"

    outcomes = race(6, act)
    wins = [o for o in outcomes if not isinstance(o, Exception)]
    assert len(wins) == 1, outcomes
    accepted = wins[0] != "withdrawn"
    # A losing accept that finds the offer already taken by its own client (a second tab,
    # a double tap) is told so (AlreadyAccepted), which only happens when an accept won.
    losers = (
        (InvalidInput, Conflict, offers.AlreadyAccepted) if accepted else (InvalidInput, Conflict)
    )
    assert all(isinstance(o, losers) for o in outcomes if isinstance(o, Exception)), outcomes
    stored = _fresh(repo, trainer, slot)
    assert stored.offer is None
    assert (stored.session_id is not None) == accepted


def test_two_offers_on_one_slot_at_once_make_one_lock(repo: Repository, world) -> None:
    trainer, slot, people = world
    outcomes = race(
        6,
        lambda i: offers.send_offer(
            repo, runtime.links(), trainer, slot, people[i % 2].id, str(slot.version), BASE, NOW
        ),
    )
    locks = [o for o in outcomes if isinstance(o, Slot)]
    assert len(locks) == 1, outcomes
    assert all(
        isinstance(o, (VersionConflict, Conflict)) for o in outcomes if not isinstance(o, Slot)
    )
    stored = _fresh(repo, trainer, slot)
    assert stored.offer is not None and stored.offer.id == locks[0].offer.id  # type: ignore[union-attr]
    queued = repo.outbox.page(trainer.id, None, None)[0]
    assert len(queued) == 1  # one message for the one offer


def test_expiry_run_twice_at_once_releases_once_and_spares_a_booked_slot(
    repo: Repository, world
) -> None:
    trainer, slot, (ana, _ben) = world
    locked, _token = _offer(repo, trainer, slot, ana)
    later = locked.offer.expires_at + timedelta(seconds=1)  # type: ignore[union-attr]
    reports = race(2, lambda _i: offers.expire_locks(repo, later))
    assert sum(r.claimed for r in reports) == 1
    assert _fresh(repo, trainer, slot).offer is None
    log = repo.db.query(f"T#{trainer.id}#W#{slot.week}", sk_prefix=f"LOG#{slot.id}#")
    assert sum("expired" in i.get("text", "") for i in log) == 1
    # a second offer, accepted in time: the job (late) must not touch the booking
    _relocked, token = _offer(repo, trainer, _fresh(repo, trainer, slot), ana)
    offers.accept(repo, runtime.links(), token, NOW)
    assert offers.expire_locks(repo, later + timedelta(hours=2)).claimed == 0
    assert _fresh(repo, trainer, slot).session_id is not None


def test_another_client_forged_or_old_tokens_cannot_accept(repo: Repository, world) -> None:
    trainer, slot, (ana, ben) = world
    locked, ana_token = _offer(repo, trainer, slot, ana)
    for bad in ("x" * 43, ana_token[:-1], ana_token + "A"):
        with pytest.raises(NotFound):
            offers.accept(repo, runtime.links(), bad, NOW)
    offers.withdraw(repo, trainer.id, locked, NOW)
    _relocked, _ben_token = _offer(repo, trainer, _fresh(repo, trainer, slot), ben)
    with pytest.raises(InvalidInput) as refused:  # Ana's old link, now Ben's offer
        offers.accept(repo, runtime.links(), ana_token, NOW)
    assert "withdrawn" in refused.value.errors["_form"]
    assert _fresh(repo, trainer, slot).session_id is None


def test_an_archived_clients_offer_link_is_inactive(repo: Repository, world) -> None:
    trainer, slot, (ana, _ben) = world
    _locked, token = _offer(repo, trainer, slot, ana)
    stored = repo.get_client(trainer.id, ana.id)
    repo.save_client(trainer.id, stored, archived=True)
    with pytest.raises(LinkInactive):
        offers.accept(repo, runtime.links(), token, NOW)


def test_a_locked_slot_cannot_be_booked_removed_or_allocated(repo: Repository, world) -> None:
    trainer, slot, (ana, ben) = world
    locked, _token = _offer(repo, trainer, slot, ana)
    with pytest.raises(Conflict, match="withdraw the offer first"):
        schedule.remove_slot(repo, trainer.id, locked, str(locked.version), NOW)
    with pytest.raises(Conflict, match="withdraw the offer first"):
        schedule.allocate(repo, runtime.links(), trainer, locked, ben.id, str(locked.version), NOW)
    home = runtime.links().portal(trainer.id, repo.get_client(trainer.id, ben.id))
    form = {"week": locked.week, "slot_id": locked.id}
    with pytest.raises(InvalidInput, match="held for someone else"):
        portal.book_slot(runtime.deps(NOW), home, portal.BookSlot.model_validate(form))
    # and the write conditions refuse even without the friendly checks
    with pytest.raises(VersionConflict):
        repo.remove_slot(trainer.id, locked, NOW)
    _, session = book(locked, "direct1", ben.id, ben.name, "manual", NOW)
    with pytest.raises(Conflict):
        repo.book_slot(trainer.id, locked, session)
    assert _fresh(repo, trainer, slot).offer is not None

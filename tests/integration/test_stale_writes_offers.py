"""Offer writes refuse stale slots by their own conditions: send, withdraw, expire and
accept each get an object read before another request (or the clock) changed things,
and must raise (or report False) with every item of the table left as it was."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.domain.clients import Client
from chalicelib.domain.errors import Conflict, VersionConflict
from chalicelib.domain.schedule import Offer
from chalicelib.domain.tokens import new_id, new_token, token_hash
from chalicelib.repo import keys
from chalicelib.repo.repository import ClientLink, ClientUnavailable, Repository
from chalicelib.services import schedule
from tests.support.builders import (
    NOW,
    World,
    accepted_session,
    add_slot,
    allocate,
    archive_client,
    link_for,
    make_world,
    message_for,
    offer_slot,
    slot_now,
)
from tests.support.moto_tables import table_per_test
from tests.support.table import raw_set, unchanged

SECOND = timedelta(seconds=1)

moto_client, repo = table_per_test()  # a fresh table per test, one moto per module


@pytest.fixture
def world(repo: Repository) -> World:
    return make_world(repo)


def _offer_for(client: Client, minutes: int = 60, now=NOW) -> Offer:
    return Offer(
        id=new_id(),
        client_id=client.id,
        client_name=client.name,
        expires_at=now + timedelta(minutes=minutes),
    )


def _send(repo: Repository, world: World, slot, client: Client, **overrides):
    offer = overrides.pop("offer", None) or _offer_for(client)
    message = overrides.pop("message", None) or message_for(client, slot.week, slot.id)
    link = overrides.pop("link", None) or ClientLink(token_hash(new_token()), 1)
    now = overrides.pop("now", NOW)
    return repo.offer_slot(world.trainer.id, slot, offer, message, link, "Offered", now)


# offer_slot ------------------------------------------------------------------------------
def test_an_offer_is_refused_for_a_slot_changed_since_it_was_read(repo: Repository, world) -> None:
    slot = add_slot(repo, world.trainer, world.studio)
    schedule.move_slot(repo, world.trainer, slot, world.park, str(slot.version), NOW)
    with unchanged(repo), pytest.raises(VersionConflict):
        _send(repo, world, slot, world.priya)


def test_an_offer_is_refused_for_a_booked_slot_even_at_its_current_version(
    repo: Repository, world
) -> None:
    slot = add_slot(repo, world.trainer, world.studio)
    allocate(repo, world.trainer, slot, world.omar)
    booked = slot_now(repo, world.trainer.id, slot)
    with unchanged(repo), pytest.raises(VersionConflict):
        _send(repo, world, booked, world.priya)


def test_an_offer_is_refused_while_another_offer_is_live_even_at_the_current_version(
    repo: Repository, world
) -> None:
    slot = add_slot(repo, world.trainer, world.studio)
    locked = offer_slot(repo, world.trainer, slot, world.omar).slot
    with unchanged(repo), pytest.raises(VersionConflict):
        _send(repo, world, locked, world.priya, now=NOW + timedelta(minutes=59))


def test_an_offer_whose_message_was_already_queued_is_refused(repo: Repository, world) -> None:
    slot = add_slot(repo, world.trainer, world.studio)
    message = message_for(world.priya, slot.week, slot.id)
    first = _send(repo, world, slot, world.priya, message=message)
    repo.withdraw_offer(world.trainer.id, first, NOW)
    current = slot_now(repo, world.trainer.id, slot)
    with unchanged(repo), pytest.raises(Conflict, match="already sent"):
        _send(repo, world, current, world.priya, message=message)


def test_an_offer_whose_link_token_exists_already_is_refused(repo: Repository, world) -> None:
    slot = add_slot(repo, world.trainer, world.studio)
    link = ClientLink(token_hash(new_token()), 1)
    first = _send(repo, world, slot, world.priya, link=link)
    repo.withdraw_offer(world.trainer.id, first, NOW)
    current = slot_now(repo, world.trainer.id, slot)
    with unchanged(repo), pytest.raises(VersionConflict):
        _send(repo, world, current, world.omar, link=link)


# withdraw_offer --------------------------------------------------------------------------
def test_withdrawing_a_stale_offer_leaves_the_offer_made_since_alone(
    repo: Repository, world
) -> None:
    slot = add_slot(repo, world.trainer, world.studio)
    stale = offer_slot(repo, world.trainer, slot, world.omar).slot  # the page shows Omar's
    repo.withdraw_offer(world.trainer.id, stale, NOW)  # another tab withdrew it...
    current = slot_now(repo, world.trainer.id, slot)
    offer_slot(repo, world.trainer, current, world.priya)  # ...and offered it to Priya
    with unchanged(repo), pytest.raises(Conflict, match="already ended"):
        repo.withdraw_offer(world.trainer.id, stale, NOW)


def test_withdrawing_an_offer_accepted_since_is_refused(repo: Repository, world) -> None:
    slot = add_slot(repo, world.trainer, world.studio)
    offered = offer_slot(repo, world.trainer, slot, world.omar)
    session = accepted_session(offered.slot, offered.offer, world.omar)
    repo.accept_offer(
        world.trainer.id,
        offered.slot,
        offered.offer.id,
        session,
        link_for(world.trainer, world.omar, session),
        NOW,
    )
    with unchanged(repo), pytest.raises(Conflict, match="already ended"):
        repo.withdraw_offer(world.trainer.id, offered.slot, NOW)


# expire_offer ----------------------------------------------------------------------------
def test_expiring_a_stale_lock_spares_the_offer_made_since(repo: Repository, world) -> None:
    slot = add_slot(repo, world.trainer, world.studio)
    stale = offer_slot(repo, world.trainer, slot, world.omar, minutes=10).slot
    repo.withdraw_offer(world.trainer.id, stale, NOW)
    current = slot_now(repo, world.trainer.id, slot)
    offer_slot(repo, world.trainer, current, world.priya, minutes=20)
    later = NOW + timedelta(minutes=30)  # both locks have run out by the clock
    with unchanged(repo):
        assert repo.expire_offer(world.trainer.id, stale, later) is False


def test_expiring_a_lock_one_second_before_it_runs_out_changes_nothing(
    repo: Repository, world
) -> None:
    slot = add_slot(repo, world.trainer, world.studio)
    offered = offer_slot(repo, world.trainer, slot, world.omar)
    just_before = offered.offer.expires_at - SECOND
    with unchanged(repo):
        assert repo.expire_offer(world.trainer.id, offered.slot, just_before) is False


# accept_offer ----------------------------------------------------------------------------
def _accept(repo: Repository, world: World, slot, offer: Offer, client: Client, now) -> None:
    session = accepted_session(slot, offer, client, now)
    repo.accept_offer(
        world.trainer.id, slot, offer.id, session, link_for(world.trainer, client, session), now
    )


def test_accepting_after_expiry_is_refused_with_the_slot_read_while_the_offer_was_live(
    repo: Repository, world
) -> None:
    slot = add_slot(repo, world.trainer, world.studio)
    offered = offer_slot(repo, world.trainer, slot, world.priya)
    read_live = slot_now(repo, world.trainer.id, slot)  # the offer page, a second early
    assert read_live is not None and read_live.offer is not None
    assert read_live.offer.live(offered.offer.expires_at - SECOND)
    with unchanged(repo), pytest.raises(Conflict, match="ended"):
        _accept(repo, world, read_live, offered.offer, world.priya, offered.offer.expires_at)


def test_accepting_an_offer_withdrawn_and_made_again_since_is_refused(
    repo: Repository, world
) -> None:
    slot = add_slot(repo, world.trainer, world.studio)
    old = offer_slot(repo, world.trainer, slot, world.priya)  # the link in the first message
    repo.withdraw_offer(world.trainer.id, old.slot, NOW)
    offer_slot(repo, world.trainer, slot_now(repo, world.trainer.id, slot), world.priya)
    with unchanged(repo), pytest.raises(Conflict, match="ended"):
        _accept(repo, world, old.slot, old.offer, world.priya, NOW)


def test_accepting_someone_elses_offer_is_refused(repo: Repository, world) -> None:
    slot = add_slot(repo, world.trainer, world.studio)
    offered = offer_slot(repo, world.trainer, slot, world.omar)
    with unchanged(repo), pytest.raises(Conflict, match="ended"):
        _accept(repo, world, offered.slot, offered.offer, world.priya, NOW)


def test_accepting_is_refused_for_a_slot_that_holds_a_session_under_a_live_lock(
    repo: Repository, world
) -> None:
    # Constructed (every booking write refuses a live lock): a session id on a slot
    # whose offer is still live. Accepting must not overwrite that session.
    slot = add_slot(repo, world.trainer, world.studio)
    offered = offer_slot(repo, world.trainer, slot, world.priya)
    raw_set(
        repo,
        keys.slot(world.trainer.id, slot.week, "2026-11-25T09:00:00Z", slot.id),
        session_id="someone-else",
    )
    with unchanged(repo), pytest.raises(Conflict, match="ended"):
        _accept(repo, world, offered.slot, offered.offer, world.priya, NOW)


def test_accepting_is_refused_for_a_client_archived_since_the_offer(
    repo: Repository, world
) -> None:
    slot = add_slot(repo, world.trainer, world.studio)
    offered = offer_slot(repo, world.trainer, slot, world.priya)
    archive_client(repo, world.trainer.id, world.priya)
    with unchanged(repo), pytest.raises(ClientUnavailable):
        _accept(repo, world, offered.slot, offered.offer, world.priya, NOW)


def test_an_expired_lock_frees_the_slot_at_once_for_a_booking(repo: Repository, world) -> None:
    # The other side of "no live lock": a lock that ran out holds nothing, even before
    # expire_offer_locks has tidied it away.
    slot = add_slot(repo, world.trainer, world.studio)
    offered = offer_slot(repo, world.trainer, slot, world.omar, minutes=10)
    at = offered.offer.expires_at
    session = accepted_session(offered.slot, _offer_for(world.priya), world.priya, at)
    # The slot as read with its (now expired) lock: take open slot checks the version it
    # was read at, and a lock that ran out does not stop it.
    repo.book_slot(
        world.trainer.id, offered.slot, session, link_for(world.trainer, world.priya, session)
    )
    stored = slot_now(repo, world.trainer.id, slot)
    assert stored is not None and stored.session_id == session.id


# move_slot_location ----------------------------------------------------------------------
def test_a_slot_on_a_live_offer_keeps_its_place(repo: Repository, world) -> None:
    from chalicelib.domain.errors import Conflict

    slot = add_slot(repo, world.trainer, world.studio)
    offered = offer_slot(repo, world.trainer, slot, world.omar, minutes=30).slot
    # the service says why
    with unchanged(repo), pytest.raises(Conflict, match="withdraw the offer first"):
        schedule.move_slot(repo, world.trainer, offered, world.park, str(offered.version), NOW)
    # and the write itself refuses the slot as read (at its current version, offer live)
    with unchanged(repo), pytest.raises(VersionConflict):
        repo.move_slot_location(world.trainer.id, offered, world.park, NOW)
    # once the lock has run out the place can change
    later = offered.offer.expires_at if offered.offer else NOW
    moved = repo.move_slot_location(world.trainer.id, offered, world.park, later)
    assert moved.location_id == world.park

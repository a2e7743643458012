"""Page query services of the portal, the offer link, sign-in and the Sessions tab: what
each view model holds, and how many DynamoDB calls it costs (the functional tests pin the
same numbers per request, plus the trainer's session read where there is one)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib import runtime
from chalicelib.domain.errors import InvalidInput, VersionConflict
from chalicelib.domain.offers import accepted_session_id
from chalicelib.domain.portal import BookSlot, CancelSession, PortalClient
from chalicelib.domain.schedule import Session, Slot
from chalicelib.repo.repository import Repository
from chalicelib.services import auth, offer_link, portal, session_actions, sessions
from tests.support.builders import (
    NOW,
    THURSDAY,
    World,
    add_slot,
    allocate,
    make_world,
    offer_slot,
)
from tests.support.pages import counted, holds_no_service_objects
from tests.support.pages import deps_for as _deps


@pytest.fixture
def world(repo: Repository) -> World:
    return make_world(repo)


@pytest.fixture
def booked(repo: Repository, world: World) -> Session:
    """Priya's session on Wednesday 09:00 at the Studio (48 hours ahead)."""
    return allocate(repo, world.trainer, add_slot(repo, world.trainer, world.studio), world.priya)


def _home(world: World) -> str:
    return runtime.links().portal(world.trainer.id, world.priya)


def _session_token(world: World, session: Session) -> str:
    return runtime.links().session(
        world.trainer.id, world.priya.id, world.priya.portal_generation, session.id
    )


# Portal -----------------------------------------------------------------------------------
def test_the_home_page_is_five_reads_and_shows_the_client_without_private_notes(
    repo: Repository, world: World, booked: Session
) -> None:
    page, calls = counted(lambda: portal.home_page(_deps(repo), _home(world)))
    assert calls == 5
    assert page.trainer_name == world.trainer.display_name
    assert isinstance(page.client, PortalClient) and page.client.name == "Priya Shah"
    assert page.token == _home(world)
    assert [(s.label, s.place, s.token) for s in page.upcoming] == [
        (booked.label, "Studio", _session_token(world, booked))
    ]
    assert page.bundles == () and page.optins == frozenset()
    holds_no_service_objects(page, portal.ClientContext)


def test_the_book_page_is_the_links_reads_and_one_query_per_allowed_week(
    repo: Repository, world: World, booked: Session
) -> None:
    free = add_slot(repo, world.trainer, world.studio, "11:00", "12:00", THURSDAY)
    page, calls = counted(lambda: portal.book_page(_deps(repo), _home(world)))
    assert calls == 4  # token, client + profile, two weeks
    assert {d: [s.id for s in slots] for d, slots in page.days.items()} == {THURSDAY: [free.id]}
    assert page.token == _home(world) and page.places[world.studio] == "Studio"
    holds_no_service_objects(page, portal.ClientContext)


def test_the_session_page_outside_the_deadline_offers_change_and_cancel(
    repo: Repository, world: World, booked: Session
) -> None:
    token = _session_token(world, booked)
    page, calls = counted(lambda: portal.session_page(_deps(repo), token))
    assert calls == 2
    assert (page.can_change, page.locked, page.past, page.deadline) == (True, False, False, None)
    assert (page.token, page.home_token, page.place) == (token, _home(world), "Studio")
    assert page.session.id == booked.id and page.cancel_deadline_hours == 36
    holds_no_service_objects(page, portal.ClientContext)


@pytest.mark.parametrize(
    ("before", "can_change", "locked"),
    [
        (timedelta(hours=36), True, False),  # exactly at the deadline: still online
        (timedelta(hours=35, minutes=59), False, True),
        (timedelta(0), False, False),  # started: neither
    ],
)
def test_the_session_page_decides_the_deadline_with_the_requests_now(
    repo: Repository,
    world: World,
    booked: Session,
    before: timedelta,
    can_change: bool,
    locked: bool,
) -> None:
    deps = _deps(repo, booked.start_utc - before)
    page = portal.session_page(deps, _session_token(world, booked))
    assert (page.can_change, page.locked) == (can_change, locked)
    assert (page.deadline is not None) is locked


def test_the_change_page_reads_the_weeks_only_while_the_session_may_move(
    repo: Repository, world: World, booked: Session
) -> None:
    other = add_slot(repo, world.trainer, world.studio, "11:00", "12:00", THURSDAY)
    token = _session_token(world, booked)
    page, calls = counted(lambda: portal.change_page(_deps(repo), token))
    assert calls == 4
    assert [s.id for slots in page.days.values() for s in slots] == [other.id]  # not its own
    late = _deps(repo, booked.start_utc - timedelta(hours=1))
    locked, calls = counted(lambda: portal.change_page(late, token))
    assert calls == 2 and locked.days == {} and locked.session.locked


def test_booking_returns_the_session_link_and_a_replay_books_nothing_twice(
    repo: Repository, world: World
) -> None:
    slot: Slot = add_slot(repo, world.trainer, world.studio, "11:00", "12:00", THURSDAY)
    pick = BookSlot(week=slot.week, slot_id=slot.id)
    first = portal.book_slot(_deps(repo), _home(world), pick)
    assert not first.again
    assert first.token == runtime.links().session(
        world.trainer.id, world.priya.id, world.priya.portal_generation, first.session_id
    )
    again = portal.book_slot(_deps(repo), _home(world), pick)
    assert (again.again, again.session_id, again.token) == (True, first.session_id, first.token)


def test_a_cancel_from_a_stale_page_is_refused(
    repo: Repository, world: World, booked: Session
) -> None:
    token = _session_token(world, booked)
    with pytest.raises(VersionConflict):
        portal.cancel(_deps(repo), token, CancelSession(version=booked.version + 1))
    with pytest.raises(VersionConflict):
        portal.cancel(_deps(repo), token, CancelSession(version=None))
    canceled = portal.cancel(_deps(repo), token, CancelSession(version=booked.version))
    assert canceled.session.status == "canceled"


# The offer link ---------------------------------------------------------------------------
def test_the_offer_page_and_accept(repo: Repository, world: World) -> None:
    slot = add_slot(repo, world.trainer, world.studio, "11:00", "12:00", THURSDAY)
    offered = offer_slot(repo, world.trainer, slot, world.priya, minutes=30)
    page, calls = counted(lambda: offer_link.offer_page(_deps(repo), offered.token))
    assert calls == 2
    assert (page.status, page.accepted, page.problem, page.minutes_left) == (200, False, None, 30)
    assert page.slot is not None and page.place == "Studio" and page.session_link is None
    almost = _deps(repo, NOW + timedelta(minutes=29, seconds=1))
    assert offer_link.offer_page(almost, offered.token).minutes_left == 1  # rounded up
    holds_no_service_objects(page, portal.ClientContext)

    landed, calls = counted(lambda: offer_link.accept_offer(_deps(repo), offered.token))
    expected = "/s/" + runtime.links().session(
        world.trainer.id,
        world.priya.id,
        world.priya.portal_generation,
        accepted_session_id(offered.offer.id),
    )
    assert landed == expected and calls == 3
    assert offer_link.accept_offer(_deps(repo), offered.token) == expected  # a second tab
    done = offer_link.offer_page(_deps(repo), offered.token)
    assert (done.accepted, done.session_link, done.status) == (True, expected, 200)


def test_an_expired_offer_page_says_why_with_410(repo: Repository, world: World) -> None:
    slot = add_slot(repo, world.trainer, world.studio, "11:00", "12:00", THURSDAY)
    offered = offer_slot(repo, world.trainer, slot, world.priya, minutes=30)
    later = _deps(repo, NOW + timedelta(minutes=31))
    page = offer_link.offer_page(later, offered.token)
    assert page.problem and page.status == 410 and page.minutes_left == 0
    with pytest.raises(InvalidInput):
        offer_link.accept_offer(later, offered.token)


# The trainer's Sessions tab and session page ----------------------------------------------
def test_the_sessions_tab_is_one_query(repo: Repository, world: World, booked: Session) -> None:
    page, calls = counted(
        lambda: sessions.sessions_page(_deps(repo), world.trainer, "upcoming", "")
    )
    assert calls == 1
    assert [s.id for s in page.sessions] == [booked.id]
    assert (page.which, page.first_page, page.next_cursor) == ("upcoming", True, None)
    assert page.places == {world.studio: "Studio", world.park: "Park"}
    past = sessions.sessions_page(_deps(repo), world.trainer, "past", "not-a-cursor")
    assert past.sessions == () and not past.first_page


def test_the_session_page_is_the_session_and_its_log(
    repo: Repository, world: World, booked: Session
) -> None:
    page, calls = counted(
        lambda: sessions.session_page(_deps(repo), world.trainer, booked.ref, "cancel")
    )
    # The session (GetItem), its log lines and messages (Query), and, for the cancel
    # confirmation of a session starting within 14 days, the client (GetItem): "Late
    # cancel" is offered by their own deadline.
    assert calls == 3
    assert page.session.id == booked.id and page.log  # "Booked by the trainer"
    assert (page.past, page.location_name, page.price) == (False, "Studio", "£40.00")
    assert page.confirming == "cancel" and page.send_id and page.time_zone == "Europe/London"
    other, calls = counted(lambda: sessions.session_page(_deps(repo), world.trainer, booked.ref))
    assert calls == 2  # no cancel confirmation drawn: no late cancel offered, no client read
    assert other.send_id != page.send_id  # each page drawn gets its own send id


def test_a_canceled_session_page_asks_no_confirmation(
    repo: Repository, world: World, booked: Session
) -> None:
    sessions.cancel(repo, world.trainer.id, booked, str(booked.version), NOW)
    page = sessions.session_page(_deps(repo), world.trainer, booked.ref, "cancel")
    assert page.confirming == "" and page.session.status == "canceled"


def _nowhere() -> str:
    raise AssertionError("no link is made for this action")


def test_a_payment_asks_for_no_public_url_and_is_two_calls(
    repo: Repository, world: World, booked: Session
) -> None:
    command = session_actions.SessionAction(
        action="payment", paid=True, payment_type="cash", version=booked.version
    )
    done, calls = counted(
        lambda: session_actions.act(_deps(repo), world.trainer, booked.ref, command, _nowhere)
    )
    assert done.saved == "payment" and calls == 2  # the session, the write
    page = sessions.session_page(_deps(repo), world.trainer, booked.ref)
    assert page.session.paid and page.session.payment_type == "cash"


def test_an_unknown_action_is_refused_in_the_pages_words(
    repo: Repository, world: World, booked: Session
) -> None:
    command = session_actions.SessionAction(action="explode", version=booked.version)
    with pytest.raises(InvalidInput) as refused:
        session_actions.act(_deps(repo), world.trainer, booked.ref, command, _nowhere)
    assert refused.value.errors == {"_form": "Unknown action."}


def test_change_on_schedule_goes_to_the_schedule_with_the_session(
    repo: Repository, world: World, booked: Session
) -> None:
    command = session_actions.SessionAction(action="change_start", version=booked.version)
    done = session_actions.act(_deps(repo), world.trainer, booked.ref, command, _nowhere)
    assert command.goes_to_schedule and done.session.ref == booked.ref


# Sign-in ------------------------------------------------------------------------------------
def test_the_confirm_page_asks_an_unnamed_account_for_its_name(
    repo: Repository, world: World
) -> None:
    url = auth.issue_sign_in_link(repo, world.trainer.email, "http://x", NOW)
    token = url.split("token=")[1]
    page, calls = counted(lambda: auth.confirm_page(_deps(repo), token))
    assert calls == 3  # the link, the email's account, its profile (has it a name?)
    assert (page.token, page.email, page.ask_business_name) == (token, world.trainer.email, True)
    assert page.suggested_business_name == "Coach"
    refused, calls = counted(lambda: auth.confirm_page(_deps(repo), token, refused=True))
    assert calls == 1 and refused.ask_business_name  # only the link: it was not used

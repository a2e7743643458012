"""A late cancel is judged by the client's own cancel deadline (their profile's booking
rules) when they have one, else the trainer's default, as their portal judges a cancel.

The clock is Monday 23 Nov 2026 09:00 UTC (GMT); the trainer's default deadline is 36
hours, Priya's own is 12; her £40 session is on Tuesday 24 Nov 05:00, 20 hours ahead."""

from __future__ import annotations

import html
import re
from datetime import date

import pytest

from chalicelib.domain.clients import Client
from chalicelib.domain.errors import InvalidInput, VersionConflict
from chalicelib.domain.models import Trainer
from chalicelib.domain.schedule import Session
from chalicelib.repo.repository import Repository
from chalicelib.services import sessions
from tests.conftest import Clock
from tests.functional.conftest import Browser
from tests.functional.test_clients_pages import post_profile_with
from tests.functional.test_policy import set_policy
from tests.functional.test_schedule_pages import trainer_id
from tests.support.builders import (
    add_client,
    add_location,
    add_slot,
    allocate,
    client_now,
    session_now,
    trainer_of,
)
from tests.support.pages import counted
from tests.support.table import unchanged

TUESDAY = date(2026, 11, 24)


def text(page) -> str:
    return html.unescape(page.body)


def version_on(trainer: Browser, path: str) -> str:
    found = re.search(r'name="version" value="(\d+)"', trainer.get(path).body)
    assert found
    return found.group(1)


@pytest.fixture
def early(trainer: Browser, repo: Repository, clock: Clock) -> tuple[Trainer, Client, Session]:
    """Priya, with her own 12-hour deadline, booked Tuesday 05:00–06:00 (20 hours ahead)."""
    assert set_policy(trainer, "100", "50").status == 303
    coach, studio = add_location(repo, trainer_of(repo, trainer_id(trainer)))
    client = add_client(repo, coach, "Priya Shah", (studio,))
    saved = post_profile_with(
        trainer, client.id, locations=(studio,), price="40", cancel_deadline_hours="12"
    )
    assert saved.status == 303, saved.body
    assert client_now(repo, coach.id, client).cancel_deadline_hours == 12
    session = allocate(
        repo, coach, add_slot(repo, coach, studio, "05:00", "06:00", TUESDAY), client
    )
    return trainer_of(repo, coach.id), client_now(repo, coach.id, client), session


def test_outside_the_clients_own_deadline_a_late_cancel_is_refused_and_nothing_written(
    trainer: Browser, repo: Repository, early: tuple[Trainer, Client, Session]
) -> None:
    _coach, _client, session = early
    path = f"/dashboard/sessions/{session.ref}"
    # Inside the trainer's 36 hours, but outside Priya's 12: not offered.
    assert "Late cancel:" not in trainer.get(f"{path}?confirm=cancel").body
    version = version_on(trainer, path)
    with unchanged(repo):
        refused = trainer.post(
            path, {"action": "cancel", "late": "yes", "quiet": "yes", "version": version}
        )
    assert refused.status == 400
    assert "This session is more than 12 hours away, outside the cancel deadline" in text(refused)


def test_inside_the_clients_own_deadline_the_late_cancel_charges_its_fee(
    trainer: Browser, repo: Repository, clock: Clock, early: tuple[Trainer, Client, Session]
) -> None:
    coach, client, session = early
    clock.advance(hours=10)  # Monday 19:00: 10 hours ahead, inside Priya's 12
    path = f"/dashboard/sessions/{session.ref}"
    confirm = text(trainer.get(f"{path}?confirm=cancel"))
    assert "Late cancel: inside your deadline, it charges £20.00 (half the price" in confirm
    done = trainer.post(
        path,
        {"action": "cancel", "late": "yes", "quiet": "yes", "version": version_on(trainer, path)},
    )
    assert done.status == 303, done.body
    canceled = session_now(repo, coach.id, session)
    assert (canceled.status, canceled.late_cancel, canceled.charge_minor) == (
        "canceled",
        True,
        2000,
    )
    assert "Late cancel (£20.00 charged); slot reopened" in text(trainer.follow(done))
    profile = text(trainer.get(f"/dashboard/clients/{client.id}"))
    assert "Outstanding balance: £20.00" in profile


def test_a_client_following_the_default_is_judged_by_the_trainers_deadline(
    repo: Repository, clock: Clock, early: tuple[Trainer, Client, Session], trainer: Browser
) -> None:
    coach, client, session = early
    saved = post_profile_with(
        trainer,
        client.id,
        locations=client.location_ids,
        price="40",
        cancel_deadline_hours="",
    )
    assert saved.status == 303
    canceled = sessions.cancel(
        repo, coach.id, session, str(session.version), clock.now, late=coach
    )  # 20 hours ahead, inside the trainer's 36
    assert canceled.late_cancel and canceled.charge_minor == 2000


def test_a_stale_session_is_refused_by_the_late_cancels_write(
    repo: Repository, clock: Clock, early: tuple[Trainer, Client, Session]
) -> None:
    coach, client, session = early
    clock.advance(hours=10)
    current = session_now(repo, coach.id, session)
    sessions.start_changing(repo, coach.id, current, str(current.version), clock.now)
    # The object as read before that change, with its version: the write itself refuses.
    with unchanged(repo), pytest.raises(VersionConflict):
        sessions.cancel(
            repo, coach.id, current, str(current.version), clock.now, late=coach, client=client
        )


def test_the_late_mark_reads_the_client_once_and_not_when_handed_it(
    repo: Repository, clock: Clock, early: tuple[Trainer, Client, Session]
) -> None:
    coach, client, session = early

    def refused(handed: Client | None) -> str:
        with pytest.raises(InvalidInput) as caught:
            sessions.cancel(
                repo,
                coach.id,
                session,
                str(session.version),
                clock.now,
                late=coach,
                client=handed,
            )
        return caught.value.errors["late"]

    with unchanged(repo):
        words, calls = counted(lambda: refused(client))
        assert calls == 0  # refused from what it was handed, before any write
        assert words.startswith("This session is more than 12 hours away")
        _words, calls = counted(lambda: refused(None))
        assert calls == 1  # the client, for their deadline


def test_the_session_page_reads_the_client_only_when_a_late_cancel_could_be_offered(
    trainer: Browser, repo: Repository, clock: Clock, early: tuple[Trainer, Client, Session]
) -> None:
    coach, client, session = early
    studio = client.location_ids[0]
    far = allocate(
        repo, coach, add_slot(repo, coach, studio, "05:00", "06:00", date(2026, 12, 23)), client
    )
    # The session cookie and profile, the session, its log; then the client's rules only
    # where "Late cancel" could be offered: the cancel confirmation of a booked session
    # within the longest deadline (14 days).
    near, far_ref = f"/dashboard/sessions/{session.ref}", f"/dashboard/sessions/{far.ref}"
    assert trainer.get(near).db_calls == 3
    assert trainer.get(f"{near}?confirm=cancel").db_calls == 4
    assert trainer.get(f"{far_ref}?confirm=cancel").db_calls == 3
    clock.advance(days=2)  # Tuesday's session is over: no cancel, no client read
    assert trainer.get(f"{near}?confirm=cancel").db_calls == 3

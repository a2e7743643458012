"""Automatic reminders on moto: queued once per session and stage by the job (two runs at
once included), written only over the session as read, refused by the dispatcher's claim
once the session is canceled or moved, and the backfill of sessions from before."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from chalicelib import runtime
from chalicelib.domain.clients import Client
from chalicelib.domain.messages import Message
from chalicelib.domain.models import Trainer
from chalicelib.domain.schedule import Session
from chalicelib.domain.timeutil import utc_iso
from chalicelib.messaging import whatsapp
from chalicelib.repo import keys
from chalicelib.repo.dynamo import Condition
from chalicelib.repo.reminders import ReminderStore
from chalicelib.repo.repository import Repository
from chalicelib.services import dispatcher, reminders, schedule, sessions
from infra import manage
from tests.conftest import Clock
from tests.support import builders
from tests.support.builders import NOW, World, add_slot, allocate, make_world, session_now
from tests.support.pages import counted
from tests.support.race import race

BASE = "https://book.example.com"
START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # Wednesday 09:00 GMT
DAY_STAGE = START - timedelta(hours=24)
HOURS_STAGE = START - timedelta(hours=2)


def with_reminders(repo: Repository, trainer: Trainer, choice: str = "both") -> Trainer:
    return repo.save_settings(trainer, trainer.settings.model_copy(update={"reminders": choice}))


@pytest.fixture
def world(repo: Repository) -> World:
    scene = make_world(repo)
    return World(
        with_reminders(repo, scene.trainer), scene.studio, scene.park, scene.priya, scene.omar
    )


def booked(repo: Repository, world: World, client: Client | None = None, **slot: str) -> Session:
    trainer = builders.trainer_of(repo, world.trainer.id)
    return allocate(
        repo, trainer, add_slot(repo, trainer, world.studio, **slot), client or world.priya
    )


def run(repo: Repository, now: datetime) -> reminders.ReminderReport:
    return reminders.queue_reminders(repo, BASE, now)


def reminders_of(repo: Repository, trainer_id: str, session: Session) -> list[Message]:
    log = repo.log_of(trainer_id, session.week, session.id)
    return [e for e in log if isinstance(e, Message) and e.kind == "reminder"]


def due_sk(repo: Repository, trainer_id: str, session: Session) -> str | None:
    item = repo.db.get(
        keys.session(trainer_id, session.week, utc_iso(session.start_utc), session.id)
    )
    assert item is not None
    return item.get(keys.DUE_SK)


def test_a_session_gets_its_24h_and_2h_reminders_once_each(repo: Repository, world: World) -> None:
    session = booked(repo, world)
    tid = world.trainer.id
    assert due_sk(repo, tid, session) == f"2026-11-24T09:00:00Z#{session.id}"
    assert run(repo, DAY_STAGE - timedelta(minutes=1)).due == 0  # nothing before its time

    first = run(repo, DAY_STAGE + timedelta(minutes=3))
    assert (first.due, first.claimed) == (1, 1)
    [reminder] = reminders_of(repo, tid, session)
    assert reminder.id == first.queued[0] == f"{session.id}-r20261125T0900Z-24h"
    assert reminder.status == "queued" and reminder.channel == "whatsapp"
    assert reminder.to == world.priya.phone and reminder.subject_ref == session.ref
    assert reminder.text.startswith("Hi Priya, a reminder of your session with coach:")
    assert "Wednesday 25 Nov 09:00–10:00 2026 at Studio" in reminder.text
    assert reminder.link is not None and reminder.link.kind == "session"
    assert reminder.link.target_id == session.id and reminder.link.base == BASE
    assert reminder.variables == {
        "first_name": "Priya",
        "trainer": "coach",
        "when": "Wednesday 25 Nov 09:00–10:00 2026",
        "place": "Studio",
    }
    assert "/s/" in runtime.links().message_text(reminder)  # the link made again when sent
    assert due_sk(repo, tid, session) == f"2026-11-25T07:00:00Z#{session.id}"
    assert run(repo, DAY_STAGE + timedelta(minutes=8)).due == 0  # moved on: not read again

    second = run(repo, HOURS_STAGE + timedelta(minutes=2))
    assert second.claimed == 1 and second.queued == [f"{session.id}-r20261125T0900Z-2h"]
    assert len(reminders_of(repo, tid, session)) == 2
    assert due_sk(repo, tid, session) is None  # out of the index for good
    assert run(repo, START + timedelta(hours=1)).due == 0


@pytest.mark.parametrize(("choice", "sent"), [("off", 0), ("24h", 1), ("2h", 1), ("both", 2)])
def test_the_trainers_choice_decides_what_goes(
    repo: Repository, world: World, choice: str, sent: int
) -> None:
    with_reminders(repo, builders.trainer_of(repo, world.trainer.id), choice)
    session = booked(repo, world)
    run(repo, DAY_STAGE)
    run(repo, HOURS_STAGE)
    assert len(reminders_of(repo, world.trainer.id, session)) == sent
    assert due_sk(repo, world.trainer.id, session) is None  # visited either way


def test_no_reminder_for_a_client_left_out_opted_out_or_archived(
    repo: Repository, world: World
) -> None:
    trainer = builders.trainer_of(repo, world.trainer.id)
    ana = builders.add_client(repo, trainer, "Ana Lima", (world.studio,))
    left_out = booked(repo, world, world.priya)
    opted_out = booked(repo, world, world.omar, start="11:00", end="12:00")
    gone = booked(repo, world, ana, start="13:00", end="14:00")
    priya = repo.get_client(trainer.id, world.priya.id)
    repo.save_client(trainer.id, priya, reminders_off=True)
    repo.set_messages_opt_out(trainer.id, [world.omar.id], True)
    builders.archive_client(repo, trainer.id, ana)
    report = run(repo, DAY_STAGE + timedelta(hours=4))
    assert (report.due, report.claimed, report.skipped) == (3, 0, 3)
    for session in (left_out, opted_out, gone):
        assert reminders_of(repo, trainer.id, session) == []
        stage = session.start_utc - timedelta(hours=2)
        assert due_sk(repo, trainer.id, session) == f"{utc_iso(stage)}#{session.id}"
    # Back in: the next stage's reminder goes.
    priya = repo.get_client(trainer.id, world.priya.id)
    repo.save_client(trainer.id, priya, reminders_off=False)
    assert run(repo, HOURS_STAGE).queued == [f"{left_out.id}-r20261125T0900Z-2h"]


def test_a_session_booked_after_its_reminder_was_due_gets_only_the_later_one(
    repo: Repository, world: World
) -> None:
    trainer = builders.trainer_of(repo, world.trainer.id)
    slot = add_slot(repo, trainer, world.studio)
    late = DAY_STAGE + timedelta(hours=3)  # Tuesday 12:00: 21 hours before
    schedule.allocate(repo, runtime.links(), trainer, slot, world.priya.id, "1", late)
    assert run(repo, late + timedelta(minutes=5)).claimed == 0
    assert run(repo, HOURS_STAGE).claimed == 1


def test_the_job_run_twice_at_once_queues_each_reminder_once(
    repo: Repository, world: World
) -> None:
    sessions_booked = [
        booked(repo, world, world.priya, start="07:00", end="08:00"),
        booked(repo, world, world.omar, start="08:00", end="09:00"),
        booked(repo, world, world.priya, start="10:00", end="11:00"),
    ]
    at = DAY_STAGE + timedelta(hours=3)
    reports = race(4, lambda _i: run(repo, at))
    assert all(isinstance(r, reminders.ReminderReport) for r in reports), reports
    assert sum(r.claimed for r in reports) == 3
    queued = [m for r in reports for m in r.queued]
    assert len(queued) == len(set(queued)) == 3
    for session in sessions_booked:
        assert len(reminders_of(repo, world.trainer.id, session)) == 1


def test_the_jobs_write_refuses_a_session_changed_since_it_was_read(
    repo: Repository, world: World
) -> None:
    """Stale reads: the transaction itself refuses, so nothing is queued for a session
    canceled (or edited) between the job's read and its write."""
    trainer = builders.trainer_of(repo, world.trainer.id)
    session = booked(repo, world)
    store = ReminderStore(repo.db)
    [seen], _ = store.due(DAY_STAGE, 10)
    message = reminders.reminder_message(
        trainer, world.priya, seen.session, timedelta(hours=24), BASE, DAY_STAGE
    )
    sessions.cancel(repo, trainer.id, session, str(session.version), DAY_STAGE)
    assert store.advance(seen, HOURS_STAGE, message) == "stale"
    assert reminders_of(repo, trainer.id, session) == []
    assert run(repo, HOURS_STAGE).due == 0  # the cancel dropped its keys

    other = booked(repo, world, world.omar, start="11:00", end="12:00")
    [seen], _ = store.due(DAY_STAGE + timedelta(hours=2), 10)
    paid = sessions.SetPayment(paid=True, payment_type="cash", version=other.version)
    sessions.set_payment(repo, trainer.id, other, paid, NOW)
    message = reminders.reminder_message(
        trainer, world.omar, seen.session, timedelta(hours=24), BASE, DAY_STAGE
    )
    assert store.advance(seen, HOURS_STAGE, message) == "stale"
    assert reminders_of(repo, trainer.id, other) == []
    # The payment's own write kept the session due: the next run queues it once.
    assert run(repo, DAY_STAGE + timedelta(hours=2)).claimed == 1


def test_a_session_rewritten_after_its_reminder_is_looked_at_again_and_not_told_twice(
    repo: Repository, world: World
) -> None:
    trainer = builders.trainer_of(repo, world.trainer.id)
    session = booked(repo, world)
    assert run(repo, DAY_STAGE).claimed == 1
    current = session_now(repo, trainer.id, session)
    sessions.set_payment(
        repo,
        trainer.id,
        current,
        sessions.SetPayment(paid=True, payment_type="cash", version=current.version),
        DAY_STAGE,
    )
    again = run(repo, DAY_STAGE + timedelta(minutes=5))
    assert (again.due, again.claimed, again.skipped) == (1, 0, 1)
    assert len(reminders_of(repo, trainer.id, session)) == 1
    assert due_sk(repo, trainer.id, session) == f"2026-11-25T07:00:00Z#{session.id}"


def test_each_run_reads_once_and_writes_once_per_session(repo: Repository, world: World) -> None:
    for start, end in (("07:00", "08:00"), ("10:00", "11:00"), ("12:00", "13:00")):
        booked(repo, world, world.priya, start=start, end=end)
    other = builders.make_trainer(repo, "second@example.com")
    other = with_reminders(repo, other)
    other, place = builders.add_location(repo, other, "Gym")
    person = builders.add_client(repo, other, "Ana Lima", (place,))
    allocate(repo, other, add_slot(repo, other, place), person)
    report, calls = counted(lambda: run(repo, DAY_STAGE + timedelta(hours=3)))
    assert report.claimed == 4
    # The due Query, one BatchGetItem for both trainers and their clients, a write each.
    assert calls == 1 + 1 + 4
    _, idle = counted(lambda: run(repo, DAY_STAGE + timedelta(hours=4)))
    assert idle == 1


def test_without_a_public_url_nothing_is_queued_and_the_sessions_stay_due(
    repo: Repository, world: World
) -> None:
    session = booked(repo, world)
    report, calls = counted(lambda: reminders.queue_reminders(repo, "", DAY_STAGE))
    assert report.not_configured and calls == 0
    assert due_sk(repo, world.trainer.id, session) == f"2026-11-24T09:00:00Z#{session.id}"
    assert run(repo, DAY_STAGE).claimed == 1


# The dispatcher's claim --------------------------------------------------------------------
class Recording:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def __call__(self, _trainer_id: str, message: Message) -> whatsapp.SendResult:
        self.sent.append(message.id)
        return whatsapp.SendResult("log", f"log-{message.id}")


def test_a_reminder_for_a_session_canceled_after_queueing_is_not_sent(
    repo: Repository, world: World
) -> None:
    trainer = builders.trainer_of(repo, world.trainer.id)
    session = booked(repo, world)
    [queued] = run(repo, DAY_STAGE).queued
    sessions.cancel(repo, trainer.id, session, str(session.version), DAY_STAGE)
    sender = Recording()
    report = dispatcher.dispatch(repo, DAY_STAGE + timedelta(minutes=1), sender)
    assert sender.sent == [] and report.skipped == [queued] and report.claimed == 0
    [reminder] = reminders_of(repo, trainer.id, session)
    assert reminder.status == "skipped" and reminder.status_label == "Not sent"
    assert reminder.error == (
        "Not sent: the session was canceled or moved before the reminder went."
    )
    # Out of the queue: no later run looks at it again.
    assert dispatcher.dispatch(repo, DAY_STAGE + timedelta(hours=1), sender).due == 0


def test_a_moved_session_old_reminder_is_not_sent_and_the_new_one_gets_its_own(
    repo: Repository, world: World
) -> None:
    trainer = builders.trainer_of(repo, world.trainer.id)
    session = booked(repo, world)
    [old_reminder] = run(repo, DAY_STAGE).queued
    changing = sessions.start_changing(repo, trainer.id, session, str(session.version), DAY_STAGE)
    target = add_slot(repo, trainer, world.studio, "15:00", "16:00")
    moved = sessions.move_to(
        repo, runtime.links(), trainer.id, changing, target, str(changing.version), DAY_STAGE
    )
    sender = Recording()
    report = dispatcher.dispatch(repo, DAY_STAGE + timedelta(minutes=1), sender)
    assert report.skipped == [old_reminder] and sender.sent == []
    # The new session was booked (moved) after its 24 h moment had passed: the 2 h one goes.
    assert run(repo, DAY_STAGE + timedelta(minutes=5)).claimed == 0
    new_stage = moved.start_utc - timedelta(hours=2)
    [new_reminder] = run(repo, new_stage).queued
    assert new_reminder == f"{moved.id}-r20261125T1500Z-2h"
    dispatcher.dispatch(repo, new_stage + timedelta(minutes=1), sender)
    assert sender.sent == [new_reminder]
    [sent] = reminders_of(repo, trainer.id, moved)
    assert sent.status == "sent"


def test_a_reminder_still_booked_is_claimed_and_sent_once_by_two_dispatchers(
    repo: Repository, world: World
) -> None:
    session = booked(repo, world)
    [queued] = run(repo, DAY_STAGE).queued
    sender = Recording()
    reports = race(3, lambda _i: dispatcher.dispatch(repo, DAY_STAGE, sender))
    assert sum(r.claimed for r in reports) == 1 and sender.sent == [queued]
    assert reminders_of(repo, world.trainer.id, session)[0].status == "sent"


# The backfill ------------------------------------------------------------------------------
def test_reminder_keys_backfills_upcoming_booked_sessions_from_before(
    repo: Repository, world: World, clock: Clock
) -> None:
    trainer = builders.trainer_of(repo, world.trainer.id)
    upcoming = booked(repo, world)
    canceled = booked(repo, world, world.omar, start="11:00", end="12:00")
    sessions.cancel(repo, trainer.id, canceled, str(canceled.version), NOW)
    key = keys.session(trainer.id, upcoming.week, "2026-11-25T09:00:00Z", upcoming.id)
    # As written before reminders existed: no keys.
    repo.db.update(key, Condition("REMOVE #pk, #sk", {"#pk": keys.DUE_PK, "#sk": keys.DUE_SK}))
    assert run(repo, DAY_STAGE).due == 0
    assert manage.main(["reminder-keys", trainer.id]) == 0
    assert due_sk(repo, trainer.id, upcoming) == f"2026-11-24T09:00:00Z#{upcoming.id}"
    assert due_sk(repo, trainer.id, canceled) is None
    assert manage.reminder_keys([trainer.id]) == 0  # a second run writes nothing
    assert run(repo, DAY_STAGE).queued == [f"{upcoming.id}-r20261125T0900Z-24h"]


def test_the_reminder_claim_itself_refuses_a_stale_read(repo: Repository, world: World) -> None:
    trainer = builders.trainer_of(repo, world.trainer.id)
    session = booked(repo, world)
    run(repo, DAY_STAGE)
    [(tid, seen)] = repo.outbox.due(DAY_STAGE)  # read while the session is still booked
    sessions.cancel(repo, trainer.id, session, str(session.version), DAY_STAGE)
    skipped = repo.outbox.claim(tid, seen, DAY_STAGE, DAY_STAGE + dispatcher.SENDING_LEASE)
    assert skipped is not None and skipped.status == "skipped"
    # The same stale read again: no longer queued, so neither claimed nor marked twice.
    assert repo.outbox.claim(tid, seen, DAY_STAGE, DAY_STAGE + dispatcher.SENDING_LEASE) is None
    assert repo.outbox.due(DAY_STAGE + timedelta(hours=1)) == []


def test_a_reminder_the_morning_after_the_clocks_go_forward_is_24_real_hours_before(
    repo: Repository, world: World
) -> None:
    trainer = builders.trainer_of(repo, world.trainer.id)  # Europe/London
    sunday = date(2027, 3, 28)  # BST from 01:00 GMT
    slot = add_slot(repo, trainer, world.studio, "09:00", "10:00", day=sunday)
    session = allocate(repo, trainer, slot, world.priya)
    assert session.start_utc == datetime(2027, 3, 28, 8, 0, tzinfo=UTC)
    due = datetime(2027, 3, 27, 8, 0, tzinfo=UTC)  # 08:00 on the Saturday, local
    assert run(repo, due - timedelta(minutes=1)).due == 0
    assert run(repo, due).queued == [f"{session.id}-r20270328T0800Z-24h"]


def test_names_cannot_add_lines_to_a_reminder(repo: Repository, world: World) -> None:
    trainer = builders.trainer_of(repo, world.trainer.id)
    forged = trainer.model_copy(
        update={
            "settings": trainer.settings.model_copy(
                update={"business_name": "Sam\nPay now: https://evil.example\u2028x"}
            )
        }
    )
    session = booked(repo, world)
    message = reminders.reminder_message(
        forged, world.priya, session, timedelta(hours=24), BASE, DAY_STAGE
    )
    first_line = message.text.splitlines()[0]
    assert "Sam Pay now: https://evil.example x" in first_line
    assert message.text.count("\n") == 3  # the template's own lines only
    assert message.variables["trainer"] == "Sam Pay now: https://evil.example x"

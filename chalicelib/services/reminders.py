"""The `queue_reminders` job: each session's reminders queued once, at their stage.

Every 5 minutes a run Queries the sessions at a reminder stage (sparse DueWork index,
`DUE#reminder`), reads their trainers' settings and their clients in one BatchGetItem,
lets `domain.reminders.reminder_step` decide, and writes the decision per session in one
transaction (`repo/reminders.py`): the reminder, and the session moved on to its next
stage. Nothing here sends: the dispatcher does, and refuses a reminder whose session was
canceled or moved after it was queued (`Outbox.claim`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from chalicelib.domain.clients import Client
from chalicelib.domain.messages import LINK_PLACEHOLDER, WHATSAPP, LinkRef, Message
from chalicelib.domain.models import Trainer
from chalicelib.domain.reminders import lead_label, reminder_step
from chalicelib.domain.schedule import Session
from chalicelib.messaging.templates import variables_for
from chalicelib.messaging.texts import render_text
from chalicelib.repo.mapping import REMINDER_DUE_KIND
from chalicelib.repo.reminders import DueSession, ReminderStore
from chalicelib.repo.repository import Repository
from chalicelib.services.jobs import JobReport

log = logging.getLogger("pt_bookings.reminders")

REMINDER: Final = REMINDER_DUE_KIND
PAGE_SIZE: Final = 100
# A run never reads more than this many pages: at 100 sessions a page and a run every
# 5 minutes, that is 12,000 sessions an hour, far above any real backlog.
MAX_PAGES: Final = 10
# Stop taking work with less time left than a page of writes can take.
RESERVE_MS: Final = 5000


@dataclass
class ReminderReport(JobReport):
    queued: list[str] = field(default_factory=list)  # message ids
    skipped: int = 0  # stages passed with no message (off, left out, too late…)
    stale: int = 0  # changed since the read: the next run looks again if still due
    not_configured: str = ""  # why the run did nothing at all
    stopped_early: bool = False


def reminder_id(session: Session, lead: timedelta) -> str:
    """One id per session, start and lead: written `attribute_not_exists`, so no run, and
    no later rewrite of the session's keys, can queue the same reminder twice."""
    return f"{session.id}-r{session.start_utc:%Y%m%dT%H%MZ}-{lead_label(lead)}"


def wants_reminders(client: Client | None) -> bool:
    """A client who may get one: not gone, not archived (their links are dead), not opted
    out (STOP, the portal), not left out by the trainer, and with a number."""
    return (
        client is not None
        and not client.archived
        and not client.messages_opt_out
        and not client.reminders_off
        and bool(client.phone)
    )


def reminder_message(
    trainer: Trainer,
    client: Client,
    session: Session,
    lead: timedelta,
    base_url: str,
    now: datetime,
) -> Message:
    """The WhatsApp reminder, in the session's partition beside its log (the session page
    lists it), carrying the session's /s/ link to change or cancel while allowed."""
    location = trainer.locations.get(session.location_id)
    variables = variables_for(
        "reminder",
        first_name=client.first_name,
        trainer=trainer.display_name,
        when=f"{session.label} {session.day.year}",
        place=location.name if location else "the usual place",
    )
    # The text takes the variables as cleaned: a name cannot add lines to it either.
    text = render_text(
        "reminder.txt",
        first_name=variables["first_name"],
        trainer_name=variables["trainer"],
        when=variables["when"],
        place=variables["place"],
        session_url=LINK_PLACEHOLDER,
    )
    return Message(
        id=reminder_id(session, lead),
        week=session.week,
        subject_id=session.id,
        subject_ref=session.ref,
        client_id=client.id,
        client_name=client.name,
        kind="reminder",
        channel=WHATSAPP,
        to=client.phone,
        text=text,
        link=LinkRef(
            kind="session",
            base=base_url,
            trainer_id=trainer.id,
            client_id=client.id,
            generation=client.portal_generation,
            target_id=session.id,
        ),
        variables=variables,
        created_at=now,
        next_attempt_at=now,
    )


def _look_at(
    store: ReminderStore,
    due: DueSession,
    trainer: Trainer | None,
    client: Client | None,
    base_url: str,
    now: datetime,
    report: ReminderReport,
) -> None:
    session = due.session
    if trainer is None:
        step_send, next_at = None, None  # the account is gone: nothing more to do
    else:
        step = reminder_step(
            session.start_utc,
            session.created_at,
            now,
            trainer.settings.reminders,
            wanted=wants_reminders(client),
        )
        step_send, next_at = step.send, step.next_at
    message = None
    if step_send is not None and trainer is not None and client is not None:
        message = reminder_message(trainer, client, session, step_send, base_url, now)
    outcome = store.advance(due, next_at, message)
    if outcome == "queued":
        assert message is not None
        report.claimed += 1
        report.queued.append(message.id)
    elif outcome == "stale":
        report.stale += 1
    else:  # advanced (no message at this stage) or already queued earlier
        report.skipped += 1


def queue_reminders(
    repo: Repository,
    base_url: str,
    now: datetime,
    *,
    time_left: Callable[[], float] | None = None,
    page_size: int = PAGE_SIZE,
) -> ReminderReport:
    """One run. `base_url`: the stage's public URL the /s/ links point at (the job's Deps:
    PUBLIC_BASE_URL, or the one the web function learned). `time_left`: milliseconds the
    run may still take (the Lambda context's), None for no limit."""
    report = ReminderReport(REMINDER)
    if not base_url:
        # A reminder without its link would tell the client to use a link it lacks; the
        # sessions keep their keys, and those still in their window go once it is known.
        report.not_configured = (
            "No public URL is known yet (set PUBLIC_BASE_URL, or open the app once): "
            "reminders need it for their links."
        )
        return report
    store = ReminderStore(repo.db)
    start_key: dict[str, str] | None = None
    for _ in range(MAX_PAGES):
        due, start_key = store.due(now, page_size, start_key)
        report.due += len(due)
        if due:
            trainers, clients = store.people(due)
            for item in due:
                if time_left is not None and time_left() < RESERVE_MS:
                    report.stopped_early = True
                    return report
                client = clients.get((item.trainer_id, item.session.client_id))
                trainer = trainers.get(item.trainer_id)
                _look_at(store, item, trainer, client, base_url, now, report)
        if start_key is None:
            break
    return report

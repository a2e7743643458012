"""The `dispatch_messages` job: send what the outbox has due, each message once.

A run claims a message (queued -> sending, attempt + 1, a lease in the due index) with a
conditional update, so of two runs at once only one sends it. The outcome is written
conditional on that same claim:
- accepted by the provider -> sent (leaves the due index);
- a retryable error -> queued again after a backoff, up to MAX_ATTEMPTS, then failed;
- a permanent error -> failed, with the provider's message.
A claim whose lease ran out means the run died mid-send. The message may or may not
have gone out, so it is marked failed rather than sent again: a resend is the trainer's
call, never a silent duplicate.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from chalicelib.domain.messages import EMAIL, INTERRUPTED, SENDING_LEASE, Message, after_failure
from chalicelib.messaging import email as email_channel
from chalicelib.messaging import whatsapp
from chalicelib.repo.repository import Repository
from chalicelib.services import webhooks
from chalicelib.services.jobs import MESSAGE, JobReport
from chalicelib.services.links import Links

log = logging.getLogger("pt_bookings.dispatcher")

Sender = Callable[[str, Message], whatsapp.SendResult]


def default_sender(links: Links, public_base_url: str) -> Sender:
    """The stage's providers; set up on the first send, so a run with nothing due never
    reads their secrets."""
    providers: list[whatsapp.Provider] = []

    def send(trainer_id: str, message: Message) -> whatsapp.SendResult:
        if message.channel == EMAIL:
            return email_channel.send_outbox_email(
                message.to, message.subject, links.message_text(message)
            )
        if not providers:
            providers.append(whatsapp.provider_from_env())
        provider = providers[0]
        callback = (
            webhooks.status_callback_url(public_base_url, trainer_id, message.ref)
            if provider.name != "log"
            else None
        )
        text = links.message_text(message)  # the client link made again from the secret
        return provider.send(whatsapp.OutgoingWhatsApp(message.to, text, callback))

    return send


def dispatch(repo: Repository, now: datetime, sender: Sender) -> JobReport:
    report = JobReport(MESSAGE)
    due = repo.outbox.due(now)
    report.due = len(due)
    if not due:
        return report  # no provider set-up (or SSM read) when there is nothing to send
    for trainer_id, message in due:
        if message.status == "sending":
            if repo.outbox.mark_failed(trainer_id, message, INTERRUPTED, now, held=False):
                report.failed.append(message.id)
            continue
        claimed = repo.outbox.claim(trainer_id, message, now, now + SENDING_LEASE)
        if claimed is None:
            continue  # another run has it
        report.claimed += 1
        try:
            result = sender(trainer_id, claimed)
        except whatsapp.SendError as exc:
            _after_error(repo, trainer_id, claimed, exc.message, exc.retryable, now, report)
            continue
        except Exception as exc:  # a bug or an unexpected SDK error: retry, then give up
            log.exception("sending message %s failed", claimed.id)
            _after_error(repo, trainer_id, claimed, f"Unexpected error: {exc}", True, now, report)
            continue
        repo.outbox.mark_sent(trainer_id, claimed, result.provider, result.provider_id, now)
    return report


def _after_error(
    repo: Repository,
    trainer_id: str,
    message: Message,
    error: str,
    retryable: bool,
    now: datetime,
    report: JobReport,
) -> None:
    retry_at = after_failure(message.attempts, retryable, now)
    if retry_at is None:
        repo.outbox.mark_failed(trainer_id, message, error, now)
        report.failed.append(message.id)
    else:
        repo.outbox.retry_later(trainer_id, message, error, retry_at, now)
        report.retried.append(message.id)

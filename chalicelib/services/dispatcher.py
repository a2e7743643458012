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

One provider's trouble never stops the others. Each message goes by a route (email, or
WhatsApp through the stage's provider, or a trainer's own sender): a route that is
not configured fails its messages one by one with the reason in words while the other
routes keep going, and a route that keeps failing (BREAKER_THRESHOLD retryable errors in
a row, or one error that says the provider itself is down) is paused for the rest of the
run, its messages left queued for the next run rather than failed. A run also stops
taking work when the time it has left could not cover one more send.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, Protocol

from chalicelib import observability
from chalicelib.config import from_env as config_from_env
from chalicelib.domain.messages import (
    EMAIL,
    INTERRUPTED,
    LINK_PLACEHOLDER,
    SENDING_LEASE,
    Message,
    after_failure,
)
from chalicelib.domain.settings import WhatsAppSender
from chalicelib.messaging import email as email_channel
from chalicelib.messaging import templates, whatsapp
from chalicelib.messaging.delivery import SEND_TIMEOUT_SECONDS, NotConfigured
from chalicelib.repo.outbox import SKIPPED
from chalicelib.repo.repository import Repository
from chalicelib.services import webhooks
from chalicelib.services.jobs import MESSAGE, JobReport
from chalicelib.services.links import Links

log = logging.getLogger("pt_bookings.dispatcher")

# Retryable failures in a row after which a route is paused for the rest of the run: a
# provider that is down would otherwise cost a timeout per message.
BREAKER_THRESHOLD: Final = 5
# Stop taking work with less time left than one send can take plus the writes around it.
RESERVE_MS: Final = int(SEND_TIMEOUT_SECONDS * 1000) + 3000

EMAIL_ROUTE: Final = "email"
WHATSAPP_ROUTE: Final = "whatsapp"


class Sender(Protocol):
    """Sends one message. A plain function will do (tests); `StageSender` also says which
    route each message takes, which is what the circuit breaker counts by."""

    def __call__(self, trainer_id: str, message: Message, /) -> whatsapp.SendResult: ...


# Whether the client wrote to us in the last 24 hours, so free-form text may go.
WindowCheck = Callable[[str, Message], bool]


def window_closed(_trainer_id: str, _message: Message) -> bool:
    """No window known to be open: what a sender without a conversation store assumes
    (the runtime passes `conversations.window_check`)."""
    return False


def link_url(links: Links, message: Message) -> str | None:
    """The message's client link alone, made again from the stage secret."""
    if message.link is None:
        return None
    return links.message_text(message.model_copy(update={"text": LINK_PLACEHOLDER}))


# A trainer's WhatsApp sender as their settings say (None: no such trainer).
TrainerSender = Callable[[str], WhatsAppSender | None]


def settings_sender(repo: Repository) -> TrainerSender:
    """Reads a trainer's sender from their profile (one GetItem; StageSender caches it)."""

    def sender_of(trainer_id: str) -> WhatsAppSender | None:
        trainer = repo.get_trainer(trainer_id)
        return trainer.settings.whatsapp_sender if trainer else None

    return sender_of


class StageSender:
    """The stage's channels, each set up on its first message, so a run with nothing due
    reads no secret. A route whose set-up failed keeps that failure for the run (one SSM
    read, not one per message) and each of its messages fails or retries with it.

    With `trainer_sender` (a stage offering trainers their own sender), a trainer whose
    settings name their own number is a route of their own, `whatsapp:<trainer>`: their
    settings are read once per run, their token once, and their failures (a token missing
    from SSM, an outage of their account) pause or fail only their messages."""

    def __init__(
        self,
        links: Links,
        public_base_url: str | Callable[[], str],
        *,
        local: bool | None = None,
        window_open: WindowCheck = window_closed,
        whatsapp_provider: Callable[[bool], whatsapp.Provider] | None = None,
        stage_templates: Callable[[str], templates.TemplateSet | None] = templates.from_env,
        send_email: email_channel.OutboxSend | None = None,
        trainer_sender: TrainerSender | None = None,
        secrets: whatsapp.TrainerSecrets | None = None,
    ) -> None:
        self.links = links
        # A callable is asked on the first delivery-report URL, so a run with nothing
        # due (or only email) never reads where the stage lives.
        self._public_base_url = public_base_url
        self._local = local
        self._window_open = window_open
        self._make_provider = whatsapp_provider or (
            lambda local: whatsapp.provider_from_env(local=local)
        )
        self._stage_templates = stage_templates
        self._send_email = send_email or email_channel.send_outbox_email
        self._routes: dict[str, tuple[whatsapp.Provider, templates.TemplateSet | None]] = {}
        self._broken: dict[str, tuple[str, bool]] = {}  # route -> (words, retryable)
        self._trainer_sender = trainer_sender
        self._secrets = secrets
        self._senders: dict[str, WhatsAppSender | None] = {}  # per trainer, for the run

    @property
    def public_base_url(self) -> str:
        if callable(self._public_base_url):
            self._public_base_url = self._public_base_url()
        return self._public_base_url

    def route(self, trainer_id: str, message: Message) -> str:
        if message.channel == EMAIL:
            return EMAIL_ROUTE
        sender = self._sender_of(trainer_id)
        return f"{WHATSAPP_ROUTE}:{trainer_id}" if sender and sender.is_own else WHATSAPP_ROUTE

    def _sender_of(self, trainer_id: str) -> WhatsAppSender | None:
        if self._trainer_sender is None:
            return None
        if trainer_id not in self._senders:
            self._senders[trainer_id] = self._trainer_sender(trainer_id)
        return self._senders[trainer_id]

    def __call__(self, trainer_id: str, message: Message) -> whatsapp.SendResult:
        if message.channel == EMAIL:
            return self._send_email(
                message.to,
                message.subject,
                self.links.message_text(message),
                from_name=message.from_name,
                reply_to=message.reply_to,
                # Tagged on the email, so a bounce or complaint finds this message.
                reference=webhooks.message_reference(trainer_id, message.ref),
            )
        route = self.route(trainer_id, message)
        provider, stage_templates = self._whatsapp(route, trainer_id)
        template = templates.choose(
            message.template_kind,
            message.variables,
            link_url(self.links, message),
            stage_templates,
            # Asked only when it changes anything: a stage without templates sends text.
            window_open=stage_templates is not None and self._window_open(trainer_id, message),
        )
        callback = (
            webhooks.status_callback_url(
                self.public_base_url, trainer_id, message.ref, own=route != WHATSAPP_ROUTE
            )
            if provider.name == "twilio"
            else None
        )
        outgoing = whatsapp.OutgoingWhatsApp(
            message.to,
            self.links.message_text(message),  # the client link made again from the secret
            callback,
            template=template,
            message_id=message.id,
            kind=message.kind,
            reference=webhooks.message_reference(trainer_id, message.ref),
        )
        return provider.send(outgoing)

    def _whatsapp(
        self, route: str, trainer_id: str
    ) -> tuple[whatsapp.Provider, templates.TemplateSet | None]:
        if route in self._broken:
            words, retryable = self._broken[route]
            raise whatsapp.SendError(words, retryable=retryable)
        if route != WHATSAPP_ROUTE and route not in self._routes:
            self._routes[route] = self._own_route(route, trainer_id)
        if route not in self._routes:
            try:
                provider = self._make_provider(self._is_local())
                self._routes[route] = (provider, self._stage_templates(provider.name))
            except NotConfigured as exc:
                # An unreadable secret (SSM throttled, a permission being fixed) is worth
                # another try later; a missing setting waits for a deploy.
                retryable = isinstance(exc, whatsapp.SecretUnreadable)
                self._broken[route] = (f"WhatsApp is not configured: {exc}", retryable)
                raise whatsapp.SendError(self._broken[route][0], retryable=retryable) from exc
        return self._routes[route]

    def _own_route(
        self, route: str, trainer_id: str
    ) -> tuple[whatsapp.Provider, templates.TemplateSet | None]:
        sender = self._sender_of(trainer_id)
        assert sender is not None and sender.is_own
        token_words = "auth token" if sender.kind == "twilio" else "access token"
        secrets = self._secrets or whatsapp.trainer_secrets()
        try:
            token = secrets.read(trainer_id, whatsapp.TOKEN, sender.token_ref)
            if sender.kind == "twilio":
                # Content SIDs belong to one Twilio account, so the stage's are no use
                # here: the trainer's own, from their Settings.
                provider: whatsapp.Provider = whatsapp.own_twilio_provider(
                    sender.account_sid, sender.number, token
                )
                return provider, templates.TemplateSet.own_twilio(sender.content_sids)
            provider = whatsapp.own_meta_provider(sender.phone_number_id, token)
            # Meta templates go by name: the stage's, approved again on the trainer's
            # account (docs/whatsapp-senders.md), when the stage itself is on Meta.
            shared_is_meta = whatsapp.configured_provider() == "meta"
            return provider, self._stage_templates("meta") if shared_is_meta else None
        except whatsapp.SecretMissing as exc:
            words = (
                f"Your WhatsApp sender is not set up: the {token_words} is missing. "
                "Enter it again in Settings."
            )
            retryable = False
            cause: Exception = exc
        except whatsapp.SecretUnreadable as exc:
            words = (
                f"Your WhatsApp sender's {token_words} could not be read just now "
                f"({_ssm_code(exc)}); it will be tried again."
            )
            retryable = True
            cause = exc
        except NotConfigured as exc:
            words, retryable, cause = f"WhatsApp is not configured: {exc}", False, exc
        self._broken[route] = (words, retryable)
        raise whatsapp.SendError(words, retryable=retryable) from cause

    def _is_local(self) -> bool:
        # The composition root says; failing that, the stage's own setting.
        return self._local if self._local is not None else config_from_env().is_local


def _ssm_code(exc: Exception) -> str:
    """The SSM error code at the end of SecretUnreadable's words, not the parameter name."""
    return str(exc).rpartition(": ")[2] or "SSM error"


def default_sender(
    links: Links,
    public_base_url: str | Callable[[], str],
    *,
    local: bool | None = None,
    window_open: WindowCheck = window_closed,
    repo: Repository | None = None,
) -> StageSender:
    """The stage's providers (the composition root's sender for the dispatch job). With
    `repo`, on a stage offering them, trainers' own senders too."""
    own = repo is not None and whatsapp.own_senders_enabled()
    return StageSender(
        links,
        public_base_url,
        local=local,
        window_open=window_open,
        trainer_sender=settings_sender(repo) if own and repo is not None else None,
    )


@dataclass
class DispatchReport(JobReport):
    # Routes paused by the circuit breaker, and the messages they left for the next run.
    paused: list[str] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)
    stopped_early: bool = False  # the run's time ran low: the rest waits for the next run
    skipped: list[str] = field(default_factory=list)  # never sent: their session is gone
    sent: int = 0  # taken by a provider this run


class _Breaker:
    """Counts retryable failures in a row per route; opens (pauses the route) at the
    threshold, or at once on an error that says the provider itself is down."""

    def __init__(self, threshold: int) -> None:
        self.threshold = threshold
        self._in_a_row: Counter[str] = Counter()
        self.paused: set[str] = set()

    def success(self, route: str) -> None:
        self._in_a_row[route] = 0

    def failure(self, route: str, *, retryable: bool, provider_down: bool) -> None:
        if not retryable and not provider_down:
            # The provider answered, about this message only: it is up.
            self._in_a_row[route] = 0
            return
        self._in_a_row[route] += 1
        if provider_down or self._in_a_row[route] >= self.threshold:
            if route not in self.paused:
                log.warning("pausing %s for the rest of this run", route)
            self.paused.add(route)


def _route(sender: Sender, trainer_id: str, message: Message) -> str:
    route = getattr(sender, "route", None)
    return route(trainer_id, message) if callable(route) else message.channel


def dispatch(
    repo: Repository,
    now: datetime,
    sender: Sender,
    time_left: Callable[[], float] | None = None,
) -> DispatchReport:
    """One run. `time_left`: milliseconds the run may still take (the Lambda context's
    get_remaining_time_in_millis); None for no limit."""
    report = DispatchReport(MESSAGE)
    due = repo.outbox.due(now)
    report.due = len(due)
    if not due:
        _publish(report, due, now)  # every run: a run that stops reporting is itself news
        return report  # no provider set-up (or SSM read) when there is nothing to send
    breaker = _Breaker(BREAKER_THRESHOLD)
    for trainer_id, message in due:
        if time_left is not None and time_left() < RESERVE_MS:
            report.stopped_early = True
            break
        if message.status == "sending":
            if repo.outbox.mark_failed(trainer_id, message, INTERRUPTED, now, held=False):
                report.failed.append(message.id)
            continue
        route = _route(sender, trainer_id, message)
        if route in breaker.paused:
            report.deferred.append(message.id)  # still queued and due: the next run's
            continue
        claimed = repo.outbox.claim(trainer_id, message, now, now + SENDING_LEASE)
        if claimed is None:
            continue  # another run has it
        if claimed.status == SKIPPED:
            # A reminder whose session was canceled or moved since it was queued: the
            # claim refused it, and it left the queue without reaching the sender.
            report.skipped.append(claimed.id)
            continue
        report.claimed += 1
        try:
            result = sender(trainer_id, claimed)
        except whatsapp.SendError as exc:
            breaker.failure(route, retryable=exc.retryable, provider_down=exc.provider_down)
            _after_error(repo, trainer_id, claimed, exc.message, exc.retryable, now, report)
            continue
        except Exception as exc:  # a bug or an unexpected SDK error: retry, then give up
            log.exception("sending message %s failed", claimed.id)
            breaker.failure(route, retryable=True, provider_down=False)
            _after_error(repo, trainer_id, claimed, f"Unexpected error: {exc}", True, now, report)
            continue
        breaker.success(route)
        repo.outbox.mark_sent(trainer_id, claimed, result.provider, result.provider_id, now)
        report.sent += 1
    report.paused = sorted(breaker.paused)
    _publish(report, due, now)
    return report


def queued_age_seconds(due: list[tuple[str, Message]], now: datetime) -> float:
    """How long the oldest due, still queued message has waited, from the run's own due
    read (oldest first, no further read): since it was due, so a retry's backoff does not
    count as waiting; 0 when none waits. A held claim (status sending) is not queued."""
    waited = [
        (now - (message.next_attempt_at or message.created_at)).total_seconds()
        for _trainer_id, message in due
        if message.status == "queued"
    ]
    return max(0.0, max(waited, default=0.0))


def _publish(report: DispatchReport, due: list[tuple[str, Message]], now: datetime) -> None:
    """The run's metrics (docs/observability.md); the alarms watch MessagesFailed and
    OldestQueuedMessageAgeSeconds."""
    observability.put_metrics(
        {
            "MessagesSent": (report.sent, observability.COUNT),
            "MessagesFailed": (len(report.failed), observability.COUNT),
            # What this run found waiting (its due read holds at most one page).
            "MessagesQueued": (
                sum(1 for _t, m in due if m.status == "queued"),
                observability.COUNT,
            ),
            "OldestQueuedMessageAgeSeconds": (
                round(queued_age_seconds(due, now), 3),
                observability.SECONDS,
            ),
        }
    )


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

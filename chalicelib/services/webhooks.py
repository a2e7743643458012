"""The WhatsApp providers' webhooks: delivery reports, inbound messages, Meta's handshake.

Every POST proves where it comes from before anything is read from the table:
- Twilio signs each callback with the account's auth token over the exact URL we gave it
  plus the posted parameters. We rebuild that URL from our own configuration (and, for a
  delivery report, the message reference in it), never from request headers an attacker
  controls, so a forged, altered or re-targeted callback fails the check.
- Meta signs the raw body with the app secret (X-Hub-Signature-256); its GET handshake
  must echo our verify token.
A valid request can still be a replay or arrive out of order: `Outbox.record_delivery`
only ever moves a message forward, and an inbound message carries the provider's id,
which is what the code recording it must make unique.

Each handler takes what a route has (query, form or raw body, signature header, now)
and returns a WebhookResult; the routes (web/webhook_views.py) call the `*_report`
wrappers, which take the request's Deps, so a route is one call.

Inbound messages are handed to a `record` sink: the routes pass
`conversations.record_inbound` (matched to a client, kept once, STOP / START applied).
A replayed one is answered 2xx all the same, or the provider would retry it for days.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from chalicelib.messaging import meta, twilio, whatsapp
from chalicelib.messaging.payloads import Inbound, StatusUpdate
from chalicelib.repo.repository import Repository
from chalicelib.services import conversations
from chalicelib.services.deps import Deps

log = logging.getLogger("pt_bookings.webhooks")

TWILIO_STATUS_PATH = "/webhooks/twilio/status"
TWILIO_INBOUND_PATH = "/webhooks/twilio/inbound"
META_PATH = "/webhooks/meta"
_ID = r"[A-Za-z0-9_-]{1,64}"
_REF = re.compile(rf"^({_ID})\.([0-9]{{4}}-W[0-9]{{2}})\.({_ID})\.({_ID})$")

# Records one inbound message (conversations.record_inbound, in the routes).
InboundSink = Callable[[Inbound], None]


def status_callback_url(base: str, trainer_id: str, message_ref: str) -> str | None:
    """Where the provider reports delivery of a message (None: no public URL set). `base`
    is the stage's configured public URL, never one taken from a request."""
    if not base:
        return None
    return f"{base}{TWILIO_STATUS_PATH}?m={message_reference(trainer_id, message_ref)}"


def message_reference(trainer_id: str, message_ref: str) -> str:
    """Locates a message from a provider's report: trainer, week, subject and message id."""
    return f"{trainer_id}.{message_ref}"


@dataclass(frozen=True)
class WebhookResult:
    status: int  # HTTP status for the provider
    applied: bool = False
    body: str = ""  # text/plain


def twilio_status_report(
    deps: Deps, reference: str, params: Mapping[str, str], signature: str
) -> WebhookResult:
    """The route's one call: a delivery report checked against the stage's own URL."""
    return twilio_status(
        deps.repo, deps.config.public_base_url, reference, params, signature, deps.now
    )


def twilio_inbound_report(deps: Deps, params: Mapping[str, str], signature: str) -> WebhookResult:
    """The inbound route's one call, signed over the stage's own inbound URL."""
    return twilio_inbound(
        deps.config.public_base_url, params, signature, deps.now, record=_recorder(deps)
    )


def meta_events_report(deps: Deps, raw_body: bytes, signature: str) -> WebhookResult:
    """The Meta POST route's one call: delivery reports applied to the outbox, inbound
    messages kept in their conversation."""
    return meta_events(deps.repo, raw_body, signature, deps.now, record=_recorder(deps))


def _recorder(deps: Deps) -> InboundSink:
    def record(message: Inbound) -> None:
        conversations.record_inbound(deps.repo, message)

    return record


def twilio_status(
    repo: Repository,
    base_url: str,
    reference: str,
    params: Mapping[str, str],
    signature: str,
    now: datetime,
) -> WebhookResult:
    if whatsapp.configured_provider() != "twilio":
        return WebhookResult(404)  # nothing here listens for Twilio
    match = _REF.match(reference or "")
    if not match:
        return WebhookResult(403)  # not a URL we ever handed out: treat like a bad signature
    trainer_id, week, subject_id, message_id = match.groups()
    url = status_callback_url(base_url, trainer_id, f"{week}.{subject_id}.{message_id}")
    if url is None or not whatsapp.valid_twilio_signature(
        whatsapp.twilio_auth_token(), url, params, signature
    ):
        log.warning("rejected a Twilio callback with a bad signature for %s", reference)
        return WebhookResult(403)
    update = twilio.status_update(params, reference, now)
    if update.status is None:
        return WebhookResult(204)  # an in-between state (queued, sending): nothing to record
    error = twilio.failure_text(update) if update.status == "failed" else None
    # 2xx either way: a stale or replayed report is not an error to retry.
    return WebhookResult(204, _apply(repo, update, error, now))


def twilio_inbound(
    base_url: str,
    params: Mapping[str, str],
    signature: str,
    now: datetime,
    record: InboundSink | None = None,
) -> WebhookResult:
    """A client's message to the stage's Twilio sender (its "when a message comes in"
    webhook, set to `<PUBLIC_BASE_URL>/webhooks/twilio/inbound` in Twilio's console)."""
    if whatsapp.configured_provider() != "twilio":
        return WebhookResult(404)
    token = _secret(whatsapp.twilio_auth_token)
    if token is None:
        return WebhookResult(503)
    if not base_url or not whatsapp.valid_twilio_signature(
        token, base_url + TWILIO_INBOUND_PATH, params, signature
    ):
        log.warning("rejected an inbound Twilio webhook with a bad signature")
        return WebhookResult(403)
    message = twilio.inbound(params, now)
    if message is None:
        return WebhookResult(204)  # not a WhatsApp message from a number we can read
    if record is not None:
        record(message)
    return WebhookResult(204, applied=record is not None)


def meta_verify(params: Mapping[str, str]) -> WebhookResult:
    """Meta's GET handshake when the webhook is subscribed: answer its challenge if it
    carries our verify token."""
    if whatsapp.configured_provider() != "meta":
        return WebhookResult(404)
    verify_token = _secret(whatsapp.meta_verify_token)
    if verify_token is None:
        return WebhookResult(503)
    challenge = meta.verify_challenge(params, verify_token)
    if challenge is None:
        log.warning("refused a Meta webhook handshake")
        return WebhookResult(403)
    return WebhookResult(200, body=challenge)


def meta_events(
    repo: Repository,
    raw_body: bytes,
    signature: str,
    now: datetime,
    record: InboundSink | None = None,
) -> WebhookResult:
    """A signed POST from Meta: delivery reports are applied, inbound messages handed to
    `record`. 200 even when nothing applied, or Meta retries it for days."""
    if whatsapp.configured_provider() != "meta":
        return WebhookResult(404)
    app_secret = _secret(whatsapp.meta_app_secret)
    if app_secret is None:
        return WebhookResult(503)
    if not meta.valid_signature(app_secret, raw_body, signature):
        log.warning("rejected a Meta webhook with a bad signature")
        return WebhookResult(403)
    if not _is_json_object(raw_body):
        # Signed but unreadable: not something a retry would fix, and not our crash.
        log.warning("a signed Meta webhook whose body is not a JSON object")
        return WebhookResult(400)
    events = meta.parse_events(raw_body)
    applied = False
    for update in events.statuses:
        if update.status is None:
            continue
        error = meta.failure_text(update) if update.status == "failed" else None
        applied = _apply(repo, update, error, now) or applied
    if record is not None:
        for message in events.inbound:
            record(message)
            applied = True
    return WebhookResult(200, applied)


def _is_json_object(raw_body: bytes) -> bool:
    try:
        return isinstance(json.loads(raw_body), dict)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return False


def _secret(read: Callable[[], str]) -> str | None:
    """A webhook secret, or None when the stage cannot give it: the provider is answered
    503 (it retries later) rather than with a crash page, and the operator is told."""
    try:
        return read()
    except whatsapp.NotConfigured as exc:
        log.error("a WhatsApp webhook cannot be checked: %s", exc)
        return None


def _apply(repo: Repository, update: StatusUpdate, error: str | None, now: datetime) -> bool:
    """A report moves its message forward, if it names one of ours and can (see
    DELIVERY_FROM); False when stale, replayed, or about a message we do not know."""
    match = _REF.match(update.reference)
    if not match or update.status is None:
        return False
    trainer_id, week, subject_id, message_id = match.groups()
    return repo.outbox.record_delivery(
        trainer_id,
        week,
        subject_id,
        message_id,
        update.status,
        now,
        provider_id=update.provider_message_id or None,
        error=error,
    )

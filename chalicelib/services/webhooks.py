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

Trainers' own senders (a stage with WHATSAPP_OWN_SENDERS on; docs/whatsapp-senders.md)
post to the same URLs, signed with the trainer's own secret. The stage's shared sender is
tried first, exactly as before them (no read). Otherwise `OwnSenders` finds whose sender
it is with one read, the only one before the signature is checked:
- Twilio inbound: the claim item of the `To` number (it names the auth token's SSM name);
- Twilio delivery report: the trainer's settings, named by the callback's reference
  (marked `~` when the message went by the trainer's own sender);
- Meta: the claim item of `metadata.phone_number_id` (it names the app secret).
A request naming the stage's shared number, or no trainer's, costs no read.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from chalicelib.domain.settings import WhatsAppSender
from chalicelib.messaging import meta, twilio, whatsapp
from chalicelib.messaging.payloads import Inbound, StatusUpdate
from chalicelib.repo.repository import Repository
from chalicelib.repo.senders import SenderClaim, SenderStore
from chalicelib.services import conversations
from chalicelib.services.conversations import SenderOwner
from chalicelib.services.deps import Deps
from chalicelib.services.links import Links

log = logging.getLogger("pt_bookings.webhooks")

TWILIO_STATUS_PATH = "/webhooks/twilio/status"
TWILIO_INBOUND_PATH = "/webhooks/twilio/inbound"
META_PATH = "/webhooks/meta"
_ID = r"[A-Za-z0-9_-]{1,64}"
_REF = re.compile(rf"^({_ID})\.([0-9]{{4}}-W[0-9]{{2}})\.({_ID})\.({_ID})$")
# Marks the delivery-report reference of a message sent by a trainer's own Twilio sender
# (outside _ID, so no shared reference can look like one).
OWN_MARK: Final = "~"
_E164 = re.compile(r"^\+[1-9][0-9]{5,14}$")

# Records one inbound message (conversations.record_inbound, in the routes).
InboundSink = Callable[[Inbound], None]


def status_callback_url(
    base: str, trainer_id: str, message_ref: str, *, own: bool = False
) -> str | None:
    """Where the provider reports delivery of a message (None: no public URL set). `base`
    is the stage's configured public URL, never one taken from a request. `own`: sent by
    the trainer's own Twilio account, which signs the report with its own token."""
    if not base:
        return None
    mark = OWN_MARK if own else ""
    return f"{base}{TWILIO_STATUS_PATH}?m={mark}{message_reference(trainer_id, message_ref)}"


def message_reference(trainer_id: str, message_ref: str) -> str:
    """Locates a message from a provider's report: trainer, week, subject and message id."""
    return f"{trainer_id}.{message_ref}"


@dataclass(frozen=True)
class WebhookResult:
    status: int  # HTTP status for the provider
    applied: bool = False
    body: str = ""  # text/plain


class OwnSenders:
    """Trainers' own senders, as a webhook needs them: whose sender a request names (one
    read) and the secret it must be signed with (SSM, cached by name)."""

    def __init__(self, repo: Repository, secrets: whatsapp.TrainerSecrets | None = None) -> None:
        self.repo = repo
        self.secrets = secrets or whatsapp.trainer_secrets()

    def claim(self, provider: str, address: str) -> SenderClaim | None:
        if (provider, address) in whatsapp.shared_addresses():
            return None  # the stage's own number: nobody's, and no read
        return SenderStore(self.repo.db).claim(provider, address)

    def sender_of(self, trainer_id: str) -> WhatsAppSender | None:
        trainer = self.repo.get_trainer(trainer_id)
        return trainer.settings.whatsapp_sender if trainer else None

    def secret(self, trainer_id: str, what: str, ref: str) -> str | None:
        """None when SSM cannot give it: the provider is answered 503 and retries."""
        try:
            return self.secrets.read(trainer_id, what, ref)
        except whatsapp.NotConfigured as exc:
            log.error("trainer %s's WhatsApp webhook cannot be checked: %s", trainer_id, exc)
            return None

    def record(self, message: Inbound, claim: SenderClaim) -> None:
        conversations.record_inbound(self.repo, message, claim_owner(claim))


def claim_owner(claim: SenderClaim) -> SenderOwner:
    """The sender lookup for a message to a trainer's own number: theirs, nobody else's."""

    def owner(sender: str) -> str | None:
        return claim.trainer_id if sender == claim.address else None

    return owner


def _own(deps: Deps, secrets: whatsapp.TrainerSecrets | None) -> OwnSenders | None:
    return OwnSenders(deps.repo, secrets) if whatsapp.own_senders_enabled() else None


def twilio_status_report(
    deps: Deps,
    reference: str,
    params: Mapping[str, str],
    signature: str,
    secrets: whatsapp.TrainerSecrets | None = None,
) -> WebhookResult:
    """The route's one call: a delivery report checked against the stage's own URL."""
    return twilio_status(
        deps.repo,
        deps.base_url,
        reference,
        params,
        signature,
        deps.now,
        own=_own(deps, secrets),
    )


def twilio_inbound_report(
    deps: Deps,
    params: Mapping[str, str],
    signature: str,
    secrets: whatsapp.TrainerSecrets | None = None,
) -> WebhookResult:
    """The inbound route's one call, signed over the stage's own inbound URL."""
    return twilio_inbound(
        deps.base_url,
        params,
        signature,
        deps.now,
        record=_recorder(deps),
        own=_own(deps, secrets),
    )


def meta_events_report(
    deps: Deps,
    raw_body: bytes,
    signature: str,
    secrets: whatsapp.TrainerSecrets | None = None,
) -> WebhookResult:
    """The Meta POST route's one call: delivery reports applied to the outbox, inbound
    messages kept in their conversation."""
    return meta_events(
        deps.repo, raw_body, signature, deps.now, record=_recorder(deps), own=_own(deps, secrets)
    )


def meta_verify_report(deps: Deps, params: Mapping[str, str]) -> WebhookResult:
    """The handshake, also for a trainer's own Meta app: its verify token is theirs
    (`trainer_verify_token`), checked against the stage secret without a read."""
    links = deps.links if whatsapp.own_senders_enabled() else None
    return meta_verify(params, links=links)


def trainer_verify_token(links: Links, trainer_id: str) -> str:
    """The verify token a trainer types into their Meta app's webhook: derived from the
    stage secret, so the handshake can check it without reading anything."""
    digest = hmac.new(
        links.secret, b"meta-verify-token:" + trainer_id.encode(), hashlib.sha256
    ).hexdigest()
    return f"{trainer_id}.{digest[:40]}"


def _is_trainer_verify_token(links: Links, token: str) -> bool:
    trainer_id, _, _digest = token.rpartition(".")
    if not re.fullmatch(_ID, trainer_id):
        return False
    expected = trainer_verify_token(links, trainer_id)
    try:
        return hmac.compare_digest(expected.encode(), token.encode("utf-8"))
    except (TypeError, ValueError):
        return False


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
    *,
    own: OwnSenders | None = None,
) -> WebhookResult:
    if (reference or "").startswith(OWN_MARK):
        return _own_twilio_status(repo, base_url, reference, params, signature, now, own)
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
    return _twilio_report(repo, params, reference, now)


def _own_twilio_status(
    repo: Repository,
    base_url: str,
    reference: str,
    params: Mapping[str, str],
    signature: str,
    now: datetime,
    own: OwnSenders | None,
) -> WebhookResult:
    """A delivery report for a message a trainer's own Twilio account sent: signed with
    that account's token, which the trainer's settings name (the one read before the
    check)."""
    if own is None:
        return WebhookResult(404)  # this stage offers no own senders
    plain = reference.removeprefix(OWN_MARK)
    match = _REF.match(plain)
    if not match:
        return WebhookResult(403)
    trainer_id, week, subject_id, message_id = match.groups()
    url = status_callback_url(base_url, trainer_id, f"{week}.{subject_id}.{message_id}", own=True)
    sender = own.sender_of(trainer_id) if url else None
    if url is None or sender is None or sender.kind != "twilio":
        log.warning("rejected a Twilio callback for a trainer's sender: %s", plain)
        return WebhookResult(403)
    token = own.secret(trainer_id, whatsapp.TOKEN, sender.token_ref)
    if token is None:
        return WebhookResult(503)
    if not whatsapp.valid_twilio_signature(token, url, params, signature):
        log.warning("rejected a Twilio callback with a bad signature for %s", plain)
        return WebhookResult(403)
    return _twilio_report(repo, params, plain, now)


def _twilio_report(
    repo: Repository, params: Mapping[str, str], reference: str, now: datetime
) -> WebhookResult:
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
    *,
    own: OwnSenders | None = None,
) -> WebhookResult:
    """A client's message to the stage's Twilio sender (its "when a message comes in"
    webhook, set to `<PUBLIC_BASE_URL>/webhooks/twilio/inbound` in Twilio's console), or
    to a trainer's own Twilio number (`own`: the same URL in their console)."""
    shared = whatsapp.configured_provider() == "twilio"
    if not shared and own is None:
        return WebhookResult(404)
    refusal = WebhookResult(404)
    if shared:
        token = _secret(whatsapp.twilio_auth_token)
        if token is not None and _signed_by(token, base_url, params, signature):
            return _keep_twilio(params, now, record)
        refusal = WebhookResult(503 if token is None else 403)
    if own is not None:
        to = (params.get("To") or "").strip().removeprefix(twilio.WHATSAPP_PREFIX)
        claim = own.claim("twilio", to) if _E164.match(to) else None
        if claim is not None:
            return _own_twilio_inbound(base_url, params, signature, now, own, claim)
    if refusal.status == 403:
        log.warning("rejected an inbound Twilio webhook with a bad signature")
    return refusal


def _signed_by(token: str, base_url: str, params: Mapping[str, str], signature: str) -> bool:
    return bool(base_url) and whatsapp.valid_twilio_signature(
        token, base_url + TWILIO_INBOUND_PATH, params, signature
    )


def _own_twilio_inbound(
    base_url: str,
    params: Mapping[str, str],
    signature: str,
    now: datetime,
    own: OwnSenders,
    claim: SenderClaim,
) -> WebhookResult:
    token = own.secret(claim.trainer_id, whatsapp.TOKEN, claim.token_ref)
    if token is None:
        return WebhookResult(503)
    if not _signed_by(token, base_url, params, signature):
        log.warning("rejected an inbound Twilio webhook for a trainer's sender")
        return WebhookResult(403)
    message = twilio.inbound(params, now)
    if message is None:
        return WebhookResult(204)
    own.record(message, claim)
    return WebhookResult(204, applied=True)


def _keep_twilio(
    params: Mapping[str, str], now: datetime, record: InboundSink | None
) -> WebhookResult:
    message = twilio.inbound(params, now)
    if message is None:
        return WebhookResult(204)  # not a WhatsApp message from a number we can read
    if record is not None:
        record(message)
    return WebhookResult(204, applied=record is not None)


def meta_verify(params: Mapping[str, str], *, links: Links | None = None) -> WebhookResult:
    """Meta's GET handshake when the webhook is subscribed: answer its challenge if it
    carries our verify token, or (`links`: a stage with own senders) a trainer's."""
    given = params.get("hub.verify_token") or ""
    if links is not None and _is_trainer_verify_token(links, given):
        challenge = meta.verify_challenge(params, given)
        if challenge is not None:
            return WebhookResult(200, body=challenge)
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
    *,
    own: OwnSenders | None = None,
) -> WebhookResult:
    """A signed POST from Meta: delivery reports are applied, inbound messages handed to
    `record`. 200 even when nothing applied, or Meta retries it for days. `own`: also
    a trainer's own app, signed with its app secret (picked by the phone-number id)."""
    shared = whatsapp.configured_provider() == "meta"
    if not shared and own is None:
        return WebhookResult(404)
    refusal = WebhookResult(404)
    if shared:
        app_secret = _secret(whatsapp.meta_app_secret)
        if app_secret is not None and meta.valid_signature(app_secret, raw_body, signature):
            return _shared_meta_events(repo, raw_body, now, record)
        refusal = WebhookResult(503 if app_secret is None else 403)
    if own is not None:
        number = _phone_number_id(raw_body)
        claim = own.claim("meta", number) if number else None
        if claim is not None:
            return _own_meta_events(repo, raw_body, signature, now, own, claim)
    if refusal.status == 403:
        log.warning("rejected a Meta webhook with a bad signature")
    return refusal


def _own_meta_events(
    repo: Repository,
    raw_body: bytes,
    signature: str,
    now: datetime,
    own: OwnSenders,
    claim: SenderClaim,
) -> WebhookResult:
    app_secret = own.secret(claim.trainer_id, whatsapp.APP_SECRET, claim.app_secret_ref)
    if app_secret is None:
        return WebhookResult(503)
    if not meta.valid_signature(app_secret, raw_body, signature):
        log.warning("rejected a Meta webhook for a trainer's sender with a bad signature")
        return WebhookResult(403)
    # The trainer's app secret vouches for their own number only: events about any other
    # number, or reports naming another trainer's messages, are dropped.
    events = meta.parse_events(_only_number(raw_body, claim.address))
    applied = False
    for update in events.statuses:
        if update.status is None or not update.reference.startswith(claim.trainer_id + "."):
            continue
        error = meta.failure_text(update) if update.status == "failed" else None
        applied = _apply(repo, update, error, now) or applied
    for message in events.inbound:
        own.record(message, claim)
        applied = True
    return WebhookResult(200, applied)


def _phone_number_id(raw_body: bytes) -> str | None:
    """The first phone-number id the (not yet verified) body names, to pick the secret."""
    for value in _change_values(raw_body):
        metadata = value.get("metadata")
        number = metadata.get("phone_number_id") if isinstance(metadata, dict) else None
        if isinstance(number, str) and meta.PHONE_NUMBER_ID.match(number):
            return number
    return None


def _change_values(raw_body: bytes) -> list[dict[str, Any]]:
    try:
        payload = json.loads(raw_body)
    except (ValueError, RecursionError):
        return []
    found: list[dict[str, Any]] = []
    entries = payload.get("entry") if isinstance(payload, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        changes = entry.get("changes") if isinstance(entry, dict) else None
        for change in changes if isinstance(changes, list) else []:
            value = change.get("value") if isinstance(change, dict) else None
            if isinstance(value, dict):
                found.append(value)
    return found


def _only_number(raw_body: bytes, phone_number_id: str) -> bytes:
    """The (verified) body with only the changes about `phone_number_id`."""
    payload = json.loads(raw_body)
    for entry in payload.get("entry") or []:
        if isinstance(entry, dict) and isinstance(entry.get("changes"), list):
            entry["changes"] = [
                change
                for change in entry["changes"]
                if isinstance(change, dict)
                and isinstance(change.get("value"), dict)
                and isinstance(change["value"].get("metadata"), dict)
                and change["value"]["metadata"].get("phone_number_id") == phone_number_id
            ]
    return json.dumps(payload).encode("utf-8")


def _shared_meta_events(
    repo: Repository, raw_body: bytes, now: datetime, record: InboundSink | None
) -> WebhookResult:
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

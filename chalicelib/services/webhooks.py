"""Delivery-status webhooks from the WhatsApp provider (Twilio).

Twilio signs each callback with the account's auth token over the exact URL we gave it
plus the posted parameters. We rebuild that URL from our own configuration and the
message reference in it (never from request headers an attacker controls), so a forged,
altered or re-targeted callback fails the check. A valid callback can still be a replay
or arrive out of order; `Outbox.record_delivery` only ever moves a message forward.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from chalicelib.messaging import whatsapp
from chalicelib.repo.repository import Repository

log = logging.getLogger("pt_bookings.webhooks")

TWILIO_STATUS_PATH = "/webhooks/twilio/status"
_ID = r"[A-Za-z0-9_-]{1,64}"
_REF = re.compile(rf"^({_ID})\.([0-9]{{4}}-W[0-9]{{2}})\.({_ID})\.({_ID})$")


def status_callback_url(base: str, trainer_id: str, message_ref: str) -> str | None:
    """Where the provider reports delivery of a message (None: no public URL set). `base`
    is the stage's configured public URL, never one taken from a request."""
    if not base:
        return None
    return f"{base}{TWILIO_STATUS_PATH}?m={trainer_id}.{message_ref}"


@dataclass(frozen=True)
class WebhookResult:
    status: int  # HTTP status for the provider
    applied: bool = False


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
    delivery = whatsapp.TWILIO_STATUSES.get(params.get("MessageStatus", ""))
    if delivery is None:
        return WebhookResult(204)  # an in-between state (queued, sending): nothing to record
    error = None
    if delivery == "failed":
        code = params.get("ErrorCode", "")
        error = f"Twilio reported {params.get('MessageStatus')}" + (
            f" (error {code})" if code else ""
        )
    applied = repo.outbox.record_delivery(
        trainer_id,
        week,
        subject_id,
        message_id,
        delivery,
        now,
        provider_id=params.get("MessageSid") or None,
        error=error,
    )
    # 2xx either way: a stale or replayed report is not an error to retry.
    return WebhookResult(204, applied)

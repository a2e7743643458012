"""SES bounces and complaints, posted by SNS to `POST /webhooks/ses/events`.

The stage's SES configuration set publishes Bounce and Complaint events to one SNS topic
(infra/email.yaml), which posts them here. Every POST is checked by messaging/sns.py
before anything is read or written: the right topic, a timestamp within
TIMESTAMP_TOLERANCE, a certificate from SNS's own host, a valid signature. Anything else
is a 403, and a stage with no topic configured listens to nothing (404).

- A SubscriptionConfirmation is confirmed by GETting its SubscribeURL (SNS's host only).
- A Notification carrying an SES event: a permanent bounce or a complaint marks the
  outbox message it is about failed, in words, and the client's address bouncing
  (repo/bounces.py), so it is not mailed again until the trainer edits it. A transient
  bounce (a full mailbox, a server down) is only logged: SES itself retried it. The
  message is found by the tag its email was sent with (`messaging.email.MESSAGE_TAG`).
- The same event delivered twice changes nothing the second time: both writes are
  conditional on the state the first one leaves.

The tolerance is an hour: SNS retries a failed delivery within minutes, so a genuine
message is never that old, and a captured one stops working after it (within it, the
writes are idempotent anyway). Nothing logged here carries an address or a text.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from chalicelib.config import Config
from chalicelib.domain.messages import EMAIL, TRAINER_NOTIFICATION
from chalicelib.messaging import email as email_channel
from chalicelib.messaging import sns
from chalicelib.repo.bounces import EmailBounces
from chalicelib.repo.repository import Repository
from chalicelib.services.deps import Deps
from chalicelib.services.webhooks import WebhookResult

log = logging.getLogger("pt_bookings.email_events")

SES_EVENTS_PATH: Final = "/webhooks/ses/events"
TIMESTAMP_TOLERANCE: Final = timedelta(hours=1)

BOUNCED: Final = "The email bounced: the address does not exist"
COMPLAINED: Final = "The client marked the email as spam"

# The reference `webhooks.message_reference` makes: trainer, week, subject, message id.
_ID = r"[A-Za-z0-9_-]{1,64}"
_REFERENCE = re.compile(rf"({_ID})\.([0-9]{{4}}-W[0-9]{{2}})\.({_ID})\.({_ID})")

# One per container: SNS signs with a handful of certificates, each fetched once.
_CERTIFICATES = sns.CertificateCache()


@dataclass(frozen=True)
class SnsChecks:
    """What a POST is checked against, and how a subscription is confirmed."""

    topic_arn: str
    rule: sns.UrlRule
    certificates: sns.CertificateCache
    confirm: Callable[[str], bytes] = sns.http_get


# Which certificate and confirmation URLs are SNS's: tests replace it with their local
# server's, the only thing they loosen.
url_rule_for: Callable[[str], sns.UrlRule] = sns.UrlRule.for_topic


def checks_for(config: Config) -> SnsChecks | None:
    """The stage's checks (None: no topic configured, nothing listens)."""
    topic = config.ses_events_topic_arn
    if not topic or not sns.topic_region(topic):
        return None
    return SnsChecks(topic, url_rule_for(topic), _CERTIFICATES)


def ses_events_report(deps: Deps, raw_body: bytes) -> WebhookResult:
    """The route's one call."""
    return ses_events(deps.repo, raw_body, deps.now, checks_for(deps.config))


@dataclass(frozen=True)
class SesEvent:
    kind: str  # "bounce", "transient bounce", "complaint" or "other"
    reference: str | None  # the outbox message's reference, from the email's tag


def ses_events(
    repo: Repository, raw_body: bytes, now: datetime, checks: SnsChecks | None
) -> WebhookResult:
    if checks is None:
        return WebhookResult(404)
    try:
        message = sns.verify(
            sns.parse(raw_body),
            topic_arn=checks.topic_arn,
            now=now,
            tolerance=TIMESTAMP_TOLERANCE,
            rule=checks.rule,
            certificates=checks.certificates,
        )
    except sns.Refused as exc:
        log.warning("refused an SNS post: %s", exc)
        return WebhookResult(403)
    except sns.Unavailable as exc:
        log.error("an SNS post could not be checked: %s", exc)
        return WebhookResult(503)
    if message.type == sns.SUBSCRIPTION_CONFIRMATION:
        return _confirm(message, checks)
    if message.type != sns.NOTIFICATION:
        log.info("SNS %s for the SES events topic", message.type)
        return WebhookResult(200)
    event = ses_event(message.message)
    if event.kind == "transient bounce":
        log.info("a transient bounce (SES retried it), message %s", event.reference)
        return WebhookResult(200)
    if event.kind not in ("bounce", "complaint"):
        return WebhookResult(200)
    words = BOUNCED if event.kind == "bounce" else COMPLAINED
    return WebhookResult(200, _apply(repo, event, words, now))


def _confirm(message: sns.SnsMessage, checks: SnsChecks) -> WebhookResult:
    try:
        sns.confirm_subscription(message.subscribe_url, checks.rule, checks.confirm)
    except sns.Refused as exc:
        log.warning("refused an SNS subscription confirmation: %s", exc)
        return WebhookResult(403)
    except sns.Unavailable as exc:
        log.error("could not confirm the SNS subscription: %s", exc)
        return WebhookResult(503)
    log.info("confirmed the SNS subscription of %s", message.topic_arn)
    return WebhookResult(200, applied=True)


def ses_event(text: str) -> SesEvent:
    """What an SES event record (the Notification's Message) says, as far as we act on
    it. Event publishing names its type `eventType`; identity notifications
    `notificationType` (and carry no tags, so they find no message)."""
    try:
        record = json.loads(text)
    except (ValueError, RecursionError):
        return SesEvent("other", None)
    if not isinstance(record, dict):
        return SesEvent("other", None)
    kind = record.get("eventType") or record.get("notificationType")
    reference = _reference(record.get("mail"))
    if kind == "Bounce":
        bounce = _object(record.get("bounce"))
        permanent = bounce.get("bounceType") == "Permanent"
        return SesEvent("bounce" if permanent else "transient bounce", reference)
    if kind == "Complaint":
        # "not-spam": the mailbox provider withdraws a spam verdict; nothing to mark.
        if _object(record.get("complaint")).get("complaintFeedbackType") == "not-spam":
            return SesEvent("other", reference)
        return SesEvent("complaint", reference)
    return SesEvent("other", reference)


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _reference(mail: Any) -> str | None:
    values = _object(_object(mail).get("tags")).get(email_channel.MESSAGE_TAG)
    if not isinstance(values, list) or not values or not isinstance(values[0], str):
        return None
    return email_channel.reference_from_tag(values[0])


def _apply(repo: Repository, event: SesEvent, words: str, now: datetime) -> bool:
    """The message failed and its client's address bouncing; False when neither moved
    (a replay, or an email that is not one of our messages)."""
    match = _REFERENCE.fullmatch(event.reference or "")
    if not match:
        log.warning("an SES %s without a message reference", event.kind)
        return False
    trainer_id, week, subject_id, message_id = match.groups()
    bounces = EmailBounces(repo.db)
    failed, message = bounces.fail_message(trainer_id, week, subject_id, message_id, words, now)
    if message is None:
        log.warning("an SES %s for an unknown message %s", event.kind, event.reference)
        return False
    marked = False
    # The trainer's own notification bounced: their address is theirs to fix (in
    # Settings), never their client's.
    if message.channel == EMAIL and message.kind != TRAINER_NOTIFICATION and message.client_id:
        marked = bounces.mark_client_bouncing(trainer_id, message.client_id, message.to)
    log.info(
        "SES %s: message %s %s, client %s",
        event.kind,
        event.reference,
        "failed" if failed else "unchanged",
        "marked" if marked else "unchanged",
    )
    return failed or marked

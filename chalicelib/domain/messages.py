"""Outgoing messages (DESIGN.md §5): an outbox item first, sent later by the dispatcher.

A message lives next to what it is about (a session's week partition, beside its change
log), so the session page reads it with its log in one Query. Its life:

    queued -> sending -> sent -> delivered -> read
                    \\-> queued again (a retryable error, after a backoff)
                    \\-> failed (a permanent error, the retry cap, or an interrupted send)

Delivery reports from the provider only ever move a message forward (`DELIVERY_FROM`):
a replayed or late report can never roll it back.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.message_kinds import TEMPLATE_KINDS as TEMPLATE_KINDS
from chalicelib.domain.message_kinds import TRAINER_NOTIFICATION
from chalicelib.domain.schedule import Session
from chalicelib.domain.settings import PaymentDetails

WHATSAPP: Final = "whatsapp"
EMAIL: Final = "email"

KINDS: Final = {
    "invoice": "Invoice",
    "confirmation": "Confirmation",
    "offer": "Last-minute offer",
    "portal_link": "Portal link",
    "cancel_notice": "Cancellation notice",
    "move_notice": "Move notice",
    "reminder": "Reminder",
    "canceled": "Cancellation receipt",
    "pack_renewal": "Pack renewal",
    TRAINER_NOTIFICATION: "Notification to you",
    "reply": "Your reply",
}

STATUS_LABELS: Final = {
    "queued": "Queued",
    "sending": "Sending",
    "sent": "Sent",
    "delivered": "Delivered",
    "read": "Read",
    "failed": "Failed",
    # Never sent, on purpose: what it was about is gone (a reminder's session canceled or
    # moved after it was queued). Not a failure for the trainer to act on.
    "skipped": "Not sent",
}

# Which states a delivery report may move a message from. `sending` is allowed because
# a fast provider can report before the dispatcher has recorded its own success.
DELIVERY_FROM: Final[dict[str, tuple[str, ...]]] = {
    "sent": ("sending",),
    "delivered": ("sending", "sent"),
    "read": ("sending", "sent", "delivered"),
    "failed": ("sending", "sent"),
}

MAX_ATTEMPTS: Final = 5
FIRST_BACKOFF: Final = timedelta(minutes=1)
MAX_BACKOFF: Final = timedelta(hours=1)
# How long a claimed message may stay "sending" before the dispatcher treats the run that
# claimed it as dead. Far longer than a Lambda run can last.
SENDING_LEASE: Final = timedelta(minutes=10)

# How long a sent WhatsApp message may wait for its delivery report. Providers report
# within seconds to minutes; after a day, a report that never came (a callback URL the
# provider could not reach, a lost webhook) is the likelier story than a slow phone, and
# "Sent" forever would claim a certainty we do not have.
DELIVERY_REPORT_WAIT: Final = timedelta(hours=24)
NO_DELIVERY_REPORT: Final = "No delivery report"

INTERRUPTED: Final = (
    "The send was interrupted and may or may not have reached the client. "
    "Check with them before sending again."
)


LINK_PLACEHOLDER: Final = "⟦link⟧"


class LinkRef(BaseModel):
    """Which client link a message's text carries, so the link is made again from the
    stage's secret when the message is sent or shown: a capability link's token is never
    stored in the table, only its hash (the text holds LINK_PLACEHOLDER instead)."""

    model_config = ConfigDict(frozen=True)

    kind: str  # "session" (/s/), "portal" (/c/) or "offer" (/o/)
    base: str  # the absolute base URL it was made for, stage prefix included
    trainer_id: str
    client_id: str
    generation: int = 1
    target_id: str = ""  # the session's id, or the offer's


class Message(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    week: str  # the subject's trainer-week partition
    subject_id: str  # the session it is about
    subject_ref: str  # the session's URL id, for links
    client_id: str
    client_name: str
    kind: str
    channel: str  # whatsapp or email
    to: str  # E.164 phone or email address
    subject: str = ""  # email subject line
    # An email's display name (the trainer's business name for a client's email; empty:
    # the product's) and where replies go (the trainer's own address; empty: nowhere).
    from_name: str = ""
    reply_to: str = ""
    text: str  # with LINK_PLACEHOLDER where `link` goes
    link: LinkRef | None = None
    # Outside the client's 24-hour window WhatsApp takes only an approved template: its
    # variables by name (messaging.templates.variables_for), the link aside (made again
    # when sent, like the text's). Empty: a message queued without them, free-form only.
    variables: dict[str, str] = Field(default_factory=dict)
    # Which template carries it, when not the one named like its kind (a program's
    # confirmation is a "confirmation" with its own template).
    template: str = ""
    status: str = "queued"
    attempts: int = 0
    provider: str | None = None
    provider_id: str | None = None
    error: str | None = None
    created_at: datetime
    # When the provider took it (the outbox's last update while the status is "sent").
    sent_at: datetime | None = None
    next_attempt_at: datetime | None = None

    @property
    def at(self) -> datetime:
        return self.created_at

    @property
    def is_message(self) -> bool:
        return True

    @property
    def kind_label(self) -> str:
        return KINDS.get(self.kind, self.kind.title())

    @property
    def status_label(self) -> str:
        if self.status == "sent" and self.provider == "log":
            # The log provider only printed it: the client has it once the trainer sends
            # it from their phone.
            return "Logged"
        return STATUS_LABELS.get(self.status, self.status.title())

    def delivery_label(self, now: datetime) -> str:
        """The status as the trainer reads it at `now`: a WhatsApp message still "sent"
        more than DELIVERY_REPORT_WAIT after it was queued never had its report.

        Timed from when it was sent (`sent_at`), else from when it was queued."""
        if (
            self.status == "sent"
            and self.channel == WHATSAPP
            and self.provider != "log"
            and now - (self.sent_at or self.created_at) > DELIVERY_REPORT_WAIT
        ):
            return NO_DELIVERY_REPORT
        return self.status_label

    @property
    def retrying(self) -> bool:
        return self.status == "queued" and self.attempts > 0

    @property
    def subject_path(self) -> str:
        """The trainer's page for what the message is about."""
        if self.kind == "offer":
            return f"/dashboard/schedule/{self.week}/slots/{self.subject_id}"
        if self.kind == "portal_link":  # about the client, not a session
            return f"/dashboard/clients/{self.client_id}"
        if self.kind == "reply":  # part of a conversation
            return f"/dashboard/whatsapp/{self.client_id}"
        return f"/dashboard/sessions/{self.subject_ref}"

    @property
    def template_kind(self) -> str:
        return self.template or self.kind

    @property
    def ref(self) -> str:
        """Locates the item (for webhooks): week, subject and message id."""
        return f"{self.week}.{self.subject_id}.{self.id}"


def backoff(attempts: int) -> timedelta:
    """Wait before attempt `attempts + 1`: 1, 4, 16 minutes... capped at an hour."""
    return min(FIRST_BACKOFF * 4 ** max(0, attempts - 1), MAX_BACKOFF)


def after_failure(attempts: int, retryable: bool, now: datetime) -> datetime | None:
    """When to try again after a failed attempt, or None when the message has failed."""
    if not retryable or attempts >= MAX_ATTEMPTS:
        return None
    return now + backoff(attempts)


def invoice_problem(
    session: Session, price_minor: int | None, payment: PaymentDetails
) -> dict[str, str] | None:
    """Why an invoice cannot be sent for this session, field by field, or None."""
    if not session.is_live:
        return {"invoice": f"A {session.status} session cannot be invoiced."}
    if price_minor is None:
        return {
            "invoice": f"{session.client_name} has no session price yet: set it on their profile."
        }
    if not payment.complete:
        return {
            "invoice": f"Your payment details are incomplete: add the {payment.missing_text} "
            "in Settings."
        }
    return None


def confirmation_problem(session: Session, now: datetime) -> dict[str, str] | None:
    if not session.is_live:
        return {"confirmation": f"A {session.status} session cannot be confirmed."}
    if session.start_utc <= now:
        return {"confirmation": "This session has started: there is nothing to confirm."}
    return None


def require_none(problem: dict[str, str] | None) -> None:
    if problem:
        raise InvalidInput(problem)

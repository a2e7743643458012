"""What a WhatsApp provider is handed, and what its webhooks are read into.

Provider-neutral on purpose: the dispatcher, the webhooks and (later) the conversation
tab deal in these types only, whichever provider (Twilio, Meta) the stage uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final, Protocol

from chalicelib.messaging.delivery import SendResult


@dataclass(frozen=True)
class TemplateSend:
    """An approved template to send instead of free-form text (outside the client's
    24-hour window WhatsApp delivers nothing else)."""

    kind: str  # the template's kind (templates.SPECS), for logs
    parameters: tuple[str, ...]  # {{1}}, {{2}}, … in order, already made safe
    content_sid: str | None = None  # Twilio's Content SID (HX…)
    name: str | None = None  # Meta's template name
    language: str | None = None  # Meta's language code, e.g. en_GB


@dataclass(frozen=True)
class OutgoingWhatsApp:
    to: str  # E.164, e.g. "+447400123456"
    text: str  # the whole message, client link included: the free-form body
    # Absolute URL Twilio posts delivery-status updates to, or None for no updates.
    status_callback: str | None = None
    # Set: send this template, not `text` (which stays for logs and the wa.me fallback).
    template: TemplateSend | None = None
    # Ours, never the client's: what a deployed log line may show, and what Meta hands
    # back in its status webhooks (biz_opaque_callback_data) to find the message again.
    message_id: str = ""
    kind: str = ""
    reference: str = ""


class Provider(Protocol):
    name: str

    def send(self, message: OutgoingWhatsApp) -> SendResult: ...


@dataclass(frozen=True)
class Inbound:
    """A message a client sent to one of our WhatsApp senders."""

    provider: str
    from_e164: str  # the client's number, "+447400123456"
    to: str  # our sender: the Twilio number (E.164) or Meta's phone-number id
    text: str  # what they wrote ("" for media without a caption)
    provider_message_id: str  # unique per message: what makes a replayed webhook harmless
    received_at: datetime
    kind: str = "text"  # WhatsApp's message type: text, button, image, …
    # The provider's id of our message the client answered (swipe-to-reply, or a
    # template's button), "" when they just wrote.
    replied_to: str = ""


@dataclass(frozen=True)
class StatusUpdate:
    """A delivery report for a message we sent."""

    provider: str
    provider_message_id: str
    status: str | None  # "sent", "delivered", "read", "failed"; None: nothing to record
    error_code: str | None
    error_title: str | None
    at: datetime
    reference: str = ""  # OutgoingWhatsApp.reference as sent ("" when the provider has none)


WINDOW_CLOSED: Final = "outside the 24-hour window: send the template, or send from your phone"

# Provider error codes the trainer can act on, in words. Keyed by (provider, code).
_ERROR_WORDS: Final[dict[tuple[str, str], str]] = {
    ("twilio", "63016"): WINDOW_CLOSED,
    ("meta", "131047"): WINDOW_CLOSED,
    ("twilio", "63003"): "this number cannot receive WhatsApp messages",
    ("twilio", "63024"): "this number cannot receive WhatsApp messages",
    ("meta", "131026"): "this number cannot receive WhatsApp messages (not on WhatsApp, "
    "or an old app)",
    ("twilio", "21211"): "the phone number is not valid: check it on the client's profile",
    ("meta", "131056"): "too many messages to this client just now",
    ("twilio", "63018"): "WhatsApp's sending limit was reached",
    ("meta", "130429"): "WhatsApp's sending limit was reached",
    ("meta", "190"): "the WhatsApp access token has expired",
    ("meta", "132001"): "the WhatsApp template is not approved yet (or has another name)",
    ("twilio", "63027"): "the WhatsApp template is not approved yet (or has another name)",
}


def error_words(provider: str, code: object) -> str | None:
    """What a provider's error code means for the trainer, or None if we do not know."""
    return _ERROR_WORDS.get((provider, str(code)))

"""Meta's WhatsApp Cloud API: the Graph API to send, and its webhook.

Send: `POST <base>/<version>/<phone-number-id>/messages` with a Bearer token and a JSON
body, `type: "text"` inside the client's 24-hour window and `type: "template"` outside
it. Each send carries our message reference in `biz_opaque_callback_data`, which Meta
hands back in its status webhooks: that is how a report finds its message.

Webhook: one URL for the whole app. A GET is the subscription handshake (our verify
token, answered with Meta's challenge); every POST is signed with the app secret
(`X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`) and holds inbound
messages and status updates, read here into the neutral types of `payloads`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from chalicelib.messaging import http_post
from chalicelib.messaging.delivery import SEND_TIMEOUT_SECONDS, SendError, SendResult
from chalicelib.messaging.payloads import Inbound, OutgoingWhatsApp, StatusUpdate, error_words

DEFAULT_API_BASE: Final = "https://graph.facebook.com"
# Graph versions live about two years; a stage pins its own with META_GRAPH_VERSION.
DEFAULT_GRAPH_VERSION: Final = "v23.0"
GRAPH_VERSION: Final = re.compile(r"^v[0-9]{1,3}\.[0-9]{1,2}$")
PHONE_NUMBER_ID: Final = re.compile(r"^[0-9]{1,32}$")

# Graph error codes (developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes).
# About the whole account or app, whatever the message: pause Meta for the run, and retry
# the message later rather than failing it (an operator can renew a token).
_PROVIDER_DOWN: Final = frozenset(
    {
        0,  # AuthException
        3,  # capability or permission
        4,  # too many API calls
        10,  # permission denied
        190,  # access token expired
        368,  # temporarily blocked for policy violations
        80007,  # rate limit issues
        130429,  # throughput rate limit
        131031,  # account locked
        131042,  # business payment issue
        131048,  # spam rate limit
        131057,  # account in maintenance mode
    }
)
# Meta having trouble, or this client getting too many messages right now.
_RETRYABLE: Final = frozenset(
    {
        1,  # API unknown
        2,  # API service
        131000,  # something went wrong
        131016,  # service unavailable
        131056,  # pair rate limit: too many messages to this number
        135000,  # generic user error
    }
)
_STATUSES: Final[dict[str, str | None]] = {
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "failed": "failed",
}
_DIGITS: Final = re.compile(r"^[1-9][0-9]{5,14}$")
_MAX_INBOUND_CHARS: Final = 4096
# Meta's challenge is a number; anything else is echoed by nobody.
_CHALLENGE: Final = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
# A WhatsApp message id: "wamid." and base64.
_WAMID: Final = re.compile(r"^wamid\.[A-Za-z0-9+/=_-]{1,250}$")


class MetaProvider:
    name = "meta"

    def __init__(
        self,
        phone_number_id: str,
        access_token: str,
        graph_version: str = DEFAULT_GRAPH_VERSION,
        api_base: str = DEFAULT_API_BASE,
        timeout: float = SEND_TIMEOUT_SECONDS,
    ) -> None:
        self.phone_number_id = phone_number_id
        self._access_token = access_token
        self.graph_version = graph_version
        self.api_base = api_base.rstrip("/")
        self.timeout = timeout

    @property
    def url(self) -> str:
        number = urllib.parse.quote(self.phone_number_id, safe="")
        return f"{self.api_base}/{self.graph_version}/{number}/messages"

    def payload(self, message: OutgoingWhatsApp) -> dict[str, Any]:
        """The Graph API body for this message."""
        body: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": message.to,
        }
        template = message.template
        if template is None:
            # No preview: WhatsApp would fetch the client's capability link to draw it.
            body["type"] = "text"
            body["text"] = {"preview_url": False, "body": message.text}
        else:
            if not template.name or not template.language:
                raise SendError(
                    f"No Meta template name and language for the {template.kind} template.",
                    retryable=False,
                )
            body["type"] = "template"
            body["template"] = {
                "name": template.name,
                "language": {"code": template.language},
                "components": [
                    {
                        "type": "body",
                        "parameters": [{"type": "text", "text": p} for p in template.parameters],
                    }
                ],
            }
        if message.reference:
            body["biz_opaque_callback_data"] = message.reference
        return body

    def send(self, message: OutgoingWhatsApp) -> SendResult:
        answer = http_post.post(
            self.url,
            json.dumps(self.payload(message), ensure_ascii=False).encode("utf-8"),
            {
                "Authorization": f"Bearer {self._access_token}",
                "Content-Type": "application/json",
                "Accept": "application/json",
                "User-Agent": "pt-bookings",
            },
            self.timeout,
            "Meta",
        )
        if isinstance(answer, http_post.Refused):
            raise refusal(answer)
        messages = http_post.json_object(answer).get("messages")
        first = messages[0] if isinstance(messages, list) and messages else None
        wamid = first.get("id") if isinstance(first, dict) else None
        if not isinstance(wamid, str) or not wamid:
            # 2xx: the message may be on its way, so never retried (a duplicate is worse).
            raise SendError(
                "Meta accepted the message but its reply had no message id.", retryable=False
            )
        return SendResult("meta", wamid)


def refusal(answer: http_post.Refused) -> SendError:
    """A Graph API error as a SendError: Meta's code and words, retryable or not."""
    error = http_post.json_object(answer.body).get("error")
    error = error if isinstance(error, dict) else {}
    code = error.get("code")
    code = code if isinstance(code, int) and not isinstance(code, bool) else None
    text = http_post.one_line(error.get("message"))
    data = error.get("error_data")
    details = http_post.one_line(data.get("details")) if isinstance(data, dict) else ""
    if code is None:
        summary = f"Meta HTTP {answer.status}: {text or answer.reason}"
    else:
        summary = f"Meta {code}: {text or answer.reason}"
    if details and details not in summary:
        summary += f" ({details})"
    words = error_words("meta", code)
    if words:
        summary += f": {words}"
    busy = answer.status == 429 or answer.status >= 500
    provider_down = code in _PROVIDER_DOWN or (code is None and answer.status == 429)
    return SendError(
        summary[: http_post.MAX_ERROR_CHARS],
        retryable=provider_down or code in _RETRYABLE or (code is None and busy),
        code=str(code) if code is not None else None,
        provider_down=provider_down,
    )


# --- Webhook --------------------------------------------------------------------------------


def verify_challenge(params: Mapping[str, str], verify_token: str) -> str | None:
    """The challenge to answer a subscription handshake with, or None to refuse it."""
    if params.get("hub.mode") != "subscribe" or not verify_token:
        return None
    given = params.get("hub.verify_token") or ""
    challenge = params.get("hub.challenge") or ""
    try:
        # Constant time, so the token cannot be guessed character by character.
        matches = hmac.compare_digest(verify_token.encode("utf-8"), given.encode("utf-8"))
    except (TypeError, ValueError):  # an unencodable surrogate in a forged query
        return None
    if not matches or not _CHALLENGE.match(challenge):
        return None
    return challenge


def signature(app_secret: str, raw_body: bytes) -> str:
    """The X-Hub-Signature-256 header Meta sends with `raw_body`."""
    digest = hmac.new(app_secret.encode("utf-8"), raw_body, hashlib.sha256).hexdigest()
    return "sha256=" + digest


def valid_signature(app_secret: str, raw_body: bytes, header: str) -> bool:
    if not app_secret or not header or not header.startswith("sha256="):
        return False
    try:
        expected = signature(app_secret, raw_body).encode("ascii")
        return hmac.compare_digest(expected, header.strip().lower().encode("utf-8"))
    except (TypeError, ValueError):
        return False


@dataclass(frozen=True)
class Events:
    inbound: list[Inbound] = field(default_factory=list)
    statuses: list[StatusUpdate] = field(default_factory=list)


def parse_events(raw_body: bytes) -> Events:
    """Inbound messages and status updates from a (verified) webhook body. Anything of a
    shape we do not know is skipped, never guessed at: Meta adds fields and types."""
    payload = http_post.json_object(raw_body)
    events = Events()
    if payload.get("object") != "whatsapp_business_account":
        return events
    for value in _change_values(payload):
        metadata = value.get("metadata")
        our_number = metadata.get("phone_number_id") if isinstance(metadata, dict) else None
        for item in _dicts(value.get("messages")):
            found = _inbound(item, our_number if isinstance(our_number, str) else "")
            if found is not None:
                events.inbound.append(found)
        for item in _dicts(value.get("statuses")):
            update = _status(item)
            if update is not None:
                events.statuses.append(update)
    return events


def failure_text(update: StatusUpdate) -> str:
    """What the trainer reads on a message Meta reported failed."""
    text = "WhatsApp reported failed"
    if update.error_code:
        title = f": {update.error_title}" if update.error_title else ""
        text += f" (error {update.error_code}{title})"
        words = error_words("meta", update.error_code)
        if words:
            text += f": {words}"
    return text[: http_post.MAX_ERROR_CHARS]


def _change_values(payload: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for entry in _dicts(payload.get("entry")):
        for change in _dicts(entry.get("changes")):
            value = change.get("value")
            if change.get("field") == "messages" and isinstance(value, dict):
                yield value


def _dicts(items: object) -> Iterator[Mapping[str, Any]]:
    if isinstance(items, list):
        yield from (item for item in items if isinstance(item, dict))


def _instant(raw: object) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(str(raw)), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _inbound(item: Mapping[str, Any], our_number: str) -> Inbound | None:
    sender, message_id = item.get("from"), item.get("id")
    received = _instant(item.get("timestamp"))
    if not isinstance(sender, str) or not _DIGITS.match(sender):
        return None
    if not isinstance(message_id, str) or not message_id or received is None:
        return None
    kind = item.get("type") if isinstance(item.get("type"), str) else "unknown"
    return Inbound(
        provider="meta",
        from_e164="+" + sender,
        to=our_number,
        text=_text_of(item, kind)[:_MAX_INBOUND_CHARS],
        provider_message_id=message_id,
        received_at=received,
        kind=kind,
        replied_to=_replied_to(item),
    )


def _replied_to(item: Mapping[str, Any]) -> str:
    """`context.id`: the wamid of our message the client swiped to reply to (or whose
    button they tapped). Kept only when it looks like one: it is shown, never trusted."""
    context = item.get("context")
    found = context.get("id") if isinstance(context, dict) else None
    return found if isinstance(found, str) and _WAMID.match(found) else ""


def _text_of(item: Mapping[str, Any], kind: str) -> str:
    """The words of an inbound message: its text, a tapped button's label, a caption."""
    part = item.get(kind)
    part = part if isinstance(part, dict) else {}
    if kind == "text":
        found = part.get("body")
    elif kind == "button":
        found = part.get("text")
    elif kind == "interactive":
        reply = part.get("button_reply") or part.get("list_reply")
        found = reply.get("title") if isinstance(reply, dict) else None
    else:
        found = part.get("caption")
    return found if isinstance(found, str) else ""


def _status(item: Mapping[str, Any]) -> StatusUpdate | None:
    message_id, raw = item.get("id"), item.get("status")
    at = _instant(item.get("timestamp"))
    if not isinstance(message_id, str) or not message_id or not isinstance(raw, str):
        return None
    if at is None:
        return None
    errors = list(_dicts(item.get("errors")))
    code = errors[0].get("code") if errors else None
    title = errors[0].get("title") if errors else None
    reference = item.get("biz_opaque_callback_data")
    return StatusUpdate(
        provider="meta",
        provider_message_id=message_id,
        status=_STATUSES.get(raw),
        error_code=str(code) if isinstance(code, int | str) and code != "" else None,
        error_title=http_post.one_line(title) or None,
        at=at,
        reference=reference if isinstance(reference, str) else "",
    )

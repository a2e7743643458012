"""Twilio's WhatsApp: the Messages API to send, and its webhooks (delivery reports and
inbound messages), both signed with the account's auth token.

Free-form text goes in `Body`; a template goes as `ContentSid` + `ContentVariables` (a
JSON object keyed "1", "2", …), never in `Body`: since April 2025 Twilio refuses a
template sent as text outside the client's 24-hour window (error 63016).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import urllib.parse
from collections.abc import Mapping
from datetime import datetime
from typing import Final

from chalicelib.messaging import http_post
from chalicelib.messaging.delivery import SEND_TIMEOUT_SECONDS, SendError, SendResult
from chalicelib.messaging.payloads import Inbound, OutgoingWhatsApp, StatusUpdate, error_words

DEFAULT_API_BASE: Final = "https://api.twilio.com"
WHATSAPP_PREFIX: Final = "whatsapp:"

# Twilio MessageStatus -> the delivery status we record. None: an intermediate state
# that tells the trainer nothing new, so the webhook ignores it.
STATUSES: Final[dict[str, str | None]] = {
    "queued": None,
    "accepted": None,
    "scheduled": None,
    "sending": None,
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "failed": "failed",
    "undelivered": "failed",
    "canceled": "failed",
}

# Twilio says "too busy" with these whatever the message: pause it for the run.
_ACCOUNT_THROTTLED: Final = frozenset({20429, 63018})
_E164: Final = re.compile(r"^\+[1-9][0-9]{5,14}$")
_MAX_INBOUND_CHARS: Final = 4096
# A Twilio message SID: SM (text) or MM (media), then 32 hex digits.
_MESSAGE_SID: Final = re.compile(r"^(SM|MM)[0-9a-f]{32}$")


class TwilioProvider:
    name = "twilio"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_number: str,
        api_base: str = DEFAULT_API_BASE,
        timeout: float = SEND_TIMEOUT_SECONDS,
    ) -> None:
        self.account_sid = account_sid
        self._auth_token = auth_token
        self.from_number = from_number
        self.api_base = api_base.rstrip("/")
        self.timeout = timeout

    def form(self, message: OutgoingWhatsApp) -> dict[str, str]:
        """The Messages API form for this message."""
        fields = {"From": WHATSAPP_PREFIX + self.from_number, "To": WHATSAPP_PREFIX + message.to}
        if message.template is None:
            fields["Body"] = message.text
        else:
            if not message.template.content_sid:
                raise SendError(
                    f"No Twilio Content SID for the {message.template.kind} template.",
                    retryable=False,
                )
            fields["ContentSid"] = message.template.content_sid
            fields["ContentVariables"] = content_variables(message.template.parameters)
        if message.status_callback:
            fields["StatusCallback"] = message.status_callback
        return fields

    def send(self, message: OutgoingWhatsApp) -> SendResult:
        # Quoted so an odd SID in the configuration cannot reach another API path.
        sid = urllib.parse.quote(self.account_sid, safe="")
        credentials = f"{self.account_sid}:{self._auth_token}".encode()
        answer = http_post.post(
            f"{self.api_base}/2010-04-01/Accounts/{sid}/Messages.json",
            urllib.parse.urlencode(self.form(message)).encode("ascii"),
            {
                "Authorization": "Basic " + base64.b64encode(credentials).decode("ascii"),
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
                "User-Agent": "pt-bookings",
            },
            self.timeout,
            "Twilio",
        )
        if isinstance(answer, http_post.Refused):
            raise refusal(answer)
        sid_sent = http_post.json_object(answer).get("sid")
        if not isinstance(sid_sent, str) or not sid_sent:
            # Twilio said 2xx, so the message may well be on its way; retrying could
            # deliver it twice, which is worse than asking the trainer to check.
            raise SendError(
                "Twilio accepted the message but its reply had no message SID.",
                retryable=False,
            )
        return SendResult("twilio", sid_sent)


def content_variables(parameters: tuple[str, ...]) -> str:
    """ContentVariables: {"1": first, "2": second, …} as a JSON string."""
    return json.dumps(
        {str(position): value for position, value in enumerate(parameters, start=1)},
        ensure_ascii=False,
        separators=(",", ":"),
    )


def refusal(answer: http_post.Refused) -> SendError:
    status = answer.status
    # 429 and 5xx are Twilio (or something in front of it) being busy or broken; any
    # other status is about this request and will fail the same way next time.
    retryable = status == 429 or status >= 500
    details = http_post.json_object(answer.body)
    code = details.get("code")
    text = http_post.one_line(details.get("message"))
    if code is not None and text:
        summary = f"Twilio {code}: {text}"
    elif text:
        summary = f"Twilio HTTP {status}: {text}"
    else:
        # Not Twilio's JSON (a gateway page, an empty body): the status is all we trust.
        summary = f"Twilio HTTP {status}: {answer.reason}"
    return SendError(
        summary[: http_post.MAX_ERROR_CHARS],
        retryable=retryable,
        code=str(code) if code is not None else None,
        provider_down=status == 429 or code in _ACCOUNT_THROTTLED,
    )


# --- Webhooks -------------------------------------------------------------------------------


def signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """Twilio's X-Twilio-Signature for a form-encoded webhook POST to `url`."""
    payload = url + "".join(key + params[key] for key in sorted(params))
    digest = hmac.new(auth_token.encode("utf-8"), payload.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(digest.digest()).decode("ascii")


def valid_signature(auth_token: str, url: str, params: Mapping[str, str], given: str) -> bool:
    if not given:
        return False
    try:
        expected = signature(auth_token, url, params)
        # Bytes, because compare_digest refuses non-ASCII str, and a forged header may
        # hold anything; constant time so the signature cannot be guessed byte by byte.
        return hmac.compare_digest(expected.encode("ascii"), given.encode("utf-8"))
    except (TypeError, ValueError):  # non-str values, unencodable surrogates
        return False


def status_update(params: Mapping[str, str], reference: str, now: datetime) -> StatusUpdate:
    """A status callback's form as a neutral report (Twilio's form carries no time)."""
    raw = params.get("MessageStatus", "")
    code = params.get("ErrorCode") or None
    return StatusUpdate(
        provider="twilio",
        provider_message_id=params.get("MessageSid", ""),
        status=STATUSES.get(raw),
        error_code=code,
        error_title=f"Twilio reported {raw}" if STATUSES.get(raw) == "failed" else None,
        at=now,
        reference=reference,
    )


def failure_text(update: StatusUpdate) -> str:
    """What the trainer reads on a message Twilio reported failed."""
    text = update.error_title or "Twilio reported a failure"
    if update.error_code:
        text += f" (error {update.error_code})"
        words = error_words("twilio", update.error_code)
        if words:
            text += f": {words}"
    return text


def inbound(params: Mapping[str, str], now: datetime) -> Inbound | None:
    """An incoming-message webhook's form, or None if it is not a WhatsApp message from a
    number we can read (Twilio's form carries no time: `now` is when it arrived)."""
    sender = (params.get("From") or "").strip()
    if not sender.startswith(WHATSAPP_PREFIX):
        return None
    from_e164 = sender.removeprefix(WHATSAPP_PREFIX)
    message_id = (params.get("MessageSid") or "").strip()
    if not _E164.match(from_e164) or not message_id:
        return None
    try:
        media = int(params.get("NumMedia") or "0")
    except ValueError:
        media = 0
    return Inbound(
        provider="twilio",
        from_e164=from_e164,
        to=(params.get("To") or "").strip().removeprefix(WHATSAPP_PREFIX),
        text=(params.get("Body") or "")[:_MAX_INBOUND_CHARS],
        provider_message_id=message_id,
        received_at=now,
        kind="media" if media > 0 else "text",
        replied_to=_message_sid(params.get("OriginalRepliedMessageSid")),
    )


def _message_sid(value: str | None) -> str:
    """A replied-to SID as Twilio sends it, or "" (shown, never trusted)."""
    value = (value or "").strip()
    return value if _MESSAGE_SID.match(value) else ""

"""WhatsApp delivery: printed to the console locally, Twilio's Messages API when deployed.

Plain urllib rather than the Twilio SDK: one POST does not justify a dependency (and its
import time) in every Lambda cold start. Providers never raise anything but SendError
from send(), so the outbox dispatcher can decide between retrying and giving up from
`retryable` alone.

Secrets are read through a `SecretReader` handed in (by the caller, or once by the
composition root through `configure`): messaging never imports runtime, which imports
messaging.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import os
import secrets
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Protocol

# Re-exported: every channel (WhatsApp, email) shares these.
from chalicelib.messaging.delivery import SendError as SendError
from chalicelib.messaging.delivery import SendResult as SendResult

DEFAULT_TWILIO_API_BASE = "https://api.twilio.com"

# Twilio's messages are a sentence or two; the cap only guards the trainer's screen
# against a proxy that answers with a whole page.
_MAX_ERROR_CHARS = 300


@dataclass(frozen=True)
class OutgoingWhatsApp:
    to: str  # E.164, e.g. "+447400123456"
    text: str
    # Absolute URL Twilio posts delivery-status updates to, or None for no updates.
    status_callback: str | None = None


class Provider(Protocol):
    name: str

    def send(self, message: OutgoingWhatsApp) -> SendResult: ...


# Twilio MessageStatus -> the delivery status we record. None: an intermediate state
# that tells the trainer nothing new, so the webhook ignores it.
TWILIO_STATUSES: dict[str, str | None] = {
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


def wa_me_link(e164: str, text: str) -> str:
    """A click-to-chat link that opens WhatsApp with `text` ready to send to `e164`."""
    # wa.me wants the bare international number: no "+", spaces or dashes. ASCII digits
    # only, since str.isdigit() would also keep characters like "²".
    digits = "".join(ch for ch in e164 if ch in "0123456789")
    return f"https://wa.me/{digits}?text={urllib.parse.quote(text, safe='')}"


class LogProvider:
    """Local and test stages: nothing leaves the machine, the trainer sends by hand."""

    name = "log"

    def send(self, message: OutgoingWhatsApp) -> SendResult:
        block = [
            f"--- WhatsApp to {message.to}",
            message.text.rstrip(),
            "---",
            f"Send from your phone: {wa_me_link(message.to, message.text)}",
        ]
        sys.stdout.write("\n".join(block) + "\n")
        sys.stdout.flush()
        return SendResult("log", "log-" + secrets.token_urlsafe(9))


class TwilioProvider:
    name = "twilio"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_number: str,
        api_base: str = DEFAULT_TWILIO_API_BASE,
        timeout: float = 10.0,
    ) -> None:
        self.account_sid = account_sid
        self._auth_token = auth_token
        self.from_number = from_number
        self.api_base = api_base.rstrip("/")
        self.timeout = timeout

    def _request(self, message: OutgoingWhatsApp) -> urllib.request.Request:
        fields = {
            "From": "whatsapp:" + self.from_number,
            "To": "whatsapp:" + message.to,
            "Body": message.text,
        }
        if message.status_callback:
            fields["StatusCallback"] = message.status_callback
        # Quoted so an odd SID in the configuration cannot reach another API path.
        sid = urllib.parse.quote(self.account_sid, safe="")
        credentials = f"{self.account_sid}:{self._auth_token}".encode()
        return urllib.request.Request(
            f"{self.api_base}/2010-04-01/Accounts/{sid}/Messages.json",
            data=urllib.parse.urlencode(fields).encode("ascii"),
            method="POST",
            headers={
                "Authorization": "Basic " + base64.b64encode(credentials).decode("ascii"),
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
                "User-Agent": "pt-bookings",
            },
        )

    def send(self, message: OutgoingWhatsApp) -> SendResult:
        try:
            request = self._request(message)
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = response.read()
        except urllib.error.HTTPError as err:
            # Checked before URLError (its base class): Twilio answered, with an error.
            raise _http_error(err) from err
        except urllib.error.URLError as err:
            # Raised for connect-phase failures, including connect timeouts.
            raise _network_error(err.reason, self.timeout) from err
        except (OSError, http.client.HTTPException) as err:
            # A read timeout or dropped connection after the request went out.
            raise _network_error(err, self.timeout) from err
        except ValueError as err:
            # A malformed TWILIO_API_BASE: retrying will not fix the configuration.
            raise SendError(f"Twilio request could not be made: {err}", retryable=False) from err

        sid = _json_object(body).get("sid")
        if not isinstance(sid, str) or not sid:
            # Twilio said 2xx, so the message may well be on its way; retrying could
            # deliver it twice, which is worse than asking the trainer to check.
            raise SendError(
                "Twilio accepted the message but its reply had no message SID.",
                retryable=False,
            )
        return SendResult("twilio", sid)


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _http_error(err: urllib.error.HTTPError) -> SendError:
    status = err.code
    # 429 and 5xx are Twilio (or something in front of it) being busy or broken; any
    # other status is about this request and will fail the same way next time.
    retryable = status == 429 or status >= 500
    try:
        body = err.read(64 * 1024)
    except (OSError, http.client.HTTPException):
        body = b""
    details = _json_object(body)
    code = details.get("code")
    text = details.get("message")
    text = " ".join(text.split()) if isinstance(text, str) else ""
    if code is not None and text:
        summary = f"Twilio {code}: {text}"
    elif text:
        summary = f"Twilio HTTP {status}: {text}"
    else:
        # Not Twilio's JSON (a gateway page, an empty body): the status is all we trust.
        summary = f"Twilio HTTP {status}: {_reason(status, err.reason)}"
    return SendError(summary[:_MAX_ERROR_CHARS], retryable=retryable)


def _reason(status: int, reason: object) -> str:
    if isinstance(reason, str) and reason.strip():
        return reason.strip()
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "unexpected response"


def _network_error(reason: object, timeout: float) -> SendError:
    if isinstance(reason, TimeoutError):
        return SendError(f"Twilio did not answer within {timeout:g}s.", retryable=True)
    return SendError(f"Could not reach Twilio: {reason}", retryable=True)


# Reads an SSM SecureString by name and returns its decrypted value.
SecretReader = Callable[[str], str]

# The reader used when none is given: set once by the composition root (runtime).
_read_secret: SecretReader | None = None

# Auth tokens read from SSM, by parameter name: once per container, like link_secret.
_auth_tokens: dict[str, str] = {}


def configure(read_secret: SecretReader) -> None:
    global _read_secret
    _read_secret = read_secret


def forget_secrets() -> None:
    """Drop cached tokens (tests: between moto blocks; see runtime.reset)."""
    _auth_tokens.clear()


def twilio_auth_token(read_secret: SecretReader | None = None) -> str:
    """The Twilio auth token: TWILIO_AUTH_TOKEN, else the SSM SecureString it names."""
    direct = os.environ.get("TWILIO_AUTH_TOKEN")
    if direct:
        return direct
    name = os.environ.get("TWILIO_AUTH_TOKEN_PARAM", "")
    if not name:
        raise RuntimeError("Set TWILIO_AUTH_TOKEN or TWILIO_AUTH_TOKEN_PARAM")
    if name not in _auth_tokens:
        reader = read_secret or _read_secret
        if reader is None:
            raise RuntimeError("No secret reader: chalicelib.runtime configures one on import")
        _auth_tokens[name] = reader(name)
    return _auth_tokens[name]


def configured_provider() -> str:
    """The WHATSAPP_PROVIDER setting, normalised ("log" when unset)."""
    return (os.environ.get("WHATSAPP_PROVIDER") or "log").strip().lower()


def provider_from_env(read_secret: SecretReader | None = None) -> Provider:
    choice = configured_provider()
    if choice == "log":
        return LogProvider()
    if choice != "twilio":
        raise RuntimeError(f"Unknown WHATSAPP_PROVIDER {choice!r} (expected 'log' or 'twilio')")

    env = os.environ
    missing = [name for name in ("TWILIO_ACCOUNT_SID", "TWILIO_WHATSAPP_FROM") if not env.get(name)]
    if not env.get("TWILIO_AUTH_TOKEN") and not env.get("TWILIO_AUTH_TOKEN_PARAM"):
        missing.append("TWILIO_AUTH_TOKEN (or TWILIO_AUTH_TOKEN_PARAM)")
    if missing:
        raise RuntimeError("WHATSAPP_PROVIDER=twilio needs " + ", ".join(missing))

    api_base = env.get("TWILIO_API_BASE") or DEFAULT_TWILIO_API_BASE
    if not api_base.startswith(("https://", "http://")):
        raise RuntimeError(f"TWILIO_API_BASE must be an http(s) URL, not {api_base!r}")
    # The Twilio console shows senders as "whatsapp:+1..."; accept that form too rather
    # than sending "whatsapp:whatsapp:+1...".
    from_number = env["TWILIO_WHATSAPP_FROM"].strip().removeprefix("whatsapp:")
    return TwilioProvider(
        account_sid=env["TWILIO_ACCOUNT_SID"].strip(),
        auth_token=twilio_auth_token(read_secret),
        from_number=from_number,
        api_base=api_base,
    )


def twilio_signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """Twilio's X-Twilio-Signature for a form-encoded webhook POST to `url`."""
    payload = url + "".join(key + params[key] for key in sorted(params))
    digest = hmac.new(auth_token.encode("utf-8"), payload.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(digest.digest()).decode("ascii")


def valid_twilio_signature(
    auth_token: str, url: str, params: Mapping[str, str], signature: str
) -> bool:
    if not signature:
        return False
    try:
        expected = twilio_signature(auth_token, url, params)
        # Bytes, because compare_digest refuses non-ASCII str, and a forged header may
        # hold anything; constant time so the signature cannot be guessed byte by byte.
        return hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8"))
    except (TypeError, ValueError):  # non-str values, unencodable surrogates
        return False

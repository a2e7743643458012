"""One HTTP POST to a provider, with the failures every provider shares turned into
SendErrors: unreachable, too slow, or a request that could not even be made.

Plain urllib rather than an SDK: one POST does not justify a dependency (and its import
time) in every Lambda cold start.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from chalicelib.messaging.delivery import SendError

# Provider messages are a sentence or two; the cap only guards the trainer's screen
# against a proxy that answers with a whole page.
MAX_ERROR_CHARS = 300


@dataclass(frozen=True)
class Refused:
    """The provider answered with an error status: each provider reads its own body."""

    status: int
    reason: str
    body: bytes


def post(
    url: str, data: bytes, headers: Mapping[str, str], timeout: float, provider: str
) -> bytes | Refused:
    """The 2xx body, or what the provider answered when it refused."""
    try:
        request = urllib.request.Request(url, data=data, method="POST", headers=dict(headers))
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.read()
    except urllib.error.HTTPError as err:
        # Checked before URLError (its base class): the provider answered, with an error.
        try:
            body = err.read(64 * 1024)
        except (OSError, http.client.HTTPException):
            body = b""
        return Refused(err.code, _reason(err.code, err.reason), body)
    except urllib.error.URLError as err:
        # Raised for connect-phase failures, including connect timeouts.
        raise network_error(provider, err.reason, timeout) from err
    except (OSError, http.client.HTTPException) as err:
        # A read timeout or dropped connection after the request went out.
        raise network_error(provider, err, timeout) from err
    except ValueError as err:
        # A malformed API base: retrying will not fix the configuration.
        raise SendError(f"{provider} request could not be made: {err}", retryable=False) from err


def network_error(provider: str, reason: object, timeout: float) -> SendError:
    if isinstance(reason, TimeoutError):
        return SendError(f"{provider} did not answer within {timeout:g}s.", retryable=True)
    return SendError(f"Could not reach {provider}: {reason}", retryable=True)


def json_object(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return {}
    return parsed if isinstance(parsed, dict) else {}


def one_line(text: object) -> str:
    return " ".join(text.split()) if isinstance(text, str) else ""


def _reason(status: int, reason: object) -> str:
    if isinstance(reason, str) and reason.strip():
        return reason.strip()
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "unexpected response"

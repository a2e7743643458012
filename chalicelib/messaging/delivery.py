"""What every channel's send returns or raises, so the dispatcher treats them alike."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

# How long one provider call may take. A dispatcher run lives at most a minute (the
# Lambda's timeout): a provider that hangs must cost seconds, never the whole run.
SEND_TIMEOUT_SECONDS: Final = 5.0


@dataclass(frozen=True)
class SendResult:
    provider: str  # "log", "twilio", "meta", "ses", "console"
    provider_id: str  # the provider's id for the message


class SendError(Exception):
    """A send that did not happen. `message` is shown to the trainer; `retryable` says
    whether trying again later may work (network trouble, throttling, provider outage).

    `provider_down` says the provider itself cannot send right now (expired token, account
    rate limit, a setting missing), whatever the message: the dispatcher then stops sending
    through it for the rest of the run instead of failing message after message.
    `code` is the provider's own error code, when it gave one."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        code: str | None = None,
        provider_down: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.code = code
        self.provider_down = provider_down


class NotConfigured(RuntimeError):
    """A stage setting is missing or wrong: nothing goes through that provider until an
    operator fixes it. The message names the setting, for the trainer and the operator."""


class SecretUnreadable(NotConfigured):
    """A secret's SSM parameter could not be read (missing, not allowed, throttled)."""

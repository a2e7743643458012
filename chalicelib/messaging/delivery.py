"""What every channel's send returns or raises, so the dispatcher treats them alike."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SendResult:
    provider: str  # "log", "twilio", "ses", "console"
    provider_id: str  # the provider's id for the message


class SendError(Exception):
    """A send that did not happen. `message` is shown to the trainer; `retryable` says
    whether trying again later may work (network trouble, throttling, provider outage)."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable

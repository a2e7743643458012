"""Email: printed to the console locally, SES when deployed.

Sign-in emails are sent at once (`send`) rather than through the message outbox: a link
that is valid for 15 minutes cannot wait for the next dispatcher run. Messages to
clients go through the outbox and reach here from the dispatcher (`send_outbox_email`).

The stage's settings and the SES client are handed in (`EmailSettings`), by the caller or
by the composition root through `configure`: messaging never imports runtime, which
imports messaging.
"""

from __future__ import annotations

import logging
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.errors import DomainError
from chalicelib.messaging.delivery import SendError, SendResult

log = logging.getLogger("pt_bookings.email")


class EmailNotSent(DomainError):
    """The provider refused or could not be reached; nothing was delivered.

    A DomainError so that, should a caller not catch it, the user still gets a page
    rather than a 500 (a refused address or a throttled account is not a crash).
    """

    @property
    def user_message(self) -> str:
        return "We could not send the email. Check the address and try again in a minute."


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    text: str
    # A line the local console shows on its own, e.g. "Sign in: <url>".
    console_line: str | None = None


@dataclass(frozen=True)
class EmailSettings:
    provider: str  # "console" or "ses" (EMAIL_PROVIDER)
    sender: str  # the SES verified sender (EMAIL_SENDER)
    # Called only when SES is used, so console runs never build (or import) boto3.
    ses_client: Callable[[], Any]


# Where send() finds the stage's settings when it is not given them: set once by the
# composition root (runtime), and called for every email so that configuration read
# while a request runs (Chalice's test client) is the configuration used.
_settings: Callable[[], EmailSettings] | None = None


def configure(settings: Callable[[], EmailSettings]) -> None:
    global _settings
    _settings = settings


def _current(settings: EmailSettings | None) -> EmailSettings:
    if settings is not None:
        return settings
    if _settings is None:
        raise RuntimeError("Email is not configured: chalicelib.runtime configures it on import")
    return _settings()


def send(email: Email, settings: EmailSettings | None = None) -> None:
    cfg = _current(settings)
    if cfg.provider == "console":
        _print_to_console(email)
        return
    if cfg.provider == "ses":
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            cfg.ses_client().send_email(
                FromEmailAddress=cfg.sender,
                Destination={"ToAddresses": [email.to]},
                Content={
                    "Simple": {
                        "Subject": {"Data": email.subject, "Charset": "UTF-8"},
                        "Body": {"Text": {"Data": email.text, "Charset": "UTF-8"}},
                    }
                },
            )
        except ClientError as exc:
            # e.g. MessageRejected (sandbox, unverified sender), throttling, a suppressed
            # address: the caller tells the user; the log keeps SES's own words.
            error = exc.response.get("Error", {})
            log.warning("SES refused an email: %s %s", error.get("Code"), error.get("Message"))
            raise EmailNotSent(str(error.get("Code", "Error"))) from exc
        except BotoCoreError as exc:
            log.warning("SES unreachable: %s", exc)
            raise EmailNotSent("unreachable") from exc
        return
    raise RuntimeError(f"Unknown EMAIL_PROVIDER {cfg.provider!r}")


def send_outbox_email(
    to: str, subject: str, text: str, settings: EmailSettings | None = None
) -> SendResult:
    """An outbox email (dispatcher): SES errors become SendErrors, retryable or not."""
    from botocore.exceptions import BotoCoreError, ClientError

    cfg = _current(settings)
    if cfg.provider == "console":
        _print_to_console(Email(to, subject, text))
        return SendResult("console", "console-" + secrets.token_urlsafe(9))
    try:
        response = cfg.ses_client().send_email(
            FromEmailAddress=cfg.sender,
            Destination={"ToAddresses": [to]},
            Content={
                "Simple": {
                    "Subject": {"Data": subject, "Charset": "UTF-8"},
                    "Body": {"Text": {"Data": text, "Charset": "UTF-8"}},
                }
            },
        )
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Error"))
        raise SendError(
            f"SES {code}: {error.get('Message', '')}".strip(),
            retryable=code in _SES_RETRYABLE,
        ) from exc
    except BotoCoreError as exc:  # network trouble reaching SES
        raise SendError(f"SES unreachable: {exc}", retryable=True) from exc
    return SendResult("ses", str(response.get("MessageId", "")))


_SES_RETRYABLE = frozenset(
    {"TooManyRequestsException", "LimitExceededException", "Throttling", "InternalFailure"}
)


def _print_to_console(email: Email) -> None:
    block = [f"--- email to {email.to}: {email.subject}", email.text.rstrip(), "---"]
    if email.console_line:
        block.append(email.console_line)
    sys.stdout.write("\n".join(block) + "\n")
    sys.stdout.flush()

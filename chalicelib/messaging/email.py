"""Transactional email (sign-in links): printed to the console locally, SES when deployed.

Sign-in emails are sent at once rather than through the message outbox: a link that is
valid for 15 minutes cannot wait for the next dispatcher run.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass

from chalicelib import runtime

log = logging.getLogger("pt_bookings.email")


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    text: str
    # A line the local console shows on its own, e.g. "Sign in: <url>".
    console_line: str | None = None


def send(email: Email) -> None:
    cfg = runtime.config()
    if cfg.email_provider == "console":
        _print_to_console(email)
        return
    if cfg.email_provider == "ses":
        runtime.aws_client("sesv2").send_email(
            FromEmailAddress=cfg.email_sender,
            Destination={"ToAddresses": [email.to]},
            Content={
                "Simple": {
                    "Subject": {"Data": email.subject, "Charset": "UTF-8"},
                    "Body": {"Text": {"Data": email.text, "Charset": "UTF-8"}},
                }
            },
        )
        return
    raise RuntimeError(f"Unknown EMAIL_PROVIDER {cfg.email_provider!r}")


def _print_to_console(email: Email) -> None:
    block = [f"--- email to {email.to}: {email.subject}", email.text.rstrip(), "---"]
    if email.console_line:
        block.append(email.console_line)
    sys.stdout.write("\n".join(block) + "\n")
    sys.stdout.flush()

"""Email: printed to the console locally, SES when deployed.

Sign-in emails are sent at once (`send`) rather than through the message outbox: a link
that is valid for 15 minutes cannot wait for the next dispatcher run. Messages to
clients go through the outbox and reach here from the dispatcher (`send_outbox_email`).

The stage's settings and the SES client are handed in (`EmailSettings`), by the caller or
by the composition root through `configure`: messaging never imports runtime, which
imports messaging.

Who an email is from: always the stage's one verified address (SES sends only from a
verified identity), under a display name. A client's email carries the trainer's name
and a Reply-To of the trainer's own address, so a reply reaches the trainer and not a
no-reply box; everything else (sign-in links, the trainer's own notifications) carries
the product's name. Names are typed by trainers, so they are made into a header here
and nowhere else (`from_header`): quoted or RFC 2047-encoded, one line, never a way to
add a header. Every SES send names the stage's configuration set, and an outbox email
is tagged with the reference of its message, so a bounce or a complaint published by
that configuration set finds the message it is about (services/email_events.py).
"""

from __future__ import annotations

import base64
import logging
import re
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any, Final, Protocol

from chalicelib import observability
from chalicelib.domain.errors import DomainError
from chalicelib.domain.messages import EMAIL
from chalicelib.domain.models import Trainer
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
    # The SES verified sender (EMAIL_SENDER): an address, or "Product name <address>".
    sender: str
    # Called only when SES is used, so console runs never build (or import) boto3.
    ses_client: Callable[[], Any]
    # SES_CONFIGURATION_SET: named on every send so bounces and complaints are published.
    configuration_set: str = ""


# A display name longer than this is cut: business names are capped well below it, and
# the cap keeps the From header one short line whatever is stored.
MAX_DISPLAY_NAME: Final = 100
# The tag an outbox email carries its message reference in (SES event publishing gives
# it back in `mail.tags`).
MESSAGE_TAG: Final = "pt_message"
# SES tag values: letters, digits, `_ . @ -`, at most 256 characters.
_TAG_VALUE = re.compile(r"[A-Za-z0-9_.@-]{1,256}")
# Starts an encoded tag value; `@` never occurs in a message reference, so the two
# forms cannot be mistaken for each other.
ENCODED_TAG_MARK: Final = "@"
_RFC2047_CHUNK_BYTES: Final = 45  # 60 base64 characters: each encoded word stays <= 75


def client_sender(trainer: Trainer, channel: str = EMAIL) -> dict[str, str]:
    """A client's email is from the trainer (their business name, else their display
    name) and answered to the trainer's own address: the Message fields to set (none for
    a message on another channel)."""
    if channel != EMAIL:
        return {}
    return {"from_name": trainer.display_name, "reply_to": trainer.email}


def sender_parts(sender: str) -> tuple[str, str]:
    """(display name, address) of the stage's EMAIL_SENDER. Its display name is the
    product's name (`PT Bookings <no-reply@…>` on deployed stages); a bare address is
    sent bare."""
    name, address = parseaddr(sender)
    return name.strip(), address


def _one_line(text: str) -> str:
    """Any run of whitespace or control characters (newlines above all) becomes one
    space: a name can never end a header line and start another."""
    printable = "".join(ch if ch.isprintable() else " " for ch in text)
    return " ".join(printable.split())


def from_header(display_name: str, address: str) -> str:
    """`"Name" <address>` as RFC 5322 / 2047 want it, on one line.

    ASCII names are always quoted (commas, apostrophes and `<` mean nothing inside a
    quoted string; `"` and `\\` are escaped); any other name is sent as UTF-8 encoded
    words, split on character boundaries so each word stays within 75 characters, one
    space between them (what Python's own generator does, minus the folding)."""
    name = _one_line(display_name)[:MAX_DISPLAY_NAME].strip()
    if not name:
        return address
    # A literal "=?" is encoded too: some readers decode encoded words even inside
    # quotes, which would show a name other than the one typed.
    if name.isascii() and "=?" not in name:
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{quoted}" <{address}>'
    return f"{' '.join(_encoded_words(name))} <{address}>"


def _encoded_words(name: str) -> list[str]:
    words: list[str] = []
    chunk = b""
    for char in name:
        encoded = char.encode("utf-8")
        if chunk and len(chunk) + len(encoded) > _RFC2047_CHUNK_BYTES:
            words.append(_encoded_word(chunk))
            chunk = b""
        chunk += encoded
    if chunk:
        words.append(_encoded_word(chunk))
    return words


def _encoded_word(data: bytes) -> str:
    return f"=?utf-8?b?{base64.b64encode(data).decode('ascii')}?="


def tag_value(reference: str) -> str | None:
    """The message reference as an SES tag value: as it is when it fits SES's alphabet
    (references are made of ids that do), else encoded; None when even that is too long."""
    if _TAG_VALUE.fullmatch(reference):
        return reference
    encoded = ENCODED_TAG_MARK + base64.urlsafe_b64encode(reference.encode()).decode().rstrip("=")
    return encoded if _TAG_VALUE.fullmatch(encoded) else None


def reference_from_tag(value: str) -> str | None:
    """The message reference a tag value carries (`tag_value` read back)."""
    if not value.startswith(ENCODED_TAG_MARK):
        return value or None
    packed = value.removeprefix(ENCODED_TAG_MARK)
    try:
        decoded = base64.b64decode(packed + "=" * (-len(packed) % 4), b"-_", validate=True)
        return decoded.decode("utf-8") or None
    except (ValueError, UnicodeDecodeError):  # binascii.Error is a ValueError
        return None


def _common(cfg: EmailSettings, display_name: str) -> dict[str, Any]:
    name, address = sender_parts(cfg.sender)
    request: dict[str, Any] = {"FromEmailAddress": from_header(display_name or name, address)}
    if cfg.configuration_set:
        request["ConfigurationSetName"] = cfg.configuration_set
    return request


def _content(subject: str, text: str) -> dict[str, Any]:
    return {
        "Simple": {
            "Subject": {"Data": _one_line(subject), "Charset": "UTF-8"},
            "Body": {"Text": {"Data": text, "Charset": "UTF-8"}},
        }
    }


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
                **_common(cfg, ""),
                Destination={"ToAddresses": [email.to]},
                Content=_content(email.subject, email.text),
            )
        except ClientError as exc:
            # e.g. MessageRejected (sandbox, unverified sender), throttling, a suppressed
            # address: the caller tells the user; the log keeps SES's own words.
            error = exc.response.get("Error", {})
            log.warning(
                "SES refused an email: %s %s",
                error.get("Code"),
                _without_addresses(str(error.get("Message", ""))),
            )
            raise EmailNotSent(str(error.get("Code", "Error"))) from exc
        except BotoCoreError as exc:
            log.warning("SES unreachable: %s", exc)
            raise EmailNotSent("unreachable") from exc
        return
    raise RuntimeError(f"Unknown EMAIL_PROVIDER {cfg.provider!r}")


class OutboxSend(Protocol):
    """How the dispatcher sends an outbox email (`send_outbox_email`, or a test's fake)."""

    def __call__(
        self,
        to: str,
        subject: str,
        text: str,
        settings: EmailSettings | None = None,
        *,
        from_name: str = "",
        reply_to: str = "",
        reference: str = "",
    ) -> SendResult: ...


def send_outbox_email(
    to: str,
    subject: str,
    text: str,
    settings: EmailSettings | None = None,
    *,
    from_name: str = "",
    reply_to: str = "",
    reference: str = "",
) -> SendResult:
    """An outbox email (dispatcher): SES errors become SendErrors, retryable or not.

    `from_name` is the display name (the trainer's, for a client's email; empty: the
    product's), `reply_to` where answers go, `reference` the message's webhook reference
    (tagged, so its bounce or complaint finds it)."""
    from botocore.exceptions import BotoCoreError, ClientError

    cfg = _current(settings)
    if cfg.provider == "console":
        _print_to_console(Email(to, subject, text))
        return SendResult("console", "console-" + secrets.token_urlsafe(9))
    request = _common(cfg, from_name)
    if reply_to and _plain_address(reply_to):
        request["ReplyToAddresses"] = [reply_to]
    tag = tag_value(reference) if reference else None
    if tag:
        request["EmailTags"] = [{"Name": MESSAGE_TAG, "Value": tag}]
    elif reference:
        log.warning("an outbox email goes untagged: its reference does not fit an SES tag")
    try:
        response = cfg.ses_client().send_email(
            **request,
            Destination={"ToAddresses": [to]},
            Content=_content(subject, text),
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


def _without_addresses(text: str) -> str:
    """SES's words for a log line, minus the addresses it quotes ("…failed the check:
    priya@example.com"): no address is ever logged."""
    return re.sub(r"\S+@\S+", "<address>", text)


def _plain_address(address: str) -> bool:
    """One bare address (stored addresses are normalised; this keeps anything else, a
    list or a name with it, out of the Reply-To header)."""
    return bool(re.fullmatch(r"[^\s<>,;\"()]+@[^\s<>,;\"()@]+", address))


_SES_RETRYABLE = frozenset(
    {"TooManyRequestsException", "LimitExceededException", "Throttling", "InternalFailure"}
)


def _print_to_console(email: Email) -> None:
    """The console provider. Locally the whole email (a sign-in link is there to click);
    on any other stage that would put an address, a text and maybe a sign-in or client
    link into the function's log, so only that an email was printed, not what."""
    if not observability.shows_content():
        log.info("an email logged, not sent (EMAIL_PROVIDER=console)")
        return
    block = [f"--- email to {email.to}: {email.subject}", email.text.rstrip(), "---"]
    if email.console_line:
        block.append(email.console_line)
    sys.stdout.write("\n".join(block) + "\n")
    sys.stdout.flush()

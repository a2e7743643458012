"""WhatsApp delivery: printed to the console locally, a real provider when deployed.

`WHATSAPP_PROVIDER` picks it: `log` (the default), `twilio` (twilio.py) or `meta`
(Meta's Cloud API, meta.py). Providers never raise anything but SendError from send(),
so the outbox dispatcher can decide between retrying and giving up from `retryable`.

Secrets are read through a `SecretReader` handed in (by the caller, or once by the
composition root through `configure`): messaging never imports runtime, which imports
messaging. A setting that is missing raises NotConfigured, naming it; a secret SSM would
not give raises SecretUnreadable.
"""

from __future__ import annotations

import logging
import os
import secrets
import sys
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any, Final

from chalicelib.messaging import meta, twilio

# Re-exported: every channel (WhatsApp, email) shares these, and callers knew them here.
from chalicelib.messaging.delivery import NotConfigured as NotConfigured
from chalicelib.messaging.delivery import SecretUnreadable as SecretUnreadable
from chalicelib.messaging.delivery import SendError as SendError
from chalicelib.messaging.delivery import SendResult as SendResult
from chalicelib.messaging.meta import MetaProvider as MetaProvider
from chalicelib.messaging.payloads import Inbound as Inbound
from chalicelib.messaging.payloads import OutgoingWhatsApp as OutgoingWhatsApp
from chalicelib.messaging.payloads import Provider as Provider
from chalicelib.messaging.payloads import StatusUpdate as StatusUpdate
from chalicelib.messaging.payloads import TemplateSend as TemplateSend
from chalicelib.messaging.twilio import TwilioProvider as TwilioProvider

DEFAULT_TWILIO_API_BASE = twilio.DEFAULT_API_BASE
TWILIO_STATUSES = twilio.STATUSES
PROVIDERS = ("log", "twilio", "meta")

log = logging.getLogger("pt_bookings.whatsapp")


def twilio_signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """Twilio's X-Twilio-Signature for a form-encoded webhook POST to `url`."""
    return twilio.signature(auth_token, url, params)


def valid_twilio_signature(
    auth_token: str, url: str, params: Mapping[str, str], signature: str
) -> bool:
    return twilio.valid_signature(auth_token, url, params, signature)


def wa_me_link(e164: str, text: str) -> str:
    """A click-to-chat link that opens WhatsApp with `text` ready to send to `e164`."""
    # wa.me wants the bare international number: no "+", spaces or dashes. ASCII digits
    # only, since str.isdigit() would also keep characters like "²".
    digits = "".join(ch for ch in e164 if ch in "0123456789")
    return f"https://wa.me/{digits}?text={urllib.parse.quote(text, safe='')}"


class LogProvider:
    """Nothing leaves the machine; the trainer sends by hand.

    Locally it prints the message, its client link and a wa.me link to send it from a
    phone. On a deployed stage those would land in CloudWatch, where anyone who reads
    the logs could open a client's portal: there it prints only ids and kinds."""

    name = "log"

    def __init__(self, *, show_content: bool) -> None:
        self.show_content = show_content

    def send(self, message: OutgoingWhatsApp) -> SendResult:
        if not self.show_content:
            # A log line (JSON when deployed, with the request id), of ids and kinds only.
            log.info(
                "WhatsApp message %s (%s) logged, not sent: texts and links are printed "
                "only on local stages",
                message.message_id or "?",
                message.kind or "message",
                extra={"message_id": message.message_id, "kind": message.kind},
            )
            return SendResult("log", "log-" + secrets.token_urlsafe(9))
        block = [
            f"--- WhatsApp to {message.to}",
            message.text.rstrip(),
            "---",
            f"Send from your phone: {wa_me_link(message.to, message.text)}",
        ]
        sys.stdout.write("\n".join(block) + "\n")
        sys.stdout.flush()
        return SendResult("log", "log-" + secrets.token_urlsafe(9))


# --- Secrets --------------------------------------------------------------------------------

# Reads an SSM SecureString by name and returns its decrypted value.
SecretReader = Callable[[str], str]

# The reader used when none is given: set once by the composition root (runtime).
_read_secret: SecretReader | None = None

# Secrets read from SSM, by parameter name: once per container, like link_secret.
_auth_tokens: dict[str, str] = {}


# The SSM client that stores trainers' own senders' secrets (set with the reader).
_ssm_client: Callable[[], Any] | None = None


def configure(read_secret: SecretReader, *, ssm: Callable[[], Any] | None = None) -> None:
    global _read_secret, _ssm_client
    _read_secret = read_secret
    if ssm is not None:
        _ssm_client = ssm


def forget_secrets() -> None:
    """Drop cached secrets (tests: between moto blocks; see runtime.reset)."""
    _auth_tokens.clear()


def secret_setting(direct: str, param: str, read_secret: SecretReader | None = None) -> str:
    """A secret from the env var `direct`, else from the SSM SecureString `param` names."""
    value = os.environ.get(direct)
    if value:
        return value
    name = os.environ.get(param, "")
    if not name:
        raise NotConfigured(f"{direct} is missing (set it, or {param} to its SSM parameter)")
    if name not in _auth_tokens:
        reader = read_secret or _read_secret
        if reader is None:
            raise NotConfigured("No secret reader: chalicelib.runtime configures one on import")
        try:
            _auth_tokens[name] = reader(name)
        except Exception as exc:  # botocore's many errors: the words are what matter
            raise SecretUnreadable(
                f"could not read {param} ({name}) from SSM: {_error_code(exc)}"
            ) from exc
    return _auth_tokens[name]


def _error_code(exc: Exception) -> str:
    """botocore's error code (ParameterNotFound, AccessDeniedException…), else the type."""
    response = getattr(exc, "response", None)
    error = response.get("Error") if isinstance(response, dict) else None
    code = error.get("Code") if isinstance(error, dict) else None
    return str(code) if code else type(exc).__name__


def twilio_auth_token(read_secret: SecretReader | None = None) -> str:
    """The Twilio auth token: TWILIO_AUTH_TOKEN, else the SSM SecureString it names."""
    return secret_setting("TWILIO_AUTH_TOKEN", "TWILIO_AUTH_TOKEN_PARAM", read_secret)


def meta_access_token(read_secret: SecretReader | None = None) -> str:
    return secret_setting("META_ACCESS_TOKEN", "META_ACCESS_TOKEN_PARAM", read_secret)


def meta_app_secret(read_secret: SecretReader | None = None) -> str:
    """The Meta app's secret, which signs every webhook POST (X-Hub-Signature-256)."""
    return secret_setting("META_APP_SECRET", "META_APP_SECRET_PARAM", read_secret)


def meta_verify_token(read_secret: SecretReader | None = None) -> str:
    """Ours, typed into the app's webhook settings: Meta echoes it in the GET handshake."""
    return secret_setting("META_VERIFY_TOKEN", "META_VERIFY_TOKEN_PARAM", read_secret)


# --- The stage's provider -------------------------------------------------------------------


def configured_provider() -> str:
    """The WHATSAPP_PROVIDER setting, normalised ("log" when unset)."""
    return (os.environ.get("WHATSAPP_PROVIDER") or "log").strip().lower()


def provider_from_env(read_secret: SecretReader | None = None, *, local: bool = False) -> Provider:
    """The stage's provider. `local`: a local or test stage, whose log may show texts and
    links (never on a deployed stage, the default). Raises NotConfigured naming what is
    missing, or SecretUnreadable when SSM would not give a token."""
    choice = configured_provider()
    if choice == "log":
        return LogProvider(show_content=local)
    if choice == "twilio":
        return _twilio_from_env(read_secret)
    if choice == "meta":
        return _meta_from_env(read_secret)
    raise NotConfigured(
        f"Unknown WHATSAPP_PROVIDER {choice!r} (expected {', '.join(map(repr, PROVIDERS))})"
    )


def _missing(names: list[str], provider: str) -> NotConfigured:
    verb = "is" if len(names) == 1 else "are"
    return NotConfigured(f"{' and '.join(names)} {verb} missing (WHATSAPP_PROVIDER={provider})")


def _api_base(setting: str, default: str) -> str:
    api_base = os.environ.get(setting) or default
    if not api_base.startswith(("https://", "http://")):
        raise NotConfigured(f"{setting} must be an http(s) URL, not {api_base!r}")
    return api_base


def _twilio_from_env(read_secret: SecretReader | None) -> TwilioProvider:
    env = os.environ
    missing = [name for name in ("TWILIO_ACCOUNT_SID", "TWILIO_WHATSAPP_FROM") if not env.get(name)]
    if not env.get("TWILIO_AUTH_TOKEN") and not env.get("TWILIO_AUTH_TOKEN_PARAM"):
        missing.append("TWILIO_AUTH_TOKEN (or TWILIO_AUTH_TOKEN_PARAM)")
    if missing:
        raise _missing(missing, "twilio")
    api_base = _api_base("TWILIO_API_BASE", DEFAULT_TWILIO_API_BASE)
    # The Twilio console shows senders as "whatsapp:+1..."; accept that form too rather
    # than sending "whatsapp:whatsapp:+1...".
    from_number = env["TWILIO_WHATSAPP_FROM"].strip().removeprefix(twilio.WHATSAPP_PREFIX)
    return TwilioProvider(
        account_sid=env["TWILIO_ACCOUNT_SID"].strip(),
        auth_token=twilio_auth_token(read_secret),
        from_number=from_number,
        api_base=api_base,
    )


def _meta_from_env(read_secret: SecretReader | None) -> MetaProvider:
    env = os.environ
    missing = [] if env.get("META_PHONE_NUMBER_ID") else ["META_PHONE_NUMBER_ID"]
    if not env.get("META_ACCESS_TOKEN") and not env.get("META_ACCESS_TOKEN_PARAM"):
        missing.append("META_ACCESS_TOKEN_PARAM (or META_ACCESS_TOKEN)")
    if missing:
        raise _missing(missing, "meta")
    number = env["META_PHONE_NUMBER_ID"].strip()
    if not meta.PHONE_NUMBER_ID.match(number):
        raise NotConfigured("META_PHONE_NUMBER_ID must be the sender's phone-number id (digits)")
    version = (env.get("META_GRAPH_VERSION") or meta.DEFAULT_GRAPH_VERSION).strip()
    if not meta.GRAPH_VERSION.match(version):
        raise NotConfigured(f"META_GRAPH_VERSION must look like v23.0, not {version!r}")
    return MetaProvider(
        phone_number_id=number,
        access_token=meta_access_token(read_secret),
        graph_version=version,
        api_base=_api_base("META_API_BASE", meta.DEFAULT_API_BASE),
    )


# --- Trainers' own senders ------------------------------------------------------------------
# A trainer may send from their own Twilio number or WhatsApp Business number (Meta) on a
# stage that offers it: WHATSAPP_OWN_SENDERS=on, with the Lambda allowed to write SSM
# parameters under <prefix>/trainers/ (docs/whatsapp-senders.md). Their secrets live in
# SSM as SecureStrings, one parameter per secret typed: a new name each time, so the
# settings and the claim item (written in one transaction) always name a parameter that
# holds exactly what was typed with them, and a name can be cached for the container's
# life.

OWN_SENDERS_ENV: Final = "WHATSAPP_OWN_SENDERS"
TOKEN: Final = "token"
APP_SECRET: Final = "app-secret"


class SecretMissing(NotConfigured):
    """A trainer's sender names a secret SSM does not hold (deleted, or never stored)."""


def own_senders_enabled() -> bool:
    """Whether this stage offers trainers their own sender (off unless set: locally there
    is no SSM to keep their tokens in)."""
    return (os.environ.get(OWN_SENDERS_ENV) or "").strip().lower() in ("1", "on", "true", "yes")


def shared_addresses() -> set[tuple[str, str]]:
    """The stage's own sender, as (provider, number or phone-number id): nobody's to claim."""
    env = os.environ
    found: set[tuple[str, str]] = set()
    twilio_from = (env.get("TWILIO_WHATSAPP_FROM") or "").strip()
    if twilio_from:
        found.add(("twilio", twilio_from.removeprefix(twilio.WHATSAPP_PREFIX)))
    meta_number = (env.get("META_PHONE_NUMBER_ID") or "").strip()
    if meta_number:
        found.add(("meta", meta_number))
    return found


class TrainerSecrets:
    """Trainers' sender secrets in SSM: `<prefix>/trainers/<tid>/whatsapp-<what>-<ref>`.

    `read` goes through the stage's secret reader and is cached by name (a name never
    changes value); `put` never overwrites, `delete` forgets and never raises (a secret
    left behind is removed by the next change, and holds nothing the trainer did not type).
    """

    def __init__(
        self,
        prefix: str,
        client: Callable[[], Any] | None = None,
        read_secret: SecretReader | None = None,
    ) -> None:
        self.prefix = prefix.rstrip("/")
        self._client = client
        self._read = read_secret

    def name(self, trainer_id: str, what: str, ref: str) -> str:
        return f"{self.prefix}/trainers/{trainer_id}/whatsapp-{what}-{ref}"

    def _ssm(self) -> Any:
        client = self._client or _ssm_client
        if client is None:
            raise NotConfigured("No SSM client: chalicelib.runtime configures one on import")
        return client()

    def put(self, trainer_id: str, what: str, ref: str, value: str) -> None:
        name = self.name(trainer_id, what, ref)
        try:
            self._ssm().put_parameter(
                Name=name, Value=value, Type="SecureString", Overwrite=False, Tier="Standard"
            )
        except Exception as exc:  # botocore's many errors: the code is what matters
            # The name only, never the value.
            raise SecretUnreadable(f"could not store {name} in SSM: {_error_code(exc)}") from exc
        _auth_tokens[name] = value

    def read(self, trainer_id: str, what: str, ref: str) -> str:
        """The secret; SecretMissing when SSM holds no such parameter, SecretUnreadable
        when SSM would not answer."""
        if not ref:
            raise SecretMissing(f"no {what} saved")
        name = self.name(trainer_id, what, ref)
        if name not in _auth_tokens:
            reader = self._read or _read_secret
            if reader is None:
                raise NotConfigured("No secret reader: chalicelib.runtime configures one on import")
            try:
                _auth_tokens[name] = reader(name)
            except Exception as exc:
                code = _error_code(exc)
                if code == "ParameterNotFound":
                    raise SecretMissing(f"{name} is not in SSM") from exc
                raise SecretUnreadable(f"could not read {name} from SSM: {code}") from exc
        return _auth_tokens[name]

    def delete(self, trainer_id: str, what: str, ref: str) -> None:
        if not ref:
            return
        name = self.name(trainer_id, what, ref)
        _auth_tokens.pop(name, None)
        try:
            self._ssm().delete_parameter(Name=name)
        except Exception as exc:
            if _error_code(exc) != "ParameterNotFound":
                log.warning("could not delete %s from SSM: %s", name, _error_code(exc))

    def forget(self, trainer_id: str, refs: list[tuple[str, str]]) -> None:
        """Delete the (what, ref) secrets a save wrote and then did not keep, or retired."""
        for what, ref in refs:
            self.delete(trainer_id, what, ref)


def secrets_prefix() -> str:
    """Where the stage keeps its SSM parameters: /pt-bookings/<stage>."""
    return f"/pt-bookings/{(os.environ.get('APP_STAGE') or 'dev').strip()}"


def trainer_secrets() -> TrainerSecrets:
    """The stage's store of trainers' sender secrets (the SSM client runtime configured)."""
    return TrainerSecrets(secrets_prefix())


def own_twilio_provider(account_sid: str, number: str, auth_token: str) -> TwilioProvider:
    """A trainer's own Twilio sender (the stage's TWILIO_API_BASE, if any: tests, fakes)."""
    return TwilioProvider(
        account_sid=account_sid,
        auth_token=auth_token,
        from_number=number,
        api_base=_api_base("TWILIO_API_BASE", DEFAULT_TWILIO_API_BASE),
    )


def own_meta_provider(phone_number_id: str, access_token: str) -> MetaProvider:
    """A trainer's own WhatsApp Business number through the Cloud API."""
    version = (os.environ.get("META_GRAPH_VERSION") or meta.DEFAULT_GRAPH_VERSION).strip()
    if not meta.GRAPH_VERSION.match(version):
        raise NotConfigured(f"META_GRAPH_VERSION must look like v23.0, not {version!r}")
    return MetaProvider(
        phone_number_id=phone_number_id,
        access_token=access_token,
        graph_version=version,
        api_base=_api_base("META_API_BASE", meta.DEFAULT_API_BASE),
    )

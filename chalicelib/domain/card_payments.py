"""Card payments with Stripe (issue 16 item 3): the pure rules.

- A trainer's own Stripe account: which keys are acceptable and what mode they are in.
- Stripe's webhook signature (`Stripe-Signature: t=<unix time>,v1=<hex>`, HMAC-SHA256 of
  `<t>.<raw body>` with the endpoint's signing secret): checked here with a constant-time
  compare and a 5-minute tolerance, before anything but the trainer's secret is read.
- The events we act on, parsed from the verified body into small values.
- Which of a payment's sessions a refund (Stripe reports the running total) gives back.
- The pay link's shape: `<trainer>.<client>.<portal generation>.<target>.<HMAC>`, where the
  target is `all` (the client's outstanding balance) or a session's ref with its dots
  written as `~`. The HMAC proves the stage made it, so a forged link costs no read; the
  generation retires it with the portal link.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, Final, Literal

from pydantic import SecretStr

from chalicelib.domain.clients import Client
from chalicelib.domain.commands import Versioned
from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.messages import LinkRef
from chalicelib.domain.schedule import REFUNDED_BY_CARD, Session

TOLERANCE: Final = timedelta(minutes=5)  # Stripe's own libraries' default
COMPLETED: Final = "checkout.session.completed"
REFUNDED: Final = "charge.refunded"
EVENTS_TO_SELECT: Final = (COMPLETED, REFUNDED)
# Metadata keys: Stripe allows 50 keys of at most 500 characters, so one session per key.
MAX_SESSIONS: Final = 40
SESSION_KEY: Final = "session_"

Mode = Literal["test", "live"]

_SECRET_KEY = re.compile(r"(sk|rk)_(test|live)_[A-Za-z0-9]{10,247}")
_WEBHOOK_SECRET = re.compile(r"whsec_[A-Za-z0-9+/=]{16,200}")
_ID = r"[A-Za-z0-9_-]{1,64}"
_MAC = r"[A-Za-z0-9_-]{43}"
_SESSION_TARGET = r"[0-9]{4}-W[0-9]{2}~[0-9]{8}T[0-9]{6}Z~[A-Za-z0-9_-]{8,16}"
# A pack's link (docs/packs.md): `pack-<bundle id>` (no dot: the token's separator).
PACK_TARGET: Final = "pack-"
_PAY_TOKEN = re.compile(
    rf"({_ID})\.({_ID})\.(\d{{1,9}})\.(all|{_SESSION_TARGET}|{PACK_TARGET}{_ID})\.({_MAC})"
)
BALANCE: Final = "all"
PACK_KEY: Final = "pack_id"  # the Checkout Session's metadata naming a pack


# The trainer's connection ----------------------------------------------------------------
@dataclass(frozen=True)
class CardSettings:
    """What the table holds about a trainer's Stripe account: SSM refs, never a secret."""

    enabled: bool = False
    key_ref: str = ""
    webhook_secret_ref: str = ""
    mode: Mode | None = None  # from the key typed: test keys take no real money
    version: int = 0  # 0: never saved

    @property
    def connected(self) -> bool:
        return bool(self.key_ref and self.webhook_secret_ref)

    @property
    def takes_payments(self) -> bool:
        return self.enabled and self.connected

    @property
    def status(self) -> str:
        if not self.connected:
            return "Not connected"
        state = "on" if self.enabled else "off"
        return f"Connected ({self.mode or 'test'} mode), card payments {state}"


class SaveCardSettings(Versioned):
    """Settings → Card payments as typed: secrets write-only (blank keeps the saved one)."""

    messages: ClassVar[dict[str, str]] = {"version": "This page was out of date: reload it."}

    card_payments: str = ""  # "on" when ticked
    secret_key: SecretStr = SecretStr("")
    webhook_secret: SecretStr = SecretStr("")


@dataclass(frozen=True)
class TypedCardSettings:
    enabled: bool
    secret_key: str  # "" when left blank: keep the saved one
    webhook_secret: str
    mode: Mode | None  # the typed key's mode, None when no key was typed


def parse_card_settings(command: SaveCardSettings, saved: CardSettings) -> TypedCardSettings:
    """Every field's rule at once; a refusal never echoes a secret back."""
    errors: dict[str, str] = {}
    key = command.secret_key.get_secret_value().strip()
    secret = command.webhook_secret.get_secret_value().strip()
    mode = key_mode(key) if key else None
    if key and mode is None:
        errors["secret_key"] = (
            "That is not a Stripe secret key: it starts sk_test_, sk_live_, rk_test_ or "
            "rk_live_ (Stripe → Developers → API keys). Type it again."
        )
    if secret and not _WEBHOOK_SECRET.fullmatch(secret):
        errors["webhook_secret"] = (
            "That is not a webhook signing secret: it starts whsec_ (Stripe → Developers → "
            "Webhooks → your endpoint → Signing secret). Type it again."
        )
    enabled = command.card_payments == "on"
    if enabled and not (key or saved.key_ref):
        errors.setdefault("secret_key", "Type your Stripe secret key to turn card payments on.")
    if enabled and not (secret or saved.webhook_secret_ref):
        errors.setdefault(
            "webhook_secret", "Type the webhook signing secret to turn card payments on."
        )
    if errors:
        raise InvalidInput(errors)
    return TypedCardSettings(enabled, key, secret, mode)


def key_mode(key: str) -> Mode | None:
    found = _SECRET_KEY.fullmatch(key)
    if found is None:
        return None
    return "live" if found.group(2) == "live" else "test"


# Stripe's webhook signature ---------------------------------------------------------------
class BadSignature(Exception):
    """Not signed by this endpoint's secret, or signed too long ago (or ahead)."""


def stripe_form(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Stripe's form encoding of nested parameters: `metadata[session_0]`,
    `line_items[0][price_data][currency]`. Booleans are `true`/`false`; None is left out."""
    fields: list[tuple[str, str]] = []

    def add(name: str, value: Any) -> None:
        if value is None:
            return
        if isinstance(value, Mapping):
            for key, inner in value.items():
                add(f"{name}[{key}]", inner)
        elif isinstance(value, list | tuple):
            for index, inner in enumerate(value):
                add(f"{name}[{index}]", inner)
        elif isinstance(value, bool):
            fields.append((name, "true" if value else "false"))
        else:
            fields.append((name, str(value)))

    for key, value in params.items():
        add(str(key), value)
    return fields


def signature_header(payload: bytes, secret: str, timestamp: int) -> str:
    """The header Stripe sends for `payload` (tests, and the fake Stripe)."""
    return f"t={timestamp},v1={_mac(payload, secret, str(timestamp))}"


def verify_signature(payload: bytes, header: str, secret: str, now: datetime) -> None:
    """Raises BadSignature unless one `v1` signature matches and `t` is within 5 minutes
    of now. Every candidate is compared in constant time."""
    timestamp = ""
    candidates: list[str] = []
    for piece in (header or "").split(","):
        name, _, value = piece.strip().partition("=")
        if name == "t":
            timestamp = value
        elif name == "v1":
            candidates.append(value)
    if not timestamp.isascii() or not timestamp.isdigit() or not candidates or not secret:
        raise BadSignature("no timestamp or no v1 signature")
    expected = _mac(payload, secret, timestamp)
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise BadSignature("no signature matches")
    age = now.timestamp() - int(timestamp)
    if abs(age) > TOLERANCE.total_seconds():
        raise BadSignature("timestamp outside the tolerance")


def _mac(payload: bytes, secret: str, timestamp: str) -> str:
    signed = timestamp.encode() + b"." + payload
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


# Events -------------------------------------------------------------------------------
@dataclass(frozen=True)
class CheckoutCompleted:
    event_id: str
    checkout_id: str
    payment_intent: str
    paid: bool  # payment_status == "paid"
    amount_minor: int
    currency: str  # upper case, as the app writes currencies
    trainer_id: str
    client_id: str
    session_refs: tuple[str, ...]
    pack_id: str = ""  # a pack's checkout: the bundle paid as a whole


@dataclass(frozen=True)
class ChargeRefunded:
    event_id: str
    payment_intent: str
    amount_minor: int  # the charge
    refunded_minor: int  # the running total Stripe reports: replays carry the same
    currency: str


@dataclass(frozen=True)
class OtherEvent:
    event_id: str
    type: str


Event = CheckoutCompleted | ChargeRefunded | OtherEvent


class MalformedEvent(Exception):
    """Signed, but not an event shape we know: answered 400, nothing written."""


def parse_event(payload: bytes) -> Event:
    try:
        body = json.loads(payload)
        event_id, kind = str(body["id"]), str(body["type"])
        thing = body["data"]["object"]
        if kind == COMPLETED:
            return _completed(event_id, thing)
        if kind == REFUNDED:
            return ChargeRefunded(
                event_id=event_id,
                payment_intent=str(thing.get("payment_intent") or ""),
                amount_minor=int(thing["amount"]),
                refunded_minor=int(thing.get("amount_refunded") or 0),
                currency=str(thing.get("currency") or "").upper(),
            )
        return OtherEvent(event_id, kind)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise MalformedEvent(str(exc)) from exc


def _completed(event_id: str, thing: Mapping[str, Any]) -> CheckoutCompleted:
    metadata = thing.get("metadata") or {}
    refs = tuple(
        str(metadata[f"{SESSION_KEY}{n}"])
        for n in range(MAX_SESSIONS)
        if f"{SESSION_KEY}{n}" in metadata
    )
    return CheckoutCompleted(
        event_id=event_id,
        checkout_id=str(thing["id"]),
        payment_intent=str(thing.get("payment_intent") or thing["id"]),
        paid=thing.get("payment_status") == "paid",
        amount_minor=int(thing.get("amount_total") or 0),
        currency=str(thing.get("currency") or "").upper(),
        trainer_id=str(metadata.get("trainer_id", "")),
        client_id=str(metadata.get("client_id", "")),
        session_refs=refs,
        pack_id=str(metadata.get(PACK_KEY, "")),
    )


def session_metadata(
    trainer_id: str, client_id: str, refs: Sequence[str], pack_id: str = ""
) -> dict[str, str]:
    """What a Checkout Session (and its payment) carries back to the webhook: the
    sessions it pays, or the pack."""
    return {
        "trainer_id": trainer_id,
        "client_id": client_id,
        **{f"{SESSION_KEY}{n}": ref for n, ref in enumerate(refs)},
        **({PACK_KEY: pack_id} if pack_id else {}),
    }


# Refunds -------------------------------------------------------------------------------
class OverRefund(Exception):
    """Stripe reports more refunded than this payment paid: refused, nothing written."""


def sessions_refunded(
    paid: Sequence[tuple[str, int]], amount_paid: int, refunded_total: int
) -> list[str]:
    """The sessions (id, price) a running refund total gives back, whole sessions only,
    the last paid first: a £50 refund of three £40 sessions makes the third owed again
    and leaves £10 recorded on the payment. Raises OverRefund past what was paid."""
    if refunded_total > amount_paid:
        raise OverRefund(f"refunded {refunded_total} of {amount_paid}")
    if refunded_total >= amount_paid:
        return [sid for sid, _price in paid]
    given_back: list[str] = []
    left = refunded_total
    for session_id, price in reversed(paid):
        if price > left:
            break
        left -= price
        given_back.append(session_id)
    return given_back


# The pay link ----------------------------------------------------------------------------
@dataclass(frozen=True)
class PayToken:
    trainer_id: str
    client_id: str
    generation: int
    target: str  # BALANCE, a session ref, or PACK_TARGET + a bundle id
    mac: str

    @property
    def is_balance(self) -> bool:
        return self.target == BALANCE

    @property
    def pack_id(self) -> str | None:
        return (
            self.target.removeprefix(PACK_TARGET) if self.target.startswith(PACK_TARGET) else None
        )


def pack_target(bundle_id: str) -> str:
    """What a pack's pay link names (as a LinkRef's `target_id`, or `Links.pay`'s)."""
    return PACK_TARGET + bundle_id


def pay_target(session_ref: str | None) -> str:
    return BALANCE if session_ref is None else session_ref.replace(".", "~")


def pay_link_ref(
    base_url: str,
    trainer_id: str,
    client: Client,
    card: CardSettings,
    session_ref: str | None = None,
) -> LinkRef | None:
    """The pay link as an invoice message records it (its text holds LINK_PLACEHOLDER; the
    link is made again when sent or shown, `Links.message_text`), or None when the trainer
    takes no card payments or no address is known."""
    if not card.takes_payments or not base_url:
        return None
    return LinkRef(
        kind="pay",
        base=base_url,
        trainer_id=trainer_id,
        client_id=client.id,
        generation=client.portal_generation,
        target_id=session_ref or "",
    )


def parse_pay_token(token: str) -> PayToken | None:
    found = _PAY_TOKEN.fullmatch(token or "")
    if found is None:
        return None
    plain = found[4] == BALANCE or found[4].startswith(PACK_TARGET)
    target = found[4] if plain else found[4].replace("~", ".")
    return PayToken(found[1], found[2], int(found[3]), target, found[5])


# What a reported payment does to a session ----------------------------------------------
def paid_by_card(session: Session, client_id: str) -> tuple[Session | None, str]:
    """The session paid by card, or None and why it is left as it is (paid meanwhile by
    other means, canceled, voided, another client's): the money is then the trainer's to
    refund or keep, and the log says so. A no-show's or late cancel's fee is paid like a
    session: not live (no longer booked), yet owed, and a balance checkout lists it."""
    if session.client_id != client_id:
        return None, "another client's session"
    if not session.is_live and not session.charged:
        return None, f"the session is {session.status}"
    if session.paid:
        return None, "the session was already paid"
    return session.model_copy(update={"paid": True, "payment_type": "card"}), "paid"


def refunded_by_card(session: Session) -> Session | None:
    """The session owed again, or None when it is no longer paid by card (the trainer
    changed its payment since): the refund is then only recorded on the payment."""
    if not (session.paid and session.payment_type == "card"):
        return None
    return session.model_copy(update={"paid": False, "payment_type": REFUNDED_BY_CARD})

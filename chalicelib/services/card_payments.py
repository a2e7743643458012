"""Card payments with Stripe (issue 16 item 3): the trainer's connection, the client's pay
page and Checkout, and Stripe's webhook (docs/card-payments.md).

- Off by default, per trainer: Settings → Card payments takes the trainer's own secret
  key and webhook signing secret, kept as SSM SecureStrings exactly as the WhatsApp
  senders' tokens are (a new parameter per value typed, stored before the write that
  names it; the one no longer named deleted after it commits). The profile holds only the
  refs, the mode and on/off.
- `/pay/<token>` is a derived capability link (services/links.py `pay`): its HMAC is
  checked before any read, the portal generation retires it. Pressing Pay creates a
  Checkout Session with the trainer's key (one HTTPS POST, `stripe_checkout`) and
  sends the client there.
- `POST /webhooks/stripe/<trainer>`: verified with that trainer's signing secret before
  anything else is read; `checkout.session.completed` marks the named sessions paid by
  card, once per event and session (repo/card_payments.py); `charge.refunded` makes the
  sessions the refunds cover owed again.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final

from chalicelib.domain import packs as packs_rules
from chalicelib.domain.card_payments import (
    EVENTS_TO_SELECT,
    MAX_SESSIONS,
    BadSignature,
    CardSettings,
    ChargeRefunded,
    CheckoutCompleted,
    MalformedEvent,
    OverRefund,
    PayToken,
    SaveCardSettings,
    pack_target,
    paid_by_card,
    parse_card_settings,
    parse_event,
    parse_pay_token,
    refunded_by_card,
    session_metadata,
    sessions_refunded,
    stripe_form,
    verify_signature,
)
from chalicelib.domain.clients import Client
from chalicelib.domain.errors import DomainError, InvalidInput, NotFound, VersionConflict
from chalicelib.domain.models import Trainer
from chalicelib.domain.money import format_money
from chalicelib.domain.programs import Bundle
from chalicelib.domain.schedule import (
    Session,
    SessionRef,
    outstanding,
    parse_session_ref,
    unpaid_amount,
)
from chalicelib.domain.tokens import new_id
from chalicelib.messaging import whatsapp
from chalicelib.repo.card_payments import (
    EVENT_SEEN,
    REFUND_ONCE,
    CardPayment,
    CardPaymentStore,
    PaidSession,
    event_seen,
    new_payment,
    refund_once,
)
from chalicelib.repo.dynamo import TransactionFailed
from chalicelib.repo.programs import ProgramRepository
from chalicelib.repo.repository import Repository
from chalicelib.services import packs
from chalicelib.services.deps import Deps
from chalicelib.services.links import PAY_PATH as PAY_LINK_PATH
from chalicelib.services.links import Links
from chalicelib.services.portal import LinkInactive
from chalicelib.services.webhooks import WebhookResult

log = logging.getLogger("pt_bookings.card_payments")

SETTINGS_PATH: Final = "/dashboard/settings/payments/card"
PAY_PATH: Final = PAY_LINK_PATH
WEBHOOK_PATH: Final = "/webhooks/stripe/"
API_BASE_ENV: Final = "STRIPE_API_BASE"  # tests point the client at a local fake
SECRET_KEY: Final = "secret-key"
WEBHOOK_SECRET: Final = "webhook-secret"
STRIPE_API: Final = "https://api.stripe.com"
# The API version the Checkout parameters and the webhook's event shapes were written for.
STRIPE_API_VERSION: Final = "2026-10-28.endive"
STRIPE_TIMEOUT_SECONDS: Final = 10  # a client waits on this request: fail in words, fast
_TRAINER_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


class CardSecrets(whatsapp.TrainerSecrets):
    """The trainers' Stripe secrets in SSM: `<prefix>/trainers/<tid>/stripe-<what>-<ref>`,
    with the WhatsApp senders' rules (a name never changes value, so it is cached)."""

    def name(self, trainer_id: str, what: str, ref: str) -> str:
        return f"{self.prefix}/trainers/{trainer_id}/stripe-{what}-{ref}"


def card_secrets() -> CardSecrets:
    return CardSecrets(whatsapp.secrets_prefix())


# Settings → Card payments ---------------------------------------------------------------
@dataclass(frozen=True)
class CardSettingsPage:
    card: CardSettings
    webhook_url: str  # to paste into Stripe → Developers → Webhooks → Add endpoint
    events: tuple[str, ...]  # the events to select there


def card_settings_page(deps: Deps, trainer_id: str) -> CardSettingsPage:
    """One read: the connection on the profile (the session's trainer carries no refs)."""
    card = CardPaymentStore(deps.repo.db).settings(trainer_id) or CardSettings()
    base = deps.base_url or "<this site's address>"
    return CardSettingsPage(card, f"{base}{WEBHOOK_PATH}{trainer_id}", EVENTS_TO_SELECT)


def save_card_settings(
    deps: Deps,
    trainer_id: str,
    command: SaveCardSettings,
    secrets: whatsapp.TrainerSecrets | None = None,
) -> CardSettings:
    """Raises InvalidInput (by field, never echoing a secret) or VersionConflict."""
    store = CardPaymentStore(deps.repo.db)
    saved = store.settings(trainer_id) or CardSettings()
    typed = parse_card_settings(command, saved)
    if command.version != saved.version:
        raise VersionConflict()
    vault = secrets or card_secrets()
    written: list[tuple[str, str]] = []
    new = CardSettings(
        enabled=typed.enabled,
        key_ref=saved.key_ref,
        webhook_secret_ref=saved.webhook_secret_ref,
        mode=typed.mode or saved.mode,
        version=saved.version,
    )
    # New values go under new names first: until the write below commits, the profile
    # still names the old ones, so a refused save leaves the live connection as it was.
    try:
        if typed.secret_key:
            written.append((SECRET_KEY, new_id()))
            vault.put(trainer_id, SECRET_KEY, written[-1][1], typed.secret_key)
            new = replace(new, key_ref=written[-1][1])
        if typed.webhook_secret:
            written.append((WEBHOOK_SECRET, new_id()))
            vault.put(trainer_id, WEBHOOK_SECRET, written[-1][1], typed.webhook_secret)
            new = replace(new, webhook_secret_ref=written[-1][1])
        updated = store.save_settings(trainer_id, saved, new)
    except whatsapp.NotConfigured as exc:  # SSM would not store it
        vault.forget(trainer_id, written)
        field = written[-1][0] if written else SECRET_KEY
        raise InvalidInput(
            {
                ("secret_key" if field == SECRET_KEY else "webhook_secret"): (
                    "We could not store it just now, so nothing was saved. Type it again "
                    "in a minute."
                )
            }
        ) from exc
    except Exception:
        vault.forget(trainer_id, written)
        raise
    retired = [(SECRET_KEY, saved.key_ref), (WEBHOOK_SECRET, saved.webhook_secret_ref)]
    kept = {updated.key_ref, updated.webhook_secret_ref}
    vault.forget(trainer_id, [(what, ref) for what, ref in retired if ref and ref not in kept])
    return updated


# The pay link ----------------------------------------------------------------------------
def card_payment_link(
    links: Links,
    base_url: str,
    trainer_id: str,
    client: Client,
    card: CardSettings,
    session_ref: str | None = None,
) -> str | None:
    """The link an invoice carries (one session's, or the balance's when `session_ref` is
    None), or None when the trainer takes no card payments or no address is known."""
    if not card.takes_payments or not base_url:
        return None
    token = links.pay(trainer_id, client.id, client.portal_generation, session_ref)
    return f"{base_url}{PAY_PATH}{token}"


def pack_card_link(
    links: Links, base_url: str, trainer: Trainer, bundle: Bundle, client: Client | None
) -> str:
    """The pack's pay-by-card link for the trainer to send, for a pack still to pay when
    card payments are on (known from the session's read of the profile: no read here)."""
    if client is None or client.archived or bundle.pack_paid or not base_url:
        return ""
    if bundle.status == "creating" or not bundle.price_minor or not trainer.takes_card_payments:
        return ""
    token = links.pay(trainer.id, client.id, client.portal_generation, pack_target(bundle.id))
    return f"{base_url}{PAY_PATH}{token}"


@dataclass(frozen=True)
class PayLine:
    label: str  # "Wed 25 Nov 18:00–19:00"
    amount: str


@dataclass(frozen=True)
class PayPage:
    token: str
    trainer_name: str
    client_first_name: str
    lines: tuple[PayLine, ...]
    total: str  # formatted in the trainer's currency and locale
    problem: str  # why there is nothing to pay by card here ("" when Pay is offered)
    refunded: bool  # one session's link: its card payment was refunded (owed again)


@dataclass(frozen=True)
class _Payable:
    token: PayToken
    trainer: Trainer
    client: Client
    card: CardSettings
    sessions: tuple[Session, ...]
    amount_minor: int
    problem: str
    refunded: bool = False
    bundle: Bundle | None = None  # a pack's link: the bundle paid as a whole


def pay_page(deps: Deps, token: str) -> PayPage:
    return _page(_payable(deps, token), token)


def _page(payable: _Payable, token: str) -> PayPage:
    settings = payable.trainer.settings

    def money(minor: int) -> str:
        return format_money(minor, settings.currency, settings.locale)

    return PayPage(
        token=token,
        trainer_name=payable.trainer.display_name,
        client_first_name=payable.client.first_name,
        lines=(
            (PayLine(_pack_label(payable.bundle), money(payable.amount_minor)),)
            if payable.bundle is not None
            else tuple(PayLine(_line_label(s), money(owed_amount(s))) for s in payable.sessions)
        ),
        total=money(payable.amount_minor),
        problem=payable.problem,
        refunded=payable.refunded,
    )


def owed_amount(session: Session) -> int:
    """What paying this session by card settles: a no-show's or late cancel's fee, else
    its price (what it owed even if it was paid meanwhile, so a payment records it)."""
    if session.charged:
        return session.charge_minor or 0
    return session.price_minor or 0


def _pack_label(bundle: Bundle) -> str:
    return f"{bundle.title} (a pack of {bundle.sessions_planned} sessions)"


def _line_label(session: Session) -> str:
    if not session.charged:
        return session.label
    fee = "no-show fee" if session.status == "no_show" else "late-cancel fee"
    return f"{session.label} ({fee})"


def _payable(deps: Deps, text: str) -> _Payable:
    """The link's sessions and amount; NotFound for a forged or unknown link (its HMAC is
    checked before any read), LinkInactive for a rotated one or an archived client."""
    token = parse_pay_token(text)
    if token is None or not deps.links.is_pay(token):
        raise NotFound("pay link")
    whole = token.is_balance or token.pack_id is not None
    ref = None if whole else parse_session_ref(token.target)
    if not whole and ref is None:
        raise NotFound("pay link")
    view = CardPaymentStore(deps.repo.db).pay_view(token.trainer_id, token.client_id, ref)
    client = view.client
    if client.archived or client.portal_generation != token.generation:
        raise LinkInactive("rotated")
    bundle: Bundle | None = None
    if token.pack_id is not None:
        bundle, total, problem = _pack_payable(deps, token.trainer_id, client, token.pack_id)
        sessions, refunded = (), False
    elif token.is_balance:
        # The sessions still to come are read for one thing: a late cancel's fee is owed
        # at once, while its session's start is still ahead (`outstanding` keeps only
        # those of them, and the past).
        upcoming, past = deps.repo.client_sessions(
            token.trainer_id, client.id, deps.now, past_limit=MAX_SESSIONS
        )
        _total, owed = outstanding([*past, *upcoming], deps.now)
        # Stripe's metadata names each session: at most MAX_SESSIONS, the oldest first.
        sessions = tuple(owed[:MAX_SESSIONS])
        total = sum(unpaid_amount(s) for s in sessions)
        problem = "" if sessions else "There is nothing to pay just now. Thank you!"
        refunded = False
    else:
        session = view.session
        if session is None or session.client_id != client.id:
            raise NotFound("pay link")
        problem = _session_problem(session)
        sessions, total, refunded = (session,), unpaid_amount(session), session.refunded
    if not problem and not view.card.takes_payments:
        problem = (
            f"Card payments are not available just now: ask {view.trainer.display_name} how to pay."
        )
    return _Payable(
        token, view.trainer, client, view.card, sessions, total, problem, refunded, bundle
    )


def _pack_payable(
    deps: Deps, trainer_id: str, client: Client, bundle_id: str
) -> tuple[Bundle, int, str]:
    """A pack's link: the bundle (one GetItem) and its sessions (one BatchGetItem), what
    is owed for it (its price, less any session of it paid on its own), and why nothing
    is, if so. NotFound for another client's bundle or one never fully created."""
    programs = ProgramRepository(deps.repo.db)
    bundle = programs.get_bundle(trainer_id, bundle_id)
    if bundle.client_id != client.id or bundle.status == "creating":
        raise NotFound("pay link")
    if bundle.pack_paid:
        return bundle, 0, "This pack is paid. Thank you!"
    sessions = programs.bundle_sessions(trainer_id, bundle)
    paid_apart = sum(s.price_minor or 0 for s in sessions if s.paid and s.is_live)
    total = max(bundle.price_minor - paid_apart, 0)
    return bundle, total, "" if total else "There is nothing to pay for this pack."


def _session_problem(session: Session) -> str:
    if session.charged:  # a no-show's or late cancel's fee: paid like a session
        return "This fee is paid. Thank you!" if session.paid else ""
    if session.status in ("canceled", "voided", "moved"):
        return f"This session was {session.status}, so there is nothing to pay for it."
    if session.paid:
        return "This session is paid. Thank you!"
    if not session.price_minor:
        return "This session has no price, so there is nothing to pay by card."
    if not unpaid_amount(session):  # a no-show the policy charged nothing for
        return "Nothing is owed for this session."
    return ""


class CheckoutRefused(DomainError):
    """Nothing to pay here by card (the page says why): no Checkout Session is made.
    `page` is the pay page as just read, so the refusal is drawn without reading again."""

    def __init__(self, message: str, page: PayPage) -> None:
        super().__init__(message)
        self.page = page


class CheckoutUnavailable(DomainError):
    """Stripe did not answer, or refused the trainer's key: the client is told in words
    on `page` (None only where no page was read, inside `stripe_checkout`)."""

    def __init__(self, message: str, page: PayPage | None = None) -> None:
        super().__init__(message)
        self.page = page


# Makes the Checkout Session and returns its URL: `stripe_checkout` unless a test says.
CheckoutMaker = Callable[[str, dict[str, Any], str], str]


def start_checkout(deps: Deps, token: str, make: CheckoutMaker | None = None) -> str:
    """The Checkout Session's URL for this link's amount, made with the trainer's key."""
    payable = _payable(deps, token)
    if payable.problem:
        raise CheckoutRefused(payable.problem, _page(payable, token))
    trainer = payable.trainer
    try:
        key = card_secrets().read(trainer.id, SECRET_KEY, payable.card.key_ref)
    except whatsapp.NotConfigured as exc:
        log.warning("card payments of %s: no secret key: %s", trainer.id, exc)
        raise CheckoutUnavailable(_UNAVAILABLE, _page(payable, token)) from exc
    back = f"{deps.base_url}{PAY_PATH}{token}"
    refs = [s.ref for s in payable.sessions]
    params = checkout_params(payable, refs, back)
    # The same sessions at the same versions for the same amount are one Checkout Session
    # (Stripe keeps a key 24 hours): a double click sends the client to the same page.
    idempotency = hashlib.sha256(
        "|".join(
            [trainer.id, payable.client.id, str(payable.amount_minor), trainer.settings.currency]
            + [f"{s.id}@{s.version}" for s in payable.sessions]
            + ([f"pack:{payable.bundle.id}@{payable.bundle.version}"] if payable.bundle else [])
        ).encode()
    ).hexdigest()
    try:
        return (make or stripe_checkout)(key, params, idempotency)
    except CheckoutUnavailable as exc:
        raise CheckoutUnavailable(exc.user_message, _page(payable, token)) from exc
    except Exception as exc:  # the library's many errors: the client gets words, not a 500
        log.warning("Stripe checkout for %s failed: %s", trainer.id, type(exc).__name__)
        raise CheckoutUnavailable(_UNAVAILABLE, _page(payable, token)) from exc


_UNAVAILABLE = "Card payment is not available just now. Try again in a few minutes."


def checkout_params(payable: _Payable, refs: list[str], back: str) -> dict[str, Any]:
    trainer, client = payable.trainer, payable.client
    pack = payable.bundle
    metadata = session_metadata(trainer.id, client.id, refs, pack.id if pack else "")
    if pack is not None:
        what = f"{_pack_label(pack)} with {trainer.display_name}"
    elif len(payable.sessions) == 1:
        what = f"Session {payable.sessions[0].label} with {trainer.display_name}"
    else:
        what = f"{len(payable.sessions)} sessions with {trainer.display_name}"
    return {
        "mode": "payment",
        "payment_method_types": ["card"],
        "client_reference_id": f"{trainer.id}:{client.id}",
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": trainer.settings.currency.lower(),
                    "unit_amount": payable.amount_minor,
                    "product_data": {"name": what[:250]},
                },
            }
        ],
        "metadata": metadata,
        # The charge and its refunds carry the same names (refunds are matched by the
        # payment intent, but the names help whoever reads the Stripe dashboard).
        "payment_intent_data": {"metadata": metadata},
        "success_url": f"{back}?paid=1",
        "cancel_url": back,
    }


def stripe_api_base() -> str | None:
    return (os.environ.get(API_BASE_ENV) or "").strip() or None


def stripe_checkout(secret_key: str, params: dict[str, Any], idempotency_key: str) -> str:
    """One POST to Stripe's `/v1/checkout/sessions` with the trainer's key: plain HTTP
    rather than the `stripe` SDK, whose 13 MB would be a fifth of the Lambda bundle for
    this one call (docs/card-payments.md)."""
    import urllib.parse

    from chalicelib.messaging import http_post

    url = f"{stripe_api_base() or STRIPE_API}/v1/checkout/sessions"
    body = urllib.parse.urlencode(stripe_form(params)).encode()
    headers = {
        "Authorization": f"Bearer {secret_key}",
        "Content-Type": "application/x-www-form-urlencoded",
        "Idempotency-Key": idempotency_key,
        "Stripe-Version": STRIPE_API_VERSION,
        "User-Agent": "PT Bookings",
    }
    answer = http_post.post(url, body, headers, STRIPE_TIMEOUT_SECONDS, "Stripe")
    if isinstance(answer, http_post.Refused):
        error = http_post.json_object(answer.body).get("error")
        kind = error.get("type") if isinstance(error, dict) else None
        log.warning("Stripe refused a Checkout Session: %s %s", answer.status, kind or "")
        raise CheckoutUnavailable(_UNAVAILABLE)
    session_url = http_post.json_object(answer).get("url")
    if not isinstance(session_url, str) or not session_url.startswith("https://"):
        raise CheckoutUnavailable(_UNAVAILABLE)
    return session_url


# The webhook ------------------------------------------------------------------------------
def stripe_event_report(
    deps: Deps,
    trainer_id: str,
    payload: bytes,
    signature: str,
    secrets: whatsapp.TrainerSecrets | None = None,
) -> WebhookResult:
    """Verify, then apply: 403 for a forged or stale signature with nothing read but the
    trainer's connection and secret; 200 for an event applied, replayed or not ours."""
    if not _TRAINER_ID.fullmatch(trainer_id):
        return WebhookResult(404, body="unknown endpoint")
    store = CardPaymentStore(deps.repo.db)
    card = store.settings(trainer_id)
    if card is None or not card.webhook_secret_ref:
        return WebhookResult(404, body="unknown endpoint")
    try:
        secret = (secrets or card_secrets()).read(
            trainer_id, WEBHOOK_SECRET, card.webhook_secret_ref
        )
    except whatsapp.NotConfigured as exc:
        log.warning("Stripe webhook for %s: no signing secret: %s", trainer_id, exc)
        return WebhookResult(503, body="signing secret unavailable")  # Stripe retries
    try:
        verify_signature(payload, signature, secret, deps.now)
    except BadSignature as exc:
        log.warning("Stripe webhook for %s refused: %s", trainer_id, exc)
        return WebhookResult(403, body="bad signature")
    try:
        event = parse_event(payload)
    except MalformedEvent:
        return WebhookResult(400, body="not an event")
    try:
        if isinstance(event, CheckoutCompleted):
            return _apply_checkout(deps, store, trainer_id, event)
        if isinstance(event, ChargeRefunded):
            return _apply_refund(deps, store, trainer_id, event)
    except (VersionConflict, NotFound) as exc:
        # A session kept changing under three attempts, or went: Stripe retries later,
        # and what was applied is not applied twice.
        log.warning("Stripe event %s for %s not applied: %r", event.event_id, trainer_id, exc)
        return WebhookResult(409, body="changed meanwhile, retry")
    return WebhookResult(200, body="ignored")


def _apply_checkout(
    deps: Deps, store: CardPaymentStore, trainer_id: str, event: CheckoutCompleted
) -> WebhookResult:
    if not event.paid:
        return WebhookResult(200, body="not paid yet")
    if event.pack_id:
        return _apply_pack_checkout(deps, store, trainer_id, event)
    refs = [parse_session_ref(r) for r in event.session_refs]
    if event.trainer_id != trainer_id or not refs or None in refs:
        log.warning("Stripe event %s for %s names no session of theirs", event.event_id, trainer_id)
        return WebhookResult(200, body="not ours")
    found = store.sessions(trainer_id, [r for r in refs if r is not None])
    sessions = [found[r.id] for r in refs if r is not None and r.id in found]
    if len(sessions) != len(refs):
        log.warning("Stripe event %s names a session that is not there", event.event_id)
        return WebhookResult(200, body="not ours")
    done = store.marked(trainer_id, event.event_id, [s.id for s in sessions])
    paid = tuple(PaidSession(s.ref, s.id, owed_amount(s)) for s in sessions)
    marked = 0
    for index, session in enumerate(sessions):
        if session.id in done:
            continue
        # The first session's write also records the payment, so the payment exists
        # exactly when the first session was handled (a crash between two sessions
        # leaves a redelivery the rest to mark).
        record = (new_payment(trainer_id, event, paid, deps.now),) if index == 0 else ()
        marked += _mark_with_retry(deps, store, trainer_id, session, event, record)
    return WebhookResult(200, applied=marked > 0, body=f"marked {marked}")


def _apply_pack_checkout(
    deps: Deps, store: CardPaymentStore, trainer_id: str, event: CheckoutCompleted
) -> WebhookResult:
    """A pack's checkout: the pack paid by card, once per event (its `card_event` item,
    keyed by the bundle, goes in the claim's transaction with the payment's record). A
    pack paid meanwhile by hand is left as it is and the payment recorded, for the
    trainer to refund or keep."""
    programs = ProgramRepository(deps.repo.db)
    try:
        bundle = programs.get_bundle(trainer_id, event.pack_id)
    except NotFound:
        log.warning("Stripe event %s names a pack that is not there", event.event_id)
        return WebhookResult(200, body="not ours")
    if event.trainer_id != trainer_id or bundle.client_id != event.client_id:
        log.warning("Stripe event %s for %s names no pack of theirs", event.event_id, trainer_id)
        return WebhookResult(200, body="not ours")
    if store.marked(trainer_id, event.event_id, [bundle.id]):
        return WebhookResult(200, body="marked 0")
    trainer = deps.repo.get_trainer(trainer_id)
    if trainer is None:
        return WebhookResult(200, body="not ours")
    record = new_payment(trainer_id, event, (), deps.now)
    for _attempt in range(3):
        seen = event_seen(trainer_id, event.event_id, bundle.id, "paid", deps.now)
        try:
            packs.pay_pack_by_card(deps.repo, trainer, bundle, deps.now, also=[seen, record])
        except packs_rules.PackAlreadyPaid:
            log.warning(
                "Stripe payment %s for pack %s left: the pack was already paid (refund it "
                "in Stripe or keep it)",
                event.payment_intent,
                bundle.id,
            )
            left = event_seen(trainer_id, event.event_id, bundle.id, "already paid", deps.now)
            try:
                store.transact([left, record])
            except TransactionFailed as exc:
                if not exc.refused(EVENT_SEEN):
                    raise
            return WebhookResult(200, body="marked 0")
        except TransactionFailed as exc:
            if exc.refused(EVENT_SEEN):
                return WebhookResult(200, body="marked 0")  # another delivery marked it
            raise
        except VersionConflict:
            bundle = programs.get_bundle(trainer_id, bundle.id)
            continue
        return WebhookResult(200, applied=True, body="marked pack")
    raise VersionConflict()


def _mark_with_retry(
    deps: Deps,
    store: CardPaymentStore,
    trainer_id: str,
    session: Session,
    event: CheckoutCompleted,
    record: tuple[dict[str, Any], ...],
) -> int:
    """1 when this delivery marked the session, 0 when another one did (or it was left)."""
    for _attempt in range(3):
        try:
            return mark_paid_by_card(deps.repo, store, trainer_id, session, event, record, deps.now)
        except EventAlreadyApplied:
            return 0
        except VersionConflict:
            # The session changed between our read and our write: read it again.
            session = deps.repo.get_session(trainer_id, _ref_of(session))
    raise VersionConflict()


class EventAlreadyApplied(Exception):
    """Another delivery of this event (a replay, a retry at the same instant) marked it."""


def mark_paid_by_card(
    repo: Repository,
    store: CardPaymentStore,
    trainer_id: str,
    session: Session,
    event: CheckoutCompleted,
    record: tuple[dict[str, Any], ...],
    now: datetime,
) -> int:
    """One attempt, conditional on `session` as read and on the event not having marked
    it yet: VersionConflict for a stale session, EventAlreadyApplied for a replay."""
    updated, outcome = paid_by_card(session, event.client_id)
    seen = event_seen(trainer_id, event.event_id, session.id, outcome, now)
    if updated is None:
        log.warning(
            "Stripe payment %s for session %s left: %s (refund it in Stripe or keep it)",
            event.payment_intent,
            session.id,
            outcome,
        )
        try:
            store.transact([seen, *record])
        except TransactionFailed as exc:
            if exc.refused(EVENT_SEEN):
                raise EventAlreadyApplied() from exc
            raise
        return 0
    amount = format_money(owed_amount(session), event.currency or "GBP")
    try:
        repo.change_session(
            trainer_id,
            session,
            updated,
            "system",
            f"Paid by card through Stripe ({amount})",
            now,
            also=[seen, *record],
        )
    except VersionConflict as exc:
        cause = exc.__cause__
        if isinstance(cause, TransactionFailed) and cause.refused(EVENT_SEEN):
            raise EventAlreadyApplied() from exc
        raise
    return 1


def _ref_of(session: Session) -> SessionRef:
    return SessionRef(session.week, session.start_utc, session.id)


def _apply_refund(
    deps: Deps, store: CardPaymentStore, trainer_id: str, event: ChargeRefunded
) -> WebhookResult:
    payment = store.payment(trainer_id, event.payment_intent) if event.payment_intent else None
    if payment is None:
        log.warning("Stripe refund %s names no payment of %s", event.event_id, trainer_id)
        return WebhookResult(200, body="not ours")
    try:
        if event.currency and payment.currency and event.currency != payment.currency:
            raise OverRefund(f"refund in {event.currency} of a payment in {payment.currency}")
        given_back = sessions_refunded(
            [(s.id, s.price_minor) for s in payment.sessions],
            payment.amount_minor,
            event.refunded_minor,
        )
    except OverRefund as exc:
        # Never more owed back than was paid: refused, nothing written. 409 so the failed
        # delivery shows in the trainer's Stripe dashboard.
        log.warning("Stripe refund %s of %s refused: %s", event.event_id, trainer_id, exc)
        return WebhookResult(409, body="refund larger than the payment")
    if payment.pack_id:
        return _refund_pack(deps, store, trainer_id, payment, event)
    refunded = 0
    for paid in payment.sessions:
        if paid.id in given_back and paid.id not in payment.refunded_sessions:
            refunded += _refund_with_retry(deps, store, trainer_id, payment, paid, event)
    store.record_refund_total(trainer_id, payment.payment_intent, event.refunded_minor)
    return WebhookResult(200, applied=refunded > 0, body=f"refunded {refunded}")


def _refund_pack(
    deps: Deps,
    store: CardPaymentStore,
    trainer_id: str,
    payment: CardPayment,
    event: ChargeRefunded,
) -> WebhookResult:
    """A pack's card payment refunded: in full, the pack's sessions are owed again (once:
    the refund's part on the payment holds the bundle's id); in part, the refunded total
    is recorded and the pack stays paid (a partial refund is the trainer's gesture, not
    sessions given back)."""
    if event.refunded_minor < payment.amount_minor or payment.pack_id in payment.refunded_sessions:
        store.record_refund_total(trainer_id, payment.payment_intent, event.refunded_minor)
        return WebhookResult(200, body="refunded 0")
    programs = ProgramRepository(deps.repo.db)
    trainer = deps.repo.get_trainer(trainer_id)
    if trainer is None:
        return WebhookResult(200, body="not ours")
    given_back = 0
    for _attempt in range(3):
        bundle = programs.get_bundle(trainer_id, payment.pack_id)
        once = refund_once(
            trainer_id, payment.payment_intent, payment.pack_id, event.refunded_minor
        )
        try:
            if bundle.pack_paid and bundle.pack_payment_type == "card":
                packs.undo_pack_by_refund(deps.repo, trainer, bundle, deps.now, also=[once])
                given_back = 1
            else:  # the trainer changed its payment since: recorded on the payment only
                store.transact([once])
        except TransactionFailed as exc:
            if exc.refused(REFUND_ONCE):
                break  # another delivery gave it back
            raise
        except VersionConflict:
            continue
        break
    store.record_refund_total(trainer_id, payment.payment_intent, event.refunded_minor)
    return WebhookResult(200, applied=given_back > 0, body=f"refunded {given_back}")


def _refund_with_retry(
    deps: Deps,
    store: CardPaymentStore,
    trainer_id: str,
    payment: CardPayment,
    paid: PaidSession,
    event: ChargeRefunded,
) -> int:
    ref = parse_session_ref(paid.ref)
    if ref is None:
        return 0
    for _attempt in range(3):
        session = deps.repo.get_session(trainer_id, ref)
        once = refund_once(trainer_id, payment.payment_intent, paid.id, event.refunded_minor)
        updated = refunded_by_card(session)
        try:
            if updated is None:
                # Its payment was changed by the trainer since: the refund is recorded on
                # the payment only, and the session is left as the trainer set it.
                store.transact([once])
                return 0
            amount = format_money(paid.price_minor, payment.currency or "GBP")
            deps.repo.change_session(
                trainer_id,
                session,
                updated,
                "system",
                f"Card payment refunded through Stripe ({amount}): owed again",
                deps.now,
                also=[once],
            )
            return 1
        except (VersionConflict, TransactionFailed) as exc:
            cause = exc.__cause__ if isinstance(exc, VersionConflict) else exc
            if isinstance(cause, TransactionFailed) and cause.refused(REFUND_ONCE):
                return 0  # another delivery gave this session back
    raise VersionConflict()

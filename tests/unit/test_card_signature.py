"""Stripe's webhook signature as published (https://docs.stripe.com/webhooks#verify-manually):
`Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`, keyed by
the endpoint's signing secret, compared in constant time, 5 minutes' tolerance. Checked
with signatures computed here by hand and against the stripe library's own verifier; and
the other pure rules of card payments."""

from __future__ import annotations

import hashlib
import hmac
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.card_payments import (
    BadSignature,
    CardSettings,
    OverRefund,
    SaveCardSettings,
    parse_card_settings,
    parse_pay_token,
    pay_link_ref,
    sessions_refunded,
    signature_header,
    verify_signature,
)
from chalicelib.domain.clients import Client
from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.messages import LINK_PLACEHOLDER, LinkRef, Message
from chalicelib.services import links as links_module
from tests.conftest import ROOT

SECRET = "whsec_" + "c2VjcmV0LWZvci11bml0LXRlc3Rz"
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
T = int(NOW.timestamp())
BODY = b'{"id": "evt_1", "type": "checkout.session.completed", "data": {"object": {}}}'


def by_hand(payload: bytes, secret: str, timestamp: int) -> str:
    signed = f"{timestamp}.".encode() + payload
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def test_a_signature_computed_by_the_published_scheme_is_accepted() -> None:
    header = f"t={T},v1={by_hand(BODY, SECRET, T)}"
    verify_signature(BODY, header, SECRET, NOW)
    assert signature_header(BODY, SECRET, T) == header


def test_the_stripe_library_accepts_our_signature() -> None:
    import stripe

    stripe.WebhookSignature.verify_header(
        BODY.decode(), signature_header(BODY, SECRET, T), SECRET, tolerance=None
    )


def test_any_of_several_v1_signatures_may_match_and_v0_is_ignored() -> None:
    # Stripe sends one v1 per active secret while a secret is being rolled.
    header = f"t={T},v1={'0' * 64},v0={'1' * 64},v1={by_hand(BODY, SECRET, T)}"
    verify_signature(BODY, header, SECRET, NOW)


@pytest.mark.parametrize(
    "header",
    [
        "",
        "garbage",
        f"t={T}",
        f"v1={by_hand(BODY, SECRET, T)}",
        f"t=abc,v1={by_hand(BODY, SECRET, T)}",
        f"t={T},v0={by_hand(BODY, SECRET, T)}",  # only v1 counts
        f"t={T},v1={by_hand(BODY, 'whsec_other0000000000', T)}",  # another secret
        f"t={T + 1},v1={by_hand(BODY, SECRET, T)}",  # the timestamp is signed too
        f"t={T},v1={by_hand(BODY + b' ', SECRET, T)}",  # another body
    ],
)
def test_forged_signatures_are_refused(header: str) -> None:
    with pytest.raises(BadSignature):
        verify_signature(BODY, header, SECRET, NOW)


@pytest.mark.parametrize("seconds", [-301, 301, -3600, 86400])
def test_timestamps_outside_five_minutes_are_refused(seconds: int) -> None:
    header = signature_header(BODY, SECRET, T + seconds)
    with pytest.raises(BadSignature):
        verify_signature(BODY, header, SECRET, NOW)


@pytest.mark.parametrize("seconds", [-300, 0, 300])
def test_timestamps_inside_five_minutes_are_accepted(seconds: int) -> None:
    verify_signature(BODY, signature_header(BODY, SECRET, T + seconds), SECRET, NOW)


def test_an_empty_secret_verifies_nothing() -> None:
    with pytest.raises(BadSignature):
        verify_signature(BODY, signature_header(BODY, "", T), "", NOW)


# Keys ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("key", "mode"),
    [
        ("sk_test_" + "a1" * 12, "test"),
        ("sk_live_" + "B2" * 12, "live"),
        ("rk_live_" + "c" * 30, "live"),
    ],
)
def test_secret_keys_say_their_mode(key: str, mode: str) -> None:
    typed = parse_card_settings(
        SaveCardSettings.model_validate({"secret_key": key, "webhook_secret": SECRET}),
        CardSettings(),
    )
    assert typed.mode == mode and typed.secret_key == key


@pytest.mark.parametrize(
    "key", ["pk_test_" + "a" * 24, "sk_test_", "sk_prod_" + "a" * 24, "whsec_x"]
)
def test_publishable_or_malformed_keys_are_refused(key: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_card_settings(SaveCardSettings.model_validate({"secret_key": key}), CardSettings())
    assert list(refused.value.errors) == ["secret_key"]
    assert len(key) < 10 or key not in str(refused.value)  # a prefix is in the hint itself


# Refunds -------------------------------------------------------------------------------
PAID = [("a", 4000), ("b", 4000), ("c", 4000)]


@pytest.mark.parametrize(
    ("refunded", "given_back"),
    [
        (0, []),
        (3999, []),
        (4000, ["c"]),
        (5000, ["c"]),
        (8000, ["c", "b"]),
        (12000, ["a", "b", "c"]),
    ],
)
def test_refunds_give_back_whole_sessions_the_last_first(
    refunded: int, given_back: list[str]
) -> None:
    assert sorted(sessions_refunded(PAID, 12000, refunded)) == sorted(given_back)


def test_a_refund_past_the_payment_is_refused() -> None:
    with pytest.raises(OverRefund):
        sessions_refunded(PAID, 12000, 12001)


@given(st.lists(st.integers(1, 50_000), min_size=1, max_size=10), st.integers(0, 500_000))
def test_what_is_given_back_never_exceeds_what_was_refunded(
    prices: list[int], refunded: int
) -> None:
    paid = [(str(n), price) for n, price in enumerate(prices)]
    total = sum(prices)
    if refunded > total:
        with pytest.raises(OverRefund):
            sessions_refunded(paid, total, refunded)
        return
    back = set(sessions_refunded(paid, total, refunded))
    assert sum(price for sid, price in paid if sid in back) <= refunded


# The pay link --------------------------------------------------------------------------
def test_pay_links_round_trip_and_refuse_any_change() -> None:
    links = links_module.fixed(b"stage-secret")
    ref = "2026-W48.20261125T090000Z.abcdEFGH12"
    for target in (ref, None):
        token = links.pay("coach", "client-1", 3, target)
        parsed = parse_pay_token(token)
        assert parsed is not None and links.is_pay(parsed)
        assert parsed.target == (ref if target else "all")
        for forged in (
            token.replace("coach", "rival", 1),
            token.replace(".3.", ".4.", 1),
            token[:-1] + ("A" if token[-1] != "A" else "B"),
        ):
            found = parse_pay_token(forged)
            assert found is None or not links.is_pay(found)
    session_link = links.pay("coach", "client-1", 3, ref)
    balance_link = links.pay("coach", "client-1", 3, None)
    swapped = balance_link.rsplit(".", 1)[0] + "." + session_link.rsplit(".", 1)[1]
    found = parse_pay_token(swapped)
    assert found is not None and not links.is_pay(found)
    assert parse_pay_token("not.a.token") is None


def test_a_message_carries_the_pay_link_made_again_from_the_secret() -> None:
    links = links_module.fixed(b"stage-secret")
    ref = "2026-W48.20261125T090000Z.abcdEFGH12"
    for target in (ref, ""):
        link = LinkRef(
            kind="pay",
            base="https://book.example.com",
            trainer_id="coach",
            client_id="client-1",
            generation=2,
            target_id=target,
        )
        message = Message.model_construct(text=f"Pay by card: {LINK_PLACEHOLDER}", link=link)
        expected = links.pay("coach", "client-1", 2, target or None)
        assert (
            links.message_text(message) == f"Pay by card: https://book.example.com/pay/{expected}"
        )


def test_an_invoice_gets_a_pay_link_only_from_a_trainer_taking_card_payments() -> None:
    client = Client.model_construct(id="client-1", portal_generation=2)
    on = CardSettings(enabled=True, key_ref="k", webhook_secret_ref="w", version=1)
    ref = pay_link_ref("https://book.example.com", "coach", client, on, "2026-W48.x")
    assert ref is not None and (ref.kind, ref.generation, ref.target_id) == ("pay", 2, "2026-W48.x")
    assert pay_link_ref("https://book.example.com", "coach", client, CardSettings()) is None
    off = CardSettings(enabled=False, key_ref="k", webhook_secret_ref="w", version=1)
    assert pay_link_ref("https://book.example.com", "coach", client, off) is None
    assert pay_link_ref("", "coach", client, on) is None  # no address to send


def test_the_stripe_library_is_not_loaded_at_cold_start() -> None:
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, app; print('stripe' in sys.modules)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    assert loaded.stdout.strip() == "False"

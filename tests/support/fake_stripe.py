"""A local fake of Stripe's API for Checkout Sessions: records each request as Stripe
would get it (path, headers, the form-encoded fields with their bracketed names) and
answers like Stripe does; and signed webhook posts made as Stripe makes them."""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

from chalicelib.domain.card_payments import signature_header
from tests.support.fake_http import QuietHandler, serving

SECRET_KEY = "sk_test_" + "51Nq3xKfA0b2C4d6E8f" * 2
LIVE_KEY = "sk_live_" + "51Nq3xKfA0b2C4d6E8f" * 2
WEBHOOK_SECRET = "whsec_" + "Zm9yLXRlc3RzLW9ubHk" * 2


@dataclass
class StripeRequest:
    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, str]  # `line_items[0][price_data][currency]` -> "gbp"


@dataclass
class FakeStripe:
    url: str = ""
    status: int = 200
    requests: list[StripeRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # The same idempotency key answers the same session, as Stripe does for 24 hours.
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)

    def answer(self, request: StripeRequest) -> tuple[int, dict[str, Any]]:
        if self.status != 200:
            return self.status, {
                "error": {"type": "invalid_request_error", "message": "Invalid API Key provided"}
            }
        key = request.headers.get("idempotency-key") or f"none-{len(self.requests)}"
        with self.lock:
            if key not in self.sessions:
                number = len(self.sessions) + 1
                self.sessions[key] = {
                    "id": f"cs_test_{number:04d}",
                    "object": "checkout.session",
                    "url": f"https://checkout.stripe.com/c/pay/cs_test_{number:04d}",
                    "mode": request.form.get("mode"),
                    "payment_status": "unpaid",
                    "amount_total": int(
                        request.form.get("line_items[0][price_data][unit_amount]", "0")
                    ),
                }
        return 200, self.sessions[key]


@contextmanager
def fake_stripe() -> Iterator[FakeStripe]:
    fake = FakeStripe()

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            pairs = urllib.parse.parse_qs(raw.decode("utf-8"), keep_blank_values=True)
            recorded = StripeRequest(
                method="POST",
                path=self.requestline.split()[1],
                headers={k.lower(): v for k, v in self.headers.items()},
                form={k: v[0] for k, v in pairs.items()},
            )
            fake.requests.append(recorded)
            status, body = fake.answer(recorded)
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Request-Id", "req_fake")
            self.end_headers()
            self.wfile.write(payload)

    with serving(Handler) as url:
        fake.url = url
        yield fake


# Webhook posts ---------------------------------------------------------------------------
def completed_event(
    event_id: str,
    trainer_id: str,
    client_id: str,
    refs: list[str],
    amount: int,
    *,
    payment_intent: str = "pi_test_0001",
    currency: str = "gbp",
    payment_status: str = "paid",
    pack_id: str = "",
) -> bytes:
    metadata = {"trainer_id": trainer_id, "client_id": client_id}
    metadata.update({f"session_{n}": ref for n, ref in enumerate(refs)})
    if pack_id:
        metadata["pack_id"] = pack_id
    return _event(
        event_id,
        "checkout.session.completed",
        {
            "id": "cs_test_0001",
            "object": "checkout.session",
            "mode": "payment",
            "payment_status": payment_status,
            "status": "complete",
            "amount_total": amount,
            "currency": currency,
            "client_reference_id": f"{trainer_id}:{client_id}",
            "payment_intent": payment_intent,
            "metadata": metadata,
        },
    )


def refunded_event(
    event_id: str,
    amount: int,
    refunded: int,
    *,
    payment_intent: str = "pi_test_0001",
    currency: str = "gbp",
) -> bytes:
    return _event(
        event_id,
        "charge.refunded",
        {
            "id": "ch_test_0001",
            "object": "charge",
            "amount": amount,
            "amount_refunded": refunded,
            "currency": currency,
            "payment_intent": payment_intent,
            "refunded": refunded >= amount,
        },
    )


def _event(event_id: str, kind: str, thing: dict[str, Any]) -> bytes:
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "api_version": "2026-09-30.clover",
            "type": kind,
            "data": {"object": thing},
        }
    ).encode()


def signed(payload: bytes, timestamp: int, secret: str = WEBHOOK_SECRET) -> str:
    return signature_header(payload, secret, timestamp)


# Fixtures of the card-payment tests (tests/conftest.py makes them everyone's) ----------
@pytest.fixture
def card_stage(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A test stage with no proxy in the way of the local fakes, and no trainer's secret
    remembered from another test (the SSM reads are cached per container)."""
    from chalicelib.messaging import whatsapp

    monkeypatch.setenv("APP_STAGE", "test")
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    whatsapp.forget_secrets()
    yield
    whatsapp.forget_secrets()


@pytest.fixture
def stripe_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeStripe]:
    """The fake Stripe API, with the app's Checkout calls pointed at it."""
    from chalicelib.services import card_payments

    with fake_stripe() as fake:
        monkeypatch.setenv(card_payments.API_BASE_ENV, fake.url)
        yield fake

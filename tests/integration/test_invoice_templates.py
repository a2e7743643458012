"""An invoice with a card link sent as a WhatsApp template (outside the client's 24-hour
window) through the dispatcher, against the fake Twilio and Meta servers: on
`pt_invoice_v2` (bound as `invoice_card`) with the pay link as its own variable, and on
`pt_invoice_v1` unchanged where a stage binds only v1."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from chalicelib import runtime
from chalicelib.domain.card_payments import CardSettings
from chalicelib.domain.clients import Client
from chalicelib.domain.messages import Message
from chalicelib.domain.models import Trainer
from chalicelib.domain.tokens import new_id
from chalicelib.messaging import whatsapp
from chalicelib.repo.card_payments import CardPaymentStore
from chalicelib.repo.repository import Repository
from chalicelib.services import card_payments, dispatcher, messages
from tests.integration.test_meta_provider import FakeGraph, graph, meta_env  # noqa: F401 (the fixture)
from tests.integration.test_whatsapp_providers import (  # noqa: F401 (the fixture)
    FROM,
    MESSAGES_PATH,
    FakeTwilio,
    fake_twilio,
    twilio_env,
)
from tests.support.builders import NOW, add_client, add_location, add_slot, allocate, make_trainer
from tests.support.providers import no_provider_stage

BASE = "https://book.example.com"
V1_SID = "HX" + "0123456789abcdef" * 2
V2_SID = "HX" + "fedcba9876543210" * 2
BANK = "Payee: Alex Byrne; Bank: Monzo; Account number: 12345678; Sort code: 04-00-04"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    no_provider_stage(monkeypatch)
    for name in ("META_PHONE_NUMBER_ID", "META_ACCESS_TOKEN", "META_API_BASE", "PUBLIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    whatsapp._auth_tokens.clear()
    yield
    whatsapp._auth_tokens.clear()
    whatsapp.forget_secrets()


def _invoiced(
    repo: Repository, *, card: bool = True, email: str = "coach@example.com"
) -> tuple[Trainer, Client, Message, str]:
    """Priya's Wednesday session invoiced by a trainer with bank details (and card
    payments on): the trainer, the client, the queued message and its pay link."""
    trainer, studio = add_location(repo, make_trainer(repo, email))
    payment = trainer.settings.payment.model_copy(
        update={
            "payee_name": "Alex Byrne",
            "bank_name": "Monzo",
            "account_number": "12345678",
            "sort_code": "04-00-04",
        }
    )
    trainer = trainer.model_copy(
        update={"settings": trainer.settings.model_copy(update={"payment": payment})}
    )
    settings = CardSettings(enabled=card, key_ref="k1", webhook_secret_ref="w1", mode="test")
    CardPaymentStore(repo.db).save_settings(trainer.id, CardSettings(), settings)
    client = add_client(repo, trainer)
    booking = allocate(repo, trainer, add_slot(repo, trainer, studio), client)
    messages.send_invoice(repo, trainer, booking, new_id(), NOW, lambda: BASE)
    (message,) = repo.outbox.page(trainer.id, None, None)[0]
    link = card_payments.card_payment_link(
        runtime.links(), BASE, trainer.id, client, settings, booking.ref
    )
    return trainer, client, message, link or ""


def _opening(message: Message) -> list[str]:
    """v1's and v2's first five variables, as the invoice stored them."""
    return [message.variables[k] for k in ("first_name", "trainer", "when", "place", "amount")]


def test_twilio_sends_a_card_invoice_on_v2_with_the_pay_link(
    repo: Repository,
    fake_twilio: FakeTwilio,  # noqa: F811 (the fixture imported above)
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    twilio_env(monkeypatch, fake_twilio.url)
    monkeypatch.setenv(
        "WHATSAPP_TEMPLATES",
        json.dumps({"invoice": {"content_sid": V1_SID}, "invoice_card": {"content_sid": V2_SID}}),
    )
    _trainer, _client, message, link = _invoiced(repo)
    assert link.startswith(f"{BASE}/pay/") and message.link is not None

    report = dispatcher.dispatch(repo, NOW, runtime.message_sender())

    assert report.claimed == 1 and not report.failed, report
    (request,) = fake_twilio.requests
    assert request.path == MESSAGES_PATH
    values = [*_opening(message), link, BANK, message.variables["reference"]]
    assert {k: v for k, v in request.form.items() if k != "StatusCallback"} == {
        "From": f"whatsapp:{FROM}",
        "To": "whatsapp:+447400123456",
        "ContentSid": V2_SID,
        "ContentVariables": json.dumps(
            {str(n): value for n, value in enumerate(values, start=1)},
            ensure_ascii=False,
            separators=(",", ":"),
        ),
    }
    assert message.variables["amount"] == "£40.00"


def test_a_stage_bound_to_v1_only_sends_the_same_invoice_as_before(
    repo: Repository,
    fake_twilio: FakeTwilio,  # noqa: F811 (the fixture imported above)
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    twilio_env(monkeypatch, fake_twilio.url)
    monkeypatch.setenv("WHATSAPP_TEMPLATES", json.dumps({"invoice": {"content_sid": V1_SID}}))
    _trainer, _client, message, link = _invoiced(repo)

    report = dispatcher.dispatch(repo, NOW, runtime.message_sender())

    assert report.claimed == 1 and not report.failed, report
    (request,) = fake_twilio.requests
    values = [*_opening(message), BANK, message.variables["reference"]]
    assert request.form["ContentSid"] == V1_SID
    assert request.form["ContentVariables"] == json.dumps(
        {str(n): value for n, value in enumerate(values, start=1)},
        ensure_ascii=False,
        separators=(",", ":"),
    )
    assert link not in request.form["ContentVariables"]


def test_meta_sends_a_card_invoice_on_v2_and_one_without_card_payments_on_v1(
    repo: Repository,
    graph: FakeGraph,  # noqa: F811 (the fixture imported above)
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    meta_env(monkeypatch, graph.url)
    monkeypatch.setenv(
        "WHATSAPP_TEMPLATES",
        json.dumps(
            {"invoice": {"name": "pt_invoice_v1"}, "invoice_card": {"name": "pt_invoice_v2"}}
        ),
    )
    _trainer, _client, message, link = _invoiced(repo)
    _other, _client2, plain, _link = _invoiced(repo, card=False, email="other@example.com")
    # Card payments off: no pay link on the invoice (its one LinkRef is the PDF's, which
    # gives the card template no link).
    assert plain.link is not None and plain.link.kind == "invoice"
    assert "/pay/" not in runtime.links().message_text(plain)
    assert not dispatcher.link_url(runtime.links(), plain)

    report = dispatcher.dispatch(repo, NOW, runtime.message_sender())

    assert report.claimed == 2 and not report.failed, report
    sent = {r.body["template"]["name"]: r.body for r in graph.requests}
    assert set(sent) == {"pt_invoice_v1", "pt_invoice_v2"}
    assert sent["pt_invoice_v2"]["template"] == {
        "name": "pt_invoice_v2",
        "language": {"code": "en_GB"},
        "components": [
            {
                "type": "body",
                "parameters": [
                    {"type": "text", "text": value}
                    for value in [
                        *_opening(message),
                        link,
                        BANK,
                        message.variables["reference"],
                    ]
                ],
            }
        ],
    }
    v1 = sent["pt_invoice_v1"]["template"]["components"][0]["parameters"]
    assert [p["text"] for p in v1] == [*_opening(plain), BANK, plain.variables["reference"]]

"""Meta's WhatsApp Cloud API against a local fake of the Graph API that records the exact
requests; its settings from the environment; and its webhook (handshake, signature,
status updates) against the outbox on moto."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from chalicelib import runtime
from chalicelib.domain.clients import Client
from chalicelib.domain.messages import LinkRef, Message
from chalicelib.domain.schedule import Session
from chalicelib.messaging import meta, whatsapp
from chalicelib.messaging.delivery import NotConfigured, SecretUnreadable, SendError, SendResult
from chalicelib.messaging.meta import MetaProvider
from chalicelib.messaging.payloads import OutgoingWhatsApp, TemplateSend
from chalicelib.repo.repository import Repository
from chalicelib.services import dispatcher, messages, webhooks
from tests.support.builders import NOW, add_client, add_location, add_slot, allocate, make_trainer
from tests.support.fake_http import QuietHandler, serving

PHONE_NUMBER_ID = "106540352242922"
TOKEN = "EAAG-test-token"
VERSION = "v23.0"
WAMID = "wamid.HBgLNDQ3NDAwMTIzNDU2FQIAERgSQzM0RkU5QkQ2RjFBRjlGNjk2AA=="
APP_SECRET = "meta-app-secret"


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeGraph:
    url: str = ""
    status: int = 200
    body: bytes = json.dumps(
        {
            "messaging_product": "whatsapp",
            "contacts": [{"input": "+447400123456", "wa_id": "447400123456"}],
            "messages": [{"id": WAMID, "message_status": "accepted"}],
        }
    ).encode()
    delay: float = 0.0
    requests: list[Recorded] = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)

    def reply(self, status: int, body: Any) -> None:
        self.status = status
        self.body = json.dumps(body).encode() if isinstance(body, dict) else body


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    for name in (
        "WHATSAPP_PROVIDER",
        "WHATSAPP_TEMPLATES",
        "META_PHONE_NUMBER_ID",
        "META_ACCESS_TOKEN",
        "META_ACCESS_TOKEN_PARAM",
        "META_GRAPH_VERSION",
        "META_API_BASE",
        "META_APP_SECRET",
        "META_APP_SECRET_PARAM",
        "META_VERIFY_TOKEN",
        "META_VERIFY_TOKEN_PARAM",
    ):
        monkeypatch.delenv(name, raising=False)
    whatsapp.forget_secrets()
    yield
    whatsapp.forget_secrets()


@pytest.fixture
def graph() -> Iterator[FakeGraph]:
    fake = FakeGraph()

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            fake.requests.append(
                Recorded(
                    path=self.requestline.split()[1],
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=json.loads(raw),
                )
            )
            if fake.delay and fake.released.wait(fake.delay):
                return
            self.send_response(fake.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(fake.body)))
            self.end_headers()
            self.wfile.write(fake.body)

    with serving(Handler) as url:
        fake.url = url
        try:
            yield fake
        finally:
            fake.released.set()


def provider(fake: FakeGraph, timeout: float = 5.0) -> MetaProvider:
    return MetaProvider(PHONE_NUMBER_ID, TOKEN, VERSION, api_base=fake.url, timeout=timeout)


def send_error(p: MetaProvider) -> SendError:
    with pytest.raises(SendError) as caught:
        p.send(OutgoingWhatsApp(to="+447400123456", text="Hi"))
    return caught.value


# --- The requests ---------------------------------------------------------------------------


def test_free_form_text_is_a_text_message_with_a_bearer_token(graph: FakeGraph) -> None:
    text = "Hi Priya, see you at 9 & bring water 💪\nhttps://book.example.com/s/abc"
    message = OutgoingWhatsApp(to="+447400123456", text=text, reference="coach.2026-W48.sess1.msg1")
    result = provider(graph).send(message)

    assert result == SendResult("meta", WAMID)
    [request] = graph.requests
    assert request.path == f"/{VERSION}/{PHONE_NUMBER_ID}/messages"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["content-type"] == "application/json"
    assert request.body == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "+447400123456",
        "type": "text",
        "text": {"preview_url": False, "body": text},
        "biz_opaque_callback_data": "coach.2026-W48.sess1.msg1",
    }


def test_a_template_names_its_language_and_fills_the_body_parameters(graph: FakeGraph) -> None:
    template = TemplateSend(
        kind="confirmation",
        parameters=(
            "Priya",
            "Sam Carter PT",
            "Wed 25 Nov 09:00–10:00 2026",
            "Studio",
            "https://book.example.com/s/abc",
        ),
        name="pt_confirmation_v1",
        language="en_GB",
    )
    provider(graph).send(
        OutgoingWhatsApp(to="+447400123456", text="free-form text", template=template)
    )
    [request] = graph.requests
    assert request.body == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "+447400123456",
        "type": "template",
        "template": {
            "name": "pt_confirmation_v1",
            "language": {"code": "en_GB"},
            "components": [
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": "Priya"},
                        {"type": "text", "text": "Sam Carter PT"},
                        {"type": "text", "text": "Wed 25 Nov 09:00–10:00 2026"},
                        {"type": "text", "text": "Studio"},
                        {"type": "text", "text": "https://book.example.com/s/abc"},
                    ],
                }
            ],
        },
    }


def test_a_template_without_a_meta_name_is_refused_before_any_request(graph: FakeGraph) -> None:
    template = TemplateSend(kind="offer", parameters=("a",), content_sid="HX" + "0" * 32)
    with pytest.raises(SendError, match="No Meta template name"):
        provider(graph).send(OutgoingWhatsApp("+447400123456", "Hi", template=template))
    assert graph.requests == []


# --- Errors ---------------------------------------------------------------------------------


def graph_error(code: int, message: str, details: str = "") -> dict[str, Any]:
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
    if details:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    return {"error": {**error, "fbtrace_id": "AbCdEf"}}


@pytest.mark.parametrize(
    ("status", "body", "retryable", "provider_down", "starts"),
    [
        pytest.param(
            400,
            graph_error(
                131047,
                "(#131047) Re-engagement message",
                "Message failed to send because more than 24 hours have passed since the "
                "customer last replied to this number.",
            ),
            False,
            False,
            "Meta 131047: (#131047) Re-engagement message (Message failed to send because "
            "more than 24 hours have passed since the customer last replied to this "
            "number.): outside the 24-hour window",
            id="131047-outside-window",
        ),
        pytest.param(
            400,
            graph_error(131026, "(#131026) Message Undeliverable"),
            False,
            False,
            "Meta 131026: (#131026) Message Undeliverable: this number cannot receive",
            id="131026-undeliverable",
        ),
        pytest.param(
            400,
            graph_error(130429, "(#130429) Rate limit hit"),
            True,
            True,
            "Meta 130429",
            id="130429-throughput",
        ),
        pytest.param(
            400,
            graph_error(131056, "(#131056) (Business Account, Consumer Account) pair rate"),
            True,
            False,
            "Meta 131056",
            id="131056-pair-rate",
        ),
        pytest.param(
            401,
            graph_error(190, "Error validating access token: Session has expired"),
            True,
            True,
            "Meta 190: Error validating access token: Session has expired: the WhatsApp "
            "access token has expired",
            id="190-token-expired",
        ),
        pytest.param(
            400,
            graph_error(100, "(#100) Invalid parameter"),
            False,
            False,
            "Meta 100: (#100) Invalid parameter",
            id="100-invalid",
        ),
        pytest.param(
            400,
            graph_error(132001, "(#132001) Template name does not exist in the translation"),
            False,
            False,
            "Meta 132001",
            id="132001-no-template",
        ),
        pytest.param(
            503, b"<html>Service Unavailable</html>", True, False, "Meta HTTP 503", id="5xx-page"
        ),
        pytest.param(429, b"", True, True, "Meta HTTP 429", id="429-empty"),
    ],
)
def test_graph_errors_carry_metas_code_and_say_whether_to_retry(
    graph: FakeGraph,
    status: int,
    body: Any,
    retryable: bool,
    provider_down: bool,
    starts: str,
) -> None:
    graph.reply(status, body)
    error = send_error(provider(graph))
    assert error.message.startswith(starts), error.message
    assert (error.retryable, error.provider_down) == (retryable, provider_down)
    assert len(error.message) <= 300


def test_a_success_without_a_message_id_is_never_retried(graph: FakeGraph) -> None:
    graph.reply(200, {"messaging_product": "whatsapp", "messages": []})
    error = send_error(provider(graph))
    assert error.retryable is False and "no message id" in error.message


def test_a_slow_graph_api_times_out_as_retryable(graph: FakeGraph) -> None:
    graph.delay = 5.0
    error = send_error(provider(graph, timeout=0.2))
    assert error.retryable is True and error.message == "Meta did not answer within 0.2s."


def test_sends_time_out_well_under_the_lambdas_minute() -> None:
    assert MetaProvider(PHONE_NUMBER_ID, TOKEN).timeout <= 5


# --- Settings -------------------------------------------------------------------------------


def meta_env(monkeypatch: pytest.MonkeyPatch, api_base: str = "") -> None:
    monkeypatch.setenv("WHATSAPP_PROVIDER", "meta")
    monkeypatch.setenv("META_PHONE_NUMBER_ID", PHONE_NUMBER_ID)
    monkeypatch.setenv("META_ACCESS_TOKEN", TOKEN)
    if api_base:
        monkeypatch.setenv("META_API_BASE", api_base)


def test_meta_is_configured_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, graph: FakeGraph
) -> None:
    meta_env(monkeypatch, graph.url)
    monkeypatch.setenv("META_GRAPH_VERSION", "v24.0")
    chosen = whatsapp.provider_from_env()
    assert isinstance(chosen, MetaProvider) and chosen.name == "meta"
    chosen.send(OutgoingWhatsApp("+447400123456", "Hi"))
    assert graph.requests[0].path == f"/v24.0/{PHONE_NUMBER_ID}/messages"


def test_meta_defaults_to_the_graph_api_and_a_pinned_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    meta_env(monkeypatch)
    chosen = whatsapp.provider_from_env()
    assert isinstance(chosen, MetaProvider)
    assert (
        chosen.url
        == f"https://graph.facebook.com/{meta.DEFAULT_GRAPH_VERSION}/{PHONE_NUMBER_ID}/messages"
    )


@pytest.mark.parametrize(
    ("unset", "setting", "words"),
    [
        ("META_PHONE_NUMBER_ID", None, "META_PHONE_NUMBER_ID is missing"),
        ("META_ACCESS_TOKEN", None, "META_ACCESS_TOKEN_PARAM (or META_ACCESS_TOKEN) is missing"),
        (None, ("META_PHONE_NUMBER_ID", "+15550783881"), "META_PHONE_NUMBER_ID must be"),
        (None, ("META_GRAPH_VERSION", "latest"), "META_GRAPH_VERSION must look like"),
        (None, ("META_API_BASE", "graph.facebook.com"), "META_API_BASE must be an http(s) URL"),
    ],
)
def test_a_wrong_meta_setting_is_named(
    monkeypatch: pytest.MonkeyPatch,
    unset: str | None,
    setting: tuple[str, str] | None,
    words: str,
) -> None:
    meta_env(monkeypatch)
    if unset:
        monkeypatch.delenv(unset)
    if setting:
        monkeypatch.setenv(*setting)
    with pytest.raises(NotConfigured, match=words.replace("(", r"\(").replace(")", r"\)")):
        whatsapp.provider_from_env()


def test_the_access_token_comes_from_ssm_once(monkeypatch: pytest.MonkeyPatch) -> None:
    meta_env(monkeypatch)
    monkeypatch.delenv("META_ACCESS_TOKEN")
    monkeypatch.setenv("META_ACCESS_TOKEN_PARAM", "/pt/meta-token")
    reads: list[str] = []

    def reader(name: str) -> str:
        reads.append(name)
        return "ssm-token"

    assert whatsapp.meta_access_token(reader) == "ssm-token"
    assert isinstance(whatsapp.provider_from_env(reader), MetaProvider)
    assert reads == ["/pt/meta-token"]


def test_an_unreadable_token_says_which_parameter(monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.exceptions import ClientError

    meta_env(monkeypatch)
    monkeypatch.delenv("META_ACCESS_TOKEN")
    monkeypatch.setenv("META_ACCESS_TOKEN_PARAM", "/pt/meta-token")

    def denied(name: str) -> str:
        error = {"Error": {"Code": "AccessDeniedException", "Message": "no"}}
        raise ClientError(error, "GetParameter")  # type: ignore[arg-type]

    with pytest.raises(SecretUnreadable) as caught:
        whatsapp.provider_from_env(denied)
    assert str(caught.value) == (
        "could not read META_ACCESS_TOKEN_PARAM (/pt/meta-token) from SSM: AccessDeniedException"
    )


# --- The loop: send, then a signed status webhook -------------------------------------------


def _queued_confirmation(repo: Repository) -> tuple[str, Message]:
    """A booked session's confirmation, queued through the service (trainer id, message)."""
    trainer = make_trainer(repo)
    trainer, studio = add_location(repo, trainer)
    client = add_client(repo, trainer)
    booking = allocate(repo, trainer, add_slot(repo, trainer, studio), client)

    def session_link(person: Client, session: Session) -> LinkRef:
        return LinkRef(
            kind="session",
            base="https://book.example.com",
            trainer_id=trainer.id,
            client_id=person.id,
            generation=person.portal_generation,
            target_id=session.id,
        )

    messages.send_confirmation(repo, trainer, booking, "send-id-0001", session_link, NOW)
    (message,) = repo.outbox.page(trainer.id, None, None)[0]
    return trainer.id, message


def _signed(body: dict[str, Any]) -> tuple[bytes, str]:
    raw = json.dumps(body).encode()
    return raw, meta.signature(APP_SECRET, raw)


def _status(reference: str, status: str, **extra: Any) -> dict[str, Any]:
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {"phone_number_id": PHONE_NUMBER_ID},
                            "statuses": [
                                {
                                    "id": WAMID,
                                    "status": status,
                                    "timestamp": "1795424400",
                                    "recipient_id": "447400123456",
                                    "biz_opaque_callback_data": reference,
                                    **extra,
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }


def test_meta_send_then_signed_status_webhook_round_trip(
    repo: Repository, graph: FakeGraph, monkeypatch: pytest.MonkeyPatch
) -> None:
    meta_env(monkeypatch, graph.url)
    monkeypatch.setenv("META_APP_SECRET", APP_SECRET)
    trainer_id, queued = _queued_confirmation(repo)

    report = dispatcher.dispatch(repo, NOW, runtime.message_sender())

    assert report.claimed == 1 and not report.failed and not report.retried
    (request,) = graph.requests
    reference = f"{trainer_id}.{queued.ref}"
    assert request.body["type"] == "text" and "is confirmed" in request.body["text"]["body"]
    assert request.body["biz_opaque_callback_data"] == reference
    (sent,) = repo.outbox.page(trainer_id, None, None)[0]
    assert sent.status == "sent" and sent.provider == "meta" and sent.provider_id == WAMID

    raw, signature = _signed(_status(reference, "delivered"))
    forged = webhooks.meta_events(repo, raw, signature[:-2] + "00", NOW)
    assert forged.status == 403
    assert repo.outbox.page(trainer_id, None, None)[0][0].status == "sent"
    tampered = raw.replace(b"delivered", b"read")
    assert webhooks.meta_events(repo, tampered, signature, NOW).status == 403

    accepted = webhooks.meta_events(repo, raw, signature, NOW)
    assert accepted.status == 200 and accepted.applied
    assert repo.outbox.page(trainer_id, None, None)[0][0].status == "delivered"
    replay = webhooks.meta_events(repo, raw, signature, NOW)
    assert replay.status == 200 and not replay.applied

    late, late_signature = _signed(_status(reference, "sent"))
    assert not webhooks.meta_events(repo, late, late_signature, NOW).applied
    assert repo.outbox.page(trainer_id, None, None)[0][0].status == "delivered"


def test_a_failed_status_shows_metas_reason_in_words(
    repo: Repository, graph: FakeGraph, monkeypatch: pytest.MonkeyPatch
) -> None:
    meta_env(monkeypatch, graph.url)
    monkeypatch.setenv("META_APP_SECRET", APP_SECRET)
    trainer_id, queued = _queued_confirmation(repo)
    dispatcher.dispatch(repo, NOW, runtime.message_sender())
    errors = [{"code": 131047, "title": "Re-engagement message"}]
    raw, signature = _signed(_status(f"{trainer_id}.{queued.ref}", "failed", errors=errors))
    assert webhooks.meta_events(repo, raw, signature, NOW).applied
    (failed,) = repo.outbox.page(trainer_id, None, None)[0]
    assert failed.status == "failed"
    assert failed.error == (
        "WhatsApp reported failed (error 131047: Re-engagement message): outside the "
        "24-hour window: send the template, or send from your phone"
    )


def test_a_report_for_someone_elses_or_no_message_changes_nothing(
    repo: Repository, graph: FakeGraph, monkeypatch: pytest.MonkeyPatch
) -> None:
    meta_env(monkeypatch, graph.url)
    monkeypatch.setenv("META_APP_SECRET", APP_SECRET)
    trainer_id, queued = _queued_confirmation(repo)
    dispatcher.dispatch(repo, NOW, runtime.message_sender())
    for reference in ("", "garbage", f"other.{queued.ref}", f"{trainer_id}.2026-W48.x.y"):
        raw, signature = _signed(_status(reference, "read"))
        result = webhooks.meta_events(repo, raw, signature, NOW)
        assert result.status == 200 and not result.applied
    assert repo.outbox.page(trainer_id, None, None)[0][0].status == "sent"


def test_inbound_messages_go_to_the_given_sink(repo: Repository, monkeypatch) -> None:
    meta_env(monkeypatch)
    monkeypatch.setenv("META_APP_SECRET", APP_SECRET)
    body = _status("", "sent")
    value = body["entry"][0]["changes"][0]["value"]
    del value["statuses"]
    value["messages"] = [
        {
            "from": "447400123456",
            "id": "wamid.IN1",
            "timestamp": "1795424400",
            "type": "text",
            "text": {"body": "STOP"},
        }
    ]
    raw, signature = _signed(body)
    received: list[Any] = []
    result = webhooks.meta_events(repo, raw, signature, NOW, record=received.append)
    assert result.status == 200 and result.applied
    assert [(m.from_e164, m.text, m.provider_message_id) for m in received] == [
        ("+447400123456", "STOP", "wamid.IN1")
    ]


def test_the_handshake_answers_only_with_our_verify_token(monkeypatch) -> None:
    meta_env(monkeypatch)
    monkeypatch.setenv("META_VERIFY_TOKEN", "our-verify-token")
    good = {
        "hub.mode": "subscribe",
        "hub.verify_token": "our-verify-token",
        "hub.challenge": "1158201444",
    }
    assert webhooks.meta_verify(good) == webhooks.WebhookResult(200, body="1158201444")
    wrong = {**good, "hub.verify_token": "guess"}
    assert webhooks.meta_verify(wrong).status == 403


def test_metas_webhook_is_closed_unless_meta_is_the_provider(repo: Repository, monkeypatch) -> None:
    monkeypatch.setenv("META_APP_SECRET", APP_SECRET)
    monkeypatch.setenv("META_VERIFY_TOKEN", "our-verify-token")
    raw, signature = _signed(_status("x", "read"))
    assert webhooks.meta_events(repo, raw, signature, NOW).status == 404
    assert webhooks.meta_verify({"hub.mode": "subscribe"}).status == 404


def test_an_unconfigured_webhook_secret_answers_503_not_a_crash(
    repo: Repository, monkeypatch
) -> None:
    meta_env(monkeypatch)
    raw, signature = _signed(_status("x", "read"))
    assert webhooks.meta_events(repo, raw, signature, NOW).status == 503
    assert webhooks.meta_verify({"hub.mode": "subscribe"}).status == 503

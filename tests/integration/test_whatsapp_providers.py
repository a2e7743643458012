"""WhatsApp providers against a local fake of Twilio's Messages API, SSM under moto."""

from __future__ import annotations

import base64
import json
import socket
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chalicelib import runtime
from chalicelib.messaging import whatsapp
from chalicelib.messaging.whatsapp import (
    TWILIO_STATUSES,
    LogProvider,
    OutgoingWhatsApp,
    SendError,
    SendResult,
    TemplateSend,
    TwilioProvider,
    provider_from_env,
    twilio_auth_token,
    twilio_signature,
    valid_twilio_signature,
    wa_me_link,
)
from tests.support.fake_http import QuietHandler, serving

ACCOUNT_SID = "AC0123456789abcdef0123456789abcdef"
AUTH_TOKEN = "tok-3f9a"
FROM = "+14155238886"
MESSAGES_PATH = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    form: dict[str, str]


@dataclass
class FakeTwilio:
    """Answers every POST with the configured reply and records what it was sent."""

    url: str
    status: int = 201
    body: bytes = b'{"sid": "SM0123456789abcdef0123456789abcdef", "status": "queued"}'
    content_type: str = "application/json"
    delay: float = 0.0
    requests: list[Recorded] = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)

    def reply(self, status: int, body: Any, content_type: str = "application/json") -> None:
        self.status = status
        self.body = json.dumps(body).encode() if isinstance(body, dict) else body
        self.content_type = content_type


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # A proxy from the developer's shell would swallow requests meant for 127.0.0.1.
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    for name in (
        "WHATSAPP_PROVIDER",
        "TWILIO_ACCOUNT_SID",
        "TWILIO_AUTH_TOKEN",
        "TWILIO_AUTH_TOKEN_PARAM",
        "TWILIO_WHATSAPP_FROM",
        "TWILIO_API_BASE",
    ):
        monkeypatch.delenv(name, raising=False)
    # runtime.reset() does not know about this module's token cache.
    whatsapp._auth_tokens.clear()
    yield
    whatsapp._auth_tokens.clear()


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    fake = FakeTwilio(url="")

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            pairs = urllib.parse.parse_qs(
                raw.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(raw)
            )
            assert all(len(values) == 1 for values in pairs.values()), pairs
            fake.requests.append(
                Recorded(
                    # The request line, not self.path: the handler collapses a leading "//".
                    path=self.requestline.split()[1],
                    headers={k.lower(): v for k, v in self.headers.items()},
                    form={k: v[0] for k, v in pairs.items()},
                )
            )
            # An Event rather than sleep(): teardown releases a "slow" handler at once.
            if fake.delay and fake.released.wait(fake.delay):
                return
            self.send_response(fake.status)
            self.send_header("Content-Type", fake.content_type)
            self.send_header("Content-Length", str(len(fake.body)))
            self.end_headers()
            self.wfile.write(fake.body)

    with serving(Handler) as url:
        fake.url = url
        try:
            yield fake
        finally:
            fake.released.set()


def provider(fake: FakeTwilio, timeout: float = 5.0) -> TwilioProvider:
    return TwilioProvider(ACCOUNT_SID, AUTH_TOKEN, FROM, api_base=fake.url, timeout=timeout)


def send_error(p: TwilioProvider) -> SendError:
    with pytest.raises(SendError) as caught:
        p.send(OutgoingWhatsApp(to="+447400123456", text="Hi"))
    return caught.value


# --- TwilioProvider: the request ------------------------------------------------------------


def test_twilio_posts_the_message_form_with_basic_auth_and_returns_the_sid(
    fake_twilio: FakeTwilio,
) -> None:
    text = "Session moved to Tue 09:00 & see you 💪\nReply STOP to opt out"
    callback = "https://pt.example.com/webhooks/twilio/status?m=abc"
    result = provider(fake_twilio).send(
        OutgoingWhatsApp(to="+447400123456", text=text, status_callback=callback)
    )

    assert result == SendResult("twilio", "SM0123456789abcdef0123456789abcdef")
    [request] = fake_twilio.requests
    assert request.path == MESSAGES_PATH
    expected_auth = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    assert request.headers["authorization"] == f"Basic {expected_auth}"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.form == {
        "From": "whatsapp:+14155238886",
        "To": "whatsapp:+447400123456",
        "Body": text,
        "StatusCallback": callback,
    }


def test_twilio_leaves_out_status_callback_when_there_is_none(fake_twilio: FakeTwilio) -> None:
    fake_twilio.reply(200, {"sid": "SMfeed"})
    result = provider(fake_twilio).send(OutgoingWhatsApp(to="+447400123456", text="Hi"))

    assert result.provider_id == "SMfeed"
    [request] = fake_twilio.requests
    assert "StatusCallback" not in request.form
    assert set(request.form) == {"From", "To", "Body"}


def test_a_trailing_slash_on_the_api_base_does_not_double_up(fake_twilio: FakeTwilio) -> None:
    p = TwilioProvider(ACCOUNT_SID, AUTH_TOKEN, FROM, api_base=fake_twilio.url + "/")
    p.send(OutgoingWhatsApp(to="+447400123456", text="Hi"))
    assert fake_twilio.requests[0].path == MESSAGES_PATH


CONTENT_SID = "HX" + "0123456789abcdef" * 2


def test_a_template_goes_as_content_sid_and_variables_never_as_body(
    fake_twilio: FakeTwilio,
) -> None:
    # Twilio's "Send a message with a Content Template": ContentSid plus ContentVariables,
    # a JSON object keyed "1", "2", …; Body and MediaUrl left out (error 63016 otherwise).
    template = TemplateSend(
        kind="confirmation",
        parameters=(
            "Priya",
            "Sam Carter PT",
            "Wed 25 Nov 09:00–10:00 2026",
            "Studio 1",
            "https://book.example.com/s/abc",
        ),
        content_sid=CONTENT_SID,
    )
    callback = "https://pt.example.com/webhooks/twilio/status?m=abc"
    message = OutgoingWhatsApp(
        to="+447400123456",
        text="the free-form text",
        status_callback=callback,
        template=template,
    )
    result = provider(fake_twilio).send(message)

    assert result == SendResult("twilio", "SM0123456789abcdef0123456789abcdef")
    [request] = fake_twilio.requests
    assert request.path == MESSAGES_PATH
    assert request.form == {
        "From": "whatsapp:+14155238886",
        "To": "whatsapp:+447400123456",
        "ContentSid": CONTENT_SID,
        "ContentVariables": json.dumps(
            {
                "1": "Priya",
                "2": "Sam Carter PT",
                "3": "Wed 25 Nov 09:00–10:00 2026",
                "4": "Studio 1",
                "5": "https://book.example.com/s/abc",
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ),
        "StatusCallback": callback,
    }
    assert json.loads(request.form["ContentVariables"])["3"] == "Wed 25 Nov 09:00–10:00 2026"


def test_a_template_without_a_content_sid_is_refused_before_any_request(
    fake_twilio: FakeTwilio,
) -> None:
    template = TemplateSend(kind="offer", parameters=("a",), name="pt_offer_v1")
    with pytest.raises(SendError) as caught:
        provider(fake_twilio).send(OutgoingWhatsApp("+447400123456", "Hi", template=template))
    assert not caught.value.retryable and "Content SID" in caught.value.message
    assert fake_twilio.requests == []


def test_sends_time_out_well_under_the_lambdas_minute() -> None:
    assert TwilioProvider(ACCOUNT_SID, AUTH_TOKEN, FROM).timeout <= 5


def test_account_throttling_pauses_twilio_for_the_run(fake_twilio: FakeTwilio) -> None:
    fake_twilio.reply(429, {"code": 20429, "message": "Too Many Requests", "status": 429})
    error = send_error(provider(fake_twilio))
    assert error.retryable and error.provider_down and error.code == "20429"
    fake_twilio.reply(400, {"code": 21211, "message": "Invalid 'To'", "status": 400})
    error = send_error(provider(fake_twilio))
    assert not error.provider_down and error.code == "21211"


# --- TwilioProvider: errors -----------------------------------------------------------------


def test_a_twilio_client_error_is_final_and_explains_itself(fake_twilio: FakeTwilio) -> None:
    twilio_message = "The 'To' number +447400123456 is not a valid phone number."
    fake_twilio.reply(
        400,
        {
            "code": 21211,
            "message": twilio_message,
            "more_info": "https://www.twilio.com/docs/errors/21211",
            "status": 400,
        },
    )
    error = send_error(provider(fake_twilio))

    assert error.retryable is False
    assert error.message == f"Twilio 21211: {twilio_message}"
    assert str(error) == error.message


def test_bad_credentials_are_not_retried(fake_twilio: FakeTwilio) -> None:
    fake_twilio.reply(401, {"code": 20003, "message": "Authenticate", "status": 401})
    error = send_error(provider(fake_twilio))
    assert error.retryable is False
    assert error.message == "Twilio 20003: Authenticate"


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (429, {"code": 20429, "message": "Too Many Requests", "status": 429}, "20429"),
        (503, {"code": 20503, "message": "Service unavailable", "status": 503}, "20503"),
        (503, b"", "HTTP 503"),
    ],
)
def test_throttling_and_server_errors_are_retryable(
    fake_twilio: FakeTwilio, status: int, body: Any, expected: str
) -> None:
    fake_twilio.reply(status, body)
    error = send_error(provider(fake_twilio))
    assert error.retryable is True
    assert expected in error.message


def test_a_non_json_error_page_still_gives_a_clear_retryable_error(
    fake_twilio: FakeTwilio,
) -> None:
    fake_twilio.reply(500, b"<html><body><h1>Internal Server Error</h1></body></html>", "text/html")
    error = send_error(provider(fake_twilio))
    assert error.retryable is True
    assert error.message == "Twilio HTTP 500: Internal Server Error"


def test_a_success_without_a_sid_is_reported_not_crashed_on(fake_twilio: FakeTwilio) -> None:
    fake_twilio.reply(201, b"not json", "text/plain")
    error = send_error(provider(fake_twilio))
    # The message may have gone out: a retry could send it twice.
    assert error.retryable is False
    assert "SID" in error.message


def test_a_refused_connection_is_retryable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # The port is closed now, so the connection is refused.
    p = TwilioProvider(ACCOUNT_SID, AUTH_TOKEN, FROM, api_base=f"http://127.0.0.1:{port}")
    error = send_error(p)
    assert error.retryable is True
    assert error.message.startswith("Could not reach Twilio")


def test_a_slow_twilio_times_out_as_retryable(fake_twilio: FakeTwilio) -> None:
    fake_twilio.delay = 5.0
    error = send_error(provider(fake_twilio, timeout=0.2))
    assert error.retryable is True
    assert error.message == "Twilio did not answer within 0.2s."


def test_a_malformed_api_base_is_a_final_send_error() -> None:
    p = TwilioProvider(ACCOUNT_SID, AUTH_TOKEN, FROM, api_base="api.twilio.com")
    error = send_error(p)
    assert error.retryable is False


# --- LogProvider ----------------------------------------------------------------------------


def test_the_log_provider_prints_the_message_and_a_wa_me_link(
    capsys: pytest.CaptureFixture[str],
) -> None:
    message = OutgoingWhatsApp(to="+447400123456", text="See you at 9 & bring water\n")
    result = LogProvider(show_content=True).send(message)

    assert capsys.readouterr().out == (
        "--- WhatsApp to +447400123456\n"
        "See you at 9 & bring water\n"
        "---\n"
        "Send from your phone: "
        "https://wa.me/447400123456?text=See%20you%20at%209%20%26%20bring%20water%0A\n"
    )
    assert result.provider == "log"
    assert result.provider_id.startswith("log-")
    assert len(result.provider_id) > len("log-") + 8
    assert LogProvider(show_content=True).send(message).provider_id != result.provider_id


# --- provider_from_env ----------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, "", "log"])
def test_log_is_the_default_provider(monkeypatch: pytest.MonkeyPatch, value: str | None) -> None:
    if value is not None:
        monkeypatch.setenv("WHATSAPP_PROVIDER", value)
    chosen = provider_from_env()
    assert isinstance(chosen, LogProvider)
    assert chosen.name == "log"


def twilio_env(monkeypatch: pytest.MonkeyPatch, api_base: str) -> None:
    monkeypatch.setenv("WHATSAPP_PROVIDER", "twilio")
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", ACCOUNT_SID)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    monkeypatch.setenv("TWILIO_WHATSAPP_FROM", FROM)
    monkeypatch.setenv("TWILIO_API_BASE", api_base)


def test_twilio_is_configured_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, fake_twilio: FakeTwilio
) -> None:
    twilio_env(monkeypatch, fake_twilio.url)
    chosen = provider_from_env()
    assert isinstance(chosen, TwilioProvider)
    assert chosen.name == "twilio"

    result = chosen.send(OutgoingWhatsApp(to="+447400123456", text="Hi"))
    assert result.provider == "twilio"
    [request] = fake_twilio.requests
    assert request.path == MESSAGES_PATH
    expected_auth = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    assert request.headers["authorization"] == f"Basic {expected_auth}"
    assert request.form["From"] == "whatsapp:+14155238886"


def test_the_twilio_api_base_defaults_to_twilio(monkeypatch: pytest.MonkeyPatch) -> None:
    twilio_env(monkeypatch, "")
    chosen = provider_from_env()
    assert isinstance(chosen, TwilioProvider)
    assert chosen.api_base == "https://api.twilio.com"


def test_a_sender_copied_with_its_whatsapp_prefix_is_not_doubled(
    monkeypatch: pytest.MonkeyPatch, fake_twilio: FakeTwilio
) -> None:
    twilio_env(monkeypatch, fake_twilio.url)
    monkeypatch.setenv("TWILIO_WHATSAPP_FROM", "whatsapp:+14155238886")
    provider_from_env().send(OutgoingWhatsApp(to="+447400123456", text="Hi"))
    assert fake_twilio.requests[0].form["From"] == "whatsapp:+14155238886"


def test_an_unknown_provider_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WHATSAPP_PROVIDER", "carrier-pigeon")
    with pytest.raises(RuntimeError, match="WHATSAPP_PROVIDER 'carrier-pigeon'"):
        provider_from_env()


@pytest.mark.parametrize("missing", ["TWILIO_ACCOUNT_SID", "TWILIO_WHATSAPP_FROM"])
def test_a_missing_twilio_setting_is_named(monkeypatch: pytest.MonkeyPatch, missing: str) -> None:
    twilio_env(monkeypatch, "https://api.twilio.com")
    monkeypatch.delenv(missing)
    with pytest.raises(RuntimeError, match=missing):
        provider_from_env()


def test_a_missing_twilio_auth_token_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    twilio_env(monkeypatch, "https://api.twilio.com")
    monkeypatch.delenv("TWILIO_AUTH_TOKEN")
    with pytest.raises(RuntimeError, match=r"TWILIO_AUTH_TOKEN.*TWILIO_AUTH_TOKEN_PARAM"):
        provider_from_env()
    with pytest.raises(RuntimeError, match=r"TWILIO_AUTH_TOKEN.*TWILIO_AUTH_TOKEN_PARAM"):
        twilio_auth_token()


def test_a_non_http_api_base_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    twilio_env(monkeypatch, "api.twilio.com")
    with pytest.raises(RuntimeError, match="TWILIO_API_BASE"):
        provider_from_env()


TOKEN_PARAM = "/pt-bookings/prod/twilio-auth-token"


@pytest.fixture
def ssm(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-2")
    monkeypatch.delenv("AWS_REGION", raising=False)
    # A client cached outside mock_aws would talk to the real endpoint, and vice versa.
    runtime.reset()
    with mock_aws():
        yield boto3.client("ssm", region_name="eu-west-2")
    runtime.reset()


def test_the_auth_token_comes_from_ssm_once_per_process(
    monkeypatch: pytest.MonkeyPatch, ssm: Any, fake_twilio: FakeTwilio
) -> None:
    ssm.put_parameter(Name=TOKEN_PARAM, Value="ssm-token-77", Type="SecureString")
    twilio_env(monkeypatch, fake_twilio.url)
    monkeypatch.delenv("TWILIO_AUTH_TOKEN")
    monkeypatch.setenv("TWILIO_AUTH_TOKEN_PARAM", TOKEN_PARAM)

    assert twilio_auth_token() == "ssm-token-77"
    ssm.delete_parameter(Name=TOKEN_PARAM)
    # Gone from SSM, so this only passes if the first read was cached.
    assert twilio_auth_token() == "ssm-token-77"

    provider_from_env().send(OutgoingWhatsApp(to="+447400123456", text="Hi"))
    expected_auth = base64.b64encode(f"{ACCOUNT_SID}:ssm-token-77".encode()).decode()
    assert fake_twilio.requests[0].headers["authorization"] == f"Basic {expected_auth}"


def test_a_direct_auth_token_wins_over_the_ssm_parameter(
    monkeypatch: pytest.MonkeyPatch, ssm: Any
) -> None:
    # No such parameter: reading SSM would raise ParameterNotFound.
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "direct-token")
    monkeypatch.setenv("TWILIO_AUTH_TOKEN_PARAM", TOKEN_PARAM)
    assert twilio_auth_token() == "direct-token"


# --- Webhook signatures ---------------------------------------------------------------------

# Twilio's request-validation example: auth token 12345, this URL and these POST params.
# Expected signature as published in Twilio's own helper-library tests
# (twilio/twilio-python tests/unit/test_request_validator.py, self.expected) and the
# validation example in the twilio-php/twilio-python docs.
DOC_TOKEN = "12345"
DOC_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
DOC_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+14158675309",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
}
DOC_SIGNATURE = "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def test_the_signature_matches_twilios_documented_example() -> None:
    assert twilio_signature(DOC_TOKEN, DOC_URL, DOC_PARAMS) == DOC_SIGNATURE
    assert valid_twilio_signature(DOC_TOKEN, DOC_URL, DOC_PARAMS, DOC_SIGNATURE) is True


def test_the_order_params_arrive_in_does_not_matter() -> None:
    reversed_params = dict(reversed(list(DOC_PARAMS.items())))
    assert list(reversed_params) != list(DOC_PARAMS)
    assert valid_twilio_signature(DOC_TOKEN, DOC_URL, reversed_params, DOC_SIGNATURE) is True


@pytest.mark.parametrize(
    ("token", "url", "params"),
    [
        pytest.param(DOC_TOKEN, DOC_URL, {**DOC_PARAMS, "Digits": "1235"}, id="changed-param"),
        pytest.param(DOC_TOKEN, DOC_URL, {**DOC_PARAMS, "Extra": ""}, id="added-param"),
        pytest.param(
            DOC_TOKEN, DOC_URL, {k: v for k, v in DOC_PARAMS.items() if k != "To"}, id="dropped"
        ),
        pytest.param(DOC_TOKEN, DOC_URL.replace("foo=1", "foo=2"), DOC_PARAMS, id="changed-url"),
        pytest.param("54321", DOC_URL, DOC_PARAMS, id="wrong-token"),
    ],
)
def test_any_change_invalidates_the_signature(token: str, url: str, params: dict[str, str]) -> None:
    assert valid_twilio_signature(token, url, params, DOC_SIGNATURE) is False


@pytest.mark.parametrize(
    "signature",
    ["", "garbage", "not base64 !!", DOC_SIGNATURE[:-1], DOC_SIGNATURE + "=", "ü", "\ud800"],
)
def test_empty_or_garbage_signatures_are_invalid(signature: str) -> None:
    assert valid_twilio_signature(DOC_TOKEN, DOC_URL, DOC_PARAMS, signature) is False


def test_signature_checking_never_raises_on_odd_input() -> None:
    assert valid_twilio_signature(DOC_TOKEN, DOC_URL, {"Body": "\ud800"}, DOC_SIGNATURE) is False
    not_a_str: Any = None
    assert valid_twilio_signature(DOC_TOKEN, DOC_URL, {"Body": not_a_str}, DOC_SIGNATURE) is False


# --- wa.me links and statuses ---------------------------------------------------------------


def test_wa_me_links_use_bare_digits_and_encode_the_text() -> None:
    assert wa_me_link("+44 7400-123456", "Hi & welcome?\nSee you 💪 at 50% effort/") == (
        "https://wa.me/447400123456"
        "?text=Hi%20%26%20welcome%3F%0ASee%20you%20%F0%9F%92%AA%20at%2050%25%20effort%2F"
    )


def test_twilio_statuses_map_to_delivery_statuses() -> None:
    assert TWILIO_STATUSES == {
        "queued": None,
        "accepted": None,
        "scheduled": None,
        "sending": None,
        "sent": "sent",
        "delivered": "delivered",
        "read": "read",
        "failed": "failed",
        "undelivered": "failed",
        "canceled": "failed",
    }

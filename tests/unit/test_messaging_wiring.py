"""Messaging is handed its settings and secrets (it never imports runtime); runtime, the
composition root, hands in the stage's. No AWS here: the SES and SSM clients are fakes."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from botocore.exceptions import ClientError

from chalicelib import runtime
from chalicelib.messaging import email, whatsapp
from chalicelib.messaging.delivery import SendError, SendResult

MESSAGE = email.Email("priya@example.com", "Your session", "See you on Wednesday.")


class FakeSes:
    def __init__(self, error_code: str | None = None) -> None:
        self.sent: list[dict[str, Any]] = []
        self.error_code = error_code

    def send_email(self, **request: Any) -> dict[str, str]:
        if self.error_code:
            error = {"Error": {"Code": self.error_code, "Message": "no"}}
            raise ClientError(error, "SendEmail")  # type: ignore[arg-type]
        self.sent.append(request)
        return {"MessageId": f"ses-{len(self.sent)}"}


class FakeSsm:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.reads: list[str] = []

    # boto3's own keyword names, so the code under test calls it exactly as it calls SSM.
    def get_parameter(self, Name: str, WithDecryption: bool) -> dict[str, Any]:
        assert WithDecryption
        self.reads.append(Name)
        return {"Parameter": {"Value": self.values[Name]}}


def _no_client() -> Any:
    raise AssertionError("the console provider must not build an SES client")


def test_console_email_is_printed_and_builds_no_client(
    capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APP_STAGE", "test")  # local stages print the whole email
    console = email.EmailSettings("console", "", _no_client)
    email.send(MESSAGE, console)
    result = email.send_outbox_email("a@example.com", "Hi", "Text", console)
    assert "email to priya@example.com: Your session" in capsys.readouterr().out
    assert result.provider == "console"


@pytest.mark.parametrize("stage", ["dev", "prod", ""])
def test_a_console_email_on_a_deployed_stage_logs_that_it_was_printed_not_what(
    stage: str,
    capsys: pytest.CaptureFixture,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Unset counts as deployed, like Config's default stage (dev).
    monkeypatch.setenv("APP_STAGE", stage)
    caplog.set_level("DEBUG")
    console = email.EmailSettings("console", "", _no_client)
    email.send(email.Email("priya@example.com", "Sign in", "Go to https://x/c/tok"), console)
    result = email.send_outbox_email("a@example.com", "Hi", "Text", console)
    logged = capsys.readouterr().out + caplog.text
    assert "email logged, not sent" in logged
    assert not [
        word for word in ("priya@", "a@example.com", "Sign in", "tok", "Text") if word in logged
    ]
    assert result.provider == "console"


def test_ses_email_goes_from_the_given_sender() -> None:
    ses = FakeSes()
    settings = email.EmailSettings("ses", "coach@ptbookings.example", lambda: ses)
    email.send(MESSAGE, settings)
    result = email.send_outbox_email("a@example.com", "Hi", "Text", settings)
    assert [r["FromEmailAddress"] for r in ses.sent] == ["coach@ptbookings.example"] * 2
    assert result == SendResult("ses", "ses-2")


def test_ses_refusals_keep_their_meaning() -> None:
    refused = email.EmailSettings("ses", "x@example.com", lambda: FakeSes("MessageRejected"))
    with pytest.raises(email.EmailNotSent):
        email.send(MESSAGE, refused)
    with pytest.raises(SendError) as raised:
        email.send_outbox_email("a@example.com", "Hi", "Text", refused)
    assert not raised.value.retryable
    throttled = email.EmailSettings("ses", "x@example.com", lambda: FakeSes("Throttling"))
    with pytest.raises(SendError) as raised:
        email.send_outbox_email("a@example.com", "Hi", "Text", throttled)
    assert raised.value.retryable


def test_runtime_hands_email_the_stage_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMAIL_PROVIDER", "ses")
    monkeypatch.setenv("EMAIL_SENDER", "coach@ptbookings.example")
    ses = FakeSes()
    monkeypatch.setattr(runtime, "aws_client", lambda service: {"sesv2": ses}[service])
    email.send(MESSAGE)  # no settings given: the composition root's
    assert ses.sent[0]["FromEmailAddress"] == "coach@ptbookings.example"


def test_a_replaced_runtime_config_reaches_email(monkeypatch: pytest.MonkeyPatch) -> None:
    # Functional tests switch the provider this way, outside any request.
    original = runtime.config
    monkeypatch.setenv("EMAIL_PROVIDER", "ses")
    monkeypatch.setattr(
        runtime, "config", lambda: dataclasses.replace(original(), email_provider="console")
    )
    monkeypatch.setattr(runtime, "aws_client", lambda service: _no_client())
    email.send(MESSAGE)  # reading the environment directly would ask for an SES client


def test_unwired_email_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(email, "_settings", None)
    with pytest.raises(RuntimeError, match="not configured"):
        email.send(MESSAGE)


def test_the_twilio_token_is_read_with_the_given_reader_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN_PARAM", "/pt/twilio")
    reads: list[str] = []

    def reader(name: str) -> str:
        reads.append(name)
        return "from-reader"

    assert whatsapp.twilio_auth_token(reader) == "from-reader"
    assert whatsapp.twilio_auth_token(reader) == "from-reader"
    assert reads == ["/pt/twilio"]  # cached for the container's life


def test_runtime_hands_whatsapp_its_ssm_reader_and_reset_forgets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN_PARAM", "/pt/twilio")
    ssm = FakeSsm({"/pt/twilio": "from-ssm"})
    monkeypatch.setattr(runtime, "aws_client", lambda service: {"ssm": ssm}[service])
    assert whatsapp.twilio_auth_token() == "from-ssm"
    assert whatsapp.twilio_auth_token() == "from-ssm"
    assert ssm.reads == ["/pt/twilio"]
    runtime.reset()  # between moto blocks: a token read from one must not leak
    assert whatsapp.twilio_auth_token() == "from-ssm"
    assert ssm.reads == ["/pt/twilio"] * 2


def test_unwired_whatsapp_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN_PARAM", "/pt/twilio")
    monkeypatch.setattr(whatsapp, "_read_secret", None)
    with pytest.raises(RuntimeError, match="No secret reader"):
        whatsapp.twilio_auth_token()

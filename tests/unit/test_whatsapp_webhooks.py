"""The providers' webhooks read into neutral types (messaging/meta.py, messaging/twilio.py):
Meta's GET handshake, its X-Hub-Signature-256, its inbound messages and status updates,
and Twilio's inbound form and status callbacks. Pure: no table, no network."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.messaging import meta, twilio
from chalicelib.messaging.payloads import Inbound, StatusUpdate
from chalicelib.services import webhooks

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SECRET = "app-secret-123"
# HMAC-SHA256 of BODY under SECRET, computed with `openssl dgst -sha256 -hmac`, not with
# the code under test.
BODY = b'{"object":"whatsapp_business_account","entry":[]}'
BODY_SIGNATURE = "sha256=20e391a99a86fc5adf7e3a453236d20c906360291977896cf2f671e03bb95703"


# --- Meta: the GET handshake ----------------------------------------------------------------


def handshake(**overrides: str) -> dict[str, str]:
    return {
        "hub.mode": "subscribe",
        "hub.verify_token": "our-verify-token",
        "hub.challenge": "1158201444",
        **overrides,
    }


def test_the_handshake_answers_metas_challenge_with_our_token() -> None:
    assert meta.verify_challenge(handshake(), "our-verify-token") == "1158201444"


@pytest.mark.parametrize(
    "params",
    [
        handshake(**{"hub.verify_token": "guess"}),
        handshake(**{"hub.verify_token": ""}),
        handshake(**{"hub.verify_token": "our-verify-toke"}),
        handshake(**{"hub.verify_token": "\ud800"}),
        handshake(**{"hub.mode": "unsubscribe"}),
        {"hub.challenge": "1", "hub.verify_token": "our-verify-token"},
        handshake(**{"hub.challenge": "<script>alert(1)</script>"}),
        handshake(**{"hub.challenge": ""}),
    ],
)
def test_a_wrong_token_mode_or_odd_challenge_is_refused(params: dict[str, str]) -> None:
    assert meta.verify_challenge(params, "our-verify-token") is None


def test_no_configured_token_refuses_every_handshake() -> None:
    assert meta.verify_challenge(handshake(**{"hub.verify_token": ""}), "") is None


# --- Meta: X-Hub-Signature-256 --------------------------------------------------------------


def test_the_signature_is_hmac_sha256_of_the_raw_body() -> None:
    assert meta.signature(SECRET, BODY) == BODY_SIGNATURE
    assert meta.valid_signature(SECRET, BODY, BODY_SIGNATURE) is True
    assert meta.valid_signature(SECRET, BODY, BODY_SIGNATURE.upper().replace("SHA", "sha"))


@pytest.mark.parametrize(
    ("secret", "body", "header"),
    [
        (SECRET, BODY + b" ", BODY_SIGNATURE),  # a byte added
        (SECRET, BODY.replace(b"[]", b"[{}]"), BODY_SIGNATURE),
        ("other-secret", BODY, BODY_SIGNATURE),
        (SECRET, BODY, BODY_SIGNATURE.removeprefix("sha256=")),  # no prefix
        (SECRET, BODY, "sha1=" + BODY_SIGNATURE.removeprefix("sha256=")),
        (SECRET, BODY, BODY_SIGNATURE[:-1]),
        (SECRET, BODY, ""),
        (SECRET, BODY, "sha256=ü"),
        (SECRET, BODY, "sha256=\ud800"),
        ("", BODY, meta.signature("", BODY)),  # no secret configured: nothing is valid
    ],
)
def test_any_change_or_garbage_fails_the_signature(secret: str, body: bytes, header: str) -> None:
    assert meta.valid_signature(secret, body, header) is False


# --- Meta: inbound messages and statuses ----------------------------------------------------


def webhook(value: dict[str, Any]) -> bytes:
    """Meta's envelope around one change, as documented for the messages field."""
    return json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "102290129340398",
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {
                                    "display_phone_number": "15550783881",
                                    "phone_number_id": "106540352242922",
                                },
                                **value,
                            },
                        }
                    ],
                }
            ],
        }
    ).encode()


def test_an_inbound_text_becomes_a_neutral_inbound() -> None:
    body = webhook(
        {
            "contacts": [{"profile": {"name": "Priya"}, "wa_id": "447400123456"}],
            "messages": [
                {
                    "from": "447400123456",
                    "id": "wamid.HBgLNDQ3NDAwMTIzNDU2FQIAEhg=",
                    "timestamp": "1795424400",
                    "type": "text",
                    "text": {"body": "Can we move Wednesday?\nThanks"},
                }
            ],
        }
    )
    assert meta.parse_events(body).inbound == [
        Inbound(
            provider="meta",
            from_e164="+447400123456",
            to="106540352242922",
            text="Can we move Wednesday?\nThanks",
            provider_message_id="wamid.HBgLNDQ3NDAwMTIzNDU2FQIAEhg=",
            received_at=NOW,
            kind="text",
        )
    ]


@pytest.mark.parametrize(
    ("message", "kind", "text"),
    [
        ({"type": "button", "button": {"text": "STOP", "payload": "p"}}, "button", "STOP"),
        (
            {"type": "interactive", "interactive": {"button_reply": {"id": "1", "title": "Yes"}}},
            "interactive",
            "Yes",
        ),
        ({"type": "image", "image": {"id": "m1", "caption": "my form"}}, "image", "my form"),
        ({"type": "audio", "audio": {"id": "m2"}}, "audio", ""),
    ],
)
def test_other_inbound_types_keep_their_words(message: dict, kind: str, text: str) -> None:
    item = {"from": "447400123456", "id": "wamid.X", "timestamp": "1795424400", **message}
    (found,) = meta.parse_events(webhook({"messages": [item]})).inbound
    assert (found.kind, found.text) == (kind, text)


def test_status_updates_carry_our_reference_and_errors() -> None:
    body = webhook(
        {
            "statuses": [
                {
                    "id": "wamid.A",
                    "status": "delivered",
                    "timestamp": "1795424400",
                    "recipient_id": "447400123456",
                    "biz_opaque_callback_data": "coach.2026-W48.s1.m1",
                },
                {
                    "id": "wamid.B",
                    "status": "failed",
                    "timestamp": "1795424460",
                    "recipient_id": "447400123456",
                    "biz_opaque_callback_data": "coach.2026-W48.s1.m2",
                    "errors": [
                        {
                            "code": 131047,
                            "title": "Re-engagement message",
                            "message": "Re-engagement message",
                            "error_data": {
                                "details": "Message failed to send because more "
                                "than 24 hours have passed"
                            },
                        }
                    ],
                },
                {"id": "wamid.C", "status": "deleted", "timestamp": "1795424400"},
            ]
        }
    )
    delivered, failed, deleted = meta.parse_events(body).statuses
    assert delivered == StatusUpdate(
        provider="meta",
        provider_message_id="wamid.A",
        status="delivered",
        error_code=None,
        error_title=None,
        at=NOW,
        reference="coach.2026-W48.s1.m1",
    )
    assert (failed.status, failed.error_code, failed.error_title) == (
        "failed",
        "131047",
        "Re-engagement message",
    )
    assert meta.failure_text(failed) == (
        "WhatsApp reported failed (error 131047: Re-engagement message): outside the "
        "24-hour window: send the template, or send from your phone"
    )
    assert deleted.status is None  # nothing we record


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        json.dumps({"object": "page", "entry": []}).encode(),
        json.dumps({"object": "whatsapp_business_account", "entry": "x"}).encode(),
        webhook({"messages": "x", "statuses": [1, "2"]}),
        webhook({"messages": [{"from": "+447400123456", "id": "w", "timestamp": "1"}]}),
        webhook({"messages": [{"from": "447400123456", "timestamp": "1", "type": "text"}]}),
        webhook({"messages": [{"from": "447400123456", "id": "w", "timestamp": "soon"}]}),
        webhook({"statuses": [{"id": "w", "status": "read", "timestamp": None}]}),
        webhook({"statuses": [{"status": "read", "timestamp": "1"}]}),
    ],
)
def test_shapes_we_do_not_know_are_skipped_not_guessed(body: bytes) -> None:
    events = meta.parse_events(body)
    assert events.inbound == [] and events.statuses == []


def test_changes_of_other_fields_are_ignored() -> None:
    body = json.loads(webhook({"messages": []}))
    body["entry"][0]["changes"][0]["field"] = "account_update"
    body["entry"][0]["changes"][0]["value"]["messages"] = [
        {"from": "447400123456", "id": "w", "timestamp": "1", "type": "text"}
    ]
    assert meta.parse_events(json.dumps(body).encode()).inbound == []


# --- Twilio: inbound and status forms -------------------------------------------------------


def twilio_inbound_form(**overrides: str) -> dict[str, str]:
    return {
        "MessageSid": "SM0123456789abcdef0123456789abcdef",
        "AccountSid": "AC0123456789abcdef0123456789abcdef",
        "From": "whatsapp:+447400123456",
        "To": "whatsapp:+14155238886",
        "Body": "STOP",
        "NumMedia": "0",
        "ProfileName": "Priya",
        "WaId": "447400123456",
        **overrides,
    }


def test_a_twilio_inbound_form_becomes_a_neutral_inbound() -> None:
    assert twilio.inbound(twilio_inbound_form(), NOW) == Inbound(
        provider="twilio",
        from_e164="+447400123456",
        to="+14155238886",
        text="STOP",
        provider_message_id="SM0123456789abcdef0123456789abcdef",
        received_at=NOW,
        kind="text",
    )
    with_media = twilio.inbound(twilio_inbound_form(NumMedia="1", Body=""), NOW)
    assert with_media is not None and with_media.kind == "media"


@pytest.mark.parametrize(
    "overrides",
    [
        {"From": "+447400123456"},  # an SMS, not WhatsApp
        {"From": "whatsapp:447400123456"},
        {"From": "whatsapp:+44 7400"},
        {"MessageSid": ""},
    ],
)
def test_a_twilio_inbound_we_cannot_read_is_none(overrides: dict[str, str]) -> None:
    assert twilio.inbound(twilio_inbound_form(**overrides), NOW) is None


def test_a_twilio_status_callback_becomes_a_neutral_update() -> None:
    form = {"MessageSid": "SM1", "MessageStatus": "undelivered", "ErrorCode": "63016"}
    update = twilio.status_update(form, "coach.2026-W48.s1.m1", NOW)
    assert update == StatusUpdate(
        provider="twilio",
        provider_message_id="SM1",
        status="failed",
        error_code="63016",
        error_title="Twilio reported undelivered",
        at=NOW,
        reference="coach.2026-W48.s1.m1",
    )
    assert twilio.failure_text(update) == (
        "Twilio reported undelivered (error 63016): outside the 24-hour window: send the "
        "template, or send from your phone"
    )
    queued = twilio.status_update({"MessageSid": "SM1", "MessageStatus": "queued"}, "", NOW)
    assert queued.status is None


# --- Twilio: the inbound webhook handler ----------------------------------------------------

BASE = "https://book.example.com/api"
INBOUND_URL = BASE + "/webhooks/twilio/inbound"


@pytest.fixture
def twilio_stage(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WHATSAPP_PROVIDER", "twilio")
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "twilio-token")


def test_a_signed_inbound_goes_to_the_sink(twilio_stage: None) -> None:
    form = twilio_inbound_form()
    signed = twilio.signature("twilio-token", INBOUND_URL, form)
    received: list[Inbound] = []
    result = webhooks.twilio_inbound(BASE, form, signed, NOW, received.append)
    assert result == webhooks.WebhookResult(204, applied=True)
    assert [m.provider_message_id for m in received] == ["SM0123456789abcdef0123456789abcdef"]


@pytest.mark.parametrize("forgery", ["token", "url", "param", "none"])
def test_a_forged_inbound_is_refused_before_anything_is_recorded(
    twilio_stage: None, forgery: str
) -> None:
    form = twilio_inbound_form()
    url = INBOUND_URL.replace("/api", "/other") if forgery == "url" else INBOUND_URL
    signed = twilio.signature("wrong" if forgery == "token" else "twilio-token", url, form)
    if forgery == "param":
        form["Body"] = "START"
    received: list[Inbound] = []
    given = "" if forgery == "none" else signed
    assert webhooks.twilio_inbound(BASE, form, given, NOW, received.append).status == 403
    assert received == []


def test_without_a_public_url_no_inbound_can_be_checked(twilio_stage: None) -> None:
    form = twilio_inbound_form()
    signed = twilio.signature("twilio-token", "/webhooks/twilio/inbound", form)
    assert webhooks.twilio_inbound("", form, signed, NOW).status == 403


def test_the_inbound_webhook_is_closed_unless_twilio_is_the_provider(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WHATSAPP_PROVIDER", "meta")
    form = twilio_inbound_form()
    signed = twilio.signature("twilio-token", INBOUND_URL, form)
    assert webhooks.twilio_inbound(BASE, form, signed, NOW).status == 404


def test_an_inbound_without_a_readable_token_answers_503(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WHATSAPP_PROVIDER", "twilio")
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    monkeypatch.delenv("TWILIO_AUTH_TOKEN_PARAM", raising=False)
    assert webhooks.twilio_inbound(BASE, twilio_inbound_form(), "sig", NOW).status == 503


# --- Which of our messages a client answered ------------------------------------------------
REPLIED_SID = "SM" + "ab" * 16


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        (REPLIED_SID, REPLIED_SID),
        ("MM" + "0f" * 16, "MM" + "0f" * 16),
        ("", ""),
        ("SM123", ""),  # not a SID: shown nowhere
        ("<script>", ""),
    ],
)
def test_a_twilio_reply_names_the_message_it_answers(given: str, kept: str) -> None:
    found = twilio.inbound(twilio_inbound_form(OriginalRepliedMessageSid=given), NOW)
    assert found is not None and found.replied_to == kept


@pytest.mark.parametrize(
    ("context", "kept"),
    [
        (
            {"from": "15550783881", "id": "wamid.HBgLNDQ3NDAwMTIzNDU2FQIAERgSQUM="},
            "wamid.HBgLNDQ3NDAwMTIzNDU2FQIAERgSQUM=",
        ),
        ({"from": "15550783881", "id": "not-a-wamid"}, ""),
        ({"from": "15550783881"}, ""),
        ("wamid.x", ""),  # context must be an object
    ],
)
def test_a_meta_reply_names_the_message_it_answers(context: object, kept: str) -> None:
    message = {
        "from": "447400123456",
        "id": "wamid.HBgLNDQ3NDAwMTIzNDU2FQIAEhg=",
        "timestamp": "1795424400",
        "type": "text",
        "text": {"body": "Yes please"},
        "context": context,
    }
    (found,) = meta.parse_events(webhook({"messages": [message]})).inbound
    assert found.replied_to == kept

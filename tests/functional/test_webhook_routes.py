"""The providers' webhook routes (web/webhook_views.py) through the real app: Twilio's
inbound, Meta's handshake and signed events, and item 12's "No delivery report"."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlencode

import pytest

from chalicelib import runtime
from chalicelib.messaging import meta, whatsapp
from chalicelib.repo import keys
from chalicelib.services import dispatcher
from tests.functional.conftest import TIMING, Browser
from tests.functional.test_locations_and_template import add_location
from tests.functional.test_messages import send
from tests.functional.test_schedule_pages import add_client, allocate, new_slot, slots_on

BASE = "http://testserver"
TWILIO_TOKEN = "twilio-test-token"
APP_SECRET = "meta-app-secret"
VERIFY_TOKEN = "our-verify-token"
WAMID = "wamid.HBgMNDQ3NDAwMTIzNDU2FQIAERgSQUFBQUFBQUFBQUFBQUFBQUFBAA=="


@pytest.fixture
def public_base(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUBLIC_BASE_URL", BASE)


@pytest.fixture
def twilio_stage(monkeypatch: pytest.MonkeyPatch, public_base: None) -> None:
    # The test stage says "log"; the webhook code asks these functions.
    monkeypatch.setattr(whatsapp, "configured_provider", lambda: "twilio")
    monkeypatch.setattr(whatsapp, "twilio_auth_token", lambda: TWILIO_TOKEN)


@pytest.fixture
def meta_stage(monkeypatch: pytest.MonkeyPatch, public_base: None) -> None:
    monkeypatch.setattr(whatsapp, "configured_provider", lambda: "meta")
    monkeypatch.setattr(whatsapp, "meta_app_secret", lambda: APP_SECRET)
    monkeypatch.setattr(whatsapp, "meta_verify_token", lambda: VERIFY_TOKEN)


@pytest.fixture
def booked(trainer: Browser, clock) -> str:
    """The session URL of Priya on Thursday 26 Nov 09:00 (three days after `clock`)."""
    studio = add_location(trainer, "Studio")
    client = add_client(trainer, "Priya Shah")
    new_slot(trainer, "2026-11-26", "09:00", "10:00", studio)
    ((week, slot_id),) = slots_on(trainer, "2026-W48")
    return allocate(trainer, week, slot_id, client).location.split("?")[0]


def _tid(trainer: Browser) -> str:
    return trainer.cookies["pt_session"].split(".")[0]


def _sent_confirmation(trainer: Browser, session_url: str, clock, provider: str) -> str:
    """Queue a confirmation and send it through a fake `provider`; its webhook reference."""
    send(trainer, session_url, "confirm")
    repo = runtime.repository()

    def fake_send(_t: str, _m) -> whatsapp.SendResult:
        return whatsapp.SendResult(provider, WAMID)

    dispatcher.dispatch(repo, clock.now, fake_send)
    ((message,), _) = repo.outbox.page(_tid(trainer), None, None)
    assert message.status == "sent"
    return f"{_tid(trainer)}.{message.ref}"


def _status_in_log(trainer: Browser, session_url: str) -> str:
    found = re.search(
        r"Confirmation by WhatsApp <span class=\"badge badge-(\w+)\"", trainer.get(session_url).body
    )
    assert found
    return found.group(1)


def _db_calls(response: Any) -> int:
    headers = {k.lower(): v for k, v in response.headers.items()}
    match = TIMING.search(headers.get("server-timing", ""))
    assert match, headers
    return int(match.group(2))


# Posting as the provider: no cookies, no CSRF token, only the provider's signature.
def _post_twilio(trainer: Browser, path: str, params: dict[str, str], signature: str | None):
    headers = {"host": "testserver", "content-type": "application/x-www-form-urlencoded"}
    if signature is not None:
        headers["x-twilio-signature"] = signature
    return trainer.client.http.post(path, headers=headers, body=urlencode(params).encode())


def _post_meta(trainer: Browser, raw: bytes, signature: str | None):
    headers = {"host": "testserver", "content-type": "application/json"}
    if signature is not None:
        headers["x-hub-signature-256"] = signature
    return trainer.client.http.post("/webhooks/meta", headers=headers, body=raw)


def _meta_get(trainer: Browser, **params: str):
    return trainer.client.http.get(
        f"/webhooks/meta?{urlencode(params)}", headers={"host": "testserver"}
    )


def _meta_status(reference: str, status: str) -> bytes:
    status_item = {
        "id": WAMID,
        "status": status,
        "timestamp": "1795424400",
        "recipient_id": "447400123456",
        "biz_opaque_callback_data": reference,
    }
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"phone_number_id": "106540352242922"},
        "statuses": [status_item],
    }
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": value}]}],
    }
    return json.dumps(body).encode()


def _meta_inbound() -> bytes:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"phone_number_id": "106540352242922"},
        "messages": [
            {
                "from": "447400123456",
                "id": "wamid.IN1",
                "timestamp": "1795424400",
                "type": "text",
                "text": {"body": "See you Thursday"},
            }
        ],
    }
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": value}]}],
    }
    return json.dumps(body).encode()


# Twilio inbound ---------------------------------------------------------------------------
INBOUND = {
    "MessageSid": "SM0123456789abcdef0123456789abcdef",
    "AccountSid": "AC0123456789abcdef0123456789abcdef",
    "From": "whatsapp:+447400123456",
    "To": "whatsapp:+14155238886",
    "Body": "See you Thursday",
    "NumMedia": "0",
    "WaId": "447400123456",
}
INBOUND_URL = BASE + "/webhooks/twilio/inbound"


def test_a_signed_twilio_inbound_is_answered_204_without_a_session_and_kept(
    trainer: Browser, twilio_stage: None
) -> None:
    signature = whatsapp.twilio_signature(TWILIO_TOKEN, INBOUND_URL, INBOUND)
    response = _post_twilio(trainer, "/webhooks/twilio/inbound", INBOUND, signature)
    assert response.status_code == 204
    # Who has the number (ClientsByPhone), then the one write of the message.
    assert _db_calls(response) == 2


@pytest.mark.parametrize("forgery", ["token", "url", "param", "none"])
def test_a_forged_twilio_inbound_is_refused_before_any_read(
    trainer: Browser, twilio_stage: None, forgery: str
) -> None:
    params = dict(INBOUND)
    url = INBOUND_URL.replace("testserver", "evil.example") if forgery == "url" else INBOUND_URL
    signature = whatsapp.twilio_signature(
        "wrong" if forgery == "token" else TWILIO_TOKEN, url, params
    )
    if forgery == "param":
        params["Body"] = "STOP"
    given = None if forgery == "none" else signature
    response = _post_twilio(trainer, "/webhooks/twilio/inbound", params, given)
    assert response.status_code == 403
    assert _db_calls(response) == 0


def test_the_twilio_inbound_route_is_closed_on_a_stage_that_does_not_use_twilio(
    trainer: Browser, public_base: None
) -> None:
    signature = whatsapp.twilio_signature(TWILIO_TOKEN, INBOUND_URL, INBOUND)
    response = _post_twilio(trainer, "/webhooks/twilio/inbound", INBOUND, signature)
    assert response.status_code == 404 and _db_calls(response) == 0


# Meta handshake ---------------------------------------------------------------------------
HANDSHAKE = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "115820"}


def test_the_meta_handshake_echoes_the_challenge_as_plain_text(
    trainer: Browser, meta_stage: None
) -> None:
    response = _meta_get(trainer, **HANDSHAKE)
    assert response.status_code == 200 and response.body == b"115820"
    assert response.headers["Content-Type"].startswith("text/plain")


def test_a_meta_handshake_with_a_wrong_token_is_refused(trainer: Browser, meta_stage: None) -> None:
    response = _meta_get(trainer, **{**HANDSHAKE, "hub.verify_token": "guess"})
    assert response.status_code == 403 and b"115820" not in response.body


def test_the_meta_routes_are_closed_on_a_stage_that_does_not_use_meta(
    trainer: Browser, public_base: None
) -> None:
    assert _meta_get(trainer, **HANDSHAKE).status_code == 404
    raw = _meta_status("x", "read")
    response = _post_meta(trainer, raw, meta.signature(APP_SECRET, raw))
    assert response.status_code == 404 and _db_calls(response) == 0


# Meta events ------------------------------------------------------------------------------
def test_a_meta_status_moves_our_message_to_delivered_then_read_once_and_forward(
    trainer: Browser, booked: str, clock, meta_stage: None
) -> None:
    reference = _sent_confirmation(trainer, booked, clock, "meta")
    assert _status_in_log(trainer, booked) == "sent"

    delivered = _meta_status(reference, "delivered")
    first = _post_meta(trainer, delivered, meta.signature(APP_SECRET, delivered))
    assert first.status_code == 200 and _db_calls(first) == 1  # one conditional update
    assert _status_in_log(trainer, booked) == "delivered"

    read = _meta_status(reference, "read")
    assert _post_meta(trainer, read, meta.signature(APP_SECRET, read)).status_code == 200
    assert _status_in_log(trainer, booked) == "read"
    # A replayed or late report is answered 200 (no retries) and changes nothing.
    replay = _post_meta(trainer, delivered, meta.signature(APP_SECRET, delivered))
    assert replay.status_code == 200
    assert _post_meta(trainer, read, meta.signature(APP_SECRET, read)).status_code == 200
    assert _status_in_log(trainer, booked) == "read"


def test_a_replayed_meta_status_is_applied_once(
    trainer: Browser, booked: str, clock, meta_stage: None
) -> None:
    reference = _sent_confirmation(trainer, booked, clock, "meta")
    raw = _meta_status(reference, "delivered")
    signature = meta.signature(APP_SECRET, raw)
    assert _post_meta(trainer, raw, signature).status_code == 200
    applied = _stored_message(reference)
    assert applied["status"] == "delivered"
    clock.advance(minutes=5)  # a second write would stamp a later updated_at
    assert _post_meta(trainer, raw, signature).status_code == 200
    assert _stored_message(reference) == applied


def _stored_message(reference: str) -> dict[str, Any]:
    trainer_id, week, subject_id, message_id = reference.split(".")
    item = runtime.repository().outbox.db.get(
        keys.message(trainer_id, week, subject_id, message_id)
    )
    assert item is not None
    return dict(item)


@pytest.mark.parametrize("forgery", ["secret", "body", "none"])
def test_a_forged_meta_post_is_refused_before_any_read(
    trainer: Browser, booked: str, clock, meta_stage: None, forgery: str
) -> None:
    reference = _sent_confirmation(trainer, booked, clock, "meta")
    raw = _meta_status(reference, "read")
    signature = meta.signature("other-secret" if forgery == "secret" else APP_SECRET, raw)
    if forgery == "body":
        raw = raw.replace(b"read", b"failed")
    response = _post_meta(trainer, raw, None if forgery == "none" else signature)
    assert response.status_code == 403 and _db_calls(response) == 0
    assert _status_in_log(trainer, booked) == "sent"


def test_a_meta_inbound_is_answered_200_and_kept_in_two_calls(
    trainer: Browser, meta_stage: None
) -> None:
    raw = _meta_inbound()
    response = _post_meta(trainer, raw, meta.signature(APP_SECRET, raw))
    assert response.status_code == 200 and _db_calls(response) == 2


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"\xff\xfe", b""])
def test_a_signed_body_that_is_not_a_json_object_is_400_not_500(
    trainer: Browser, meta_stage: None, raw: bytes
) -> None:
    response = _post_meta(trainer, raw, meta.signature(APP_SECRET, raw))
    assert response.status_code == 400 and _db_calls(response) == 0


def test_an_unsigned_malformed_body_is_refused_as_forged(
    trainer: Browser, meta_stage: None
) -> None:
    assert _post_meta(trainer, b"{not json", "sha256=" + "0" * 64).status_code == 403


# Item 12: a report that never came --------------------------------------------------------
def test_a_message_with_no_report_after_a_day_says_so_on_the_session_page_and_the_tab(
    trainer: Browser, booked: str, clock, twilio_stage: None
) -> None:
    _sent_confirmation(trainer, booked, clock, "twilio")
    clock.advance(hours=24)
    assert "No delivery report" not in trainer.get(booked).body
    assert "No delivery report" not in trainer.get("/dashboard/whatsapp/all").body
    clock.advance(seconds=1)
    session_page = trainer.get(booked).body
    assert "No delivery report" in session_page
    assert _status_in_log(trainer, booked) == "sent"  # the state itself is unchanged
    assert "No delivery report" in trainer.get("/dashboard/whatsapp/all").body

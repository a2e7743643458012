"""Inbound WhatsApp messages through the real routes, both providers: kept once for the
client whose number it is, a shared number and an unknown one kept as such, STOP / START
(and the portal's own toggle) setting the client's opt-out, forgeries refused unread."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from chalice.test import Client

from chalicelib import runtime
from chalicelib.messaging import meta, whatsapp
from chalicelib.repo import keys
from tests.functional.conftest import TIMING, Browser
from tests.functional.test_portal_link import portal_path
from tests.functional.test_schedule_pages import add_client
from tests.functional.test_webhook_routes import (  # noqa: F401 - fixtures
    APP_SECRET,
    BASE,
    TWILIO_TOKEN,
    _db_calls,
    _post_meta,
    _post_twilio,
    meta_stage,
    public_base,
    twilio_stage,
)
from tests.support.table import table_items, unchanged

INBOUND_URL = BASE + "/webhooks/twilio/inbound"


def _twilio(sid: str, body: str = "See you Thursday", sender: str = "+447400123456") -> dict:
    return {
        "MessageSid": sid,
        "From": f"whatsapp:{sender}",
        "To": "whatsapp:+14155238886",
        "Body": body,
        "NumMedia": "0",
    }


def _send_twilio(trainer: Browser, params: dict[str, str]):
    signature = whatsapp.twilio_signature(TWILIO_TOKEN, INBOUND_URL, params)
    return _post_twilio(trainer, "/webhooks/twilio/inbound", params, signature)


def _meta(wamid: str, body: str = "See you Thursday", sender: str = "447400123456") -> bytes:
    message = {
        "from": sender,
        "id": wamid,
        "timestamp": "1795424400",
        "type": "text",
        "text": {"body": body},
    }
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"phone_number_id": "106540352242922"},
        "messages": [message],
    }
    return json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}],
        }
    ).encode()


def _inbound_items() -> list[dict]:
    return [i for i in table_items(runtime.repository()) if i.get("type") == "inbound"]


def _tid(trainer: Browser) -> str:
    return trainer.cookies["pt_session"].split(".")[0]


@pytest.mark.usefixtures("twilio_stage")
def test_a_twilio_inbound_is_kept_for_its_client_once_and_a_replay_writes_nothing(
    trainer: Browser,
) -> None:
    priya = add_client(trainer, "Priya Shah")
    assert _send_twilio(trainer, _twilio("SM1")).status_code == 204
    (item,) = _inbound_items()
    assert item[keys.CLIENT_PK] == keys.client_inbound(_tid(trainer), priya)
    repo = runtime.repository()
    assert repo.conversations.unread(_tid(trainer), priya) == 1
    with unchanged(repo):
        replay = _send_twilio(trainer, _twilio("SM1"))
    assert replay.status_code == 204  # 2xx: Twilio must not retry it


@pytest.mark.usefixtures("meta_stage")
def test_a_meta_inbound_is_kept_once_and_a_replay_writes_nothing(trainer: Browser) -> None:
    priya = add_client(trainer, "Priya Shah")
    raw = _meta("wamid.IN1")
    assert _post_meta(trainer, raw, meta.signature(APP_SECRET, raw)).status_code == 200
    (item,) = _inbound_items()
    assert item["client_id"] == priya and item["provider"] == "meta"
    with unchanged(runtime.repository()):
        assert _post_meta(trainer, raw, meta.signature(APP_SECRET, raw)).status_code == 200


@pytest.mark.usefixtures("twilio_stage")
def test_a_forged_stop_is_refused_before_any_read_for_both_providers(
    trainer: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_client(trainer, "Priya Shah")
    params = _twilio("SM1", body="STOP")
    forged = whatsapp.twilio_signature("wrong", INBOUND_URL, params)
    with unchanged(runtime.repository()):
        response = _post_twilio(trainer, "/webhooks/twilio/inbound", params, forged)
        assert response.status_code == 403 and _db_calls(response) == 0
        monkeypatch.setattr(whatsapp, "configured_provider", lambda: "meta")
        monkeypatch.setattr(whatsapp, "meta_app_secret", lambda: APP_SECRET)
        raw = _meta("wamid.IN1", body="STOP")
        response = _post_meta(trainer, raw, meta.signature("not-the-secret", raw))
        assert response.status_code == 403 and _db_calls(response) == 0


@pytest.mark.usefixtures("twilio_stage")
def test_an_unknown_number_is_kept_as_unknown_at_stage_level(trainer: Browser) -> None:
    add_client(trainer, "Priya Shah")
    assert _send_twilio(trainer, _twilio("SM1", sender="+447700900123")).status_code == 204
    (item,) = _inbound_items()
    assert item["match"] == "unknown" and item[keys.TRAINER_PK] == keys.STAGE_UNMATCHED_INBOUND
    assert "client_id" not in item


@pytest.mark.usefixtures("twilio_stage")
def test_stop_from_a_number_two_clients_share_opts_out_both_and_start_resumes(
    trainer: Browser,
) -> None:
    priya, sam = add_client(trainer, "Priya Shah"), add_client(trainer, "Sam Shah")
    response = _send_twilio(trainer, _twilio("SM1", body=" Stop "))
    assert response.status_code == 204
    # Who has the number, the message, the opt-out of both clients.
    assert _db_calls(response) == 3
    (item,) = _inbound_items()
    assert item["match"] == "shared" and sorted(item["client_ids"]) == sorted([priya, sam])
    for client in (priya, sam):
        assert "No reminders or notifications" in trainer.get(f"/dashboard/clients/{client}").body
    _send_twilio(trainer, _twilio("SM2", body="START"))
    for client in (priya, sam):
        assert (
            "No reminders or notifications" not in trainer.get(f"/dashboard/clients/{client}").body
        )


def test_the_portal_toggle_stops_and_resumes_and_the_profile_shows_it(
    trainer: Browser, chalice_client: Client
) -> None:
    priya = add_client(trainer, "Priya Shah")
    home = portal_path(trainer, priya)
    client = Browser(chalice_client, [])
    page = client.get(home)
    assert "Stop reminders and notifications" in page.body
    stopped = client.post(f"{home}/messages", {"opt_out": "yes"})
    assert stopped.status == 303
    timing = TIMING.search(stopped.headers["server-timing"])
    assert timing and timing.group(2) == "3"  # the link's two reads, then the one write
    after = client.follow(stopped).body
    assert "no more reminders" in after and "Turn them back on" in after
    assert "No reminders or notifications" in trainer.get(f"/dashboard/clients/{priya}").body
    resumed = client.post(f"{home}/messages", {"opt_out": "no"})
    assert "Reminders and notifications are back on" in client.follow(resumed).body
    assert "No reminders or notifications" not in trainer.get(f"/dashboard/clients/{priya}").body


def test_the_portal_toggle_needs_the_pages_csrf_token_and_a_real_link(
    trainer: Browser, chalice_client: Client
) -> None:
    priya = add_client(trainer, "Priya Shah")
    home = portal_path(trainer, priya)
    client = Browser(chalice_client, [])
    with unchanged(runtime.repository()):
        forged = client.request("POST", f"{home}/messages", urlencode({"opt_out": "yes"}))
        assert forged.status == 403
        assert client.post("/c/" + "x" * 43 + "/messages", {"opt_out": "yes"}).status == 404

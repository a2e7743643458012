"""A trainer's own WhatsApp sender through the real app (issue 14 item 4): the Settings
section (every bad input explained with the input kept, tokens never echoed in the page or
the logs), and the webhooks of a trainer's own Twilio account and Meta app, with the right
and a wrong signature, on a stage whose shared sender is neither."""

from __future__ import annotations

import html
import json
import logging

import pytest

from chalicelib import runtime
from chalicelib.messaging import meta, whatsapp
from chalicelib.repo import keys
from chalicelib.repo.senders import SenderStore
from tests.functional.conftest import Browser
from tests.functional.test_schedule_pages import add_client
from tests.functional.test_settings_pages import _valid_form, _version
from tests.functional.test_webhook_routes import (  # noqa: F401 - fixtures
    BASE,
    _db_calls,
    _post_meta,
    _post_twilio,
    _sent_confirmation,
    _status_in_log,
    booked,
    public_base,
)
from tests.support.table import table_items, unchanged

NUMBER = "+14155550100"
SID = "AC" + "0123456789abcdef" * 2
TOKEN = "0123456789abcdefABCDEF0123456789"
PHONE_ID = "106540352242999"
META_TOKEN = "EAAG" + "Zq9" * 30
APP_SECRET = "5ec4e7" + "0" * 26


@pytest.fixture(autouse=True)
def _own_senders_stage(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WHATSAPP_OWN_SENDERS", "on")
    for name in ("WHATSAPP_PROVIDER", "TWILIO_WHATSAPP_FROM", "META_PHONE_NUMBER_ID"):
        monkeypatch.delenv(name, raising=False)
    whatsapp.forget_secrets()


def _tid(trainer: Browser) -> str:
    return trainer.cookies["pt_session"].split(".")[0]


def _twilio_fields(**overrides: str) -> dict[str, str]:
    fields = {
        "whatsapp_sender": "twilio",
        "twilio_number": NUMBER,
        "twilio_account_sid": SID,
        "twilio_auth_token": TOKEN,
    }
    return {**fields, **overrides}


def _meta_fields(**overrides: str) -> dict[str, str]:
    fields = {
        "whatsapp_sender": "meta",
        "meta_phone_number_id": PHONE_ID,
        "meta_access_token": META_TOKEN,
        "meta_app_secret": APP_SECRET,
    }
    return {**fields, **overrides}


def _save(trainer: Browser, **fields: str):
    version = _version(trainer.get("/dashboard/settings").body)
    # In GB, so clients' local numbers ("07400 123456") read as the webhooks' +44 senders.
    return trainer.post("/dashboard/settings", _valid_form(version, country="GB", **fields))


# --- The Settings section --------------------------------------------------------------------


def test_the_section_offers_own_senders_only_where_the_stage_does(
    trainer: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = trainer.get("/dashboard/settings").body
    assert 'value="shared" checked' in page
    for field in ("twilio_number", "twilio_account_sid", "twilio_auth_token", "meta_app_secret"):
        assert f'<label for="{field}">' in page and f'id="{field}"' in page
    assert 'type="password"' in page
    monkeypatch.delenv("WHATSAPP_OWN_SENDERS")
    page = trainer.get("/dashboard/settings").body
    assert "twilio_number" not in page and "Your own number is not offered here yet" in page


def test_a_saved_sender_says_a_token_is_saved_and_never_shows_it(
    trainer: Browser, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="pt_bookings")
    saved = _save(trainer, **_twilio_fields())
    assert saved.status == 303
    # The session read, then one transaction: settings and the number's claim.
    assert saved.db_calls == 2
    page = trainer.follow(saved).body
    assert "A token is saved. Leave blank to keep it." in page
    assert f'value="{NUMBER}"' in page and f'value="{SID}"' in page
    assert TOKEN not in page
    assert TOKEN not in capsys.readouterr().out + caplog.text
    assert TOKEN not in repr(table_items(runtime.repository()))
    # Saved again with the token left blank: kept.
    again = _save(trainer, **_twilio_fields(twilio_auth_token=""))
    assert again.status == 303
    assert "A token is saved." in trainer.follow(again).body


def test_content_sids_are_saved_shown_back_and_a_bad_line_keeps_the_paste(
    trainer: Browser,
) -> None:
    pasted = f"confirmation HX{'ab' * 16}\nreminder HX{'cd' * 16}"
    saved = _save(trainer, **_twilio_fields(twilio_content_sids=pasted))
    assert saved.status == 303
    page = trainer.follow(saved).body
    assert '<label for="twilio_content_sids">' in page
    assert pasted in html.unescape(page)  # one kind per line, as typed
    bad = f"confirmation HX{'ab' * 16}\nremnder <b>HX1</b>"
    with unchanged(runtime.repository()):
        refused = _save(trainer, **_twilio_fields(twilio_content_sids=bad))
    assert refused.status == 400
    assert "line 2 is not a kind and a Content SID" in html.unescape(refused.body)
    assert "remnder &lt;b&gt;HX1&lt;/b&gt;" in refused.body  # kept, escaped


BAD_INPUTS = [
    (_twilio_fields(twilio_number="12"), "twilio_number", "That is not a valid phone number"),
    (_twilio_fields(twilio_account_sid="AC12"), "twilio_account_sid", "AC followed by 32"),
    (_twilio_fields(twilio_auth_token="nope"), "twilio_auth_token", "32 letters and digits"),
    (_twilio_fields(twilio_auth_token=""), "twilio_auth_token", "Enter the account&#39;s"),
    (_meta_fields(meta_phone_number_id="12ab"), "meta_phone_number_id", "6 to 32 digits"),
    (_meta_fields(meta_access_token=""), "meta_access_token", "Enter an access token"),
    (_meta_fields(meta_app_secret="xyz"), "meta_app_secret", "32 characters"),
    ({"whatsapp_sender": "pigeon"}, "whatsapp_sender", "Choose the PT Bookings number"),
]


@pytest.mark.parametrize(("fields", "field", "words"), BAD_INPUTS)
def test_every_bad_sender_input_is_explained_with_the_input_kept_and_no_token_echoed(
    trainer: Browser, fields: dict[str, str], field: str, words: str
) -> None:
    version = _version(trainer.get("/dashboard/settings").body)
    with unchanged(runtime.repository()):
        page = trainer.post("/dashboard/settings", _valid_form(version, **fields))
    assert page.status == 400
    assert f'<p class="field-error" id="{field}-error">' in page.body and words in page.body
    for name in ("twilio_number", "twilio_account_sid", "meta_phone_number_id"):
        if fields.get(name):
            assert f'value="{fields[name]}"' in page.body  # what was typed, kept
    for secret in (TOKEN, META_TOKEN, APP_SECRET, "nope", "xyz"):
        if secret in fields.values():
            assert secret not in page.body
    if any(fields.get(n) for n in ("twilio_auth_token", "meta_access_token", "meta_app_secret")):
        assert "tokens you typed are never shown back" in page.body


def test_a_number_another_trainer_holds_is_refused_with_the_input_kept(
    trainer: Browser, other_trainer: Browser
) -> None:
    assert _save(trainer, **_twilio_fields()).status == 303
    refused = _save(other_trainer, **_twilio_fields())
    assert refused.status == 400
    assert "already connected to another PT Bookings account" in refused.body
    assert f'value="{NUMBER}"' in refused.body and TOKEN not in refused.body
    claim = SenderStore(runtime.repository().db).claim("twilio", NUMBER)
    assert claim is not None and claim.trainer_id == _tid(trainer)


# --- Webhooks for a trainer's own Twilio account ---------------------------------------------
INBOUND_URL = BASE + "/webhooks/twilio/inbound"


def _inbound(sid: str = "SM" + "1" * 32, body: str = "See you Thursday") -> dict[str, str]:
    return {
        "MessageSid": sid,
        "AccountSid": SID,
        "From": "whatsapp:+447400123456",
        "To": f"whatsapp:{NUMBER}",
        "Body": body,
        "NumMedia": "0",
    }


@pytest.mark.usefixtures("public_base")
def test_an_inbound_to_a_trainers_own_twilio_number_is_checked_with_their_token(
    trainer: Browser,
) -> None:
    assert _save(trainer, **_twilio_fields()).status == 303
    priya = add_client(trainer, "Priya Shah")
    params = _inbound()
    repo = runtime.repository()
    with unchanged(repo):
        forged = whatsapp.twilio_signature("0" * 32, INBOUND_URL, params)
        refused = _post_twilio(trainer, "/webhooks/twilio/inbound", params, forged)
        # The number's claim (it names the token) is the one read before the check.
        assert refused.status_code == 403 and _db_calls(refused) == 1
    signed = whatsapp.twilio_signature(TOKEN, INBOUND_URL, params)
    response = _post_twilio(trainer, "/webhooks/twilio/inbound", params, signed)
    assert response.status_code == 204
    # The claim, who has the number, the message.
    assert _db_calls(response) == 3
    (item,) = [i for i in table_items(repo) if i.get("type") == "inbound"]
    assert item["trainer_id"] == _tid(trainer) and item["client_id"] == priya
    assert item[keys.CLIENT_PK] == keys.client_inbound(_tid(trainer), priya)


@pytest.mark.usefixtures("public_base")
def test_an_inbound_to_nobodys_number_on_a_stage_without_twilio_is_404(trainer: Browser) -> None:
    params = _inbound()
    signed = whatsapp.twilio_signature(TOKEN, INBOUND_URL, params)
    response = _post_twilio(trainer, "/webhooks/twilio/inbound", params, signed)
    assert response.status_code == 404 and _db_calls(response) == 1


@pytest.mark.usefixtures("public_base")
def test_a_delivery_report_from_a_trainers_own_account_is_checked_with_their_token(
    trainer: Browser,
    booked: str,  # noqa: F811 - the fixture
    clock,
) -> None:
    assert _save(trainer, **_twilio_fields()).status == 303
    reference = _sent_confirmation(trainer, booked, clock, "twilio")
    url = f"{BASE}/webhooks/twilio/status?m=~{reference}"
    params = {"MessageSid": "SM" + "2" * 32, "MessageStatus": "delivered"}
    path = f"/webhooks/twilio/status?m=~{reference}"
    forged = _post_twilio(trainer, path, params, whatsapp.twilio_signature("x" * 32, url, params))
    # The trainer's settings (naming the token) are the one read before the check.
    assert forged.status_code == 403 and _db_calls(forged) == 1
    assert _status_in_log(trainer, booked) == "sent"
    shared_url = f"{BASE}/webhooks/twilio/status?m={reference}"
    unmarked = whatsapp.twilio_signature(TOKEN, shared_url, params)
    # Without the mark it is a report for the shared sender, which this stage has not.
    no_mark = _post_twilio(trainer, f"/webhooks/twilio/status?m={reference}", params, unmarked)
    assert no_mark.status_code == 404 and _db_calls(no_mark) == 0
    signed = _post_twilio(trainer, path, params, whatsapp.twilio_signature(TOKEN, url, params))
    assert signed.status_code == 204 and _db_calls(signed) == 2
    assert _status_in_log(trainer, booked) == "delivered"


# --- Webhooks for a trainer's own Meta app ---------------------------------------------------


def _meta_body(phone_id: str = PHONE_ID, statuses: list | None = None) -> bytes:
    value: dict = {"messaging_product": "whatsapp", "metadata": {"phone_number_id": phone_id}}
    if statuses is None:
        value["messages"] = [
            {
                "from": "447400123456",
                "id": "wamid.OWN1",
                "timestamp": "1795424400",
                "type": "text",
                "text": {"body": "See you Thursday"},
            }
        ]
    else:
        value["statuses"] = statuses
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}],
    }
    return json.dumps(body).encode()


@pytest.mark.usefixtures("public_base")
def test_a_post_from_a_trainers_own_meta_app_is_checked_with_their_app_secret(
    trainer: Browser,
) -> None:
    assert _save(trainer, **_meta_fields()).status == 303
    page = trainer.get("/dashboard/settings").body
    assert "A secret is saved. Leave blank to keep it." in page and APP_SECRET not in page
    assert f"with the verify token <code>{_tid(trainer)}." in page
    priya = add_client(trainer, "Priya Shah")
    raw = _meta_body()
    repo = runtime.repository()
    with unchanged(repo):
        refused = _post_meta(trainer, raw, meta.signature("f" * 32, raw))
        assert refused.status_code == 403 and _db_calls(refused) == 1
        # Another number's body signed with this trainer's secret finds no claim: 404.
        other = _meta_body(phone_id="999999999")
        stray = _post_meta(trainer, other, meta.signature(APP_SECRET, other))
        assert stray.status_code == 404
    response = _post_meta(trainer, raw, meta.signature(APP_SECRET, raw))
    assert response.status_code == 200 and _db_calls(response) == 3
    (item,) = [i for i in table_items(repo) if i.get("type") == "inbound"]
    assert item["client_id"] == priya and item["to"] == PHONE_ID


@pytest.mark.usefixtures("public_base")
def test_a_trainers_meta_app_cannot_report_on_another_trainers_messages(
    trainer: Browser,
    other_trainer: Browser,
    booked: str,  # noqa: F811 - the fixture
    clock,
) -> None:
    # The trainer with the booked session has no own sender; the other one has a Meta app.
    reference = _sent_confirmation(trainer, booked, clock, "meta")
    assert _save(other_trainer, **_meta_fields()).status == 303
    status = {
        "id": "wamid.X",
        "status": "read",
        "timestamp": "1795424400",
        "biz_opaque_callback_data": reference,
    }
    raw = _meta_body(statuses=[status])
    response = _post_meta(other_trainer, raw, meta.signature(APP_SECRET, raw))
    assert response.status_code == 200
    assert _status_in_log(trainer, booked) == "sent"


def test_a_new_sender_and_auto_apply_are_saved_in_one_transaction(trainer: Browser) -> None:
    from chalicelib.repo.auto_apply import AutoApplyStore

    saved = _save(trainer, **_twilio_fields(), auto_apply="on", auto_apply_weeks="4")
    assert saved.status == 303
    # The session read, then one transaction: settings, the number's claim, the due item.
    assert saved.db_calls == 2
    assert AutoApplyStore(runtime.repository().db).get(_tid(trainer)) is not None


def test_a_refused_sender_writes_no_auto_apply_either(
    trainer: Browser, other_trainer: Browser
) -> None:
    from chalicelib.repo.auto_apply import AutoApplyStore

    assert _save(trainer, **_twilio_fields()).status == 303
    with unchanged(runtime.repository()):
        refused = _save(other_trainer, **_twilio_fields(), auto_apply="on", auto_apply_weeks="4")
    assert refused.status == 400
    assert "already connected to another PT Bookings account" in refused.body
    assert AutoApplyStore(runtime.repository().db).get(_tid(other_trainer)) is None

"""The WhatsApp sender section of Settings (issue 14 item 4): every bad input refused with
its own words, saved secrets kept only while they still fit, secrets never in a repr;
and the pieces the webhooks use to tell a trainer's sender from the shared one."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from chalicelib.domain.settings import (
    SaveSettings,
    TrainerSettings,
    WhatsAppSender,
    parse_sender,
)
from chalicelib.services import links as links_module
from chalicelib.services import webhooks

SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "f" * 32
META_TOKEN = "EAAG" + "x1" * 40
APP_SECRET = "a1" * 16
SAVED_TWILIO = WhatsAppSender(
    kind="twilio", number="+14155550100", account_sid=SID, token_ref="tok1"
)
SAVED_META = WhatsAppSender(
    kind="meta",
    phone_number_id="106540352242922",
    token_ref="tok1",
    app_secret_ref="sec1",
    verify_token="coach.abc",
)


def _typed(**fields: str) -> SaveSettings:
    return SaveSettings.model_validate({"country": "GB", **fields})


SHARED = WhatsAppSender()


def _parse(previous: WhatsAppSender = SHARED, **fields: str):
    errors: dict[str, str] = {}
    sender, secrets = parse_sender(_typed(**fields), previous, errors)
    return sender, secrets, errors


def test_the_shared_number_is_the_default_and_an_old_form_changes_nothing() -> None:
    assert TrainerSettings().whatsapp_sender == WhatsAppSender()
    assert not TrainerSettings().whatsapp_sender.is_own
    sender, secrets, errors = _parse(SAVED_TWILIO)  # no whatsapp_sender field at all
    assert sender == SAVED_TWILIO and not errors
    assert secrets.token.get_secret_value() == ""


def test_choosing_the_shared_number_drops_the_own_sender() -> None:
    sender, _, errors = _parse(SAVED_META, whatsapp_sender="shared")
    assert sender == WhatsAppSender() and not errors


def test_a_good_twilio_sender_is_normalised() -> None:
    sender, secrets, errors = _parse(
        whatsapp_sender="twilio",
        twilio_number="whatsapp:+1 415 555 0100",
        twilio_account_sid="AC" + "0123456789ABCDEF" * 2,
        twilio_auth_token=f"  {AUTH_TOKEN} ",
    )
    assert not errors
    assert sender.number == "+14155550100" and sender.account_sid == SID
    assert sender.address == ("twilio", "+14155550100")
    assert sender.token_ref == ""  # a new token: the use case names it when storing it
    assert secrets.token.get_secret_value() == AUTH_TOKEN


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"twilio_number": ""}, "twilio_number", "Enter your Twilio WhatsApp sender number"),
        ({"twilio_number": "12"}, "twilio_number", "That is not a valid phone number"),
        ({"twilio_account_sid": ""}, "twilio_account_sid", "Enter your Account SID"),
        ({"twilio_account_sid": "AC123"}, "twilio_account_sid", "AC followed by 32"),
        ({"twilio_account_sid": "SK" + "0" * 32}, "twilio_account_sid", "AC followed by 32"),
        ({"twilio_auth_token": ""}, "twilio_auth_token", "Enter the account's auth token"),
        ({"twilio_auth_token": "short"}, "twilio_auth_token", "32 letters and digits"),
        ({"twilio_auth_token": "g" * 31 + "!"}, "twilio_auth_token", "32 letters and digits"),
    ],
)
def test_every_bad_twilio_input_has_its_own_words(
    fields: dict[str, str], field: str, words: str
) -> None:
    good = {
        "twilio_number": "+14155550100",
        "twilio_account_sid": SID,
        "twilio_auth_token": AUTH_TOKEN,
    }
    _, _, errors = _parse(whatsapp_sender="twilio", **{**good, **fields})
    assert list(errors) == [field] and words in errors[field]
    assert AUTH_TOKEN not in errors[field] and "short" not in errors[field]


def test_a_saved_twilio_token_is_kept_only_for_the_same_account() -> None:
    same = {"twilio_number": "+14155550199", "twilio_account_sid": SID}
    sender, _, errors = _parse(SAVED_TWILIO, whatsapp_sender="twilio", **same)
    assert not errors and sender.token_ref == "tok1" and sender.number == "+14155550199"
    other = {"twilio_number": "+14155550100", "twilio_account_sid": "AC" + "1" * 32}
    _, _, errors = _parse(SAVED_TWILIO, whatsapp_sender="twilio", **other)
    assert errors == {
        "twilio_auth_token": "Enter the auth token again: it belongs to the Account SID, "
        "which changed."
    }


def test_a_good_meta_sender_and_its_two_secrets() -> None:
    sender, secrets, errors = _parse(
        whatsapp_sender="meta",
        meta_phone_number_id="106540352242922",
        meta_access_token=META_TOKEN,
        meta_app_secret=APP_SECRET,
    )
    assert not errors and sender.address == ("meta", "106540352242922")
    assert secrets.token.get_secret_value() == META_TOKEN
    assert secrets.app_secret.get_secret_value() == APP_SECRET


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"meta_phone_number_id": ""}, "meta_phone_number_id", "Enter the phone-number id"),
        ({"meta_phone_number_id": "+44 7700"}, "meta_phone_number_id", "6 to 32 digits"),
        ({"meta_access_token": ""}, "meta_access_token", "Enter an access token"),
        ({"meta_access_token": "has spaces in it, lots"}, "meta_access_token", "Meta access token"),
        ({"meta_app_secret": ""}, "meta_app_secret", "Enter your Meta app's secret"),
        ({"meta_app_secret": "z" * 32}, "meta_app_secret", "32 characters, 0–9 and a–f"),
    ],
)
def test_every_bad_meta_input_has_its_own_words(
    fields: dict[str, str], field: str, words: str
) -> None:
    good = {
        "meta_phone_number_id": "106540352242922",
        "meta_access_token": META_TOKEN,
        "meta_app_secret": APP_SECRET,
    }
    _, _, errors = _parse(whatsapp_sender="meta", **{**good, **fields})
    assert list(errors) == [field] and words in errors[field]


def test_saved_meta_secrets_are_kept_when_left_blank() -> None:
    sender, secrets, errors = _parse(
        SAVED_META, whatsapp_sender="meta", meta_phone_number_id="106540352242923"
    )
    assert not errors
    assert (sender.token_ref, sender.app_secret_ref) == ("tok1", "sec1")
    assert sender.verify_token == "coach.abc"
    assert secrets.token.get_secret_value() == "" and secrets.app_secret.get_secret_value() == ""


def test_switching_provider_asks_for_the_new_providers_secrets() -> None:
    _, _, errors = _parse(
        SAVED_TWILIO, whatsapp_sender="meta", meta_phone_number_id="106540352242922"
    )
    assert set(errors) == {"meta_access_token", "meta_app_secret"}


def test_an_unknown_choice_is_refused() -> None:
    _, _, errors = _parse(whatsapp_sender="carrier-pigeon")
    assert errors == {
        "whatsapp_sender": "Choose the PT Bookings number, your own Twilio number or your "
        "own WhatsApp Business number."
    }


def test_typed_secrets_stay_out_of_reprs() -> None:
    typed = _typed(whatsapp_sender="twilio", twilio_auth_token=AUTH_TOKEN, meta_app_secret="s")
    assert AUTH_TOKEN not in repr(typed) and AUTH_TOKEN not in str(typed)
    assert isinstance(typed.twilio_auth_token, SecretStr)


# --- What the webhooks tell apart without a read --------------------------------------------


def test_a_trainer_senders_delivery_report_url_is_marked() -> None:
    base = "https://book.example.com"
    shared = webhooks.status_callback_url(base, "coach", "2026-W48.s1.m1")
    own = webhooks.status_callback_url(base, "coach", "2026-W48.s1.m1", own=True)
    assert shared == base + "/webhooks/twilio/status?m=coach.2026-W48.s1.m1"
    assert own == base + "/webhooks/twilio/status?m=~coach.2026-W48.s1.m1"


def test_a_trainer_verify_token_is_checked_against_the_stage_secret() -> None:
    links = links_module.fixed(b"stage-secret")
    token = webhooks.trainer_verify_token(links, "coach")
    assert token.startswith("coach.") and token == webhooks.trainer_verify_token(links, "coach")
    handshake = {"hub.mode": "subscribe", "hub.challenge": "1158201444"}
    good = webhooks.meta_verify({**handshake, "hub.verify_token": token}, links=links)
    assert good == webhooks.WebhookResult(200, body="1158201444")
    other_stage = webhooks.trainer_verify_token(links_module.fixed(b"other"), "coach")
    for wrong in (other_stage, token[:-1] + "0", "coach.", "nobody." + token[6:]):
        refused = webhooks.meta_verify({**handshake, "hub.verify_token": wrong}, links=links)
        assert refused.status in (403, 404) and "1158201444" not in refused.body


# --- A trainer's own Twilio Content SIDs ----------------------------------------------------
HX = "HX" + "0123456789abcdef" * 2
HX2 = "HX" + "fedcba9876543210" * 2
GOOD_TWILIO = {
    "whatsapp_sender": "twilio",
    "twilio_number": "+14155550100",
    "twilio_account_sid": SID,
    "twilio_auth_token": AUTH_TOKEN,
}


def test_content_sids_are_read_one_kind_per_line() -> None:
    sender, _, errors = _parse(
        **GOOD_TWILIO,
        twilio_content_sids=f"confirmation {HX}\n\n  reminder: {HX2.upper()}\r\n",
    )
    assert not errors
    assert sender.content_sids == {"confirmation": HX, "reminder": HX2}


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (f"confirmations {HX}", "line 1: “confirmations” is not a message kind"),
        ("confirmation HX123", "line 1 is not a kind and a Content SID"),
        (f"offer {HX}\noffer {HX2}", "line 2: offer is there twice"),
        (f"<b>x</b> {HX}", "line 1 is not a kind and a Content SID"),
    ],
)
def test_every_bad_content_sid_line_is_named(raw: str, words: str) -> None:
    _, _, errors = _parse(**GOOD_TWILIO, twilio_content_sids=raw)
    assert list(errors) == ["twilio_content_sids"] and words in errors["twilio_content_sids"]
    assert "Kinds: offer, invoice" in errors["twilio_content_sids"]


def test_the_settings_kinds_are_the_templates_kinds() -> None:
    from chalicelib.domain.message_kinds import TEMPLATE_KINDS
    from chalicelib.messaging.templates import SPECS, WITH_LINK

    assert set(TEMPLATE_KINDS) == set(SPECS) | {spec.kind for spec in WITH_LINK.values()}

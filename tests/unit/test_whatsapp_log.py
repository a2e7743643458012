"""No client data in logs (issue 14, item 11): the log provider prints a message's text,
its client link and the wa.me link only on local stages; deployed it prints ids and
kinds. Also what the stage's sender hands a provider: template or text, the link made
again, our reference. No table, no network: the dispatcher's sender is called directly."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pytest

from chalicelib.domain.messages import LINK_PLACEHOLDER, LinkRef, Message
from chalicelib.messaging import templates, whatsapp
from chalicelib.messaging.payloads import OutgoingWhatsApp
from chalicelib.services import dispatcher, links

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
LINKS = links.fixed(b"unit-test-secret")
SID = "HX" + "0123456789abcdef" * 2


def confirmation(**overrides: object) -> Message:
    fields: dict[str, object] = {
        "id": "msg-0001",
        "week": "2026-W48",
        "subject_id": "sess1",
        "subject_ref": "2026-W48.20261125T090000Z.sess1",
        "client_id": "cli1",
        "client_name": "Priya Shah",
        "kind": "confirmation",
        "channel": "whatsapp",
        "to": "+447400123456",
        "text": f"Hi Priya, your session is confirmed. Change it: {LINK_PLACEHOLDER}",
        "link": LinkRef(
            kind="session",
            base="https://book.example.com",
            trainer_id="coach",
            client_id="cli1",
            generation=1,
            target_id="sess1",
        ),
        "created_at": NOW,
        **overrides,
    }
    return Message.model_validate(fields)


def token_of(message: Message) -> str:
    assert message.link is not None
    return LINKS.session("coach", "cli1", 1, "sess1")


# --- The log provider -----------------------------------------------------------------------


def test_locally_the_log_prints_text_link_and_wa_me(capsys: pytest.CaptureFixture[str]) -> None:
    out = OutgoingWhatsApp("+447400123456", "See you at 9", message_id="m1", kind="offer")
    whatsapp.LogProvider(show_content=True).send(out)
    printed = capsys.readouterr().out
    assert "--- WhatsApp to +447400123456" in printed and "See you at 9" in printed
    assert "https://wa.me/447400123456?text=See%20you%20at%209" in printed


def test_deployed_the_log_writes_only_ids_and_kinds(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    out = OutgoingWhatsApp(
        "+447400123456", "Hi Priya https://x.example/s/secret", message_id="m1", kind="offer"
    )
    result = whatsapp.LogProvider(show_content=False).send(out)
    assert capsys.readouterr().out == ""  # a log line (JSON deployed), not a printed block
    (record,) = [r for r in caplog.records if r.name == "pt_bookings.whatsapp"]
    assert record.getMessage() == (
        "WhatsApp message m1 (offer) logged, not sent: texts and links are printed only "
        "on local stages"
    )
    assert (record.message_id, record.kind) == ("m1", "offer")  # type: ignore[attr-defined]
    assert result.provider == "log"


@pytest.mark.parametrize("local", [True, False])
def test_the_stage_sender_keeps_client_data_out_of_deployed_logs(
    local: bool,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.delenv("WHATSAPP_PROVIDER", raising=False)  # log, the default
    message = confirmation()
    sender = dispatcher.default_sender(LINKS, "https://book.example.com", local=local)
    assert sender("coach", message).provider == "log"
    printed = capsys.readouterr().out + caplog.text
    client_data = [token_of(message), "+447400123456", "447400123456", "Priya", "confirmed"]
    if local:
        assert all(item in printed for item in client_data)
    else:
        assert not [item for item in client_data if item in printed], printed
        assert "msg-0001" in printed and "(confirmation)" in printed


def test_the_stage_setting_decides_when_the_composition_root_does_not(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WHATSAPP_PROVIDER", raising=False)
    for stage, shown in (("test", True), ("local", True), ("dev", False), ("prod", False)):
        monkeypatch.setenv("APP_STAGE", stage)
        dispatcher.default_sender(LINKS, "")("coach", confirmation())
        assert ("Priya" in capsys.readouterr().out) is shown, stage


# --- What a provider is handed --------------------------------------------------------------


class Recording:
    name = "twilio"

    def __init__(self) -> None:
        self.sent: list[OutgoingWhatsApp] = []

    def send(self, message: OutgoingWhatsApp) -> whatsapp.SendResult:
        self.sent.append(message)
        return whatsapp.SendResult(self.name, "SM1")


def stage_sender(provider: Recording, stage_templates: str | None, *, window: bool = False):
    return dispatcher.StageSender(
        LINKS,
        "https://book.example.com",
        local=False,
        window_open=lambda _t, _m: window,
        whatsapp_provider=lambda _local: provider,
        stage_templates=lambda name: (
            templates.parse(stage_templates, name) if stage_templates else None
        ),
    )


VARIABLES = templates.variables_for(
    "confirmation",
    first_name="Priya",
    trainer="Sam Carter PT",
    when="Wed 25 Nov 09:00–10:00 2026",
    place="Studio",
)
CONFIG = json.dumps({"confirmation": {"content_sid": SID}})


def test_outside_the_window_the_provider_gets_the_template_with_the_link_made_again() -> None:
    provider = Recording()
    message = confirmation(variables=VARIABLES)
    stage_sender(provider, CONFIG)("coach", message)
    (sent,) = provider.sent
    link = f"https://book.example.com/s/{token_of(message)}"
    assert sent.template is not None and sent.template.content_sid == SID
    assert sent.template.parameters[-1] == link
    assert sent.text.endswith(link)  # kept for the fallback, never stored
    assert sent.reference == "coach.2026-W48.sess1.msg-0001"
    assert sent.status_callback == (
        "https://book.example.com/webhooks/twilio/status?m=coach.2026-W48.sess1.msg-0001"
    )


def test_inside_the_window_the_provider_gets_free_form_text() -> None:
    provider = Recording()
    stage_sender(provider, CONFIG, window=True)("coach", confirmation(variables=VARIABLES))
    assert provider.sent[0].template is None


def test_a_program_confirmation_goes_by_its_own_template() -> None:
    provider = Recording()
    message = confirmation(template="program_confirmation", variables=VARIABLES)
    with pytest.raises(whatsapp.SendError, match="program confirmation messages"):
        stage_sender(provider, CONFIG)("coach", message)
    assert provider.sent == []

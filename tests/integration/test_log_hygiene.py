"""No client data in a deployed stage's logs (issue 18 item 1): a whole flow on a prod-like
stage, with every log line captured, must leave no phone number, address, message text
or capability link in them, and every line must be JSON that names its request.

The stage is prod's own configuration (.chalice/config.json) with what a deployed prod
has that the file leaves empty (the public base URL, the SES events topic) and plain-HTTP
cookies (the test browser speaks HTTP). Its SSM link secret, SES sender and table are
moto's; WhatsApp goes through the `log` provider, prod's default.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlparse

import boto3
import pytest
from chalice.test import Client
from moto import mock_aws

from app import app
from chalicelib import observability, runtime
from chalicelib.messaging import whatsapp
from infra.local_dynamodb import make_moto_atomic
from infra.table_schema import create_table
from tests.conftest import ROOT
from tests.functional.conftest import Browser
from tests.functional.test_locations_and_template import add_location
from tests.functional.test_messages import send
from tests.functional.test_schedule_pages import allocate, new_slot, slots_on

STAGE = "prod"
BASE = "https://app.ptbookings.example"
# Set once infra/email.yaml is deployed (docs/email.md): the SES events webhook is live.
SES_TOPIC = "arn:aws:sns:eu-west-2:123456789012:pt-bookings-prod-ses-events"
# What a prod stage has once deployed that .chalice/config.json leaves empty, and the
# plain-HTTP cookies the test browser needs.
DEPLOYED = {"PUBLIC_BASE_URL": BASE, "SES_EVENTS_TOPIC_ARN": SES_TOPIC, "COOKIE_SECURE": "false"}
TRAINER_EMAIL = "coach@example.com"
PRIYA_PHONE = "07400 123456"  # as typed; stored and sent as +447400123456
PRIYA_EMAIL = "priya.shah@example.com"
PHONE_FORMS = ("+447400123456", "447400123456", "07400 123456", "07400123456", "7400 123456")
CAPABILITY = re.compile(r"/(?:c|s|o)/([A-Za-z0-9_-]{43})|token=([A-Za-z0-9_-]{43})")


@pytest.fixture
def prod_project(tmp_path: Path) -> Path:
    config = json.loads((Path(ROOT) / ".chalice" / "config.json").read_text())
    prod = config["stages"][STAGE]["environment_variables"]
    prod.update(DEPLOYED)
    (tmp_path / ".chalice").mkdir()
    (tmp_path / ".chalice" / "config.json").write_text(json.dumps(config))
    return tmp_path


@pytest.fixture
def prod_stage(monkeypatch: pytest.MonkeyPatch, clock: Any) -> Iterator[None]:
    # The stage's values outside requests too: the invite and the reads at the end.
    config = json.loads((Path(ROOT) / ".chalice" / "config.json").read_text())
    env = {**config["environment_variables"], **config["stages"][STAGE]["environment_variables"]}
    for name, value in {**env, **DEPLOYED}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("LINK_SECRET")  # deployed, the secret comes from SSM
    for name in ("WHATSAPP_TEMPLATES", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    whatsapp.forget_secrets()
    make_moto_atomic()
    with mock_aws():
        create_table(boto3.client("dynamodb", region_name="eu-west-2"), env["TABLE_NAME"])
        boto3.client("ssm", region_name="eu-west-2").put_parameter(
            Name=env["LINK_SECRET_PARAM"], Value="prod-like-secret-" + "x" * 40, Type="SecureString"
        )
        boto3.client("sesv2", region_name="eu-west-2").create_email_identity(
            EmailIdentity="no-reply@ptbookings.example"
        )
        yield


@dataclass
class Captured:
    """Every log record (root at DEBUG, as JSON through the deployed formatter) and
    everything written to the process's stdout and stderr."""

    capfd: pytest.CaptureFixture[str]
    text: str = ""

    def read(self) -> str:
        out, err = self.capfd.readouterr()
        self.text += out + err
        return self.text


class CurrentStderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is at the time: capfd swaps it between phases."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


@pytest.fixture
def captured(capfd: pytest.CaptureFixture[str]) -> Iterator[Captured]:
    """As deployed with LOG_LEVEL=DEBUG: our loggers at DEBUG, everyone else's at INFO
    (botocore's DEBUG wire dumps never reach a deployed log: `set_level`), every record
    through the deployed JSON formatter."""
    root, ours = logging.getLogger(), logging.getLogger(observability.APP_LOGGER)
    handler = CurrentStderr()
    handler.setFormatter(observability.JsonFormatter())
    levels = root.level, ours.level
    root.addHandler(handler)
    observability.set_level(root, logging.DEBUG)
    try:
        yield Captured(capfd)
    finally:
        root.removeHandler(handler)
        root.setLevel(levels[0])
        ours.setLevel(levels[1])


def ses_messages() -> list[Any]:
    from moto.ses.models import ses_backends

    return list(ses_backends["123456789012"]["eu-west-2"].sent_messages)


def emailed_to(address: str) -> list[str]:
    return [m.body for m in ses_messages() if address in m.destinations.get("ToAddresses", [])]


def sign_in(browser: Browser) -> str:
    """Sign in by the emailed link (the trainer was invited: prod is invite-only)."""
    from infra.manage import invite

    invite(TRAINER_EMAIL)
    browser.post("/login", {"email": TRAINER_EMAIL})
    (body,) = emailed_to(TRAINER_EMAIL)
    link = urlparse(re.search(rf"{re.escape(BASE)}/login/confirm\?token=\S+", body).group(0))  # type: ignore[union-attr]
    token = link.query.split("token=")[1]
    confirm = browser.get(f"{link.path}?{link.query}")
    assert confirm.status == 200, confirm.body
    body = urlencode({"csrf_token": confirm.csrf(), "token": token, "business_name": "Sam PT"})
    done = browser.request("POST", "/login/confirm", body)
    assert done.status == 303, done.body
    return token


def add_client(browser: Browser, name: str, **fields: str) -> str:
    page = browser.post("/dashboard/clients", {"name": name, "price": "40", **fields})
    assert page.status == 303, page.body
    return page.location.split("/dashboard/clients/")[1].split("?")[0]


def dispatch(client: Client) -> dict:
    # Invoked as Lambda would: the stage's environment and a context with a request id.
    event = client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
    )
    return client.lambda_.invoke("dispatch_messages", event).payload


def capability_tokens(text: str) -> set[str]:
    return {a or b for a, b in CAPABILITY.findall(text)}


def test_a_whole_flow_on_a_deployed_stage_logs_no_client_data(
    prod_project: Path, prod_stage: None, captured: Captured
) -> None:
    tokens: set[str] = set()
    with Client(app, stage_name=STAGE, project_dir=str(prod_project)) as client:
        trainer = Browser(client, [])
        tokens.add(sign_in(trainer))
        tokens.add(trainer.cookies["pt_session"].split(".", 1)[1])
        trainer_id = trainer.cookies["pt_session"].split(".")[0]
        studio = add_location(trainer, "Studio")
        priya = add_client(trainer, "Priya Shah", phone=PRIYA_PHONE, email=PRIYA_EMAIL)
        tokens |= capability_tokens(trainer.get(f"/dashboard/clients/{priya}").body)
        assert new_slot(trainer, "2026-11-26", "09:00", "10:00", studio).status == 303
        ((week, slot_id),) = slots_on(trainer, "2026-W48")
        booked = allocate(trainer, week, slot_id, priya)
        assert booked.status == 303, booked.body
        # The confirmation goes by WhatsApp (clients' messages do); the email of the flow
        # is the trainer's, told when Priya cancels (and the sign-in link before it).
        assert send(trainer, booked.location.split("?")[0], "confirm").status == 303
        assert dispatch(client)["sent"] == 1

        # Priya opens the link the log provider did not send (the WhatsApp tab shows the
        # trainer the text to send by hand), and cancels in the portal.
        tab = trainer.get("/dashboard/whatsapp/all").body
        tokens |= capability_tokens(tab)
        priya_link = re.search(r"/s/[A-Za-z0-9_-]{43}", tab).group(0)  # type: ignore[union-attr]
        priya_browser = Browser(client, [])
        assert priya_browser.get(priya_link).status == 200
        page = priya_browser.get(f"{priya_link}?confirm=cancel")
        assert page.status == 200, page.body
        version = re.search(r'name="version" value="([^"]+)"', page.body).group(1)  # type: ignore[union-attr]
        canceled = priya_browser.post(
            priya_link, {"version": version, "action": "cancel"}, csrf=page.csrf()
        )
        assert canceled.status == 303, canceled.body
        assert dispatch(client)["sent"] >= 1  # the trainer is told, by email (and Priya)
        (_sign_in, told) = emailed_to(TRAINER_EMAIL)
        tokens |= capability_tokens(told)

        # Webhooks carrying her number, words and address: her WhatsApp reply (the log
        # provider takes none: 404) and a bounce report that is not a signed SNS post.
        reply = {"From": "whatsapp:+447400123456", "Body": "Sorry Sam, cannot make it"}
        hook = client.http.post(
            "/webhooks/twilio/inbound",
            headers={"content-type": "application/x-www-form-urlencoded", "host": "testserver"},
            body=urlencode(reply).encode(),
        )
        assert hook.status_code == 404
        bounce = {
            "Type": "Notification",
            "Message": json.dumps({"mail": {"destination": [PRIYA_EMAIL]}}),
        }
        hook = client.http.post(
            "/webhooks/ses/events",
            headers={"content-type": "text/plain", "host": "testserver"},
            body=json.dumps(bounce).encode(),
        )
        assert hook.status_code == 403

        texts = [
            runtime.links().message_text(m)
            for m in runtime.repository().outbox.page(trainer_id, None, None)[0]
        ]
        texts.append(told)
    for text in texts:
        tokens |= capability_tokens(text)

    logged = captured.read()
    lines_of_texts = {
        line.strip() for text in texts for line in text.splitlines() if len(line.strip()) >= 12
    }
    forbidden = {
        *PHONE_FORMS,
        PRIYA_EMAIL,
        TRAINER_EMAIL,
        "cannot make it",
        *tokens,
        *lines_of_texts,
    }
    leaked = sorted(item for item in forbidden if item in logged)
    assert leaked == [], f"client data in the logs: {leaked}"

    lines = [line for line in logged.splitlines() if line.strip()]
    raw = [line for line in lines if not line.startswith("{")]
    assert raw == [], "lines that are not JSON"
    entries = [json.loads(line) for line in lines]
    assert [e for e in entries if not e.get("request_id")] == []
    # The capture saw the flow: a test that captured nothing would pass on nothing.
    messages = [e.get("message", "") for e in entries]
    assert any("WhatsApp message" in m and "logged, not sent" in m for m in messages)
    assert any(m.startswith("refused an SNS post") for m in messages)
    assert any(m.startswith("messages: 1 due, 1 claimed, 1 sent") for m in messages)
    assert any(e.get("SignIns") == 1 for e in entries)  # metrics: EMF lines on stdout
    assert any(e.get("MessagesSent") == 1 for e in entries)
    assert any(e.get("trainer_id") == trainer_id for e in entries)
    assert len(tokens) >= 4 and len(texts) >= 2

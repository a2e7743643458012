"""SES bounces and complaints end to end: an email queued for a client, sent to SES with
its tag, the SES event signed as SNS signs it (a key and certificate made here, the
certificate served by a local fake SNS server) and posted to `/webhooks/ses/events`
through the real app. Every bad input is a 403 before any DynamoDB call."""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from chalicelib import runtime
from chalicelib.domain.clients import Client, SaveProfile
from chalicelib.domain.errors import VersionConflict
from chalicelib.domain.messages import EMAIL, TRAINER_NOTIFICATION, Message
from chalicelib.domain.models import Trainer
from chalicelib.domain.schedule import Session
from chalicelib.messaging import email as email_channel
from chalicelib.messaging import sns
from chalicelib.repo import keys
from chalicelib.repo.bounces import EmailBounces
from chalicelib.repo.repository import Repository
from chalicelib.services import clients, dispatcher, email_events, sessions, webhooks
from tests.functional.conftest import Browser
from tests.support import builders
from tests.support.fake_http import QuietHandler, serving
from tests.support.race import race

TOPIC = "arn:aws:sns:eu-west-2:123456789012:pt-bookings-test-email-events"
BUSINESS = "Zoë's PT, Leeds"
PRIYA = "priya@example.com"
STAGE_SENDER = "PT Bookings <no-reply@ptbookings.example>"
LOCAL_RULE = sns.UrlRule(re.compile(r"127\.0\.0\.1"), ("http",))


# --- A signing key, its certificate, and a fake SNS serving it ----------------------------


@dataclass(frozen=True)
class Signer:
    key: rsa.RSAPrivateKey
    pem: bytes


def _certificate(key: rsa.RSAPrivateKey, start: datetime) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start - timedelta(days=30))
        .not_valid_after(start + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def signer() -> Signer:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return Signer(key, _certificate(key, builders.NOW))


@dataclass
class FakeSns:
    pem: bytes
    url: str = ""
    down: bool = False
    gets: list[str] = field(default_factory=list)


@pytest.fixture
def fake_sns(signer: Signer, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSns]:
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    fake = FakeSns(signer.pem)

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            fake.gets.append(self.path)
            if fake.down:
                self.send_response(500)
                self.end_headers()
                return
            body = fake.pem if self.path == "/cert.pem" else b"<ConfirmSubscriptionResponse/>"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    with serving(Handler) as url:
        fake.url = url
        yield fake


@pytest.fixture
def sns_stage(monkeypatch: pytest.MonkeyPatch, fake_sns: FakeSns) -> FakeSns:
    """The stage subscribed to TOPIC; SNS's URLs are the local fake's (the only rule a
    test loosens), and a certificate cache of the test's own."""
    monkeypatch.setenv("SES_EVENTS_TOPIC_ARN", TOPIC)
    monkeypatch.setattr(email_events, "url_rule_for", lambda topic: LOCAL_RULE)
    monkeypatch.setattr(email_events, "_CERTIFICATES", sns.CertificateCache())
    return fake_sns


def signed(
    signer: Signer, fake: FakeSns, fields: dict[str, Any], version: str = "2"
) -> dict[str, Any]:
    digest = hashes.SHA1() if version == "1" else hashes.SHA256()
    signature = signer.key.sign(sns.canonical_string(fields), padding.PKCS1v15(), digest)
    return {
        **fields,
        "SignatureVersion": version,
        "SigningCertURL": f"{fake.url}/cert.pem",
        "Signature": base64.b64encode(signature).decode(),
    }


def _stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def notification(
    signer: Signer, fake: FakeSns, event: dict[str, Any], *, at: datetime, version: str = "2"
) -> dict[str, Any]:
    fields = {
        "Type": "Notification",
        "MessageId": str(uuid.uuid4()),
        "TopicArn": TOPIC,
        "Message": json.dumps(event),
        "Timestamp": _stamp(at - timedelta(seconds=5)),
        "UnsubscribeURL": f"{fake.url}/?Action=Unsubscribe",
    }
    return signed(signer, fake, fields, version)


def ses_event(kind: str, tag: str | None, **details: Any) -> dict[str, Any]:
    """An SES event record as the configuration set publishes it (AWS's example shape)."""
    mail = {
        "timestamp": "2026-11-23T08:59:00.000Z",
        "source": STAGE_SENDER,
        "messageId": "ses-1",
        "destination": [PRIYA],
        "tags": {"ses:configuration-set": ["pt-bookings-test"]},
    }
    if tag is not None:
        mail["tags"]["pt_message"] = [tag]
    record: dict[str, Any] = {"eventType": kind, "mail": mail}
    if kind == "Bounce":
        record["bounce"] = {
            "bounceType": details.get("bounce_type", "Permanent"),
            "bounceSubType": "General",
            "bouncedRecipients": [{"emailAddress": PRIYA, "status": "5.1.1"}],
        }
    if kind == "Complaint":
        record["complaint"] = {
            "complainedRecipients": [{"emailAddress": PRIYA}],
            "complaintFeedbackType": details.get("feedback", "abuse"),
        }
    return record


def post(browser: Browser, fields: dict[str, Any] | bytes) -> Any:
    body = fields if isinstance(fields, bytes) else json.dumps(fields).encode()
    response = browser.client.http.request(
        "POST",
        email_events.SES_EVENTS_PATH,
        headers={
            "host": "testserver",
            "content-type": "text/plain; charset=UTF-8",
            "x-amz-sns-message-type": "Notification",
        },
        body=body,
    )
    headers = {k.lower(): v for k, v in response.headers.items()}
    timing = re.search(r'desc="(\d+) calls"', headers.get("server-timing", ""))
    return response.status_code, int(timing.group(1)) if timing else None


# --- The world: a client with only an email, an email queued and sent to SES --------------


class FakeSes:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send_email(self, **request: Any) -> dict[str, str]:
        self.sent.append(request)
        return {"MessageId": f"ses-{len(self.sent)}"}


@dataclass
class Sent:
    trainer: Trainer
    client: Client
    message: Message
    request: dict[str, Any]  # what SES was asked

    @property
    def tag(self) -> str:
        return self.request["EmailTags"][0]["Value"]


def _trainer(repo: Repository) -> Trainer:
    trainer = builders.make_trainer(repo, "zoe@example.com")
    named = trainer.settings.model_copy(update={"business_name": BUSINESS})
    return trainer.model_copy(update={"settings": named})


def _booked(repo: Repository, trainer: Trainer, email: str = PRIYA) -> tuple[Client, Session]:
    _, location = builders.add_location(repo, trainer)
    trainer = builders.trainer_of(repo, trainer.id).model_copy(
        update={"settings": trainer.settings}
    )
    client = builders.add_client(repo, trainer, locations=(location,), email=email)
    slot = builders.add_slot(repo, trainer, location)
    return client, builders.allocate(repo, trainer, slot, client)


def send_queued(repo: Repository, now: datetime) -> list[dict[str, Any]]:
    """One dispatcher run through the real StageSender, its email route on a fake SES:
    what the message carries (sender name, Reply-To, webhook reference) must reach SES."""
    ses = FakeSes()
    settings = email_channel.EmailSettings("ses", STAGE_SENDER, lambda: ses, "pt-bookings-test")

    def on_fake_ses(
        to: str, subject: str, text: str, _settings: object = None, **headers: str
    ) -> email_channel.SendResult:
        return email_channel.send_outbox_email(to, subject, text, settings, **headers)

    sender = dispatcher.StageSender(
        runtime.links(), "http://testserver", local=True, send_email=on_fake_ses
    )
    dispatcher.dispatch(repo, now, sender)
    return ses.sent


def email_to_client(repo: Repository, *, email: str = PRIYA) -> Sent:
    """The trainer's cancel notice to a client reachable only by email, queued by the
    real queueing spot (sessions.change_notice) and sent."""
    trainer = _trainer(repo)
    client, session = _booked(repo, trainer, email)
    email_only = client.model_copy(update={"phone": ""})
    notice = sessions.change_notice(
        sessions.ChangeNotice(trainer, "", "http://testserver"),
        email_only,
        "cancel_notice",
        session,
        builders.NOW,
    )
    assert notice is not None and notice.channel == EMAIL
    assert repo.queue_session_message(trainer.id, session, notice)
    (request,) = send_queued(repo, builders.NOW)
    return Sent(trainer, client, notice, request)


def message_item(repo: Repository, sent: Sent) -> dict[str, Any]:
    m = sent.message
    item = repo.db.get(keys.message(sent.trainer.id, m.week, m.subject_id, m.id))
    assert item is not None
    return item


def client_item(repo: Repository, sent: Sent) -> dict[str, Any]:
    item = repo.db.get(keys.client(sent.trainer.id, sent.client.id))
    assert item is not None
    return item


@pytest.fixture
def sent(repo: Repository) -> Sent:
    return email_to_client(repo)


# --- Sending ----------------------------------------------------------------------------------


def test_a_clients_email_goes_from_the_trainer_with_reply_to_and_its_tag(sent: Sent) -> None:
    assert sent.message.from_name == BUSINESS
    assert sent.message.reply_to == "zoe@example.com"
    request = sent.request
    assert request["FromEmailAddress"] == (
        "=?utf-8?b?Wm/DqydzIFBULCBMZWVkcw==?= <no-reply@ptbookings.example>"
    )
    assert request["ReplyToAddresses"] == ["zoe@example.com"]
    assert request["ConfigurationSetName"] == "pt-bookings-test"
    assert sent.tag == webhooks.message_reference(sent.trainer.id, sent.message.ref)


def test_the_outbox_keeps_the_sender_fields(repo: Repository, sent: Sent) -> None:
    ((_, kept),) = [
        (m.id, m)
        for m in repo.outbox.page(sent.trainer.id, None, None)[0]
        if m.id == sent.message.id
    ]
    assert (kept.from_name, kept.reply_to) == (BUSINESS, "zoe@example.com")


def test_botocore_accepts_the_request_and_moto_sends_it(aws: None) -> None:
    # moto records none of these parameters, but botocore validates their shapes before
    # anything is sent, and moto checks the From address is a verified identity.
    ses = boto3.client("sesv2", region_name="eu-west-2")
    ses.create_email_identity(EmailIdentity="no-reply@ptbookings.example")
    settings = email_channel.EmailSettings("ses", STAGE_SENDER, lambda: ses, "pt-bookings-test")
    result = email_channel.send_outbox_email(
        PRIYA,
        "Your session with Zoë's PT",
        "Text",
        settings,
        from_name=BUSINESS,
        reply_to="zoe@example.com",
        reference="t1.2026-W48.s1.m1",
    )
    assert result.provider == "ses" and result.provider_id


# --- Bounces and complaints -------------------------------------------------------------------


def test_a_permanent_bounce_fails_the_message_and_marks_the_client_once(
    repo: Repository, sent: Sent, browser: Browser, sns_stage: FakeSns, signer: Signer, clock
) -> None:
    before = client_item(repo, sent)
    body = notification(signer, sns_stage, ses_event("Bounce", sent.tag), at=clock.now)
    assert post(browser, body) == (200, 2)  # two conditional writes, no read first

    failed = message_item(repo, sent)
    assert failed["status"] == "failed"
    assert failed["error"] == "The email bounced: the address does not exist"
    assert "DuePK" not in failed
    marked = client_item(repo, sent)
    assert marked["email_bouncing"] is True
    assert marked["version"] == before["version"] + 1

    # The same notification again (SNS redelivers): nothing moves twice.
    assert post(browser, body) == (200, 2)
    assert message_item(repo, sent) == failed
    assert client_item(repo, sent) == marked
    # The certificate was fetched once for both.
    assert sns_stage.gets == ["/cert.pem"]


def test_signature_version_1_is_accepted_too(
    repo: Repository, sent: Sent, browser: Browser, sns_stage: FakeSns, signer: Signer, clock
) -> None:
    body = notification(signer, sns_stage, ses_event("Bounce", sent.tag), at=clock.now, version="1")
    assert post(browser, body)[0] == 200
    assert message_item(repo, sent)["status"] == "failed"


def test_a_complaint_fails_the_message_in_its_own_words(
    repo: Repository, sent: Sent, browser: Browser, sns_stage: FakeSns, signer: Signer, clock
) -> None:
    body = notification(signer, sns_stage, ses_event("Complaint", sent.tag), at=clock.now)
    assert post(browser, body)[0] == 200
    assert message_item(repo, sent)["error"] == "The client marked the email as spam"
    assert client_item(repo, sent)["email_bouncing"] is True


@pytest.mark.parametrize(
    "event",
    [
        ses_event("Bounce", "", bounce_type="Transient"),
        ses_event("Bounce", "", bounce_type="Undetermined"),
        ses_event("Complaint", "", feedback="not-spam"),
        ses_event("Delivery", ""),
        ses_event("Bounce", None),  # no tag: an email that is not an outbox message
    ],
)
def test_what_is_not_a_permanent_failure_marks_nothing(
    repo: Repository,
    sent: Sent,
    browser: Browser,
    sns_stage: FakeSns,
    signer: Signer,
    clock,
    event: dict[str, Any],
) -> None:
    if "pt_message" in event["mail"]["tags"]:
        event["mail"]["tags"]["pt_message"] = [sent.tag]
    before = (message_item(repo, sent), client_item(repo, sent))
    assert post(browser, notification(signer, sns_stage, event, at=clock.now))[0] == 200
    assert (message_item(repo, sent), client_item(repo, sent)) == before


def test_a_bounce_naming_an_unknown_message_changes_nothing(
    repo: Repository, sent: Sent, browser: Browser, sns_stage: FakeSns, signer: Signer, clock
) -> None:
    other = sent.tag.rsplit(".", 1)[0] + ".no-such-message"
    assert (
        post(browser, notification(signer, sns_stage, ses_event("Bounce", other), at=clock.now))[0]
        == 200
    )
    assert message_item(repo, sent)["status"] == "sent"
    assert not client_item(repo, sent).get("email_bouncing")


def test_the_trainers_own_notification_bouncing_marks_no_client(
    repo: Repository, browser: Browser, sns_stage: FakeSns, signer: Signer, clock
) -> None:
    trainer = _trainer(repo)
    client, session = _booked(repo, trainer)
    told = Message(
        id=f"{session.id}-booked-trainer",
        week=session.week,
        subject_id=session.id,
        subject_ref=session.ref,
        client_id=client.id,
        client_name=client.name,
        kind=TRAINER_NOTIFICATION,
        channel=EMAIL,
        to=PRIYA,  # even at the client's own address: the trainer's notification
        subject="Priya Shah booked",
        text="Priya Shah booked",
        created_at=builders.NOW,
        next_attempt_at=builders.NOW,
    )
    assert repo.queue_session_message(trainer.id, session, told)
    (request,) = send_queued(repo, builders.NOW)
    assert request["FromEmailAddress"] == '"PT Bookings" <no-reply@ptbookings.example>'
    assert "ReplyToAddresses" not in request
    tag = request["EmailTags"][0]["Value"]
    assert (
        post(browser, notification(signer, sns_stage, ses_event("Bounce", tag), at=clock.now))[0]
        == 200
    )
    item = repo.db.get(keys.message(trainer.id, told.week, told.subject_id, told.id))
    assert item is not None and item["status"] == "failed"
    assert not builders.client_now(repo, trainer.id, client).email_bouncing


def test_an_address_edited_before_the_bounce_arrives_is_not_marked(
    repo: Repository, sent: Sent, browser: Browser, sns_stage: FakeSns, signer: Signer, clock
) -> None:
    # The trainer fixed the address after the email went: the late bounce is about the
    # old one, and the client write itself refuses it.
    _save(repo, sent, "priya.shah@example.com")
    edited = client_item(repo, sent)
    assert (
        post(browser, notification(signer, sns_stage, ses_event("Bounce", sent.tag), at=clock.now))[
            0
        ]
        == 200
    )
    assert message_item(repo, sent)["status"] == "failed"  # that email did bounce
    assert client_item(repo, sent) == edited


def test_many_deliveries_of_one_bounce_at_once_mark_the_client_once(
    repo: Repository, sent: Sent, sns_stage: FakeSns, signer: Signer, clock
) -> None:
    version = client_item(repo, sent)["version"]
    body = json.dumps(
        notification(signer, sns_stage, ses_event("Bounce", sent.tag), at=clock.now)
    ).encode()
    checks = email_events.SnsChecks(TOPIC, LOCAL_RULE, sns.CertificateCache())
    results = race(8, lambda _: email_events.ses_events(repo, body, clock.now, checks))
    assert [r.status for r in results] == [200] * 8
    # Two writes, each won by one delivery (perhaps not the same one).
    assert 1 <= sum(r.applied for r in results) <= 2
    assert client_item(repo, sent)["version"] == version + 1
    assert message_item(repo, sent)["status"] == "failed"
    assert sns_stage.gets == ["/cert.pem"]  # one fetch, the others waited for it


def test_a_profile_form_drawn_before_the_bounce_is_refused_as_stale(
    repo: Repository, sent: Sent, sns_stage: FakeSns, signer: Signer, clock
) -> None:
    drawn = builders.client_now(repo, sent.trainer.id, sent.client)
    body = json.dumps(
        notification(signer, sns_stage, ses_event("Bounce", sent.tag), at=clock.now)
    ).encode()
    checks = email_events.SnsChecks(TOPIC, LOCAL_RULE, sns.CertificateCache())
    assert email_events.ses_events(repo, body, clock.now, checks).applied
    with pytest.raises(VersionConflict):
        _save(repo, sent, PRIYA, drawn=drawn)
    assert client_item(repo, sent)["email_bouncing"] is True


# --- After a bounce: not mailed again until edited --------------------------------------------


def _save(repo: Repository, sent: Sent, email: str, *, drawn: Client | None = None) -> Client:
    current = drawn or builders.client_now(repo, sent.trainer.id, sent.client)
    trainer = builders.trainer_of(repo, sent.trainer.id)
    return clients.save_profile(
        repo,
        trainer,
        repo.get_account(trainer.id),
        current,
        SaveProfile.model_validate(
            {
                "name": current.name,
                "phone": "07400 123456",
                "email": email,
                "price": "40",
                "version": str(current.version),
                "client_id": current.id,
                "location_ids": list(current.location_ids),
            }
        ),
    )


def _bounced(repo: Repository, sent: Sent, signer: Signer, fake: FakeSns, now: datetime) -> Client:
    body = json.dumps(notification(signer, fake, ses_event("Bounce", sent.tag), at=now)).encode()
    checks = email_events.SnsChecks(TOPIC, LOCAL_RULE, sns.CertificateCache())
    assert email_events.ses_events(repo, body, now, checks).applied
    return builders.client_now(repo, sent.trainer.id, sent.client)


def test_a_bouncing_address_is_not_mailed_whatsapp_goes_instead(
    repo: Repository, sent: Sent, sns_stage: FakeSns, signer: Signer, clock
) -> None:
    client = _bounced(repo, sent, signer, sns_stage, clock.now)
    assert client.email_bouncing
    assert sessions.client_reach(client) == sessions.Reach("whatsapp", client.phone)
    assert sessions.client_reach(client.model_copy(update={"phone": ""})) is None


def test_saving_the_same_address_keeps_the_mark_and_a_new_one_clears_it(
    repo: Repository, sent: Sent, sns_stage: FakeSns, signer: Signer, clock
) -> None:
    _bounced(repo, sent, signer, sns_stage, clock.now)
    assert _save(repo, sent, PRIYA).email_bouncing
    assert builders.client_now(repo, sent.trainer.id, sent.client).email_bouncing
    fixed = _save(repo, sent, "priya.shah@example.com")
    assert not fixed.email_bouncing
    assert not builders.client_now(repo, sent.trainer.id, sent.client).email_bouncing
    assert sessions.client_reach(fixed.model_copy(update={"phone": ""})) == sessions.Reach(
        EMAIL, "priya.shah@example.com"
    )


def test_the_profile_says_the_email_bounced(
    repo: Repository, trainer: Browser, sns_stage: FakeSns, signer: Signer, clock
) -> None:
    tid = trainer.cookies["pt_session"].split(".")[0]
    me = builders.trainer_of(repo, tid)
    _, location = builders.add_location(repo, me)
    client = builders.add_client(
        repo, builders.trainer_of(repo, tid), locations=(location,), email=PRIYA
    )
    assert "Email bounced" not in trainer.get(f"/dashboard/clients/{client.id}").body
    assert EmailBounces(repo.db).mark_client_bouncing(tid, client.id, PRIYA)
    page = trainer.get(f"/dashboard/clients/{client.id}")
    assert page.status == 200
    assert 'id="email-bouncing">Email bounced</span>' in page.body
    assert 'id="email-bounced-hint"' in page.body


# --- Subscription confirmation ----------------------------------------------------------------


def confirmation(signer: Signer, fake: FakeSns, at: datetime, url: str | None = None) -> dict:
    fields = {
        "Type": "SubscriptionConfirmation",
        "MessageId": str(uuid.uuid4()),
        "Token": "2336412f37fb687f5d51e6e2425",
        "TopicArn": TOPIC,
        "Message": f"You have chosen to subscribe to the topic {TOPIC}.",
        "SubscribeURL": url
        or f"{fake.url}/?Action=ConfirmSubscription&TopicArn={TOPIC}&Token=2336412f37fb687f",
        "Timestamp": _stamp(at),
    }
    return signed(signer, fake, fields)


def test_a_subscription_confirmation_is_confirmed(
    browser: Browser, sns_stage: FakeSns, signer: Signer, clock
) -> None:
    status, calls = post(browser, confirmation(signer, sns_stage, clock.now))
    assert status == 200 and calls == 0
    assert sns_stage.gets[0] == "/cert.pem"
    assert sns_stage.gets[1].startswith("/?Action=ConfirmSubscription&TopicArn=")


def test_a_confirmation_pointing_elsewhere_is_refused_unvisited(
    browser: Browser, sns_stage: FakeSns, signer: Signer, clock
) -> None:
    elsewhere = "http://localhost:9/?Action=ConfirmSubscription&Token=x"
    assert post(browser, confirmation(signer, sns_stage, clock.now, elsewhere))[0] == 403
    assert sns_stage.gets == ["/cert.pem"]  # the signature was checked; nothing else fetched


# --- Bad input: 403 before any read ---------------------------------------------------------


def _forged(signer: Signer, fake: FakeSns, body: dict[str, Any]) -> dict[str, Any]:
    other = Signer(rsa.generate_private_key(public_exponent=65537, key_size=2048), signer.pem)
    return signed(other, fake, {k: v for k, v in body.items() if k not in _SIGNATURE})


_SIGNATURE = ("SignatureVersion", "SigningCertURL", "Signature")


@pytest.mark.parametrize(
    "spoil",
    [
        "forged signature",
        "tampered message",
        "wrong cert host",
        "wrong topic",
        "old timestamp",
        "future timestamp",
        "no signature",
        "unknown version",
        "not json",
        "unknown type",
    ],
)
def test_bad_posts_are_403_before_any_read(
    repo: Repository,
    sent: Sent,
    browser: Browser,
    sns_stage: FakeSns,
    signer: Signer,
    clock,
    spoil: str,
) -> None:
    good = notification(signer, sns_stage, ses_event("Bounce", sent.tag), at=clock.now)
    unsigned = {k: v for k, v in good.items() if k not in _SIGNATURE}
    bodies: dict[str, dict[str, Any] | bytes] = {
        "forged signature": _forged(signer, sns_stage, good),
        "tampered message": {
            **good,
            "Message": json.dumps(ses_event("Complaint", sent.tag)),
        },
        "wrong cert host": {
            **good,
            "SigningCertURL": good["SigningCertURL"].replace("127.0.0.1", "localhost"),
        },
        "wrong topic": signed(signer, sns_stage, {**unsigned, "TopicArn": TOPIC + "-other"}),
        "old timestamp": signed(
            signer, sns_stage, {**unsigned, "Timestamp": _stamp(clock.now - timedelta(hours=2))}
        ),
        "future timestamp": signed(
            signer, sns_stage, {**unsigned, "Timestamp": _stamp(clock.now + timedelta(hours=1))}
        ),
        "no signature": unsigned,
        "unknown version": {**good, "SignatureVersion": "9"},
        "not json": b"Bounce for priya@example.com",
        "unknown type": {**good, "Type": "Subscribe"},
    }
    before = (message_item(repo, sent), client_item(repo, sent))
    status, calls = post(browser, bodies[spoil])
    assert status == 403
    assert calls == 0  # refused before any DynamoDB call
    assert (message_item(repo, sent), client_item(repo, sent)) == before
    if spoil in ("wrong cert host", "wrong topic", "old timestamp", "no signature"):
        assert sns_stage.gets == []  # cheap checks first: nothing fetched


def test_a_stage_without_a_topic_listens_to_nothing(
    browser: Browser, fake_sns: FakeSns, signer: Signer, clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SES_EVENTS_TOPIC_ARN", raising=False)
    status, calls = post(browser, confirmation(signer, fake_sns, clock.now))
    assert (status, calls) == (404, 0)
    assert fake_sns.gets == []


def test_an_unreachable_certificate_is_503_so_sns_retries(
    browser: Browser, sns_stage: FakeSns, signer: Signer, clock
) -> None:
    sns_stage.down = True
    status, calls = post(browser, confirmation(signer, sns_stage, clock.now))
    assert (status, calls) == (503, 0)


def test_no_address_or_text_is_logged(
    repo: Repository,
    sent: Sent,
    browser: Browser,
    sns_stage: FakeSns,
    signer: Signer,
    clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("DEBUG")
    post(browser, notification(signer, sns_stage, ses_event("Bounce", sent.tag), at=clock.now))
    post(browser, b"Bounce for priya@example.com")
    post(
        browser,
        notification(signer, sns_stage, ses_event("Bounce", "x.2026-W48.y.z"), at=clock.now),
    )
    ours = [r for r in caplog.records if r.name.startswith("pt_bookings")]
    assert any(r.name == "pt_bookings.email_events" for r in ours)
    logged = "\n".join(record.getMessage() for record in ours)
    assert PRIYA not in logged and "zoe@example.com" not in logged
    assert sent.message.text not in logged

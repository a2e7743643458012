"""SNS signature checking in pure Python (messaging/sns.py): the canonical strings AWS
documents, the DER reader, RSA PKCS#1 v1.5 for both signature versions, and every way a
message is refused. Keys and certificates are made here with `cryptography` (a dev
dependency only: the app never imports it)."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from chalicelib.messaging import sns

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
TOPIC = "arn:aws:sns:eu-west-2:123456789012:pt-bookings-test-email-events"
CERT_URL = "https://sns.eu-west-2.amazonaws.com/SimpleNotificationService-abc.pem"
RULE = sns.UrlRule.for_topic(TOPIC)


def certificate(
    key: Any, *, not_before: datetime = NOW - timedelta(days=1), days: int = 365
) -> bytes:
    """A self-signed PEM certificate for `key`."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class Signer:
    key: rsa.RSAPrivateKey
    pem: bytes

    def sign(self, fields: dict[str, Any], version: str = "2") -> dict[str, Any]:
        digest = hashes.SHA1() if version == "1" else hashes.SHA256()
        signature = self.key.sign(sns.canonical_string(fields), padding.PKCS1v15(), digest)
        return {
            **fields,
            "SignatureVersion": version,
            "SigningCertURL": CERT_URL,
            "Signature": base64.b64encode(signature).decode(),
        }


@pytest.fixture(scope="module")
def signer() -> Signer:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return Signer(key, certificate(key))


def notification(**changes: Any) -> dict[str, Any]:
    fields = {
        "Type": "Notification",
        "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
        "TopicArn": TOPIC,
        "Message": '{"eventType":"Bounce"}',
        "Timestamp": "2026-11-23T08:59:30.655Z",
        "UnsubscribeURL": "https://sns.eu-west-2.amazonaws.com/?Action=Unsubscribe",
    }
    return {k: v for k, v in {**fields, **changes}.items() if v is not None}


def confirmation(**changes: Any) -> dict[str, Any]:
    fields = {
        "Type": "SubscriptionConfirmation",
        "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
        "Token": "2336412f37",
        "TopicArn": TOPIC,
        "Message": "You have chosen to subscribe to the topic.\nTo confirm, visit the URL.",
        "SubscribeURL": "https://sns.eu-west-2.amazonaws.com/?Action=ConfirmSubscription"
        f"&TopicArn={TOPIC}&Token=2336412f37",
        "Timestamp": "2026-11-23T08:59:30.655Z",
    }
    return {**fields, **changes}


class Certificates(sns.CertificateCache):
    """Serves one PEM for every URL and counts the fetches."""

    def __init__(self, pem: bytes) -> None:
        self.urls: list[str] = []

        def fetch(url: str) -> bytes:
            self.urls.append(url)
            return pem

        super().__init__(fetch)


def check(fields: dict[str, Any], certificates: sns.CertificateCache, **options: Any):
    return sns.verify(
        fields,
        topic_arn=options.get("topic_arn", TOPIC),
        now=options.get("now", NOW),
        tolerance=timedelta(hours=1),
        rule=options.get("rule", RULE),
        certificates=certificates,
    )


# --- Canonical strings ----------------------------------------------------------------------


def test_a_notification_signs_its_six_fields_in_byte_order() -> None:
    fields = notification(Subject="Amazon SES Email Event Notification")
    assert sns.canonical_string(fields) == (
        b'Message\n{"eventType":"Bounce"}\n'
        b"MessageId\n22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324\n"
        b"Subject\nAmazon SES Email Event Notification\n"
        b"Timestamp\n2026-11-23T08:59:30.655Z\n"
        b"TopicArn\n" + TOPIC.encode() + b"\n"
        b"Type\nNotification\n"
    )


def test_a_notification_without_a_subject_leaves_the_subject_out() -> None:
    text = sns.canonical_string(notification())
    assert b"Subject" not in text
    assert text.startswith(b"Message\n") and text.endswith(b"Type\nNotification\n")
    # UnsubscribeURL is posted but not signed.
    assert b"Unsubscribe" not in text


def test_a_subscription_confirmation_signs_its_url_and_token() -> None:
    fields = confirmation()
    assert (
        sns.canonical_string(fields)
        == (
            "Message\nYou have chosen to subscribe to the topic.\nTo confirm, visit the URL.\n"
            "MessageId\n165545c9-2a5c-472c-8df2-7ff2be2b3b1b\n"
            f"SubscribeURL\n{fields['SubscribeURL']}\n"
            "Timestamp\n2026-11-23T08:59:30.655Z\n"
            "Token\n2336412f37\n"
            f"TopicArn\n{TOPIC}\n"
            "Type\nSubscriptionConfirmation\n"
        ).encode()
    )


def test_an_unsubscribe_confirmation_signs_like_a_subscription_confirmation() -> None:
    fields = confirmation(Type="UnsubscribeConfirmation")
    assert sns.canonical_string(fields).endswith(b"Type\nUnsubscribeConfirmation\n")
    assert b"Token\n2336412f37\n" in sns.canonical_string(fields)


def test_non_ascii_in_the_message_is_signed_as_utf8() -> None:
    text = sns.canonical_string(notification(Message="Zoë's PT, Leeds"))
    assert "Zoë".encode() in text


@pytest.mark.parametrize(
    "fields",
    [
        notification(Type="Unknown"),
        notification(MessageId=None),
        confirmation(Token=None),
        notification(Message=42),
    ],
)
def test_a_message_missing_a_signed_field_is_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(sns.Refused):
        sns.canonical_string({k: v for k, v in fields.items() if v is not None})


# --- The DER reader ---------------------------------------------------------------------------


def test_the_rsa_key_and_validity_are_read_from_a_certificate(signer: Signer) -> None:
    key = sns.rsa_key_from_certificate(sns.pem_certificate(signer.pem))
    numbers = signer.key.public_key().public_numbers()
    assert (key.modulus, key.exponent) == (numbers.n, numbers.e)
    assert key.not_before == NOW - timedelta(days=1)
    assert key.not_after == NOW - timedelta(days=1) + timedelta(days=365)
    assert key.valid_at(NOW) and not key.valid_at(NOW + timedelta(days=400))


def test_a_certificate_far_in_the_future_uses_a_generalized_time() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    later = datetime(2051, 1, 1, tzinfo=UTC)  # RFC 5280: GeneralizedTime from 2050
    read = sns.rsa_key_from_certificate(
        sns.pem_certificate(certificate(key, not_before=later, days=10))
    )
    assert read.not_before == later


def test_an_elliptic_curve_certificate_is_not_an_rsa_key() -> None:
    pem = certificate(ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(ValueError, match="not an RSA key"):
        sns.rsa_key_from_certificate(sns.pem_certificate(pem))


def test_a_short_rsa_key_is_refused() -> None:
    pem = certificate(rsa.generate_private_key(public_exponent=65537, key_size=1024))
    with pytest.raises(ValueError, match="weak"):
        sns.rsa_key_from_certificate(sns.pem_certificate(pem))


@pytest.mark.parametrize(
    "mangle",
    [
        lambda der: der[:-1],  # truncated
        lambda der: der[:40],
        lambda der: b"\x30\x80" + der[2:],  # indefinite length
        lambda der: b"\x30\x85" + der[2:],  # a length of five bytes
        lambda der: b"\x04" + der[1:],  # not a SEQUENCE
        lambda der: b"",
        lambda der: b"\x30\x00",
    ],
)
def test_malformed_der_is_a_value_error(signer: Signer, mangle: Callable[[bytes], bytes]) -> None:
    der = sns.pem_certificate(signer.pem)
    with pytest.raises(ValueError):
        sns.rsa_key_from_certificate(mangle(der))


def test_a_pem_without_a_certificate_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        sns.pem_certificate(b"<html>not a certificate</html>")


# --- PKCS#1 v1.5 ------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["1", "2"])
def test_both_signature_versions_verify(signer: Signer, version: str) -> None:
    certificates = Certificates(signer.pem)
    message = check(signer.sign(notification(), version), certificates)
    assert message.type == "Notification"
    assert message.message == '{"eventType":"Bounce"}'
    assert message.timestamp == datetime(2026, 11, 23, 8, 59, 30, 655000, tzinfo=UTC)


def test_a_signed_subscription_confirmation_verifies(signer: Signer) -> None:
    message = check(signer.sign(confirmation()), Certificates(signer.pem))
    assert message.subscribe_url.startswith("https://sns.eu-west-2.amazonaws.com/")


def test_a_signature_of_the_other_hash_does_not_verify(signer: Signer) -> None:
    # Signed with SHA256 but announced as version 1 (SHA1).
    signed = {**signer.sign(notification(), "2"), "SignatureVersion": "1"}
    with pytest.raises(sns.Refused, match="bad signature"):
        check(signed, Certificates(signer.pem))


def test_the_pkcs1_block_is_compared_whole(signer: Signer) -> None:
    key = sns.rsa_key_from_certificate(sns.pem_certificate(signer.pem))
    digest_info = bytes.fromhex("3031300d060960864801650304020105000420") + b"\x00" * 32
    assert not sns.verify_pkcs1_v15(key, b"\x00" * 256, digest_info)
    assert not sns.verify_pkcs1_v15(key, b"\x01" * 255, digest_info)  # wrong length
    too_big = (key.modulus + 1).to_bytes(256, "big")
    assert not sns.verify_pkcs1_v15(key, too_big, digest_info)


# --- Refusals ---------------------------------------------------------------------------------


def test_the_certificate_is_fetched_once(signer: Signer) -> None:
    certificates = Certificates(signer.pem)
    for _ in range(3):
        check(signer.sign(notification()), certificates)
    assert certificates.urls == [CERT_URL]


def test_a_forged_signature_is_refused(signer: Signer) -> None:
    forger = Signer(rsa.generate_private_key(public_exponent=65537, key_size=2048), signer.pem)
    with pytest.raises(sns.Refused, match="bad signature"):
        check(forger.sign(notification()), Certificates(signer.pem))


def test_a_message_changed_after_signing_is_refused(signer: Signer) -> None:
    signed = {**signer.sign(notification()), "Message": '{"eventType":"Complaint"}'}
    with pytest.raises(sns.Refused, match="bad signature"):
        check(signed, Certificates(signer.pem))


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"TopicArn": TOPIC.replace("test", "prod")}, "not our topic"),
        ({"Timestamp": "2026-11-23T07:59:00.000Z"}, "tolerance"),  # 61 minutes old
        ({"Timestamp": "2026-11-23T09:06:00.000Z"}, "tolerance"),  # 6 minutes ahead
        ({"Timestamp": "yesterday"}, "unreadable"),
        ({"Timestamp": "2026-11-23T08:59:30"}, "time zone"),
        ({"Type": "Subscribe"}, "unknown message type"),
    ],
)
def test_cheap_checks_refuse_before_any_fetch(
    signer: Signer, changes: dict[str, str], reason: str
) -> None:
    certificates = Certificates(signer.pem)
    with pytest.raises(sns.Refused, match=reason):
        check({**signer.sign(notification()), **changes}, certificates)
    assert certificates.urls == []


def test_a_message_an_hour_old_is_still_accepted(signer: Signer) -> None:
    fields = signer.sign(notification(Timestamp="2026-11-23T08:00:00.000Z"))
    assert check(fields, Certificates(signer.pem)).type == "Notification"


@pytest.mark.parametrize(
    "url",
    [
        "http://sns.eu-west-2.amazonaws.com/cert.pem",  # not https
        "https://sns.us-east-1.amazonaws.com/cert.pem",  # another region than the topic's
        "https://sns.eu-west-2.amazonaws.com.evil.example/cert.pem",
        "https://evil.example/sns.eu-west-2.amazonaws.com/cert.pem",
        "https://sns.eu-west-2.amazonaws.com@evil.example/cert.pem",  # userinfo trick
        "https://user@sns.eu-west-2.amazonaws.com/cert.pem",
        "https://sns.eu-west-2.amazonaws.com:8443/cert.pem",
        "https://xsns.eu-west-2.amazonaws.com/cert.pem",
        "https://[::1/cert.pem",
        "file:///etc/passwd",
    ],
)
def test_a_certificate_from_anywhere_but_sns_is_refused_unfetched(signer: Signer, url: str) -> None:
    certificates = Certificates(signer.pem)
    with pytest.raises(sns.Refused, match="certificate URL"):
        check({**signer.sign(notification()), "SigningCertURL": url}, certificates)
    assert certificates.urls == []


@pytest.mark.parametrize(
    "changes",
    [{"SignatureVersion": "3"}, {"Signature": "not base64!"}, {"Signature": None}],
)
def test_an_unreadable_signature_is_refused(signer: Signer, changes: dict[str, Any]) -> None:
    fields = {**signer.sign(notification()), **changes}
    with pytest.raises(sns.Refused):
        check({k: v for k, v in fields.items() if v is not None}, Certificates(signer.pem))


def test_an_expired_certificate_is_refused(signer: Signer) -> None:
    old = certificate(signer.key, not_before=NOW - timedelta(days=30), days=10)
    with pytest.raises(sns.Refused, match="validity"):
        check(signer.sign(notification()), Certificates(old))


def test_an_unreadable_certificate_is_refused(signer: Signer) -> None:
    with pytest.raises(sns.Refused, match="certificate unreadable"):
        check(signer.sign(notification()), Certificates(b"<html>Moved</html>"))


def test_no_topic_configured_accepts_nothing(signer: Signer) -> None:
    with pytest.raises(sns.Refused):
        check(signer.sign(notification()), Certificates(signer.pem), topic_arn="")


@pytest.mark.parametrize("body", [b"", b"not json", b"[1, 2]", b'"text"', b"{" * 100_000])
def test_a_body_that_is_not_a_json_object_is_refused(body: bytes) -> None:
    with pytest.raises(sns.Refused):
        sns.parse(body)


# --- The URL rule and the subscription confirmation -----------------------------------------


def test_the_rule_follows_the_topics_region() -> None:
    rule = sns.UrlRule.for_topic("arn:aws:sns:us-east-1:123456789012:t")
    assert rule.allows("https://sns.us-east-1.amazonaws.com/x.pem")
    assert not rule.allows("https://sns.eu-west-2.amazonaws.com/x.pem")
    assert sns.topic_region("not an arn") == ""
    assert sns.topic_region("arn:aws:sqs:eu-west-2:1:q") == ""


def test_a_subscription_is_confirmed_only_at_snss_own_confirm_url() -> None:
    fetched: list[str] = []

    def get(url: str) -> bytes:
        fetched.append(url)
        return b"<ConfirmSubscriptionResponse/>"

    good = confirmation()["SubscribeURL"]
    sns.confirm_subscription(good, RULE, get)
    assert fetched == [good]
    for bad in (
        good.replace("sns.eu-west-2.amazonaws.com", "evil.example"),
        good.replace("ConfirmSubscription", "Unsubscribe"),
        good.replace("https", "http"),
    ):
        with pytest.raises(sns.Refused):
            sns.confirm_subscription(bad, RULE, get)
    assert fetched == [good]


def test_a_local_rule_for_tests_is_explicit() -> None:
    rule = sns.UrlRule(re.compile(r"127\.0\.0\.1"), ("http",))
    assert rule.allows("http://127.0.0.1:8123/cert.pem")
    assert not rule.allows("http://localhost:8123/cert.pem")

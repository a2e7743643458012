"""Amazon SNS messages posted to our HTTPS endpoint: proving that SNS sent them.

SNS signs every message it posts (RSA, PKCS#1 v1.5) over a canonical string of named
fields: SHA1 for SignatureVersion 1, SHA256 for 2. The public key is in an X.509
certificate at the message's SigningCertURL. A message is accepted only when all hold:
- its Type is one SNS sends (Notification, SubscriptionConfirmation,
  UnsubscribeConfirmation), with every field its canonical string needs;
- its TopicArn is the one topic this stage subscribed to;
- its Timestamp is within `tolerance` of now (a captured message cannot be replayed
  later; within the tolerance, what it asks is applied idempotently by the caller);
- SigningCertURL is https on `sns.<topic's region>.amazonaws.com` (the `UrlRule`):
  TLS to that host is what makes the certificate trustworthy, so the certificate's own
  chain is not walked here; it must be within its validity dates;
- the signature checks out under that certificate's RSA key (2048 bits or more).

Pure Python on purpose: `cryptography` would add megabytes to every Lambda bundle for
one signature check, while reading an RSA key from a DER certificate and checking a
PKCS#1 v1.5 signature (`pow(signature, e, n)` against the expected DigestInfo) takes a
few dozen lines. A certificate is fetched once per container (`CertificateCache`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import http.client
import json
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

NOTIFICATION: Final = "Notification"
SUBSCRIPTION_CONFIRMATION: Final = "SubscriptionConfirmation"
UNSUBSCRIBE_CONFIRMATION: Final = "UnsubscribeConfirmation"

# The fields each type's canonical string is made of, in byte order (AWS's list).
# `Subject` is signed only when the message has one.
_SUBSCRIPTION_FIELDS: Final = (
    "Message",
    "MessageId",
    "SubscribeURL",
    "Timestamp",
    "Token",
    "TopicArn",
    "Type",
)
SIGNED_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    NOTIFICATION: ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    SUBSCRIPTION_CONFIRMATION: _SUBSCRIPTION_FIELDS,
    UNSUBSCRIBE_CONFIRMATION: _SUBSCRIPTION_FIELDS,
}
_OPTIONAL: Final = frozenset({"Subject"})

# DER DigestInfo before the digest itself (RFC 8017 §9.2, note 1).
_DIGEST_INFO: Final[dict[str, tuple[str, bytes]]] = {
    "1": ("sha1", bytes.fromhex("3021300906052b0e03021a05000414")),
    "2": ("sha256", bytes.fromhex("3031300d060960864801650304020105000420")),
}
_RSA_ENCRYPTION_OID: Final = bytes.fromhex("2a864886f70d010101")  # 1.2.840.113549.1.1.1
MIN_KEY_BITS: Final = 2048
# A future timestamp is allowed this much clock difference, no more.
CLOCK_SKEW: Final = timedelta(minutes=5)
FETCH_TIMEOUT_SECONDS: Final = 3.0
MAX_CERTIFICATE_BYTES: Final = 16 * 1024
MAX_BODY_BYTES: Final = 512 * 1024  # an SNS message is at most 256 KB, plus its envelope


class Refused(Exception):
    """Not a message SNS sent to this stage: answered 403. The reason is for the log and
    never carries the message's content."""


class Unavailable(Exception):
    """The certificate or the confirmation URL could not be reached: answered 503, so
    SNS tries again later."""


# --- Where SNS URLs may point ---------------------------------------------------------------


@dataclass(frozen=True)
class UrlRule:
    """Which URLs of a message (SigningCertURL, SubscribeURL) are SNS's own. Tests give
    their local server's; a stage uses `for_topic`."""

    host: re.Pattern[str]
    schemes: tuple[str, ...] = ("https",)

    @classmethod
    def for_topic(cls, topic_arn: str) -> UrlRule:
        """https on `sns.<region>.amazonaws.com`, the region being the topic's own."""
        region = topic_region(topic_arn)
        return cls(re.compile(rf"sns\.{re.escape(region)}\.amazonaws\.com"))

    def allows(self, url: str) -> bool:
        try:
            parts = urllib.parse.urlsplit(url)
            port = parts.port
        except ValueError:
            return False
        return (
            parts.scheme in self.schemes
            and parts.username is None
            and parts.password is None
            and (port is None or parts.scheme != "https" or port == 443)
            and self.host.fullmatch(parts.hostname or "") is not None
        )


def topic_region(topic_arn: str) -> str:
    """The region of `arn:aws:sns:<region>:<account>:<name>` ("" when it is not one)."""
    parts = topic_arn.split(":")
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "sns":
        return ""
    return parts[3] if re.fullmatch(r"[a-z0-9-]+", parts[3]) else ""


# --- The message ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SnsMessage:
    type: str
    message_id: str
    topic_arn: str
    message: str
    timestamp: datetime
    subscribe_url: str = ""


def parse(raw_body: bytes) -> dict[str, Any]:
    """The posted JSON object, or Refused (an unreadable body cannot carry a signature)."""
    if len(raw_body) > MAX_BODY_BYTES:
        raise Refused("body too large")
    try:
        fields = json.loads(raw_body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise Refused("body is not JSON") from exc
    if not isinstance(fields, dict):
        raise Refused("body is not a JSON object")
    return fields


def canonical_string(fields: Mapping[str, Any]) -> bytes:
    """The bytes SNS signed for this message: `name\\nvalue\\n` for each signed field."""
    names = SIGNED_FIELDS.get(str(fields.get("Type", "")))
    if names is None:
        raise Refused("unknown message type")
    lines: list[str] = []
    for name in names:
        value = fields.get(name)
        if value is None and name in _OPTIONAL:
            continue
        if not isinstance(value, str):
            raise Refused(f"{name} missing")
        lines.append(f"{name}\n{value}\n")
    return "".join(lines).encode("utf-8")


def verify(
    fields: Mapping[str, Any],
    *,
    topic_arn: str,
    now: datetime,
    tolerance: timedelta,
    rule: UrlRule,
    certificates: CertificateCache,
) -> SnsMessage:
    """The message, if SNS sent it to `topic_arn` within `tolerance` of `now`; Refused
    otherwise, Unavailable when the certificate cannot be fetched. The cheap checks come
    first, so a forged message costs no fetch."""
    canonical = canonical_string(fields)
    if not topic_arn or fields.get("TopicArn") != topic_arn:
        raise Refused("not our topic")
    timestamp = _timestamp(fields.get("Timestamp"))
    if now - timestamp > tolerance or timestamp - now > CLOCK_SKEW:
        raise Refused("timestamp outside the tolerance")
    version = str(fields.get("SignatureVersion", ""))
    if version not in _DIGEST_INFO:
        raise Refused("unknown signature version")
    cert_url = fields.get("SigningCertURL")
    if not isinstance(cert_url, str) or not rule.allows(cert_url):
        raise Refused("certificate URL is not SNS's")
    signature = _base64(fields.get("Signature"))
    key = certificates.key(cert_url)
    if not key.valid_at(now):
        raise Refused("certificate outside its validity")
    hash_name, prefix = _DIGEST_INFO[version]
    if not verify_pkcs1_v15(key, signature, prefix + hashlib.new(hash_name, canonical).digest()):
        raise Refused("bad signature")
    return SnsMessage(
        type=str(fields["Type"]),
        message_id=str(fields["MessageId"]),
        topic_arn=topic_arn,
        message=str(fields["Message"]),
        timestamp=timestamp,
        subscribe_url=str(fields.get("SubscribeURL") or ""),
    )


def _timestamp(value: Any) -> datetime:
    if not isinstance(value, str):
        raise Refused("Timestamp missing")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise Refused("Timestamp unreadable") from exc
    if parsed.tzinfo is None:
        raise Refused("Timestamp without a time zone")
    return parsed.astimezone(UTC)


def _base64(value: Any) -> bytes:
    if not isinstance(value, str):
        raise Refused("Signature missing")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Refused("Signature is not base64") from exc


# --- RSA, PKCS#1 v1.5 -------------------------------------------------------------------------


@dataclass(frozen=True)
class RsaPublicKey:
    modulus: int
    exponent: int
    not_before: datetime
    not_after: datetime

    def valid_at(self, now: datetime) -> bool:
        return self.not_before <= now <= self.not_after


def verify_pkcs1_v15(key: RsaPublicKey, signature: bytes, digest_info: bytes) -> bool:
    """Whether `signature` is an RSASSA-PKCS1-v1_5 signature (RFC 8017 §8.2.2) whose
    DER DigestInfo is `digest_info`. The whole encoded block is rebuilt and compared, so
    no parsing of attacker-chosen padding is ever done."""
    size = (key.modulus.bit_length() + 7) // 8
    if len(signature) != size or size < len(digest_info) + 11:
        return False
    value = int.from_bytes(signature, "big")
    if value >= key.modulus:
        return False
    decoded = pow(value, key.exponent, key.modulus).to_bytes(size, "big")
    expected = b"\x00\x01" + b"\xff" * (size - len(digest_info) - 3) + b"\x00" + digest_info
    return hmac.compare_digest(decoded, expected)


# --- A minimal DER reader: the RSA key and validity of an X.509 certificate ----------------

_SEQUENCE, _INTEGER, _BIT_STRING, _OID, _NULL = 0x30, 0x02, 0x03, 0x06, 0x05
_UTC_TIME, _GENERALIZED_TIME, _VERSION_TAG = 0x17, 0x18, 0xA0


def _tlv(data: bytes, at: int, end: int) -> tuple[int, int, int]:
    """(tag, first content byte, end of content) of the element at `at`: definite
    lengths only, as DER requires."""
    if at + 2 > end:
        raise ValueError("truncated element")
    tag, length = data[at], data[at + 1]
    if tag & 0x1F == 0x1F:
        raise ValueError("multi-byte tags are not used in certificates")
    at += 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or at + count > end:
            raise ValueError("bad length")
        length = int.from_bytes(data[at : at + count], "big")
        at += count
    if at + length > end:
        raise ValueError("element runs past its container")
    return tag, at, at + length


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    found = []
    at = start
    while at < end:
        element = _tlv(data, at, end)
        found.append(element)
        at = element[2]
    return found


def _expect(element: tuple[int, int, int], tag: int) -> tuple[int, int]:
    if element[0] != tag:
        raise ValueError(f"expected tag {tag:#x}, found {element[0]:#x}")
    return element[1], element[2]


def _positive_integer(data: bytes, element: tuple[int, int, int]) -> int:
    start, end = _expect(element, _INTEGER)
    if start == end or data[start] & 0x80:
        raise ValueError("not a positive integer")
    return int.from_bytes(data[start:end], "big")


def _time(data: bytes, element: tuple[int, int, int]) -> datetime:
    tag, start, end = element
    text = data[start:end].decode("ascii")
    if tag == _UTC_TIME and len(text) == 13 and text.endswith("Z"):
        # RFC 5280 §4.1.2.5.1: two-digit years 50-99 are 19xx, 00-49 are 20xx.
        year = int(text[:2])
        text = f"{1900 + year if year >= 50 else 2000 + year}{text[2:]}"
    elif tag != _GENERALIZED_TIME or len(text) != 15 or not text.endswith("Z"):
        raise ValueError("unreadable time")
    return datetime.strptime(text, "%Y%m%d%H%M%SZ").replace(tzinfo=UTC)


def rsa_key_from_certificate(der: bytes) -> RsaPublicKey:
    """The RSA public key and validity of a DER X.509 certificate (RFC 5280 §4.1):
    Certificate = SEQUENCE { tbsCertificate, signatureAlgorithm, signature };
    tbsCertificate = SEQUENCE { [0] version?, serial, signature, issuer, validity,
    subject, subjectPublicKeyInfo, ... }. ValueError for anything else."""
    cert_start, cert_end = _expect(_tlv(der, 0, len(der)), _SEQUENCE)
    tbs = _children(der, cert_start, cert_end)
    if len(tbs) != 3:
        raise ValueError("not a certificate")
    tbs_start, tbs_end = _expect(tbs[0], _SEQUENCE)
    fields = _children(der, tbs_start, tbs_end)
    if fields and fields[0][0] == _VERSION_TAG:
        fields = fields[1:]
    if len(fields) < 6:
        raise ValueError("certificate fields missing")
    validity_start, validity_end = _expect(fields[3], _SEQUENCE)
    validity = _children(der, validity_start, validity_end)
    if len(validity) != 2:
        raise ValueError("bad validity")
    not_before, not_after = (_time(der, element) for element in validity)
    spki_start, spki_end = _expect(fields[5], _SEQUENCE)
    spki = _children(der, spki_start, spki_end)
    if len(spki) != 2:
        raise ValueError("bad public key info")
    algorithm_start, algorithm_end = _expect(spki[0], _SEQUENCE)
    algorithm = _children(der, algorithm_start, algorithm_end)
    oid_start, oid_end = _expect(algorithm[0], _OID) if algorithm else (0, 0)
    if der[oid_start:oid_end] != _RSA_ENCRYPTION_OID:
        raise ValueError("not an RSA key")
    bits_start, bits_end = _expect(spki[1], _BIT_STRING)
    if bits_start == bits_end or der[bits_start] != 0:
        raise ValueError("bad key bit string")
    key_start, key_end = _expect(_tlv(der, bits_start + 1, bits_end), _SEQUENCE)
    numbers = _children(der, key_start, key_end)
    if len(numbers) != 2:
        raise ValueError("bad RSA key")
    modulus = _positive_integer(der, numbers[0])
    exponent = _positive_integer(der, numbers[1])
    if modulus.bit_length() < MIN_KEY_BITS or exponent < 3 or exponent % 2 == 0:
        raise ValueError("weak RSA key")
    return RsaPublicKey(modulus, exponent, not_before, not_after)


def pem_certificate(pem: bytes) -> bytes:
    """The DER bytes of the first certificate in a PEM file."""
    text = pem.decode("ascii", errors="strict")
    match = re.search(
        r"-----BEGIN CERTIFICATE-----\s*([A-Za-z0-9+/=\s]+?)\s*-----END CERTIFICATE-----", text
    )
    if not match:
        raise ValueError("no PEM certificate")
    return base64.b64decode("".join(match.group(1).split()), validate=True)


# --- Fetching: the certificate, the subscription confirmation -----------------------------


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A URL that passed the rule must not hand us on to one that did not."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def http_get(url: str, timeout: float = FETCH_TIMEOUT_SECONDS, limit: int = 64 * 1024) -> bytes:
    """GET `url` (already checked against a UrlRule): the body, or Unavailable."""
    try:
        with _OPENER.open(urllib.request.Request(url, method="GET"), timeout=timeout) as answer:
            body = answer.read(limit + 1)
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
        # HTTPError (a 3xx refused above, a 4xx/5xx) is a URLError too.
        raise Unavailable(f"GET failed: {type(exc).__name__}") from exc
    if len(body) > limit:
        raise Unavailable("answer too large")
    return body


class CertificateCache:
    """RSA keys of SNS signing certificates by URL, each fetched once per container."""

    def __init__(self, fetch: Callable[[str], bytes] | None = None, max_entries: int = 16) -> None:
        self._fetch = fetch or (lambda url: http_get(url, limit=MAX_CERTIFICATE_BYTES))
        self._keys: dict[str, RsaPublicKey] = {}
        self._lock = threading.Lock()
        self.max_entries = max_entries
        self.fetches = 0

    def key(self, url: str) -> RsaPublicKey:
        # The lock is held through the fetch: posts arriving together for a new
        # certificate wait for the one fetch rather than each making their own.
        with self._lock:
            known = self._keys.get(url)
            if known is not None:
                return known
            pem = self._fetch(url)
            self.fetches += 1
            try:
                key = rsa_key_from_certificate(pem_certificate(pem))
            except (ValueError, UnicodeDecodeError) as exc:
                raise Refused("certificate unreadable") from exc
            if len(self._keys) >= self.max_entries:
                self._keys.pop(next(iter(self._keys)))  # SNS rotates rarely: oldest out
            self._keys[url] = key
            return key


def confirm_subscription(url: str, rule: UrlRule, get: Callable[[str], bytes] = http_get) -> None:
    """Confirm a (verified) SubscriptionConfirmation by GETting its SubscribeURL, which
    must be SNS's own and ask for ConfirmSubscription. Refused or Unavailable."""
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    if not rule.allows(url) or query.get("Action") != ["ConfirmSubscription"]:
        raise Refused("SubscribeURL is not SNS's")
    get(url)

"""Who an email is from (messaging/email.py): the trainer's name made into a From header
that no name can break or add a header to, Reply-To the trainer, the stage's
configuration set on every send and the message reference as an SES tag. SES is a fake
recording the exact request (moto ignores these parameters; tests/functional checks
them against botocore's own request shapes)."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.utils import getaddresses
from typing import Any

import pytest
from botocore.exceptions import ClientError

from chalicelib import runtime
from chalicelib.domain.models import Trainer
from chalicelib.domain.settings import TrainerSettings
from chalicelib.messaging import email as email_channel
from chalicelib.services import webhooks

SENDER = "no-reply@ptbookings.example"
STAGE_SENDER = f"PT Bookings <{SENDER}>"
REFERENCE = "coach.2026-W48.sess1.msg1"


class FakeSes:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send_email(self, **request: Any) -> dict[str, str]:
        self.sent.append(request)
        return {"MessageId": f"ses-{len(self.sent)}"}


def settings(ses: FakeSes, configuration_set: str = "pt-bookings-test") -> Any:
    return email_channel.EmailSettings("ses", STAGE_SENDER, lambda: ses, configuration_set)


def parsed_from(header: str) -> Any:
    """A message with this From header, as a mail reader parses it."""
    return email.message_from_string(
        f"From: {header}\nTo: a@example.com\n\nbody", policy=email.policy.default
    )


def display_name_and_address(header: str) -> tuple[str, str]:
    """The one address of the header and its name, decoded as RFC 2047 says (white space
    between encoded words is dropped; the modern parser of Python 3.11 keeps it, a known
    quirk, so the name is decoded with `decode_header`)."""
    raw = email.message_from_string(f"From: {header}\n\nbody", policy=email.policy.compat32)
    (name_and_address,) = getaddresses([raw["From"]])
    name, address = name_and_address
    return str(make_header(decode_header(name))), address


# --- The From header ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "Zoë's PT, Leeds",
        'Mike "The Beast" O\'Neil, PT',
        "Back\\slash Fitness",
        "Fit <admin@evil.example>",
        "Ana; Group=1: x@y.z;",
        "健身教练 李",
        "Łódź Strength & Conditioning 💪",
        "=?utf-8?b?SGFja2Vk?=",  # looks like an encoded word: must stay literal
    ],
)
def test_any_name_round_trips_as_one_display_name_of_our_address(name: str) -> None:
    header = email_channel.from_header(name, SENDER)
    assert "\n" not in header and "\r" not in header
    assert display_name_and_address(header) == (name, SENDER)


def test_an_ascii_name_is_quoted_and_a_non_ascii_one_encoded() -> None:
    assert email_channel.from_header("Zoe's PT, Leeds", SENDER) == (
        f'"Zoe\'s PT, Leeds" <{SENDER}>'
    )
    encoded = email_channel.from_header("Zoë's PT, Leeds", SENDER)
    assert encoded == f"=?utf-8?b?Wm/DqydzIFBULCBMZWVkcw==?= <{SENDER}>"


@pytest.mark.parametrize(
    "name",
    [
        "Evil\r\nBcc: victim@example.com",
        "Evil\nSubject: free money",
        "Evil\rX-Injected: 1",
        "Evil\u2028Bcc: victim@example.com",
        "Évil\r\nBcc: victim@example.com",  # the encoded path too
        "Tab\tand\x00nul",
    ],
)
def test_newlines_in_a_name_never_add_a_header(name: str) -> None:
    header = email_channel.from_header(name, SENDER)
    assert not any(ch in header for ch in "\r\n\u2028\x00\t")
    message = parsed_from(header)
    assert message["Bcc"] is None and message["X-Injected"] is None
    assert message["Subject"] is None
    display, address = display_name_and_address(header)
    assert address == SENDER
    assert "\n" not in display


def test_a_long_non_ascii_name_is_split_into_short_encoded_words_on_one_line() -> None:
    name = "Zoë " * 40
    header = email_channel.from_header(name, SENDER)
    words = header.removesuffix(f" <{SENDER}>").split(" ")
    assert all(len(word) <= 75 for word in words)
    assert display_name_and_address(header)[0] == " ".join(name.split())[:100].strip()


def test_a_multi_byte_character_is_never_split_between_words() -> None:
    header = email_channel.from_header("💪" * 30, SENDER)
    assert display_name_and_address(header)[0] == "💪" * 30


def test_an_empty_or_blank_name_is_the_bare_address() -> None:
    assert email_channel.from_header("", SENDER) == SENDER
    assert email_channel.from_header(" \n\t", SENDER) == SENDER


def test_the_stage_sender_gives_the_products_name() -> None:
    assert email_channel.sender_parts(STAGE_SENDER) == ("PT Bookings", SENDER)
    assert email_channel.sender_parts(SENDER) == ("", SENDER)


def test_a_clients_email_is_from_the_trainers_business_name_and_answered_to_them() -> None:
    named = Trainer(
        id="t1",
        email="zoe@example.com",
        created_at=datetime(2026, 11, 23, tzinfo=UTC),
        settings=TrainerSettings(business_name="Zoë's PT, Leeds"),
    )
    assert email_channel.client_sender(named) == {
        "from_name": "Zoë's PT, Leeds",
        "reply_to": "zoe@example.com",
    }
    unnamed = named.model_copy(update={"settings": TrainerSettings()})
    assert email_channel.client_sender(unnamed)["from_name"] == unnamed.display_name == "zoe"
    assert email_channel.client_sender(named, "whatsapp") == {}


# --- The SES request ------------------------------------------------------------------------


def test_an_outbox_email_names_sender_reply_to_configuration_set_and_tag() -> None:
    ses = FakeSes()
    result = email_channel.send_outbox_email(
        "priya@example.com",
        "Your session with Zoë's PT",
        "See you Wednesday ⟶ https://book.example.com/s/abc",
        settings(ses),
        from_name="Zoë's PT, Leeds",
        reply_to="zoe@example.com",
        reference=REFERENCE,
    )
    assert result == email_channel.SendResult("ses", "ses-1")
    assert ses.sent == [
        {
            "FromEmailAddress": f"=?utf-8?b?Wm/DqydzIFBULCBMZWVkcw==?= <{SENDER}>",
            "ConfigurationSetName": "pt-bookings-test",
            "ReplyToAddresses": ["zoe@example.com"],
            "EmailTags": [{"Name": "pt_message", "Value": REFERENCE}],
            "Destination": {"ToAddresses": ["priya@example.com"]},
            "Content": {
                "Simple": {
                    "Subject": {"Data": "Your session with Zoë's PT", "Charset": "UTF-8"},
                    "Body": {
                        "Text": {
                            "Data": "See you Wednesday ⟶ https://book.example.com/s/abc",
                            "Charset": "UTF-8",
                        }
                    },
                }
            },
        }
    ]


def test_the_trainers_own_notification_comes_from_the_product_with_no_reply_to() -> None:
    ses = FakeSes()
    email_channel.send_outbox_email(
        "zoe@example.com", "Priya booked", "Text", settings(ses), reference=REFERENCE
    )
    (request,) = ses.sent
    assert request["FromEmailAddress"] == f'"PT Bookings" <{SENDER}>'
    assert "ReplyToAddresses" not in request


def test_a_sign_in_email_names_the_configuration_set_too() -> None:
    ses = FakeSes()
    email_channel.send(email_channel.Email("zoe@example.com", "Sign in", "Link"), settings(ses))
    (request,) = ses.sent
    assert request["ConfigurationSetName"] == "pt-bookings-test"
    assert request["FromEmailAddress"] == f'"PT Bookings" <{SENDER}>'
    assert "EmailTags" not in request and "ReplyToAddresses" not in request


def test_no_configuration_set_configured_sends_without_one() -> None:
    ses = FakeSes()
    email_channel.send_outbox_email("a@example.com", "Hi", "Text", settings(ses, ""))
    assert "ConfigurationSetName" not in ses.sent[0]


def test_a_subject_is_one_line() -> None:
    ses = FakeSes()
    email_channel.send_outbox_email("a@example.com", "Hi\r\nBcc: x@y.z", "Text", settings(ses))
    assert ses.sent[0]["Content"]["Simple"]["Subject"]["Data"] == "Hi Bcc: x@y.z"


@pytest.mark.parametrize(
    "reply_to", ["a@example.com, b@example.com", "Name <a@example.com>", "a@example.com\nBcc: x"]
)
def test_anything_but_one_bare_address_is_kept_out_of_reply_to(reply_to: str) -> None:
    ses = FakeSes()
    email_channel.send_outbox_email("a@example.com", "Hi", "Text", settings(ses), reply_to=reply_to)
    assert "ReplyToAddresses" not in ses.sent[0]


# --- The tag --------------------------------------------------------------------------------


def test_every_message_reference_fits_an_ses_tag_as_it_is() -> None:
    longest = webhooks.message_reference("t" * 64, f"2026-W48.{'s' * 64}.{'m' * 64}")
    assert len(longest) <= 256
    for reference in (REFERENCE, longest, "a_b-c.2026-W01.x-y.z_9"):
        assert email_channel.tag_value(reference) == reference
        assert email_channel.reference_from_tag(reference) == reference


def test_a_reference_outside_the_tag_alphabet_is_encoded_and_read_back() -> None:
    odd = "coach.2026-W48.sess/1.msg 1+é"
    tag = email_channel.tag_value(odd)
    assert tag is not None and tag.startswith("@")
    assert all(ch.isalnum() or ch in "_.@-" for ch in tag)
    assert email_channel.reference_from_tag(tag) == odd


def test_a_reference_too_long_even_encoded_goes_untagged() -> None:
    ses = FakeSes()
    email_channel.send_outbox_email(
        "a@example.com", "Hi", "Text", settings(ses), reference="/" * 300
    )
    assert "EmailTags" not in ses.sent[0]
    assert email_channel.tag_value("x" * 257) is None


def test_an_unreadable_encoded_tag_is_no_reference() -> None:
    assert email_channel.reference_from_tag("@!!!") is None
    assert email_channel.reference_from_tag("") is None


def test_runtime_hands_email_the_stages_configuration_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EMAIL_PROVIDER", "ses")
    monkeypatch.setenv("EMAIL_SENDER", STAGE_SENDER)
    monkeypatch.setenv("SES_CONFIGURATION_SET", "pt-bookings-dev")
    ses = FakeSes()
    monkeypatch.setattr(runtime, "aws_client", lambda service: {"sesv2": ses}[service])
    email_channel.send_outbox_email("a@example.com", "Hi", "Text", reference=REFERENCE)
    assert ses.sent[0]["ConfigurationSetName"] == "pt-bookings-dev"
    assert ses.sent[0]["EmailTags"] == [{"Name": "pt_message", "Value": REFERENCE}]


def test_ses_words_are_logged_without_the_address(caplog: pytest.LogCaptureFixture) -> None:
    class Refusing:
        def send_email(self, **request: Any) -> dict[str, str]:
            error = {
                "Error": {
                    "Code": "MessageRejected",
                    "Message": "Email address is not verified: priya@example.com",
                }
            }
            raise ClientError(error, "SendEmail")  # type: ignore[arg-type]

    refusing = email_channel.EmailSettings("ses", STAGE_SENDER, Refusing)
    with pytest.raises(email_channel.EmailNotSent):
        email_channel.send(email_channel.Email("priya@example.com", "Hi", "Text"), refusing)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "MessageRejected" in logged and "priya@example.com" not in logged

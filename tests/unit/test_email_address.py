"""One address, checked by email-validator's syntax rules, in the form the EMAIL# key uses."""

from __future__ import annotations

import pytest

from chalicelib.domain.email_address import InvalidEmailAddress, normalise_email_address


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("coach@example.com", "coach@example.com"),
        ("  Coach@Example.COM\t", "coach@example.com"),  # as accounts were always keyed
        ("first.last+pt@sub.example.co.uk", "first.last+pt@sub.example.co.uk"),
        ("a@münchen.de", "a@xn--mnchen-3ya.de"),  # the form SES accepts
    ],
)
def test_addresses_are_normalised(raw: str, expected: str) -> None:
    assert normalise_email_address(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "a@b.com,evil@c.com",
        "a@b.com;evil@c.com",
        "a@b.com evil@c.com",
        "a@b.com\nBcc: evil@c.com",
        "coach\x00@example.com",
        "coach@exa\x00mple.com",
        "<script>alert(1)</script>@example.com",
        "coach@example.com<script>",
        "Coach <coach@example.com>",
        '"quoted local"@example.com',
        "no-at-sign.example.com",
        "two@@example.com",
        "coach@example",
        "coach@example..com",
        "coach@localhost",
        "ü@example.de",  # SES cannot send to a non-ASCII local part
        "x" * 250 + "@example.com",
    ],
)
def test_anything_but_one_plain_address_is_refused(raw: str) -> None:
    with pytest.raises(InvalidEmailAddress) as refused:
        normalise_email_address(raw)
    assert str(refused.value)  # a reason the form can show


def test_reserved_domains_only_when_allowed() -> None:
    with pytest.raises(InvalidEmailAddress):
        normalise_email_address("demo@ptbookings.local")
    assert (
        normalise_email_address("demo@ptbookings.local", allow_reserved_domains=True)
        == "demo@ptbookings.local"
    )
    with pytest.raises(InvalidEmailAddress):
        normalise_email_address("a@b.com,evil@c.com", allow_reserved_domains=True)


@pytest.mark.parametrize("raw", ["demo@localhost", "demo@@ptbookings.local", "<b>@x.local"])
def test_allowing_reserved_domains_keeps_every_other_rule(raw: str) -> None:
    with pytest.raises(InvalidEmailAddress):
        normalise_email_address(raw, allow_reserved_domains=True)


def test_allowing_reserved_domains_changes_nothing_else() -> None:
    assert normalise_email_address("Coach@Example.com", allow_reserved_domains=True) == (
        "coach@example.com"
    )
    assert normalise_email_address("Demo@PTBookings.LOCAL", allow_reserved_domains=True) == (
        "demo@ptbookings.local"
    )

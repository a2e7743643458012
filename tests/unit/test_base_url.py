"""Absolute links come from configuration or API Gateway's own context, never headers."""

from __future__ import annotations

import pytest

from chalicelib.web.request_state import NoTrustedBaseUrl, trusted_base_url

EXECUTE_API = "abc123.execute-api.eu-west-2.amazonaws.com"


def test_configuration_wins_and_loses_its_trailing_slash() -> None:
    context = {"domainName": EXECUTE_API, "stage": "api"}
    assert trusted_base_url("https://book.example/", context, None) == "https://book.example"
    assert trusted_base_url("http://127.0.0.1:8000", None, None) == "http://127.0.0.1:8000"


@pytest.mark.parametrize(
    "configured",
    [
        "javascript://evil.example",
        "javascript:alert(1)",
        "ftp://book.example",
        "book.example",
        "https://",
        "https://user@evil.example",
        "https://evil.example\\@book.example",
    ],
)
def test_a_configured_base_that_is_not_http_is_refused(configured: str) -> None:
    with pytest.raises(NoTrustedBaseUrl):
        trusted_base_url(configured, {"domainName": EXECUTE_API}, None)


def test_execute_api_domains_carry_the_stage_from_the_context() -> None:
    context = {"domainName": EXECUTE_API, "stage": "prod"}
    assert trusted_base_url("", context, None) == f"https://{EXECUTE_API}/prod"


def test_a_custom_domain_has_no_stage_prefix_unless_one_is_forced() -> None:
    context = {"domainName": "book.ptbookings.example", "stage": "prod"}
    assert trusted_base_url("", context, None) == "https://book.ptbookings.example"
    assert trusted_base_url("", context, "/v1/") == "https://book.ptbookings.example/v1"


@pytest.mark.parametrize(
    "context",
    [
        None,
        {},
        {"domainName": ""},
        {"domainName": "evil.example/phish"},
        {"domainName": "evil.example@x"},
        {"domainName": "javascript:alert(1)"},
        {"domainName": EXECUTE_API, "stage": "../x"},
    ],
)
def test_no_trustworthy_context_means_no_base(context: dict | None) -> None:
    with pytest.raises(NoTrustedBaseUrl):
        trusted_base_url("", context, None)

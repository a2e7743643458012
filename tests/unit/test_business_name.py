"""The "Name shown to clients" asked for at sign-up: a suggestion and the saving rule."""

from __future__ import annotations

import pytest

from chalicelib.domain.business_name import clean_business_name, suggested_business_name
from chalicelib.domain.errors import InvalidInput


@pytest.mark.parametrize(
    ("email", "suggestion"),
    [
        ("sam.fit@example.com", "Sam Fit"),
        ("sam_fit-pt@example.com", "Sam Fit Pt"),
        ("jo+bookings@example.com", "Jo"),
        ("coach@example.com", "Coach"),
        ("x" * 100 + "@example.com", "X" + "x" * 79),
    ],
)
def test_the_suggestion_reads_like_a_name(email: str, suggestion: str) -> None:
    assert suggested_business_name(email) == suggestion


def test_the_name_is_trimmed_and_inner_spaces_collapsed() -> None:
    assert clean_business_name("  Sam   Fit \t") == "Sam Fit"
    assert clean_business_name("x" * 80) == "x" * 80


@pytest.mark.parametrize("raw", ["", "   ", "x" * 81, "Sam\x00Fit", "Sam\x1bFit"])
def test_unusable_names_are_refused_on_the_field(raw: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        clean_business_name(raw)
    assert set(refused.value.errors) == {"business_name"}

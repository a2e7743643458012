"""Client rules: phone numbers, prices in minor units, the profile form, search."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.clients import (
    Client,
    format_price_input,
    parse_contact_form,
    parse_phone,
    parse_price,
    parse_profile_form,
    search,
)
from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.models import Location

NOW = datetime(2026, 11, 23, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "country", "e164"),
    [
        ("07400 123456", "GB", "+447400123456"),
        ("+44 7400 123456", "GB", "+447400123456"),
        ("0044 7400 123456", "GB", "+447400123456"),
        ("085 123 4567", "IE", "+353851234567"),
        ("+33 6 12 34 56 78", "GB", "+33612345678"),
        ("(020) 7946-0018", "GB", "+442079460018"),
    ],
)
def test_phone_numbers_become_e164_reading_local_numbers_in_the_trainers_country(
    raw: str, country: str, e164: str
) -> None:
    assert parse_phone(raw, country) == e164


@pytest.mark.parametrize("raw", ["", "12345", "07400", "phone me", "+44 7400 1234567890", "+999 1"])
def test_invalid_phone_numbers_are_refused(raw: str) -> None:
    with pytest.raises(ValueError):
        parse_phone(raw, "GB")


def test_a_local_number_of_another_country_is_refused_without_its_prefix() -> None:
    # An Irish mobile typed locally is not a valid UK number: ask for the + form.
    with pytest.raises(ValueError, match=r"starting with \+"):
        parse_phone("085 123 4567", "GB")


@pytest.mark.parametrize(
    ("raw", "currency", "minor"),
    [
        ("45", "GBP", 4500),
        ("45.5", "GBP", 4550),
        ("45.50", "GBP", 4550),
        ("£45.05", "GBP", 4505),
        ("1,250", "GBP", 125000),
        (" 0 ", "GBP", 0),
        ("", "GBP", None),
        ("5000", "JPY", 5000),
        ("€30", "EUR", 3000),
    ],
)
def test_prices_are_integer_minor_units(raw: str, currency: str, minor: int | None) -> None:
    assert parse_price(raw, currency) == minor


@pytest.mark.parametrize("raw", ["-5", "forty", "45.555", "4e2", "45.", ".5", "10001", "5.5"])
def test_bad_prices_are_refused(raw: str) -> None:
    currency = "JPY" if raw == "5.5" else "GBP"
    with pytest.raises(ValueError):
        parse_price(raw, currency)


@given(st.integers(min_value=0, max_value=1_000_000))
def test_a_price_shown_in_the_form_reads_back_to_the_same_minor_units(minor: int) -> None:
    assert parse_price(format_price_input(minor, "GBP"), "GBP") == minor


def test_the_contact_form_reports_every_problem_at_once() -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_contact_form({"name": " ", "phone": "1", "email": "x", "price": "-1"}, "GB", "GBP")
    assert set(refused.value.errors) == {"name", "phone", "email", "price"}


def test_the_profile_form_refuses_unknown_locations_and_keeps_known_ones_once() -> None:
    locations = [Location(id="a", name="Studio"), Location(id="b", name="Park")]
    form = {"name": "Priya", "phone": "07400 123456", "price": "45"}
    _contact, chosen, _shared, _private = parse_profile_form(
        form, ["b", "a", "b"], "GB", "GBP", locations
    )
    assert chosen == ("b", "a")
    with pytest.raises(InvalidInput) as refused:
        parse_profile_form(form, ["a", "zzz"], "GB", "GBP", locations)
    assert "location_ids" in refused.value.errors


def test_notes_have_a_length_limit() -> None:
    form = {"name": "Priya", "phone": "07400 123456", "private_notes": "x" * 2001}
    with pytest.raises(InvalidInput) as refused:
        parse_profile_form(form, [], "GB", "GBP", [])
    assert "private_notes" in refused.value.errors


def _client(name: str, archived: bool = False) -> Client:
    return Client(id=name, name=name, phone="+447400123456", created_at=NOW, archived=archived)


def test_search_matches_every_word_in_any_case_and_lists_archived_last() -> None:
    people = [_client("Tom Okafor"), _client("Priya Shah", archived=True), _client("Ana Shah")]
    assert [c.name for c in search(people, "shah")] == ["Ana Shah", "Priya Shah"]
    assert [c.name for c in search(people, "SHAH priya")] == ["Priya Shah"]
    assert [c.name for c in search(people, "")] == ["Ana Shah", "Tom Okafor", "Priya Shah"]


def test_a_client_is_configured_once_a_location_is_enabled() -> None:
    assert not _client("A").configured
    assert _client("A").model_copy(update={"location_ids": ("x",)}).configured

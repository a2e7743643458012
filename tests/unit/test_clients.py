"""Client rules: phone numbers, prices in minor units, the profile form, search."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.clients import (
    AddClient,
    Client,
    SaveProfile,
    check_recurring,
    format_price_input,
    parse_contact,
    parse_price,
    parse_profile,
    recurring_problem,
    search,
)
from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.models import Location
from chalicelib.domain.phone import parse_phone
from chalicelib.domain.template import TemplateSlot, WeeklyTemplate

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
        typed = AddClient(name=" ", phone="1", email="x", price="-1")
        parse_contact(typed, "GB", "GBP")
    assert set(refused.value.errors) == {"name", "phone", "email", "price"}


def test_the_profile_form_refuses_unknown_locations_and_keeps_known_ones_once() -> None:
    locations = [Location(id="a", name="Studio"), Location(id="b", name="Park")]
    form = {"client_id": "c1", "name": "Priya", "phone": "07400 123456", "price": "45"}
    typed = SaveProfile.model_validate({**form, "location_ids": ["b", "a", "b"]})
    _contact, chosen, _shared, _private = parse_profile(typed, "GB", "GBP", locations)
    assert chosen == ("b", "a")
    with pytest.raises(InvalidInput) as refused:
        typed = SaveProfile.model_validate({**form, "location_ids": ["a", "zzz"]})
        parse_profile(typed, "GB", "GBP", locations)
    assert "location_ids" in refused.value.errors


def test_notes_have_a_length_limit() -> None:
    typed = SaveProfile(
        client_id="c1", name="Priya", phone="07400 123456", private_notes="x" * 2001
    )
    with pytest.raises(InvalidInput) as refused:
        parse_profile(typed, "GB", "GBP", [])
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


# Recurring slots: template slot <-> recurring slot <-> location --------------------------
def _week_template() -> WeeklyTemplate:
    return WeeklyTemplate(
        slots=(
            TemplateSlot(id="mon", weekday=0, start=540, end=600, location_id="studio"),
            TemplateSlot(id="tue", weekday=1, start=720, end=780, location_id="park"),
        ),
        version=3,
    )


PLACES = {"studio": "Studio", "park": "Park"}


def _problem(slot_id: str, enabled=("studio",), holders=None, me="me") -> str | None:
    return recurring_problem(
        slot_id, _week_template(), enabled, holders or {}, me, PLACES, {"other": "Tom"}
    )


def test_a_template_slot_at_an_enabled_location_can_be_recurring() -> None:
    assert _problem("mon") is None


def test_a_recurring_slot_needs_its_location_enabled_for_the_client() -> None:
    assert (
        _problem("tue") == "Tuesday 12:00–13:00 is at Park, which is not enabled for this client."
    )
    assert _problem("tue", enabled=("studio", "park")) is None


def test_a_recurring_slot_must_still_be_in_the_template() -> None:
    assert "no longer in the weekly template" in (_problem("gone") or "")


def test_another_clients_recurring_slot_cannot_be_taken_but_your_own_is_kept() -> None:
    assert (
        _problem("mon", holders={"mon": "other"}) == "Monday 09:00–10:00 is Tom's recurring slot."
    )
    assert _problem("mon", holders={"mon": "me"}) is None


def test_check_recurring_keeps_each_slot_once_and_names_the_first_problem() -> None:
    kept = check_recurring(["mon", "mon"], _week_template(), ["studio"], {}, "me", PLACES, {})
    assert kept == ("mon",)
    with pytest.raises(InvalidInput) as refused:
        check_recurring(["mon", "tue"], _week_template(), ["studio"], {}, "me", PLACES, {})
    assert "Park" in refused.value.errors["recurring"]

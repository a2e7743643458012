"""Phone numbers (domain/phone.py): shown international, and shared by clients and settings.

Parsing itself is covered in test_clients.py, where the client form uses it.
"""

from __future__ import annotations

import pytest

from chalicelib.domain import clients, phone
from chalicelib.domain.errors import InvalidInput
from tests.unit.test_settings import read_settings, valid_form


@pytest.mark.parametrize(
    ("e164", "shown"),
    [
        ("+447400123456", "+44 7400 123456"),
        ("+353851234567", "+353 85 123 4567"),
        ("+33612345678", "+33 6 12 34 56 78"),
    ],
)
def test_a_stored_number_is_shown_in_the_international_form(e164: str, shown: str) -> None:
    assert phone.format_phone(e164) == shown


@pytest.mark.parametrize("stored", ["", "07400", "not a number"])
def test_a_stored_value_that_is_not_a_number_is_shown_as_it_is(stored: str) -> None:
    assert phone.format_phone(stored) == stored


def test_a_parsed_number_formats_back_to_what_people_type() -> None:
    assert phone.format_phone(phone.parse_phone("07400 123456", "GB")) == "+44 7400 123456"


def test_the_old_import_path_in_clients_still_works() -> None:
    # Views and tests written before the move import these from clients.
    assert clients.parse_phone is phone.parse_phone
    assert clients.format_phone is phone.format_phone


def test_the_trainers_whatsapp_number_is_read_in_their_country() -> None:
    settings = read_settings(valid_form(country="IE", whatsapp_number="085 123 4567"))
    assert settings.whatsapp_number == "+353851234567"


def test_an_invalid_whatsapp_number_in_settings_is_a_field_error() -> None:
    with pytest.raises(InvalidInput) as raised:
        read_settings(valid_form(whatsapp_number="12345"))
    assert "not a valid phone number" in raised.value.errors["whatsapp_number"]

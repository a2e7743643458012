"""Phone numbers: what people type, read in a country, stored as E.164, shown international.

Its own module because both clients (their number) and settings (the trainer's WhatsApp
number) need it; living in clients.py made settings import clients, which imports
settings through models: a cycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from phonenumbers import PhoneNumber


def _parse(text: str, region: str | None) -> PhoneNumber | None:
    # Deferred: only the forms that take a number pay for loading phonenumbers' metadata.
    import phonenumbers

    try:
        return phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None


def parse_phone(raw: str, default_country: str) -> str:
    """A phone number as E.164; local numbers are read in `default_country` (the trainer's)."""
    import phonenumbers

    text = (raw or "").strip()
    if not text:
        raise ValueError("Enter a phone number: messages to the client go over WhatsApp.")
    number = _parse(text, default_country)
    if number is None or not phonenumbers.is_valid_number(number):
        raise ValueError(
            "That is not a valid phone number. Use the local form (e.g. 07400 123456) or "
            "the international one starting with + (e.g. +44 7400 123456)."
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def format_phone(e164: str) -> str:
    """A stored number as people read it ("+44 7400 123456"); anything unreadable as is."""
    import phonenumbers

    number = _parse(e164, None)
    if number is None:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)

"""Money typed and shown in the trainer's locale: one reading or a refusal, never a guess."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.clients import AddClient, parse_contact, parse_price
from chalicelib.domain.models import LocationName
from chalicelib.domain.money import (
    MAX_AMOUNT_MAJOR,
    MoneyError,
    currency_choices,
    format_money,
    format_money_input,
    locale_for_country,
    parse_money,
)
from chalicelib.domain.programs import offer_form_values, parse_offer_form
from chalicelib.domain.settings import TrainerSettings

# --- the trainer's locale ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("country", "locale"),
    [
        ("GB", "en_GB"),
        ("DE", "de_DE"),
        ("FR", "fr_FR"),
        ("IE", "en_IE"),
        ("US", "en_US"),
        ("CH", "de_CH"),
        ("gb", "en_GB"),
        ("XX", "en_GB"),
        ("", "en_GB"),
    ],
)
def test_the_locale_comes_from_the_country_with_a_uk_default(country: str, locale: str) -> None:
    assert locale_for_country(country) == locale


def test_trainer_settings_know_their_locale() -> None:
    assert TrainerSettings().locale == "en_GB"
    assert TrainerSettings(country="DE").locale == "de_DE"


# --- parse_money: one sensible reading -----------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "currency", "locale", "minor"),
    [
        ("45,50", "GBP", "en_GB", 4550),  # ",50" is no thousands group: a decimal comma
        ("45,5", "GBP", "en_GB", 4550),
        ("45.50", "EUR", "de_DE", 4550),  # ".50" is no thousands group: a decimal point
        ("45,50", "EUR", "de_DE", 4550),
        ("1.234,56", "EUR", "de_DE", 123456),
        ("1,234.56", "GBP", "en_GB", 123456),
        ("1,234.56", "EUR", "de_DE", 123456),  # English style, unambiguous
        ("1.234,56", "GBP", "en_GB", 123456),  # German style, unambiguous
        ("1,234", "GBP", "en_GB", 123400),  # 1.234 pounds cannot be: no tenths of a penny
        ("1.234", "EUR", "de_DE", 123400),
        ("1 234,56", "EUR", "fr_FR", 123456),  # a typed space for CLDR's narrow no-break one
        ("1\u202f234,56", "EUR", "fr_FR", 123456),
        ("45.50", "EUR", "fr_FR", 4550),
        ("1'234.50", "CHF", "de_CH", 123450),
        ("1’234.50", "CHF", "de_CH", 123450),
        ("45,50", "CHF", "de_CH", 4550),
        ("1 000", "GBP", "en_GB", 100000),
        ("0,5", "GBP", "en_GB", 50),
        ("45", "GBP", "en_GB", 4500),
        (" 0 ", "GBP", "en_GB", 0),
        ("+45", "GBP", "en_GB", 4500),
        ("10000", "GBP", "en_GB", 1_000_000),
        ("10,000.00", "GBP", "en_GB", 1_000_000),
    ],
)
def test_an_amount_with_one_sensible_reading_is_read(
    raw: str, currency: str, locale: str, minor: int
) -> None:
    assert parse_money(raw, currency, locale) == minor


@pytest.mark.parametrize(
    ("raw", "currency", "locale", "minor"),
    [
        ("£45", "GBP", "en_GB", 4500),
        ("£ 45.50", "GBP", "en_GB", 4550),
        ("45£", "GBP", "en_GB", 4500),
        ("45 €", "EUR", "de_DE", 4500),
        ("45,50€", "EUR", "de_DE", 4550),
        ("45.50 EUR", "EUR", "de_DE", 4550),
        ("EUR 45", "EUR", "en_IE", 4500),
        ("eur45", "EUR", "en_IE", 4500),
        ("€30", "EUR", "en_GB", 3000),
        ("US$45", "USD", "en_GB", 4500),
        ("$45", "USD", "en_US", 4500),
        ("CHF 45.50", "CHF", "de_CH", 4550),
        ("45 kr", "SEK", "sv_SE", 4500),
        ("R 45,50", "ZAR", "en_ZA", 4550),
        ("45 zł", "PLN", "pl_PL", 4500),
        ("¥4,500", "JPY", "en_US", 4500),
        ("JP¥4,500", "JPY", "en_GB", 4500),
        ("￥4,500", "JPY", "ja_JP", 4500),
    ],
)
def test_currency_symbols_and_codes_around_the_number_are_accepted(
    raw: str, currency: str, locale: str, minor: int
) -> None:
    assert parse_money(raw, currency, locale) == minor


@pytest.mark.parametrize("raw", ["$45", "€45", "45 USD", "45 kr"])
def test_another_currencys_symbol_is_refused(raw: str) -> None:
    with pytest.raises(MoneyError, match="Enter the price as a number"):
        parse_money(raw, "GBP", "en_GB")


# --- parse_money: two readings --------------------------------------------------------------


def test_a_uk_1_point_500_is_refused_naming_both_readings() -> None:
    with pytest.raises(MoneyError) as refused:
        parse_money("1.500", "GBP", "en_GB")
    assert str(refused.value) == (
        "“1.500” could mean £1.50 or £1,500.00. To be sure, type 1.50 or 1500."
    )


def test_a_german_1_comma_500_is_refused_naming_both_readings() -> None:
    with pytest.raises(MoneyError) as refused:
        parse_money("1,500", "EUR", "de_DE")
    message = str(refused.value)
    assert "1,50\xa0€" in message and "1.500,00\xa0€" in message
    assert "type 1,50 or 1500" in message


def test_a_reading_with_too_many_decimals_still_makes_the_amount_ambiguous() -> None:
    # In the UK "1.234" is 1.234 pounds (not payable) in the trainer's own convention: it
    # is not quietly read as 1,234 in the continental one.
    with pytest.raises(MoneyError) as refused:
        parse_money("1.234", "GBP", "en_GB")
    message = str(refused.value)
    assert "1.234 (too many decimals for GBP)" in message and "£1,234.00" in message
    assert "type 1234" in message


@pytest.mark.parametrize(
    ("raw", "currency", "locale"),
    [
        ("1.500", "EUR", "fr_FR"),  # France: 1.50 (English style) or 1 500 (German style)
        ("1,500", "EUR", "fr_FR"),
        ("1.500", "CHF", "de_CH"),
        ("1,500", "EUR", "it_IT"),
        ("1.500", "JPY", "en_GB"),  # 1.5 yen does not exist, but a UK reader sees a point
    ],
)
def test_amounts_two_conventions_read_differently_are_refused(
    raw: str, currency: str, locale: str
) -> None:
    with pytest.raises(MoneyError, match=r"could mean .* or .*To be sure, type"):
        parse_money(raw, currency, locale)


# --- parse_money: refusals ------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["-5", "-£5", "£-5", "−5", "(5)", "- 45,50", "45-"])
def test_negative_amounts_are_refused(raw: str) -> None:
    with pytest.raises(MoneyError, match=r"A price cannot be negative\."):
        parse_money(raw, "GBP", "en_GB")


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "  ",
        "forty",
        "4e2",
        "45.",
        ".5",
        ",5",
        "NaN",
        "Infinity",
        "1_000",
        "١٢٣",
        "45 50",
        "0x10",
        "1..5",
        "1,,000",
        "45.5.5",
        "£",
        "4 5 . 5",
        "12,34,567",
        "45.50p",
    ],
)
def test_junk_is_refused_with_an_example(raw: str) -> None:
    with pytest.raises(MoneyError) as refused:
        parse_money(raw, "GBP", "en_GB")
    assert str(refused.value) == "Enter the price as a number, like 45 or 45.50."


def test_the_example_is_written_in_the_trainers_locale() -> None:
    with pytest.raises(MoneyError, match=r"like 45 or 45,50\."):
        parse_money("vierzig", "EUR", "de_DE")


@pytest.mark.parametrize(("raw", "locale"), [("45.555", "en_GB"), ("45,555", "de_DE")])
def test_more_decimals_than_the_currency_has_are_refused(raw: str, locale: str) -> None:
    with pytest.raises(MoneyError, match="at most 2 decimals"):
        parse_money(raw, "EUR", locale)


def test_yen_have_no_decimals() -> None:
    assert parse_money("4500", "JPY", "ja_JP") == 4500
    assert parse_money("4,500", "JPY", "en_GB") == 4500
    with pytest.raises(MoneyError, match=r"Enter the price as a whole number\."):
        parse_money("45.5", "JPY", "en_GB")


@pytest.mark.parametrize(
    ("raw", "locale", "limit"),
    [
        ("10001", "en_GB", "10,000"),
        ("10000.01", "en_GB", "10,000"),
        ("12.345,67", "de_DE", "10.000"),
    ],
)
def test_amounts_above_the_limit_are_refused(raw: str, locale: str, limit: str) -> None:
    with pytest.raises(MoneyError, match=re.escape(f"That price is above {limit}: check it.")):
        parse_money(raw, "EUR", locale)


def test_the_limit_can_be_raised() -> None:
    assert parse_money("20,000", "GBP", "en_GB", max_major=50_000) == 2_000_000


def test_money_errors_are_value_errors_for_the_forms() -> None:
    assert issubclass(MoneyError, ValueError)


# --- round trips ----------------------------------------------------------------------------

LOCALES = ["en_GB", "de_DE", "fr_FR", "de_CH", "en_US", "sv_SE", "nl_BE", "ja_JP", "en_ZA"]
CURRENCIES = ["GBP", "EUR", "CHF", "USD", "SEK", "JPY"]


@given(
    st.integers(min_value=0, max_value=MAX_AMOUNT_MAJOR * 100),
    st.sampled_from(CURRENCIES),
    st.sampled_from(LOCALES),
)
def test_a_prefilled_amount_reads_back_as_the_same_minor_units(
    minor: int, currency: str, locale: str
) -> None:
    if currency == "JPY":
        minor //= 100
    assert parse_money(format_money_input(minor, currency, locale), currency, locale) == minor


@given(
    st.integers(min_value=0, max_value=MAX_AMOUNT_MAJOR * 100),
    st.sampled_from(CURRENCIES),
    st.sampled_from(LOCALES),
)
def test_an_amount_as_shown_can_be_typed_back(minor: int, currency: str, locale: str) -> None:
    # Someone copying "1.234,56 €" from an invoice into a form gets the same amount back.
    if currency == "JPY":
        minor //= 100
    assert parse_money(format_money(minor, currency, locale), currency, locale) == minor


# --- format_money -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minor", "currency", "locale", "text"),
    [
        (123456, "GBP", "en_GB", "£1,234.56"),
        (-4500, "GBP", "en_GB", "-£45.00"),
        (123456, "EUR", "de_DE", "1.234,56\xa0€"),
        (123456, "EUR", "fr_FR", "1\u202f234,56\xa0€"),
        (123456, "EUR", "en_IE", "€1,234.56"),
        (123456, "USD", "en_US", "$1,234.56"),
        (123456, "USD", "en_GB", "US$1,234.56"),
        (123456, "CHF", "de_CH", "CHF\xa01'234.56"),
        (450000, "JPY", "ja_JP", "￥450,000"),
        (4500, "AUD", "en_AU", "$45.00"),
    ],
)
def test_format_money_writes_the_locales_way(
    minor: int, currency: str, locale: str, text: str
) -> None:
    assert format_money(minor, currency, locale) == text


def test_format_money_with_two_arguments_writes_for_a_uk_reader() -> None:
    assert format_money(4550, "GBP") == "£45.50"
    assert format_money(4550, "EUR") == "€45.50"


@pytest.mark.parametrize(
    ("minor", "currency", "locale", "text"),
    [
        (123456, "GBP", "en_GB", "1234.56"),
        (123456, "EUR", "de_DE", "1234,56"),
        (5, "EUR", "fr_FR", "0,05"),
        (4500, "JPY", "ja_JP", "4500"),
        (0, "GBP", "en_GB", "0.00"),
    ],
)
def test_format_money_input_has_no_symbol_and_no_thousands_separator(
    minor: int, currency: str, locale: str, text: str
) -> None:
    assert format_money_input(minor, currency, locale) == text


def test_currency_choices_show_the_symbol_in_the_trainers_locale() -> None:
    uk = dict(currency_choices("en_GB"))
    assert uk["GBP"] == "GBP (£)" and uk["USD"] == "USD (US$)"
    assert uk["CHF"] == "CHF"  # the symbol is the code: not repeated
    assert dict(currency_choices("en_US"))["USD"] == "USD ($)"
    assert next(iter(uk)) == "GBP" and "JPY" in uk


# --- the trainer's locale reaches every price form ------------------------------------------


def test_a_client_price_is_read_in_the_trainers_country() -> None:
    typed = AddClient(name="Priya Shah", phone="+44 7400 123456", email="", price="45,50")
    assert parse_contact(typed, "GB", "GBP").price_minor == 4550
    in_germany = typed.model_copy(update={"price": "1.500"})
    assert parse_contact(in_germany, "DE", "EUR").price_minor == 150000
    assert parse_price("", "GBP", "en_GB") is None


def test_a_program_price_is_read_and_prefilled_in_the_trainers_locale() -> None:
    locations = {"studio": LocationName(name="Studio")}
    form = {"title": "Ten", "sessions": "10", "price": "450,50", "location_id": "studio"}
    offer = parse_offer_form(form, locations, "EUR", "de_DE")
    assert offer.price_minor == 45050
    assert offer_form_values(offer, "EUR", "de_DE")["price"] == "450,50"
    assert parse_offer_form(form, locations, "GBP").price_minor == 45050  # UK: decimal comma


def test_the_upper_limit_scales_for_a_currency_without_minor_units() -> None:
    # ¥96,000 is a 12-session pack in Tokyo, not a typo; £96,000 would be
    assert parse_money("96000", "JPY", "ja_JP") == 96_000
    with pytest.raises(ValueError, match="above"):
        parse_money("96000", "GBP", "en_GB")
    with pytest.raises(ValueError, match="above"):
        parse_money("2000000", "JPY", "ja_JP")

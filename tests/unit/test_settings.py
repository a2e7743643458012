"""Trainer settings: the spec's defaults, the settings form rules, and money formatting."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.errors import DomainError, InvalidInput
from chalicelib.domain.settings import (
    COUNTRIES,
    CURRENCIES,
    PaymentDetails,
    SaveSettings,
    TrainerSettings,
    format_money,
    parse_settings,
)


def valid_form(**overrides: str) -> dict[str, str]:
    form = {
        "business_name": "Sam Fit",
        "time_zone": "Europe/London",
        "country": "GB",
        "day_start": "07:00",
        "day_end": "21:00",
        "default_view": "week",
        "booking_window": "2",
        "booking_window_custom": "",
        "cancel_deadline_hours": "36",
        "offer_lock_minutes": "60",
        "currency": "GBP",
        "payee_name": "Sam Smith",
        "bank_name": "Monzo",
        "account_number": "12345678",
        "sort_code": "12-34-56",
    }
    form.update(overrides)
    return form


def read_settings(form: dict[str, str]) -> TrainerSettings:
    """The Settings form as the page posts it, through its command and the rules."""
    return parse_settings(SaveSettings.model_validate(form))


def errors_for(**overrides: str) -> dict[str, str]:
    with pytest.raises(InvalidInput) as info:
        read_settings(valid_form(**overrides))
    return info.value.errors


# --- defaults ----------------------------------------------------------------------------


def test_default_time_zone_is_london():
    assert TrainerSettings().time_zone == "Europe/London"


def test_default_booking_window_is_two_weeks():
    assert TrainerSettings().booking_window_weeks == 2


def test_default_cancel_deadline_is_36_hours():
    assert TrainerSettings().cancel_deadline_hours == 36


def test_default_last_minute_lock_is_one_hour():
    assert TrainerSettings().offer_lock_minutes == 60


def test_default_currency_is_pounds_and_country_is_the_uk():
    settings = TrainerSettings()
    assert settings.currency == "GBP"
    assert settings.country == "GB"


def test_default_view_is_the_week():
    assert TrainerSettings().default_view == "week"


def test_default_schedule_hours_are_seven_to_nine():
    settings = TrainerSettings()
    assert (settings.day_start, settings.day_end) == (420, 1260)
    assert settings.schedule_hours == "07:00–21:00"


def test_default_payment_details_are_empty_and_incomplete():
    payment = TrainerSettings().payment
    assert payment == PaymentDetails()
    assert not payment.complete


def test_settings_are_immutable():
    settings = TrainerSettings()
    with pytest.raises(ValueError):
        settings.time_zone = "America/New_York"  # type: ignore[misc]


def test_payment_details_are_complete_only_with_every_field():
    full = PaymentDetails(
        payee_name="Sam", bank_name="Monzo", account_number="12345678", sort_code="12-34-56"
    )
    assert full.complete
    for field in ("payee_name", "bank_name", "account_number", "sort_code"):
        assert not full.model_copy(update={field: ""}).complete


# --- a valid form ------------------------------------------------------------------------


def test_a_valid_form_becomes_settings():
    settings = read_settings(valid_form())
    assert settings == TrainerSettings(
        business_name="Sam Fit",
        time_zone="Europe/London",
        country="GB",
        day_start=420,
        day_end=1260,
        default_view="week",
        booking_window_weeks=2,
        cancel_deadline_hours=36,
        offer_lock_minutes=60,
        currency="GBP",
        payment=PaymentDetails(
            payee_name="Sam Smith",
            bank_name="Monzo",
            account_number="12345678",
            sort_code="12-34-56",
        ),
    )
    assert settings.payment.complete


def test_text_fields_are_trimmed():
    settings = read_settings(
        valid_form(business_name="  Sam Fit  ", payee_name=" Sam ", bank_name=" Monzo ")
    )
    assert settings.business_name == "Sam Fit"
    assert settings.payment.payee_name == "Sam"
    assert settings.payment.bank_name == "Monzo"


def test_an_empty_business_name_is_allowed():
    assert read_settings(valid_form(business_name="")).business_name == ""


def test_a_business_name_over_80_characters_is_refused():
    assert "business_name" in errors_for(business_name="x" * 81)
    assert read_settings(valid_form(business_name="x" * 80)).business_name == "x" * 80


def test_payment_details_are_optional():
    settings = read_settings(
        valid_form(payee_name="", bank_name="", account_number="", sort_code="")
    )
    assert settings.payment == PaymentDetails()


def test_other_time_zones_and_the_day_view_are_accepted():
    settings = read_settings(valid_form(time_zone="America/New_York", default_view="day"))
    assert settings.time_zone == "America/New_York"
    assert settings.default_view == "day"


def test_lower_case_country_and_currency_codes_are_accepted():
    settings = read_settings(valid_form(country="ie", currency="eur"))
    assert (settings.country, settings.currency) == ("IE", "EUR")


def test_schedule_hours_may_end_at_midnight():
    assert read_settings(valid_form(day_end="24:00")).day_end == 1440


def test_the_parsed_settings_are_the_same_type_as_the_defaults():
    assert isinstance(read_settings(valid_form()), TrainerSettings)


# --- time zone / country / currency / view ------------------------------------------------


@pytest.mark.parametrize("value", ["Mars/Olympus", "", "<script>", "GMT+1"])
def test_an_unknown_time_zone_is_refused_on_the_time_zone_field(value):
    errors = errors_for(time_zone=value)
    assert set(errors) == {"time_zone"}
    assert "not a time zone we know" in errors["time_zone"]


@pytest.mark.parametrize("value", ["XX", "", "United Kingdom", "GBR"])
def test_an_unknown_country_is_refused(value):
    assert set(errors_for(country=value)) == {"country"}


@pytest.mark.parametrize("value", ["XYZ", "", "£", "BTC"])
def test_an_unknown_currency_is_refused(value):
    assert set(errors_for(currency=value)) == {"currency"}


@pytest.mark.parametrize("value", ["", "month", "Week"])
def test_a_default_view_other_than_day_or_week_is_refused(value):
    assert set(errors_for(default_view=value)) == {"default_view"}


def test_every_listed_currency_and_country_is_accepted():
    for code in CURRENCIES:
        assert read_settings(valid_form(currency=code)).currency == code
    for code in COUNTRIES:
        assert read_settings(valid_form(country=code)).country == code


# --- cancel deadline ---------------------------------------------------------------------


@pytest.mark.parametrize("value", ["abc", "1.5", "-3", "", " ", "36h", "1e3", "0x10"])
def test_a_deadline_that_is_not_a_whole_number_is_refused(value):
    errors = errors_for(cancel_deadline_hours=value)
    assert set(errors) == {"cancel_deadline_hours"}
    assert "whole number" in errors["cancel_deadline_hours"]


@pytest.mark.parametrize(
    ("field", "label", "low", "high"),
    [
        ("cancel_deadline_hours", "The cancel/change deadline", 0, 336),
        ("offer_lock_minutes", "The last-minute lock", 5, 1440),
    ],
)
@pytest.mark.parametrize("value", ["-5", "-0", " -36 ", "−5", "-1234567"])
def test_a_negative_number_is_refused_as_negative_not_as_a_typo(field, label, low, high, value):
    errors = errors_for(**{field: value})
    assert errors == {
        field: f"{label} cannot be negative: use a whole number between {low} and {high}."
    }


@pytest.mark.parametrize("value", ["337", "1000", "999999"])
def test_a_deadline_over_two_weeks_is_refused(value):
    errors = errors_for(cancel_deadline_hours=value)
    assert set(errors) == {"cancel_deadline_hours"}
    assert "between 0 and 336" in errors["cancel_deadline_hours"]


@pytest.mark.parametrize(("value", "hours"), [("0", 0), ("24", 24), ("336", 336), (" 48 ", 48)])
def test_a_deadline_from_zero_to_two_weeks_is_accepted(value, hours):
    assert read_settings(valid_form(cancel_deadline_hours=value)).cancel_deadline_hours == (hours)


# --- last-minute lock --------------------------------------------------------------------


@pytest.mark.parametrize("value", ["0", "4", "1441", "10000"])
def test_a_lock_outside_5_to_1440_minutes_is_refused(value):
    errors = errors_for(offer_lock_minutes=value)
    assert set(errors) == {"offer_lock_minutes"}
    assert "between 5 and 1440" in errors["offer_lock_minutes"]


@pytest.mark.parametrize("value", ["5", "30", "1440"])
def test_a_lock_from_5_minutes_to_a_day_is_accepted(value):
    assert read_settings(valid_form(offer_lock_minutes=value)).offer_lock_minutes == int(value)


@pytest.mark.parametrize("value", ["abc", "", "1.5", "-10"])
def test_a_lock_that_is_not_a_whole_number_is_refused(value):
    assert "whole number" in errors_for(offer_lock_minutes=value)["offer_lock_minutes"]


# --- booking window ----------------------------------------------------------------------


@pytest.mark.parametrize("preset", ["1", "2", "3"])
def test_booking_window_presets_are_accepted(preset):
    assert read_settings(valid_form(booking_window=preset)).booking_window_weeks == int(preset)


def test_a_preset_ignores_the_custom_box():
    settings = read_settings(valid_form(booking_window="3", booking_window_custom="junk"))
    assert settings.booking_window_weeks == 3


@pytest.mark.parametrize("value", ["", "0", "4", "12", "abc", "-1", "week"])
def test_a_booking_window_that_is_not_a_preset_or_custom_is_refused(value):
    errors = errors_for(booking_window=value)
    assert set(errors) == {"booking_window"}
    assert errors["booking_window"] == "Choose 1, 2, 3 weeks or a custom number."


@pytest.mark.parametrize("value", ["1", "4", "12"])
def test_a_custom_booking_window_of_1_to_12_weeks_is_accepted(value):
    settings = read_settings(valid_form(booking_window="custom", booking_window_custom=value))
    assert settings.booking_window_weeks == int(value)


@pytest.mark.parametrize("value", ["", "abc", "2.5", "-1"])
def test_a_custom_booking_window_needs_a_whole_number(value):
    errors = errors_for(booking_window="custom", booking_window_custom=value)
    assert set(errors) == {"booking_window_custom"}
    assert "whole number" in errors["booking_window_custom"]


@pytest.mark.parametrize("value", ["0", "13", "52"])
def test_a_custom_booking_window_outside_1_to_12_is_refused(value):
    errors = errors_for(booking_window="custom", booking_window_custom=value)
    assert set(errors) == {"booking_window_custom"}
    assert "between 1 and 12" in errors["booking_window_custom"]


@pytest.mark.parametrize("value", ["²", "³", "①"])
def test_a_booking_window_of_unicode_digit_like_characters_is_a_field_error_not_a_crash(value):
    # str.isdigit() is True for "²" but int("²") raises: this must be InvalidInput.
    assert set(errors_for(booking_window=value)) == {"booking_window"}


# --- schedule hours ----------------------------------------------------------------------


def test_schedule_hours_ending_before_they_start_are_refused():
    errors = errors_for(day_start="09:00", day_end="08:00")
    assert errors == {"day_end": "The day must end after it starts."}


def test_schedule_hours_ending_when_they_start_are_refused():
    assert set(errors_for(day_start="09:00", day_end="09:00")) == {"day_end"}


def test_a_day_start_off_the_grid_is_refused():
    errors = errors_for(day_start="07:15")
    assert set(errors) == {"day_start"}
    assert "07:15" in errors["day_start"]
    assert "30-minute grid" in errors["day_start"]


def test_a_day_end_off_the_grid_is_refused():
    errors = errors_for(day_end="20:45")
    assert set(errors) == {"day_end"}
    assert "20:45" in errors["day_end"]
    assert "30-minute grid" in errors["day_end"]


@pytest.mark.parametrize("value", ["", "7am", "25:00", "07:60"])
def test_a_malformed_day_start_is_refused(value):
    assert set(errors_for(day_start=value)) == {"day_start"}


def test_a_day_cannot_start_at_24_00():
    assert set(errors_for(day_start="24:00", day_end="24:00")) == {"day_start"}


@pytest.mark.parametrize("value", ["", "nine", "24:30"])
def test_a_malformed_day_end_is_refused(value):
    assert set(errors_for(day_end=value)) == {"day_end"}


# --- payment details ---------------------------------------------------------------------


@pytest.mark.parametrize("value", ["123456", "12 34 56", "12-34-56", " 12-34-56 ", "12 - 34 - 56"])
def test_a_sort_code_is_normalised_to_dashes(value):
    settings = read_settings(valid_form(sort_code=value))
    assert settings.payment.sort_code == "12-34-56"


@pytest.mark.parametrize("value", ["12345", "1234567", "12-34-5a", "ab-cd-ef", "12/34/56"])
def test_a_sort_code_that_is_not_six_digits_is_refused(value):
    errors = errors_for(sort_code=value)
    assert set(errors) == {"sort_code"}
    assert "6 digits" in errors["sort_code"]


@pytest.mark.parametrize(
    "value", ["abcdefgh", "12345", "123456", "1234567", "123456789", "0" * 10, "1234-5678"]
)
def test_a_uk_account_number_that_is_not_8_digits_is_refused(value):
    errors = errors_for(account_number=value)
    assert set(errors) == {"account_number"}
    assert "8 digits" in errors["account_number"]


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ("12345678", "12345678"),
        ("1234 5678", "12345678"),
        (" 00012345 ", "00012345"),
    ],
)
def test_a_uk_account_number_of_8_digits_is_kept_without_spaces(value, stored):
    assert read_settings(valid_form(account_number=value)).payment.account_number == stored


def test_payee_and_bank_names_over_80_characters_are_refused():
    errors = errors_for(payee_name="p" * 81, bank_name="b" * 81)
    assert set(errors) == {"payee_name", "bank_name"}


# --- several errors at once --------------------------------------------------------------


def test_several_bad_fields_are_all_reported_together():
    errors = errors_for(
        time_zone="Mars/Olympus",
        country="XX",
        day_start="07:15",
        default_view="month",
        booking_window="9",
        cancel_deadline_hours="abc",
        offer_lock_minutes="1",
        currency="XYZ",
        account_number="letters",
        sort_code="12",
    )
    assert set(errors) == {
        "time_zone",
        "country",
        "day_start",
        "default_view",
        "booking_window",
        "cancel_deadline_hours",
        "offer_lock_minutes",
        "currency",
        "account_number",
        "sort_code",
    }


def test_an_empty_form_reports_every_required_field():
    with pytest.raises(InvalidInput) as info:
        read_settings({})
    assert set(info.value.errors) == {
        "time_zone",
        "country",
        "day_start",
        "day_end",
        "default_view",
        "booking_window",
        "cancel_deadline_hours",
        "offer_lock_minutes",
        "currency",
    }


def test_invalid_input_is_a_domain_error_whose_message_lists_the_fields():
    with pytest.raises(InvalidInput) as info:
        read_settings(valid_form(currency="XYZ", country="XX"))
    assert isinstance(info.value, DomainError)
    assert "currency:" in str(info.value)
    assert "country:" in str(info.value)


ascii_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=12)


@given(st.dictionaries(st.sampled_from(sorted(valid_form())), ascii_text | st.just("")))
def test_any_form_either_parses_or_raises_invalid_input(overrides):
    try:
        settings = read_settings(valid_form(**overrides))
    except InvalidInput as exc:
        assert exc.errors
        assert set(exc.errors) <= set(valid_form())
    else:
        assert 1 <= settings.booking_window_weeks <= 12
        assert 0 <= settings.cancel_deadline_hours <= 336
        assert 5 <= settings.offer_lock_minutes <= 1440
        assert settings.day_start < settings.day_end
        assert settings.day_start % 30 == 0 and settings.day_end % 30 == 0


# --- format_money ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pence", "text"),
    [
        (4500, "£45.00"),
        (123456, "£1,234.56"),
        (0, "£0.00"),
        (5, "£0.05"),
        (99, "£0.99"),
        (100, "£1.00"),
        (100_000_000, "£1,000,000.00"),
        (-4500, "-£45.00"),
        (-5, "-£0.05"),
    ],
)
def test_format_money_in_pounds(pence, text):
    assert format_money(pence, "GBP") == text


# Without a locale, format_money writes as a UK reader would (CLDR's en_GB forms).
def test_format_money_in_yen_has_no_decimals():
    assert format_money(4500, "JPY") == "JP¥4,500"
    assert format_money(-1234567, "JPY") == "-JP¥1,234,567"


def test_format_money_uses_each_currencys_symbol():
    assert format_money(1050, "EUR") == "€10.50"
    assert format_money(1050, "USD") == "US$10.50"
    assert format_money(1050, "CHF") == "CHF10.50"


def test_format_money_in_an_unlisted_currency_prefixes_the_code():
    assert format_money(1050, "XYZ") == "XYZ10.50"


@given(st.integers(-(10**12), 10**12))
def test_format_money_in_pounds_reads_back_as_the_same_pence(pence):
    text = format_money(pence, "GBP")
    negative = text.startswith("-")
    digits = text.removeprefix("-").removeprefix("£").replace(",", "").replace(".", "")
    assert (-1 if negative else 1) * int(digits) == pence
    assert text.removeprefix("-").startswith("£")


# "Tell me when clients book, change or cancel" -----------------------------------------------
def test_client_activity_notifications_default_to_email() -> None:
    assert TrainerSettings().client_activity_notify == "email"
    assert read_settings(valid_form()).client_activity_notify == "email"  # an older form


@pytest.mark.parametrize("choice", ["email", "none"])
def test_email_or_none_needs_nothing_else(choice: str) -> None:
    assert read_settings(valid_form(client_activity_notify=choice)).client_activity_notify == choice


def test_whatsapp_needs_the_trainers_number() -> None:
    assert errors_for(client_activity_notify="whatsapp") == {
        "client_activity_notify": "Add your WhatsApp number above to be told on WhatsApp, "
        "or choose email."
    }
    chosen = read_settings(
        valid_form(client_activity_notify="whatsapp", whatsapp_number="07400 654321")
    )
    assert chosen.client_activity_notify == "whatsapp"
    # a bad number is said once, where it was typed
    assert set(errors_for(client_activity_notify="whatsapp", whatsapp_number="12")) == {
        "whatsapp_number"
    }


def test_an_unknown_notification_choice_is_refused() -> None:
    assert errors_for(client_activity_notify="pigeon") == {
        "client_activity_notify": "Choose WhatsApp, email or no message."
    }

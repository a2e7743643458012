"""Trainer settings with the spec's defaults, and the rules for editing them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict

from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.grid import format_clock, is_on_grid, parse_time_fields
from chalicelib.domain.timeutil import is_valid_time_zone

# ISO 4217 code -> (symbol, minor-unit digits). Money is always integer minor units.
CURRENCIES: dict[str, tuple[str, int]] = {
    "GBP": ("£", 2),
    "EUR": ("€", 2),
    "USD": ("$", 2),
    "AUD": ("A$", 2),
    "CAD": ("C$", 2),
    "NZD": ("NZ$", 2),
    "CHF": ("CHF ", 2),
    "SEK": ("kr ", 2),
    "NOK": ("kr ", 2),
    "DKK": ("kr ", 2),
    "PLN": ("zł ", 2),
    "ZAR": ("R ", 2),
    "AED": ("AED ", 2),
    "SGD": ("S$", 2),
    "JPY": ("¥", 0),
}

# Country codes offered for the default phone prefix of local numbers (Clients issue).
COUNTRIES: dict[str, str] = {
    "GB": "United Kingdom",
    "IE": "Ireland",
    "US": "United States",
    "CA": "Canada",
    "AU": "Australia",
    "NZ": "New Zealand",
    "FR": "France",
    "DE": "Germany",
    "ES": "Spain",
    "IT": "Italy",
    "NL": "Netherlands",
    "BE": "Belgium",
    "PT": "Portugal",
    "CH": "Switzerland",
    "SE": "Sweden",
    "NO": "Norway",
    "DK": "Denmark",
    "PL": "Poland",
    "ZA": "South Africa",
    "AE": "United Arab Emirates",
    "SG": "Singapore",
    "JP": "Japan",
}

BOOKING_WINDOW_PRESETS = (1, 2, 3)
MAX_BOOKING_WINDOW_WEEKS = 12
MAX_DEADLINE_HOURS = 14 * 24
MIN_LOCK_MINUTES, MAX_LOCK_MINUTES = 5, 24 * 60
MAX_NAME = 80


class PaymentDetails(BaseModel):
    model_config = ConfigDict(frozen=True)

    payee_name: str = ""
    bank_name: str = ""
    account_number: str = ""
    sort_code: str = ""

    @property
    def complete(self) -> bool:
        return all((self.payee_name, self.bank_name, self.account_number, self.sort_code))


class TrainerSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    business_name: str = ""
    whatsapp_number: str = ""  # E.164; clients get a click-to-chat link to it
    time_zone: str = "Europe/London"
    country: str = "GB"
    day_start: int = 7 * 60
    day_end: int = 21 * 60
    default_view: Literal["day", "week"] = "week"
    booking_window_weeks: int = 2
    cancel_deadline_hours: int = 36
    offer_lock_minutes: int = 60
    currency: str = "GBP"
    payment: PaymentDetails = PaymentDetails()

    @property
    def schedule_hours(self) -> str:
        return f"{format_clock(self.day_start)}–{format_clock(self.day_end)}"


def _int_field(
    form: Mapping[str, str], field: str, label: str, low: int, high: int, errors: dict[str, str]
) -> int | None:
    raw = (form.get(field) or "").strip()
    if not re.fullmatch(r"[0-9]{1,6}", raw):
        errors[field] = f"{label} must be a whole number."
        return None
    value = int(raw)
    if not low <= value <= high:
        errors[field] = f"{label} must be between {low} and {high}."
        return None
    return value


def _normalise_sort_code(raw: str) -> str | None:
    digits = re.sub(r"[\s-]", "", raw)
    if not re.fullmatch(r"[0-9]{6}", digits):
        return None
    return f"{digits[0:2]}-{digits[2:4]}-{digits[4:6]}"


def parse_settings_form(form: Mapping[str, str]) -> TrainerSettings:
    """Validate every field at once so the page can show all the problems together."""
    errors: dict[str, str] = {}

    business_name = (form.get("business_name") or "").strip()
    if len(business_name) > MAX_NAME:
        errors["business_name"] = f"Keep the name to {MAX_NAME} characters or fewer."

    time_zone = (form.get("time_zone") or "").strip()
    if not is_valid_time_zone(time_zone):
        errors["time_zone"] = f"“{time_zone}” is not a time zone we know. Pick one from the list."

    country = (form.get("country") or "").strip().upper()
    if country not in COUNTRIES:
        errors["country"] = "Pick a country from the list."

    day_start, day_end = parse_time_fields(form, errors, "day_start", "day_end")
    for field, value in (("day_start", day_start), ("day_end", day_end)):
        if value is not None and not is_on_grid(value):
            errors.setdefault(
                field, f"{format_clock(value)} is not on the 30-minute grid: use :00 or :30."
            )
    if (
        day_start is not None
        and day_end is not None
        and not {"day_start", "day_end"} & errors.keys()
        and day_end <= day_start
    ):
        errors["day_end"] = "The day must end after it starts."

    default_view = form.get("default_view", "")
    if default_view not in ("day", "week"):
        errors["default_view"] = "Choose day or week."

    window_choice = (form.get("booking_window") or "").strip()
    booking_window_weeks: int | None = None
    if window_choice == "custom":
        booking_window_weeks = _int_field(
            form,
            "booking_window_custom",
            "The custom booking window",
            1,
            MAX_BOOKING_WINDOW_WEEKS,
            errors,
        )
    elif window_choice in {str(weeks) for weeks in BOOKING_WINDOW_PRESETS}:
        booking_window_weeks = int(window_choice)
    else:
        errors["booking_window"] = "Choose 1, 2, 3 weeks or a custom number."

    deadline = _int_field(
        form, "cancel_deadline_hours", "The cancel/change deadline", 0, MAX_DEADLINE_HOURS, errors
    )
    lock = _int_field(
        form,
        "offer_lock_minutes",
        "The last-minute lock",
        MIN_LOCK_MINUTES,
        MAX_LOCK_MINUTES,
        errors,
    )

    currency = (form.get("currency") or "").strip().upper()
    if currency not in CURRENCIES:
        errors["currency"] = "Pick a currency from the list."

    payee = (form.get("payee_name") or "").strip()
    bank = (form.get("bank_name") or "").strip()
    account = re.sub(r"\s", "", form.get("account_number") or "")
    sort_code_raw = (form.get("sort_code") or "").strip()
    for field, value in (("payee_name", payee), ("bank_name", bank)):
        if len(value) > MAX_NAME:
            errors[field] = f"Keep this to {MAX_NAME} characters or fewer."
    if account and not re.fullmatch(r"[0-9]{6,10}", account):
        errors["account_number"] = "An account number is 6 to 10 digits (UK accounts have 8)."
    sort_code = ""
    if sort_code_raw:
        sort_code = _normalise_sort_code(sort_code_raw) or ""
        if not sort_code:
            errors["sort_code"] = "A sort code is 6 digits, like 12-34-56."

    whatsapp_number = ""
    raw_number = (form.get("whatsapp_number") or "").strip()
    if raw_number:
        from chalicelib.domain.clients import parse_phone  # clients imports this module

        try:
            whatsapp_number = parse_phone(raw_number, country if country in COUNTRIES else "GB")
        except ValueError as exc:
            errors["whatsapp_number"] = str(exc)

    if errors:
        raise InvalidInput(errors)
    assert day_start is not None and day_end is not None
    assert booking_window_weeks is not None and deadline is not None and lock is not None
    return TrainerSettings(
        business_name=business_name,
        whatsapp_number=whatsapp_number,
        time_zone=time_zone,
        country=country,
        day_start=day_start,
        day_end=day_end,
        default_view=default_view,  # type: ignore[arg-type]
        booking_window_weeks=booking_window_weeks,
        cancel_deadline_hours=deadline,
        offer_lock_minutes=lock,
        currency=currency,
        payment=PaymentDetails(
            payee_name=payee, bank_name=bank, account_number=account, sort_code=sort_code
        ),
    )


def format_money(minor_units: int, currency: str) -> str:
    symbol, digits = CURRENCIES.get(currency, (currency + " ", 2))
    sign = "-" if minor_units < 0 else ""
    value = abs(minor_units)
    if digits == 0:
        return f"{sign}{symbol}{value:,}"
    major, minor = divmod(value, 10**digits)
    return f"{sign}{symbol}{major:,}.{minor:0{digits}d}"

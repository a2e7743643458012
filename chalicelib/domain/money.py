"""Money typed by people and shown to them, in the trainer's currency and locale.

Amounts are integer minor units (pence, cents, yen) everywhere else; this module is the one
place that turns them into text and back, with Babel's CLDR data for the trainer's locale
(symbols, separators, the currency's number of decimals). Babel is imported inside the
functions: its import and locale data cost tens of milliseconds that only pages showing or
reading money should pay, not every cold start.

Reading typed money never guesses. "45,50" from a UK trainer can only be 45.50 (",50" is
not a thousands group) and "45.50" from a German one likewise; but "1.500" from a UK
trainer reads as 1.500 in their own convention (too many decimals for pounds) and as 1,500
in the continental one, so it is refused with both readings named.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Final

DEFAULT_LOCALE: Final = "en_GB"

# The locale whose conventions a trainer in each country reads and writes money in. Kept
# small and explicit (one locale per country we offer), with DEFAULT_LOCALE for the rest.
COUNTRY_LOCALES: Final[dict[str, str]] = {
    "GB": "en_GB",
    "IE": "en_IE",
    "US": "en_US",
    "CA": "en_CA",
    "AU": "en_AU",
    "NZ": "en_NZ",
    "FR": "fr_FR",
    "DE": "de_DE",
    "ES": "es_ES",
    "IT": "it_IT",
    "NL": "nl_NL",
    "BE": "nl_BE",
    "PT": "pt_PT",
    "CH": "de_CH",
    "SE": "sv_SE",
    "NO": "nb_NO",
    "DK": "da_DK",
    "PL": "pl_PL",
    "ZA": "en_ZA",
    "AE": "en_AE",  # not ar_AE: its right-to-left marks would garble plain-text messages
    "SG": "en_SG",
    "JP": "ja_JP",
}

# The currencies offered in Settings (ISO 4217). Symbols and decimals come from Babel.
OFFERED_CURRENCIES: Final = (
    "GBP",
    "EUR",
    "USD",
    "AUD",
    "CAD",
    "NZD",
    "CHF",
    "SEK",
    "NOK",
    "DKK",
    "PLN",
    "ZAR",
    "AED",
    "SGD",
    "JPY",
)

MAX_AMOUNT_MAJOR: Final = 10_000  # a price above this is a typo far more often than not

# The two conventions people mix up: a point or a comma as the decimal mark. A typed amount
# is also read in these when the trainer's own locale differs from them.
_POINT_DECIMAL, _COMMA_DECIMAL = "en_GB", "de_DE"

# Optional sign and currency text, then one run of digits and separators starting and
# ending with a digit ("45.", ".5" and "4e2" are not amounts).
_AMOUNT = re.compile(r"(?P<pre>[^0-9]*?)(?P<number>[0-9](?:[0-9.,'’\s]*[0-9])?)(?P<post>[^0-9]*)")
# Typed stand-ins for a locale's thousands separator: spaces (CLDR uses no-break ones that
# no keyboard types) and apostrophes (Swiss). Neither is ever a decimal mark.
_GROUP_STAND_INS = re.compile(r"[\s'’]")
_MINUS_SIGNS = frozenset("-−–")


class MoneyError(ValueError):
    """Typed money that cannot be read as one amount; str() is the message for the form."""


def locale_for_country(country: str) -> str:
    return COUNTRY_LOCALES.get((country or "").upper(), DEFAULT_LOCALE)


def currency_digits(currency: str) -> int:
    """Decimals of the currency's minor unit (2 for GBP, 0 for JPY; 2 when unknown)."""
    from babel.numbers import get_currency_precision

    return get_currency_precision(currency)


def _major(minor_units: int, currency: str) -> Decimal:
    return Decimal(minor_units).scaleb(-currency_digits(currency))


def format_money(minor_units: int, currency: str, locale: str = DEFAULT_LOCALE) -> str:
    """An amount as people read it in the locale: £1,234.50, 1.234,50 €, ￥4,500."""
    from babel.numbers import format_currency

    return format_currency(_major(minor_units, currency), currency, locale=locale)


def format_money_input(minor_units: int, currency: str, locale: str = DEFAULT_LOCALE) -> str:
    """An amount to prefill a form with: no symbol and no thousands separator ("1234.50",
    "1234,50"), so that parse_money reads it back as exactly the same amount."""
    from babel.numbers import format_decimal

    digits = currency_digits(currency)
    pattern = "0." + "0" * digits if digits else "0"
    return format_decimal(_major(minor_units, currency), format=pattern, locale=locale)


def currency_symbol(currency: str, locale: str = DEFAULT_LOCALE) -> str:
    from babel.numbers import get_currency_symbol

    return get_currency_symbol(currency, locale=locale)


def currency_choices(locale: str = DEFAULT_LOCALE) -> list[tuple[str, str]]:
    """(code, label) for the Settings drop-down, e.g. ("GBP", "GBP (£)")."""
    choices = []
    for code in OFFERED_CURRENCIES:
        symbol = currency_symbol(code, locale)
        choices.append((code, code if symbol == code else f"{code} ({symbol})"))
    return choices


@lru_cache(maxsize=64)
def _symbols(locale: str) -> tuple[str, str]:
    """(decimal mark, thousands separator) of a locale."""
    from babel.numbers import get_decimal_symbol, get_group_symbol

    return get_decimal_symbol(locale), get_group_symbol(locale)


@lru_cache(maxsize=64)
def _conventions(locale: str) -> tuple[str, ...]:
    """The trainer's locale first, then the point- and comma-decimal conventions that differ
    from it (separators only: a UK and a US trainer write numbers the same way)."""
    found: dict[tuple[str, str], str] = {}
    for name in (locale, _POINT_DECIMAL, _COMMA_DECIMAL):
        found.setdefault(_symbols(name), name)
    return tuple(found.values())


@lru_cache(maxsize=256)
def _accepted_symbols(currency: str, locale: str) -> frozenset[str]:
    """What may stand beside the number: the code and the currency's symbol as the trainer's
    locale, English and the offered countries' locales write it (£, €, US$, $, kr, zł...)."""
    names = {locale, "en", *COUNTRY_LOCALES.values()}
    symbols = {currency_symbol(currency, name).casefold() for name in names}
    return frozenset(symbols | {currency.casefold()})


@dataclass(frozen=True)
class _Reading:
    value: Decimal
    decimals: int  # as typed: "1.500" has 3, even though it equals 1.5


def _read(number: str, locale: str) -> _Reading | None:
    """The number read with one locale's separators, or None if it is not written that way
    (a misplaced thousands separator, two decimal marks, the other convention's marks)."""
    from babel.numbers import NumberFormatError, parse_decimal

    decimal_mark, group = _symbols(locale)
    text = _GROUP_STAND_INS.sub(group, number)
    # Babel hands what is left to Decimal(), which would take a "." that is neither mark of
    # this locale as a decimal point: allow only this locale's own marks.
    if set(text) - set("0123456789") - {decimal_mark, group} or text.count(decimal_mark) > 1:
        return None
    try:
        value = parse_decimal(text, locale=locale, strict=True)
    except NumberFormatError:
        return None
    _, mark, fraction = text.partition(decimal_mark)
    return _Reading(value, len(fraction) if mark else 0)


def _number_part(raw: str, currency: str, locale: str, example: str) -> str:
    """The digits and separators of typed money, once sign and currency text are checked."""
    match = _AMOUNT.fullmatch(raw)
    if match is None:
        raise MoneyError(example)
    pre, post = "".join(match["pre"].split()), "".join(match["post"].split())
    if _MINUS_SIGNS & set(pre + post) or (pre.startswith("(") and post.endswith(")")):
        raise MoneyError("A price cannot be negative.")
    pre = pre.removeprefix("+")
    if (pre and post) or (pre or post).casefold() not in _accepted_symbols(currency, locale) | {""}:
        raise MoneyError(example)
    return match["number"]


def parse_money(
    raw: str, currency: str, locale: str = DEFAULT_LOCALE, *, max_major: int = MAX_AMOUNT_MAJOR
) -> int:
    """Money typed by a person ("45", "£45.50", "45,50 €", "1.234,56") as integer minor
    units of `currency`, read in `locale`. MoneyError (a ValueError) when it is empty, not a
    number, negative, has too many decimals, is above `max_major`, or could mean two
    different amounts."""
    digits = currency_digits(currency)
    if digits == 0:
        # A currency without minor units (yen, won) counts in much smaller units: a yen
        # session costs thousands, so the sanity limit scales with it.
        max_major *= 100
    if digits:
        example = (
            f"Enter the price as a number, like 45 or {format_money_input(4550, currency, locale)}."
        )
        too_precise = (
            f"Enter the price as a number with at most {digits} decimals, like 45 or "
            f"{format_money_input(4550, currency, locale)}."
        )
    else:
        example = too_precise = "Enter the price as a whole number."
    text = (raw or "").strip()
    if not text:
        raise MoneyError(example)
    number = _number_part(text, currency, locale, example)

    def problem(reading: _Reading) -> str | None:
        if reading.decimals > digits:
            return too_precise
        if reading.value > max_major:
            return f"That price is above {_grouped(max_major, locale)}: check it."
        return None

    own, *others = (_read(number, name) for name in _conventions(locale))
    foreign = [r for r in others if r is not None]
    if own is not None:
        # The trainer's own convention reads it as a number: the other conventions may only
        # make it ambiguous, never replace it (a UK "1.500" is not quietly 1,500).
        rivals = [r for r in foreign if problem(r) is None and r.value != own.value]
        if rivals:
            raise MoneyError(_ambiguous(text, [own, *rivals], currency, locale, digits))
        chosen = own
    else:
        valid = [r for r in foreign if problem(r) is None]
        if not valid:
            raise MoneyError(problem(foreign[0]) if foreign else example)
        if any(r.value != valid[0].value for r in foreign):
            raise MoneyError(_ambiguous(text, foreign, currency, locale, digits))
        chosen = valid[0]
    if message := problem(chosen):
        raise MoneyError(message)
    return int(chosen.value.scaleb(digits))


def _grouped(value: int, locale: str) -> str:
    from babel.numbers import format_decimal

    return format_decimal(value, locale=locale)


def _plain(value: Decimal, locale: str, digits: int = 0) -> str:
    """A number to type: no symbol, no thousands separator, decimals only when needed."""
    from babel.numbers import format_decimal

    pattern = "0" if value == value.to_integral_value() or not digits else "0." + "0" * digits
    return format_decimal(value, format=pattern, locale=locale, decimal_quantization=False)


def _ambiguous(text: str, readings: list[_Reading], currency: str, locale: str, digits: int) -> str:
    shown: list[str] = []
    to_type: list[str] = []
    for reading in readings:
        exact = reading.value == reading.value.quantize(Decimal(1).scaleb(-digits))
        if exact:
            amount = format_money(int(reading.value.scaleb(digits)), currency, locale)
            plain = _plain(reading.value, locale, digits)
        else:
            decimals = _plain(reading.value, locale, reading.decimals)
            amount = f"{decimals} (too many decimals for {currency})"
            plain = ""
        if amount not in shown:
            shown.append(amount)
            if plain:
                to_type.append(plain)
    return f"“{text}” could mean {' or '.join(shown)}. To be sure, type {' or '.join(to_type)}."

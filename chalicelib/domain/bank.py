"""The bank details a trainer is paid to, in the format their bank uses.

Four formats cover the countries we offer: a UK account number and sort code; an IBAN (with
an optional BIC) across Europe and beyond; a US routing number and account number; an
Australian BSB and account number. Only the chosen format's fields are checked, saved and
printed on invoices, so an IBAN is never refused as "6 to 10 digits" and an invoice never
asks a German client for a sort code.

IBANs and BICs are checked with schwifty (country lengths and formats, the mod-97 check
digits); it is imported inside the functions because its registry takes ~80 ms to load and
only a Settings save with an IBAN or a BIC needs it.
"""

from __future__ import annotations

import re
from typing import Final, Literal, get_args

from pydantic import BaseModel, ConfigDict

from chalicelib.domain.commands import Command

Scheme = Literal["uk", "iban", "us", "au"]
SCHEMES: Final[tuple[Scheme, ...]] = get_args(Scheme)
SCHEME_LABELS: Final[dict[str, str]] = {
    "uk": "UK account and sort code",
    "iban": "IBAN",
    "us": "US routing and account number",
    "au": "Australian BSB and account number",
}
# The format a trainer's country uses; every other country we offer uses IBANs except a
# few (CA, NZ, SG, JP, ZA) whose own formats are not supported yet.
_COUNTRY_SCHEMES: Final[dict[str, Scheme]] = {"GB": "uk", "US": "us", "AU": "au"}

MAX_NAME: Final = 80

# The fields each format needs before an invoice can be sent (a BIC is optional: SEPA
# transfers route on the IBAN alone).
REQUIRED: Final[dict[str, tuple[str, ...]]] = {
    "uk": ("payee_name", "bank_name", "account_number", "sort_code"),
    "iban": ("payee_name", "bank_name", "iban"),
    "us": ("payee_name", "bank_name", "routing_number", "account_number"),
    "au": ("payee_name", "bank_name", "bsb", "account_number"),
}
LABELS: Final[dict[str, str]] = {
    "payee_name": "payee name",
    "bank_name": "bank",
    "account_number": "account number",
    "sort_code": "sort code",
    "iban": "IBAN",
    "bic": "BIC",
    "routing_number": "routing number",
    "bsb": "BSB",
}
_ACCOUNT_FIELDS: Final = ("account_number", "sort_code", "iban", "bic", "routing_number", "bsb")


def scheme_for_country(country: str) -> Scheme:
    return _COUNTRY_SCHEMES.get((country or "").upper(), "iban")


class PaymentDetails(BaseModel):
    """Stored as the trainer's settings; items saved before formats existed have no scheme
    and are UK details, which is what the default reads them as."""

    model_config = ConfigDict(frozen=True)

    scheme: Scheme = "uk"
    payee_name: str = ""
    bank_name: str = ""
    account_number: str = ""  # UK, US and Australian formats
    sort_code: str = ""  # UK: 12-34-56
    iban: str = ""  # compact: DE89370400440532013000
    bic: str = ""  # compact: COBADEFFXXX
    routing_number: str = ""  # US: 9 digits
    bsb: str = ""  # Australia: 123-456

    @property
    def missing(self) -> tuple[str, ...]:
        """Labels of the chosen format's required fields that are still empty."""
        return tuple(LABELS[f] for f in REQUIRED[self.scheme] if not getattr(self, f))

    @property
    def complete(self) -> bool:
        return not self.missing

    @property
    def missing_text(self) -> str:
        """The missing fields as a phrase: "sort code", "bank and IBAN"."""
        *rest, last = self.missing or ("",)
        return f"{', '.join(rest)} and {last}" if rest else last

    @property
    def iban_formatted(self) -> str:
        return format_iban(self.iban)

    @property
    def has_account_details(self) -> bool:
        return any(getattr(self, f) for f in _ACCOUNT_FIELDS)

    def invoice_lines(self) -> list[tuple[str, str]]:
        """(label, value) lines of "Please pay by bank transfer to:", only those of the
        chosen format and only filled ones. Values are single-line: a newline typed into a
        name can never forge another line of the invoice."""
        lines = [("Payee", self.payee_name), ("Bank", self.bank_name)]
        if self.scheme == "uk":
            lines += [("Account number", self.account_number), ("Sort code", self.sort_code)]
        elif self.scheme == "iban":
            lines += [("IBAN", format_iban(self.iban)), ("BIC", self.bic)]
        elif self.scheme == "us":
            lines += [
                ("Routing number", self.routing_number),
                ("Account number", self.account_number),
            ]
        else:
            lines += [("BSB", self.bsb), ("Account number", self.account_number)]
        return [(label, " ".join(value.split())) for label, value in lines if value.strip()]


# Field parsers: each takes what was typed and returns the stored form, or raises
# ValueError with the message to show beside the field.
def _digits(raw: str, separators: str = r"[\s-]") -> str:
    return re.sub(separators, "", raw or "")


def normalise_sort_code(raw: str) -> str | None:
    digits = _digits(raw)
    if not re.fullmatch(r"[0-9]{6}", digits):
        return None
    return f"{digits[0:2]}-{digits[2:4]}-{digits[4:6]}"


def parse_sort_code(raw: str) -> str:
    sort_code = normalise_sort_code(raw)
    if sort_code is None:
        raise ValueError("A sort code is 6 digits, like 12-34-56.")
    return sort_code


def parse_uk_account_number(raw: str) -> str:
    digits = _digits(raw, r"\s")
    if not re.fullmatch(r"[0-9]{8}", digits):
        raise ValueError("A UK account number is 8 digits, like 12345678.")
    return digits


def parse_us_account_number(raw: str) -> str:
    digits = _digits(raw)
    if not re.fullmatch(r"[0-9]{4,17}", digits):
        raise ValueError("A US account number is 4 to 17 digits.")
    return digits


def parse_au_account_number(raw: str) -> str:
    digits = _digits(raw)
    if not re.fullmatch(r"[0-9]{5,9}", digits):
        raise ValueError("An Australian account number is 5 to 9 digits.")
    return digits


def aba_checksum_ok(routing: str) -> bool:
    """The ABA routing number check: 3, 7, 1 weights over the 9 digits sum to a multiple
    of 10 (it catches any single mistyped digit)."""
    if not re.fullmatch(r"[0-9]{9}", routing):
        return False
    weights = (3, 7, 1) * 3
    return sum(int(d) * w for d, w in zip(routing, weights, strict=True)) % 10 == 0


def parse_routing_number(raw: str) -> str:
    digits = _digits(raw)
    if not re.fullmatch(r"[0-9]{9}", digits):
        raise ValueError("A routing number is 9 digits, like 021000021.")
    if not aba_checksum_ok(digits):
        raise ValueError(
            "That is not a valid routing number: its check digit does not match. Look for a typo."
        )
    return digits


def parse_bsb(raw: str) -> str:
    digits = _digits(raw)
    if not re.fullmatch(r"[0-9]{6}", digits):
        raise ValueError("A BSB is 6 digits, like 123-456.")
    return f"{digits[:3]}-{digits[3:]}"


def _country_name(code: str) -> str:
    from babel import Locale

    return Locale.parse("en").territories.get(code, code)


def parse_iban(raw: str) -> str:
    """An IBAN in its compact electronic form (DE89370400440532013000)."""
    from schwifty import IBAN
    from schwifty.exceptions import (
        InvalidBBANChecksum,
        InvalidChecksumDigits,
        InvalidCountryCode,
        InvalidLength,
        SchwiftyException,
    )

    text = _digits(raw).upper()
    example = "like DE89 3704 0044 0532 0130 00"
    if not re.fullmatch(r"[A-Z]{2}[0-9]{2}[A-Z0-9]+", text):
        raise ValueError(
            f"An IBAN is a country code, 2 check digits and the account's letters and "
            f"digits, {example}."
        )
    try:
        return IBAN(text).compact
    except InvalidCountryCode:
        raise ValueError(
            f"An IBAN starts with its country's code, {example}: “{text[:2]}” is not a "
            "country that uses IBANs."
        ) from None
    except InvalidLength:
        expected = IBAN(text, allow_invalid=True).spec.iban_length
        raise ValueError(
            f"An IBAN from {_country_name(text[:2])} has {expected} characters; this one has "
            f"{len(text)}. Check it for a missing or extra character."
        ) from None
    except (InvalidChecksumDigits, InvalidBBANChecksum):
        raise ValueError(
            "That IBAN's check digits do not match: look for a mistyped or swapped character."
        ) from None
    except SchwiftyException:
        raise ValueError(
            f"That is not a valid IBAN for {_country_name(text[:2])}: check it against your "
            "bank's details."
        ) from None


def format_iban(compact: str) -> str:
    """The IBAN's print form: groups of four (DE89 3704 0044 0532 0130 00)."""
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


def parse_bic(raw: str) -> str:
    """A BIC (SWIFT code) in its compact form: 8 or 11 letters and digits."""
    from schwifty import BIC
    from schwifty.exceptions import InvalidCountryCode, SchwiftyException

    text = _digits(raw).upper()
    message = "A BIC (SWIFT code) is 8 or 11 letters and digits, like COBADEFFXXX."
    if not re.fullmatch(r"[A-Z0-9]{8}|[A-Z0-9]{11}", text):
        raise ValueError(message)
    try:
        return BIC(text).compact
    except InvalidCountryCode:
        raise ValueError(
            f"Letters 5 and 6 of a BIC are its country's code: “{text[4:6]}” is not a country."
        ) from None
    except SchwiftyException:
        raise ValueError(message) from None


_PARSERS: Final = {
    "uk": (("account_number", parse_uk_account_number), ("sort_code", parse_sort_code)),
    "iban": (("iban", parse_iban), ("bic", parse_bic)),
    "us": (("routing_number", parse_routing_number), ("account_number", parse_us_account_number)),
    "au": (("bsb", parse_bsb), ("account_number", parse_au_account_number)),
}


class PaymentInput(Command):
    """The payment part of the Settings form, as typed: only the chosen format's fields are
    read (the page shows them all when scripts are off, so the others may hold anything)."""

    bank_scheme: str = ""
    payee_name: str = ""
    bank_name: str = ""
    account_number: str = ""
    sort_code: str = ""
    iban: str = ""
    bic: str = ""
    routing_number: str = ""
    bsb: str = ""


def parse_payment(typed: PaymentInput, errors: dict[str, str]) -> PaymentDetails:
    """The payment details the Settings form asks for. Problems are added to `errors` by
    field, so the page can show them with the rest of the form's.

    A form without `bank_scheme` comes from before formats existed: it has UK fields."""
    scheme = typed.bank_scheme or "uk"
    names: dict[str, str] = {}
    for field in ("payee_name", "bank_name"):
        names[field] = " ".join(getattr(typed, field).split())
        if len(names[field]) > MAX_NAME:
            errors[field] = f"Keep this to {MAX_NAME} characters or fewer."
    if scheme not in SCHEMES:
        errors["bank_scheme"] = "Pick a bank details format from the list."
        return PaymentDetails(**names)
    values: dict[str, str] = {}
    for field, parse in _PARSERS[scheme]:
        raw = getattr(typed, field)
        if not raw:
            continue  # payment details may be left empty until an invoice needs them
        try:
            values[field] = parse(raw)
        except ValueError as exc:
            errors[field] = str(exc)
    return PaymentDetails(scheme=scheme, **names, **values)  # type: ignore[arg-type]

"""Bank details by format (UK, IBAN, US, Australia): validation, completeness, invoice lines."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.bank import (
    PaymentDetails,
    PaymentInput,
    aba_checksum_ok,
    format_iban,
    parse_au_account_number,
    parse_bic,
    parse_bsb,
    parse_iban,
    parse_payment,
    parse_routing_number,
    parse_sort_code,
    parse_uk_account_number,
    parse_us_account_number,
    scheme_for_country,
)
from chalicelib.domain.settings import TrainerSettings

# --- IBAN ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "compact"),
    [
        ("DE89 3704 0044 0532 0130 00", "DE89370400440532013000"),
        ("de89370400440532013000", "DE89370400440532013000"),
        (" DE89-3704-0044-0532-0130-00 ", "DE89370400440532013000"),
        ("GB82 WEST 1234 5698 7654 32", "GB82WEST12345698765432"),
        ("FR14 2004 1010 0505 0001 3M02 606", "FR1420041010050500013M02606"),
        ("CH93 0076 2011 6238 5295 7", "CH9300762011623852957"),
        ("IE29 AIBK 9311 5212 3456 78", "IE29AIBK93115212345678"),
        ("NO93 8601 1117 947", "NO9386011117947"),
    ],
)
def test_a_valid_iban_is_kept_in_its_compact_form(raw: str, compact: str) -> None:
    assert parse_iban(raw) == compact


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("DE88 3704 0044 0532 0130 00", "check digits do not match"),  # one digit off
        ("DE89 3704 0044 0532 0130 01", "check digits do not match"),
        ("DE89 3704 0440 0532 0130 00", "check digits do not match"),  # two swapped
        ("DE89 3704 0044 0532 0130 0", "from Germany has 22 characters; this one has 21"),
        ("XX89 3704 0044 0532 0130 00", "“XX” is not a country that uses IBANs"),
        ("US12 3456 7890 1234", "“US” is not a country that uses IBANs"),
        ("12345678", "An IBAN is a country code, 2 check digits"),
        ("DE89 3704 0044 0532 0130 0!", "An IBAN is a country code, 2 check digits"),
        ("hello", "An IBAN is a country code, 2 check digits"),
    ],
)
def test_an_invalid_iban_is_refused_saying_why(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_iban(raw)


def test_an_iban_prints_in_groups_of_four() -> None:
    assert format_iban("DE89370400440532013000") == "DE89 3704 0044 0532 0130 00"
    assert format_iban("NO9386011117947") == "NO93 8601 1117 947"
    assert format_iban("") == ""


# --- BIC -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "compact"),
    [
        ("COBADEFFXXX", "COBADEFFXXX"),
        ("cobadeffxxx", "COBADEFFXXX"),
        ("COBA DE FF XXX", "COBADEFFXXX"),
        ("COBADEFF", "COBADEFF"),
        ("AIBKIE2D", "AIBKIE2D"),
    ],
)
def test_a_valid_bic_is_kept_in_its_compact_form(raw: str, compact: str) -> None:
    assert parse_bic(raw) == compact


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("COBADEF", "8 or 11 letters and digits"),
        ("COBADEFF12", "8 or 11 letters and digits"),
        ("COBADEFF!XX", "8 or 11 letters and digits"),
        ("COBAXXFFXXX", "“XX” is not a country"),
    ],
)
def test_an_invalid_bic_is_refused_saying_why(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_bic(raw)


# --- US routing and account numbers --------------------------------------------------------


@pytest.mark.parametrize("routing", ["021000021", "011000015", "121000358", "026009593"])
def test_real_routing_numbers_pass_the_aba_check(routing: str) -> None:
    assert aba_checksum_ok(routing)
    assert parse_routing_number(routing) == routing


@given(st.from_regex(r"[0-9]{9}", fullmatch=True), st.integers(0, 8), st.integers(1, 9))
def test_any_single_mistyped_digit_fails_the_aba_check(routing: str, at: int, shift: int) -> None:
    if not aba_checksum_ok(routing):
        return
    typo = routing[:at] + str((int(routing[at]) + shift) % 10) + routing[at + 1 :]
    assert not aba_checksum_ok(typo)


def test_a_routing_number_is_read_with_spaces_or_dashes() -> None:
    assert parse_routing_number(" 021-000-021 ") == "021000021"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("021000022", "check digit does not match"),
        ("02100002", "9 digits"),
        ("0210000211", "9 digits"),
        ("02100002a", "9 digits"),
    ],
)
def test_a_bad_routing_number_is_refused(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_routing_number(raw)


def test_us_account_numbers_are_4_to_17_digits() -> None:
    assert parse_us_account_number("1234") == "1234"
    assert parse_us_account_number("1234 5678 9012 3456 7") == "12345678901234567"
    for bad in ("123", "1" * 18, "12345abc"):
        with pytest.raises(ValueError, match="4 to 17 digits"):
            parse_us_account_number(bad)


# --- Australian BSB and account numbers ------------------------------------------------------


@pytest.mark.parametrize("raw", ["062-000", "062000", "062 000", " 062 - 000 "])
def test_a_bsb_is_kept_as_123_456(raw: str) -> None:
    assert parse_bsb(raw) == "062-000"


@pytest.mark.parametrize("raw", ["12-345", "1234567", "06200a", "062/000"])
def test_a_bsb_that_is_not_6_digits_is_refused(raw: str) -> None:
    with pytest.raises(ValueError, match=r"A BSB is 6 digits, like 123-456\."):
        parse_bsb(raw)


def test_australian_account_numbers_are_5_to_9_digits() -> None:
    assert parse_au_account_number("12345") == "12345"
    assert parse_au_account_number("1234 56789") == "123456789"
    for bad in ("1234", "1234567890", "12345x"):
        with pytest.raises(ValueError, match="5 to 9 digits"):
            parse_au_account_number(bad)


# --- UK account numbers and sort codes ----------------------------------------------------


def test_uk_details_are_8_digits_and_a_sort_code() -> None:
    assert parse_uk_account_number("1234 5678") == "12345678"
    assert parse_sort_code("123456") == "12-34-56"
    for bad in ("1234567", "123456789", "DE89370400440532013000"):
        with pytest.raises(ValueError, match="A UK account number is 8 digits"):
            parse_uk_account_number(bad)
    with pytest.raises(ValueError, match="A sort code is 6 digits"):
        parse_sort_code("12-34-5")


# --- the default format -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("country", "scheme"),
    [("GB", "uk"), ("US", "us"), ("AU", "au"), ("DE", "iban"), ("CH", "iban"), ("NO", "iban")],
)
def test_the_format_defaults_from_the_country(country: str, scheme: str) -> None:
    assert scheme_for_country(country) == scheme
    assert TrainerSettings(country=country).bank_scheme == scheme


def test_saved_details_keep_their_format_whatever_the_country() -> None:
    uk = PaymentDetails(account_number="12345678", sort_code="12-34-56")
    assert TrainerSettings(country="DE", payment=uk).bank_scheme == "uk"


# --- PaymentDetails ---------------------------------------------------------------------------


def test_details_stored_before_formats_existed_load_as_uk() -> None:
    stored = {
        "payee_name": "Sam",
        "bank_name": "Monzo",
        "account_number": "12345678",
        "sort_code": "12-34-56",
    }
    details = TrainerSettings.model_validate({"payment": stored}).payment
    assert details.scheme == "uk" and details.complete


FULL = {
    "uk": PaymentDetails(
        scheme="uk", payee_name="Sam", bank_name="Monzo", account_number="12345678",
        sort_code="12-34-56",
    ),
    "iban": PaymentDetails(
        scheme="iban", payee_name="Lena", bank_name="Commerzbank",
        iban="DE89370400440532013000", bic="COBADEFFXXX",
    ),
    "us": PaymentDetails(
        scheme="us", payee_name="Joe", bank_name="Chase", routing_number="021000021",
        account_number="123456789",
    ),
    "au": PaymentDetails(
        scheme="au", payee_name="Kylie", bank_name="CommBank", bsb="062-000",
        account_number="12345678",
    ),
}  # fmt: skip


@pytest.mark.parametrize(
    ("scheme", "required"),
    [
        ("uk", ("payee_name", "bank_name", "account_number", "sort_code")),
        ("iban", ("payee_name", "bank_name", "iban")),
        ("us", ("payee_name", "bank_name", "routing_number", "account_number")),
        ("au", ("payee_name", "bank_name", "bsb", "account_number")),
    ],
)
def test_complete_means_the_chosen_formats_required_fields(
    scheme: str, required: tuple[str, ...]
) -> None:
    full = FULL[scheme]
    assert full.complete and full.missing == ()
    for field in required:
        assert not full.model_copy(update={field: ""}).complete
    if scheme == "iban":
        assert full.model_copy(update={"bic": ""}).complete  # SEPA routes on the IBAN alone


def test_an_iban_without_the_uk_fields_is_complete_and_uk_without_an_iban_too() -> None:
    assert FULL["iban"].sort_code == "" and FULL["iban"].complete
    assert FULL["uk"].iban == "" and FULL["uk"].complete


def test_missing_fields_are_named_for_the_message() -> None:
    assert PaymentDetails(scheme="iban").missing_text == "payee name, bank and IBAN"
    assert FULL["uk"].model_copy(update={"sort_code": ""}).missing_text == "sort code"
    assert FULL["us"].model_copy(update={"routing_number": "", "bank_name": ""}).missing_text == (
        "bank and routing number"
    )
    assert FULL["au"].missing_text == ""


@pytest.mark.parametrize(
    ("scheme", "lines"),
    [
        (
            "uk",
            [
                ("Payee", "Sam"),
                ("Bank", "Monzo"),
                ("Account number", "12345678"),
                ("Sort code", "12-34-56"),
            ],
        ),
        (
            "iban",
            [
                ("Payee", "Lena"),
                ("Bank", "Commerzbank"),
                ("IBAN", "DE89 3704 0044 0532 0130 00"),
                ("BIC", "COBADEFFXXX"),
            ],
        ),
        (
            "us",
            [
                ("Payee", "Joe"),
                ("Bank", "Chase"),
                ("Routing number", "021000021"),
                ("Account number", "123456789"),
            ],
        ),
        (
            "au",
            [
                ("Payee", "Kylie"),
                ("Bank", "CommBank"),
                ("BSB", "062-000"),
                ("Account number", "12345678"),
            ],
        ),
    ],
)
def test_invoice_lines_are_only_the_formats_own(scheme: str, lines: list) -> None:
    assert FULL[scheme].invoice_lines() == lines


def test_an_iban_invoice_without_a_bic_has_no_bic_line() -> None:
    labels = [label for label, _ in FULL["iban"].model_copy(update={"bic": ""}).invoice_lines()]
    assert labels == ["Payee", "Bank", "IBAN"]


def test_a_newline_in_a_name_cannot_forge_an_invoice_line() -> None:
    forged = FULL["iban"].model_copy(update={"payee_name": "Lena\nIBAN: GB00 EVIL"})
    lines = forged.invoice_lines()
    assert lines[0] == ("Payee", "Lena IBAN: GB00 EVIL")
    assert all("\n" not in value for _, value in lines)


# --- the payment part of the Settings form -------------------------------------------------


def _parse(**form: str) -> tuple[PaymentDetails, dict[str, str]]:
    errors: dict[str, str] = {}
    typed = PaymentInput.model_validate({"payee_name": "Lena", "bank_name": "Bank", **form})
    return parse_payment(typed, errors), errors


def test_only_the_chosen_formats_fields_are_checked_and_saved() -> None:
    details, errors = _parse(
        bank_scheme="iban",
        iban="de89 3704 0044 0532 0130 00",
        bic="cobadeffxxx",
        account_number="not checked",
        sort_code="nor this",
        routing_number="123",
        bsb="x",
    )
    assert errors == {}
    assert details == PaymentDetails(
        scheme="iban",
        payee_name="Lena",
        bank_name="Bank",
        iban="DE89370400440532013000",
        bic="COBADEFFXXX",
    )


def test_the_account_number_is_checked_by_the_chosen_format() -> None:
    us, errors = _parse(bank_scheme="us", routing_number="021000021", account_number="1234")
    assert errors == {} and (us.routing_number, us.account_number) == ("021000021", "1234")
    _, errors = _parse(bank_scheme="uk", account_number="1234", sort_code="12-34-56")
    assert errors == {"account_number": "A UK account number is 8 digits, like 12345678."}
    au, errors = _parse(bank_scheme="au", bsb="062000", account_number="123456789")
    assert errors == {} and (au.bsb, au.account_number) == ("062-000", "123456789")


def test_every_bad_field_of_the_format_is_reported() -> None:
    _, errors = _parse(bank_scheme="iban", iban="DE88370400440532013000", bic="COBADEF")
    assert set(errors) == {"iban", "bic"}
    _, errors = _parse(bank_scheme="us", routing_number="021000022", account_number="12")
    assert set(errors) == {"routing_number", "account_number"}


def test_a_form_without_a_format_is_read_as_uk_details() -> None:
    details, errors = _parse(account_number="12345678", sort_code="123456")
    assert errors == {} and details.scheme == "uk" and details.sort_code == "12-34-56"


@pytest.mark.parametrize("scheme", ["ca", "UK ", "<script>", "iban2"])
def test_an_unknown_format_is_refused(scheme: str) -> None:
    _, errors = _parse(bank_scheme=scheme)
    assert errors == {"bank_scheme": "Pick a bank details format from the list."}


def test_payment_details_may_be_left_empty_in_any_format() -> None:
    for scheme in ("uk", "iban", "us", "au"):
        errors: dict[str, str] = {}
        details = parse_payment(PaymentInput(bank_scheme=scheme), errors)
        assert errors == {} and details == PaymentDetails(scheme=scheme)  # type: ignore[arg-type]


def test_names_are_single_line_and_limited() -> None:
    details, errors = _parse(payee_name=" Lena \n Meyer ", bank_name="b" * 81)
    assert details.payee_name == "Lena Meyer"
    assert set(errors) == {"bank_name"}

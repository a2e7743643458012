"""Bank statements (issue 16 item 4): references, the presets' CSV shapes, amounts,
encodings and the matching of lines to invoices. Pure: no table."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain.bank_statements import (
    MAX_UPLOAD_BYTES,
    PRESETS,
    REFERENCE_ALPHABET,
    ColumnMapping,
    LineRefused,
    StatementLine,
    decode_statement,
    match,
    parse_amount,
    parse_day,
    parse_statement,
    payment_reference,
    references_in,
)
from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.schedule import Session

REF = "PT-7KQ4XM"
DAY = date(2026, 11, 26)


# References ------------------------------------------------------------------------------
def test_a_reference_is_pt_and_six_characters_with_no_look_alikes() -> None:
    reference = payment_reference("coach", "s1")
    assert re.fullmatch(r"PT-[A-HJ-KM-NP-TV-Z2-9]{6}", reference)
    assert not set(reference[3:]) & set("01OILU")
    assert set(REFERENCE_ALPHABET).isdisjoint("01OILU") and len(REFERENCE_ALPHABET) == 30


def test_a_reference_is_the_same_every_time_and_differs_by_session_trainer_and_attempt() -> None:
    assert payment_reference("coach", "s1") == payment_reference("coach", "s1")
    others = {
        payment_reference("coach", "s2"),
        payment_reference("rival", "s1"),
        payment_reference("coach", "s1", 1),
    }
    assert payment_reference("coach", "s1") not in others and len(others) == 3


@pytest.mark.parametrize(
    "text",
    [
        "PT-7KQ4XM",
        "pt-7kq4xm",
        "PRIYA SHAH PT 7KQ4XM BGC",
        "PT7KQ4XM",
        "ref:PT-7KQ4XM.",
        "PT_7KQ4XM",
    ],
)
def test_a_reference_is_found_however_the_bank_wrote_it(text: str) -> None:
    assert references_in(text) == (REF,)


@pytest.mark.parametrize(
    "text", ["PT-7KQ4X", "XPT-7KQ4XM", "PT-7KQ4XMA", "PT-0KQ4XM", "PRIYA 26 NOV"]
)
def test_text_that_is_not_quite_a_reference_names_none(text: str) -> None:
    assert references_in(text) == ()


# Files -----------------------------------------------------------------------------------
def test_utf8_with_and_without_a_bom_and_windows_1252_are_read() -> None:
    assert decode_statement(b"Date,Amount\n") == "Date,Amount\n"
    assert decode_statement(b"\xef\xbb\xbfDate,Amount\n") == "Date,Amount\n"
    assert decode_statement(b"Paid in\n\xa325.00\n") == "Paid in\n£25.00\n"


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b"", "empty"),
        (b"  \r\n", "empty"),
        ("Date,Amount\n".encode("utf-16"), "UTF-16"),
        ("Date,Amount\n".encode("utf-16-le"), "UTF-16"),
        (b"PK\x03\x04\x14\x00rest of a zip", "Excel workbook"),
        (b"\xd0\xcf\x11\xe0old excel", "Excel workbook"),
        (b"%PDF-1.7\n...", "PDF"),
        (b"Date,Amount\n\x81\x8d\x8f\x90\x9d\n", "encoding"),
        (b"Date,Amount\x07\n", "not a CSV"),
        (b"a" * (MAX_UPLOAD_BYTES + 1), "1 MB"),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_in_words(raw: bytes, words: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        decode_statement(raw)
    assert words in refused.value.errors["statement"]


# Amounts and dates -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "minor"),
    [
        ("40.00", 4000),
        ("40", 4000),
        ("1,234.56", 123456),
        ("£1,234.56", 123456),
        ("-40.00", -4000),
        ("−40.00", -4000),
        ("(40.00)", -4000),
        ("£-40.00", -4000),
        ("40.00-", -4000),
        ("+40.5", 4050),
        ("GBP 40.00", 4000),
        ("", None),
    ],
)
def test_amounts_are_read_for_a_uk_trainer_in_pence(text: str, minor: int | None) -> None:
    assert parse_amount(text, "GBP", "en_GB") == minor


def test_amounts_are_read_in_the_trainers_locale() -> None:
    assert parse_amount("1.234,56 €", "EUR", "de_DE") == 123456
    assert parse_amount("4500", "JPY", "ja_JP") == 4500


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("€40.00", "in EUR, not GBP"),
        ("40.00 USD", "in USD, not GBP"),
        ("40.001", "more decimals"),
        ("forty", "not an amount"),
        ("12,34.5", "not an amount"),
    ],
)
def test_an_amount_in_another_currency_or_garbled_is_refused(text: str, words: str) -> None:
    with pytest.raises(LineRefused, match=words):
        parse_amount(text, "GBP", "en_GB")


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("26/11/2026", DAY),
        ("2026-11-26", DAY),
        ("2026-11-26T10:00:00Z", DAY),
        ("26 Nov 2026", DAY),
        ("26 November 2026", DAY),
        ("26/11/26", DAY),
    ],
)
def test_statement_dates_are_read(text: str, day: date) -> None:
    assert parse_day(text, "en_GB") == day


def test_a_us_trainer_reads_month_first() -> None:
    assert parse_day("11/26/2026", "en_US") == DAY
    with pytest.raises(LineRefused):
        parse_day("31/02/2026", "en_GB")


# The presets ------------------------------------------------------------------------------
def _money(minor: int, grouped: bool = False) -> str:
    return f"{minor / 100:,.2f}" if grouped else f"{minor / 100:.2f}"


def monzo(day: date, minor: int, name: str, reference: str) -> bytes:
    header = (
        "Transaction ID,Date,Time,Type,Name,Emoji,Category,Amount,Currency,Local amount,"
        "Local currency,Notes and #tags,Address,Receipt,Description,Category split,"
        "Money Out,Money In"
    )
    row = (
        f"tx_0000AZ,{day:%d/%m/%Y},10:02:01,Faster payment,{name},,Income,{_money(minor)},GBP,"
        f"{_money(minor)},GBP,,,,{reference},,,{_money(minor)}"
    )
    spend = (
        "tx_0000B,01/11/2026,09:00:00,Card payment,Tesco,,Groceries,-12.50,GBP,-12.50,GBP,"
        ",,,,,-12.50,"
    )
    return f"{header}\n{spend}\n{row}\n".encode()


def starling(day: date, minor: int, name: str, reference: str) -> bytes:
    return (
        "Date,Counter Party,Reference,Type,Amount (GBP),Balance (GBP),Spending Category,Notes\n"
        f"{day:%d/%m/%Y},{name},{reference},FASTER PAYMENT,{_money(minor)},1234.56,INCOME,\n"
    ).encode()


def barclays(day: date, minor: int, name: str, reference: str) -> bytes:
    return (
        "Number,Date,Account,Amount,Subcategory,Memo\n"
        f",{day:%d/%m/%Y},20-00-00 12345678,{_money(minor)},Counter Credit,"
        f"{name} {reference} BGC\n"
    ).encode()


def hsbc(day: date, minor: int, name: str, reference: str) -> bytes:
    return (
        f'01/11/2026,"TESCO STORES",-3.50\n{day:%d/%m/%Y},"{name} {reference}",'
        f'"{_money(minor, grouped=True)}"\n'
    ).encode()


def lloyds(day: date, minor: int, name: str, reference: str) -> bytes:
    return (
        "Transaction Date,Transaction Type,Sort Code,Account Number,Transaction Description,"
        "Debit Amount,Credit Amount,Balance\n"
        f"01/11/2026,DEB,'30-91-74,02344812,TESCO STORES,12.50,,1000.00\n"
        f"{day:%d/%m/%Y},FPI,'30-91-74,02344812,{name} {reference},,{_money(minor)},12004.61\n"
    ).encode()


def nationwide(day: date, minor: int, name: str, reference: str) -> bytes:
    return (
        '"Account Name:","FlexAccount ****12345"\n'
        '"Account Balance:","£1,234.56"\n'
        '"Available Balance:","£1,200.00"\n'
        "\n"
        '"Date","Transaction type","Description","Paid out","Paid in","Balance"\n'
        '"01 Nov 2026","Visa purchase","TESCO STORES","£12.50","","£1,222.06"\n'
        f'"{day:%d %b %Y}","Transfer from","{name} {reference}","",'
        f'"£{_money(minor, grouped=True)}","£1,249.56"\n'
    ).encode("cp1252")


RENDERERS: dict[str, Callable[[date, int, str, str], bytes]] = {
    "monzo": monzo,
    "starling": starling,
    "barclays": barclays,
    "hsbc": hsbc,
    "lloyds": lloyds,
    "nationwide": nationwide,
}


def _read(preset: str, raw: bytes, currency: str = "GBP"):
    return parse_statement(raw, PRESETS[preset].columns, currency, "en_GB")


def test_every_preset_has_a_renderer() -> None:
    assert set(RENDERERS) == set(PRESETS)


@pytest.mark.parametrize("preset", sorted(RENDERERS))
def test_each_preset_reads_its_banks_export(preset: str) -> None:
    statement = _read(preset, RENDERERS[preset](DAY, 4000, "PRIYA SHAH", REF))
    (line,) = statement.lines
    assert (line.day, line.amount_minor, line.references) == (DAY, 4000, (REF,))
    assert "PRIYA SHAH" in line.text
    assert statement.problems == ()
    # Money out (the shop) is counted, never matched; Starling's and Barclays' have none.
    assert statement.money_out == (0 if preset in ("starling", "barclays") else 1)


_NAMES = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ '", min_size=1, max_size=30).map(
    lambda s: " ".join(s.split()) or "A"
)
_REFERENCES = st.text(alphabet=REFERENCE_ALPHABET, min_size=6, max_size=6).map(lambda s: "PT-" + s)


@settings(max_examples=60, deadline=None)
@given(
    preset=st.sampled_from(sorted(RENDERERS)),
    day=st.dates(min_value=date(2001, 1, 1), max_value=date(2099, 12, 31)),
    minor=st.integers(min_value=1, max_value=99_999_999),
    name=_NAMES,
    reference=_REFERENCES,
)
def test_any_line_a_preset_writes_reads_back_the_same(
    preset: str, day: date, minor: int, name: str, reference: str
) -> None:
    (line,) = _read(preset, RENDERERS[preset](day, minor, name, reference)).lines
    assert (line.day, line.amount_minor, line.references) == (day, minor, (reference,))


def test_a_statement_in_another_currency_is_refused_whole() -> None:
    raw = starling(DAY, 4000, "PRIYA", REF).replace(b"(GBP)", b"(EUR)")
    with pytest.raises(InvalidInput) as refused:
        _read("starling", raw)
    assert "This statement is in EUR; your invoices are in GBP" in refused.value.errors["statement"]


def test_a_line_in_another_currency_is_refused_alone() -> None:
    raw = monzo(DAY, 4000, "PRIYA", REF).replace(b",GBP,4", b",EUR,4")
    statement = _read("monzo", raw)
    assert statement.lines == ()
    (problem,) = statement.problems
    assert problem.position == 3 and problem.text == "This line is in EUR, not GBP."


def test_a_line_that_cannot_be_read_is_listed_with_its_line_number() -> None:
    raw = barclays(DAY, 4000, "PRIYA", REF) + b",31/02/2026,20-00-00 1,40.00,Credit,X\n"
    statement = _read("barclays", raw)
    assert len(statement.lines) == 1
    assert [(p.position, p.text) for p in statement.problems] == [
        (3, "“31/02/2026” is not a date.")
    ]


def test_missing_columns_are_named_with_the_columns_the_file_has() -> None:
    with pytest.raises(InvalidInput) as refused:
        _read("lloyds", starling(DAY, 4000, "PRIYA", REF))
    message = refused.value.errors["date_column"]
    assert "no column “Transaction Date”" in message and "“Counter Party”" in message


def test_a_header_with_no_lines_and_a_file_with_no_header_are_refused() -> None:
    with pytest.raises(InvalidInput, match="no lines"):
        _read("barclays", b"Number,Date,Account,Amount,Subcategory,Memo\n")
    with pytest.raises(InvalidInput):
        _read("barclays", b"just some words\nand more words\n")


def test_a_custom_mapping_reads_named_columns_and_is_checked() -> None:
    mapping = ColumnMapping(
        preset="custom",
        date_column="Posted",
        paid_in_column="In",
        paid_out_column="Out",
        reference_columns="Payee, Ref",
    )
    raw = b"Posted;Payee;Ref;Out;In\n2026-11-26;Priya;PT-7KQ4XM;;40,00\n"
    statement = parse_statement(raw, mapping.columns(), "EUR", "de_DE")
    assert [(line.amount_minor, line.text) for line in statement.lines] == [
        (4000, "Priya PT-7KQ4XM")
    ]
    with pytest.raises(InvalidInput) as refused:
        ColumnMapping(preset="custom").columns()
    assert set(refused.value.errors) == {"date_column", "amount_column", "reference_columns"}
    with pytest.raises(InvalidInput) as mixed:
        ColumnMapping(
            preset="custom", date_column="1", amount_column="Amount", reference_columns="2"
        ).columns()
    assert "not both" in mixed.value.errors["date_column"]
    with pytest.raises(InvalidInput) as unknown:
        ColumnMapping(preset="natwest").columns()
    assert unknown.value.errors == {"preset": "Pick your bank from the list, or Another bank."}


# Matching ---------------------------------------------------------------------------------
def _session(sid: str = "s1", **changes: object) -> Session:
    start = datetime(2026, 11, 26, 9, tzinfo=UTC)
    base = Session(
        id=sid,
        slot_id="slot",
        client_id="c1",
        client_name="Priya Shah",
        day=DAY,
        start=540,
        end=600,
        start_utc=start,
        end_utc=start.replace(hour=10),
        location_id="loc",
        kind="manual",
        price_minor=4000,
        created_at=start,
    )
    return base.model_copy(update=changes)


def _line(position: int, minor: int = 4000, text: str = REF) -> StatementLine:
    return StatementLine(position, DAY, minor, text, references_in(text))


def _why(found_lines: tuple) -> list[str]:
    return [a.why for a in found_lines]


def test_matching_proposes_the_exact_unpaid_amount_and_sets_the_rest_apart() -> None:
    invoices = {
        REF: _session("s1"),
        "PT-AAAAAA": _session("s2", paid=True, payment_type="cash"),
        "PT-BBBBBB": _session("s3", status="canceled"),
        "PT-CCCCCC": _session("s4"),
    }
    lines = [
        _line(2),
        _line(3, text=f"again {REF}"),
        _line(4, text="PT-AAAAAA"),
        _line(5, text="PT-BBBBBB"),
        _line(6, minor=3500, text="PT-CCCCCC"),
        _line(7, text="PT-DDDDDD"),
        _line(8, text="rent"),
    ]
    found = match(lines, invoices, {}, "GBP", "en_GB")
    assert [(p.line.position, p.session.id) for p in found.proposed] == [(2, "s1")]
    assert _why(found.apart) == [
        "Line 2 of this statement already pays it.",
        "That session is already marked paid.",
        "That session was canceled.",
        "£35.00 paid; the invoice is for £40.00. Mark it by hand if that is right.",
    ]
    assert _why(found.unmatched) == ["PT-DDDDDD: not one of your invoices' references.", ""]


def test_a_line_confirmed_before_is_never_proposed_again() -> None:
    line = _line(2)
    found = match(
        [line], {REF: _session()}, {line.fingerprint: "2026-11-27T10:00:00Z"}, "GBP", "en_GB"
    )
    assert found.proposed == ()
    assert _why(found.apart) == ["This line was confirmed before (2026-11-27)."]


def test_a_fingerprint_depends_on_date_amount_reference_and_position() -> None:
    line = _line(2)
    assert line.fingerprint == _line(2).fingerprint
    assert len({line.fingerprint, _line(3).fingerprint, _line(2, 4001).fingerprint}) == 3

"""The PDF writer (chalicelib/pdf.py) and the invoice drawn with it, read back with pypdf:
text, metadata, exact cross-reference offsets, escaping, widths from the AFM metrics,
word wrap, a second page, and the same bytes for the same record."""

from __future__ import annotations

import io
import logging
import re
from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pypdf import PdfReader
from pypdf._codecs.core_font_metrics import CORE_FONT_METRICS

from chalicelib import pdf
from chalicelib.domain.invoices import InvoiceLine, Paid, totals
from chalicelib.services import invoices
from tests.unit.test_invoices import _invoice

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _reader(body: bytes) -> PdfReader:
    return PdfReader(io.BytesIO(body), strict=True)


def _text(body: bytes) -> str:
    return "\n".join(page.extract_text() for page in _reader(body).pages)


def _lines(count: int, place: str = "Studio") -> tuple[InvoiceLine, ...]:
    return tuple(
        InvoiceLine(
            day=date(2026, 11, 26),
            start=540,
            end=600,
            place=place,
            amount_minor=1000 + index,
        )
        for index in range(count)
    )


def _with_lines(lines: tuple[InvoiceLine, ...]) -> bytes:
    net, vat, gross = totals(lines, 2000)
    record = _invoice(lines=lines, net_minor=net, vat_minor=vat, gross_minor=gross)
    return invoices.render(record, None).body


def _drawn(body: bytes) -> list[tuple[pdf.Font, float, float, str]]:
    """(font, x, y, raw string) of every text drawn, from the decompressed content."""
    fonts = {font.resource: font for font in (pdf.REGULAR, pdf.BOLD)}
    shown = rb"BT /(F\d) 11 Tf ([\d.]+) ([\d.]+) Td \(((?:\\.|[^\\)])*)\) Tj ET"
    return [
        (fonts[font.decode()], float(x), float(y), raw.decode("cp1252"))
        for page in _reader(body).pages
        for font, x, y, raw in re.findall(shown, page.get_contents().get_data())
    ]


# The invoice, read back -----------------------------------------------------------------
def test_an_invoice_reads_back_with_its_names_accents_euro_and_amounts() -> None:
    record = _invoice(
        business_name="Łódź Fit",
        client_name="Zoë Dvořák-Šťastná",
        currency="EUR",
        locale="fr_FR",
    )
    body = invoices.render(record, None).body
    reader = _reader(body)
    text = _text(body)
    assert len(reader.pages) == 1
    for expected in (
        "Invoice", "INV-000042", "Lódz Fit", "Zoë Dvorák-Štastná", "40,00 €", "33,33 €",
        "6,67 €", "VAT at 20 %", "Thu 26 Nov 2026, 09:00-10:00, Studio", "PT-ABCDEF",
    ):  # fmt: skip
        assert expected in text, expected
    meta = reader.metadata
    assert meta is not None
    assert (meta.title, meta.author, meta.creator) == (
        "Invoice INV-000042",
        "Łódź Fit",
        "PT Bookings",
    )
    assert meta.creation_date == NOW  # the issue instant, not the clock's


def test_the_same_record_gives_the_same_bytes_and_another_record_others() -> None:
    paid = Paid(on=date(2026, 11, 26), how="Cash")
    assert invoices.render(_invoice(), paid).body == invoices.render(_invoice(), paid).body
    assert invoices.render(_invoice(), None).body != invoices.render(_invoice(number=43), None).body


def test_the_cross_reference_table_gives_each_objects_exact_offset(
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = invoices.render(_invoice(), None).body
    with caplog.at_level(logging.WARNING, logger="pypdf"):
        _reader(body).pages[0].extract_text()
    # pypdf repairs a wrong offset even in strict mode, and says so only in a warning.
    assert [record.getMessage() for record in caplog.records] == []
    xref_at = int(re.search(rb"startxref\n(\d+)\n%%EOF\n$", body).group(1))  # type: ignore[union-attr]
    table = body[xref_at:]
    assert table.startswith(b"xref\n0 ")
    count = int(table.split(b"\n")[1].split()[1])
    entries = table.split(b"\n", 2)[2][: 20 * count]
    assert entries[:20] == b"0000000000 65535 f \n"
    for number in range(1, count):
        entry = entries[20 * number : 20 * number + 20]
        assert entry.endswith(b" 00000 n \n"), entry  # 20 bytes each, as the spec says
        offset = int(entry[:10])
        assert body[offset:].startswith(b"%d 0 obj\n" % number), number
    assert b"/Size %d " % count in body


def test_parentheses_and_backslashes_in_a_name_are_escaped() -> None:
    name = r"Ann (Annie) O\Neil)("
    body = invoices.render(_invoice(client_name=name), None).body
    assert name in _text(body)
    assert r"Ann \(Annie\) O\\Neil\)\(" in [raw for _f, _x, _y, raw in _drawn(body)]


def test_a_long_description_wraps_inside_its_column_and_keeps_its_amount_row() -> None:
    place = "The community sports centre on the far side of the park, studio B, upstairs " * 2
    body = _with_lines(_lines(1, place.strip()))
    drawn = _drawn(body)
    amount_x = next(x for _f, x, _y, raw in drawn if raw == "£10.00")
    described = [
        (x, y, raw)
        for _f, x, y, raw in drawn
        if raw.startswith("Personal training") or "park" in raw or "upstairs" in raw
    ]
    assert len(described) >= 2  # wrapped
    column_right = pdf.MM * (10 + 150 - 1)  # the margin, the description column, its padding
    for x, _y, raw in described:
        assert x + pdf.REGULAR.width(raw, 11) <= column_right + 0.01, raw
    assert column_right < amount_x
    words = " ".join(raw for _x, _y, raw in described).split()
    assert words == _lines(1, place.strip())[0].description.split()  # nothing lost
    first_y = described[0][1]
    amount_rows = [y for font, _x, y, raw in drawn if raw == "£10.00" and font is pdf.REGULAR]
    assert amount_rows == [first_y]  # beside the first line (the bold one is the total)


def test_sixty_lines_run_on_to_the_next_page_which_names_the_columns_again() -> None:
    body = _with_lines(_lines(60))
    pages = [page.extract_text() for page in _reader(body).pages]
    assert len(pages) > 1
    assert pages[1].startswith("Description Amount")  # the table goes on, with its header
    amounts = re.findall(r"£10\.\d\d", "\n".join(pages))
    assert amounts == [f"£{(1000 + i) / 100:.2f}" for i in range(60)]  # all, in order
    # The totals stay together, and so do the bank details a client copies.
    assert [p for p in pages if "Net £" in p] == [p for p in pages if "Total £617.70" in p]
    (to_pay,) = [p for p in pages if "Please pay by bank transfer to" in p]
    assert "Payee: Alex Byrne" in to_pay and "Reference: PT-ABCDEF" in to_pay
    lowest = pdf.PAGE_HEIGHT - 18 * pdf.MM  # nothing below the bottom margin
    assert all(pdf.PAGE_HEIGHT - y <= lowest for _f, _x, y, _raw in _drawn(body))


def test_amounts_end_on_the_right_edge_whatever_their_width() -> None:
    drawn = _drawn(invoices.render(_invoice(), None).body)
    right_edge = pdf.PAGE_WIDTH - 11 * pdf.MM  # the margin and the cell's padding
    amounts = [(font, x, raw) for font, x, _y, raw in drawn if raw.startswith("£")]
    assert sorted(raw for _f, _x, raw in amounts) == ["£33.33", "£40.00", "£40.00", "£6.67"]
    for font, x, raw in amounts:
        assert x + font.width(raw, 11) == pytest.approx(right_edge, abs=0.01), raw
    assert amounts[-1][0] is pdf.BOLD  # the total


# The writer ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("font", "afm"), [(pdf.REGULAR, "Helvetica"), (pdf.BOLD, "Helvetica-Bold")]
)
def test_glyph_widths_are_adobes_for_every_winansi_character(font: pdf.Font, afm: str) -> None:
    widths = CORE_FONT_METRICS[afm].character_widths  # pypdf's copy of the same AFM files
    same_glyph = {"\xa0": " ", "\xad": "-"}  # no-break space, soft hyphen
    for code in range(0x20, 0x100):
        try:
            char = bytes([code]).decode("cp1252")
        except UnicodeDecodeError:
            continue  # the five codes WinAnsi leaves undefined
        if char == "\x7f":
            continue  # DEL: a control, never drawn
        assert font.widths[code - 0x20] == widths[same_glyph.get(char, char)], (hex(code), char)
    assert pdf.BOLD.width("Invoice", 20) == pytest.approx(68.92)  # 3446 thousandths × 20


@pytest.mark.parametrize(
    ("typed", "drawn"),
    [("Zoë Müller", "Zoë Müller"), ("Łukasz Wójcik", "Lukasz Wójcik"), ("Dvořák", "Dvorák"),
     ("40,00\u202f€", "40,00 €"), ("1\xa0234,56 €", "1 234,56 €"),
     ("Anne–Marie “Annie”", "Anne–Marie “Annie”"), ("Œuvre Šimon Žák", "Œuvre Šimon Žák"),
     ("李雷 💪", "?? ?"), ("Tab\tand\nnewline\x00", "Tab and newline"),
     ("<b>Bold</b> & co", "<b>Bold</b> & co")],
)  # fmt: skip
def test_text_is_made_winansi_keeping_what_the_fonts_have(typed: str, drawn: str) -> None:
    assert pdf.winansi(typed) == drawn


@given(st.text(max_size=40))
def test_any_text_can_be_drawn(text: str) -> None:
    pdf.winansi(text).encode("cp1252")
    assert pdf.REGULAR.width(text, 11) >= 0


def test_wrap_breaks_at_spaces_and_inside_a_word_only_when_it_must() -> None:
    width = pdf.REGULAR.width("gamma delta", 10)  # wider than "alpha beta", narrower than 3 words
    lines = pdf.wrap("alpha beta gamma delta", width, pdf.REGULAR, 10)
    assert lines == ["alpha beta", "gamma delta"]
    long_word = "x" * 100
    broken = pdf.wrap(long_word, 50, pdf.REGULAR, 10)
    assert "".join(broken) == long_word and len(broken) > 1
    assert all(pdf.REGULAR.width(line, 10) <= 50 for line in broken)
    assert pdf.wrap("", 50, pdf.REGULAR, 10) == [""]


def test_a_document_carries_its_metadata_and_pages() -> None:
    document = pdf.Document(
        title="Receipt (copy) \\ 1", author="Café Ōmori", creator="PT Bookings", creation_date=NOW
    )
    for index in range(3):
        document.add_page().text(50, 50, f"Page {index + 1}")
    body = document.to_bytes()
    assert body.startswith(b"%PDF-1.4\n")
    reader = _reader(body)
    assert [page.extract_text() for page in reader.pages] == ["Page 1", "Page 2", "Page 3"]
    assert reader.metadata is not None
    assert (reader.metadata.title, reader.metadata.author) == ("Receipt (copy) \\ 1", "Café Ōmori")
    assert [float(v) for v in reader.pages[0].mediabox] == [0, 0, 595.28, 841.89]  # A4

"""A minimal PDF 1.4 writer for text documents (invoices, receipts: docs/invoices.md).

Why our own: fpdf2 brought fontTools and Pillow, about 7 MB of the Lambda zip, for pages
that are only text and rules. This draws A4 pages with the two standard fonts Helvetica
and Helvetica-Bold in WinAnsiEncoding, which every PDF reader has, so nothing is
embedded; text widths come from Adobe's published AFM metrics below, which is all that
right alignment and word wrap need. Stdlib only, imported only when a PDF is drawn.

Coordinates are in points from the page's top-left corner (y grows down, as a layout is
written); the writer turns them into PDF's bottom-left space. Any `str` may be drawn:
`winansi` makes it drawable, so a client's name never stops a document.
"""

from __future__ import annotations

import hashlib
import unicodedata
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

PAGE_WIDTH: Final = 595.28  # A4, 210 × 297 mm in points
PAGE_HEIGHT: Final = 841.89
MM: Final = 72 / 25.4  # points in a millimetre


def _widths(table: str) -> tuple[int, ...]:
    """The table's glyph widths (1/1000 em) for WinAnsi codes 0x20–0xFF; 0 marks the five
    codes WinAnsi leaves undefined, which `winansi` never produces."""
    widths = tuple(int(cell) for row in table.splitlines() for cell in row.split("#")[0].split())
    if len(widths) != 0x100 - 0x20:
        raise ValueError(f"a width table holds 224 codes, not {len(widths)}")
    return widths


# Helvetica.afm and Helvetica-Bold.afm (Adobe Core 14 AFM files, freely distributable),
# the WX of each glyph at its WinAnsiEncoding code, 16 codes a row.
_HELVETICA: Final = _widths("""
     278  278  355  556  556  889  667  191  333  333  389  584  278  333  278  278  # 0x20
     556  556  556  556  556  556  556  556  556  556  278  278  584  584  584  556  # 0x30
    1015  667  667  722  722  667  611  778  722  278  500  667  556  833  722  778  # 0x40
     667  778  722  667  611  722  667  944  667  667  611  278  278  278  469  556  # 0x50
     333  556  556  500  556  556  278  556  556  222  222  500  222  833  556  556  # 0x60
     556  556  333  500  278  556  500  722  500  500  500  334  260  334  584    0  # 0x70
     556    0  222  556  333 1000  556  556  333 1000  667  333 1000    0  611    0  # 0x80
       0  222  222  333  333  350  556 1000  333 1000  500  333  944    0  500  667  # 0x90
     278  333  556  556  556  556  260  556  333  737  370  556  584  333  737  333  # 0xa0
     400  584  333  333  333  556  537  278  333  333  365  556  834  834  834  611  # 0xb0
     667  667  667  667  667  667 1000  722  667  667  667  667  278  278  278  278  # 0xc0
     722  722  778  778  778  778  778  584  778  722  722  722  722  667  667  611  # 0xd0
     556  556  556  556  556  556  889  500  556  556  556  556  278  278  278  278  # 0xe0
     556  556  556  556  556  556  556  584  611  556  556  556  556  500  556  500  # 0xf0
""")
_HELVETICA_BOLD: Final = _widths("""
     278  333  474  556  556  889  722  238  333  333  389  584  278  333  278  278  # 0x20
     556  556  556  556  556  556  556  556  556  556  333  333  584  584  584  611  # 0x30
     975  722  722  722  722  667  611  778  722  278  556  722  611  833  722  778  # 0x40
     667  778  722  667  611  722  667  944  667  667  611  333  278  333  584  556  # 0x50
     333  556  611  556  611  556  333  611  611  278  278  556  278  889  611  611  # 0x60
     611  611  389  556  333  611  556  778  556  556  500  389  280  389  584    0  # 0x70
     556    0  278  556  500 1000  556  556  333 1000  667  333 1000    0  611    0  # 0x80
       0  278  278  500  500  350  556 1000  333 1000  556  333  944    0  500  667  # 0x90
     278  333  556  556  556  556  280  556  333  737  370  556  584  333  737  333  # 0xa0
     400  584  333  333  333  611  556  278  333  333  365  556  834  834  834  611  # 0xb0
     722  722  722  722  722  722 1000  722  667  667  667  667  278  278  278  278  # 0xc0
     722  722  778  778  778  778  778  584  778  722  722  722  722  667  667  611  # 0xd0
     556  556  556  556  556  556  889  556  556  556  556  556  278  278  278  278  # 0xe0
     611  611  611  611  611  611  611  584  611  611  611  611  611  556  611  556  # 0xf0
""")


@dataclass(frozen=True)
class Font:
    resource: str  # its name in the page's resources
    base_font: str  # one of the standard 14: readers have it, nothing is embedded
    widths: tuple[int, ...] = field(repr=False)

    def width(self, text: str, size: float) -> float:
        """The drawn width of `text` (as `winansi` makes it) in points."""
        return self.measure(winansi(text), size)

    def measure(self, drawable: str, size: float) -> float:
        """The width of text already made WinAnsi, without making it again (wrap measures
        every word)."""
        return sum(self.widths[code - 32] for code in drawable.encode("cp1252")) * size / 1000


REGULAR: Final = Font("F1", "Helvetica", _HELVETICA)
BOLD: Final = Font("F2", "Helvetica-Bold", _HELVETICA_BOLD)
_FONTS: Final = (REGULAR, BOLD)


# --- Text the standard fonts can draw -------------------------------------------------------

# Characters WinAnsi lacks whose plain spelling NFKD does not find (it finds ř → r).
_SPELLED: Final = {
    "ł": "l",
    "Ł": "L",
    "đ": "d",
    "Đ": "D",
    "ı": "i",
    "ħ": "h",
    "Ħ": "H",
    "−": "-",  # minus sign
    "‐": "-",
    "‑": "-",
    "‒": "-",
}


_WINANSI: Final = frozenset(bytes(range(0x20, 0x100)).decode("cp1252", errors="ignore"))


def winansi(text: str) -> str:
    """`text` as the standard fonts can draw it (WinAnsi, Windows-1252): what Latin-1
    holds plus € – — ‘ ’ “ ” … • Š š Ž ž Œ œ Ÿ ™; other accents are dropped (ř → r,
    ą → a), a few letters spelled (ł → l), anything else (Cyrillic, CJK, emoji) "?".
    Control characters become spaces, so a name cannot break a layout, and so does every
    kind of space (Babel's no-break ones in "40,00 €"), so a reader's search finds what
    is typed; the ends are stripped."""
    if text.isascii() and text.isprintable():
        return text.strip()  # most text: nothing to change
    out: list[str] = []
    for char in text:
        if char in _SPELLED:
            out.append(_SPELLED[char])
        elif char.isspace() or not char.isprintable():
            out.append(" ")
        elif char in _WINANSI:
            out.append(char)
        else:
            base = "".join(
                c
                for c in unicodedata.normalize("NFKD", char)
                if not unicodedata.combining(c) and c.isprintable() and c in _WINANSI
            )
            out.append(base or "?")
    return "".join(out).strip()


def wrap(text: str, width: float, font: Font, size: float) -> list[str]:
    """`text` (as `winansi` makes it) broken into lines no wider than `width` points: at
    spaces, and inside a word only when the word alone is wider than the line. Always one
    line at least, so an empty value still takes its row."""
    space = font.measure(" ", size)
    width += 1e-6  # a line exactly as wide as the column fits, whatever the float sums say
    lines: list[str] = []
    current, current_width = "", 0.0
    for word in winansi(text).split():
        word_width = font.measure(word, size)
        if current and current_width + space + word_width <= width:
            current, current_width = f"{current} {word}", current_width + space + word_width
            continue
        if current:
            lines.append(current)
        while word_width > width and len(word) > 1:
            cut = len(word) - 1  # the longest head that fits, one letter at least
            while cut > 1 and font.measure(word[:cut], size) > width:
                cut -= 1
            lines.append(word[:cut])
            word = word[cut:]
            word_width = font.measure(word, size)
        current, current_width = word, word_width
    lines.append(current)
    return lines


# --- Drawing --------------------------------------------------------------------------------


def _number(value: float) -> str:
    """A coordinate as PDF writes it: two decimals at most, no trailing zeros, so one
    layout always gives the same bytes."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _literal(text: str) -> bytes:
    """A PDF literal string of WinAnsi text: the three characters that end or escape a
    string are escaped, and line ends too, which a reader would otherwise normalise."""
    raw = text.encode("cp1252")
    for plain, escaped in ((b"\\", b"\\\\"), (b"(", b"\\("), (b")", b"\\)")):
        raw = raw.replace(plain, escaped)
    return b"(" + raw.replace(b"\r", b"\\r").replace(b"\n", b"\\n") + b")"


class Page:
    """One A4 page's content: text and rules, in drawing order."""

    def __init__(self) -> None:
        self._ops: list[bytes] = []

    def text(self, x: float, y: float, text: str, font: Font = REGULAR, size: float = 11) -> float:
        """Draws `text` with its baseline's left end at (x, y); returns its width."""
        drawn = winansi(text)
        if drawn:
            self._ops.append(
                b"BT /%s %s Tf %s %s Td %s Tj ET"
                % (
                    font.resource.encode(),
                    _number(size).encode(),
                    _number(x).encode(),
                    _number(PAGE_HEIGHT - y).encode(),
                    _literal(drawn),
                )
            )
        return font.measure(drawn, size)

    def text_right(
        self, right: float, y: float, text: str, font: Font = REGULAR, size: float = 11
    ) -> None:
        """Draws `text` so that it ends at `right` (amounts line up on their last digit)."""
        drawn = winansi(text)
        self.text(right - font.measure(drawn, size), y, drawn, font, size)

    def line(self, x1: float, y1: float, x2: float, y2: float, width: float = 0.5) -> None:
        self._ops.append(
            b"%s w %s %s m %s %s l S"
            % tuple(
                _number(value).encode()
                for value in (width, x1, PAGE_HEIGHT - y1, x2, PAGE_HEIGHT - y2)
            )
        )

    def content(self) -> bytes:
        return b"\n".join(self._ops)


class Flow:
    """A cursor down a document's pages, row by row, as a text document is laid out: a
    row is drawn at the cursor and `down` moves past it; `fits` starts the next page
    when a block would run into the bottom margin. Text sits in a row like a table
    cell's: `pad` off the column's edge, vertically in the middle."""

    def __init__(self, document: Document, margin: float, bottom_margin: float, pad: float) -> None:
        self.document = document
        self.left = margin
        self.top = margin
        self.width = PAGE_WIDTH - 2 * margin
        self.bottom = PAGE_HEIGHT - bottom_margin
        self.pad = pad
        self.page = document.add_page()
        self.y = self.top

    def fits(self, height: float) -> bool:
        """True if a block `height` tall fits on this page; else the next page is
        started (and False says so, e.g. to repeat a table's header)."""
        if self.y + height <= self.bottom:
            return True
        self.page = self.document.add_page()
        self.y = self.top
        return False

    def down(self, height: float) -> None:
        self.y += height

    def cell(
        self,
        x: float,
        width: float,
        height: float,
        text: str,
        font: Font = REGULAR,
        size: float = 11,
        right: bool = False,
    ) -> None:
        """One line of text in the column [x, x + width] of the row at the cursor."""
        baseline = self.y + height / 2 + 0.3 * size  # the middle of the row, for capitals
        if right:
            self.page.text_right(x + width - self.pad, baseline, text, font, size)
        else:
            self.page.text(x + self.pad, baseline, text, font, size)

    def wrapped(self, width: float, text: str, font: Font = REGULAR, size: float = 11) -> list[str]:
        """`text` wrapped to what a column `width` wide holds inside its padding."""
        return wrap(text, width - 2 * self.pad, font, size)


def _info_string(text: str) -> bytes:
    """A document-information string: plain ASCII as a literal, anything else as UTF-16BE
    with its byte-order mark, which every reader decodes (PDFDocEncoding would differ from
    WinAnsi in 0x80–0x9F), so the metadata keeps a name exactly as typed."""
    clean = "".join(c if c.isprintable() else " " for c in text).strip()
    if clean.isascii():
        return _literal(clean)
    return b"<" + ("\ufeff" + clean).encode("utf-16-be").hex().upper().encode() + b">"


def _pdf_date(at: datetime) -> bytes:
    """D:YYYYMMDDHHmmSS+00'00' in UTC (a naive datetime is taken as UTC)."""
    moment = at.astimezone(UTC) if at.tzinfo else at
    return b"(D:%s+00'00')" % moment.strftime("%Y%m%d%H%M%S").encode()


@dataclass
class Document:
    """A PDF of A4 pages. `creation_date` is the caller's (an invoice's issue instant), not
    the clock's: the same record always gives the same bytes."""

    title: str
    author: str
    creator: str
    creation_date: datetime
    pages: list[Page] = field(default_factory=list)

    def add_page(self) -> Page:
        page = Page()
        self.pages.append(page)
        return page

    def to_bytes(self) -> bytes:
        """The file: header, objects, the cross-reference table of their byte offsets,
        trailer. Objects: 1 catalog, 2 page tree, 3–4 fonts, 5 info, then a page and its
        content stream for each page."""
        pages = self.pages or [Page()]
        first_page = 6
        page_numbers = [first_page + 2 * index for index in range(len(pages))]
        objects: list[bytes] = [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [%s] /Count %d >>"
            % (b" ".join(b"%d 0 R" % number for number in page_numbers), len(pages)),
        ]
        objects += [
            b"<< /Type /Font /Subtype /Type1 /BaseFont /%s /Encoding /WinAnsiEncoding >>"
            % font.base_font.encode()
            for font in _FONTS
        ]
        objects.append(
            b"<< /Title %s /Author %s /Creator %s /Producer (PT Bookings) /CreationDate %s >>"
            % (
                _info_string(self.title),
                _info_string(self.author),
                _info_string(self.creator),
                _pdf_date(self.creation_date),
            )
        )
        fonts = b" ".join(
            b"/%s %d 0 R" % (font.resource.encode(), 3 + i) for i, font in enumerate(_FONTS)
        )
        media_box = b"[0 0 %s %s]" % (_number(PAGE_WIDTH).encode(), _number(PAGE_HEIGHT).encode())
        for number, page in zip(page_numbers, pages, strict=True):
            objects.append(
                b"<< /Type /Page /Parent 2 0 R /MediaBox %s /Resources << /Font << %s >> >>"
                b" /Contents %d 0 R >>" % (media_box, fonts, number + 1)
            )
            stream = zlib.compress(page.content(), 9)
            objects.append(
                b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream"
                % (len(stream), stream)
            )

        # The comment's high bytes tell transfer tools the file is binary (PDF 1.4, 3.4.1).
        out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        offsets: list[int] = []
        for number, body in enumerate(objects, start=1):
            offsets.append(len(out))
            out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
        xref_at = len(out)
        # Each entry is exactly 20 bytes, its end of line two: "SP LF" (PDF 1.4, 3.4.3).
        out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
        out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
        # The file identifier is derived from the content, so it stays deterministic.
        file_id = hashlib.md5(bytes(out), usedforsecurity=False).hexdigest().upper().encode()
        out += (
            b"trailer\n<< /Size %d /Root 1 0 R /Info 5 0 R /ID [<%s> <%s>] >>\n"
            b"startxref\n%d\n%%%%EOF\n" % (len(objects) + 1, file_id, file_id, xref_at)
        )
        return bytes(out)

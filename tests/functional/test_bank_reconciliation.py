"""Payments → Bank statement through the app (issue 16 item 4): an invoice's reference, the
upload (a real multipart body), the review, the confirm, and every bad input: a clear
message with the mapping kept, or a 4xx, and nothing written."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest

from chalicelib import runtime
from chalicelib.domain.bank_statements import payment_reference
from tests.functional.conftest import Browser, Page
from tests.functional.test_locations_and_template import add_location
from tests.functional.test_messages import send, set_payment_details
from tests.functional.test_schedule_pages import add_client, allocate, new_slot, slots_on
from tests.support.table import table_items, unchanged

PAGE = "/dashboard/payments/bank"
BOUNDARY = "----pt-bookings-test-boundary"
REVIEW = re.compile(r'name="review" value="([^"]+)"')


def upload(
    browser: Browser,
    content: bytes | None,
    *,
    filename: str = "statement.csv",
    csrf: str | None = None,
    **fields: str,
) -> Page:
    """POST the upload form as a browser would: multipart, the file as its bytes."""
    token = csrf if csrf is not None else browser.get(PAGE).csrf()
    parts: list[bytes] = []
    for name, value in {"csrf_token": token, "preset": "starling", **fields}.items():
        parts.append(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value.encode()
            + b"\r\n"
        )
    if content is not None:
        parts.append(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="statement"; '
            f'filename="{filename}"\r\nContent-Type: text/csv\r\n\r\n'.encode()
            + content
            + b"\r\n"
        )
    else:  # no file chosen: browsers still send the part, empty and unnamed
        parts.append(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="statement"; '
            'filename=""\r\nContent-Type: application/octet-stream\r\n\r\n\r\n'.encode()
        )
    body = b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()
    headers = {
        "host": "testserver",
        "cookie": "; ".join(f"{k}={v}" for k, v in browser.cookies.items()),
        "content-type": f"multipart/form-data; boundary={BOUNDARY}",
    }
    response = browser.client.http.request("POST", PAGE, headers=headers, body=body)
    lower = {k.lower(): v for k, v in response.headers.items()}
    return Page(response.status_code, lower, response.body.decode())


def starling(*lines: tuple[str, str, str], currency: str = "GBP") -> bytes:
    """A Starling export: (date, reference, amount) per line."""
    rows = [
        f"Date,Counter Party,Reference,Type,Amount ({currency}),Balance ({currency}),"
        "Spending Category,Notes"
    ]
    rows += [f"{d},PRIYA SHAH,{r},FASTER PAYMENT,{a},1000.00,INCOME," for d, r, a in lines]
    return ("\n".join(rows) + "\n").encode()


def _tid(browser: Browser) -> str:
    return browser.cookies["pt_session"].split(".")[0]


@pytest.fixture
def invoiced(trainer: Browser, clock: Any) -> tuple[str, str]:
    set_payment_details(trainer)
    studio = add_location(trainer, "Studio")
    client = add_client(trainer, "Priya Shah")
    new_slot(trainer, "2026-11-26", "09:00", "10:00", studio)
    ((week, slot_id),) = slots_on(trainer, "2026-W48")
    url = allocate(trainer, week, slot_id, client).location.split("?")[0]
    assert send(trainer, url, "invoice").status == 303
    return url, payment_reference(_tid(trainer), url.split(".")[-1])


def test_the_invoice_names_its_reference_and_claims_it(
    trainer: Browser, invoiced: tuple[str, str]
) -> None:
    url, reference = invoiced
    assert re.fullmatch(r"PT-[A-HJ-KM-NP-TV-Z2-9]{6}", reference)
    assert f"Reference: {reference}" in trainer.get("/dashboard/whatsapp/all").body
    claims = [i for i in table_items(runtime.repository()) if i.get("type") == "payment-reference"]
    assert [(c["reference"], c["session_id"]) for c in claims] == [(reference, url.split(".")[-1])]
    # A resend names the same reference and claims nothing new.
    assert send(trainer, url, "invoice").status == 303
    again = [i for i in table_items(runtime.repository()) if i.get("type") == "payment-reference"]
    assert again == claims


def test_the_whole_flow_proposes_confirms_and_marks_once(
    trainer: Browser, invoiced: tuple[str, str]
) -> None:
    url, reference = invoiced
    page = trainer.get(PAGE)
    assert page.status == 200
    for label in ('for="statement"', "<legend>Your bank</legend>", 'for="date_column"'):
        assert label in page.body
    statement = starling(
        ("26/11/2026", f"Ref {reference}", "40.00"),
        ("26/11/2026", reference.lower().replace("-", " "), "35.00"),
        ("27/11/2026", "PT-AAAAAA", "40.00"),
        ("27/11/2026", "Rent", "500.00"),
        ("28/11/2026", "Tesco", "-12.50"),
    )
    review = upload(trainer, statement)
    assert review.status == 200, review.body
    assert review.db_calls == 3  # the session, the references with the lines, their sessions
    body = unescape(review.body)
    assert "Proposed: 1" in body and "£40.00 on 26 Nov 2026" in body
    assert "pays Priya Shah's session Thursday 26 Nov 09:00–10:00 2026" in body
    assert "£35.00 paid; the invoice is for £40.00" in body
    assert "PT-AAAAAA: not one of your invoices' references." in body
    assert "Not matched: 2" in body and "1 payment out was left alone." in body
    payload = REVIEW.search(review.body)
    assert payload
    done = trainer.post(f"{PAGE}/confirm", {"review": unescape(payload.group(1)), "line": "2"})
    assert done.status == 200, done.body
    assert done.db_calls == 3  # the session, the sessions named, one transaction
    assert "1 session marked paid by bank transfer." in done.body
    session_page = unescape(trainer.get(url).body)
    assert "Marked paid (bank transfer): statement line 2 of 26 Nov 2026" in session_page

    # The same statement again proposes nothing; the same confirm again marks nothing.
    before = table_items(runtime.repository())
    repeat = upload(trainer, statement)
    assert "Proposed: 0" in repeat.body
    assert "This line was confirmed before" in unescape(repeat.body)
    replay = trainer.post(f"{PAGE}/confirm", {"review": unescape(payload.group(1)), "line": "2"})
    assert replay.status == 200 and "0 sessions marked paid" in replay.body
    assert "The session changed since the upload" in unescape(replay.body)
    assert table_items(runtime.repository()) == before


def test_names_are_escaped_on_the_review(trainer: Browser, clock: Any) -> None:
    set_payment_details(trainer)
    studio = add_location(trainer, "Studio")
    client = add_client(trainer, "<b>Bo</b> Smith")
    new_slot(trainer, "2026-11-26", "09:00", "10:00", studio)
    ((week, slot_id),) = slots_on(trainer, "2026-W48")
    url = allocate(trainer, week, slot_id, client).location.split("?")[0]
    assert send(trainer, url, "invoice").status == 303
    reference = payment_reference(_tid(trainer), url.split(".")[-1])
    review = upload(trainer, starling(("26/11/2026", f"<i>x</i> {reference}", "40.00")))
    assert "&lt;b&gt;Bo&lt;/b&gt; Smith" in review.body and "<b>Bo</b>" not in review.body
    assert "&lt;i&gt;x&lt;/i&gt;" in review.body


@pytest.mark.parametrize(
    ("content", "fields", "field", "words"),
    [
        (
            "Date,Amount\n26/11/2026,40.00\n".encode("utf-16"),
            {},
            "statement",
            "saved as UTF-16",
        ),
        (starling(("26/11/2026", "x", "40.00")), {"preset": "lloyds"}, "date_column", "no column"),
        (b"", {}, "statement", "The file is empty"),
        (b"%PDF-1.7\nbinary", {}, "statement", "This is a PDF"),
        (b"PK\x03\x04workbook", {}, "statement", "Excel workbook"),
        (
            starling(("26/11/2026", "x", "40.00"), currency="EUR"),
            {},
            "statement",
            "This statement is in EUR; your invoices are in GBP",
        ),
        (None, {}, "statement", "Choose the statement file"),
        (b"Date,Amount\n" + b"1" * 1_000_001, {}, "statement", "the most is 1 MB"),
        (
            b"Posted,Payee\n26/11/2026,x\n",
            {"preset": "custom", "date_column": "Posted", "reference_columns": "Payee"},
            "amount_column",
            "Name the amount column",
        ),
        (b"x", {"preset": "natwest"}, "preset", "Pick your bank from the list"),
    ],
)
def test_a_bad_upload_says_why_keeps_the_mapping_and_writes_nothing(
    trainer: Browser,
    invoiced: tuple[str, str],
    content: bytes | None,
    fields: dict[str, str],
    field: str,
    words: str,
) -> None:
    with unchanged(runtime.repository()):
        page = upload(trainer, content, **fields)
    assert page.status == 400, page.body[:400]
    assert f'id="{field}-error"' in page.body
    assert words in unescape(page.body)
    for name, value in fields.items():
        if name == "preset":
            if value in ("lloyds", "custom"):
                assert f'value="{value}" checked' in page.body
        else:
            assert f'value="{value}"' in page.body  # the mapping as typed


def test_a_line_in_another_currency_is_listed_not_read(
    trainer: Browser, invoiced: tuple[str, str]
) -> None:
    _, reference = invoiced
    header = (
        "Transaction ID,Date,Time,Type,Name,Emoji,Category,Amount,Currency,Local amount,"
        "Local currency,Notes and #tags,Address,Receipt,Description,Category split,"
        "Money Out,Money In\n"
    )
    row = (
        "tx_1,26/11/2026,10:00:00,Faster payment,Priya,,Income,40.00,EUR,40.00,EUR,,,,"
        f"{reference},,,40.00\n"
    )
    with unchanged(runtime.repository()):
        page = upload(trainer, (header + row).encode(), preset="monzo")
    assert page.status == 200
    assert "Line 2: This line is in EUR, not GBP." in page.body
    assert "Proposed: 0" in page.body


def test_latin_1_statements_are_read(trainer: Browser, invoiced: tuple[str, str]) -> None:
    _, reference = invoiced
    nationwide = (
        '"Account Name:","FlexAccount"\n\n'
        '"Date","Transaction type","Description","Paid out","Paid in","Balance"\n'
        f'"26 Nov 2026","Transfer from","PRIYA SHAH {reference}","","£40.00","£1,040.00"\n'
    ).encode("cp1252")
    page = upload(trainer, nationwide, preset="nationwide")
    assert page.status == 200 and "Proposed: 1" in page.body


def test_a_tampered_or_foreign_review_is_refused(
    trainer: Browser, other_trainer: Browser, invoiced: tuple[str, str]
) -> None:
    _, reference = invoiced
    review = upload(trainer, starling(("26/11/2026", reference, "40.00")))
    payload = REVIEW.search(review.body)
    assert payload
    good = unescape(payload.group(1))
    body, mac = good.split(".")
    tampered = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + mac
    with unchanged(runtime.repository()):
        for bad in (tampered, "nonsense", ""):
            refused = trainer.post(f"{PAGE}/confirm", {"review": bad, "line": "2"})
            assert refused.status == 400
            assert "This review could not be read" in refused.body
        # Another trainer cannot replay it on their own account.
        foreign = other_trainer.post(f"{PAGE}/confirm", {"review": good, "line": "2"})
        assert foreign.status == 400 and "This review could not be read" in foreign.body
        # A line that is not in the review is refused the same way.
        extra = trainer.post(f"{PAGE}/confirm", {"review": good, "line": "99"})
        assert extra.status == 400
        nothing = trainer.post(f"{PAGE}/confirm", {"review": good})
        assert nothing.status == 400 and "Tick at least one line to confirm." in nothing.body
        assert "Proposed: 1" in nothing.body  # drawn again from the payload
        garbled = trainer.post(f"{PAGE}/confirm", {"review": good, "line": "two"})
        assert garbled.status == 400


def test_an_upload_without_its_csrf_token_is_refused(
    trainer: Browser, invoiced: tuple[str, str]
) -> None:
    with unchanged(runtime.repository()):
        page = upload(trainer, starling(("26/11/2026", "x", "40.00")), csrf="forged")
    assert page.status == 403


def test_the_upload_page_needs_a_signed_in_trainer(browser: Browser, aws: None) -> None:
    assert browser.get(PAGE).status in (302, 303)

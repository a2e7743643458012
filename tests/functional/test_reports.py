"""Reports (issue 16 item 5) through the pages: the month's revenue in the chart and the
table agree, utilisation by week, bad ranges refused with the range kept, the CSV export,
and the page's reads bounded by the range, not by the account's history.

The clock is Monday 23 Nov 2026 09:00 UTC (GMT).
"""

from __future__ import annotations

import csv
import html
import io
import re

import pytest

from tests.functional.conftest import Browser
from tests.functional.test_clients_pages import add_client
from tests.functional.test_locations_and_template import add_location
from tests.functional.test_schedule_pages import allocate, new_slot, slots_on

ROW = re.compile(r'<tr><th scope="row">([^<]+)</th>(.*?)</tr>')
CELL = re.compile(r"<td>([^<]*)</td>")


def month_rows(body: str) -> dict[str, list[str]]:
    table = body.split('<caption class="visually-hidden">Revenue and sessions by month</caption>')[
        1
    ]
    table = table.split("</tbody>")[0]
    return {label: CELL.findall(cells) for label, cells in ROW.findall(table)}


@pytest.fixture
def booked(trainer: Browser, clock) -> dict[str, str]:
    """Thursday 26 Nov: Priya 09:00 (paid cash), Sam 10:00 (unpaid), an open 11:00 and a
    canceled 12:00; Tuesday 1 Dec: Sam 09:00 (paid by card)."""
    studio = add_location(trainer, "Studio")
    priya = add_client(trainer, "Priya Shah")
    sam = add_client(trainer, "=Sam Lee")  # a formula in a name stays text in the CSV
    for day, start, end in (
        ("2026-11-26", "09:00", "10:00"),
        ("2026-11-26", "10:00", "11:00"),
        ("2026-11-26", "11:00", "12:00"),
        ("2026-11-26", "12:00", "13:00"),
        ("2026-12-01", "09:00", "10:00"),
    ):
        assert new_slot(trainer, day, start, end, studio).status == 303

    def slot_at(week: str, times: str) -> str:
        for week_key, slot_id in slots_on(trainer, week):
            page = trainer.get(f"/dashboard/schedule/{week_key}/slots/{slot_id}").body
            if times in page:
                return slot_id
        raise AssertionError(times)

    def book(week: str, times: str, client: str) -> str:
        page = allocate(trainer, week, slot_at(week, times), client)
        assert page.status == 303, page.body
        return page.location.split("?")[0]

    def pay(session: str, how: str) -> None:
        version = re.search(r'name="version" value="(\d+)"', trainer.get(session).body)
        assert version
        done = trainer.post(
            session,
            {"action": "payment", "paid": "yes", "payment_type": how, "version": version.group(1)},
        )
        assert done.status == 303, done.body

    pay(book("2026-W48", "Thursday 26 Nov 09:00–10:00", priya), "cash")
    book("2026-W48", "Thursday 26 Nov 10:00–11:00", sam)
    canceled = book("2026-W48", "Thursday 26 Nov 12:00–13:00", priya)
    assert trainer.post(canceled, {"action": "cancel", "version": "1"}).status == 303
    pay(book("2026-W49", "Tuesday 1 Dec 09:00–10:00", sam), "card")
    return {"priya": priya, "sam": sam}


def test_the_month_s_revenue_in_the_chart_and_the_table_agree(
    trainer: Browser, booked: dict[str, str]
) -> None:
    page = trainer.get("/dashboard/reports?from=2026-11&to=2026-11")
    assert page.status == 200
    body = html.unescape(page.body)
    rows = month_rows(body)
    # Paid, then the types with money in the range (cash), unpaid, sessions, canceled.
    assert rows["Nov 2026"] == ["£45.00", "£45.00", "£45.00", "2", "1", "0", "0"]
    # The chart draws the same month: one cash bar and one unpaid bar of equal height.
    cash = re.findall(
        r'class="bar bar-cash" x="[\d.]+" y="[\d.]+" width="[\d.]+" height="([\d.]+)"', body
    )
    unpaid = re.findall(
        r'class="bar bar-unpaid" x="[\d.]+" y="[\d.]+" width="[\d.]+" height="([\d.]+)"', body
    )
    assert len(cash) == len(unpaid) == 1 and cash == unpaid
    assert "bar-card" not in body.split("<svg")[1].split("</svg>")[0]  # none in November
    assert 'role="img"' in body and "The table below has the same figures." in body


def test_the_default_report_is_the_last_twelve_months_with_totals(
    trainer: Browser, booked: dict[str, str]
) -> None:
    body = html.unescape(trainer.get("/dashboard/reports").body)
    rows = month_rows(body)
    labels = list(rows)
    assert (labels[0], labels[-1]) == ("Dec 2025", "Nov 2026")
    assert len(rows) == 12
    assert 'value="2025-12"' in body and 'value="2026-11"' in body


def test_utilisation_counts_booked_hours_out_of_the_hours_on_the_schedule(
    trainer: Browser, booked: dict[str, str]
) -> None:
    body = html.unescape(trainer.get("/dashboard/reports?from=2026-11&to=2026-11").body)
    weeks = body.split("Utilisation by week</caption>")[1].split("</tbody>")[0]
    found = {label: CELL.findall(cells) for label, cells in ROW.findall(weeks)}
    # W48: 2 booked hours of 4 on the schedule (the canceled slot is open again).
    assert found["23 Nov"] == ["2 h", "4 h", "50 %"]
    assert found["16 Nov"] == ["0 h", "0 h", "–"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=2026-11&to=2027-01", "A report covers months gone by: end it at Nov 2026"),
        ("from=2006-01&to=2026-11", "Pick at most 5 years (60 months)."),
        ("from=2026-11&to=2026-01", "The last month must come after the first."),
        ("from=November&to=2026-11", "“November” is not a month. Use the form 2026-11."),
    ],
)
def test_a_range_in_the_future_backwards_too_long_or_garbled_is_refused_kept(
    trainer: Browser, clock, query: str, message: str
) -> None:
    page = trainer.get(f"/dashboard/reports?{query}")
    assert page.status == 400
    body = html.unescape(page.body)
    assert message in body
    typed_from = query.split("&")[0].split("=")[1]
    assert f'value="{typed_from}"' in body  # the range as typed stays in the form
    export = trainer.get(f"/dashboard/reports/sessions.csv?{query}")
    assert export.status == 400 and message in export.body


def test_the_csv_export_lists_the_range_s_sessions_in_every_status(
    trainer: Browser, booked: dict[str, str]
) -> None:
    page = trainer.get("/dashboard/reports/sessions.csv?from=2026-11&to=2026-11")
    assert page.status == 200
    assert page.headers["content-type"].startswith("text/csv")
    assert 'filename="sessions-2026-11-to-2026-11.csv"' in page.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(page.body)))
    assert [(r["date"], r["start"], r["status"], r["paid"], r["payment_type"]) for r in rows] == [
        ("2026-11-26", "09:00", "booked", "yes", "cash"),
        ("2026-11-26", "10:00", "booked", "no", ""),
        ("2026-11-26", "12:00", "canceled", "no", ""),
    ]  # not Tuesday 1 Dec: outside the range
    assert rows[1]["client"] == "'=Sam Lee" and rows[0]["price"] == "45.00"


def test_the_page_reads_two_queries_of_counters_whatever_the_range(
    trainer: Browser, booked: dict[str, str]
) -> None:
    page = trainer.get("/dashboard/reports?from=2026-11&to=2026-11")
    # the session, the month items, the week items, the running pack totals
    assert page.db_calls == 4
    five_years = trainer.get("/dashboard/reports?from=2021-12&to=2026-11")
    assert five_years.status == 200 and five_years.db_calls == 4
    assert len(month_rows(five_years.body)) == 60

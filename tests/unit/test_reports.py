"""Report ranges and chart geometry (domain/reports.py)."""

from __future__ import annotations

from datetime import date

import pytest

from chalicelib.domain import figures
from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.reports import month_rows, parse_range, stacked_bars

TODAY = date(2026, 11, 23)


def test_a_blank_range_is_the_twelve_months_up_to_this_one() -> None:
    chosen = parse_range("", "", TODAY)
    assert (chosen.first, chosen.last) == (date(2025, 12, 1), date(2026, 11, 1))
    assert len(chosen.months) == 12 and chosen.end == date(2026, 12, 1)


@pytest.mark.parametrize(
    ("first", "last", "field"),
    [("2026-12", "2026-12", "to_month"), ("2021-11", "2026-11", "from_month"),
     ("2026-13", "2026-11", "from_month"), ("2026-11", "2026-10", "to_month")],
)  # fmt: skip
def test_ranges_in_the_future_over_five_years_garbled_or_backwards_are_refused(
    first: str, last: str, field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_range(first, last, TODAY)
    assert field in refused.value.errors


def test_five_years_exactly_is_allowed() -> None:
    assert len(parse_range("2021-12", "2026-11", TODAY).months) == 60


def test_bars_stack_in_proportion_to_the_figures_under_a_round_top() -> None:
    chosen = parse_range("2026-10", "2026-11", TODAY)
    kept = {
        "M#2026-10": {figures.paid_field("cash"): 3000, figures.UNPAID: 1000},
        "M#2026-11": {figures.paid_field("card"): 8000},
    }
    chart = stacked_bars(month_rows(chosen, kept), ("cash", "card", "unpaid"))
    assert chart.top == 10000  # 8,000 rounds up to 10,000: 1, 2 or 5 × 10ⁿ
    heights = {(b.kind, round(b.height)) for b in chart.bars}
    plot = chart.height - 34
    assert heights == {
        ("cash", round(plot * 0.3)),
        ("unpaid", round(plot * 0.1)),
        ("card", round(plot * 0.8)),
    }
    cash = next(b for b in chart.bars if b.kind == "cash")
    unpaid = next(b for b in chart.bars if b.kind == "unpaid")
    assert unpaid.y + unpaid.height == pytest.approx(cash.y)  # stacked on top of it

"""The Reports page's rules: which months and weeks a report covers, the rows it shows
from the kept counters (domain/figures.py), and the bars of its charts.

Charts are drawn on the server as SVG from `bars`: no JavaScript, and the same numbers
are in the table beside them, which is what a screen reader reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

from chalicelib.domain import figures
from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.timeutil import week_key, week_monday

MAX_MONTHS: Final = 60  # five years: at most 60 month items read
DEFAULT_MONTHS: Final = 12
WEEKS_SHOWN: Final = 13  # the quarter up to the report's last month, for utilisation
_MONTH = re.compile(r"^([0-9]{4})-([0-9]{2})$")
MONTH_NAMES: Final = (
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
)  # fmt: skip


def _month(text: str, field: str) -> date:
    match = _MONTH.match((text or "").strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise InvalidInput({field: f"“{text}” is not a month. Use the form 2026-11."})
    return date(int(match.group(1)), int(match.group(2)), 1)


def add_months(first: date, months: int) -> date:
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def months_between(first: date, last: date) -> int:
    return (last.year - first.year) * 12 + last.month - first.month + 1


@dataclass(frozen=True)
class ReportRange:
    first: date  # the first day of the first month
    last: date  # the first day of the last month

    @property
    def months(self) -> list[date]:
        return [add_months(self.first, i) for i in range(months_between(self.first, self.last))]

    @property
    def end(self) -> date:
        """The day after the range: where the export's window stops."""
        return add_months(self.last, 1)

    def weeks(self, today: date) -> list[str]:
        """The weeks shown for utilisation: the last WEEKS_SHOWN up to the range's end,
        or up to four weeks from today when the range ends this month (booked ahead)."""
        last_day = min(self.end - timedelta(days=1), today + timedelta(weeks=4))
        monday = week_monday(week_key(last_day))
        return [week_key(monday - timedelta(weeks=i)) for i in reversed(range(WEEKS_SHOWN))]


def parse_range(first_text: str, last_text: str, today: date) -> ReportRange:
    """The months asked for ("2026-01" to "2026-12"); blank: the twelve months up to this
    one. A range ending after this month, backwards, or over five years is refused."""
    this_month = today.replace(day=1)
    if not first_text and not last_text:
        return ReportRange(add_months(this_month, 1 - DEFAULT_MONTHS), this_month)
    errors: dict[str, str] = {}
    first = last = this_month
    try:
        first = _month(first_text, "from_month")
    except InvalidInput as exc:
        errors.update(exc.errors)
    try:
        last = _month(last_text or first_text, "to_month")
    except InvalidInput as exc:
        errors.update(exc.errors)
    if not errors:
        if last > this_month:
            errors["to_month"] = (
                f"A report covers months gone by: end it at {MONTH_NAMES[today.month - 1]} "
                f"{today.year} at the latest."
            )
        elif last < first:
            errors["to_month"] = "The last month must come after the first."
        elif months_between(first, last) > MAX_MONTHS:
            errors["from_month"] = f"Pick at most {MAX_MONTHS // 12} years ({MAX_MONTHS} months)."
    if errors:
        raise InvalidInput(errors)
    return ReportRange(first, last)


@dataclass(frozen=True)
class PeriodRow:
    """One month or week of the report, from its kept counters."""

    key: str  # the period's item key, e.g. M#2026-11
    label: str  # "Nov 2026", or the week's Monday: "23 Nov"
    paid: dict[str, int]  # payment type -> minor units (an unknown type counts as "other")
    unpaid: int
    sessions: int
    minutes: int
    offered: int
    canceled: int
    voided: int
    no_shows: int = 0
    late_cancels: int = 0
    packs_sold: int = 0
    packs_value: int = 0

    @property
    def short(self) -> str:
        """The chart's label: "Nov" for a month (the table says the year), "23 Nov" for a
        week."""
        return self.label.split(" ")[0] if self.key.startswith(figures.MONTH_PERIOD) else self.label

    @property
    def paid_total(self) -> int:
        return sum(self.paid.values())

    @property
    def utilisation(self) -> int | None:
        """Booked minutes as a percentage of the minutes on the schedule (None: no slot)."""
        return round(100 * self.minutes / self.offered) if self.offered else None


PAID_TYPES: Final = figures.PAID_WAYS


def row(key: str, label: str, counts: dict[str, int]) -> PeriodRow:
    return PeriodRow(
        key=key,
        label=label,
        paid={t: counts.get(figures.PAID_PREFIX + t, 0) for t in PAID_TYPES},
        unpaid=counts.get(figures.UNPAID, 0),
        sessions=counts.get(figures.SESSIONS, 0),
        minutes=counts.get(figures.MINUTES, 0),
        offered=counts.get(figures.OFFERED, 0),
        canceled=counts.get(figures.CANCELED, 0),
        voided=counts.get(figures.VOIDED, 0),
        no_shows=counts.get(figures.NO_SHOWS, 0),
        late_cancels=counts.get(figures.LATE_CANCELS, 0),
        packs_sold=counts.get(figures.PACKS_SOLD, 0),
        packs_value=counts.get(figures.PACKS_VALUE, 0),
    )


def month_rows(chosen: ReportRange, kept: figures.Deltas) -> list[PeriodRow]:
    return [
        row(
            key := figures.MONTH_PERIOD + figures.month_key(month),
            f"{MONTH_NAMES[month.month - 1]} {month.year}",
            kept.get(key, {}),
        )
        for month in chosen.months
    ]


def week_rows(weeks: list[str], kept: figures.Deltas) -> list[PeriodRow]:
    out = []
    for week in weeks:
        monday = week_monday(week)
        key = figures.WEEK_PERIOD + week
        out.append(row(key, f"{monday.day} {MONTH_NAMES[monday.month - 1]}", kept.get(key, {})))
    return out


@dataclass(frozen=True)
class Bar:
    """One rectangle of a chart, in the SVG's own units (0,0 top left)."""

    x: float
    y: float
    width: float
    height: float
    kind: str  # which series: a payment type, "unpaid", "utilisation"


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: list[Bar]
    labels: list[tuple[float, str, str]]  # each label's x, text and text-anchor
    top: int  # the value the chart's full height stands for


CHART_WIDTH: Final = 640
CHART_HEIGHT: Final = 220
_LABEL_ROOM: Final = 34
MAX_LABELS: Final = 6  # more would not fit a phone's width at a readable size


def _labels(rows: list[PeriodRow], slot: float) -> list[tuple[float, str, str]]:
    """(x, text, text-anchor): the first label starts at its bar's left edge, so a long
    one ("5 Oct") is not cut by the chart's edge; the others are centred."""
    step = -(-len(rows) // MAX_LABELS)
    return [
        (round(i * slot + slot * 0.15, 1), r.short, "start")
        if i == 0
        else (round(i * slot + slot / 2, 1), r.short, "middle")
        for i, r in enumerate(rows)
        if i % step == 0
    ]


def _nice_top(value: int) -> int:
    """The smallest 1, 2 or 5 × 10ⁿ at least `value`, so the scale reads well."""
    power = 1
    while True:
        for step in (1, 2, 5):
            if power * step >= value:
                return power * step
        power *= 10


def stacked_bars(rows: list[PeriodRow], series: tuple[str, ...]) -> Chart:
    """Revenue per period: paid by payment type, then unpaid, stacked."""

    def value(r: PeriodRow, kind: str) -> int:
        return r.unpaid if kind == "unpaid" else r.paid.get(kind, 0)

    top = _nice_top(max([sum(value(r, k) for k in series) for r in rows] + [1]))
    slot = CHART_WIDTH / max(len(rows), 1)
    plot = CHART_HEIGHT - _LABEL_ROOM
    bars = []
    for i, r in enumerate(rows):
        x, y = i * slot + slot * 0.15, float(plot)
        for kind in series:
            height = plot * value(r, kind) / top
            if height > 0:
                y -= height
                width = round(slot * 0.7, 1)
                bars.append(Bar(round(x, 1), round(y, 1), width, round(height, 1), kind))
    return Chart(CHART_WIDTH, CHART_HEIGHT, bars, _labels(rows, slot), top)


def utilisation_bars(rows: list[PeriodRow]) -> Chart:
    slot = CHART_WIDTH / max(len(rows), 1)
    plot = CHART_HEIGHT - _LABEL_ROOM
    bars = []
    for i, r in enumerate(rows):
        share = min(r.utilisation or 0, 100)
        height = plot * share / 100
        if height > 0:
            bars.append(
                Bar(
                    round(i * slot + slot * 0.15, 1),
                    round(plot - height, 1),
                    round(slot * 0.7, 1),
                    round(height, 1),
                    "utilisation",
                )
            )
    return Chart(CHART_WIDTH, CHART_HEIGHT, bars, _labels(rows, slot), 100)

"""The Reports page and its CSV export (issue 16 item 5).

The page reads the kept counters only: one Query of the month items of the range (at
most 60) and one of the week items shown for utilisation; the history is never read.
The export reads the sessions of the range asked for, and nothing outside it.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from chalicelib.domain import figures
from chalicelib.domain.commands import Command
from chalicelib.domain.models import Trainer
from chalicelib.domain.reports import (
    PAID_TYPES,
    Chart,
    PeriodRow,
    ReportRange,
    month_rows,
    parse_range,
    stacked_bars,
    utilisation_bars,
    week_rows,
)
from chalicelib.domain.schedule import PACK_PAYMENT, PAYMENT_TYPES, Session
from chalicelib.domain.settings import format_money
from chalicelib.domain.timeutil import local_today, to_utc
from chalicelib.services.deps import Deps

SERIES = (*PAID_TYPES, "unpaid")
SERIES_LABELS = {**PAYMENT_TYPES, PACK_PAYMENT: "Pack", "unpaid": "Unpaid"}


class ReportQuery(Command):
    """The range form (GET): months as `<input type="month">` sends them, 2026-11."""

    from_month: str = ""
    to_month: str = ""


@dataclass(frozen=True)
class ReportsPage:
    chosen: ReportRange
    months: list[PeriodRow]
    weeks: list[PeriodRow]
    revenue: Chart
    utilisation: Chart
    totals: PeriodRow  # the whole range
    currency: str
    locale: str
    series: tuple[str, ...]  # the revenue chart's series with something in them
    pack_places: int = 0  # every place sold in a pack, ever
    pack_used: int = 0  # of those, used (taken place, charged, or the pack completed)

    @property
    def pack_left(self) -> int:
        return max(self.pack_places - self.pack_used, 0)

    def money(self, minor: int) -> str:
        return format_money(minor, self.currency, self.locale)

    @property
    def from_month(self) -> str:
        return f"{self.chosen.first:%Y-%m}"

    @property
    def to_month(self) -> str:
        return f"{self.chosen.last:%Y-%m}"


def _total(rows: list[PeriodRow]) -> PeriodRow:
    return PeriodRow(
        key="total",
        label="Total",
        paid={t: sum(r.paid[t] for r in rows) for t in PAID_TYPES},
        unpaid=sum(r.unpaid for r in rows),
        sessions=sum(r.sessions for r in rows),
        minutes=sum(r.minutes for r in rows),
        offered=sum(r.offered for r in rows),
        canceled=sum(r.canceled for r in rows),
        voided=sum(r.voided for r in rows),
        no_shows=sum(r.no_shows for r in rows),
        late_cancels=sum(r.late_cancels for r in rows),
        packs_sold=sum(r.packs_sold for r in rows),
        packs_value=sum(r.packs_value for r in rows),
    )


def reports_page(deps: Deps, trainer: Trainer, query: ReportQuery) -> ReportsPage:
    """Two Queries of the counters and one GetItem of the pack totals, whatever the
    account's age."""
    today = local_today(deps.now, trainer.settings.time_zone)
    chosen = parse_range(query.from_month, query.to_month, today)
    store = deps.repo.figures
    months = store.periods(
        trainer.id,
        figures.MONTH_PERIOD + figures.month_key(chosen.first),
        figures.MONTH_PERIOD + figures.month_key(chosen.last),
    )
    shown = chosen.weeks(today)
    weeks = store.periods(
        trainer.id, figures.WEEK_PERIOD + shown[0], figures.WEEK_PERIOD + shown[-1]
    )
    places, used_places = store.pack_totals(trainer.id)
    month_list = month_rows(chosen, months)
    week_list = week_rows(shown, weeks)
    used = tuple(
        kind
        for kind in SERIES
        if any((r.unpaid if kind == "unpaid" else r.paid.get(kind, 0)) for r in month_list)
    )
    return ReportsPage(
        chosen=chosen,
        months=month_list,
        weeks=week_list,
        revenue=stacked_bars(month_list, used),
        utilisation=utilisation_bars(week_list),
        totals=_total(month_list),
        currency=trainer.settings.currency,
        locale=trainer.settings.locale,
        series=used,
        pack_places=places,
        pack_used=used_places,
    )


# The CSV export --------------------------------------------------------------------------------
EXPORT_COLUMNS = (
    "date",
    "start",
    "end",
    "client",
    "location",
    "status",
    "price",
    "currency",
    "paid",
    "payment_type",
    "invoice_sent",
    "kind",
)


def _cell(value: str) -> str:
    # A spreadsheet runs a cell starting with = + - @ as a formula: a client named
    # "=HYPERLINK(…)" must stay text.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _amount(minor: int | None, trainer: Trainer) -> str:
    if minor is None:
        return ""
    from babel.numbers import get_currency_precision

    digits = get_currency_precision(trainer.settings.currency)
    return f"{minor / 10**digits:.{digits}f}"


def export_csv(deps: Deps, trainer: Trainer, query: ReportQuery) -> tuple[str, str]:
    """The range's sessions as CSV (any status: a cancel is a row too), and a file name."""
    today = local_today(deps.now, trainer.settings.time_zone)
    chosen = parse_range(query.from_month, query.to_month, today)
    zone = trainer.settings.time_zone
    since, until = to_utc(chosen.first, 0, zone), to_utc(chosen.end, 0, zone)
    found = deps.repo.figures.sessions_between(trainer.id, since, until)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    for session in found:
        writer.writerow(_export_row(trainer, session))
    name = f"sessions-{chosen.first:%Y-%m}-to-{chosen.last:%Y-%m}.csv"
    return out.getvalue(), name


def _export_row(trainer: Trainer, session: Session) -> list[str]:
    location = trainer.locations.get(session.location_id)
    return [
        session.day.isoformat(),
        f"{session.start // 60:02d}:{session.start % 60:02d}",
        f"{session.end // 60:02d}:{session.end % 60:02d}",
        _cell(session.client_name),
        _cell(location.name if location else ""),
        session.status,
        _amount(session.price_minor, trainer),
        trainer.settings.currency,
        "yes" if session.paid else "no",
        session.payment_type or "",
        session.invoice_sent_at.date().isoformat() if session.invoice_sent_at else "",
        session.kind,
    ]

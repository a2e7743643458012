"""Reports: revenue, unpaid, sessions and utilisation from the kept counters, and the
sessions of a range as CSV."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.domain.errors import InvalidInput
from chalicelib.services import reports
from chalicelib.services.auth import CurrentSession
from chalicelib.web import forms, request_state
from chalicelib.web.render import render
from chalicelib.web.views import trainer

bp = Blueprint(__name__)


def _query() -> reports.ReportQuery:
    state = request_state.current()
    return reports.ReportQuery(from_month=state.query("from"), to_month=state.query("to"))


@bp.route("/dashboard/reports", methods=["GET"])
@trainer
def reports_page(session: CurrentSession) -> Response:
    query = _query()
    try:
        page = reports.reports_page(request_state.deps(), session.trainer, query)
    except InvalidInput as exc:
        # The range as typed stays in the form; the default report shows under it.
        page = reports.reports_page(request_state.deps(), session.trainer, reports.ReportQuery())
        typed = {"from_month": query.from_month, "to_month": query.to_month}
        errors = forms.errors(reports.ReportQuery, exc)
        return render(
            "reports/reports.html",
            400,
            tab="reports",
            page=page,
            errors=errors,
            typed=typed,
            series_labels=reports.SERIES_LABELS,
        )
    return render(
        "reports/reports.html",
        tab="reports",
        page=page,
        typed={},
        series_labels=reports.SERIES_LABELS,
    )


@bp.route("/dashboard/reports/sessions.csv", methods=["GET"])
@trainer
def export_csv(session: CurrentSession) -> Response:
    try:
        body, name = reports.export_csv(request_state.deps(), session.trainer, _query())
    except InvalidInput as exc:
        return Response(
            body="\n".join(exc.errors.values()) + "\n",
            status_code=400,
            headers={"Content-Type": "text/plain; charset=utf-8"},
        )
    return Response(
        body=body,
        status_code=200,
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "private, no-store",
        },
    )

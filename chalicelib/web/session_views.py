"""Trainer session pages (payments and changes come with the Sessions issue)."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib import runtime
from chalicelib.services import schedule
from chalicelib.services.auth import CurrentSession
from chalicelib.web import request_state
from chalicelib.web.render import render
from chalicelib.web.views import trainer

bp = Blueprint(__name__)


@bp.route("/dashboard/sessions/{ref}", methods=["GET"])
@trainer
def session_page(session: CurrentSession, ref: str) -> Response:
    booking = schedule.find_session(runtime.repository(), session.trainer.id, ref)
    return render(
        "sessions/session.html",
        tab="sessions",
        booking=booking,
        location=session.trainer.locations.get(booking.location_id),
        saved=request_state.current().query("saved"),
    )

"""Trainer session page: details, payment, cancel (upcoming), void (past), change log."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib import runtime
from chalicelib.domain.errors import InvalidInput, VersionConflict
from chalicelib.domain.schedule import PAYMENT_TYPES, LogEntry, Session
from chalicelib.services import sessions
from chalicelib.services.auth import CurrentSession
from chalicelib.web import request_state
from chalicelib.web.render import redirect, render
from chalicelib.web.views import FORM, trainer

bp = Blueprint(__name__)


def _page(
    session: CurrentSession,
    booking: Session,
    log: list[LogEntry],
    status: int = 200,
    **context: object,
) -> Response:
    return render(
        "sessions/session.html",
        status=status,
        tab="sessions",
        booking=booking,
        log=log,
        past=booking.is_past(runtime.now()),
        payment_types=PAYMENT_TYPES,
        location=session.trainer.locations.get(booking.location_id),
        saved=request_state.current().query("saved"),
        **context,
    )


@bp.route("/dashboard/sessions", methods=["GET"])
@trainer
def session_list(session: CurrentSession) -> Response:
    state = request_state.current()
    which = "past" if state.query("list") == "past" else "upcoming"
    page = sessions.list_sessions(
        runtime.repository(), session.trainer.id, which, state.query("after"), runtime.now()
    )
    return render(
        "sessions/list.html",
        tab="sessions",
        which=which,
        page=page,
        first_page=not state.query("after"),
        payment_types=PAYMENT_TYPES,
        places={lid: loc.name for lid, loc in session.trainer.locations.items()},
    )


@bp.route("/dashboard/sessions/{ref}", methods=["GET"])
@trainer
def session_page(session: CurrentSession, ref: str) -> Response:
    booking, log = sessions.open_session(runtime.repository(), session.trainer.id, ref)
    return _page(session, booking, log)


@bp.route("/dashboard/sessions/{ref}", methods=["POST"], content_types=FORM)
@trainer
def session_change(session: CurrentSession, ref: str) -> Response:
    form = request_state.current().form()
    repo, tid, now = runtime.repository(), session.trainer.id, runtime.now()
    booking = sessions.find_session(repo, tid, ref)  # the log is read only to show errors
    action = form.get("action", "")
    try:
        if action == "payment":
            sessions.set_payment(repo, tid, booking, form, now)
        elif action == "cancel":
            sessions.cancel(repo, tid, booking, form.get("version"), now)
        elif action == "void":
            sessions.void(repo, tid, booking, form.get("version"), now)
        else:
            raise InvalidInput({"_form": "Unknown action."})
    except InvalidInput as exc:
        return _page(session, *sessions.open_session(repo, tid, ref), 400, errors=exc.errors)
    except VersionConflict as exc:
        shown = sessions.open_session(repo, tid, ref)
        return _page(session, *shown, 409, errors={"_form": exc.user_message})
    return redirect(f"/dashboard/sessions/{ref}", saved=action)

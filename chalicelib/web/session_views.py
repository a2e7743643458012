"""Trainer session page: details, payment, invoice, confirmation, cancel, change on the
schedule (upcoming), void (past), and the change log with the session's messages."""

from __future__ import annotations

from collections.abc import Callable

from chalice import Blueprint, Response

from chalicelib.domain.clients import Client
from chalicelib.domain.errors import Conflict, InvalidInput, VersionConflict
from chalicelib.domain.messages import LinkRef
from chalicelib.domain.schedule import Session
from chalicelib.services import documents, session_actions, sessions
from chalicelib.services.auth import CurrentSession
from chalicelib.services.session_actions import SessionAction
from chalicelib.web import forms, request_state
from chalicelib.web.middleware import csp_connecting_to
from chalicelib.web.render import redirect, render
from chalicelib.web.views import FORM, trainer

bp = Blueprint(__name__)

SAVED = {
    "payment": "Payment saved.",
    "cancel": "Session canceled: the slot is open again.",
    "cancel_told": "Session canceled: the slot is open again, and the client's message is "
    "in the WhatsApp tab.",
    "void": "Session voided.",
    "no_show": "Marked no-show: the fee, if any, is added to what the client owes.",
    "invoice": "Invoice queued: it is in the WhatsApp tab and below.",
    "confirm": "Confirmation queued: it is in the WhatsApp tab and below.",
    "already": "That was already queued: nothing was sent twice.",
    "change_stop": "Change abandoned: the session stays where it was.",
    "moved": "Session moved. The old slot is open again.",
    "document_added": "Document added: the client opens it from their session page.",
    "document_removed": "Document removed from this session.",
}


def _page(
    session: CurrentSession,
    ref: str,
    status: int = 200,
    *,
    confirming: str = "",
    errors: dict[str, str] | None = None,
) -> Response:
    deps = request_state.deps()
    page = sessions.session_page(deps, session.trainer, ref, confirming)
    response = render(
        "sessions/session.html",
        status=status,
        tab="sessions",
        page=page,
        saved=request_state.current().query("saved"),
        saved_messages=SAVED,
        errors=errors or {},
        uploads=deps.files.on,
    )
    if deps.files.on:  # its upload card's script posts files straight to the bucket
        response.headers["Content-Security-Policy"] = csp_connecting_to(deps.files.upload_origins())
    return response


@bp.route("/dashboard/sessions", methods=["GET"])
@trainer
def session_list(session: CurrentSession) -> Response:
    state = request_state.current()
    which: sessions.Which = "past" if state.query("list") == "past" else "upcoming"
    page = sessions.sessions_page(
        request_state.deps(), session.trainer, which, state.query("after")
    )
    return render("sessions/list.html", tab="sessions", page=page)


@bp.route("/dashboard/sessions/{ref}", methods=["GET"])
@trainer
def session_page(session: CurrentSession, ref: str) -> Response:
    # A destructive action is two steps that work without JavaScript: the button is a
    # link to this page with ?confirm=, which shows the real form.
    return _page(session, ref, confirming=request_state.current().query("confirm"))


def portal_url(trainer_id: str) -> Callable[[Client], LinkRef]:
    """Which portal link (/c/) a message carries: made again when it is sent or shown."""
    return sessions.portal_link_ref(request_state.current().base_url, trainer_id)


def session_url(trainer_id: str) -> Callable[[Client, Session], LinkRef]:
    """Which session link (/s/) a message carries: made again when it is sent or shown."""
    return sessions.session_link_ref(request_state.current().base_url, trainer_id)


@bp.route("/dashboard/sessions/{ref}/documents", methods=["POST"], content_types=FORM)
@trainer
def session_documents(session: CurrentSession, ref: str) -> Response:
    """A file added to this session (handed back by the upload card's script) or one of
    its documents removed."""
    deps = request_state.deps()
    try:
        command = forms.command(documents.SessionDocument, request_state.current().form())
        documents.change_session_documents(deps, session.trainer, ref, command)
    except InvalidInput as exc:
        return _page(session, ref, 400, errors=forms.errors(documents.SessionDocument, exc))
    except (VersionConflict, Conflict) as exc:
        return _page(session, ref, 409, errors={"_form": exc.user_message})
    saved = "document_added" if command.action == "add" else "document_removed"
    return redirect(f"/dashboard/sessions/{ref}", saved=saved)


@bp.route("/dashboard/sessions/{ref}", methods=["POST"], content_types=FORM)
@trainer
def session_change(session: CurrentSession, ref: str) -> Response:
    state = request_state.current()
    try:
        command = forms.command(SessionAction, state.form())
        done = session_actions.act(
            request_state.deps(), session.trainer, ref, command, lambda: state.base_url
        )
    except InvalidInput as exc:
        return _page(session, ref, 400, errors=forms.errors(SessionAction, exc))
    except (VersionConflict, Conflict) as exc:
        return _page(session, ref, 409, errors={"_form": exc.user_message})
    if command.goes_to_schedule:
        return redirect("/dashboard/schedule", week=done.session.week, move=done.session.ref)
    return redirect(f"/dashboard/sessions/{ref}", saved=done.saved)

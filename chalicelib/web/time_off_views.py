"""Settings → Time off: the periods, the add form, and the sessions already inside them.

Each page is one call to `services.time_off.time_off_page`; each form becomes its
command and one use case, and a refused one draws the page again with the input kept.
"""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib.domain.commands import Versioned
from chalicelib.domain.errors import Conflict, InvalidInput, NotFound, VersionConflict
from chalicelib.domain.time_off import AddTimeOff, RemoveTimeOff
from chalicelib.services import time_off
from chalicelib.services.auth import CurrentSession
from chalicelib.web import forms, request_state
from chalicelib.web.render import redirect, render
from chalicelib.web.views import FORM, trainer

bp = Blueprint(__name__)
PAGE = "/dashboard/settings/time-off"


class CancelInTimeOff(Versioned):
    """The one-click Cancel beside a session listed in a period: its ref and version."""

    session_ref: str = ""


def _page(
    session: CurrentSession, status: int = 200, *, prefill: str = "", **context: Any
) -> Response:
    state = request_state.current()
    page = time_off.time_off_page(request_state.deps(), session.trainer, prefill)
    return render(
        "settings/time_off.html",
        status=status,
        tab="settings",
        subtab="time-off",
        page=page,
        saved=state.query("saved"),
        cleared=state.query("slots"),
        **context,
    )


@bp.route(PAGE, methods=["GET"])
@trainer
def time_off_settings(session: CurrentSession) -> Response:
    return _page(session, prefill=request_state.current().query("day"))


@bp.route(PAGE, methods=["POST"], content_types=FORM)
@trainer
def time_off_add(session: CurrentSession) -> Response:
    form = request_state.current().form()
    try:
        command = forms.command(AddTimeOff, form)
        added = time_off.add(request_state.deps(), session.trainer, command)
    except InvalidInput as exc:
        return _page(session, 400, errors=forms.errors(AddTimeOff, exc), form=form)
    except VersionConflict as exc:
        return _page(session, 409, errors={"_form": exc.user_message}, form=form)
    return redirect(PAGE, saved="added", slots=str(added.slots_removed))


@bp.route(PAGE + "/remove", methods=["POST"], content_types=FORM)
@trainer
def time_off_remove(session: CurrentSession) -> Response:
    try:
        command = forms.command(RemoveTimeOff, request_state.current().form())
        time_off.remove(request_state.deps(), session.trainer, command)
    except NotFound:
        return _page(session, 409, errors={"_form": "That time off was already removed."})
    except VersionConflict as exc:
        return _page(session, 409, errors={"_form": exc.user_message})
    return redirect(PAGE, saved="removed")


@bp.route(PAGE + "/cancel", methods=["POST"], content_types=FORM)
@trainer
def time_off_cancel(session: CurrentSession) -> Response:
    try:
        command = forms.command(CancelInTimeOff, request_state.current().form())
        done = time_off.cancel_session(
            request_state.deps(), session.trainer, command.session_ref, command.version
        )
    except NotFound:
        return _page(session, 409, errors={"_form": "That session is not there any more."})
    except (VersionConflict, Conflict) as exc:
        return _page(session, 409, errors={"_form": exc.user_message})
    return redirect(PAGE, saved="canceled_told" if done.told else "canceled")

"""The Clients tab: list and search, add, profile (contact, locations, notes, archive).

Each page is one call to its page query in `services.clients`; each form is parsed into
its command and handed to one use case, and a refused one is shown again with its page
and the input as typed.
"""

from __future__ import annotations

from dataclasses import fields
from functools import partial
from typing import Any

from chalice import Blueprint, Response

from chalicelib.domain.clients import AddClient, SaveProfile
from chalicelib.domain.errors import Conflict, InvalidInput, VersionConflict
from chalicelib.domain.money import format_money
from chalicelib.domain.phone import format_phone
from chalicelib.messaging.whatsapp import wa_me_link
from chalicelib.services import clients
from chalicelib.services.auth import CurrentSession
from chalicelib.services.clients import (
    ClientAction,
    LinkCopied,
    PauseRecurring,
    ResumeSkip,
    SendPortalLink,
    SkipDate,
)
from chalicelib.web import forms, request_state
from chalicelib.web.render import redirect, render
from chalicelib.web.views import FORM, trainer

bp = Blueprint(__name__)

# The profile page's buttons other than Save profile (a form naming none saves).
CLIENT_ACTIONS = ("archive", "restore", "rotate")


def _shown(page: Any) -> dict[str, Any]:
    """A page query's view model (a dataclass) as template names: its fields."""
    return {f.name: getattr(page, f.name) for f in fields(page)}


def _money(session: CurrentSession) -> dict[str, Any]:
    """How the Clients pages write prices and numbers, from the trainer's settings."""
    settings = session.trainer.settings
    return {
        "currency": settings.currency,
        "money": partial(format_money, locale=settings.locale),
        "phone": format_phone,
    }


def _list_page(session: CurrentSession, status: int = 200, **context: Any) -> Response:
    query = request_state.current().query("q").strip()
    page = clients.clients_page(request_state.deps(), session.trainer.id, query)
    return render(
        "clients/list.html",
        status=status,
        tab="clients",
        **_shown(page),
        **_money(session),
        **context,
    )


@bp.route("/dashboard/clients", methods=["GET"])
@trainer
def client_list(session: CurrentSession) -> Response:
    return _list_page(session)


@bp.route("/dashboard/clients", methods=["POST"], content_types=FORM)
@trainer
def client_add(session: CurrentSession) -> Response:
    form = request_state.current().form()
    try:
        command = forms.command(AddClient, form)
        client = clients.create_client(request_state.deps(), session.trainer, command)
    except InvalidInput as exc:
        errors = forms.errors(AddClient, exc)
        return _list_page(session, 400, errors=errors, form=form, adding=True)
    return redirect(f"/dashboard/clients/{client.id}", saved="added")


def _profile_page(
    session: CurrentSession,
    client_id: str,
    status: int = 200,
    form: dict[str, str] | None = None,
    lists: dict[str, list[str]] | None = None,
    **context: Any,
) -> Response:
    """The profile as saved, or as a refused form had it: its inputs and its ticked boxes
    (`lists`: the locations and the recurring slots)."""
    state, deps = request_state.current(), request_state.deps()
    ticked = lists or {}
    page = clients.profile_page(
        deps,
        session.trainer,
        client_id,
        state.base_url,
        ticked.get("location_ids"),
        ticked.get("recurring"),
    )
    shown = _shown(page)
    prefill = shown.pop("prefill")
    return render(
        "clients/profile.html",
        status=status,
        tab="clients",
        **shown,
        form=prefill if form is None else form,
        now=deps.now,
        wa_me=wa_me_link,
        **_money(session),
        saved=state.query("saved"),
        confirming=state.query("confirm"),
        **context,
    )


@bp.route("/dashboard/clients/{client_id}", methods=["GET"])
@trainer
def client_profile(session: CurrentSession, client_id: str) -> Response:
    return _profile_page(session, client_id)


def _profile_command(action: str) -> type[SaveProfile | ClientAction | SendPortalLink]:
    """Which of the profile page's forms was sent, by its button."""
    if action in CLIENT_ACTIONS:
        return ClientAction
    if action == "send_link":
        return SendPortalLink
    return SaveProfile


@bp.route("/dashboard/clients/{client_id}", methods=["POST"], content_types=FORM)
@trainer
def client_change(session: CurrentSession, client_id: str) -> Response:
    state = request_state.current()
    form = state.form()
    action = form.get("action", "save")
    model = _profile_command(action)
    lists = {name: state.form_list(name) for name in ("location_ids", "recurring")}
    try:
        command = forms.command(model, form, lists=lists, client_id=client_id)
        done = clients.change_client(
            request_state.deps(), session.trainer, command, lambda: state.base_url
        )
    except InvalidInput as exc:
        errors = forms.errors(model, exc)
        return _profile_page(session, client_id, 400, form, lists, errors=errors)
    except (VersionConflict, Conflict) as exc:
        errors = {"_form": exc.user_message}
        return _profile_page(session, client_id, 409, form, lists, errors=errors)
    return redirect(f"/dashboard/clients/{client_id}", saved=action if done else "already")


@bp.route("/dashboard/clients/{client_id}/shared", methods=["POST"], content_types=FORM)
@trainer
def client_link_copied(session: CurrentSession, client_id: str) -> Response:
    """The Copy button: with JavaScript it copies and posts this in the background (204);
    without, the button submits it and the page comes back with the link selected."""
    state = request_state.current()
    background = (state.request.headers or {}).get("x-requested-with") == "fetch"
    try:
        command = forms.command(LinkCopied, state.form(), client_id=client_id)
        clients.link_copied(request_state.deps(), session.trainer.id, command)
    except (InvalidInput, Conflict) as exc:
        if background:
            return Response(body="", status_code=409)
        message = exc.errors["_form"] if isinstance(exc, InvalidInput) else exc.user_message
        return _profile_page(session, client_id, 409, errors={"_form": message})
    if background:
        return Response(body="", status_code=204)
    return redirect(f"/dashboard/clients/{client_id}", saved="copied")


# The profile's "Skip a date or pause" card: its three forms, by their button.
SKIP_COMMANDS: dict[str, type[SkipDate | PauseRecurring | ResumeSkip]] = {
    "skip": SkipDate,
    "pause": PauseRecurring,
    "resume": ResumeSkip,
}


@bp.route("/dashboard/clients/{client_id}/skips", methods=["POST"], content_types=FORM)
@trainer
def client_skips(session: CurrentSession, client_id: str) -> Response:
    state = request_state.current()
    form = state.form()
    action = form.get("action", "")
    model = SKIP_COMMANDS.get(action)
    if model is None:
        return _profile_page(session, client_id, 400, errors={"_form": "Unknown action."})
    try:
        command = forms.command(model, form, client_id=client_id)
        done = clients.change_skips(request_state.deps(), session.trainer, command)
    except InvalidInput as exc:
        errors = forms.errors(model, exc)
        return _profile_page(session, client_id, 400, errors=errors, skip_form=form)
    except (VersionConflict, Conflict) as exc:
        errors = {"_form": exc.user_message}
        return _profile_page(session, client_id, 409, errors=errors, skip_form=form)
    # A repeated click that still had to cancel (a first one cut short) says so.
    saved = "unchanged" if done.unchanged and not done.canceled else action
    return redirect(f"/dashboard/clients/{client_id}", saved=saved)

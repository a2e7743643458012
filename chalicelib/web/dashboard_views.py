"""Trainer dashboard: home checklist, settings, locations, weekly template.

Each page is one call to its page query (`services.dashboard`, `services.account`);
each form is parsed into its command and handed to one use case, and a refused one is
shown again with its page and the input as typed.
"""

from __future__ import annotations

from dataclasses import fields
from functools import partial
from typing import Any

from chalice import Blueprint, Response

from chalicelib.domain.errors import Conflict, InvalidInput, VersionConflict
from chalicelib.domain.grid import MINUTES_PER_DAY
from chalicelib.domain.money import format_money
from chalicelib.domain.settings import SaveSettings
from chalicelib.domain.template import RemoveSlot, SaveSlot
from chalicelib.services import account
from chalicelib.services.account import AddLocation, ChangeLocation
from chalicelib.services.auth import CurrentSession
from chalicelib.services.dashboard import home_page
from chalicelib.web import forms, request_state
from chalicelib.web.grids import clock_choices, template_grid
from chalicelib.web.render import redirect, render
from chalicelib.web.views import FORM, trainer

bp = Blueprint(__name__)


def _flash() -> str:
    return request_state.current().query("saved")


def _shown(page: Any) -> dict[str, Any]:
    """A page query's view model (a dataclass) as template names: its fields."""
    return {f.name: getattr(page, f.name) for f in fields(page)}


# Home ----------------------------------------------------------------------------------
@bp.route("/dashboard", methods=["GET"])
@trainer
def dashboard(session: CurrentSession) -> Response:
    settings = session.trainer.settings
    return render(
        "dashboard/home.html",
        tab="home",
        home=home_page(request_state.deps(), session.trainer),
        currency=settings.currency,
        money=partial(format_money, locale=settings.locale),
    )


@bp.route("/dashboard/{tab}", methods=["GET"])
@trainer
def unknown_tab(session: CurrentSession, tab: str) -> Response:
    # Concrete routes (/dashboard/sessions...) match first; anything else is a clear 404.
    return render("error.html", status=404, title="Not found", message="There is no such page.")


# Settings ------------------------------------------------------------------------------
def _settings_page(session: CurrentSession, status: int = 200, **context: Any) -> Response:
    return render(
        "settings/settings.html",
        status=status,
        tab="settings",
        subtab="general",
        **_shown(account.settings_page(session.trainer)),
        day_times=clock_choices(0, MINUTES_PER_DAY),
        saved=_flash(),
        **context,
    )


@bp.route("/dashboard/settings", methods=["GET"])
@trainer
def settings_form(session: CurrentSession) -> Response:
    return _settings_page(session)


@bp.route("/dashboard/settings", methods=["POST"], content_types=FORM)
@trainer
def settings_save(session: CurrentSession) -> Response:
    form = request_state.current().form()
    try:
        command = forms.command(SaveSettings, form)
        account.save_settings(request_state.deps(), session.trainer, command)
    except InvalidInput as exc:
        return _settings_page(session, 400, errors=forms.errors(SaveSettings, exc), form=form)
    except VersionConflict as exc:
        return _settings_page(session, 409, errors={"_form": exc.user_message}, form=form)
    return redirect("/dashboard/settings", saved="settings")


# Locations -----------------------------------------------------------------------------
def _locations_page(session: CurrentSession, status: int = 200, **context: Any) -> Response:
    page = account.locations_page(request_state.deps(), session.trainer.id)
    return render(
        "settings/locations.html",
        status=status,
        tab="settings",
        subtab="locations",
        **_shown(page),
        saved=_flash(),
        **context,
    )


@bp.route("/dashboard/settings/locations", methods=["GET"])
@trainer
def locations(session: CurrentSession) -> Response:
    return _locations_page(session)


@bp.route("/dashboard/settings/locations", methods=["POST"], content_types=FORM)
@trainer
def location_add(session: CurrentSession) -> Response:
    form = request_state.current().form()
    try:
        command = forms.command(AddLocation, form)
        account.create_location(request_state.deps(), session.trainer.id, command)
    except InvalidInput as exc:
        return _locations_page(session, 400, errors=forms.errors(AddLocation, exc), form=form)
    return redirect("/dashboard/settings/locations", saved="added")


def _location_page(
    session: CurrentSession, location_id: str, status: int = 200, **context: Any
) -> Response:
    page = account.location_page(request_state.deps(), session.trainer.id, location_id)
    return render(
        "settings/location_edit.html",
        status=status,
        tab="settings",
        subtab="locations",
        **_shown(page),
        **context,
    )


@bp.route("/dashboard/settings/locations/{location_id}", methods=["GET"])
@trainer
def location_edit(session: CurrentSession, location_id: str) -> Response:
    return _location_page(session, location_id)


@bp.route("/dashboard/settings/locations/{location_id}", methods=["POST"], content_types=FORM)
@trainer
def location_change(session: CurrentSession, location_id: str) -> Response:
    form = request_state.current().form()
    try:
        command = forms.command(ChangeLocation, form, location_id=location_id)
        account.change_location(request_state.deps(), session.trainer.id, command)
    except InvalidInput as exc:
        errors = forms.errors(ChangeLocation, exc)
        return _location_page(session, location_id, 400, errors=errors, form=form)
    except (VersionConflict, Conflict) as exc:
        return _location_page(
            session, location_id, 409, errors={"_form": exc.user_message}, form=form
        )
    return redirect("/dashboard/settings/locations", saved=command.action)


# Weekly template ---------------------------------------------------------------------
@bp.route("/dashboard/settings/template", methods=["GET"])
@trainer
def template(session: CurrentSession) -> Response:
    page = account.template_page(request_state.deps(), session.trainer.id)
    setup = page.setup
    return render(
        "settings/template.html",
        tab="settings",
        subtab="template",
        **_shown(page),
        grid=template_grid(setup.template, session.trainer.settings, setup.locations),
        saved=_flash(),
    )


def _slot_page(
    page: account.SlotPage, status: int = 200, form: dict[str, str] | None = None, **context: Any
) -> Response:
    """The slot form: the page's own values, or those a refused form was sent with."""
    return render(
        "settings/slot_form.html",
        status=status,
        tab="settings",
        subtab="template",
        slot=page.slot,
        setup=page.setup,
        version=page.version,
        form=page.prefill if form is None else form,
        start_times=clock_choices(0, MINUTES_PER_DAY - 30),
        end_times=clock_choices(30, MINUTES_PER_DAY),
        **context,
    )


def _new_slot_page(session: CurrentSession) -> account.SlotPage:
    state = request_state.current()
    weekday, start = state.query("weekday", "0"), state.query("start", "09:00")
    return account.new_slot_page(request_state.deps(), session.trainer.id, weekday, start)


@bp.route("/dashboard/settings/template/new", methods=["GET"])
@trainer
def slot_new(session: CurrentSession) -> Response:
    return _slot_page(_new_slot_page(session))


@bp.route("/dashboard/settings/template/new", methods=["POST"], content_types=FORM)
@trainer
def slot_create(session: CurrentSession) -> Response:
    form = request_state.current().form()
    try:
        command = forms.command(SaveSlot, form)
        account.save_template_slot(request_state.deps(), session.trainer.id, command)
    except InvalidInput as exc:
        errors = forms.errors(SaveSlot, exc)
        return _slot_page(_new_slot_page(session), 400, form, errors=errors)
    except (VersionConflict, Conflict) as exc:
        return _slot_page(_new_slot_page(session), 409, form, errors={"_form": exc.user_message})
    return redirect("/dashboard/settings/template", saved="added")


@bp.route("/dashboard/settings/template/slots/{slot_id}", methods=["GET"])
@trainer
def slot_edit(session: CurrentSession, slot_id: str) -> Response:
    return _slot_page(account.slot_page(request_state.deps(), session.trainer.id, slot_id))


@bp.route("/dashboard/settings/template/slots/{slot_id}", methods=["POST"], content_types=FORM)
@trainer
def slot_change(session: CurrentSession, slot_id: str) -> Response:
    form, deps, tid = request_state.current().form(), request_state.deps(), session.trainer.id
    removing = form.get("action") == "remove"  # the page's other button is Save slot
    try:
        if removing:
            remove = forms.command(RemoveSlot, form, slot_id=slot_id)
            account.remove_template_slot(deps, tid, remove)
            return redirect("/dashboard/settings/template", saved="removed")
        save = forms.command(SaveSlot, form, slot_id=slot_id)
        account.save_template_slot(deps, tid, save)
    except InvalidInput as exc:
        errors = forms.errors(RemoveSlot if removing else SaveSlot, exc)
        return _slot_page(account.slot_page(deps, tid, slot_id), 400, form, errors=errors)
    except (VersionConflict, Conflict) as exc:
        page = account.slot_page(deps, tid, slot_id)
        return _slot_page(page, 409, form, errors={"_form": exc.user_message})
    return redirect("/dashboard/settings/template", saved="updated")

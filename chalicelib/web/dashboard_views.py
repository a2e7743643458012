"""Trainer dashboard: home checklist, settings, locations, weekly template."""

from __future__ import annotations

from functools import partial

from chalice import Blueprint, Response

from chalicelib.domain.errors import Conflict, InvalidInput, VersionConflict
from chalicelib.domain.grid import MINUTES_PER_DAY, format_clock
from chalicelib.domain.money import currency_choices, format_money
from chalicelib.domain.settings import COUNTRIES
from chalicelib.domain.template import TemplateSlot
from chalicelib.domain.timeutil import all_time_zones
from chalicelib.services import account
from chalicelib.services.auth import CurrentSession
from chalicelib.services.dashboard import home as dashboard_home
from chalicelib.web import request_state
from chalicelib.web.grids import clock_choices, template_grid
from chalicelib.web.render import redirect, render
from chalicelib.web.views import FORM, trainer

bp = Blueprint(__name__)


def _flash() -> str:
    return request_state.current().query("saved")


# Home ----------------------------------------------------------------------------------
@bp.route("/dashboard", methods=["GET"])
@trainer
def dashboard(session: CurrentSession) -> Response:
    settings = session.trainer.settings
    return render(
        "dashboard/home.html",
        tab="home",
        home=dashboard_home(request_state.deps().repo, session.trainer, request_state.deps().now),
        currency=settings.currency,
        money=partial(format_money, locale=settings.locale),
    )


@bp.route("/dashboard/{tab}", methods=["GET"])
@trainer
def unknown_tab(session: CurrentSession, tab: str) -> Response:
    # Concrete routes (/dashboard/sessions...) match first; anything else is a clear 404.
    return render("error.html", status=404, title="Not found", message="There is no such page.")


# Settings ------------------------------------------------------------------------------
def _settings_page(session: CurrentSession, status: int = 200, **context: object) -> Response:
    settings = session.trainer.settings
    return render(
        "settings/settings.html",
        status=status,
        tab="settings",
        subtab="general",
        settings=settings,
        version=session.trainer.version,
        time_zones=all_time_zones(),
        countries=COUNTRIES,
        currencies=currency_choices(settings.locale),
        day_times=clock_choices(0, MINUTES_PER_DAY),
        clock=format_clock,
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
        account.save_settings(request_state.deps().repo, session.trainer, form)
    except InvalidInput as exc:
        return _settings_page(session, 400, errors=exc.errors, form=form)
    except VersionConflict as exc:
        return _settings_page(session, 409, errors={"_form": exc.user_message}, form=form)
    return redirect("/dashboard/settings", saved="settings")


# Locations -----------------------------------------------------------------------------
def _locations_page(session: CurrentSession, status: int = 200, **context: object) -> Response:
    setup = request_state.deps().repo.get_setup(session.trainer.id)
    usage = {loc.id: 0 for loc in setup.locations}
    for slot in setup.template.slots:
        usage[slot.location_id] = usage.get(slot.location_id, 0) + 1
    return render(
        "settings/locations.html",
        status=status,
        tab="settings",
        subtab="locations",
        setup=setup,
        usage=usage,
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
        account.add_location(request_state.deps().repo, session.trainer.id, form.get("name", ""))
    except InvalidInput as exc:
        return _locations_page(session, 400, errors=exc.errors, form=form)
    return redirect("/dashboard/settings/locations", saved="added")


def _location_page(
    session: CurrentSession, location_id: str, status: int = 200, **context: object
) -> Response:
    setup = request_state.deps().repo.get_setup(session.trainer.id)
    location = setup.location(location_id)
    used_by = [s for s in setup.template.slots if s.location_id == location_id]
    return render(
        "settings/location_edit.html",
        status=status,
        tab="settings",
        subtab="locations",
        location=location,
        used_by=used_by,
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
    repo, tid, version = request_state.deps().repo, session.trainer.id, form.get("version")
    action = form.get("action", "")
    try:
        if action == "rename":
            account.rename_location(repo, tid, location_id, form.get("name", ""), version)
        elif action in ("archive", "restore"):
            account.set_location_archived(repo, tid, location_id, action == "archive", version)
        elif action == "delete":
            account.delete_location(repo, tid, location_id, version)
        else:
            raise InvalidInput({"action": "Unknown action."})
    except InvalidInput as exc:
        return _location_page(session, location_id, 400, errors=exc.errors, form=form)
    except (VersionConflict, Conflict) as exc:
        return _location_page(
            session, location_id, 409, errors={"_form": exc.user_message}, form=form
        )
    return redirect("/dashboard/settings/locations", saved=action)


# Weekly template ---------------------------------------------------------------------
@bp.route("/dashboard/settings/template", methods=["GET"])
@trainer
def template(session: CurrentSession) -> Response:
    setup = request_state.deps().repo.get_setup(session.trainer.id)
    return render(
        "settings/template.html",
        tab="settings",
        subtab="template",
        setup=setup,
        grid=template_grid(setup.template, session.trainer.settings, setup.locations),
        names=setup.location_names(),
        saved=_flash(),
    )


def _slot_page(
    session: CurrentSession,
    slot: TemplateSlot | None,
    status: int = 200,
    setup: account.Setup | None = None,
    **context: object,
) -> Response:
    setup = setup or request_state.deps().repo.get_setup(session.trainer.id)
    return render(
        "settings/slot_form.html",
        status=status,
        tab="settings",
        subtab="template",
        slot=slot,
        setup=setup,
        version=setup.template.version,
        start_times=clock_choices(0, MINUTES_PER_DAY - 30),
        end_times=clock_choices(30, MINUTES_PER_DAY),
        **context,
    )


@bp.route("/dashboard/settings/template/new", methods=["GET"])
@trainer
def slot_new(session: CurrentSession) -> Response:
    state = request_state.current()
    weekday, start = state.query("weekday", "0"), state.query("start", "09:00")
    # Prefill from the clicked cell; the end defaults to one hour later.
    form = {"weekday": weekday, "start": start}
    try:
        minutes = int(start[:2]) * 60 + int(start[3:5])
        form["end"] = format_clock(min(minutes + 60, MINUTES_PER_DAY))
    except ValueError:
        form["end"] = ""
    return _slot_page(session, None, form=form)


@bp.route("/dashboard/settings/template/new", methods=["POST"], content_types=FORM)
@trainer
def slot_create(session: CurrentSession) -> Response:
    form = request_state.current().form()
    try:
        account.add_template_slot(request_state.deps().repo, session.trainer.id, form)
    except InvalidInput as exc:
        return _slot_page(session, None, 400, errors=exc.errors, form=form)
    except (VersionConflict, Conflict) as exc:
        return _slot_page(session, None, 409, errors={"_form": exc.user_message}, form=form)
    return redirect("/dashboard/settings/template", saved="added")


@bp.route("/dashboard/settings/template/slots/{slot_id}", methods=["GET"])
@trainer
def slot_edit(session: CurrentSession, slot_id: str) -> Response:
    setup, slot = account.template_slot(request_state.deps().repo, session.trainer.id, slot_id)
    form = {
        "weekday": str(slot.weekday),
        "start": format_clock(slot.start),
        "end": format_clock(slot.end),
        "location_id": slot.location_id,
    }
    return _slot_page(session, slot, setup=setup, form=form)


@bp.route("/dashboard/settings/template/slots/{slot_id}", methods=["POST"], content_types=FORM)
@trainer
def slot_change(session: CurrentSession, slot_id: str) -> Response:
    form = request_state.current().form()
    repo, tid = request_state.deps().repo, session.trainer.id
    setup, slot = account.template_slot(repo, tid, slot_id)
    try:
        if form.get("action") == "remove":
            account.remove_template_slot(repo, tid, slot_id, form.get("version"))
            return redirect("/dashboard/settings/template", saved="removed")
        account.update_template_slot(repo, tid, slot_id, form)
    except InvalidInput as exc:
        return _slot_page(session, slot, 400, setup=setup, errors=exc.errors, form=form)
    except (VersionConflict, Conflict) as exc:
        return _slot_page(
            session, slot, 409, setup=setup, errors={"_form": exc.user_message}, form=form
        )
    return redirect("/dashboard/settings/template", saved="updated")

"""The Clients tab: list and search, add, profile (contact, locations, notes, archive)."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib import runtime
from chalicelib.domain.clients import Client, format_phone, format_price_input
from chalicelib.domain.errors import InvalidInput, VersionConflict
from chalicelib.domain.settings import format_money
from chalicelib.services import clients
from chalicelib.services.auth import CurrentSession
from chalicelib.web import request_state
from chalicelib.web.render import redirect, render
from chalicelib.web.views import FORM, trainer

bp = Blueprint(__name__)


def _list_page(session: CurrentSession, status: int = 200, **context: object) -> Response:
    query = request_state.current().query("q").strip()
    found = clients.find_clients(runtime.repository(), session.trainer.id, query)
    return render(
        "clients/list.html",
        status=status,
        tab="clients",
        clients=found,
        query=query,
        currency=session.trainer.settings.currency,
        money=format_money,
        phone=format_phone,
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
        client = clients.add_client(runtime.repository(), session.trainer, form, runtime.now())
    except InvalidInput as exc:
        return _list_page(session, 400, errors=exc.errors, form=form, adding=True)
    return redirect(f"/dashboard/clients/{client.id}", saved="added")


def _profile_page(
    session: CurrentSession, client: Client, status: int = 200, **context: object
) -> Response:
    setup = runtime.repository().get_setup(session.trainer.id)
    currency = session.trainer.settings.currency
    form = context.pop("form", None) or {
        "name": client.name,
        "phone": format_phone(client.phone),
        "email": client.email,
        "price": format_price_input(client.price_minor, currency),
        "shared_notes": client.shared_notes,
        "private_notes": client.private_notes,
        "version": str(client.version),
    }
    enabled = context.pop("enabled", None)
    return render(
        "clients/profile.html",
        status=status,
        tab="clients",
        client=client,
        form=form,
        enabled=set(client.location_ids if enabled is None else enabled),
        locations=[
            loc for loc in setup.locations if not loc.archived or loc.id in client.location_ids
        ],
        currency=currency,
        money=format_money,
        phone=format_phone,
        saved=request_state.current().query("saved"),
        **context,
    )


@bp.route("/dashboard/clients/{client_id}", methods=["GET"])
@trainer
def client_profile(session: CurrentSession, client_id: str) -> Response:
    client = runtime.repository().get_client(session.trainer.id, client_id)
    return _profile_page(session, client)


@bp.route("/dashboard/clients/{client_id}", methods=["POST"], content_types=FORM)
@trainer
def client_change(session: CurrentSession, client_id: str) -> Response:
    state = request_state.current()
    form = state.form()
    repo, tid = runtime.repository(), session.trainer.id
    client = repo.get_client(tid, client_id)  # 404 for another trainer's id, before anything
    action = form.get("action", "save")
    enabled = state.form_list("location_ids")
    try:
        if action in ("archive", "restore"):
            clients.set_archived(repo, tid, client, action == "archive", form.get("version"))
        else:
            clients.save_profile(repo, session.trainer, client, form, enabled)
    except InvalidInput as exc:
        return _profile_page(session, client, 400, errors=exc.errors, form=form, enabled=enabled)
    except VersionConflict as exc:
        return _profile_page(
            session, client, 409, errors={"_form": exc.user_message}, form=form, enabled=enabled
        )
    return redirect(f"/dashboard/clients/{client_id}", saved=action)

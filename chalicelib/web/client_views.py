"""The Clients tab: list and search, add, profile (contact, locations, notes, archive)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from chalice import Blueprint, Response

from chalicelib.domain.clients import Client, format_phone, format_price_input, recurring_problem
from chalicelib.domain.errors import Conflict, InvalidInput, VersionConflict
from chalicelib.domain.settings import format_money
from chalicelib.domain.template import TemplateSlot
from chalicelib.domain.tokens import new_id
from chalicelib.messaging.whatsapp import wa_me_link
from chalicelib.repo.repository import Account
from chalicelib.services import clients, messages, programs
from chalicelib.services.auth import CurrentSession
from chalicelib.web import request_state, session_views
from chalicelib.web.render import redirect, render
from chalicelib.web.views import FORM, trainer

bp = Blueprint(__name__)


def _list_page(session: CurrentSession, status: int = 200, **context: object) -> Response:
    query = request_state.current().query("q").strip()
    found = clients.find_clients(request_state.deps().repo, session.trainer.id, query)
    return render(
        "clients/list.html",
        status=status,
        tab="clients",
        clients=found,
        query=query,
        currency=session.trainer.settings.currency,
        money=partial(format_money, locale=session.trainer.settings.locale),
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
        client = clients.add_client(
            request_state.deps().repo,
            request_state.deps().links,
            session.trainer,
            form,
            request_state.deps().now,
        )
    except InvalidInput as exc:
        return _list_page(session, 400, errors=exc.errors, form=form, adding=True)
    return redirect(f"/dashboard/clients/{client.id}", saved="added")


@dataclass(frozen=True)
class RecurringChoice:
    slot: TemplateSlot
    place: str
    checked: bool
    held_by: str | None  # another client's name: amber, read-only
    problem: str | None  # why a slot this client holds no longer fits: red


def _recurring_choices(
    account: Account, client: Client, enabled: set[str], chosen: set[str]
) -> tuple[list[RecurringChoice], list[str]]:
    """Template slots as choices, and red notices for held slots that no longer fit."""
    setup = account.setup
    holders, names = account.recurring_holders(), account.client_names()
    places = setup.location_names()
    choices = []
    for slot in setup.template.slots:
        holder = holders.get(slot.id)
        problem = None
        if slot.id in chosen:
            problem = recurring_problem(
                slot.id, setup.template, enabled, holders, client.id, places, names
            )
        choices.append(
            RecurringChoice(
                slot=slot,
                place=places.get(slot.location_id, "Deleted location"),
                checked=slot.id in chosen,
                held_by=names.get(holder) if holder and holder != client.id else None,
                problem=problem,
            )
        )
    template_ids = {s.id for s in setup.template.slots}
    gone = [
        "A recurring slot was removed from the weekly template: save to drop it."
        for t in chosen
        if t not in template_ids
    ]
    return choices, gone


def _portal_url(session: CurrentSession, client: Client) -> str:
    return (
        request_state.current().base_url
        + "/c/"
        + request_state.deps().links.portal(session.trainer.id, client)
    )


def _profile_page(
    session: CurrentSession,
    account: Account,
    client: Client,
    status: int = 200,
    **context: object,
) -> Response:
    currency = session.trainer.settings.currency
    form = context.pop("form", None) or {
        "name": client.name,
        "phone": format_phone(client.phone),
        "email": client.email,
        "price": format_price_input(client.price_minor, currency, session.trainer.settings.locale),
        "shared_notes": client.shared_notes,
        "private_notes": client.private_notes,
        "version": str(client.version),
    }
    enabled = context.pop("enabled", None)
    enabled_set = set(client.location_ids if enabled is None else enabled)
    chosen = context.pop("recurring", None)
    chosen_set = set(client.recurring if chosen is None else chosen)
    choices, gone = _recurring_choices(account, client, enabled_set, chosen_set)
    locations = account.setup.locations
    shown = clients.client_sessions(
        request_state.deps().repo,
        session.trainer.id,
        client.id,
        request_state.deps().now,
    )
    bundles = programs.store(request_state.deps().repo).client_bundles(
        session.trainer.id, client.id
    )
    portal_url = _portal_url(session, client)
    return render(
        "clients/profile.html",
        status=status,
        tab="clients",
        client=client,
        form=form,
        enabled=enabled_set,
        locations=[loc for loc in locations if not loc.archived or loc.id in client.location_ids],
        recurring=choices,
        recurring_gone=gone,
        upcoming=shown.upcoming,
        history=shown.history,
        bundles=bundles,
        now=request_state.deps().now,
        owed=shown.owed,
        portal_url=portal_url,
        link_shared=account.link_shared(client),
        send_id=new_id(),
        share_text=messages.portal_link_text(session.trainer, client, portal_url),
        wa_me=wa_me_link,
        places={lid: loc.name for lid, loc in session.trainer.locations.items()},
        currency=currency,
        money=partial(format_money, locale=session.trainer.settings.locale),
        phone=format_phone,
        saved=request_state.current().query("saved"),
        confirming=context.pop("confirming", request_state.current().query("confirm")),
        **context,
    )


@bp.route("/dashboard/clients/{client_id}", methods=["GET"])
@trainer
def client_profile(session: CurrentSession, client_id: str) -> Response:
    account = request_state.deps().repo.get_account(session.trainer.id)
    return _profile_page(session, account, account.client(client_id))


@bp.route("/dashboard/clients/{client_id}", methods=["POST"], content_types=FORM)
@trainer
def client_change(session: CurrentSession, client_id: str) -> Response:
    state = request_state.current()
    form = state.form()
    repo, tid = request_state.deps().repo, session.trainer.id
    account = repo.get_account(tid)
    client = account.client(client_id)  # 404 for another trainer's id, before anything
    action = form.get("action", "save")
    enabled = state.form_list("location_ids")
    recurring = state.form_list("recurring")
    kept = {"form": form, "enabled": enabled, "recurring": recurring}
    try:
        if action == "archive":
            clients.archive(repo, tid, client, form.get("version"))
        elif action == "restore":
            clients.restore(
                repo,
                request_state.deps().links,
                tid,
                client,
                form.get("version"),
                request_state.deps().now,
            )
        elif action == "send_link":
            queued = messages.send_portal_link(
                repo,
                session.trainer,
                client,
                form.get("send_id"),
                session_views.portal_url(session.trainer.id)(client),
                request_state.deps().now,
            )
            if not queued.new:
                action = "already"
        elif action == "rotate":
            clients.rotate_portal_link(
                repo,
                request_state.deps().links,
                tid,
                client,
                form.get("version"),
                request_state.deps().now,
            )
        else:
            clients.save_profile(repo, session.trainer, account, client, form, enabled, recurring)
    except InvalidInput as exc:
        return _profile_page(session, account, client, 400, errors=exc.errors, **kept)
    except (VersionConflict, Conflict) as exc:
        return _profile_page(
            session, account, client, 409, errors={"_form": exc.user_message}, **kept
        )
    return redirect(f"/dashboard/clients/{client_id}", saved=action)


@bp.route("/dashboard/clients/{client_id}/shared", methods=["POST"], content_types=FORM)
@trainer
def client_link_copied(session: CurrentSession, client_id: str) -> Response:
    """The Copy button: with JavaScript it copies and posts this in the background (204);
    without, the button submits it and the page comes back with the link selected."""
    state = request_state.current()
    form = state.form()
    repo = request_state.deps().repo
    client = repo.get_client(session.trainer.id, client_id)  # 404 for another trainer's id
    background = (state.request.headers or {}).get("x-requested-with") == "fetch"
    try:
        clients.mark_link_copied(
            repo, session.trainer.id, client, form.get("generation"), request_state.deps().now
        )
    except (InvalidInput, Conflict) as exc:
        if background:
            return Response(body="", status_code=409)
        message = exc.errors["_form"] if isinstance(exc, InvalidInput) else exc.user_message
        account = repo.get_account(session.trainer.id)
        return _profile_page(session, account, client, 409, errors={"_form": message})
    if background:
        return Response(body="", status_code=204)
    return redirect(f"/dashboard/clients/{client_id}", saved="copied")

"""Client portal pages, opened from personal links (no password): home, book, one
session (cancel, change) and last-minute opt-ins. Designed for a phone first."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from chalice import Blueprint, Response

from chalicelib.domain.errors import DomainError, InvalidInput, NotFound, VersionConflict
from chalicelib.domain.portal import deadline_message, past_the_deadline
from chalicelib.messaging.whatsapp import wa_me_link
from chalicelib.services import offers, portal
from chalicelib.web import request_state
from chalicelib.web.render import redirect, render
from chalicelib.web.views import FORM, check_post

bp = Blueprint(__name__)

SAVED = {
    "booked": "You are booked. See you there!",
    "again": "You already have this session: nothing was booked twice.",
    "canceled": "Session canceled. The time is free for someone else.",
    "changed": "Session moved to the new time.",
    "optins": "Last-minute times saved.",
}


def capability(view: Callable[..., Response]) -> Callable[..., Response]:
    """A page behind a client link: CSRF on POST, and a plain page for a bad link."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        state = request_state.current()
        refused = check_post(state)
        if refused is not None:
            return refused
        try:
            return view(*args, **kwargs)
        except NotFound:
            return render("portal/gone.html", status=404, title="This link is not valid")
        except portal.LinkInactive:
            return render("portal/gone.html", status=410, title="This link is no longer active")
        except VersionConflict:
            return render(
                "portal/gone.html",
                status=409,
                title="This page was out of date",
                message="Something changed since you opened it. Go back and reload the page.",
            )
        except DomainError as exc:
            return render(
                "portal/gone.html", status=400, title="That did not work", message=exc.user_message
            )

    return wrapper


def _places(context: portal.ClientContext) -> dict[str, str]:
    return {lid: loc.name for lid, loc in context.trainer.locations.items()}


def _contact_link(context: portal.ClientContext, text: str) -> str | None:
    number = context.trainer.settings.whatsapp_number
    return wa_me_link(number, text) if number else None


# Home -----------------------------------------------------------------------------------
@bp.route("/c/{token}", methods=["GET"])
@capability
def portal_home(token: str) -> Response:
    home = portal.open_portal(
        request_state.deps().repo, request_state.deps().links, token, request_state.deps().now
    )
    return render(
        "portal/home.html",
        home=home,
        token=token,
        now=request_state.deps().now,
        places=_places(home.context),
        saved=SAVED.get(request_state.current().query("saved")),
    )


@bp.route("/c/{token}/optins", methods=["POST"], content_types=FORM)
@capability
def portal_optins(token: str) -> Response:
    state = request_state.current()
    form = state.form()
    repo = request_state.deps().repo
    if form.get("template_slot_id"):  # one toggle, saved by the page's script
        portal.set_optin(
            repo,
            request_state.deps().links,
            token,
            form["template_slot_id"],
            form.get("on") == "yes",
        )
        if state.request.headers.get("x-requested-with") == "fetch":
            return Response(body="", status_code=204, headers={"Content-Type": "text/plain"})
    else:
        portal.save_optins(repo, request_state.deps().links, token, state.form_list("optin"))
    return redirect(f"/c/{token}", saved="optins")


# Book -----------------------------------------------------------------------------------
def _slots_page(
    template: str, context: portal.ClientContext, status: int = 200, **extra: Any
) -> Response:
    return render(template, status=status, context=context, places=_places(context), **extra)


@bp.route("/c/{token}/book", methods=["GET"])
@capability
def portal_book(token: str) -> Response:
    repo, now = request_state.deps().repo, request_state.deps().now
    context = portal.open_client(repo, request_state.deps().links, token)
    return _slots_page(
        "portal/book.html", context, token=token, days=portal.open_slots(repo, context, now)
    )


@bp.route("/c/{token}/book", methods=["POST"], content_types=FORM)
@capability
def portal_book_slot(token: str) -> Response:
    repo, now = request_state.deps().repo, request_state.deps().now
    form = request_state.current().form()
    try:
        context, booked = portal.book_slot(repo, request_state.deps().links, token, form, now)
    except InvalidInput as exc:
        context = portal.open_client(repo, request_state.deps().links, token)
        days = portal.open_slots(repo, context, now)
        return _slots_page(
            "portal/book.html", context, 409, token=token, days=days, errors=exc.errors
        )
    return redirect(
        f"/s/{context.session_token(booked.session_id)}",
        saved="again" if booked.again else "booked",
    )


# One session ----------------------------------------------------------------------------
def _session_page(view: portal.SessionView, status: int = 200, **extra: Any) -> Response:
    now = request_state.deps().now
    context, session = view.context, view.session
    settings = context.trainer.settings
    locked = past_the_deadline(session, settings, now)
    extra.setdefault("confirming", request_state.current().query("confirm"))
    return render(
        "portal/session.html",
        status=status,
        view=view,
        booking=session,
        places=_places(context),
        past=session.start_utc <= now,
        can_change=portal.can_change(view, now),
        locked=locked,
        deadline=deadline_message(settings, context.trainer.display_name) if locked else None,
        contact=_contact_link(
            context, f"Hi, it's {context.client.first_name} about my session on {session.label}."
        ),
        home=f"/c/{context.home_token}",
        successor=portal.successor_token(view),
        saved=SAVED.get(request_state.current().query("saved")),
        **extra,
    )


@bp.route("/s/{token}", methods=["GET"])
@capability
def session_link(token: str) -> Response:
    return _session_page(
        portal.open_session_link(request_state.deps().repo, request_state.deps().links, token)
    )


@bp.route("/s/{token}", methods=["POST"], content_types=FORM)
@capability
def session_link_cancel(token: str) -> Response:
    repo, now = request_state.deps().repo, request_state.deps().now
    form = request_state.current().form()
    try:
        portal.cancel(repo, request_state.deps().links, token, form.get("version"), now)
    except InvalidInput as exc:
        return _session_page(
            portal.open_session_link(repo, request_state.deps().links, token),
            400,
            errors=exc.errors,
        )
    return redirect(f"/s/{token}", saved="canceled")


@bp.route("/s/{token}/change", methods=["GET"])
@capability
def session_link_change(token: str) -> Response:
    repo, now = request_state.deps().repo, request_state.deps().now
    view = portal.open_session_link(repo, request_state.deps().links, token)
    if not portal.can_change(view, now):
        return _session_page(view)  # explains why (deadline, past, canceled)
    days = portal.open_slots(repo, view.context, now, excluding=view.session.slot_id)
    return _slots_page("portal/change.html", view.context, view=view, token=token, days=days)


@bp.route("/s/{token}/change", methods=["POST"], content_types=FORM)
@capability
def session_link_move(token: str) -> Response:
    repo, now = request_state.deps().repo, request_state.deps().now
    form = request_state.current().form()
    try:
        moved = portal.change(repo, request_state.deps().links, token, form, now)
    except InvalidInput as exc:
        view = portal.open_session_link(repo, request_state.deps().links, token)
        if "deadline" in exc.errors or not portal.can_change(view, now):
            return _session_page(view, 400, errors=exc.errors)
        days = portal.open_slots(repo, view.context, now, excluding=view.session.slot_id)
        return _slots_page(
            "portal/change.html",
            view.context,
            409,
            view=view,
            token=token,
            days=days,
            errors=exc.errors,
        )
    return redirect(f"/s/{moved.token}", saved="changed")


# Last-minute offers -------------------------------------------------------------------------
def _offer_page(view: offers.OfferView, token: str, status: int = 200, **extra: Any) -> Response:
    now = request_state.deps().now
    slot = view.slot
    seconds = view.seconds_left(now)
    if view.accepted:
        extra["session_link"] = "/s/" + request_state.deps().links.session(
            view.trainer.id, view.client.id, view.client.portal_generation, view.session_id
        )
    return render(
        "portal/offer.html",
        status=410 if view.problem and status == 200 else status,
        view=view,
        slot=slot,
        token=token,
        place=view.place,
        minutes_left=(seconds + 59) // 60,
        **extra,
    )


@bp.route("/o/{token}", methods=["GET"])
@capability
def offer_page(token: str) -> Response:
    return _offer_page(
        offers.open_offer(request_state.deps().repo, token, request_state.deps().now), token
    )


@bp.route("/o/{token}", methods=["POST"], content_types=FORM)
@capability
def offer_accept(token: str) -> Response:
    repo, now = request_state.deps().repo, request_state.deps().now
    try:
        view, session = offers.accept(repo, request_state.deps().links, token, now)
    except offers.AlreadyAccepted as done:
        view, session_id = done.view, done.view.session_id
    except InvalidInput:
        return _offer_page(offers.open_offer(repo, token, now), token)
    else:
        session_id = session.id
    link = request_state.deps().links.session(
        view.trainer.id, view.client.id, view.client.portal_generation, session_id
    )
    return redirect(f"/s/{link}", saved="booked")

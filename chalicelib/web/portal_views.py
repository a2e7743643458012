"""Client portal pages, opened from personal links (no password): home, book, one
session (cancel, change) and last-minute opt-ins. Designed for a phone first."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from chalice import Blueprint, Response

from chalicelib.domain.conversations import SetMessagesOptOut
from chalicelib.domain.errors import DomainError, InvalidInput, NotFound, VersionConflict
from chalicelib.domain.portal import BookSlot, CancelSession, ChangeSession, SaveOptins, SetOptin
from chalicelib.services import conversations, offer_link, portal
from chalicelib.web import forms, request_state
from chalicelib.web.render import redirect, render
from chalicelib.web.views import FORM, check_post

bp = Blueprint(__name__)

SAVED = {
    "booked": "You are booked. See you there!",
    "again": "You already have this session: nothing was booked twice.",
    "canceled": "Session canceled. The time is free for someone else.",
    "changed": "Session moved to the new time.",
    "optins": "Last-minute times saved.",
    "stopped": (
        "Done: no more reminders or notifications. Invoices and offers you ask for still come."
    ),
    "resumed": "Reminders and notifications are back on.",
    "skipped": "This week is skipped: your trainer is told, and your other weeks stay booked.",
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


# Home -----------------------------------------------------------------------------------
@bp.route("/c/{token}", methods=["GET"])
@capability
def portal_home(token: str) -> Response:
    deps = request_state.deps()
    return render(
        "portal/home.html",
        page=portal.home_page(deps, token),
        saved=SAVED.get(request_state.current().query("saved")),
    )


@bp.route("/c/{token}/optins", methods=["POST"], content_types=FORM)
@capability
def portal_optins(token: str) -> Response:
    state, deps = request_state.current(), request_state.deps()
    form = state.form()
    if form.get("template_slot_id"):  # one toggle, saved by the page's script
        portal.set_optin(deps, token, forms.command(SetOptin, form))
        if state.request.headers.get("x-requested-with") == "fetch":
            return Response(body="", status_code=204, headers={"Content-Type": "text/plain"})
    else:
        ticks = forms.command(SaveOptins, form, lists={"optin": state.form_list("optin")})
        portal.save_optins(deps, token, ticks)
    return redirect(f"/c/{token}", saved="optins")


@bp.route("/c/{token}/messages", methods=["POST"], content_types=FORM)
@capability
def portal_messages_opt_out(token: str) -> Response:
    command = forms.command(SetMessagesOptOut, request_state.current().form())
    conversations.set_portal_opt_out(request_state.deps(), token, command)
    return redirect(f"/c/{token}", saved="stopped" if command.opt_out else "resumed")


# Book -----------------------------------------------------------------------------------
def _book_page(token: str, status: int = 200, errors: dict[str, str] | None = None) -> Response:
    deps = request_state.deps()
    page = portal.book_page(deps, token)
    return render("portal/book.html", status=status, page=page, errors=errors or {})


@bp.route("/c/{token}/book", methods=["GET"])
@capability
def portal_book(token: str) -> Response:
    return _book_page(token)


@bp.route("/c/{token}/book", methods=["POST"], content_types=FORM)
@capability
def portal_book_slot(token: str) -> Response:
    deps = request_state.deps()
    try:
        command = forms.command(BookSlot, request_state.current().form())
        booked = portal.book_slot(deps, token, command)
    except InvalidInput as exc:
        return _book_page(token, 409, forms.errors(BookSlot, exc))
    return redirect(f"/s/{booked.token}", saved="again" if booked.again else "booked")


# One session ----------------------------------------------------------------------------
def _session_page(page: portal.SessionPage, status: int = 200, **extra: Any) -> Response:
    state = request_state.current()
    return render(
        "portal/session.html",
        status=status,
        page=page,
        confirming=state.query("confirm"),
        saved=SAVED.get(state.query("saved")),
        **extra,
    )


@bp.route("/s/{token}", methods=["GET"])
@capability
def session_link(token: str) -> Response:
    deps = request_state.deps()
    return _session_page(portal.session_page(deps, token))


@bp.route("/s/{token}", methods=["POST"], content_types=FORM)
@capability
def session_link_cancel(token: str) -> Response:
    deps = request_state.deps()
    try:
        command = forms.command(CancelSession, request_state.current().form())
        portal.cancel(deps, token, command)
    except InvalidInput as exc:
        page = portal.session_page(deps, token)
        return _session_page(page, 400, errors=forms.errors(CancelSession, exc))
    return redirect(f"/s/{token}", saved="canceled")


def _change_page(page: portal.ChangePage, status: int = 200, **extra: Any) -> Response:
    return render("portal/change.html", status=status, page=page, **extra)


@bp.route("/s/{token}/change", methods=["GET"])
@capability
def session_link_change(token: str) -> Response:
    deps = request_state.deps()
    page = portal.change_page(deps, token)
    if not page.session.can_change:
        return _session_page(page.session)  # explains why (deadline, past, canceled)
    return _change_page(page)


@bp.route("/s/{token}/change", methods=["POST"], content_types=FORM)
@capability
def session_link_move(token: str) -> Response:
    deps = request_state.deps()
    try:
        command = forms.command(ChangeSession, request_state.current().form())
        moved = portal.change(deps, token, command)
    except InvalidInput as exc:
        errors = forms.errors(ChangeSession, exc)
        page = portal.change_page(deps, token)
        if "deadline" in errors or not page.session.can_change:
            return _session_page(page.session, 400, errors=errors)
        return _change_page(page, 409, errors=errors)
    return redirect(f"/s/{moved.token}", saved="changed")


# Last-minute offers -------------------------------------------------------------------------
def _offer_page(token: str) -> Response:
    deps = request_state.deps()
    page = offer_link.offer_page(deps, token)
    return render("portal/offer.html", status=page.status, page=page, token=token)


@bp.route("/o/{token}", methods=["GET"])
@capability
def offer_page(token: str) -> Response:
    return _offer_page(token)


@bp.route("/o/{token}", methods=["POST"], content_types=FORM)
@capability
def offer_accept(token: str) -> Response:
    deps = request_state.deps()
    try:
        session = offer_link.accept_offer(deps, token)
    except InvalidInput:
        return _offer_page(token)  # the page says why (taken, withdrawn, over)
    return redirect(session, saved="booked")


@bp.route("/c/{token}/skip", methods=["POST"], content_types=FORM)
@capability
def portal_skip_week(token: str) -> Response:
    deps = request_state.deps()
    try:
        command = forms.command(portal.SkipWeek, request_state.current().form())
        portal.skip_week(deps, token, command)
    except InvalidInput as exc:
        return render(
            "portal/home.html",
            status=400,
            page=portal.home_page(deps, token),
            saved=None,
            errors=forms.errors(portal.SkipWeek, exc),
        )
    return redirect(f"/c/{token}", saved="skipped")

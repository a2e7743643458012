"""View decorators: sign-in, CSRF and the mapping of domain errors to pages.

Views stay short: parse -> call one service -> render/redirect. Anything a user can
cause arrives here as a DomainError and becomes a 4xx page, never a 500.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from chalice import Response

from chalicelib.domain.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    InvalidToken,
    NotFound,
    RateLimited,
    VersionConflict,
)
from chalicelib.web import request_state
from chalicelib.web.render import error_page, redirect

log = logging.getLogger("pt_bookings.web")

FORM = ["application/x-www-form-urlencoded"]

TOKEN_MESSAGES = {
    "invalid": (
        "This link is not valid",
        "Check that you opened the whole link, or ask for a new one.",
    ),
    "used": ("This link was already used", "Each sign-in link works once. Ask for a new one."),
    "expired": ("This link has expired", "Sign-in links last 15 minutes. Ask for a new one."),
    "no-account": (
        "There is no account for this email",
        "New accounts are by invitation only here.",
    ),
}


def _domain_error_response(exc: DomainError) -> Response:
    if isinstance(exc, NotFound):
        return error_page(404, "Not found", "There is nothing here. It may have been removed.")
    if isinstance(exc, VersionConflict):
        return error_page(409, "Changed elsewhere", exc.user_message)
    if isinstance(exc, Conflict):
        return error_page(409, "That cannot be done", exc.user_message)
    if isinstance(exc, RateLimited):
        minutes = max(1, round(exc.retry_after_seconds / 60))
        response = error_page(
            429,
            "Too many attempts",
            f"For your security we limit sign-in requests. Try again in {minutes} minute"
            f"{'s' if minutes != 1 else ''}.",
        )
        response.headers["Retry-After"] = str(exc.retry_after_seconds)
        return response
    if isinstance(exc, InvalidToken):
        title, message = TOKEN_MESSAGES.get(exc.reason, TOKEN_MESSAGES["invalid"])
        status = 410 if exc.reason in ("used", "expired") else 400
        return error_page(status, title, message, show_login_link=True)
    if isinstance(exc, InvalidInput):
        return error_page(400, "Check the form", "; ".join(exc.errors.values()))
    return error_page(400, "That cannot be done", exc.user_message)


def check_post(state: request_state.RequestState) -> Response | None:
    if state.request.method != "POST":
        return None
    if not state.same_origin() or not state.csrf_ok(state.form().get("csrf_token", "")):
        return error_page(
            403,
            "This form has expired",
            "For your security the form could not be accepted. Go back, reload the page and "
            "try again.",
        )
    return None


def _guarded(state: request_state.RequestState, call: Callable[[], Response]) -> Response:
    """CSRF + same-origin on POST, then the view, with domain errors mapped to pages."""
    refused = check_post(state)
    if refused is not None:
        return refused
    try:
        return call()
    except DomainError as exc:
        return _domain_error_response(exc)


def public(view: Callable[..., Response]) -> Callable[..., Response]:
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        state = request_state.current()
        state.load_session()
        return _guarded(state, lambda: view(*args, **kwargs))

    return wrapper


def trainer(view: Callable[..., Response]) -> Callable[..., Response]:
    """Signed-in trainers only; the view receives the current session first."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        state = request_state.current()
        session = state.load_session()
        if session is None:
            return redirect("/login")
        return _guarded(state, lambda: view(session, *args, **kwargs))

    return wrapper

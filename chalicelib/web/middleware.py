"""HTTP middleware: request state, security headers, cookies and Server-Timing.

Runs around every route, including Chalice's own 405/415/500 answers, which it turns
into HTML pages so a browser never sees a bare JSON error.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from chalice import Response

from chalicelib import observability
from chalicelib.repo import metrics
from chalicelib.web import request_state
from chalicelib.web.render import HTML, error_page

log = logging.getLogger("pt_bookings.web")


CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    )
)


def csp_connecting_to(origins: tuple[str, ...]) -> str:
    """The policy for a page whose script posts files straight to the documents bucket:
    the same, with the bucket's origins added to connect-src (and to nothing else)."""
    if not origins:
        return CSP
    return CSP.replace("connect-src 'self'", "connect-src 'self' " + " ".join(origins))


SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # Sign-in and portal URLs carry secrets: never leak them to another site.
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "Cross-Origin-Opener-Policy": "same-origin",
    # Nothing here is for search engines: dashboards, sign-in and personal portal links.
    "X-Robots-Tag": "noindex, nofollow",
}

_FRIENDLY_ERRORS = {
    405: ("Not allowed", "That action is not available here."),
    415: ("This form could not be read", "Reload the page and try again."),
    500: ("Something went wrong", "Sorry, that did not work. Nothing was changed; try again."),
}


FALLBACK_500 = (
    "<!doctype html><html lang=en><meta charset=utf-8><title>Something went wrong</title>"
    "<h1>Something went wrong</h1><p>Sorry, that did not work. Nothing was changed; try again.</p>"
)


def _error_page(status: int) -> Response:
    title, message = _FRIENDLY_ERRORS[status]
    try:
        return error_page(status, title, message)
    except Exception:  # the error page itself failed: answer with static HTML
        log.exception("error page failed")
        return Response(body=FALLBACK_500, status_code=status, headers={"Content-Type": HTML})


def _friendly(response: Response) -> Response:
    content_type = str(response.headers.get("Content-Type", ""))
    if response.status_code in _FRIENDLY_ERRORS and not content_type.startswith("text/"):
        return _error_page(response.status_code)
    return response


def _signed_in_trainer(state: request_state.RequestState) -> Callable[[], str | None]:
    """The trainer of the request's session once the view has loaded it (never read from
    the cookie before it is checked: a cookie's id is only a claim)."""

    def trainer_id() -> str | None:
        return state.session.trainer.id if state.session is not None else None

    return trainer_id


def _begin_log_context(event: Any, state: request_state.RequestState) -> None:
    lambda_context = getattr(event, "lambda_context", None)
    observability.begin(
        str(getattr(lambda_context, "aws_request_id", "") or ""),
        api_request_id=str((getattr(event, "context", None) or {}).get("requestId") or ""),
        trainer=_signed_in_trainer(state),
    )


def http_middleware(event: Any, get_response: Any) -> Response:
    started = time.perf_counter()
    db = metrics.begin()
    state = request_state.begin(event)
    _begin_log_context(event, state)
    try:
        response = _friendly(get_response(event))
    except Exception:  # a bug, not user input: log it, answer with a page
        # The route pattern, not the path: a client's path holds their link's token.
        route = (getattr(event, "context", None) or {}).get("resourcePath") or "?"
        log.exception("unhandled error on %s %s", getattr(event, "method", "?"), route)
        response = _error_page(500)
    headers = response.headers
    for name, value in SECURITY_HEADERS.items():
        headers.setdefault(name, value)
    if state.cfg.hsts:
        headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
    if str(headers.get("Content-Type", HTML)).startswith("text/html"):
        headers["Cache-Control"] = "no-store"
    if state.set_cookies:
        headers["Set-Cookie"] = state.set_cookies  # a list becomes multi-value headers
    if state.cfg.server_timing:
        app_ms = (time.perf_counter() - started) * 1000
        headers["Server-Timing"] = (
            f'db;dur={db.seconds * 1000:.1f};desc="{db.calls} calls", app;dur={app_ms:.1f}'
        )
    return response

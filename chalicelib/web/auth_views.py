"""Sign-in, sign-out, and the public odds and ends (home, robots.txt, static files)."""

from __future__ import annotations

import logging
import re

from chalice import Blueprint, Response

from chalicelib.domain.errors import InvalidInput
from chalicelib.messaging.email import EmailNotSent
from chalicelib.services import auth
from chalicelib.web import forms, request_state
from chalicelib.web.render import STATIC, error_page, redirect, render
from chalicelib.web.views import FORM, public, trainer

bp = Blueprint(__name__)
log = logging.getLogger("pt_bookings.auth")

ROBOTS = """User-agent: *
Disallow: /c/
Disallow: /s/
Disallow: /o/
Disallow: /login
Disallow: /dashboard
"""

STATIC_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}


@bp.route("/", methods=["GET"])
@public
def home() -> Response:
    state = request_state.current()
    return redirect("/dashboard" if state.session else "/login")


@bp.route("/login", methods=["GET"])
@public
def login_form() -> Response:
    state = request_state.current()
    if state.session:
        return redirect("/dashboard")
    return render("auth/login.html", signed_out=state.query("signed_out") == "1")


@bp.route("/login", methods=["POST"], content_types=FORM)
@public
def login_submit() -> Response:
    state = request_state.current()
    form = state.form()
    try:
        base_url = state.base_url  # first: with no trusted base nothing is counted or written
    except request_state.NoTrustedBaseUrl as exc:
        log.error("sign-in refused: %s", exc)
        return error_page(400, "Sign-in links cannot be sent here", exc.user_message)
    try:
        command = forms.command(auth.RequestSignIn, form)
        email = auth.request_sign_in(request_state.deps(), command, state.client_ip, base_url)
    except InvalidInput as exc:
        errors = forms.errors(auth.RequestSignIn, exc)
        return render("auth/login.html", status=400, errors=errors, form=form, signed_out=False)
    except EmailNotSent as exc:
        # The same for known and unknown addresses (both get an email), so nothing leaks.
        return render(
            "auth/login.html",
            status=400,
            errors={"email": exc.user_message},
            form=form,
            signed_out=False,
        )
    return render("auth/login_sent.html", email=email)


def _confirm_page(
    page: auth.ConfirmPage, form: dict[str, str] | None = None, errors: dict[str, str] | None = None
) -> Response:
    # `form` is what was typed, shown again as typed; without it the name field shows
    # the suggestion.
    return render(
        "auth/login_confirm.html",
        status=400 if errors else 200,
        page=page,
        form=form or {},
        errors=errors or {},
    )


@bp.route("/login/confirm", methods=["GET"])
@public
def login_confirm_page() -> Response:
    token = request_state.current().query("token")
    return _confirm_page(auth.confirm_page(request_state.deps(), token))


@bp.route("/login/confirm", methods=["POST"], content_types=FORM)
@public
def login_confirm() -> Response:
    state = request_state.current()
    form = state.form()
    command = forms.command(auth.ConfirmSignIn, form)
    try:
        signed_in = auth.confirm(request_state.deps(), command)
    except InvalidInput as exc:
        # The link was not used: show the same page again with what was typed.
        page = auth.confirm_page(request_state.deps(), command.token, refused=True)
        return _confirm_page(page, form, forms.errors(auth.ConfirmSignIn, exc))
    state.set_cookie(
        state.cfg.session_cookie,
        signed_in.cookie_value,
        max_age=int(auth.SESSION_LIFETIME.total_seconds()),
    )
    return redirect("/dashboard")


@bp.route("/logout", methods=["POST"], content_types=FORM)
@trainer
def logout(session: auth.CurrentSession) -> Response:
    state = request_state.current()
    auth.sign_out(request_state.deps(), session)
    state.clear_cookie(state.cfg.session_cookie)
    return redirect("/login", signed_out=1)


@bp.route("/robots.txt", methods=["GET"])
def robots() -> Response:
    return Response(body=ROBOTS, headers={"Content-Type": "text/plain; charset=utf-8"})


STATIC_NAME = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9]+)+")


@bp.route("/static/{name}", methods=["GET"])
def static(name: str) -> Response:
    # Only names a shipped file could have: anything else (300 characters, NUL, "..")
    # is a plain 404 before the file system sees it (a long name raised ENAMETOOLONG).
    if len(name) > 64 or not STATIC_NAME.fullmatch(name):
        return Response(
            body="Not found", status_code=404, headers={"Content-Type": "text/plain; charset=utf-8"}
        )
    path = (STATIC / name).resolve()
    content_type = STATIC_TYPES.get(path.suffix)
    if content_type is None or path.parent != STATIC.resolve() or not path.is_file():
        return Response(
            body="Not found", status_code=404, headers={"Content-Type": "text/plain; charset=utf-8"}
        )
    return Response(
        body=path.read_text(encoding="utf-8"),
        headers={
            "Content-Type": content_type,
            "Cache-Control": "public, max-age=31536000, immutable",
        },
    )

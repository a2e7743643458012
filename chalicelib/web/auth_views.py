"""Sign-in, sign-out, and the public odds and ends (home, robots.txt, static files)."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib import runtime
from chalicelib.domain.errors import InvalidInput
from chalicelib.services import auth
from chalicelib.web import request_state
from chalicelib.web.render import STATIC, redirect, render
from chalicelib.web.views import FORM, public, trainer

bp = Blueprint(__name__)

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
        email = auth.request_sign_in(
            runtime.repository(),
            state.cfg,
            form.get("email", ""),
            state.client_ip,
            state.base_url,
            runtime.now(),
        )
    except InvalidInput as exc:
        return render("auth/login.html", status=400, errors=exc.errors, form=form, signed_out=False)
    return render("auth/login_sent.html", email=email)


@bp.route("/login/confirm", methods=["GET"])
@public
def login_confirm_page() -> Response:
    state = request_state.current()
    token = state.query("token")
    email = auth.check_sign_in_token(runtime.repository(), token, runtime.now())
    return render("auth/login_confirm.html", token=token, email=email)


@bp.route("/login/confirm", methods=["POST"], content_types=FORM)
@public
def login_confirm() -> Response:
    state = request_state.current()
    signed_in = auth.confirm_sign_in(
        runtime.repository(), state.cfg, state.form().get("token", ""), runtime.now()
    )
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
    auth.sign_out(runtime.repository(), session)
    state.clear_cookie(state.cfg.session_cookie)
    return redirect("/login", signed_out=1)


@bp.route("/robots.txt", methods=["GET"])
def robots() -> Response:
    return Response(body=ROBOTS, headers={"Content-Type": "text/plain; charset=utf-8"})


@bp.route("/static/{name}", methods=["GET"])
def static(name: str) -> Response:
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

"""Per-request state shared by the middleware, the view decorators and the templates."""

from __future__ import annotations

import hmac
import os
import re
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from chalicelib import runtime
from chalicelib.config import Config
from chalicelib.domain.errors import DomainError
from chalicelib.domain.tokens import new_token
from chalicelib.services.auth import CurrentSession, current_session
from chalicelib.services.deps import Deps


class NoTrustedBaseUrl(DomainError):
    """Neither configuration nor API Gateway says where this app lives."""

    @property
    def user_message(self) -> str:
        return (
            "Links cannot be sent from this address: the app does not know its public URL. "
            "Set PUBLIC_BASE_URL for this stage."
        )


# A DNS name with an optional port: what API Gateway reports as its own domain.
_HOST_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?(?::[0-9]{1,5})?")


def trusted_base_url(configured: str, context: Any, explicit_prefix: str | None) -> str:
    """Where links in emails and messages point, from sources a client cannot choose.

    Never from Host or X-Forwarded-* headers: a POST to /login with `Host: evil.example`
    would otherwise email the victim a real token on the attacker's site. First
    PUBLIC_BASE_URL (always set locally and on the test stage), else, deployed, the
    domainName API Gateway puts in the Lambda event's requestContext (it is the domain
    the request was routed by, not a header) with the stage for execute-api URLs.
    """
    if configured:
        parts = urlsplit(configured)
        if parts.scheme not in ("http", "https") or not _HOST_NAME.fullmatch(parts.netloc):
            raise NoTrustedBaseUrl(f"PUBLIC_BASE_URL is not an http(s) URL: {configured!r}")
        return configured.rstrip("/")
    context = context or {}
    domain = str(context.get("domainName") or "")
    if not _HOST_NAME.fullmatch(domain):
        raise NoTrustedBaseUrl("no PUBLIC_BASE_URL and no domainName in the request context")
    if explicit_prefix is not None:
        prefix = explicit_prefix.rstrip("/")
    elif domain.lower().endswith(".amazonaws.com"):
        stage = str(context.get("stage") or "api")
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,128}", stage):
            raise NoTrustedBaseUrl(f"unexpected stage in the request context: {stage!r}")
        prefix = f"/{stage}"
    else:
        prefix = ""  # a custom domain maps the stage at its root
    # API Gateway only serves HTTPS, so the scheme is never taken from the request.
    return f"https://{domain.lower()}{prefix}"


@dataclass
class RequestState:
    request: Any
    cfg: Config
    prefix: str
    cookies: dict[str, str]
    now: datetime  # the request's one instant: every rule, read and write agree on it
    set_cookies: list[str] = field(default_factory=list)
    session: CurrentSession | None = None
    session_loaded: bool = False
    anonymous_csrf: str | None = None
    _deps: Deps | None = None

    @property
    def deps(self) -> Deps:
        """What this request's use cases are handed (made on first use)."""
        if self._deps is None:
            try:
                base = self.base_url
            except NoTrustedBaseUrl:
                base = ""  # a link maker refuses in words; pages without links still work
            self._deps = runtime.deps(self.now, base_url=base)
            if base and not self.cfg.public_base_url:
                runtime.remember_public_url(self._deps, base)
        return self._deps

    # URLs ----------------------------------------------------------------------------
    def url_for(self, path: str, **query: Any) -> str:
        url = f"{self.prefix}{path}"
        params = {k: v for k, v in query.items() if v is not None}
        return f"{url}?{urlencode(params)}" if params else url

    @property
    def base_url(self) -> str:
        """Absolute base for links sent out of band (emails, messages), stage prefix included.

        The one source of absolute links; raises NoTrustedBaseUrl rather than guess.
        """
        return trusted_base_url(
            self.cfg.public_base_url, self.request.context, os.environ.get("URL_PREFIX")
        )

    @property
    def client_ip(self) -> str:
        identity = (self.request.context or {}).get("identity") or {}
        return str(identity.get("sourceIp") or "unknown")

    # Forms ---------------------------------------------------------------------------
    def form(self) -> dict[str, str]:
        raw = self.request.raw_body or b""
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        # Last value wins for repeated keys; no form here posts lists.
        return dict(parse_qsl(text, keep_blank_values=True))

    def form_list(self, name: str) -> list[str]:
        """Every value of a repeated field (checkboxes)."""
        raw = self.request.raw_body or b""
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        return [value for key, value in parse_qsl(text, keep_blank_values=False) if key == name]

    def query(self, name: str, default: str = "") -> str:
        return (self.request.query_params or {}).get(name, default)

    # Session and CSRF ----------------------------------------------------------------
    def load_session(self) -> CurrentSession | None:
        if not self.session_loaded:
            self.session_loaded = True
            cookie = self.cookies.get(self.cfg.session_cookie)
            if cookie:
                self.session = current_session(self.deps.repo, cookie, self.now)
        return self.session

    @property
    def csrf_token(self) -> str:
        if self.session is not None:
            return self.session.csrf
        if self.anonymous_csrf is None:
            existing = self.cookies.get(self.cfg.csrf_cookie, "")
            if len(existing) == 43:
                self.anonymous_csrf = existing
            else:
                # Double-submit token for forms shown before sign-in (login, confirm).
                self.anonymous_csrf = new_token()
                self.set_cookie(self.cfg.csrf_cookie, self.anonymous_csrf, max_age=None)
        return self.anonymous_csrf

    def csrf_ok(self, submitted: str) -> bool:
        if self.session is not None:
            expected = self.session.csrf
        else:
            expected = self.cookies.get(self.cfg.csrf_cookie, "")
        return bool(expected) and hmac.compare_digest(expected, submitted or "")

    def same_origin(self) -> bool:
        """Browsers tell us where a POST came from; refuse anything cross-site."""
        headers = self.request.headers
        fetch_site = headers.get("sec-fetch-site")
        if fetch_site and fetch_site not in ("same-origin", "none"):
            return False
        origin = headers.get("origin")
        if origin and origin != "null":
            host = headers.get("host", "")
            return origin.split("://", 1)[-1] == host
        return True

    # Cookies -------------------------------------------------------------------------
    def set_cookie(self, name: str, value: str, *, max_age: int | None) -> None:
        parts = [f"{name}={value}", "Path=/", "HttpOnly", "SameSite=Lax"]
        if self.cfg.cookie_secure:
            parts.append("Secure")
        if max_age is not None:
            parts.append(f"Max-Age={max_age}")
        self.set_cookies.append("; ".join(parts))

    def clear_cookie(self, name: str) -> None:
        self.set_cookie(name, "", max_age=0)


_state: ContextVar[RequestState | None] = ContextVar("request_state", default=None)


def _parse_cookies(header: str) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header or "")
    except CookieError:
        return {}
    return {key: morsel.value for key, morsel in jar.items()}


def _stage_prefix(request: Any, cfg: Config) -> str:
    """Deployed execute-api URLs carry the stage (/api); custom domains and local do not."""
    explicit = os.environ.get("URL_PREFIX")
    if explicit is not None:
        return explicit.rstrip("/")
    host = (request.headers or {}).get("host", "")
    if host.endswith(".amazonaws.com"):
        # API Gateway puts the stage in the request context; "api" is Chalice's default.
        return "/" + str((request.context or {}).get("stage") or "api")
    return ""


def begin(request: Any) -> RequestState:
    cfg = runtime.config()
    state = RequestState(
        request=request,
        cfg=cfg,
        prefix=_stage_prefix(request, cfg),
        cookies=_parse_cookies((request.headers or {}).get("cookie", "")),
        now=runtime.now(),
    )
    _state.set(state)
    return state


def current() -> RequestState:
    state = _state.get()
    if state is None:
        raise RuntimeError("no request in progress")
    return state


def deps() -> Deps:
    """The current request's dependencies (see `RequestState.deps`)."""
    return current().deps

"""Functional tests drive the real app through chalice.test.Client, cookies and all."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode, urlparse

import pytest
from chalice.test import Client

from app import app
from chalicelib.messaging import email as email_module
from tests.conftest import ROOT

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
TIMING = re.compile(r'db;dur=([\d.]+);desc="(\d+) calls", app;dur=([\d.]+)')


@dataclass
class Page:
    status: int
    headers: dict[str, Any]
    body: str

    @property
    def location(self) -> str:
        return str(self.headers.get("location", ""))

    @property
    def db_calls(self) -> int:
        match = TIMING.search(self.headers.get("server-timing", ""))
        assert match, f"no Server-Timing header in {self.headers}"
        return int(match.group(2))

    def csrf(self) -> str:
        match = CSRF.search(self.body)
        assert match, "page has no CSRF field"
        return match.group(1)


@dataclass
class Browser:
    """A user agent with a cookie jar, on top of Chalice's in-process test client."""

    client: Client
    outbox: list[email_module.Email]
    cookies: dict[str, str] = field(default_factory=dict)
    # The CSRF token a page gave this browser, by the cookie it belongs to (the session's,
    # or the signed-out one): stable while that cookie is, so a POST need not draw a page
    # first. A new sign-in (a new cookie) asks again.
    _csrf_seen: dict[str, str] = field(default_factory=dict)

    def request(self, method: str, path: str, body: str = "", headers: dict | None = None) -> Page:
        all_headers = {"host": "testserver"}
        if self.cookies:
            all_headers["cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body:
            all_headers["content-type"] = "application/x-www-form-urlencoded"
        all_headers.update(headers or {})
        response = self.client.http.request(method, path, headers=all_headers, body=body.encode())
        headers_lower = {k.lower(): v for k, v in response.headers.items()}
        set_cookie = headers_lower.get("set-cookie")
        for raw in (
            set_cookie if isinstance(set_cookie, list) else [set_cookie] if set_cookie else []
        ):
            jar: SimpleCookie = SimpleCookie()
            jar.load(raw)
            for name, morsel in jar.items():
                if morsel["max-age"] == "0":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return Page(response.status_code, headers_lower, response.body.decode())

    def get(self, path: str, **headers: str) -> Page:
        return self.request("GET", path, headers=headers)

    def post(
        self, path: str, data: dict[str, str], *, csrf: str | None = None, **headers: str
    ) -> Page:
        """POST a form; by default with the CSRF token a page would have given this browser."""
        if csrf is None and "csrf_token" not in data:
            csrf = self.page_csrf()
        body = {**data}
        if csrf is not None:
            body.setdefault("csrf_token", csrf)
        return self.request("POST", path, urlencode(body), headers)

    def page_csrf(self) -> str:
        """The token a page would have given this browser now."""
        owner = self.cookies.get("pt_session") or self.cookies.get("pt_csrf") or ""
        if owner and owner in self._csrf_seen:
            return self._csrf_seen[owner]
        token = self.get("/dashboard" if "pt_session" in self.cookies else "/login").csrf()
        owner = self.cookies.get("pt_session") or self.cookies.get("pt_csrf") or ""
        if owner:
            self._csrf_seen[owner] = token
        return token

    def follow(self, page: Page) -> Page:
        assert page.status in (302, 303), page.body[:500]
        location = urlparse(page.location)
        return self.get(location.path + (f"?{location.query}" if location.query else ""))

    def sign_in(self, email: str = "coach@example.com") -> Page:
        self.post("/login", {"email": email})
        link = urlparse(latest_link(self.outbox, email))
        confirm_path = f"{link.path}?{link.query}"
        confirm = self.get(confirm_path)
        assert confirm.status == 200, confirm.body
        done = self.request(
            "POST",
            "/login/confirm",
            urlencode({"csrf_token": confirm.csrf(), "token": link.query.split("token=")[1]}),
        )
        assert done.status == 303, done.body
        return self.follow(done)


def latest_link(outbox: list[email_module.Email], email: str) -> str:
    for message in reversed(outbox):
        if message.to == email and message.console_line:
            return message.console_line.removeprefix("Sign in: ")
    raise AssertionError(f"no sign-in email to {email}")


@pytest.fixture
def outbox(monkeypatch: pytest.MonkeyPatch) -> list[email_module.Email]:
    sent: list[email_module.Email] = []
    original = email_module._print_to_console

    def capture(message: email_module.Email) -> None:
        sent.append(message)
        original(message)

    monkeypatch.setattr(email_module, "_print_to_console", capture)
    return sent


@pytest.fixture
def chalice_client(aws: None) -> Iterator[Client]:
    with Client(app, stage_name="test", project_dir=ROOT) as client:
        yield client


@pytest.fixture
def browser(chalice_client: Client, outbox: list[email_module.Email]) -> Browser:
    return Browser(chalice_client, outbox)


@pytest.fixture
def trainer(browser: Browser) -> Browser:
    """A browser signed in as a brand-new trainer."""
    browser.sign_in("coach@example.com")
    return browser


@pytest.fixture
def other_trainer(chalice_client: Client, outbox: list[email_module.Email]) -> Browser:
    other = Browser(chalice_client, outbox)
    other.sign_in("rival@example.com")
    return other

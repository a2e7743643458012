"""A user agent with a cookie jar over chalice.test.Client, like the functional tests'
Browser (tests/functional/conftest.py), without pytest."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode, urlparse

from chalice.test import Client

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
TIMING = re.compile(r'db;dur=([\d.]+);desc="(\d+) calls", app;dur=([\d.]+)')


@dataclass
class Page:
    status: int
    headers: dict[str, Any]
    body: str

    @property
    def db_calls(self) -> int | None:
        """DynamoDB round trips, as the app's own Server-Timing header counts them."""
        match = TIMING.search(str(self.headers.get("server-timing", "")))
        return int(match.group(2)) if match else None

    def csrf(self) -> str:
        match = CSRF.search(self.body)
        if not match:
            raise RuntimeError("page has no CSRF field")
        return match.group(1)


@dataclass
class Browser:
    client: Client
    cookies: dict[str, str] = field(default_factory=dict)

    def request(self, method: str, path: str, body: str = "") -> Page:
        headers = {"host": "testserver"}
        if self.cookies:
            headers["cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body:
            headers["content-type"] = "application/x-www-form-urlencoded"
        response = self.client.http.request(method, path, headers=headers, body=body.encode())
        lower = {k.lower(): v for k, v in response.headers.items()}
        raw = lower.get("set-cookie")
        for line in raw if isinstance(raw, list) else [raw] if raw else []:
            jar: SimpleCookie = SimpleCookie()
            jar.load(line)
            for name, morsel in jar.items():
                if morsel["max-age"] == "0":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return Page(response.status_code, lower, response.body.decode())

    def get(self, path: str) -> Page:
        return self.request("GET", path)

    def post(self, path: str, data: dict[str, str]) -> Page:
        return self.request("POST", path, urlencode(data))

    def sign_in_with_link(self, link: str) -> None:
        """Open a sign-in link and confirm it, as a trainer does (GET shows, POST uses)."""
        parsed = urlparse(link)
        confirm = self.get(f"{parsed.path}?{parsed.query}")
        if confirm.status != 200:
            raise RuntimeError(f"sign-in link refused: {confirm.status}")
        token = parsed.query.split("token=", 1)[1]
        done = self.post("/login/confirm", {"csrf_token": confirm.csrf(), "token": token})
        if done.status != 303:
            raise RuntimeError(f"sign-in not confirmed: {done.status} {done.body[:300]}")

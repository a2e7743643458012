"""Read-only checks against a live base URL (`make smoke STAGE=prod`, or
`python -m infra.deploy smoke --stage prod [--url URL]`).

Only GETs, never a form, a cookie or a sign-in: nothing here writes to the stage. Each
check prints one line; the exit status is 1 when any failed. Standard library only, so it
runs wherever the deploy runs.
"""

from __future__ import annotations

import re
import secrets
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from urllib.parse import urljoin, urlsplit

TIMEOUT_SECONDS = 20.0
STATIC_LINK = re.compile(r"""(?:href|src)="([^"]*/static/[^"]+)\"""")


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Message
    body: str

    def header(self, name: str) -> str:
        return self.headers.get(name, "") or ""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # a redirect is an answer to check, not to follow


_opener = urllib.request.build_opener(_NoRedirects)


def fetch(url: str) -> Answer:
    request = urllib.request.Request(url, headers={"User-Agent": "pt-bookings-smoke"})
    try:
        with _opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            body = response.read(512_000).decode("utf-8", "replace")
            return Answer(response.status, response.headers, body)
    except urllib.error.HTTPError as exc:  # 3xx (not followed), 4xx and 5xx
        body = exc.read(512_000).decode("utf-8", "replace") if exc.fp else ""
        return Answer(exc.code, exc.headers, body)


@dataclass(frozen=True)
class Result:
    name: str
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def check_login(base: str, get: Callable[[str], Answer]) -> tuple[Result, Answer]:
    answer = get(base + "/login")
    problems = []
    if answer.status != 200:
        problems.append(f"status {answer.status}, expected 200")
    csp = answer.header("Content-Security-Policy")
    if "frame-ancestors 'none'" not in csp:
        problems.append(f"Content-Security-Policy without frame-ancestors 'none': {csp!r}")
    if answer.header("X-Content-Type-Options").lower() != "nosniff":
        problems.append("X-Content-Type-Options is not nosniff")
    hsts = answer.header("Strict-Transport-Security")
    if urlsplit(base).scheme == "https" and "max-age=" not in hsts:
        problems.append("no Strict-Transport-Security on https")
    if "no-store" not in answer.header("Cache-Control"):
        problems.append("the sign-in page may be cached (no Cache-Control: no-store)")
    return Result("GET /login: 200 with the security headers", problems), answer


def check_static(base: str, login: Answer, get: Callable[[str], Answer]) -> Result:
    linked = STATIC_LINK.findall(login.body)
    if not linked:
        return Result("a static asset", ["the sign-in page links no /static/ file"])
    url = urljoin(base + "/", linked[0].replace("&amp;", "&"))
    answer = get(url)
    problems = [] if answer.status == 200 else [f"{linked[0]}: status {answer.status}"]
    if answer.status == 200 and not answer.header("Content-Type"):
        problems.append(f"{linked[0]}: no Content-Type")
    return Result(f"GET {urlsplit(url).path}: 200", problems)


def check_forged_portal_link(base: str, get: Callable[[str], Answer]) -> Result:
    # A well-formed token nobody was given: it must be an ordinary "not found", never 500.
    answer = get(base + "/c/" + secrets.token_urlsafe(32))
    problems = [] if answer.status == 404 else [f"status {answer.status}, expected 404"]
    return Result("GET a forged portal link: 404", problems)


def check_dashboard_needs_sign_in(base: str, get: Callable[[str], Answer]) -> Result:
    answer = get(base + "/dashboard")
    location = answer.header("Location")
    problems = []
    if answer.status not in (302, 303):
        problems.append(f"status {answer.status}, expected a redirect to sign in")
    elif "/login" not in location:
        problems.append(f"redirects to {location!r}, not the sign-in page")
    return Result("GET /dashboard without a session: redirect to sign in", problems)


def run(base: str, get: Callable[[str], Answer] = fetch) -> list[Result]:
    base = base.rstrip("/")
    login, answer = check_login(base, get)
    return [
        login,
        check_static(base, answer, get),
        check_forged_portal_link(base, get),
        check_dashboard_needs_sign_in(base, get),
    ]


def main_for(base: str) -> int:
    base = base.rstrip("/")
    print(f"Smoke test of {base} (read-only):", flush=True)
    try:
        results = run(base)
    except OSError as exc:  # DNS, refused, TLS, timeout: one line, not a traceback
        print(f"  FAIL could not reach {base}: {exc}", flush=True)
        return 1
    for result in results:
        print(f"  {'ok  ' if result.ok else 'FAIL'} {result.name}", flush=True)
        for problem in result.problems:
            print(f"       {problem}", flush=True)
    return 0 if all(result.ok for result in results) else 1


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m infra.smoke <base URL>")
    sys.exit(main_for(sys.argv[1]))

"""`make run` as a developer uses it: a real process, a printed link, a clean stop."""

from __future__ import annotations

import http.cookiejar
import re
import signal
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.runner import start_runner

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Session:
    """A tiny cookie-keeping HTTP client (what a browser does, minus the pixels)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def get(self, url: str) -> str:
        with self.opener.open(url if url.startswith("http") else self.base + url) as response:
            return response.read().decode()

    def post(self, path: str, data: dict[str, str]) -> str:
        body = urllib.parse.urlencode(data).encode()
        with self.opener.open(self.base + path, body) as response:
            return response.read().decode()

    def sign_in(self, link: str) -> str:
        confirm = self.get(link)
        token = link.split("token=")[1]
        csrf = CSRF.search(confirm)
        assert csrf, confirm
        return self.post("/login/confirm", {"csrf_token": csrf.group(1), "token": token})


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_make_run_serves_signs_in_keeps_data_and_stops_cleanly(
    tmp_path: Path, stop_signal: int
) -> None:
    first = start_runner(tmp_path, job_interval="0.5")
    try:
        (link,) = first.sign_in_links()
        assert link.startswith(f"{first.base_url}/login/confirm?token=")
        browser = Session(first.base_url)
        dashboard = browser.sign_in(link)
        assert "Getting started" in dashboard and "Sam Carter PT" in dashboard
        assert "Riverside Studio" in browser.get("/dashboard/settings/locations")
        csrf = CSRF.search(browser.get("/dashboard/settings/locations"))
        assert csrf
        browser.post(
            "/dashboard/settings/locations", {"csrf_token": csrf.group(1), "name": "Rooftop Gym"}
        )
        first.wait_for_line("Scheduled functions fired: expire_offer_locks, dispatch_messages")
        assert first.children() == []  # one process: moto and the server are threads
    finally:
        code = first.stop(signum=stop_signal)
    assert code == 0, first.output
    assert "Stopped; data saved." in first.lines

    second = start_runner(tmp_path)
    try:
        (link,) = second.sign_in_links()
        assert "restored" in second.output
        assert "demo trainer seeded" not in second.output
        browser = Session(second.base_url)
        browser.sign_in(link)
        assert "Rooftop Gym" in browser.get("/dashboard/settings/locations")
    finally:
        assert second.stop() == 0


def test_a_sign_in_requested_in_the_browser_is_printed_as_a_link(tmp_path: Path) -> None:
    runner = start_runner(tmp_path)
    try:
        browser = Session(runner.base_url)
        csrf = CSRF.search(browser.get("/login"))
        assert csrf
        since = runner.mark()
        browser.post("/login", {"csrf_token": csrf.group(1), "email": "new@example.com"})
        link = runner.wait_for_sign_in_link("new@example.com", since)
        assert "new@example.com" in browser.sign_in(link)
    finally:
        assert runner.stop() == 0


def test_a_client_resetting_its_connection_is_not_logged_as_an_error(tmp_path: Path) -> None:
    import socket
    import struct
    import time

    runner = start_runner(tmp_path)
    try:
        host, port = urllib.parse.urlsplit(runner.base_url).netloc.split(":")
        for _ in range(3):  # what a browser does when it drops a kept-alive connection
            sock = socket.create_connection((host, int(port)))
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.send(b"GET /login HTTP/1.1\r\n")  # a partial request, then a reset
            sock.close()
        time.sleep(0.5)
        assert "<h1" in Session(runner.base_url).get("/login")  # still serving
    finally:
        code = runner.stop()
    assert code == 0
    assert "Traceback" not in runner.output, runner.output

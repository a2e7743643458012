"""`make run` as a developer uses it: a real process, a printed link, a clean stop."""

from __future__ import annotations

import http.cookiejar
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Runner:
    def __init__(self, data_dir: Path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        env = {
            **os.environ,
            "PORT": str(self.port),
            "PT_DATA_DIR": str(data_dir),
            "JOB_INTERVAL": "0.5",
            "PYTHONUNBUFFERED": "1",
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "infra.local_run"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout
        for line in self.process.stdout:
            self.output.append(line.rstrip())
            self.lines.put(line.rstrip())

    def wait_for(self, prefix: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                if self.process.poll() is not None:
                    break
                continue
            if line.startswith(prefix):
                return line
        raise AssertionError(f"no line starting {prefix!r}; output:\n" + "\n".join(self.output))

    def children(self) -> list[int]:
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:
                found.append(int(stat.parent.name))
        return found

    def stop(self, signum: int) -> int:
        self.process.send_signal(signum)
        return self.process.wait(timeout=30)


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
    first = Runner(tmp_path)
    try:
        link = first.wait_for("Sign in: ").removeprefix("Sign in: ")
        assert link.startswith(f"http://127.0.0.1:{first.port}/login/confirm?token=")
        browser = Session(f"http://127.0.0.1:{first.port}")
        dashboard = browser.sign_in(link)
        assert "Getting started" in dashboard and "Sam Carter PT" in dashboard
        assert "Riverside Studio" in browser.get("/dashboard/settings/locations")
        csrf = CSRF.search(browser.get("/dashboard/settings/locations"))
        assert csrf
        browser.post(
            "/dashboard/settings/locations", {"csrf_token": csrf.group(1), "name": "Rooftop Gym"}
        )
        first.wait_for("Scheduled functions fired: expire_offer_locks, dispatch_messages")
        assert first.children() == []  # one process: moto and the server are threads
    finally:
        code = first.stop(stop_signal)
    assert code == 0, "\n".join(first.output)
    assert "Stopped; data saved." in first.output

    second = Runner(tmp_path)
    try:
        link = second.wait_for("Sign in: ").removeprefix("Sign in: ")
        assert any("restored" in line for line in second.output)
        assert not any("demo trainer seeded" in line for line in second.output)
        browser = Session(f"http://127.0.0.1:{second.port}")
        browser.sign_in(link)
        assert "Rooftop Gym" in browser.get("/dashboard/settings/locations")
    finally:
        assert second.stop(signal.SIGTERM) == 0


def test_a_sign_in_requested_in_the_browser_is_printed_as_a_link(tmp_path: Path) -> None:
    runner = Runner(tmp_path)
    try:
        runner.wait_for("Sign in: ")
        browser = Session(f"http://127.0.0.1:{runner.port}")
        csrf = CSRF.search(browser.get("/login"))
        assert csrf
        browser.post("/login", {"csrf_token": csrf.group(1), "email": "new@example.com"})
        link = runner.wait_for("Sign in: ").removeprefix("Sign in: ")
        assert "new@example.com" in browser.sign_in(link)
    finally:
        assert runner.stop(signal.SIGTERM) == 0

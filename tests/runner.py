"""The `make run` process (python -m infra.local_run) as tests start, read and stop it.

Used by the browser tests (one runner for the session) and by the runner's own tests.
Its output is read by a background thread so the pipe never fills, and every line is kept:
the `Sign in: <url>` lines are how tests sign in, exactly as a developer does locally.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STARTUP_TIMEOUT = 60.0
SIGN_IN_PREFIX = "Sign in: "


class Runner:
    """The `infra.local_run` subprocess and every line it has printed so far."""

    def __init__(
        self, process: subprocess.Popen[str], base_url: str, clock_file: Path | None = None
    ) -> None:
        self.process = process
        self.base_url = base_url
        self.clock_file = clock_file
        self._lines: list[str] = []
        self._changed = threading.Condition()
        self._closed = False
        self._reader = threading.Thread(target=self._read, name="runner-stdout", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            with self._changed:
                self._lines.append(raw.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    @property
    def lines(self) -> list[str]:
        with self._changed:
            return list(self._lines)

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def shift_clock(self, seconds: float) -> None:
        """Move the app's clock `seconds` ahead of the machine's (0: back in step)."""
        assert self.clock_file is not None, "this runner's clock cannot be moved"
        self.clock_file.write_text(str(seconds), encoding="utf-8")

    def mark(self) -> int:
        """A position in the output: pass it to a wait so only later lines count."""
        with self._changed:
            return len(self._lines)

    def wait_for(self, find: Callable[[list[str]], str | None], timeout: float, what: str) -> str:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = find(self._lines)
                if found is not None:
                    return found
                remaining = deadline - time.monotonic()
                if self._closed or remaining <= 0:
                    state = "exited" if self._closed else f"still running after {timeout:g} s"
                    pytest.fail(
                        f"Runner never printed {what} ({state}). Output so far:\n"
                        + "\n".join(self._lines),
                        pytrace=False,
                    )
                self._changed.wait(remaining)

    def sign_in_links(self) -> list[str]:
        return [
            line[len(SIGN_IN_PREFIX) :] for line in self.lines if line.startswith(SIGN_IN_PREFIX)
        ]

    def wait_for_sign_in_link(self, email: str, since: int = 0, timeout: float = 15.0) -> str:
        """The link in the first sign-in email to `email` printed after position `since`."""
        header = f"--- email to {email.lower()}:"

        def find(lines: list[str]) -> str | None:
            seen_email = False
            for line in lines[since:]:
                if line.lower().startswith(header):
                    seen_email = True
                elif seen_email and line.startswith(SIGN_IN_PREFIX):
                    return line[len(SIGN_IN_PREFIX) :].strip()
            return None

        return self.wait_for(find, timeout, f"a sign-in link for {email}")

    def wait_for_line(self, prefix: str, timeout: float = 15.0, since: int = 0) -> str:
        """The first line printed after position `since` that starts with `prefix`."""
        return self.wait_for(
            lambda lines: next((ln for ln in lines[since:] if ln.startswith(prefix)), None),
            timeout,
            f"a line starting {prefix!r}",
        )

    def children(self) -> list[int]:
        """Processes whose parent is the runner (there should be none: it uses threads)."""
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:
                found.append(int(stat.parent.name))
        return found

    def stop(self, timeout: float = 30.0, signum: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            pytest.fail(
                f"Runner ignored SIGTERM for {timeout:g} s. Output:\n{self.output}", pytrace=False
            )
        self._reader.join(timeout=10)
        return code


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _runner_environment(port: int, data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    # Nothing from the calling shell or the unit-test fixtures may leak in: the runner
    # decides its own URLs and endpoint, and signs moto requests with throwaway keys.
    for key in ("PUBLIC_BASE_URL", "DYNAMODB_ENDPOINT", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        env.pop(key, None)
    env.update(
        {
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "PT_DATA_DIR": str(data_dir),
            # The app's clock follows this file (infra/local_run._follow_clock_file).
            "PT_CLOCK_FILE": str(data_dir / "clock-offset"),
            "JOB_INTERVAL": "1",
            "PYTHONUNBUFFERED": "1",
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": "eu-west-2",
        }
    )
    return env


def start_runner(data_dir: Path, job_interval: str = "1") -> Runner:
    """Start the runner on a free port and wait for its first `Sign in:` line."""
    port = _free_port()
    env = _runner_environment(port, data_dir)
    env["JOB_INTERVAL"] = job_interval
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.local_run"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        errors="replace",
        bufsize=1,
    )
    started = Runner(process, f"http://127.0.0.1:{port}", data_dir / "clock-offset")
    try:
        started.wait_for_line(SIGN_IN_PREFIX, STARTUP_TIMEOUT)
    except BaseException:
        started.stop()
        raise
    return started

"""`make run` as a developer uses it: a real process, a printed link, a clean stop."""

from __future__ import annotations

import http.client
import http.cookiejar
import json
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
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from infra import local_dynamodb
from tests.runner import Runner, start_runner

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Session:
    """A tiny cookie-keeping HTTP client (what a browser does, minus the pixels)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

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


LOCATIONS = "/dashboard/settings/locations"
MOTO_ENDPOINT = re.compile(r"embedded moto at (http://127\.0\.0\.1:\d+)")
LOCAL_TABLE = "pt-bookings-local"


def _address(runner: Runner) -> tuple[str, int]:
    host, port = urllib.parse.urlsplit(runner.base_url).netloc.split(":")
    return host, int(port)


def _moto(runner: Runner) -> Any:
    found = MOTO_ENDPOINT.search(runner.output)
    assert found, runner.output
    # One attempt, short timeouts: a refused write must show up as refused, not be retried
    # into the next runner's lifetime.
    config = Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=15)
    return boto3.client(
        "dynamodb", endpoint_url=found.group(1), region_name="eu-west-2", config=config
    )


class LocationPoster:
    """Adds locations through the real form on one kept-alive connection, as fast as the
    server answers, and keeps the names whose POST was acknowledged (303)."""

    def __init__(self, runner: Runner, session: Session, worker: int) -> None:
        self.host, self.port = _address(runner)
        self.worker = worker
        self.cookie = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
        csrf = CSRF.search(session.get(LOCATIONS))
        assert csrf
        self.csrf = csrf.group(1)
        self.acknowledged: list[tuple[str, float]] = []
        self.refusals: list[int] = []
        self.unanswered_since: float | None = None  # when the request that got no answer left

    def run(self, stop: threading.Event, progress: threading.Semaphore) -> None:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        number = 0
        while not stop.is_set():
            name = f"Gym {self.worker}-{number}"
            body = urllib.parse.urlencode({"csrf_token": self.csrf, "name": name})
            headers = {
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": self.cookie,
            }
            sent = time.monotonic()
            try:
                connection.request("POST", LOCATIONS, body, headers)
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                self.unanswered_since = sent
                return
            if response.status != 303:
                self.refusals.append(response.status)
                return
            self.acknowledged.append((name, time.monotonic()))
            progress.release()
            number += 1


class ProbeWriter:
    """PutItem straight to the embedded DynamoDB, keeping the keys moto acknowledged: a
    write that reaches moto after the last snapshot must be refused, not answered."""

    def __init__(self, runner: Runner, worker: int) -> None:
        self.client = _moto(runner)
        self.worker = worker
        self.acknowledged: list[str] = []

    def run(self, stop: threading.Event, progress: threading.Semaphore) -> None:
        number = 0
        while not stop.is_set():
            key = f"probe#{self.worker}#{number}"
            try:
                self.client.put_item(
                    TableName=LOCAL_TABLE, Item={"PK": {"S": key}, "SK": {"S": "probe"}}
                )
            except (BotoCoreError, ClientError):
                return  # refused or unreachable: not acknowledged
            self.acknowledged.append(key)
            progress.release()
            number += 1


def test_every_acknowledged_write_survives_a_stop_with_requests_in_flight(
    tmp_path: Path,
) -> None:
    first = start_runner(tmp_path)
    stop = threading.Event()
    progress = threading.Semaphore(0)
    threads: list[threading.Thread] = []
    try:
        browser = Session(first.base_url)
        browser.sign_in(first.sign_in_links()[0])
        posters = [LocationPoster(first, browser, worker) for worker in range(6)]
        probes = [ProbeWriter(first, worker) for worker in range(2)]
        threads += [
            threading.Thread(target=writer.run, args=(stop, progress), daemon=True)
            for writer in (*posters, *probes)
        ]
        for thread in threads:
            thread.start()
        for _ in range(40):  # writes are flowing on every side before the stop
            assert progress.acquire(timeout=30), first.output
        signalled = time.monotonic()
    finally:
        code = first.stop()
        stop.set()
    for thread in threads:
        thread.join(timeout=30)
        assert not thread.is_alive()
    assert code == 0, first.output
    assert "Stopped; data saved." in first.lines
    assert "Traceback" not in first.output, first.output
    acknowledged = [name for poster in posters for name, _ in poster.acknowledged]
    finished_after_the_signal = [
        name for poster in posters for name, at in poster.acknowledged if at > signalled
    ]
    # The stop really did meet requests under way; each request sent before it was answered
    # (finished, or turned away with a 503), none was cut off.
    assert finished_after_the_signal, "no request was in flight at the stop: nothing tested"
    assert {status for poster in posters for status in poster.refusals} <= {503}
    cut_off = [
        poster.worker
        for poster in posters
        if poster.unanswered_since is not None and poster.unanswered_since < signalled
    ]
    assert cut_off == [], first.output
    probed = {key for probe in probes for key in probe.acknowledged}
    assert probed

    second = start_runner(tmp_path)
    try:
        browser = Session(second.base_url)
        browser.sign_in(second.sign_in_links()[0])
        page = browser.get(LOCATIONS)
        assert [name for name in acknowledged if f"{name}<" not in page] == []
        stored = set()
        for items in _moto(second).get_paginator("scan").paginate(TableName=LOCAL_TABLE):
            stored |= {item["PK"]["S"] for item in items["Items"]}
        assert probed - stored == set()
    finally:
        assert second.stop() == 0


def _saved_location_names(data_dir: Path) -> set[str]:
    """The locations a restart would restore: the snapshot file is all it reads (the restart
    itself is covered above). Parsing it also proves it whole, whatever a kill interrupted."""
    items = json.loads((data_dir / "dynamodb.json").read_text())["items"]
    return {i["name"]["S"] for i in items if i.get("type", {}).get("S") == "location"}


def test_a_request_under_way_at_the_stop_is_finished_and_kept(tmp_path: Path) -> None:
    first = start_runner(tmp_path)
    try:
        browser = Session(first.base_url)
        browser.sign_in(first.sign_in_links()[0])
        csrf = CSRF.search(browser.get(LOCATIONS))
        assert csrf
        body = urllib.parse.urlencode({"csrf_token": csrf.group(1), "name": "Late Studio"})
        cookie = "; ".join(f"{c.name}={c.value}" for c in browser.cookies)
        host, port = _address(first)
        with socket.create_connection((host, port), timeout=20) as sock:
            # Headers now, body later: "100 Continue" is the server saying it has taken the
            # request on, which makes "under way at the stop" an observable moment.
            sock.sendall(
                (
                    f"POST {LOCATIONS} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                    f"Cookie: {cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                    f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n"
                ).encode()
            )
            reader = sock.makefile("rb")
            assert reader.readline().startswith(b"HTTP/1.1 100"), "no 100 Continue"
            assert reader.readline() == b"\r\n"
            since = first.mark()
            first.process.send_signal(signal.SIGTERM)
            stopping = first.wait_for_line("Stopping on SIGTERM", since=since)
            assert "finishing 1 request(s)" in stopping
            with pytest.raises(ConnectionRefusedError):  # no new connections meanwhile
                socket.create_connection((host, port), timeout=5).close()
            sock.sendall(body.encode())
            status = reader.readline()
            assert status.startswith(b"HTTP/1.1 303"), status
    finally:
        code = first.stop()
    assert code == 0, first.output
    assert first.lines[-1] == "Stopped; data saved.", first.output
    assert "Late Studio" in _saved_location_names(tmp_path)


def _post_location(session: Session, name: str) -> None:
    csrf = CSRF.search(session.get(LOCATIONS))
    assert csrf
    body = urllib.parse.urlencode({"csrf_token": csrf.group(1), "name": name}).encode()
    request = urllib.request.Request(session.base + LOCATIONS, body)
    with session.opener.open(request) as response:  # follows the 303: the write is done
        assert response.status == 200


def _wait_for_a_snapshot_containing(path: Path, text: str, timeout: float) -> None:
    """Returns just after the runner replaced its snapshot with one containing `text`.
    Polling: another process's file has no event to wait on."""
    deadline = time.monotonic() + timeout
    seen: tuple[int, int] | None = None
    while time.monotonic() < deadline:
        try:
            stat = path.stat()
        except FileNotFoundError:
            stat = None
        if stat is not None and (stat.st_ino, stat.st_mtime_ns) != seen:
            seen = (stat.st_ino, stat.st_mtime_ns)
            if text in path.read_text():
                return
        time.sleep(0.02)
    pytest.fail(f"no snapshot with {text!r} within {timeout:g} s")


def test_a_write_acknowledged_over_a_second_before_a_kill_survives_it(tmp_path: Path) -> None:
    first = start_runner(tmp_path)
    try:
        browser = Session(first.base_url)
        browser.sign_in(first.sign_in_links()[0])
        _post_location(browser, "Studio Before")
        # Start the clock right after a snapshot, the worst case: the next write then waits
        # a whole snapshot interval to be saved.
        _wait_for_a_snapshot_containing(tmp_path / "dynamodb.json", "Studio Before", 10)
        _post_location(browser, "Studio Kept")
        acknowledged = time.monotonic()
        # The promise under test is time itself: at most about a second of writes is lost.
        time.sleep(max(0.0, acknowledged + 1.5 - time.monotonic()))
    finally:
        code = first.stop(signum=signal.SIGKILL)
    assert code == -signal.SIGKILL
    assert {"Studio Before", "Studio Kept"} <= _saved_location_names(tmp_path)


def test_a_snapshot_never_holds_half_a_transaction(aws: None, tmp_path: Path) -> None:
    client = boto3.client("dynamodb", region_name="eu-west-2")
    table = "pt-bookings-test"
    keys = [{"PK": {"S": "tx"}, "SK": {"S": f"part#{n:02}"}} for n in range(25)]
    # Big enough items that a paginated Scan would need two pages (1 MB each).
    padding = "x" * 60_000
    for key in keys:
        client.put_item(TableName=table, Item={**key, "gen": {"N": "0"}, "pad": {"S": padding}})
    stop = threading.Event()
    committed = [0]

    def write_generations() -> None:
        generation = 0
        while not stop.is_set():
            generation += 1
            client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": table,
                            "Key": key,
                            "UpdateExpression": "SET gen = :g",
                            "ExpressionAttributeValues": {":g": {"N": str(generation)}},
                        }
                    }
                    for key in keys
                ]
            )
            committed[0] = generation

    writer = threading.Thread(target=write_generations, daemon=True)
    writer.start()
    snapshots = local_dynamodb.Snapshots(table, tmp_path / "dynamodb.json")
    seen: set[int] = set()
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and (len(seen) < 12 or committed[0] < 12):
            snapshots.save()
            items = json.loads(snapshots.path.read_text())["items"]
            generations = {int(i["gen"]["N"]) for i in items if i["PK"]["S"] == "tx"}
            assert len(generations) == 1, f"a snapshot mixes generations {sorted(generations)}"
            seen |= generations
    finally:
        stop.set()
        writer.join(timeout=10)
    assert len(seen) >= 10, f"the transactions never raced the snapshots: {sorted(seen)}"


def test_a_burst_of_simultaneous_connections_is_answered_without_resets(tmp_path: Path) -> None:
    runner = start_runner(tmp_path)
    clients = 48
    start = threading.Barrier(clients)
    outcomes: list[tuple[str, float]] = [("not run", 0.0)] * clients
    host, port = _address(runner)
    request = f"GET /login HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n"

    def fetch(index: int) -> None:
        start.wait()
        began = time.monotonic()
        try:
            with socket.create_connection((host, port), timeout=20) as sock:
                connected = time.monotonic() - began
                sock.sendall(request.encode())
                response = b""
                while chunk := sock.recv(65536):
                    response += chunk
            outcomes[index] = (response.split(b"\r\n", 1)[0].decode(), connected)
        except OSError as exc:
            outcomes[index] = (repr(exc), time.monotonic() - began)

    try:
        threads = [threading.Thread(target=fetch, args=(i,)) for i in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        assert runner.stop() == 0
    assert [status for status, _ in outcomes if status != "HTTP/1.1 200 OK"] == []
    # A SYN the kernel dropped for a full backlog is retried after 1 s: any connection that
    # slow was turned away first, even if the retry got in.
    slowest = max(connected for _, connected in outcomes)
    assert slowest < 0.9, f"a connection waited {slowest:.2f} s for the backlog"


def test_a_port_in_use_is_said_plainly_not_as_a_traceback(tmp_path: Path) -> None:
    from tests.runner import ROOT, _runner_environment

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "infra.local_run"],
            cwd=ROOT,
            env=_runner_environment(port, tmp_path),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2
    # One line and nothing else: said before moto (or anything that logs) started.
    assert done.stdout.strip().splitlines() == [
        f"Port {port} is already in use (another `make run`?). Try: PORT={port + 1} make run"
    ]
    assert done.stderr == ""

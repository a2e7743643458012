"""`make run`: the whole app on this machine, in one process.

- moto's DynamoDB server in a thread, the table created from infra/table.yaml;
- data restored from and saved to .local/ (git-ignored) so it survives restarts;
- a demo trainer seeded on first start, and a printed `Sign in: <url>` line;
- the Chalice app served on http://127.0.0.1:8000 (PORT= overrides);
- the scheduled functions fired every few seconds (`chalice local` does not run them).
One process and its threads: Ctrl-C or SIGTERM stops everything and leaves nothing behind.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from chalice import local as chalice_local

ROOT = Path(__file__).resolve().parent.parent
STAGE = "local"
STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}
SNAPSHOT_INTERVAL = 1.0  # a SIGKILL loses at most about this much of the latest writes
DRAIN_TIMEOUT = 10.0  # how long a stop waits for requests and a job run under way


def _stage_environment() -> dict[str, str]:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    env = dict(config.get("environment_variables", {}))
    env.update(config["stages"][STAGE].get("environment_variables", {}))
    return env


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class Ticker(threading.Thread):
    """Calls `action` every `interval` seconds until stopped."""

    def __init__(self, name: str, interval: float, action: Callable[[], object]) -> None:
        super().__init__(name=name, daemon=True)
        self.interval = interval
        self.action = action
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                self.action()
            except Exception:
                logging.getLogger("pt_bookings.local").exception("%s failed", self.name)

    def stop(self, timeout: float) -> None:
        """Let a run under way finish (it may be writing), then return."""
        self.stopped.set()
        self.join(timeout)


class InFlight:
    """Counts requests being handled, so shutdown can wait for them, and refuses new ones
    once closed: a request accepted after the last snapshot would be acknowledged, then lost."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._count = 0
        self._closed = False

    def enter(self) -> bool:
        with self._changed:
            if self._closed:
                return False
            self._count += 1
            return True

    def leave(self) -> None:
        with self._changed:
            self._count -= 1
            self._changed.notify_all()

    @property
    def count(self) -> int:
        with self._changed:
            return self._count

    def close_and_wait(self, timeout: float) -> int:
        """Refuse new requests, wait for the running ones; how many are still running."""
        with self._changed:
            self._closed = True
            self._changed.wait_for(lambda: self._count == 0, timeout)
            return self._count


class LocalHTTPServer(chalice_local.ThreadedHTTPServer):
    """Chalice's threaded server (one thread per connection, daemon threads so an idle
    kept-alive connection never holds up exit), with a listen backlog that absorbs a burst.

    The stdlib default backlog is 5: a browser or test firing a few dozen requests at once
    had the rest of its SYNs dropped, retried seconds later or reset."""

    request_queue_size = 128
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: Any) -> None:
        self.in_flight = InFlight()
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A browser dropping a kept-alive connection is normal, not an error: without this
        # the stdlib server prints a traceback for every reset (and the output reads as broken).
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)


class DrainableRequestHandler(chalice_local.ChaliceRequestHandler):
    """Chalice's handler, counted in and out of the server's `InFlight`, that answers 503
    once the server is stopping."""

    server: LocalHTTPServer
    _counted = False

    def _enter(self) -> bool:
        if self._counted:
            return True
        if self.server.in_flight.enter():
            self._counted = True
            return True
        self.close_connection = True
        self._send_http_response(
            503,
            {"Content-Type": "text/plain; charset=utf-8", "Connection": "close"},
            "PT Bookings is stopping.\n",
        )
        return False

    def handle_expect_100(self) -> bool:
        # "100 Continue" promises the client its request will be handled, so it counts as
        # under way from here: a stop that begins while the body is on its way waits for it.
        return self._enter() and bool(super().handle_expect_100())

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        finally:
            # Here rather than in `_generic_handle`: a request can be counted (100 Continue)
            # and then end without reaching it, e.g. with an unsupported method.
            if self._counted:
                self._counted = False
                self.server.in_flight.leave()

    def _generic_handle(self) -> None:
        if self._enter():
            super()._generic_handle()

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _generic_handle


def _local_server(app: Any, config: Any, host: str, port: int) -> LocalHTTPServer:
    """What chalice.local.create_local_server does, with our server and handler classes:
    it offers no way to pass them, and its server is already listening with a backlog of 5
    when it returns."""
    chalice_local.CustomLocalChalice.__bases__ = (chalice_local.LocalChalice, app.__class__)
    app.__class__ = chalice_local.CustomLocalChalice
    dev_server = chalice_local.LocalDevServer(
        app,
        config,
        host,
        port,
        handler_cls=DrainableRequestHandler,
        server_cls=LocalHTTPServer,
    )
    return dev_server.server  # type: ignore[return-value]


CLOCK_FILE_ENV = "PT_CLOCK_FILE"


def _follow_clock_file(runtime: Any) -> None:
    """The browser suite moves the app's clock (a session that took place, to mark it a
    no-show): with PT_CLOCK_FILE set, the app's time is the machine's plus the seconds
    that file holds, read at each tick. Only this local runner reads it: nothing deployed
    does, and without the variable the app keeps the machine's clock."""
    path = os.environ.get(CLOCK_FILE_ENV)
    if not path:
        return
    clock_file = Path(path)

    def shifted() -> datetime:
        try:
            offset = float(clock_file.read_text(encoding="utf-8").strip() or 0)
        except (OSError, ValueError):
            offset = 0.0
        return datetime.now(UTC) + timedelta(seconds=offset)

    runtime.set_clock(shifted)


def _port_free(host: str, port: int) -> bool:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # The same option the HTTP server binds with, so a port in TIME_WAIT counts as free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return False
            raise
    return True


def main() -> int:
    # Block the stop signals before any thread starts (threads inherit the mask), so they
    # are taken only by the sigwait below: a stop then runs as ordinary code in one place,
    # never as an exception raised at a random point of the main thread, and a signal that
    # arrives during start-up waits until start-up is done.
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    port = int(os.environ.get("PORT", "8000"))
    host = os.environ.get("HOST", "127.0.0.1")
    data_dir = Path(os.environ.get("PT_DATA_DIR", ROOT / ".local"))
    job_interval = float(os.environ.get("JOB_INTERVAL", "5"))
    snapshot_path = data_dir / "dynamodb.json"
    base_url = f"http://{host}:{port}"
    if not _port_free(host, port):
        # Before moto or anything else starts: one line, nothing to clean up.
        _say(f"Port {port} is already in use (another `make run`?). Try: PORT={port + 1} make run")
        return 2

    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s")
    for name in ("botocore", "boto3", "urllib3", "werkzeug"):
        logging.getLogger(name).setLevel(logging.WARNING)

    os.environ.update(_stage_environment())
    os.environ.setdefault("PUBLIC_BASE_URL", base_url)
    # moto needs credentials to sign with; they never leave this machine.
    for key, value in (
        ("AWS_ACCESS_KEY_ID", "local"),
        ("AWS_SECRET_ACCESS_KEY", "local"),
        ("AWS_DEFAULT_REGION", "eu-west-2"),
    ):
        os.environ.setdefault(key, value)

    import boto3

    from infra import local_dynamodb
    from infra.table_schema import create_table

    moto_server, endpoint = local_dynamodb.start_server()
    os.environ["DYNAMODB_ENDPOINT"] = endpoint
    table = os.environ["TABLE_NAME"]
    client = boto3.client("dynamodb", endpoint_url=endpoint, region_name="eu-west-2")
    create_table(client, table)
    restored = local_dynamodb.load_snapshot(client, table, snapshot_path)
    # The documents bucket lives in the same embedded moto server (files are not kept
    # across restarts: the table snapshot holds only the table).
    os.environ["S3_ENDPOINT"] = endpoint
    os.environ.setdefault("DOCUMENTS_BUCKET", f"{table}-documents")
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="eu-west-2")
    s3.create_bucket(
        Bucket=os.environ["DOCUMENTS_BUCKET"],
        CreateBucketConfiguration={"LocationConstraint": "eu-west-2"},
    )
    # Versioned like the real bucket: the upload check pins the version it read.
    s3.put_bucket_versioning(
        Bucket=os.environ["DOCUMENTS_BUCKET"], VersioningConfiguration={"Status": "Enabled"}
    )

    from chalice.cli.factory import CLIFactory

    from chalicelib import runtime
    from chalicelib.services import auth
    from infra.seed import DEMO_EMAIL, seed_demo

    _follow_clock_file(runtime)
    now = datetime.now(UTC)
    repo = runtime.repository()
    seeded = seed_demo(repo, now)
    if restored:
        # Data saved by an older version: bundles from before the paged hub get its keys,
        # clients from before the client index get their entries and their opt-ins and
        # recurring claims their set-up keys (no-ops once done). The local table is small;
        # a Scan is fine in this tool.
        from infra.manage import index_bundles, index_clients

        trainers = [
            i["id"]["S"]
            for page in client.get_paginator("scan").paginate(TableName=table)
            for i in page["Items"]
            if i.get("SK", {}).get("S") == "PROFILE" and "id" in i
        ]
        index_bundles(trainers)
        index_clients(trainers)
    factory = CLIFactory(str(ROOT))
    config = factory.create_config_obj(chalice_stage_name=STAGE)
    app = config.chalice_app
    try:
        server = _local_server(app, config, host, port)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        # Nothing was written yet (the snapshot is only saved once serving), so stop plainly.
        moto_server.stop()
        _say(f"Port {port} is already in use (another `make run`?). Try: PORT={port + 1} make run")
        return 2
    announced = threading.Event()

    def fire_scheduled_functions() -> None:
        from chalice.app import ScheduledEventConfig

        event = {
            "version": "0",
            "id": "local",
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": "000000000000",
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": "eu-west-2",
            "resources": [],
            "detail": {},
        }
        module = sys.modules["app"]  # CLIFactory imported app.py under this name
        fired = []
        for source in app.event_sources:
            if isinstance(source, ScheduledEventConfig):
                handler = getattr(module, source.handler_string.split(".")[-1])
                handler(event, None)
                fired.append(source.name)
        if not announced.is_set():
            announced.set()
            _say(f"Scheduled functions fired: {', '.join(fired)}")

    snapshots = local_dynamodb.Snapshots(table, snapshot_path)
    snapshots.save()
    jobs = Ticker("scheduled-functions", job_interval, fire_scheduled_functions)
    saver = Ticker("snapshot", SNAPSHOT_INTERVAL, snapshots.save_if_changed)
    serving = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="http", daemon=True
    )
    for thread in (jobs, saver, serving):
        thread.start()

    _say(f"PT Bookings is running at {base_url}  (DynamoDB: embedded moto at {endpoint})")
    _say(
        f"Data: {snapshot_path} ({'restored ' + str(restored) + ' items' if restored else 'new'})"
        + ("; demo trainer seeded" if seeded else "")
    )
    _say(f"Scheduled functions run every {job_interval:g} s. Stop with Ctrl-C.")
    _say(f"Sign in: {auth.issue_sign_in_link(repo, DEMO_EMAIL, base_url, now)}")
    signum = signal.sigwait(STOP_SIGNALS)

    # Stop in the order that loses nothing: no new connections, let the requests and the job
    # under way finish their writes, and only then take the last snapshot, which also makes
    # moto refuse any write still to come (a request that outlived the wait).
    server.shutdown()
    serving.join()
    server.server_close()
    _say(
        f"Stopping on {signal.Signals(signum).name}:"
        f" finishing {server.in_flight.count} request(s) under way."
    )
    still_running = server.in_flight.close_and_wait(DRAIN_TIMEOUT)
    jobs.stop(DRAIN_TIMEOUT)
    saver.stop(DRAIN_TIMEOUT)
    snapshots.save(last=True)
    moto_server.stop()
    if still_running:
        _say(
            f"{still_running} request(s) still running after {DRAIN_TIMEOUT:g} s:"
            " their writes after this point are refused."
        )
    _say("Stopped; data saved.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

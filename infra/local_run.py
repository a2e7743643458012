"""`make run`: the whole app on this machine, in one process.

- moto's DynamoDB server in a thread, the table created from infra/table.yaml;
- data restored from and saved to .local/ (git-ignored) so it survives restarts;
- a demo trainer seeded on first start, and a printed `Sign in: <url>` line;
- the Chalice app served on http://127.0.0.1:8000 (PORT= overrides);
- the scheduled functions fired every few seconds (`chalice local` does not run them).
One process and its threads: Ctrl-C or SIGTERM stops everything and leaves nothing behind.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
STAGE = "local"


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

    def __init__(self, name: str, interval: float, action: Any) -> None:
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


def _ignore_client_disconnects(http_server: Any) -> None:
    """A browser dropping a kept-alive connection is normal, not an error: without this
    the stdlib server prints a traceback for every reset (and the output reads as broken)."""
    default = http_server.handle_error

    def handle_error(request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        default(request, client_address)

    http_server.handle_error = handle_error


def main() -> int:
    port = int(os.environ.get("PORT", "8000"))
    host = os.environ.get("HOST", "127.0.0.1")
    data_dir = Path(os.environ.get("PT_DATA_DIR", ROOT / ".local"))
    job_interval = float(os.environ.get("JOB_INTERVAL", "5"))
    snapshot_path = data_dir / "dynamodb.json"
    base_url = f"http://{host}:{port}"

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

    from chalice.cli.factory import CLIFactory

    from chalicelib import runtime
    from chalicelib.services import auth
    from infra.seed import DEMO_EMAIL, seed_demo

    now = datetime.now(UTC)
    repo = runtime.repository()
    seeded = seed_demo(repo, now)
    factory = CLIFactory(str(ROOT))
    config = factory.create_config_obj(chalice_stage_name=STAGE)
    app = config.chalice_app
    server = factory.create_local_server(app, config, host, port)
    _ignore_client_disconnects(server.server)

    last_saved = [-1]
    announced = threading.Event()

    def snapshot() -> None:
        if local_dynamodb.write_count != last_saved[0]:
            last_saved[0] = local_dynamodb.write_count
            local_dynamodb.save_snapshot(client, table, snapshot_path)

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

    snapshot()
    tickers = [
        Ticker("scheduled-functions", job_interval, fire_scheduled_functions),
        Ticker("snapshot", 2.0, snapshot),
    ]
    for ticker in tickers:
        ticker.start()

    def stop(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    _say(f"PT Bookings is running at {base_url}  (DynamoDB: embedded moto at {endpoint})")
    _say(
        f"Data: {snapshot_path} ({'restored ' + str(restored) + ' items' if restored else 'new'})"
        + ("; demo trainer seeded" if seeded else "")
    )
    _say(f"Scheduled functions run every {job_interval:g} s. Stop with Ctrl-C.")
    _say(f"Sign in: {auth.issue_sign_in_link(repo, DEMO_EMAIL, base_url, now)}")
    try:
        server.server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        for ticker in tickers:
            ticker.stopped.set()
        for ticker in tickers:
            ticker.join(timeout=10)
        server.server.server_close()
        local_dynamodb.save_snapshot(client, table, snapshot_path)
        moto_server.stop()
        _say("Stopped; data saved.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

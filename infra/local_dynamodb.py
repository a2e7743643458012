"""The embedded DynamoDB (moto) used by `make run` and the tests.

moto applies a conditional write as "check, then write" in plain Python, so two threads
can interleave between the check and the write; real DynamoDB makes each request atomic.
`make_moto_atomic()` serialises moto's table operations with one lock so races in the
tests exercise our conditions the way DynamoDB would, not moto's thread scheduling.
"""

from __future__ import annotations

import functools
import json
import os
import threading
from pathlib import Path
from typing import Any

_LOCK = threading.RLock()
_OPERATIONS = (
    "put_item",
    "get_item",
    "query",
    "update_item",
    "delete_item",
    "transact_write_items",
    "transact_get_items",
    "batch_write_item",
    "batch_get_item",
    "scan",
)
write_count = 0  # incremented on every mutating call: the runner snapshots when it moves


def make_moto_atomic() -> None:
    from moto.dynamodb.models import DynamoDBBackend

    if getattr(DynamoDBBackend, "_pt_atomic", False):
        return
    for name in _OPERATIONS:
        original = getattr(DynamoDBBackend, name, None)
        if original is None:
            continue

        def locked(
            *args: Any, __original: Any = original, __name: str = name, **kwargs: Any
        ) -> Any:
            global write_count
            with _LOCK:
                if __name not in (
                    "get_item",
                    "query",
                    "scan",
                    "batch_get_item",
                    "transact_get_items",
                ):
                    write_count += 1
                return __original(*args, **kwargs)

        setattr(DynamoDBBackend, name, functools.wraps(original)(locked))
    DynamoDBBackend._pt_atomic = True  # type: ignore[attr-defined]


def start_server(port: int = 0) -> tuple[Any, str]:
    """Start moto's server in a thread of this process (nothing to leave behind on exit)."""
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    make_moto_atomic()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    host, bound_port = server.get_host_and_port()
    return server, f"http://{host}:{bound_port}"


# Snapshots: local data survives restarts. A Scan is fine here: this is the developer's
# embedded database being saved to disk, never a request or job path of the app.
def save_snapshot(client: Any, table_name: str, path: Path) -> int:
    items: list[dict[str, Any]] = []
    paginator = client.get_paginator("scan")
    for page in paginator.paginate(TableName=table_name, ConsistentRead=True):
        items.extend(page.get("Items", []))
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({"table": table_name, "items": items}))
    os.replace(temporary, path)  # atomic: a crash never leaves half a snapshot
    return len(items)


def load_snapshot(client: Any, table_name: str, path: Path) -> int:
    if not path.exists():
        return 0
    items = json.loads(path.read_text()).get("items", [])
    for start in range(0, len(items), 25):
        request = {table_name: [{"PutRequest": {"Item": i}} for i in items[start : start + 25]]}
        while request:
            response = client.batch_write_item(RequestItems=request)
            request = response.get("UnprocessedItems") or {}
    return len(items)

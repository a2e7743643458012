"""The embedded DynamoDB (moto) used by `make run` and the tests.

moto applies a conditional write as "check, then write" in plain Python, so two threads
can interleave between the check and the write; real DynamoDB makes each request atomic.
`make_moto_atomic()` serialises moto's table operations with one lock so races in the
tests exercise our conditions the way DynamoDB would, not moto's thread scheduling.

The same lock makes snapshots consistent: `capture()` copies the table while holding it,
so a snapshot sits between two requests, never inside one (a TransactWriteItems is all
in or all out). A Scan through the API could not promise that: it pages at 1 MB, and moto
turns each page into JSON after releasing the lock, while a transaction may be updating
those very items in place.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_LOCK = threading.RLock()
_READS = frozenset({"get_item", "query", "scan", "batch_get_item", "transact_get_items"})
_OPERATIONS = (
    *sorted(_READS),
    "put_item",
    "update_item",
    "delete_item",
    "transact_write_items",
    "batch_write_item",
    # PartiQL and table changes are not used by the app, but they change what a snapshot
    # would copy, so they take the lock and count as writes too.
    "execute_statement",
    "execute_transaction",
    "batch_execute_statement",
    "create_table",
    "delete_table",
    "update_table",
)
write_count = 0  # incremented on every mutating call: the runner snapshots when it moves
_closed = False  # set by the last snapshot: a write after it would be acknowledged and lost


def _refuse_write() -> Exception:
    from moto.core.exceptions import JsonRESTError

    error = JsonRESTError(
        "ServiceUnavailable", "The local database has taken its last snapshot and is stopping."
    )
    error.code = 503
    return error


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
                if __name not in _READS:
                    if _closed:
                        raise _refuse_write()
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


# Snapshots: local data survives restarts. Reading moto's memory is fine here: this is the
# developer's embedded database being saved to disk, never a request or job path of the app.
@dataclass(frozen=True)
class Snapshot:
    writes: int  # `write_count` when copied: an unchanged count means unchanged data
    items: list[dict[str, Any]]  # DynamoDB JSON, as Scan would return them


def _find_table(table_name: str) -> Any:
    from moto.dynamodb.models import dynamodb_backends

    # dict.values(): only the accounts and regions moto has created (its __getitem__
    # would create one). A failed transaction swaps in a new Table object, so look it up
    # on every capture rather than keeping a reference.
    found = [
        backend.tables[table_name]
        for regions in list(dict.values(dynamodb_backends))
        for backend in list(dict.values(regions))
        if table_name in backend.tables
    ]
    if len(found) != 1:
        raise LookupError(f"expected one table {table_name!r} in moto, found {len(found)}")
    return found[0]


def capture(table_name: str, *, last: bool = False) -> Snapshot:
    """Copy every item at one instant between two requests. `last` also refuses every later
    write, so a write that was acknowledged is always in this snapshot or an earlier one."""
    global _closed
    with _LOCK:
        # Item.to_json builds new containers all the way down (only immutable strings are
        # shared), so the copy stays valid after the lock is released.
        items = [item.to_json()["Attributes"] for item in _find_table(table_name).all_items()]
        if last:
            _closed = True
        return Snapshot(write_count, items)


def _json_default(value: object) -> str:
    # Nested binary values come out of moto as bytes, top-level ones as base64 text:
    # store both as base64 text, the way DynamoDB JSON spells binary.
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"cannot store {type(value).__name__} in a snapshot")


def write_snapshot(snapshot: Snapshot, table_name: str, path: Path) -> None:
    """Replace `path` atomically and durably: a kill or a power cut at any point leaves
    either the previous snapshot or this one, never a torn file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    body = json.dumps({"table": table_name, "items": snapshot.items}, default=_json_default)
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(body)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # makes the rename itself survive a power cut
    finally:
        os.close(directory)


class Snapshots:
    """The snapshot file of one table, saved from any thread.

    Saves are serialised and never go backwards: a slow save cannot overwrite the file
    with older data than a save that finished before it.
    """

    def __init__(self, table_name: str, path: Path) -> None:
        self.table_name = table_name
        self.path = path
        self._lock = threading.Lock()
        self._saved_writes = -1

    def save(self, *, last: bool = False) -> int:
        """Save now (the `last` save also closes the database to writes); the item count."""
        with self._lock:
            snapshot = capture(self.table_name, last=last)
            if snapshot.writes != self._saved_writes or not self.path.exists():
                write_snapshot(snapshot, self.table_name, self.path)
                self._saved_writes = snapshot.writes
            return len(snapshot.items)

    def save_if_changed(self) -> bool:
        """Save when something was written since the last save: cheap enough to call every
        second, since an idle database costs one integer comparison."""
        if write_count == self._saved_writes:
            return False
        self.save()
        return True


def _binary_to_bytes(value: dict[str, Any]) -> dict[str, Any]:
    """Undo `_json_default` for boto3, which wants bytes for B and BS values."""
    (kind, inner), *_ = value.items()
    if kind == "B":
        return {"B": base64.b64decode(inner)}
    if kind == "BS":
        return {"BS": [base64.b64decode(v) for v in inner]}
    if kind == "M":
        return {"M": {k: _binary_to_bytes(v) for k, v in inner.items()}}
    if kind == "L":
        return {"L": [_binary_to_bytes(v) for v in inner]}
    return value


def load_snapshot(client: Any, table_name: str, path: Path) -> int:
    if not path.exists():
        return 0
    items = [
        {name: _binary_to_bytes(value) for name, value in item.items()}
        for item in json.loads(path.read_text()).get("items", [])
    ]
    for start in range(0, len(items), 25):
        request = {table_name: [{"PutRequest": {"Item": i}} for i in items[start : start + 25]]}
        while request:
            response = client.batch_write_item(RequestItems=request)
            request = response.get("UnprocessedItems") or {}
    return len(items)

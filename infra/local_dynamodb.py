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
import copy
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

    make_moto_fast()  # every user of the embedded DynamoDB wants both
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


# moto 5 answers through a generic serializer that walks botocore's output shape member
# by member: every attribute value of every item costs ~10 picker lookups (the ten
# members of AttributeValue), so a page reading a few hundred items spent most of its
# time in there. moto's item results are already DynamoDB JSON; an AttributeValue made
# of strings, numbers, booleans, sets of those, and maps and lists of them is copied
# as it is. Anything else (binary, moto objects) still takes the generic path.
_PLAIN_SCALARS = frozenset({"S", "N"})
_PLAIN_FLAGS = frozenset({"BOOL", "NULL"})
_PLAIN_SETS = frozenset({"SS", "NS"})


class _NotPlain(Exception):
    pass


def wire_attribute_value(value: Any) -> dict[str, Any]:
    """The JSON moto's serializer would write for one plain AttributeValue dict; raises
    _NotPlain for anything it would treat differently."""
    if type(value) is not dict or len(value) != 1:
        raise _NotPlain
    ((kind, inner),) = value.items()
    if kind in _PLAIN_SCALARS and type(inner) is str:
        return {kind: inner}
    if kind in _PLAIN_FLAGS and type(inner) is bool:
        return {kind: inner}
    if kind in _PLAIN_SETS and type(inner) is list and all(type(v) is str for v in inner):
        return {kind: list(inner)}
    if kind == "M" and type(inner) is dict:
        return {"M": {str(k): wire_attribute_value(v) for k, v in inner.items()}}
    if kind == "L" and type(inner) is list:
        return {"L": [wire_attribute_value(v) for v in inner]}
    raise _NotPlain


def cheap_moto_transactions() -> None:
    """moto backs up a TransactWriteItems by deep-copying the *whole table* first (to roll
    back a cancelled one), which costs seconds per transaction on a table of tens of
    thousands of items and would swamp every write. Here the backup is the items the
    transaction touches, and a cancelled transaction restores exactly those: the same
    all-or-nothing result, at the cost real DynamoDB has (none that grows with the table).
    """
    from moto.dynamodb import models as moto_dynamodb
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    if getattr(DynamoDBBackend, "_pt_cheap_transactions", False):
        return

    class _Copy:
        """moto's `copy` module, except that a whole Table is not copied."""

        def __getattr__(self, name: str) -> Any:
            return getattr(copy, name)

        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            if isinstance(value, Table):
                return value  # the rollback below restores what the transaction touched
            return copy.deepcopy(value, memo)

    moto_dynamodb.copy = _Copy()  # type: ignore[attr-defined]
    original = DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        touched: list[tuple[Any, DynamoType, DynamoType | None, Any]] = []
        for entry in transact_items:
            ((_kind, op),) = entry.items()
            table = self.tables.get(op.get("TableName"))
            if table is None:
                continue
            attrs = op.get("Key") or op.get("Item") or {}
            hash_value = DynamoType(attrs[table.hash_key_attr])
            range_value = DynamoType(attrs[table.range_key_attr]) if table.range_key_attr else None
            before = table.get_item(hash_value, range_value)
            touched.append((table, hash_value, range_value, copy.deepcopy(before)))
        try:
            original(self, transact_items)
        except Exception:
            for table, hash_value, range_value, before in reversed(touched):
                if range_value is None:
                    if before is None:
                        table.items.pop(hash_value, None)
                    else:
                        table.items[hash_value] = before
                    continue
                if before is None:
                    table.items.get(hash_value, {}).pop(range_value, None)
                    if hash_value in table.items and not table.items[hash_value]:
                        del table.items[hash_value]
                else:
                    table.items[hash_value][range_value] = before
            raise

    DynamoDBBackend.transact_write_items = transact_write_items
    DynamoDBBackend._pt_cheap_transactions = True


def linear_moto_items() -> None:
    """moto checks the 400 KB item limit by re-measuring the whole item on every
    attribute it stores, which is quadratic in the attributes (a 30-attribute session
    costs ~450 size computations). Here it keeps a running total instead: the same
    limit, checked once per attribute."""
    from moto.dynamodb.models import dynamo_type

    limited = dynamo_type.LimitedSizeDict
    if getattr(limited, "_pt_linear", False):
        return

    def size_of(key: str, value: Any) -> int:
        value_size = (
            value.size()
            if type(value) is dynamo_type.DynamoType
            else dynamo_type.bytesize(str(value))
        )
        return dynamo_type.bytesize(key) + value_size

    def setitem(self: Any, key: str, value: Any) -> None:
        total = self.__dict__.get("_pt_size")
        if total is None:
            total = sum(size_of(k, v) for k, v in self.items())
        if key in self:
            total -= size_of(key, self[key])
        added = size_of(key, value)
        if total + added > 405000:  # moto's own threshold
            raise dynamo_type.ItemSizeTooLarge
        dict.__setitem__(self, key, value)
        self.__dict__["_pt_size"] = total + added

    def invalidate(name: str) -> Any:
        method = getattr(dict, name)

        def changed(self: Any, *args: Any, **kwargs: Any) -> Any:
            self.__dict__.pop("_pt_size", None)
            return method(self, *args, **kwargs)

        return changed

    limited.__setitem__ = setitem
    for name in ("__delitem__", "pop", "popitem", "clear", "setdefault", "update"):
        setattr(limited, name, invalidate(name))
    limited._pt_linear = True


def fast_moto_strings() -> None:
    """moto answers every Query by sorting *all* the table's items and comparing each
    one's keys, and compares two attribute values through a generic cast (~5 calls
    each): on 25,000 items a Query costs ~0.6 s. Comparing two strings as strings gives
    the same answers (a string's cast value is itself) in a fraction of that."""
    from moto.dynamodb.models import dynamo_type

    kind = dynamo_type.DynamoType
    if getattr(kind, "_pt_fast_strings", False):
        return
    slow = {name: getattr(kind, name) for name in ("__eq__", "__ne__", "__lt__", "__hash__")}

    def both_strings(a: Any, b: Any) -> bool:
        return a.type == "S" and type(b) is kind and b.type == "S"

    def eq(self: Any, other: Any) -> bool:
        if both_strings(self, other):
            return self.value == other.value
        return slow["__eq__"](self, other)

    def ne(self: Any, other: Any) -> bool:
        if both_strings(self, other):
            return self.value != other.value
        return slow["__ne__"](self, other)

    def lt(self: Any, other: Any) -> bool:
        if both_strings(self, other):
            return self.value < other.value
        return slow["__lt__"](self, other)

    def hash_(self: Any) -> int:
        return hash(("S", self.value)) if self.type == "S" else slow["__hash__"](self)

    kind.__eq__, kind.__ne__, kind.__lt__, kind.__hash__ = eq, ne, lt, hash_
    kind._pt_fast_strings = True

    from moto.dynamodb.models.table import Table

    slow_all_items = Table.all_items

    def all_items(self: Any) -> list[Any]:
        """The same order (string keys sort as strings), with native sort keys."""
        if self.range_key_attr is None:
            return slow_all_items(self)
        items = [item for partition in self.items.values() for item in partition.values()]
        if not all(i.hash_key.type == "S" and i.range_key.type == "S" for i in items):
            return slow_all_items(self)
        return sorted(items, key=lambda i: (i.hash_key.value, i.range_key.value))

    Table.all_items = all_items


def make_moto_fast() -> None:
    """moto's costs that grow with the table or the item, cut to what DynamoDB's own
    grow with; the answers are the same (tests/unit/test_local_dynamodb_speed.py)."""
    cheap_moto_transactions()
    linear_moto_items()
    fast_moto_strings()
    fast_moto_answers()


def fast_moto_answers() -> None:
    from moto.core.serialize import BaseJSONSerializer

    if getattr(BaseJSONSerializer, "_pt_fast_answers", False):
        return
    generic = BaseJSONSerializer._serialize_type_structure

    def serialize_structure(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if key and shape.name == "AttributeValue" and type(value) is dict:
            try:
                serialized[shape.serialization.get("name", key)] = wire_attribute_value(value)
                return
            except _NotPlain:
                pass
        generic(self, serialized, value, shape, key)

    BaseJSONSerializer._pt_generic_structure = generic  # type: ignore[attr-defined]
    BaseJSONSerializer._serialize_type_structure = serialize_structure  # type: ignore[method-assign]
    BaseJSONSerializer._pt_fast_answers = True  # type: ignore[attr-defined]


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

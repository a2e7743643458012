"""The benchmark's DynamoDB: moto in-process, the table from infra/table.yaml, the frozen
clock, and the meters.

The set-up mirrors tests/conftest.py (same fake credentials, table name, link secret and
frozen Monday 23 Nov 2026 09:00 UTC) without importing pytest fixtures.

Meters (`METER`), fed by botocore event hooks registered on boto3's default session, so
the client the app builds lazily in `runtime` inherits them:
- calls, items returned and read units of every DynamoDB call;
- CPU spent inside moto (its request parsing, the in-memory table, its JSON answer), so a
  page's CPU can be reported without the emulator's own work.

moto reports `ConsumedCapacity` when asked, but as a constant per call (`probe_capacity`
shows it), so read units are computed here from the items' sizes with DynamoDB's rules.
"""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

TABLE = "pt-bookings-test"  # the test stage's table (.chalice/config.json)
REGION = "eu-west-2"
LINK_SECRET = "test-only-not-a-secret"  # the test stage's value: links made outside
# requests (the data build) must match the ones the app derives inside them
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # the suite's frozen Monday (GMT, 2026-W48)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

READ_UNIT_BYTES = 4096


def configure_environment() -> None:
    """What tests/conftest.py's autouse fixture sets: nothing can reach a real account."""
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "TABLE_NAME": TABLE,
            "LINK_SECRET": LINK_SECRET,
        }
    )
    os.environ.pop("DYNAMODB_ENDPOINT", None)
    from chalicelib import runtime

    runtime.reset()


class FrozenClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


# Meters --------------------------------------------------------------------------------
@dataclass
class Meter:
    calls: int = 0
    items: int = 0  # returned by reads
    read_units: float = 0.0
    written: int = 0  # items put, updated or deleted (a ConditionCheck writes nothing)
    moto_cpu: float = 0.0  # seconds of CPU inside moto
    meter_cpu: float = 0.0  # seconds of CPU in these hooks (sizing items, mostly)
    operations: list[str] = field(default_factory=list)
    reads: list[tuple[str, int]] = field(default_factory=list)  # (what was read, items)
    moto_reported: list[Any] = field(default_factory=list)  # ConsumedCapacity, if asked
    ask_capacity: bool = False  # add ReturnConsumedCapacity=TOTAL to reads (the probe)

    def reset(self) -> None:
        self.calls, self.items, self.read_units, self.moto_cpu = 0, 0, 0.0, 0.0
        self.written, self.meter_cpu = 0, 0.0
        self.operations.clear()
        self.reads.clear()
        self.moto_reported.clear()


METER = Meter()


def attribute_size(value: dict[str, Any]) -> int:
    """Bytes of one attribute value, per "DynamoDB item sizes and formats" (developer
    guide): strings and binaries their length, numbers 1 byte per two significant
    digits + 1, null/bool 1, lists and maps 3 bytes + 1 per element + the elements
    (map element names count)."""
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        return _number_size(inner)
    if kind == "B":
        return len(inner) if isinstance(inner, bytes | bytearray) else len(str(inner))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in inner)
    if kind == "NS":
        return sum(_number_size(n) for n in inner)
    if kind == "BS":
        return sum(len(b) for b in inner)
    if kind == "L":
        return 3 + sum(1 + attribute_size(v) for v in inner)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + attribute_size(v) for k, v in inner.items())
    raise ValueError(f"unknown attribute type {kind}")


def _number_size(text: str) -> int:
    """Leading and trailing zeros do not count; 1 byte per two significant digits + 1."""
    digits = "".join(map(str, Decimal(text).as_tuple().digits)).strip("0") or "0"
    return math.ceil(len(digits) / 2) + 1


def item_size(attrs: dict[str, Any]) -> int:
    return sum(len(name.encode()) + attribute_size(v) for name, v in attrs.items())


def _units(size_bytes: int, consistent: bool) -> float:
    units = max(1, math.ceil(size_bytes / READ_UNIT_BYTES))
    return units if consistent else units / 2


_SINGLE_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem"})


def _before_parameters(
    params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any
) -> None:
    info: dict[str, Any] = {
        "consistent": bool(params.get("ConsistentRead")),
        "index": params.get("IndexName"),
        "writes": 0,
    }
    if model.name in _SINGLE_WRITES:
        info["writes"] = 1
    elif model.name == "TransactWriteItems":
        info["writes"] = sum(1 for op in params["TransactItems"] if "ConditionCheck" not in op)
    elif model.name == "BatchWriteItem":
        info["writes"] = sum(len(ops) for ops in params["RequestItems"].values())
    if "RequestItems" in params:  # BatchGetItem (per table); BatchWriteItem has lists
        info["consistent"] = all(
            bool(r.get("ConsistentRead"))
            for r in params["RequestItems"].values()
            if isinstance(r, dict)
        )
    if model.name == "Query":
        pk = (params.get("ExpressionAttributeValues") or {}).get(":pk", {}).get("S", "?")
        where = f"{params['IndexName']} " if params.get("IndexName") else ""
        info["what"] = f"Query {where}{partition_pattern(pk)}"
    else:
        info["what"] = model.name
    context["bench"] = info
    if METER.ask_capacity:
        params["ReturnConsumedCapacity"] = "TOTAL"


def _after_call(parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
    started = time.process_time()
    try:
        _count(parsed, model, context)
    finally:
        METER.meter_cpu += time.process_time() - started


def _count(parsed: dict[str, Any], model: Any, context: dict[str, Any]) -> None:
    info = context.get("bench") or {}
    consistent = bool(info.get("consistent")) and not info.get("index")
    METER.calls += 1
    METER.written += int(info.get("writes") or 0)
    METER.operations.append(model.name)
    if "ConsumedCapacity" in parsed:
        METER.moto_reported.append(parsed["ConsumedCapacity"])
    returned = 0
    if model.name == "GetItem":
        item = parsed.get("Item")
        returned = 1 if item else 0
        METER.read_units += _units(item_size(item) if item else 0, consistent)
    elif model.name == "BatchGetItem":
        for items in parsed.get("Responses", {}).values():
            returned += len(items)
            METER.read_units += sum(_units(item_size(i), consistent) for i in items)
    elif model.name in ("Query", "Scan"):
        items = parsed.get("Items", [])
        returned = len(items)
        # A Query is one read of the total size of what it returns, rounded up once.
        METER.read_units += _units(sum(item_size(i) for i in items), consistent)
    else:
        return
    METER.items += returned
    METER.reads.append((str(info.get("what", model.name)), returned))


def partition_pattern(pk: str) -> str:
    """A partition key with its ids blanked: T#<t>#W#<week>, T#<t>#C#<c>, TOKEN#<hash>."""
    pattern = re.sub(r"^T#[^#]+", "T#<t>", pk)
    pattern = re.sub(r"#C#[^#]+", "#C#<c>", pattern)
    pattern = re.sub(r"#W#\d{4}-W\d{2}", "#W#<week>", pattern)
    return re.sub(r"^TOKEN#.*", "TOKEN#<hash>", pattern)


def _after_error(model: Any, **_: Any) -> None:
    """A refused call is a round trip too (the app's Server-Timing counts it)."""
    METER.calls += 1
    METER.operations.append(f"{model.name} (refused)")


def install_meters() -> None:
    """Hooks on boto3's default session (clients made afterwards inherit them) and a
    CPU timer around moto's request handler."""
    import boto3
    from moto.core import models as moto_models

    session = boto3._get_default_session()  # the one boto3.client() (and runtime) uses
    session.events.register("before-parameter-build.dynamodb", _before_parameters)
    session.events.register("after-call.dynamodb", _after_call)
    session.events.register("after-call-error.dynamodb", _after_error)

    stubber = moto_models.botocore_stubber
    if getattr(stubber, "_bench_timed", False):
        return
    original = stubber.process_request

    def timed(request: Any) -> Any:
        started = time.process_time()
        try:
            return original(request)
        finally:
            METER.moto_cpu += time.process_time() - started

    stubber.process_request = timed
    stubber._bench_timed = True


# moto's transactions -----------------------------------------------------------------
_FAST_READS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan"})
_CHECKED: dict[str, int] = {}
_CHECKS_PER_OPERATION = 3


def fast_moto_reads() -> None:
    """moto 5 turns every answer into JSON through a generic, shape-driven serializer
    that costs ~2-3 ms per item returned: a page reading a few hundred items would spend
    seconds there. A read's result is already DynamoDB's wire format, so it is dumped as
    JSON directly; the first answers of each kind are also serialized moto's way and must
    be identical (else the benchmark stops)."""
    import json

    from moto.dynamodb.responses import DynamoResult

    if getattr(DynamoResult, "_bench_fast", False):
        return
    original = DynamoResult.execute_result

    def execute_result(self: Any, context: Any) -> Any:
        name = context.operation_model.name
        if name not in _FAST_READS or not isinstance(self.result, dict):
            return original(self, context)
        body = json.dumps(self.result)
        if _CHECKED.get(name, 0) < _CHECKS_PER_OPERATION:
            _CHECKED[name] = _CHECKED.get(name, 0) + 1
            status, headers, slow = original(self, context)
            if status != 200 or json.loads(slow) != json.loads(body):
                raise RuntimeError(f"fast {name} answer differs from moto's own")
            return status, headers, body
        return 200, {"Content-Type": "application/x-amz-json-1.0"}, body

    DynamoResult.execute_result = execute_result
    DynamoResult._bench_fast = True


@contextmanager
def moto_table() -> Iterator[Any]:
    """A moto DynamoDB with the app's table, as tests/conftest.py's `aws` fixture makes
    it; yields a low-level client for the data build's batch writes and probes."""
    import boto3
    from moto import mock_aws

    from infra.local_dynamodb import make_moto_atomic
    from infra.table_schema import create_table

    configure_environment()
    fast_moto_reads()
    make_moto_atomic()  # with infra's own speed-ups (transactions, item sizes, strings)
    with mock_aws():
        install_meters()  # mock_aws starts boto3 on a fresh default session: hook it
        client = boto3.client("dynamodb", region_name=REGION)
        create_table(client, TABLE)
        yield client


def probe_capacity(client: Any, partition: str) -> tuple[Any, float, int]:
    """Ask moto for ConsumedCapacity on a Query of `partition`: (what moto says, what the
    items' sizes say, how many items)."""
    METER.reset()
    METER.ask_capacity = True
    try:
        client.query(
            TableName=TABLE,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": partition}},
            ConsistentRead=True,
        )
    finally:
        METER.ask_capacity = False
    reported = METER.moto_reported[0] if METER.moto_reported else None
    return reported, METER.read_units, METER.items

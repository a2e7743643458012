"""A thin, typed layer over the low-level DynamoDB client.

The low-level client (not boto3.resource) keeps cold starts short; items are written with
boto3's TypeSerializer and read back by `from_attrs`, numbers as int, never float (money
is integer minor units).

Reading is where a page's CPU went (`python -m benchmarks.cpu` shows where), so two steps
of it are our own: the answers of the item-reading operations are taken as plain JSON
before botocore walks them against the service model (`parse_items_as_json`), and
`from_attrs` converts DynamoDB's typed values itself instead of through TypeDeserializer
and a second pass for Decimals.
"""

from __future__ import annotations

import base64
import json
import random
import threading
import time
import weakref
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from boto3.dynamodb.types import DYNAMODB_CONTEXT, Binary, TypeSerializer
from botocore.exceptions import ClientError

from chalicelib.repo import keys

_serializer = TypeSerializer()

Item = dict[str, Any]


class ConditionFailed(Exception):
    """A conditional write found the item not in the expected state."""

    def __init__(self, old_item: Item | None = None) -> None:
        super().__init__("condition failed")
        self.old_item = old_item


class TransactionFailed(Exception):
    """A transaction was cancelled. Each operation was built as a named part (see
    `repo/parts.py`); `refused(name)` says whether a part of that name is what refused,
    so no caller decodes failures by position."""

    def __init__(self, reasons: list[str], parts: Sequence[Part | None] = ()) -> None:
        super().__init__(f"transaction cancelled: {reasons}")
        self.reasons = reasons
        self.parts = list(parts)

    def _refusals(self) -> list[Part]:
        return [
            part
            for part, reason in zip(self.parts, self.reasons, strict=False)
            if part is not None and reason not in ("None", "", None)
        ]

    @property
    def refused_parts(self) -> list[str]:
        """The names of the parts whose condition failed, in transaction order."""
        return [part.name for part in self._refusals()]

    def refused(self, *names: str) -> bool:
        """True if a part with one of these names refused."""
        return any(part.name in names for part in self._refusals())

    def refused_tags(self, name: str | None = None, *, besides: str | None = None) -> set[Any]:
        """The tags of the refusing parts (of this name, or of any but `besides`): which
        session of a batch, say."""
        return {
            part.tag
            for part in self._refusals()
            if (name is None or part.name == name) and part.name != besides
        }


@dataclass(frozen=True)
class Part:
    """What a transaction operation is, for the caller reading a refusal: a name defined
    once in `repo/parts.py` and, where one transaction holds many, a tag saying which."""

    name: str
    tag: Any = None


PART_KEY: Final = "_part"  # carried beside an operation, never sent to DynamoDB


def to_attrs(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in item.items() if v is not None}


def from_attrs(attrs: Mapping[str, Any]) -> Item:
    """An item as DynamoDB sends it ({"S": ...}, {"N": ...}) as plain Python: what
    TypeDeserializer gives, except that whole numbers are int (ours always are)."""
    return {name: _python(value) for name, value in attrs.items()}


def _python(value: Mapping[str, Any]) -> Any:
    if not value:
        raise TypeError("Value must be a nonempty dictionary whose key is a valid dynamodb type.")
    kind = next(iter(value))
    raw = value[kind]
    # Ordered by how often each type occurs in our items.
    if kind == "S":
        return raw
    if kind == "N":
        return _number(raw)
    if kind == "BOOL":
        return raw
    if kind == "NULL":
        return None
    if kind == "M":
        return {k: _python(v) for k, v in raw.items()}
    if kind == "L":
        return [_python(v) for v in raw]
    if kind == "SS":
        return set(raw)
    if kind == "NS":
        return {_number(n) for n in raw}
    if kind == "B":
        return _binary(raw)
    if kind == "BS":
        return {_binary(b) for b in raw}
    raise TypeError(f"Dynamodb type {kind} is not supported")


def _number(text: str) -> int | Decimal:
    # int() first: nearly every number we store is whole (versions, minutes, minor
    # units), and it reads those several times faster than a Decimal does.
    try:
        return int(text)
    except ValueError:
        number = DYNAMODB_CONTEXT.create_decimal(text)
        return int(number) if number == number.to_integral_value() else number


def _binary(raw: bytes | str) -> Binary:
    # botocore's parser decodes base64; an answer taken as plain JSON still carries it.
    return Binary(base64.b64decode(raw) if isinstance(raw, str) else raw)


# Answers as plain JSON ------------------------------------------------------------------
# For these operations botocore's JSON parser returns exactly what json.loads gives (the
# output shapes hold only structures, lists, maps, strings, numbers and booleans, plus
# the binary attribute values `_binary` decodes), but it gets there by walking every
# attribute value against the service model: about ten times json.loads' CPU.
ITEM_READS: Final = ("GetItem", "BatchGetItem", "Query", "TransactGetItems")  # the app never Scans
_fast_clients: weakref.WeakSet[Any] = weakref.WeakSet()
_registering = threading.Lock()


def parse_items_as_json(client: Any) -> None:
    """Let the low-level client take its item reads' successful answers as plain JSON.

    Only the `before-parse` step changes: errors (any status >= 300), retries, the
    CRC32 check (on the raw HTTP body) and the before/after-call events (metrics) are
    botocore's as before, and an answer that is not a JSON object is left to botocore.
    """
    events = getattr(getattr(client, "meta", None), "events", None)
    if events is None or client in _fast_clients:
        return  # not a botocore client (the benchmark's in-memory stand-in), or done
    with _registering:  # threads sharing the client (race tests) register it once
        if client in _fast_clients:
            return
        for operation in ITEM_READS:
            events.register(
                f"before-parse.dynamodb.{operation}",
                _take_json_body,
                unique_id=f"pt-bookings-json-{operation}",
            )
        _fast_clients.add(client)


def _take_json_body(
    response_dict: dict[str, Any], customized_response_dict: dict[str, Any], **_: Any
) -> None:
    if response_dict.get("status_code", 500) >= 300:
        return
    body = response_dict.get("body")
    if not body:
        return
    try:
        parsed = json.loads(body)
    except ValueError:
        return
    if not isinstance(parsed, dict):
        return
    # botocore merges this dict into its own result; handed an empty body, its parser
    # only adds the ResponseMetadata (request id, status, headers).
    customized_response_dict.update(parsed)
    response_dict["body"] = b""


@dataclass
class Condition:
    """A condition/update expression with its placeholders, built by the repository."""

    expression: str
    names: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)

    def params(self, prefix: str = "Condition") -> dict[str, Any]:
        params: dict[str, Any] = {f"{prefix}Expression": self.expression}
        if self.names:
            params["ExpressionAttributeNames"] = self.names
        if self.values:
            params["ExpressionAttributeValues"] = to_attrs(self.values)
        return params


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class Db:
    def __init__(self, client: Any, table_name: str) -> None:
        self.client = client
        self.table = table_name
        parse_items_as_json(client)

    # Reads -----------------------------------------------------------------------------
    def get(self, key: Mapping[str, str], *, consistent: bool = True) -> Item | None:
        response = self.client.get_item(
            TableName=self.table, Key=to_attrs(key), ConsistentRead=consistent
        )
        attrs = response.get("Item")
        return from_attrs(attrs) if attrs else None

    def batch_get(self, key_list: Sequence[Mapping[str, str]]) -> list[Item]:
        """One round trip for up to 100 keys (more only if DynamoDB returns unprocessed keys)."""
        request = {self.table: {"Keys": [to_attrs(k) for k in key_list], "ConsistentRead": True}}
        items: list[Item] = []
        while request:
            response = self.client.batch_get_item(RequestItems=request)
            items.extend(from_attrs(a) for a in response["Responses"].get(self.table, []))
            request = response.get("UnprocessedKeys") or {}
        return items

    def query(
        self,
        pk: str,
        *,
        sk_prefix: str | None = None,
        sk_range: tuple[str, str] | None = None,
        index: str | None = None,
        forward: bool = True,
        limit: int | None = None,
    ) -> list[Item]:
        return list(
            self.iter_query(
                pk,
                sk_prefix=sk_prefix,
                sk_range=sk_range,
                index=index,
                forward=forward,
                limit=limit,
            )
        )

    def iter_query(
        self,
        pk: str,
        *,
        sk_prefix: str | None = None,
        sk_range: tuple[str, str] | None = None,
        index: str | None = None,
        forward: bool = True,
        limit: int | None = None,
    ) -> Iterator[Item]:
        pk_name, sk_name = keys.INDEX_KEYS.get(index or "", (keys.PK, keys.SK))
        names = {"#pk": pk_name}
        values: dict[str, Any] = {":pk": pk}
        expression = "#pk = :pk"
        if sk_prefix is not None:
            names["#sk"] = sk_name
            values[":prefix"] = sk_prefix
            expression += " AND begins_with(#sk, :prefix)"
        elif sk_range is not None:
            names["#sk"] = sk_name
            values[":lo"], values[":hi"] = sk_range
            expression += " AND #sk BETWEEN :lo AND :hi"
        params: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": expression,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": to_attrs(values),
            "ScanIndexForward": forward,
        }
        if index:
            params["IndexName"] = index
        else:
            params["ConsistentRead"] = True
        if limit:
            params["Limit"] = limit
        yielded = 0
        while True:
            response = self.client.query(**params)
            for attrs in response.get("Items", []):
                yield from_attrs(attrs)
                yielded += 1
                if limit and yielded >= limit:
                    return
            last = response.get("LastEvaluatedKey")
            if not last:
                return
            params["ExclusiveStartKey"] = last

    def query_page(
        self,
        pk: str,
        *,
        index: str,
        sk_range: tuple[str, str],
        forward: bool,
        limit: int,
        start_key: dict[str, str] | None,
    ) -> tuple[list[Item], dict[str, str] | None]:
        """One page of an index Query and the key to continue from (None at the end)."""
        pk_name, sk_name = keys.INDEX_KEYS[index]
        params: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": index,
            "KeyConditionExpression": "#pk = :pk AND #sk BETWEEN :lo AND :hi",
            "ExpressionAttributeNames": {"#pk": pk_name, "#sk": sk_name},
            "ExpressionAttributeValues": to_attrs(
                {":pk": pk, ":lo": sk_range[0], ":hi": sk_range[1]}
            ),
            "ScanIndexForward": forward,
            "Limit": limit,
        }
        if start_key:
            params["ExclusiveStartKey"] = to_attrs(start_key)
        response = self.client.query(**params)
        last = response.get("LastEvaluatedKey")
        items = [from_attrs(a) for a in response.get("Items", [])]
        return items, (from_attrs(last) if last else None)

    # Writes ----------------------------------------------------------------------------
    def put(self, item: Mapping[str, Any], condition: Condition | None = None) -> None:
        params: dict[str, Any] = {"TableName": self.table, "Item": to_attrs(item)}
        if condition:
            params.update(condition.params())
            params["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        self._write(self.client.put_item, params)

    def update(
        self,
        key: Mapping[str, str],
        update: Condition,
        condition: Condition | None = None,
        *,
        return_new: bool = False,
    ) -> Item | None:
        params: dict[str, Any] = {
            "TableName": self.table,
            "Key": to_attrs(key),
            "UpdateExpression": update.expression,
        }
        names = dict(update.names)
        values = dict(update.values)
        if condition:
            params["ConditionExpression"] = condition.expression
            names.update(condition.names)
            values.update(condition.values)
            params["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        if names:
            params["ExpressionAttributeNames"] = names
        if values:
            params["ExpressionAttributeValues"] = to_attrs(values)
        if return_new:
            params["ReturnValues"] = "ALL_NEW"
        response = self._write(self.client.update_item, params)
        attrs = response.get("Attributes")
        return from_attrs(attrs) if attrs else None

    def delete(self, key: Mapping[str, str], condition: Condition | None = None) -> None:
        params: dict[str, Any] = {"TableName": self.table, "Key": to_attrs(key)}
        if condition:
            params.update(condition.params())
            params["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        self._write(self.client.delete_item, params)

    # A transaction cancelled only because another one was writing one of its items at
    # that instant (reason TransactionConflict: the client index item is shared by every
    # client write of a trainer) applied nothing and refused nothing, so it is sent again,
    # a few times, after a short random pause.
    TRANSACTION_ATTEMPTS: Final = 3
    CONFLICT_PAUSE_SECONDS: Final = 0.05

    def transact(self, operations: Sequence[Mapping[str, Any]]) -> None:
        """All-or-nothing write. Build operations with the tx_* helpers below."""

        parts = [op.get(PART_KEY) for op in operations]
        items = [
            {kind: {"TableName": self.table, **body}}
            for op in operations
            for kind, body in op.items()
            if kind != PART_KEY
        ]
        for attempt in range(1, self.TRANSACTION_ATTEMPTS + 1):
            try:
                self.client.transact_write_items(TransactItems=items)
                return
            except ClientError as exc:
                if _error_code(exc) != "TransactionCanceledException":
                    raise
                reasons = [
                    str(r.get("Code", "None")) for r in exc.response.get("CancellationReasons", [])
                ]
                only_conflicts = "TransactionConflict" in reasons and set(reasons) <= {
                    "None",
                    "TransactionConflict",
                }
                if not only_conflicts or attempt == self.TRANSACTION_ATTEMPTS:
                    raise TransactionFailed(reasons, parts) from exc
                time.sleep(random.uniform(0.5, 1.0) * self.CONFLICT_PAUSE_SECONDS * attempt)

    def _write(self, call: Any, params: dict[str, Any]) -> dict[str, Any]:
        try:
            return call(**params)
        except ClientError as exc:
            if _error_code(exc) == "ConditionalCheckFailedException":
                old = exc.response.get("Item")
                raise ConditionFailed(from_attrs(old) if old else None) from exc
            raise


# Transaction operation builders ------------------------------------------------------
def tagged(operations: Sequence[dict[str, Any]], tag: Any) -> list[dict[str, Any]]:
    """The same parts, each tagged (e.g. with the index of the session they write), so a
    refusal in a transaction of many says whose part refused."""
    out = []
    for op in operations:
        part = op.get(PART_KEY)
        out.append({**op, PART_KEY: Part(part.name if part else "", tag)})
    return out


def _named(op: dict[str, Any], part: str | Part | None) -> dict[str, Any]:
    if part is not None:
        op[PART_KEY] = part if isinstance(part, Part) else Part(part)
    return op


def tx_put(
    item: Mapping[str, Any], condition: Condition | None = None, *, part: str | Part | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"Item": to_attrs(item)}
    if condition:
        body.update(condition.params())
    return _named({"Put": body}, part)


def tx_update(
    key: Mapping[str, str],
    update: Condition,
    condition: Condition | None = None,
    *,
    part: str | Part | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"Key": to_attrs(key), "UpdateExpression": update.expression}
    names, values = dict(update.names), dict(update.values)
    if condition:
        body["ConditionExpression"] = condition.expression
        names.update(condition.names)
        values.update(condition.values)
    if names:
        body["ExpressionAttributeNames"] = names
    if values:
        body["ExpressionAttributeValues"] = to_attrs(values)
    return _named({"Update": body}, part)


def tx_delete(
    key: Mapping[str, str], condition: Condition | None = None, *, part: str | Part | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"Key": to_attrs(key)}
    if condition:
        body.update(condition.params())
    return _named({"Delete": body}, part)


def tx_check(
    key: Mapping[str, str], condition: Condition, *, part: str | Part | None = None
) -> dict[str, Any]:
    return _named({"ConditionCheck": {"Key": to_attrs(key), **condition.params()}}, part)


def new_item() -> Condition:
    return Condition("attribute_not_exists(#pk)", {"#pk": keys.PK})


def at_version(version: int) -> Condition:
    """Optimistic lock: version 0 means the item must not exist yet."""
    if version == 0:
        return Condition("attribute_not_exists(#pk)", {"#pk": keys.PK})
    return Condition(
        "#version = :expected_version", {"#version": "version"}, {":expected_version": version}
    )

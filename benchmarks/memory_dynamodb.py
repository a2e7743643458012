"""Just enough of the low-level DynamoDB client, in memory, for the app's own `Db` to run
on: the benchmark builds years of history through the real services and repository at
Python speed, then copies the items into moto in batches.

Why not moto directly: every call through moto costs milliseconds of request parsing,
expression parsing and JSON, and five years of a trainer's work are ~17,500 calls.
Why not hand-made items: the app's own code (guards, timeline index keys, log lines,
links, messages, version numbers) is then what writes every item, so the table is the
one the app would have made.

What it implements: GetItem, BatchGetItem, Query (base table and the table's GSIs, with
begins_with / BETWEEN / comparisons, Limit, ExclusiveStartKey, both directions), PutItem,
UpdateItem (SET with paths, `+`/`-`, if_not_exists, list_append; REMOVE; ADD for
numbers and sets; DELETE from sets), DeleteItem and TransactWriteItems (all or nothing).
Conditions: only "the item must not exist yet" is enforced (it catches two slots on one
half hour, an id used twice); other conditions are not evaluated: the build drives the
services in an order where they hold, and the services' own checks run as usual.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

_to_python = TypeDeserializer().deserialize
_to_wire = TypeSerializer().serialize

Attrs = dict[str, Any]


def _error(code: str, operation: str, **extra: Any) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}, **extra}, operation)


class MemoryDynamoDB:
    def __init__(self, table_kwargs: dict[str, Any]) -> None:
        """`table_kwargs`: what infra.table_schema.create_table_kwargs gives."""
        self.table = table_kwargs["TableName"]
        self.hash_key, self.range_key = _key_names(table_kwargs["KeySchema"])
        self.index_keys = {
            index["IndexName"]: _key_names(index["KeySchema"])
            for index in table_kwargs.get("GlobalSecondaryIndexes", [])
        }
        self.partitions: dict[str, dict[str, Attrs]] = {}
        # index -> index partition value -> base key -> item
        self.indexed: dict[str, dict[str, dict[tuple[str, str], Attrs]]] = {
            name: {} for name in self.index_keys
        }
        self.calls = 0

    # Storage -----------------------------------------------------------------------
    def _key(self, attrs: Attrs) -> tuple[str, str]:
        return attrs[self.hash_key]["S"], attrs[self.range_key]["S"]

    def _current(self, key: tuple[str, str]) -> Attrs | None:
        return self.partitions.get(key[0], {}).get(key[1])

    def _store(self, key: tuple[str, str], attrs: Attrs | None) -> None:
        old = self._current(key)
        if old is not None:
            for name, (hash_key, _range_key) in self.index_keys.items():
                if hash_key in old:
                    entries = self.indexed[name].get(old[hash_key]["S"], {})
                    entries.pop(key, None)
        if attrs is None:
            partition = self.partitions.get(key[0], {})
            partition.pop(key[1], None)
            if not partition:
                self.partitions.pop(key[0], None)
            return
        self.partitions.setdefault(key[0], {})[key[1]] = attrs
        for name, (hash_key, range_key) in self.index_keys.items():
            if hash_key in attrs and range_key in attrs:  # sparse, as DynamoDB
                self.indexed[name].setdefault(attrs[hash_key]["S"], {})[key] = attrs

    def all_items(self) -> Iterator[Attrs]:
        for partition in self.partitions.values():
            yield from partition.values()

    def __len__(self) -> int:
        return sum(len(p) for p in self.partitions.values())

    # Reads -------------------------------------------------------------------------
    def get_item(self, *, TableName: str, Key: Attrs, **_: Any) -> dict[str, Any]:
        self.calls += 1
        found = self._current(self._key(Key))
        return {"Item": copy.deepcopy(found)} if found else {}

    def batch_get_item(self, *, RequestItems: dict[str, Any], **_: Any) -> dict[str, Any]:
        self.calls += 1
        found = []
        for key in RequestItems[self.table]["Keys"]:
            item = self._current(self._key(key))
            if item:
                found.append(copy.deepcopy(item))
        return {"Responses": {self.table: found}, "UnprocessedKeys": {}}

    def query(
        self,
        *,
        KeyConditionExpression: str,
        ExpressionAttributeValues: Attrs,
        ExpressionAttributeNames: dict[str, str] | None = None,
        IndexName: str | None = None,
        ScanIndexForward: bool = True,
        Limit: int | None = None,
        ExclusiveStartKey: Attrs | None = None,
        **_: Any,
    ) -> dict[str, Any]:
        self.calls += 1
        names = ExpressionAttributeNames or {}
        values = {k: _to_python(v) for k, v in ExpressionAttributeValues.items()}
        hash_key, range_key = (
            self.index_keys[IndexName] if IndexName else (self.hash_key, self.range_key)
        )
        pk, matches = _key_condition(KeyConditionExpression, names, values, hash_key, range_key)
        if IndexName:
            candidates = list(self.indexed[IndexName].get(pk, {}).values())
        else:
            candidates = list(self.partitions.get(pk, {}).values())

        def order(attrs: Attrs) -> tuple[str, str, str]:
            return (attrs[range_key]["S"], *self._key(attrs))

        rows = sorted((a for a in candidates if matches(a[range_key]["S"])), key=order)
        if not ScanIndexForward:
            rows.reverse()
        if ExclusiveStartKey:
            start = order(ExclusiveStartKey)
            rows = [r for r in rows if (order(r) > start if ScanIndexForward else order(r) < start)]
        more = Limit is not None and len(rows) > Limit
        rows = rows[:Limit] if Limit is not None else rows
        response: dict[str, Any] = {
            "Items": [copy.deepcopy(r) for r in rows],
            "Count": len(rows),
            "ScannedCount": len(rows),
        }
        if more:
            last = rows[-1]
            key_names = {self.hash_key, self.range_key, hash_key, range_key}
            response["LastEvaluatedKey"] = {k: last[k] for k in key_names}
        return response

    # Writes ------------------------------------------------------------------------
    def _must_not_exist(self, condition: str | None, names: dict[str, str]) -> bool:
        """True if the condition is exactly "the item does not exist yet"."""
        if not condition:
            return False
        match = re.fullmatch(r"\s*attribute_not_exists\(\s*(\S+?)\s*\)\s*", condition)
        return bool(match) and names.get(match.group(1), match.group(1)) in (
            self.hash_key,
            self.range_key,
        )

    def _check(self, key: tuple[str, str], op: dict[str, Any]) -> bool:
        names = op.get("ExpressionAttributeNames") or {}
        if self._must_not_exist(op.get("ConditionExpression"), names):
            return self._current(key) is None
        return True

    def _updated(self, key: tuple[str, str], op: dict[str, Any]) -> Attrs:
        current = self._current(key)
        item = (
            {k: _to_python(v) for k, v in current.items()}
            if current
            else {self.hash_key: key[0], self.range_key: key[1]}
        )
        names = op.get("ExpressionAttributeNames") or {}
        values = {k: _to_python(v) for k, v in (op.get("ExpressionAttributeValues") or {}).items()}
        _apply_update(item, op["UpdateExpression"], names, values)
        return {k: _to_wire(v) for k, v in item.items()}

    def put_item(self, *, Item: Attrs, **op: Any) -> dict[str, Any]:
        self.calls += 1
        key = self._key(Item)
        if not self._check(key, op):
            raise _error("ConditionalCheckFailedException", "PutItem")
        self._store(key, copy.deepcopy(Item))
        return {}

    def update_item(self, *, Key: Attrs, **op: Any) -> dict[str, Any]:
        self.calls += 1
        key = self._key(Key)
        if not self._check(key, op):
            raise _error("ConditionalCheckFailedException", "UpdateItem")
        new = self._updated(key, op)
        self._store(key, new)
        return {"Attributes": copy.deepcopy(new)} if op.get("ReturnValues") == "ALL_NEW" else {}

    def delete_item(self, *, Key: Attrs, **op: Any) -> dict[str, Any]:
        self.calls += 1
        key = self._key(Key)
        if not self._check(key, op):
            raise _error("ConditionalCheckFailedException", "DeleteItem")
        self._store(key, None)
        return {}

    def transact_write_items(self, *, TransactItems: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls += 1
        planned: list[tuple[tuple[str, str], Attrs | None, bool]] = []
        reasons, failed = [], False
        for entry in TransactItems:
            ((kind, op),) = entry.items()
            key = self._key(op["Item"] if kind == "Put" else op["Key"])
            ok = self._check(key, op)
            reasons.append({"Code": "None" if ok else "ConditionalCheckFailed"})
            failed = failed or not ok
            if kind == "Put":
                planned.append((key, copy.deepcopy(op["Item"]), True))
            elif kind == "Delete":
                planned.append((key, None, True))
            elif kind == "Update":
                planned.append((key, None, False))
        if failed:
            raise _error(
                "TransactionCanceledException", "TransactWriteItems", CancellationReasons=reasons
            )
        updates = {
            key: op
            for entry in TransactItems
            for kind, op in entry.items()
            if kind == "Update"
            for key in [self._key(op["Key"])]
        }
        for key, attrs, direct in planned:
            self._store(key, attrs if direct else self._updated(key, updates[key]))
        return {}


def _key_names(schema: list[dict[str, str]]) -> tuple[str, str]:
    by_type = {part["KeyType"]: part["AttributeName"] for part in schema}
    return by_type["HASH"], by_type["RANGE"]


def _key_condition(
    expression: str,
    names: dict[str, str],
    values: dict[str, Any],
    hash_key: str,
    range_key: str,
) -> tuple[str, Any]:
    """The partition value and a predicate on the sort key, from the key condition."""

    def name(token: str) -> str:
        return names.get(token, token)

    match = re.fullmatch(r"\s*(\S+)\s*=\s*(:\w+)\s*(?:AND\s+(.+?))?\s*", expression)
    if not match or name(match.group(1)) != hash_key:
        raise NotImplementedError(f"key condition {expression!r}")
    pk, rest = values[match.group(2)], match.group(3)
    if not rest:
        return pk, lambda _sk: True
    if m := re.fullmatch(r"begins_with\(\s*(\S+?)\s*,\s*(:\w+)\s*\)", rest):
        prefix = values[m.group(2)]
        check = name(m.group(1))
        predicate: Any = lambda sk: sk.startswith(prefix)  # noqa: E731
    elif m := re.fullmatch(r"(\S+)\s+BETWEEN\s+(:\w+)\s+AND\s+(:\w+)", rest):
        low, high = values[m.group(2)], values[m.group(3)]
        check = name(m.group(1))
        predicate = lambda sk: low <= sk <= high  # noqa: E731
    elif m := re.fullmatch(r"(\S+)\s*(<=|>=|<|>|=)\s*(:\w+)", rest):
        check, bound, op = name(m.group(1)), values[m.group(3)], m.group(2)
        predicate = {
            "<": lambda sk: sk < bound,
            "<=": lambda sk: sk <= bound,
            ">": lambda sk: sk > bound,
            ">=": lambda sk: sk >= bound,
            "=": lambda sk: sk == bound,
        }[op]
    else:
        raise NotImplementedError(f"key condition {expression!r}")
    if check != range_key:
        raise NotImplementedError(f"key condition on {check}, not {range_key}")
    return pk, predicate


# Update expressions --------------------------------------------------------------------
_CLAUSE = re.compile(r"\b(SET|REMOVE|ADD|DELETE)\b")


def _split_top(text: str) -> list[str]:
    """Split on commas outside parentheses."""
    parts, depth, current = [], 0, []
    for char in text:
        if char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        depth += (char == "(") - (char == ")")
        current.append(char)
    if "".join(current).strip():
        parts.append("".join(current).strip())
    return parts


def _path(text: str, names: dict[str, str]) -> list[str | int]:
    segments: list[str | int] = []
    for part in text.strip().split("."):
        match = re.fullmatch(r"([^\[\]]+)((?:\[\d+\])*)", part.strip())
        if not match:
            raise NotImplementedError(f"path {text!r}")
        segments.append(names.get(match.group(1), match.group(1)))
        segments += [int(i) for i in re.findall(r"\[(\d+)\]", match.group(2))]
    return segments


def _get(item: Any, path: list[str | int]) -> Any:
    for segment in path:
        item = item[segment]
    return item


def _exists(item: Any, path: list[str | int]) -> bool:
    try:
        _get(item, path)
    except (KeyError, IndexError, TypeError):
        return False
    return True


def _set(item: Any, path: list[str | int], value: Any) -> None:
    parent = _get(item, path[:-1])
    last = path[-1]
    if isinstance(last, int) and last >= len(parent):
        parent.append(value)
    else:
        parent[last] = value


def _operand(text: str, item: Any, names: dict[str, str], values: dict[str, Any]) -> Any:
    text = text.strip()
    if text.startswith(":"):
        return copy.deepcopy(values[text])
    if m := re.fullmatch(r"if_not_exists\((.+)\)", text):
        path_text, default = _split_top(m.group(1))
        path = _path(path_text, names)
        if _exists(item, path):
            return copy.deepcopy(_get(item, path))
        return _operand(default, item, names, values)
    if m := re.fullmatch(r"list_append\((.+)\)", text):
        first, second = _split_top(m.group(1))
        return _operand(first, item, names, values) + _operand(second, item, names, values)
    return copy.deepcopy(_get(item, _path(text, names)))


def _value(text: str, item: Any, names: dict[str, str], values: dict[str, Any]) -> Any:
    depth = 0
    for position, char in enumerate(text):
        depth += (char == "(") - (char == ")")
        if char in "+-" and depth == 0 and position > 0:
            left = _operand(text[:position], item, names, values)
            right = _operand(text[position + 1 :], item, names, values)
            return Decimal(left) + Decimal(right) * (1 if char == "+" else -1)
    return _operand(text, item, names, values)


def _apply_update(
    item: dict[str, Any], expression: str, names: dict[str, str], values: dict[str, Any]
) -> None:
    pieces = _CLAUSE.split(expression)
    for clause, body in zip(pieces[1::2], pieces[2::2], strict=True):
        for action in _split_top(body):
            if clause == "SET":
                target, _, value = action.partition("=")
                _set(item, _path(target, names), _value(value, item, names, values))
            elif clause == "REMOVE":
                path = _path(action, names)
                if _exists(item, path):
                    parent = _get(item, path[:-1])
                    del parent[path[-1]]
            elif clause == "ADD":
                target, operand = action.split(None, 1)
                path = _path(target, names)
                added = _operand(operand, item, names, values)
                if isinstance(added, set):
                    _set(item, path, (_get(item, path) if _exists(item, path) else set()) | added)
                    continue
                base = _get(item, path) if _exists(item, path) else Decimal(0)
                _set(item, path, Decimal(base) + Decimal(added))
            elif clause == "DELETE":
                target, operand = action.split(None, 1)
                path = _path(target, names)
                if _exists(item, path):
                    left = _get(item, path) - _operand(operand, item, names, values)
                    if left:  # DynamoDB removes a set emptied this way
                        _set(item, path, left)
                    else:
                        del _get(item, path[:-1])[path[-1]]
            else:
                raise NotImplementedError(f"update clause {clause}")

"""A thin, typed layer over the low-level DynamoDB client.

The low-level client (not boto3.resource) keeps cold starts short; items are converted
with boto3's TypeSerializer/TypeDeserializer and numbers come back as int, never float
(money is integer minor units).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from chalicelib.repo import keys

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

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

    def refused_tags(self, name: str | None = None) -> set[Any]:
        """The tags of the refusing parts (of this name, or of any): which session of a
        batch, say."""
        return {part.tag for part in self._refusals() if name is None or part.name == name}


@dataclass(frozen=True)
class Part:
    """What a transaction operation is, for the caller reading a refusal: a name defined
    once in `repo/parts.py` and, where one transaction holds many, a tag saying which."""

    name: str
    tag: Any = None


PART_KEY: Final = "_part"  # carried beside an operation, never sent to DynamoDB


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else value
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, set):
        return {_plain(v) for v in value}
    return value


def to_attrs(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in item.items() if v is not None}


def from_attrs(attrs: Mapping[str, Any]) -> Item:
    return {k: _plain(_deserializer.deserialize(v)) for k, v in attrs.items()}


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

    def transact(self, operations: Sequence[Mapping[str, Any]]) -> None:
        """All-or-nothing write. Build operations with the tx_* helpers below."""
        parts = [op.get(PART_KEY) for op in operations]
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {kind: {"TableName": self.table, **body}}
                    for op in operations
                    for kind, body in op.items()
                    if kind != PART_KEY
                ]
            )
        except ClientError as exc:
            if _error_code(exc) == "TransactionCanceledException":
                reasons = [
                    str(r.get("Code", "None")) for r in exc.response.get("CancellationReasons", [])
                ]
                raise TransactionFailed(reasons, parts) from exc
            raise

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

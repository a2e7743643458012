"""The embedded DynamoDB's speed-ups (infra/local_dynamodb.make_moto_fast) change what
moto costs, never what it answers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core.serialize import BaseJSONSerializer, get_serializer_class
from moto.core.utils import get_service_model

from infra import local_dynamodb
from infra.local_dynamodb import make_moto_atomic, wire_attribute_value
from infra.table_schema import create_table

TABLE = "speed-test"

ITEM: dict[str, Any] = {
    "PK": {"S": "T#1#W#2026-W48"},
    "SK": {"S": "SLOT#a"},
    "empty": {"S": ""},
    "accents": {"S": "Zoë <b>&amp;</b> 日本"},
    "count": {"N": "-12.50"},
    "yes": {"BOOL": True},
    "no": {"BOOL": False},
    "nothing": {"NULL": True},
    "names": {"SS": ["a", "b"]},
    "numbers": {"NS": ["1", "2.5"]},
    "nested": {
        "M": {
            "list": {"L": [{"S": "x"}, {"N": "1"}, {"M": {"deep": {"BOOL": False}}}, {"L": []}]},
            "blob": {"B": "aGVsbG8="},
        }
    },
    "raw": {"B": "aGVsbG8="},
}


def _answer(result: dict[str, Any], *, generic: bool, monkeypatch: pytest.MonkeyPatch) -> Any:
    make_moto_atomic()
    model = get_service_model("dynamodb")
    serializer_class = get_serializer_class("dynamodb", "json")
    with monkeypatch.context() as patch:
        if generic:
            patch.setattr(
                BaseJSONSerializer,
                "_serialize_type_structure",
                BaseJSONSerializer._pt_generic_structure,  # type: ignore[attr-defined]
            )
        serializer = serializer_class(model.operation_model("GetItem"))
        return json.loads(serializer.serialize(result)["body"])


def test_an_item_is_answered_exactly_as_moto_s_own_serializer_would(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    copied: list[Any] = []
    monkeypatch.setattr(
        local_dynamodb,
        "wire_attribute_value",
        lambda value: copied.append(value) or wire_attribute_value(value),
    )
    fast = _answer({"Item": ITEM}, generic=False, monkeypatch=monkeypatch)
    assert all(ITEM[name] in copied for name in ("accents", "count", "names", "nested"))
    generic = _answer({"Item": ITEM}, generic=True, monkeypatch=monkeypatch)
    assert fast == generic
    assert fast["Item"]["accents"] == {"S": "Zoë <b>&amp;</b> 日本"}


@pytest.mark.parametrize(
    "value",
    [{"B": "aGVsbG8="}, {"S": 1}, {"S": "a", "N": "1"}, {"M": {"x": {"B": b"1"}}}, "S"],
)
def test_anything_but_plain_json_values_is_left_to_the_generic_path(value: Any) -> None:
    with pytest.raises(Exception) as refused:
        wire_attribute_value(value)
    assert type(refused.value).__name__ == "_NotPlain"


@pytest.fixture
def client() -> Iterator[Any]:
    make_moto_atomic()
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="eu-west-2")
        create_table(dynamodb, TABLE)
        yield dynamodb


def _key(sk: str) -> dict[str, Any]:
    return {"PK": {"S": "P"}, "SK": {"S": sk}}


def test_every_type_survives_a_round_trip_through_boto3(client: Any) -> None:
    resource = boto3.resource("dynamodb", region_name="eu-west-2").Table(TABLE)
    item = {
        "PK": "P",
        "SK": "all",
        "n": Decimal("3.25"),
        "b": b"\x00\xff",
        "m": {"l": [1, "two", None, True, {b"x"}], "s": {"a"}},
    }
    resource.put_item(Item=item)
    assert resource.get_item(Key={"PK": "P", "SK": "all"})["Item"] == item


def test_a_refused_transaction_leaves_every_item_it_touched_as_it_was(client: Any) -> None:
    client.put_item(TableName=TABLE, Item={**_key("kept"), "v": {"N": "1"}})
    with pytest.raises(ClientError, match="TransactionCanceled"):
        client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": TABLE, "Item": {**_key("new"), "v": {"N": "1"}}}},
                {
                    "Update": {
                        "TableName": TABLE,
                        "Key": _key("kept"),
                        "UpdateExpression": "SET v = :two",
                        "ExpressionAttributeValues": {":two": {"N": "2"}},
                    }
                },
                {
                    "ConditionCheck": {
                        "TableName": TABLE,
                        "Key": _key("absent"),
                        "ConditionExpression": "attribute_exists(PK)",
                    }
                },
            ]
        )
    items = client.query(
        TableName=TABLE,
        KeyConditionExpression="PK = :p",
        ExpressionAttributeValues={":p": {"S": "P"}},
    )["Items"]
    assert items == [{**_key("kept"), "v": {"N": "1"}}]


def test_queries_keep_dynamodb_s_sort_order_and_conditions(client: Any) -> None:
    for sk in ("b", "a#2", "a#10", "A", "é"):
        client.put_item(TableName=TABLE, Item=_key(sk))
    found = client.query(
        TableName=TABLE,
        KeyConditionExpression="PK = :p AND begins_with(SK, :a)",
        ExpressionAttributeValues={":p": {"S": "P"}, ":a": {"S": "a"}},
    )["Items"]
    assert [i["SK"]["S"] for i in found] == ["a#10", "a#2"]
    everything = client.query(
        TableName=TABLE,
        KeyConditionExpression="PK = :p",
        ExpressionAttributeValues={":p": {"S": "P"}},
        ScanIndexForward=False,
    )["Items"]
    assert [i["SK"]["S"] for i in everything] == ["é", "b", "a#2", "a#10", "A"]


def test_the_400_kb_item_limit_still_holds_however_the_item_grows(client: Any) -> None:
    with pytest.raises(ClientError, match="Item size"):
        client.put_item(TableName=TABLE, Item={**_key("big"), "v": {"S": "x" * 410_000}})
    client.put_item(TableName=TABLE, Item={**_key("grows"), "v": {"S": "x" * 300_000}})
    with pytest.raises(ClientError, match="Item size"):
        client.update_item(
            TableName=TABLE,
            Key=_key("grows"),
            UpdateExpression="SET w = :w",
            ExpressionAttributeValues={":w": {"S": "y" * 110_000}},
        )
    client.update_item(
        TableName=TABLE,
        Key=_key("grows"),
        UpdateExpression="SET v = :v",
        ExpressionAttributeValues={":v": {"S": "z" * 390_000}},
    )  # replacing an attribute counts the new value, not both

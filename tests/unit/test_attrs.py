"""DynamoDB answers to Python: `from_attrs` against boto3's TypeDeserializer on every type,
and the item reads taken as plain JSON (`parse_items_as_json`) against botocore's own
parser on moto, errors and retries included."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import Any

import boto3
import pytest
from boto3.dynamodb.types import Binary, TypeDeserializer, TypeSerializer
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.repo import keys
from chalicelib.repo.dynamo import (
    ITEM_READS,
    Condition,
    ConditionFailed,
    Db,
    TransactionFailed,
    from_attrs,
    parse_items_as_json,
    to_attrs,
    tx_put,
)
from tests.conftest import TEST_TABLE

REGION = "eu-west-2"


def reference(attrs: dict[str, Any]) -> dict[str, Any]:
    """What from_attrs returned before it was hand-written: TypeDeserializer, then whole
    Decimals made int (also inside lists, maps and sets)."""

    def plain(value: Any) -> Any:
        if isinstance(value, Decimal):
            return int(value) if value == value.to_integral_value() else value
        if isinstance(value, list):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, set):
            return {plain(v) for v in value}
        return value

    deserializer = TypeDeserializer()
    return {k: plain(deserializer.deserialize(v)) for k, v in attrs.items()}


# from_attrs -------------------------------------------------------------------------
numbers = st.one_of(
    st.integers(min_value=-(10**37), max_value=10**37),
    st.decimals(allow_nan=False, allow_infinity=False, places=4, max_value=10**20).map(
        lambda d: d.normalize()
    ),
)
scalars = st.one_of(
    st.text(max_size=12),
    numbers,
    st.booleans(),
    st.none(),
    st.binary(min_size=1, max_size=8).map(Binary),
)
sets = st.one_of(
    st.sets(st.text(max_size=6), min_size=1, max_size=4),
    st.sets(st.integers(min_value=-(10**9), max_value=10**9), min_size=1, max_size=4),
    st.sets(st.binary(min_size=1, max_size=4), min_size=1, max_size=3).map(
        lambda values: {Binary(v) for v in values}
    ),
)
values = st.recursive(
    st.one_of(scalars, sets),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(min_size=1, max_size=6), inner, max_size=4),
    ),
    max_leaves=12,
)
items = st.dictionaries(st.text(min_size=1, max_size=8), values, min_size=1, max_size=6)


def wire(item: dict[str, Any]) -> dict[str, Any]:
    serializer = TypeSerializer()
    return {k: serializer.serialize(v) for k, v in item.items()}


@given(items)
def test_from_attrs_reads_every_type_as_the_type_deserializer_did(item: dict[str, Any]) -> None:
    attrs = wire(item)
    assert from_attrs(attrs) == reference(attrs)


@given(items)
def test_an_answer_taken_as_json_reads_the_same_as_one_botocore_parsed(item: dict) -> None:
    """botocore hands binaries over decoded; plain JSON still has them in base64."""
    attrs = wire(item)

    def as_json(value: Any) -> Any:
        if isinstance(value, bytes | bytearray):
            return base64.b64encode(value).decode()
        if isinstance(value, list):
            return [as_json(v) for v in value]
        if isinstance(value, dict):
            return {k: as_json(v) for k, v in value.items()}
        return value

    taken = json.loads(json.dumps(as_json(attrs)))
    assert from_attrs(taken) == reference(attrs)


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("42", 42),
        ("-7", -7),
        ("0", 0),
        ("-0", 0),
        ("1E+2", 100),
        ("2.000", 2),
        ("12345678901234567890123456789012345678", 12345678901234567890123456789012345678),
        ("1.50", Decimal("1.50")),
        ("-0.25", Decimal("-0.25")),
    ],
)
def test_whole_numbers_come_back_as_int_and_others_as_decimal(number: str, expected: Any) -> None:
    read = from_attrs({"n": {"N": number}, "deep": {"M": {"l": {"L": [{"N": number}]}}}})
    assert read == {"n": expected, "deep": {"l": [expected]}}
    assert type(read["n"]) is type(expected)
    assert read == reference({"n": {"N": number}, "deep": {"M": {"l": {"L": [{"N": number}]}}}})


def test_number_sets_string_sets_nulls_and_booleans() -> None:
    attrs = {
        "ns": {"NS": ["1", "2.5", "3"]},
        "ss": {"SS": ["a", "b"]},
        "none": {"NULL": True},
        "yes": {"BOOL": True},
        "no": {"BOOL": False},
        "empty_list": {"L": []},
        "empty_map": {"M": {}},
    }
    read = from_attrs(attrs)
    assert read == {
        "ns": {1, Decimal("2.5"), 3},
        "ss": {"a", "b"},
        "none": None,
        "yes": True,
        "no": False,
        "empty_list": [],
        "empty_map": {},
    }
    assert read == reference(attrs)


@pytest.mark.parametrize("bad", [{}, {"X": "1"}])
def test_an_unknown_or_missing_type_is_refused_as_the_type_deserializer_does(bad: dict) -> None:
    with pytest.raises(TypeError):
        from_attrs({"a": bad})
    with pytest.raises(TypeError):
        reference({"a": bad})


# Item reads as plain JSON, on moto ---------------------------------------------------
@pytest.fixture
def clients(aws: None) -> tuple[Any, Any]:
    """Two clients on the same table: botocore's parser, and the item reads as JSON."""
    plain = boto3.client("dynamodb", region_name=REGION)
    fast = boto3.client("dynamodb", region_name=REGION)
    parse_items_as_json(fast)
    return plain, fast


def without_request_ids(answer: dict[str, Any]) -> dict[str, Any]:
    """An answer without what differs between two calls (request id, date header)."""
    meta = answer["ResponseMetadata"]
    return {
        **{k: v for k, v in answer.items() if k != "ResponseMetadata"},
        "ResponseMetadata": {
            "HTTPStatusCode": meta["HTTPStatusCode"],
            "RetryAttempts": meta["RetryAttempts"],
        },
    }


def put_items(db: Db, count: int, pk: str = "T#t1#W#2026-W48") -> list[dict[str, Any]]:
    written = []
    for n in range(count):
        item = {
            keys.PK: pk,
            keys.SK: f"SLOT#20261125T{n:02d}0000Z#s{n}",
            "type": "slot",
            "start": 540 + n,
            "price": Decimal("12.5"),
            "location": {"name": "Studio", "archived": False, "ids": ["a", "b"]},
            "tags": {"x", "y"},
            "nothing": None,
        }
        db.put(item)
        written.append({k: v for k, v in item.items() if v is not None})
    return written


def test_setting_the_json_path_up_twice_or_on_a_stand_in_changes_nothing(clients) -> None:
    plain, fast = clients
    parse_items_as_json(fast)  # a second Db on the same client
    parse_items_as_json(object())  # the benchmark's in-memory stand-in has no events
    db = Db(fast, TEST_TABLE)
    written = put_items(db, 2)
    query = {
        "TableName": TEST_TABLE,
        "KeyConditionExpression": "PK = :pk",
        "ExpressionAttributeValues": {":pk": {"S": "T#t1#W#2026-W48"}},
    }
    assert without_request_ids(fast.query(**query)) == without_request_ids(plain.query(**query))
    assert db.query("T#t1#W#2026-W48") == written
    assert "PutItem" not in ITEM_READS and "TransactWriteItems" not in ITEM_READS


def test_query_get_item_and_batch_get_answer_as_botocore_parses_them(clients) -> None:
    plain, fast = clients
    db = Db(fast, TEST_TABLE)
    written = put_items(db, 5)
    query = {
        "TableName": TEST_TABLE,
        "KeyConditionExpression": "PK = :pk",
        "ExpressionAttributeValues": {":pk": {"S": "T#t1#W#2026-W48"}},
        "ConsistentRead": True,
        "ReturnConsumedCapacity": "TOTAL",
    }
    assert without_request_ids(fast.query(**query)) == without_request_ids(plain.query(**query))
    paged = {**query, "Limit": 2}
    first = fast.query(**paged)
    assert without_request_ids(first) == without_request_ids(plain.query(**paged))
    assert first["LastEvaluatedKey"] == plain.query(**paged)["LastEvaluatedKey"]

    key = {keys.PK: {"S": written[0][keys.PK]}, keys.SK: {"S": written[0][keys.SK]}}
    get = {"TableName": TEST_TABLE, "Key": key, "ConsistentRead": True}
    assert without_request_ids(fast.get_item(**get)) == without_request_ids(plain.get_item(**get))
    missing = {**get, "Key": {**key, keys.SK: {"S": "SLOT#nothing"}}}
    assert "Item" not in fast.get_item(**missing)
    assert without_request_ids(fast.get_item(**missing)) == without_request_ids(
        plain.get_item(**missing)
    )

    batch = {"RequestItems": {TEST_TABLE: {"Keys": [key], "ConsistentRead": True}}}
    assert without_request_ids(fast.batch_get_item(**batch)) == without_request_ids(
        plain.batch_get_item(**batch)
    )
    # And what the app reads from them, through Db.
    assert db.query("T#t1#W#2026-W48") == written
    assert db.get({keys.PK: written[0][keys.PK], keys.SK: written[0][keys.SK]}) == written[0]
    assert db.batch_get([{keys.PK: w[keys.PK], keys.SK: w[keys.SK]} for w in written]) == written


def test_a_batch_get_over_16_mb_answers_unprocessed_keys_and_db_reads_them_all(clients) -> None:
    """moto stops a BatchGetItem at DynamoDB's 16 MB and returns the rest as
    UnprocessedKeys: the JSON path must hand them over as botocore does."""
    plain, fast = clients
    db = Db(fast, TEST_TABLE)
    big = "x" * 390_000
    stored = []
    for n in range(44):
        item = {keys.PK: "T#big", keys.SK: f"ITEM#{n:02d}", "blob": big}
        db.put(item)
        stored.append({keys.PK: item[keys.PK], keys.SK: item[keys.SK]})
    batch = {
        "RequestItems": {
            TEST_TABLE: {"Keys": [to_attrs(k) for k in stored], "ConsistentRead": True}
        }
    }
    answer = fast.batch_get_item(**batch)
    assert answer["UnprocessedKeys"][TEST_TABLE]["Keys"]
    assert without_request_ids(answer) == without_request_ids(plain.batch_get_item(**batch))
    read = db.batch_get(stored)
    assert sorted(i[keys.SK] for i in read) == sorted(k[keys.SK] for k in stored)


def test_a_transaction_cancelled_still_says_which_part_refused(clients) -> None:
    _plain, fast = clients
    db = Db(fast, TEST_TABLE)
    db.put({keys.PK: "T#t1", keys.SK: "A", "version": 1})
    condition = Condition("attribute_not_exists(#pk)", {"#pk": keys.PK})
    with pytest.raises(TransactionFailed) as failed:
        db.transact(
            [
                tx_put({keys.PK: "T#t1", keys.SK: "B"}, condition, part="new b"),
                tx_put({keys.PK: "T#t1", keys.SK: "A"}, condition, part="new a"),
            ]
        )
    assert failed.value.reasons == ["None", "ConditionalCheckFailed"]
    assert failed.value.refused_parts == ["new a"]


def test_a_refused_conditional_write_still_returns_the_item_it_found(clients) -> None:
    _plain, fast = clients
    db = Db(fast, TEST_TABLE)
    db.put({keys.PK: "T#t1", keys.SK: "A", "version": 3, "price": Decimal("1.5")})
    with pytest.raises(ConditionFailed) as failed:
        db.put(
            {keys.PK: "T#t1", keys.SK: "A", "version": 4},
            Condition("#v = :v", {"#v": "version"}, {":v": 2}),
        )
    assert failed.value.old_item == {
        keys.PK: "T#t1",
        keys.SK: "A",
        "version": 3,
        "price": Decimal("1.5"),
    }
    with pytest.raises(ConditionFailed) as updated:
        db.update(
            {keys.PK: "T#t1", keys.SK: "A"},
            Condition("SET #v = :next", {"#v": "version"}, {":next": 5}),
            Condition("#v = :v", {"#v": "version"}, {":v": 2}),
        )
    assert updated.value.old_item is not None and updated.value.old_item["version"] == 3


def test_an_error_answer_to_a_read_is_still_a_client_error(clients) -> None:
    _plain, fast = clients
    with pytest.raises(ClientError) as refused:
        fast.query(
            TableName="no-such-table",
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": "x"}},
        )
    assert refused.value.response["Error"]["Code"] == "ResourceNotFoundException"


def respond_with(client: Any, bodies: list[tuple[int, bytes]]) -> list[int]:
    """Answer the client's next calls with these (status, body) pairs, as a service
    would over HTTP; returns the list the attempts are counted in."""
    attempts: list[int] = []

    def send(request: Any, **_: Any) -> AWSResponse:
        status, body = bodies[min(len(attempts), len(bodies) - 1)]
        attempts.append(status)

        class Raw:
            def stream(self, **_: Any) -> Any:
                yield body

        return AWSResponse(
            request.url,
            status,
            {"x-amzn-requestid": f"req-{len(attempts)}", "content-type": "application/json"},
            Raw(),
        )

    client.meta.events.register_first("before-send.dynamodb.Query", send)
    return attempts


def test_a_throttled_read_is_retried_then_read_as_json(clients) -> None:
    _plain, fast = clients
    throttled = json.dumps(
        {
            "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
            "message": "slow down",
        }
    ).encode()
    answer = json.dumps({"Items": [{"PK": {"S": "p"}, "n": {"N": "3"}}], "Count": 1}).encode()
    attempts = respond_with(fast, [(400, throttled), (200, answer)])
    result = fast.query(
        TableName=TEST_TABLE,
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": "p"}},
    )
    assert attempts == [400, 200]
    assert result["Items"] == [{"PK": {"S": "p"}, "n": {"N": "3"}}]
    assert result["Count"] == 1
    assert result["ResponseMetadata"]["RetryAttempts"] == 1
    assert result["ResponseMetadata"]["RequestId"] == "req-2"


def test_a_success_answer_that_is_not_json_is_left_to_botocore(clients) -> None:
    _plain, fast = clients
    respond_with(fast, [(200, b"")])
    result = fast.query(
        TableName=TEST_TABLE,
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": "p"}},
    )
    assert result["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert "Items" not in result


def test_item_reads_really_skip_botocore_s_parser_binaries_show_it(clients) -> None:
    """The one visible difference: botocore decodes a binary's base64, plain JSON keeps
    it, and from_attrs reads both to the same Binary."""
    plain, fast = clients
    db = Db(fast, TEST_TABLE)
    db.put({keys.PK: "T#t1", keys.SK: "BIN", "raw": Binary(b"\x00\x01")})
    get = {"TableName": TEST_TABLE, "Key": to_attrs({keys.PK: "T#t1", keys.SK: "BIN"})}
    assert plain.get_item(**get)["Item"]["raw"] == {"B": b"\x00\x01"}
    assert fast.get_item(**get)["Item"]["raw"] == {"B": base64.b64encode(b"\x00\x01").decode()}
    assert from_attrs(fast.get_item(**get)["Item"]) == from_attrs(plain.get_item(**get)["Item"])
    assert db.get({keys.PK: "T#t1", keys.SK: "BIN"}) == {
        keys.PK: "T#t1",
        keys.SK: "BIN",
        "raw": Binary(b"\x00\x01"),
    }


def test_item_reads_output_shapes_hold_nothing_plain_json_would_read_differently() -> None:
    """botocore's parser turns timestamps into datetimes and blobs into bytes; plain JSON
    does neither. The item reads' answers have no timestamp, and their only blobs are
    attribute values (B, BS), which from_attrs decodes."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("dynamodb")
    found: set[tuple[str, str]] = set()

    def walk(shape: Any, seen: set[str]) -> None:
        if shape.name in seen:
            return
        seen = seen | {shape.name}
        if shape.type_name in ("timestamp", "blob"):
            found.add((shape.type_name, shape.name))
        for member in getattr(shape, "members", {}).values():
            if shape.name == "AttributeValue" and member.type_name == "blob":
                continue  # B, decoded by from_attrs
            if shape.name == "AttributeValue" and member.name == "BinarySetAttributeValue":
                continue  # BS, likewise
            walk(member, seen)
        for child in ("member", "key", "value"):
            if hasattr(shape, child):
                walk(getattr(shape, child), seen)

    for operation in ITEM_READS:
        walk(model.operation_model(operation).output_shape, set())
    assert found == set()


def test_a_transport_error_reaches_the_caller_through_the_call_counter() -> None:
    """botocore's after-call-error names no model: the counter must count the call and
    stay out of the way of the real error."""
    from chalicelib.repo import metrics

    counted = metrics.begin()
    try:
        metrics._after_call(exception=ConnectionError("reset"), context={})
        assert counted.calls == 1 and counted.operations == ["error"]
    finally:
        metrics._current.set(None)

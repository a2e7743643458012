"""Reading the whole table, for tests only (the app never scans).

`unchanged(repo)` is how a stale-write test says "refused, and nothing was written":
the table is scanned before and after and must be identical, item for item.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from chalicelib.repo.dynamo import Item, from_attrs


def table_items(repo: Any) -> list[Item]:
    """Every item of the table, sorted by key: a moto Scan through the repository's client."""
    db = repo.db
    items: list[Item] = []
    for page in db.client.get_paginator("scan").paginate(TableName=db.table, ConsistentRead=True):
        items += [from_attrs(i) for i in page["Items"]]
    return sorted(items, key=lambda i: (str(i.get("PK")), str(i.get("SK"))))


def describe_difference(before: list[Item], after: list[Item]) -> str:
    """A readable diff of two table snapshots (added, removed, changed items)."""
    old = {(i.get("PK"), i.get("SK")): i for i in before}
    new = {(i.get("PK"), i.get("SK")): i for i in after}
    lines = [f"+ {new[k]}" for k in new.keys() - old.keys()]
    lines += [f"- {old[k]}" for k in old.keys() - new.keys()]
    for key in old.keys() & new.keys():
        if old[key] != new[key]:
            changed = {
                name: (old[key].get(name), new[key].get(name))
                for name in old[key].keys() | new[key].keys()
                if old[key].get(name) != new[key].get(name)
            }
            lines.append(f"~ {key}: {changed}")
    return "\n".join(sorted(lines, key=str))


@contextmanager
def unchanged(repo: Any) -> Iterator[None]:
    """Assert that the block leaves every item of the table exactly as it was."""
    before = table_items(repo)
    yield
    after = table_items(repo)
    assert after == before, "the table changed:\n" + describe_difference(before, after)


def strings_in(value: Any) -> Iterator[str]:
    """Every string inside an attribute value (maps, lists and sets included)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, bytes):
        yield value.decode("utf-8", "replace")
    elif isinstance(value, dict):
        for key, inner in value.items():
            yield str(key)
            yield from strings_in(inner)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for inner in value:
            yield from strings_in(inner)
    elif value is not None:
        yield str(value)


def raw_set(repo: Any, key: dict[str, str], **values: Any) -> None:
    """Set attributes on an item behind the repository's back (for states the app never
    makes itself, to prove a write condition guards against them)."""
    from boto3.dynamodb.types import TypeSerializer

    serialize = TypeSerializer().serialize
    names = {f"#n{i}": name for i, name in enumerate(values)}
    attrs = {f":v{i}": serialize(value) for i, value in enumerate(values.values())}
    repo.db.client.update_item(
        TableName=repo.db.table,
        Key={name: serialize(part) for name, part in key.items()},
        UpdateExpression="SET " + ", ".join(f"#n{i} = :v{i}" for i in range(len(values))),
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=attrs,
    )

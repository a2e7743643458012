"""One moto mock per test module and a fresh table per test.

Starting moto and creating its first table costs ~0.15 s; a further table in a running
mock costs ~0.02 s. A module with many small tests overrides the suite's `repo` fixture with

    moto_client, repo = table_per_test()

Every test still gets an empty table of its own (built from infra/table.yaml, with moto
made atomic as in tests/conftest.py), so nothing leaks from one test to the next.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chalicelib.domain.tokens import new_id
from infra.local_dynamodb import make_moto_atomic
from infra.table_schema import create_table
from tests.conftest import MOTO_CONFIG, TEST_TABLE, table_template

REGION = "eu-west-2"


@contextmanager
def moto_session() -> Iterator[Any]:
    make_moto_atomic()
    with mock_aws(config=MOTO_CONFIG):
        yield boto3.client("dynamodb", region_name=REGION)


@contextmanager
def fresh_table(client: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An empty table for one test; TABLE_NAME points at it until the test ends."""
    name = f"{TEST_TABLE}-{new_id()}"
    create_table(client, name, table_template())
    monkeypatch.setenv("TABLE_NAME", name)
    try:
        yield name
    finally:
        client.delete_table(TableName=name)


def table_per_test() -> tuple[Any, Any]:
    """The module-scoped mock and a function-scoped `repo` on a fresh table (see above)."""

    @pytest.fixture(scope="module")
    def moto_client() -> Iterator[Any]:
        with moto_session() as client:
            yield client

    @pytest.fixture
    def repo(moto_client: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
        from chalicelib import runtime

        with fresh_table(moto_client, monkeypatch):
            yield runtime.repository()

    return moto_client, repo

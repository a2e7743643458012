"""Shared fixtures: an isolated moto DynamoDB built from infra/table.yaml, a frozen clock."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import pytest
from moto import mock_aws
from moto.core.config import default_user_config

from chalicelib import runtime
from infra.local_dynamodb import make_moto_atomic
from infra.table_schema import create_table, load_template
from tests.support.fake_stripe import card_stage, stripe_api  # noqa: F401 (shared fixtures)

TEST_TABLE = "pt-bookings-test"


def _share_botocore_loader() -> None:
    """moto starts every test on a fresh default boto3 session, and each new botocore
    session reads and parses its JSON service models again (~80 ms a client, two clients
    a test). One loader for the whole run keeps those files read once: the loader holds
    nothing but search paths and what it has read, the same for every session."""
    import functools

    import botocore.loaders
    import botocore.session

    if getattr(botocore.session, "_pt_shared_loader", False):
        return
    botocore.session.create_loader = functools.cache(botocore.loaders.create_loader)
    botocore.session._pt_shared_loader = True  # type: ignore[attr-defined]


_share_botocore_loader()
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True)
def _aws_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # Fake credentials so nothing can ever reach a real account from a test.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-2")
    monkeypatch.setenv("TABLE_NAME", TEST_TABLE)
    # The test stage's value, also outside requests (services derive client links).
    monkeypatch.setenv("LINK_SECRET", "test-only-not-a-secret")
    monkeypatch.delenv("DYNAMODB_ENDPOINT", raising=False)
    runtime.reset()
    yield
    runtime.reset()


@functools.cache
def table_template() -> dict:
    """infra/table.yaml, parsed once a run (~11 ms a parse, once a test before).

    create_table only reads it (create_table_kwargs deep-copies what it passes on), and the
    file does not change while the tests run, so every test still gets the template's table.
    """
    return load_template()


# moto by default drops boto3's default session at every mock start, so each test paid for
# a new botocore session and its first clients again (~10 ms). The session holds no AWS
# state (that is moto's backends, reset at every start as before); moto's request hook is
# a botocore built-in handler, so a session made after moto is imported, as this one is,
# is mocked exactly like a fresh one.
MOTO_CONFIG = {"core": {**default_user_config["core"], "reset_boto3_session": False}}


@pytest.fixture
def aws() -> Iterator[None]:
    make_moto_atomic()
    with mock_aws(config=MOTO_CONFIG):
        create_table(
            boto3.client("dynamodb", region_name="eu-west-2"), TEST_TABLE, table_template()
        )
        yield


@pytest.fixture
def repo(aws: None) -> runtime.Repository:
    return runtime.repository()


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        from datetime import timedelta

        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    frozen = Clock(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
    runtime.set_clock(frozen)
    return frozen

"""Helpers for the page query service tests: the dependencies a request would be handed,
a meter of DynamoDB round trips, and the check that a view model holds only values."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from datetime import datetime
from typing import TypeVar

from chalicelib import runtime
from chalicelib.repo import metrics
from chalicelib.repo.repository import Repository
from chalicelib.services.deps import Deps
from chalicelib.services.links import Links
from tests.support.builders import NOW

T = TypeVar("T")


def deps_for(repo: Repository, now: datetime = NOW) -> Deps:
    return Deps(repo, runtime.links(), runtime.config(), now)


def counted(call: Callable[[], T]) -> tuple[T, int]:
    """What `call` returns, and how many DynamoDB round trips it made."""
    recorded = metrics.begin()
    result = call()
    return result, recorded.calls


def holds_no_service_objects(page: object, *also: type) -> None:
    # A view model is handed to a template: nothing in it can read the table or make links.
    for field in fields(page):  # type: ignore[arg-type]
        value = getattr(page, field.name)
        assert not isinstance(value, (Repository, Links, Deps, *also)), field.name

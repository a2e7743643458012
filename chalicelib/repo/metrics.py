"""Per-request count and duration of DynamoDB calls, for the Server-Timing header.

botocore's before-call/after-call events bracket each API call (retries included), so
the count is the number of round trips the code asked for.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any


@dataclass
class DbMetrics:
    calls: int = 0
    seconds: float = 0.0
    operations: list[str] = field(default_factory=list)
    _started: dict[int, float] = field(default_factory=dict)


_current: ContextVar[DbMetrics | None] = ContextVar("db_metrics", default=None)


def begin() -> DbMetrics:
    metrics = DbMetrics()
    _current.set(metrics)
    return metrics


def current() -> DbMetrics | None:
    return _current.get()


def _before_call(model: Any, **_: Any) -> None:
    metrics = _current.get()
    if metrics is not None:
        metrics._started[id(model)] = time.perf_counter()


def _after_call(model: Any = None, **_: Any) -> None:
    # botocore's after-call-error (a transport failure) names no model: the call still
    # counts, and the real error must reach the caller, not a TypeError from this hook.
    metrics = _current.get()
    if metrics is None:
        return
    started = metrics._started.pop(id(model), None) if model is not None else None
    metrics.calls += 1
    metrics.operations.append(model.name if model is not None else "error")
    if started is not None:
        metrics.seconds += time.perf_counter() - started


def instrument(client: Any) -> None:
    client.meta.events.register("before-call.dynamodb", _before_call)
    client.meta.events.register("after-call.dynamodb", _after_call)
    client.meta.events.register("after-call-error.dynamodb", _after_call)

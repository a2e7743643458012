"""Threads released together: the tool for every race test."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any


def race(workers: int, action: Callable[[int], Any], *, timeout: float | None = None) -> list[Any]:
    """Run `action(i)` for i in range(workers), each in its own thread, all released by
    one barrier at the same instant. Exceptions are returned (not raised) so the test can
    count outcomes; the list is in `i` order. `timeout` (seconds, none by default) bounds
    the wait at the barrier and for the results."""
    barrier = threading.Barrier(workers, timeout=timeout)

    def run(i: int) -> Any:
        barrier.wait()
        try:
            return action(i)
        except Exception as exc:  # collected: the test counts outcomes
            return exc

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(run, range(workers), timeout=timeout))

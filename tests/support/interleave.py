"""Changing an item between a service's read and its write.

`just_before(monkeypatch, repo, owner, "method", change)` makes the next call of
`owner.method` first run `change()` (another request getting there first), then the write
itself, with whatever the caller read before. The returned record says whether that
write raised and whether it left the table exactly as it found it, so a test can tell
"the write refused" from "a check before it refused".
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.table import describe_difference, table_items


@dataclass
class Interleaved:
    called: bool = False
    raised: BaseException | None = None
    difference: str = ""  # what the write itself changed ("" = nothing)

    def assert_refused_unchanged(self, error: type[BaseException] = Exception) -> None:
        assert self.called, "the write was never reached: a check before it refused"
        assert isinstance(self.raised, error), f"the write did not refuse: {self.raised!r}"
        assert not self.difference, "the refused write changed the table:\n" + self.difference


def just_before(
    monkeypatch: pytest.MonkeyPatch,
    repo: Any,
    owner: type,
    name: str,
    change: Callable[[], object],
) -> Interleaved:
    record = Interleaved()
    original = getattr(owner, name)

    @functools.wraps(original)
    def write(*args: Any, **kwargs: Any) -> Any:
        if record.called:  # only the first call is interleaved
            return original(*args, **kwargs)
        record.called = True
        change()
        before = table_items(repo)
        try:
            return original(*args, **kwargs)
        except BaseException as exc:
            record.raised = exc
            raise
        finally:
            record.difference = describe_difference(before, table_items(repo))

    monkeypatch.setattr(owner, name, write)
    return record

"""Jinja templates compiled when the bundle is built (docs/cold-start.md, "Templates").

Jinja compiles a template on its first use in each container: 20–80 ms for a big page
(the client profile, Settings) plus its layout and macros, which a cold start's first
request paid. `infra.bundle` loads every template once into a directory inside the staged
chalicelib/templates/ through Jinja's own bytecode cache (the compiled code, marshalled,
checked against the source's hash and this Python and Jinja version). The deployed app
reads it and never writes (/var/task is read-only). A template missing from it, or
changed since, is compiled as before; with no directory (tests, `make run`) nothing
changes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from jinja2 import BytecodeCache, FileSystemBytecodeCache
from jinja2.bccache import Bucket

TEMPLATES: Final = Path(__file__).resolve().parent / "templates"
# One directory per environment: their settings differ (HTML trims blocks and escapes,
# message texts do neither), so the same source compiles to different code.
CACHE: Final = TEMPLATES / ".compiled"
PATTERN: Final = "%s.cache"


class _ByName(FileSystemBytecodeCache):
    """Keyed by the template's name alone: Jinja also hashes the file's path, which is
    the build directory's when the cache is written and /var/task's when it is read."""

    def get_cache_key(self, name: str, filename: str | None = None) -> str:
        return super().get_cache_key(name)


class _ReadOnly(_ByName):
    def dump_bytecode(self, bucket: Bucket) -> None:
        """Never writes: /var/task is read-only, and a template not built is compiled
        in memory as without a cache."""


def shipped(kind: str) -> BytecodeCache | None:
    """The bundle's compiled templates of one environment ("html" or "text"), or None
    where there are none (every run but a deployed one)."""
    directory = CACHE / kind
    return _ReadOnly(str(directory), PATTERN) if directory.is_dir() else None


def writing(directory: Path) -> BytecodeCache:
    """For infra.bundle: a cache that stores what it compiles into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    return _ByName(str(directory), PATTERN)

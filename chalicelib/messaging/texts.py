"""Message texts (emails, later WhatsApp) rendered from templates/messages/."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import BytecodeCache, Environment, FileSystemLoader, StrictUndefined

from chalicelib import compiled_templates

_TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "messages"


@lru_cache(maxsize=1)
def _environment() -> Environment:
    """The message texts' environment, reading the templates the bundle compiled."""
    return make_environment(compiled_templates.shipped("text"))


def make_environment(bytecode_cache: BytecodeCache | None = None) -> Environment:
    """Plain text, not HTML: no autoescape, but every variable must exist (infra.bundle
    compiles the texts with this very environment)."""
    return Environment(
        loader=FileSystemLoader(str(_TEMPLATES)),
        autoescape=False,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        bytecode_cache=bytecode_cache,
    )


def render_text(name: str, **context: Any) -> str:
    return _environment().get_template(name).render(**context)

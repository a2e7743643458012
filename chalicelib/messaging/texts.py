"""Message texts (emails, later WhatsApp) rendered from templates/messages/."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

_TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "messages"


@lru_cache(maxsize=1)
def _environment() -> Environment:
    # Plain text, not HTML: no autoescape, but every variable must exist.
    return Environment(
        loader=FileSystemLoader(str(_TEMPLATES)),
        autoescape=False,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


def render_text(name: str, **context: Any) -> str:
    return _environment().get_template(name).render(**context)

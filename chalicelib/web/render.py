"""HTML rendering (Jinja2, autoescaped) and the responses views return."""

from __future__ import annotations

import hashlib
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from chalice import Response
from jinja2 import (
    BytecodeCache,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    select_autoescape,
)

from chalicelib import compiled_templates
from chalicelib.domain.grid import WEEKDAYS, WEEKDAYS_SHORT, format_clock, format_duration
from chalicelib.domain.timeutil import zone
from chalicelib.web import request_state

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
STATIC = Path(__file__).resolve().parent.parent / "static"
HTML = "text/html; charset=utf-8"


@lru_cache(maxsize=8)
def static_version(name: str) -> str:
    return hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:10]


def _url_for(path: str, **query: Any) -> str:
    return request_state.current().url_for(path, **query)


def _static_url(name: str) -> str:
    return _url_for(f"/static/{name}", v=static_version(name))


def _local_time(instant: datetime, zone_name: str) -> str:
    return instant.astimezone(zone(zone_name)).strftime("%d %b %Y %H:%M")


def _csrf_token() -> str:
    return request_state.current().csrf_token


def _message_text(message: Any) -> str:
    return request_state.deps().links.message_text(message)


def _document_link(document: Any) -> str:
    """A document's link as the page is drawn: its own, or a presigned GET of its file
    good for minutes (never a public URL; services/documents.view_url)."""
    from chalicelib.services.documents import view_url

    return view_url(request_state.deps().files, document)


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The pages' environment, reading the templates the bundle compiled when deployed."""
    return make_environment(compiled_templates.shipped("html"))


def make_environment(bytecode_cache: BytecodeCache | None = None) -> Environment:
    """The pages' environment (infra.bundle compiles the templates with this very one)."""
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        bytecode_cache=bytecode_cache,
    )
    env.globals.update(
        url_for=_url_for,
        static_url=_static_url,
        csrf_token=_csrf_token,
        clock=format_clock,
        duration=format_duration,
        WEEKDAYS=WEEKDAYS,
        WEEKDAYS_SHORT=WEEKDAYS_SHORT,
    )
    env.filters["local_time"] = _local_time
    # A message's text with its client link made again (the table holds a placeholder).
    env.filters["message_text"] = _message_text
    env.filters["document_link"] = _document_link
    return env


def render(template: str, status: int = 200, **context: Any) -> Response:
    state = request_state.current()
    context.setdefault("session", state.session)
    context.setdefault("tab", None)
    context.setdefault("subtab", None)
    context.setdefault("errors", {})
    context.setdefault("form", {})
    html = environment().get_template(template).render(**context)
    return Response(body=html, status_code=status, headers={"Content-Type": HTML})


def redirect(path: str, **query: Any) -> Response:
    # 303 so that a POST is followed by a GET (no resubmission on reload).
    return Response(body="", status_code=303, headers={"Location": _url_for(path, **query)})


def error_page(status: int, title: str, message: str, **context: Any) -> Response:
    return render("error.html", status=status, title=title, message=message, **context)

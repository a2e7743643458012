"""Typed commands: what a user asked for, as the use cases take it.

The web layer parses each form into one of these (`chalicelib.web.forms`); services and
domain rules never see a raw form mapping. A command's fields are named for the domain
(`location_id`, `start`), and a field whose form name differs says so with an alias.
Errors the rules raise (`InvalidInput`) name command fields; the web layer maps them back
to the form's names, so a page can put each message beside its input.

Shape is checked here (a date is a date, a version is a number); meaning (on the grid,
an active location, inside the booking window) stays in the domain rules, which take the
command's typed fields.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, field_validator


class Command(BaseModel):
    model_config = ConfigDict(
        frozen=True, str_strip_whitespace=True, extra="ignore", populate_by_name=True
    )

    # What to tell the user when a field does not even parse, by field name. A field
    # left out gets a plain "Check this value." (tests pin every message users see).
    messages: ClassVar[dict[str, str]] = {}

    @classmethod
    def form_name(cls, field: str) -> str:
        """The form input a command field comes from (its alias, else its own name)."""
        info = cls.model_fields.get(field)
        return info.alias if info is not None and info.alias else field


class Versioned(Command):
    """A change to something read earlier: the version the page was drawn from."""

    version: int | None = None

    @field_validator("version", mode="before")
    @classmethod
    def _unreadable_is_none(cls, value: Any) -> Any:
        # A form without the hidden field, blank or garbled, is a stale (or tampered)
        # page, not a typo: the version check refuses it with its own message (409).
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        text = str(value or "").strip()
        return int(text) if text.isascii() and text.isdigit() else None

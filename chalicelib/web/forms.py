"""Forms to commands, and command errors back to form fields.

`command(AddSlot, form)` is the only way a view turns a posted form into what a service
takes. A field that does not parse raises `InvalidInput` keyed by the *form* field, with
the command's own message for it; `errors(AddSlot, exc)` turns an `InvalidInput` raised
by the rules (keyed by command fields) into form fields the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeVar

from pydantic import ValidationError

from chalicelib.domain.commands import Command
from chalicelib.domain.errors import InvalidInput

C = TypeVar("C", bound=Command)

DEFAULT_MESSAGE = "Check this value."


def command(
    model: type[C],
    form: Mapping[str, str],
    lists: Mapping[str, Sequence[str]] | None = None,
    **context: object,
) -> C:
    """The command a form asks for. `lists` carries repeated inputs (checkboxes) by form
    name; `context` fills fields that come from the URL or the session, never the form."""
    data: dict[str, object] = {k: v for k, v in form.items() if k != "csrf_token"}
    data.update({k: list(v) for k, v in (lists or {}).items()})
    data.update(context)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(_messages(model, exc)) from None


def _messages(model: type[Command], exc: ValidationError) -> dict[str, str]:
    by_alias = {model.form_name(name): name for name in model.model_fields}
    found: dict[str, str] = {}
    for error in exc.errors():
        where = str(error["loc"][0]) if error["loc"] else "_form"
        field = by_alias.get(where, where)
        found.setdefault(model.form_name(field), model.messages.get(field, DEFAULT_MESSAGE))
    return found


def errors(model: type[Command], exc: InvalidInput) -> dict[str, str]:
    """The rules' errors (by command field) keyed by the form's input names."""
    return {model.form_name(field): message for field, message in exc.errors.items()}

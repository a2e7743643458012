"""Payments → Bank statement: upload a CSV, review the lines matched to invoices, confirm.

The upload is a multipart form (the file and the column mapping). Chalice hands its body
as `raw_body` (API Gateway passes it base64-encoded because app.py lists
multipart/form-data among the binary types, so a Latin-1 byte arrives as it was sent);
the standard library's `email` parser splits it. The usual `@trainer` guard reads the
CSRF token from a urlencoded body, so the upload has a guard of its own that reads it
from the multipart fields; the confirm is an ordinary form.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from chalice import Blueprint, Response

from chalicelib.domain.bank_statements import ColumnMapping
from chalicelib.domain.errors import DomainError, InvalidInput
from chalicelib.services import reconciliation
from chalicelib.services.auth import CurrentSession
from chalicelib.web import forms, request_state
from chalicelib.web.render import error_page, redirect, render
from chalicelib.web.views import FORM, trainer

bp = Blueprint(__name__)
PAGE = "/dashboard/payments/bank"
MULTIPART = ["multipart/form-data"]
# The file's own limit (1 MB) is the domain's, with its message; this only stops a body
# no form of ours could send before it is parsed.
MAX_BODY_BYTES = 2_000_000
FILE_FIELD = "statement"


@dataclass(frozen=True)
class _Posted:
    fields: dict[str, str]
    upload: reconciliation.Upload


class _Unreadable(Exception):
    pass


def _multipart(request: Any) -> _Posted:
    raw = request.raw_body or b""
    body = raw if isinstance(raw, bytes) else str(raw).encode("utf-8")
    if len(body) > MAX_BODY_BYTES:
        raise _Unreadable()
    content_type = str(request.headers.get("content-type", ""))
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1", "replace")
    message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
    if not isinstance(message, EmailMessage) or not message.is_multipart():
        raise _Unreadable()
    fields: dict[str, str] = {}
    filename, content = "", b""
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        if name == FILE_FIELD:
            filename, content = part.get_filename() or "", data
        else:
            fields[name] = data.decode("utf-8", "replace")
    return _Posted(fields, reconciliation.Upload(filename, content))


def _trainer_upload(view: Callable[..., Response]) -> Callable[..., Response]:
    """`@trainer` for a multipart POST: signed in, same origin, the CSRF token from the
    multipart fields, domain errors as pages."""

    @functools.wraps(view)
    def wrapper() -> Response:
        state = request_state.current()
        session = state.load_session()
        if session is None:
            return redirect("/login")
        try:
            posted = _multipart(state.request)
        except _Unreadable:
            return error_page(
                400,
                "This form could not be read",
                "The upload was too large or incomplete. Reload the page and try again "
                "with a statement of at most 1 MB.",
            )
        if not state.same_origin() or not state.csrf_ok(posted.fields.get("csrf_token", "")):
            return error_page(
                403,
                "This form has expired",
                "For your security the form could not be accepted. Go back, reload the page "
                "and try again.",
            )
        try:
            return view(session, posted)
        except DomainError as exc:
            return error_page(400, "That cannot be done", exc.user_message)

    return wrapper


def _upload_form(
    session: CurrentSession,
    status: int = 200,
    *,
    form: dict[str, str] | None = None,
    **context: Any,
) -> Response:
    page = reconciliation.upload_page(session.trainer)
    return render(
        "payments/bank_upload.html",
        status=status,
        tab="sessions",
        page=page,
        form=form or {},
        max_mb=1,
        **context,
    )


@bp.route(PAGE, methods=["GET"])
@trainer
def bank_statement(session: CurrentSession) -> Response:
    return _upload_form(session)


@bp.route(PAGE, methods=["POST"], content_types=MULTIPART)
@_trainer_upload
def bank_statement_upload(session: CurrentSession, posted: _Posted) -> Response:
    form = {k: v for k, v in posted.fields.items() if k != "csrf_token"}
    try:
        mapping = forms.command(ColumnMapping, form)
        review = reconciliation.review_statement(
            request_state.deps(), session.trainer, mapping, posted.upload
        )
    except InvalidInput as exc:
        return _upload_form(session, 400, form=form, errors=forms.errors(ColumnMapping, exc))
    return render("payments/bank_review.html", tab="sessions", review=review)


@bp.route(PAGE + "/confirm", methods=["POST"], content_types=FORM)
@trainer
def bank_statement_confirm(session: CurrentSession) -> Response:
    state = request_state.current()
    form = state.form()
    deps = request_state.deps()
    try:
        command = forms.command(
            reconciliation.ConfirmLines, form, lists={"line": state.form_list("line")}
        )
        done = reconciliation.confirm(deps, session.trainer, command)
    except InvalidInput as exc:
        errors = forms.errors(reconciliation.ConfirmLines, exc)
        if "_form" in errors:
            return _upload_form(session, 400, errors=errors)
        review = reconciliation.review_again(deps, session.trainer, form.get("review", ""))
        return render(
            "payments/bank_review.html", status=400, tab="sessions", review=review, errors=errors
        )
    return render("payments/bank_done.html", tab="sessions", done=done)

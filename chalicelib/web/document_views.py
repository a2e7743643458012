"""Uploads (docs/documents.md): the presigned POST a page's script asks for before it
sends a file straight to the documents bucket. Its answer is JSON for the script."""

from __future__ import annotations

import json

from chalice import Blueprint, Response

from chalicelib.domain.errors import InvalidInput
from chalicelib.services import documents
from chalicelib.services.auth import CurrentSession
from chalicelib.web import forms, request_state
from chalicelib.web.views import FORM, trainer

bp = Blueprint(__name__)

JSON_TYPE = "application/json"


def _json(body: dict[str, object], status: int = 200) -> Response:
    return Response(
        body=json.dumps(body),
        status_code=status,
        headers={"Content-Type": JSON_TYPE, "Cache-Control": "no-store"},
    )


@bp.route("/dashboard/documents/upload-form", methods=["POST"], content_types=FORM)
@trainer
def upload_form(session: CurrentSession) -> Response:
    form, deps = request_state.current().form(), request_state.deps()
    try:
        ask = forms.command(documents.AskUpload, form)
        made = documents.upload_form(deps.files, deps.links.secret, session.trainer, ask, deps.now)
    except InvalidInput as exc:
        return _json({"error": next(iter(exc.errors.values()))}, 400)
    return _json(
        {"url": made.url, "fields": made.fields, "key": made.key, "signature": made.signature}
    )

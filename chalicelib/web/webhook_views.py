"""The WhatsApp providers' inbound and Meta webhooks (Twilio's delivery reports are in
message_views, beside the tab they change).

No session, cookie or CSRF token: a provider has none. The signature is the proof, and
services/webhooks.py checks it before anything is read from the table; a provider this
stage does not use finds nothing here (404).
"""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.services import webhooks
from chalicelib.web import request_state
from chalicelib.web.views import FORM

bp = Blueprint(__name__)

JSON = ["application/json"]


def _answer(result: webhooks.WebhookResult) -> Response:
    # Plain text, never an HTML error page: the reader is a provider's retry logic.
    return Response(
        body=result.body, status_code=result.status, headers={"Content-Type": "text/plain"}
    )


@bp.route(webhooks.TWILIO_INBOUND_PATH, methods=["POST"], content_types=FORM)
def twilio_inbound() -> Response:
    state = request_state.current()
    return _answer(
        webhooks.twilio_inbound_report(
            request_state.deps(),
            state.form(),
            state.request.headers.get("x-twilio-signature", ""),
        )
    )


@bp.route(webhooks.META_PATH, methods=["GET"])
def meta_verify() -> Response:
    """Meta's subscription handshake: echo its challenge if it carries our verify token."""
    return _answer(webhooks.meta_verify(request_state.current().request.query_params or {}))


@bp.route(webhooks.META_PATH, methods=["POST"], content_types=JSON)
def meta_events() -> Response:
    state = request_state.current()
    raw = state.request.raw_body or b""
    return _answer(
        webhooks.meta_events_report(
            request_state.deps(),
            raw if isinstance(raw, bytes) else str(raw).encode("utf-8"),
            state.request.headers.get("x-hub-signature-256", ""),
        )
    )

"""The WhatsApp providers' inbound and Meta webhooks (Twilio's delivery reports are in
message_views, beside the tab they change), and SES's bounces and complaints by SNS.

No session, cookie or CSRF token: a provider has none. The signature is the proof, and
services/webhooks.py checks it before anything is read from the table; a provider this
stage does not use finds nothing here (404).
"""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.services import email_events, webhooks
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
    params = request_state.current().request.query_params or {}
    return _answer(webhooks.meta_verify_report(request_state.deps(), params))


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


# SNS posts its JSON as text/plain; a hand-made test post may say application/json.
SNS_TYPES = ["text/plain", "application/json"]


@bp.route(email_events.SES_EVENTS_PATH, methods=["POST"], content_types=SNS_TYPES)
def ses_events() -> Response:
    """SES bounces and complaints (and the subscription's confirmation), by SNS."""
    raw = request_state.current().request.raw_body or b""
    return _answer(
        email_events.ses_events_report(
            request_state.deps(), raw if isinstance(raw, bytes) else str(raw).encode("utf-8")
        )
    )

"""The WhatsApp tab (every message to clients, newest first) and the provider's
delivery-status webhook."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.messaging.whatsapp import configured_provider, wa_me_link
from chalicelib.services import messages, webhooks
from chalicelib.services.auth import CurrentSession
from chalicelib.web import request_state
from chalicelib.web.render import render
from chalicelib.web.views import FORM, trainer

bp = Blueprint(__name__)


@bp.route("/dashboard/whatsapp", methods=["GET"])
@trainer
def whatsapp_tab(session: CurrentSession) -> Response:
    state = request_state.current()
    page = messages.whatsapp_page(
        request_state.deps(), session.trainer.id, state.query("client"), state.query("after")
    )
    return render(
        "whatsapp/list.html",
        tab="whatsapp",
        page=page.page,
        clients=page.clients,
        client_id=page.client_id,
        first_page=page.first_page,
        # With the log provider nothing leaves the server: the trainer sends from their
        # own phone through a click-to-chat link.
        click_to_chat=configured_provider() == "log",
        wa_me=wa_me_link,
    )


@bp.route("/webhooks/twilio/status", methods=["POST"], content_types=FORM)
def twilio_status() -> Response:
    """Twilio's delivery reports: no session or CSRF token, the signature is the proof."""
    state = request_state.current()
    result = webhooks.twilio_status_report(
        request_state.deps(),
        state.query("m"),
        state.form(),
        state.request.headers.get("x-twilio-signature", ""),
    )
    return Response(body="", status_code=result.status, headers={"Content-Type": "text/plain"})

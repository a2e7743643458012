"""The WhatsApp tab: conversations (one per client or number), a client's conversation
and the trainer's reply; "All messages" (every message to clients, newest first); and
the provider's delivery-status webhook."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.domain.conversations import SendReply
from chalicelib.domain.errors import InvalidInput
from chalicelib.messaging.whatsapp import configured_provider, wa_me_link
from chalicelib.services import messages, webhooks, whatsapp_tab
from chalicelib.services.auth import CurrentSession
from chalicelib.web import forms, request_state
from chalicelib.web.render import redirect, render
from chalicelib.web.views import FORM, trainer

bp = Blueprint(__name__)

SAVED = {
    "reply": "Reply queued: it goes within a minute.",
    "already": "That reply was already queued: nothing was sent twice.",
}


def _click_to_chat() -> bool:
    # With the log provider nothing leaves the server: the trainer sends from their own
    # phone through a click-to-chat link.
    return configured_provider() == "log"


@bp.route("/dashboard/whatsapp", methods=["GET"])
@trainer
def whatsapp_tab_page(session: CurrentSession) -> Response:
    state = request_state.current()
    client_id = state.query("client")
    if client_id and whatsapp_tab.CLIENT_ID.match(client_id):
        # The old tab's filter (the dashboard's and older pages' links): that client's
        # conversation now.
        return redirect(f"/dashboard/whatsapp/{client_id}")
    page = whatsapp_tab.conversations_page(
        request_state.deps(), session.trainer, state.query("after")
    )
    return render("whatsapp/list.html", tab="whatsapp", page=page)


def _conversation(
    session: CurrentSession,
    client_id: str,
    status: int = 200,
    form: whatsapp_tab.ReplyForm | None = None,
) -> Response:
    state = request_state.current()
    page = whatsapp_tab.conversation_page(
        request_state.deps(), session.trainer, client_id, state.query("before"), form
    )
    return render(
        "whatsapp/conversation.html",
        status=status,
        tab="whatsapp",
        page=page,
        saved=SAVED.get(state.query("saved"), ""),
        click_to_chat=_click_to_chat(),
    )


@bp.route("/dashboard/whatsapp/all", methods=["GET"])
@trainer
def all_messages(session: CurrentSession) -> Response:
    state = request_state.current()
    page = messages.whatsapp_page(
        request_state.deps(), session.trainer.id, state.query("client"), state.query("after")
    )
    return render(
        "whatsapp/all.html",
        tab="whatsapp",
        page=page.page,
        clients=page.clients,
        client_id=page.client_id,
        first_page=page.first_page,
        # With the log provider nothing leaves the server: the trainer sends from their
        # own phone through a click-to-chat link.
        click_to_chat=_click_to_chat(),
        wa_me=wa_me_link,
    )


@bp.route("/dashboard/whatsapp/{client_id}", methods=["GET"])
@trainer
def conversation(session: CurrentSession, client_id: str) -> Response:
    return _conversation(session, client_id)


@bp.route("/dashboard/whatsapp/{client_id}/reply", methods=["POST"], content_types=FORM)
@trainer
def reply(session: CurrentSession, client_id: str) -> Response:
    form = request_state.current().form()
    try:
        command = forms.command(SendReply, form)
        done = whatsapp_tab.send_reply(request_state.deps(), session.trainer, client_id, command)
    except InvalidInput as exc:
        kept = whatsapp_tab.ReplyForm(
            form.get("send_id", ""), form.get("text", ""), forms.errors(SendReply, exc)
        )
        return _conversation(session, client_id, 400, kept)
    return redirect(f"/dashboard/whatsapp/{client_id}", saved="reply" if done.new else "already")


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

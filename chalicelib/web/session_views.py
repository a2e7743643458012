"""Trainer session page: details, payment, invoice, confirmation, cancel, change on the
schedule (upcoming), void (past), and the change log with the session's messages."""

from __future__ import annotations

from collections.abc import Callable

from chalice import Blueprint, Response

from chalicelib.domain.clients import Client
from chalicelib.domain.errors import Conflict, InvalidInput, VersionConflict
from chalicelib.domain.messages import LinkRef, Message
from chalicelib.domain.schedule import PAYMENT_TYPES, LogEntry, Session
from chalicelib.domain.settings import format_money
from chalicelib.domain.tokens import new_id
from chalicelib.services import messages, sessions
from chalicelib.services.auth import CurrentSession
from chalicelib.web import request_state
from chalicelib.web.render import redirect, render
from chalicelib.web.views import FORM, trainer

bp = Blueprint(__name__)

SAVED = {
    "payment": "Payment saved.",
    "cancel": "Session canceled: the slot is open again.",
    "cancel_told": "Session canceled: the slot is open again, and the client's message is "
    "in the WhatsApp tab.",
    "void": "Session voided.",
    "invoice": "Invoice queued: it is in the WhatsApp tab and below.",
    "confirm": "Confirmation queued: it is in the WhatsApp tab and below.",
    "already": "That was already queued: nothing was sent twice.",
    "change_stop": "Change abandoned: the session stays where it was.",
    "moved": "Session moved. The old slot is open again.",
}


def _page(
    session: CurrentSession,
    booking: Session,
    log: list[LogEntry | Message],
    status: int = 200,
    **context: object,
) -> Response:
    settings = session.trainer.settings
    context.setdefault("confirming", "")
    return render(
        "sessions/session.html",
        status=status,
        tab="sessions",
        booking=booking,
        log=log,
        past=booking.is_past(request_state.deps().now),
        payment_types=PAYMENT_TYPES,
        location=session.trainer.locations.get(booking.location_id),
        saved=request_state.current().query("saved"),
        saved_messages=SAVED,
        send_id=new_id(),
        payment_ready=settings.payment.complete,
        price=None
        if booking.price_minor is None
        else format_money(booking.price_minor, settings.currency, settings.locale),
        **context,
    )


@bp.route("/dashboard/sessions", methods=["GET"])
@trainer
def session_list(session: CurrentSession) -> Response:
    state = request_state.current()
    which = "past" if state.query("list") == "past" else "upcoming"
    page = sessions.list_sessions(
        request_state.deps().repo,
        session.trainer.id,
        which,
        state.query("after"),
        request_state.deps().now,
    )
    return render(
        "sessions/list.html",
        tab="sessions",
        which=which,
        page=page,
        first_page=not state.query("after"),
        payment_types=PAYMENT_TYPES,
        places={lid: loc.name for lid, loc in session.trainer.locations.items()},
    )


@bp.route("/dashboard/sessions/{ref}", methods=["GET"])
@trainer
def session_page(session: CurrentSession, ref: str) -> Response:
    booking, log = sessions.open_session(request_state.deps().repo, session.trainer.id, ref)
    # A destructive action is two steps that work without JavaScript: the button is a
    # link to this page with ?confirm=, which shows the real form.
    confirming = request_state.current().query("confirm")
    return _page(session, booking, log, confirming=confirming if booking.is_live else "")


def portal_url(trainer_id: str) -> Callable[[Client], LinkRef]:
    """Which portal link (/c/) a message carries: made again when it is sent or shown."""
    base = request_state.current().base_url
    return lambda client: LinkRef(
        kind="portal",
        base=base,
        trainer_id=trainer_id,
        client_id=client.id,
        generation=client.portal_generation,
    )


def session_url(trainer_id: str) -> Callable[[Client, Session], LinkRef]:
    """Which session link (/s/) a message carries: made again when it is sent or shown."""
    base = request_state.current().base_url

    def link(client: Client, booking: Session) -> LinkRef:
        return LinkRef(
            kind="session",
            base=base,
            trainer_id=trainer_id,
            client_id=client.id,
            generation=client.portal_generation,
            target_id=booking.id,
        )

    return link


@bp.route("/dashboard/sessions/{ref}", methods=["POST"], content_types=FORM)
@trainer
def session_change(session: CurrentSession, ref: str) -> Response:
    form = request_state.current().form()
    repo, tid, now = request_state.deps().repo, session.trainer.id, request_state.deps().now
    booking = sessions.find_session(repo, tid, ref)  # the log is read only to show errors
    action = form.get("action", "")
    version = form.get("version")
    saved = action
    try:
        if action == "payment":
            sessions.set_payment(repo, tid, booking, form, now)
        elif action == "cancel":
            notice = (
                messages.cancel_notice(repo, session.trainer, booking, portal_url(tid), now)
                if form.get("notify") == "yes"
                else None
            )
            sessions.cancel(repo, tid, booking, version, now, notice=notice)
            if notice is not None:
                saved = "cancel_told"
        elif action == "void":
            sessions.void(repo, tid, booking, version, now)
        elif action == "invoice":
            queued = messages.send_invoice(repo, session.trainer, booking, form.get("send_id"), now)
            saved = action if queued.new else "already"
        elif action == "confirm":
            queued = messages.send_confirmation(
                repo, session.trainer, booking, form.get("send_id"), session_url(tid), now
            )
            saved = action if queued.new else "already"
        elif action == "change_start":
            sessions.start_changing(repo, tid, booking, version, now)
            return redirect("/dashboard/schedule", week=booking.week, move=booking.ref)
        elif action == "change_stop":
            sessions.stop_changing(repo, tid, booking, version, now)
        else:
            raise InvalidInput({"_form": "Unknown action."})
    except InvalidInput as exc:
        return _page(session, *sessions.open_session(repo, tid, ref), 400, errors=exc.errors)
    except (VersionConflict, Conflict) as exc:
        shown = sessions.open_session(repo, tid, ref)
        return _page(session, *shown, 409, errors={"_form": exc.user_message})
    return redirect(f"/dashboard/sessions/{ref}", saved=saved)

"""Card payments with Stripe: Settings → Card payments, the client's pay page, and
Stripe's webhook. Each is one call to `services.card_payments`."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib.domain.card_payments import SaveCardSettings
from chalicelib.domain.errors import InvalidInput, VersionConflict
from chalicelib.services import card_payments
from chalicelib.services.auth import CurrentSession
from chalicelib.web import forms, request_state
from chalicelib.web.portal_views import capability
from chalicelib.web.render import redirect, render
from chalicelib.web.views import FORM, trainer

bp = Blueprint(__name__)

SETTINGS = card_payments.SETTINGS_PATH
SAVED = {"saved": "Card payment settings saved."}


# Settings → Card payments ---------------------------------------------------------------
def _settings(session: CurrentSession, status: int = 200, **context: Any) -> Response:
    page = card_payments.card_settings_page(request_state.deps(), session.trainer.id)
    return render(
        "payments/card_settings.html",
        status=status,
        tab="settings",
        subtab="card-payments",
        page=page,
        saved=SAVED.get(request_state.current().query("saved")),
        retype=context.pop("retype", False),
        **context,
    )


@bp.route(SETTINGS, methods=["GET"])
@trainer
def card_settings(session: CurrentSession) -> Response:
    return _settings(session)


@bp.route(SETTINGS, methods=["POST"], content_types=FORM)
@trainer
def card_settings_save(session: CurrentSession) -> Response:
    form = request_state.current().form()
    # Secrets are never drawn back into the page, not even after a refusal.
    kept = {k: v for k, v in form.items() if k not in ("secret_key", "webhook_secret")}
    retype = bool(form.get("secret_key") or form.get("webhook_secret"))
    try:
        command = forms.command(SaveCardSettings, form)
        card_payments.save_card_settings(request_state.deps(), session.trainer.id, command)
    except InvalidInput as exc:
        errors = forms.errors(SaveCardSettings, exc)
        return _settings(session, 400, errors=errors, form=kept, retype=retype)
    except VersionConflict as exc:
        errors = {"_form": exc.user_message}
        return _settings(session, 409, errors=errors, form=kept, retype=retype)
    return redirect(SETTINGS, saved="saved")


# The client's pay page ---------------------------------------------------------------------
@bp.route(card_payments.PAY_PATH + "{token}", methods=["GET"])
@capability
def pay(token: str) -> Response:
    page = card_payments.pay_page(request_state.deps(), token)
    returned = request_state.current().query("paid") == "1"
    return render("payments/pay.html", page=page, returned=returned, unavailable="")


@bp.route(card_payments.PAY_PATH + "{token}", methods=["POST"], content_types=FORM)
@capability
def pay_by_card(token: str) -> Response:
    deps = request_state.deps()
    try:
        url = card_payments.start_checkout(deps, token)
    except card_payments.CheckoutRefused as exc:
        # The page as the refusal read it: drawing it again would read it all twice.
        return render(
            "payments/pay.html", status=409, page=exc.page, returned=False, unavailable=""
        )
    except card_payments.CheckoutUnavailable as exc:
        page = exc.page or card_payments.pay_page(deps, token)
        return render(
            "payments/pay.html", status=503, page=page, returned=False, unavailable=exc.user_message
        )
    # Stripe's own page: an absolute URL, so not through `redirect` (which adds our prefix).
    return Response(body="", status_code=303, headers={"Location": url})


# Stripe's webhook ---------------------------------------------------------------------------
JSON = ["application/json"]


@bp.route(card_payments.WEBHOOK_PATH + "{trainer_id}", methods=["POST"], content_types=JSON)
def stripe_events(trainer_id: str) -> Response:
    state = request_state.current()
    raw = state.request.raw_body or b""
    result = card_payments.stripe_event_report(
        request_state.deps(),
        trainer_id,
        raw if isinstance(raw, bytes) else str(raw).encode("utf-8"),
        state.request.headers.get("stripe-signature", ""),
    )
    # Plain text, never an HTML page: the reader is Stripe's retry logic.
    return Response(
        body=result.body, status_code=result.status, headers={"Content-Type": "text/plain"}
    )

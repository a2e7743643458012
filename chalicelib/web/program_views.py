"""The Programs tab: the hub (Customer bundles, Models), templates, the 3-step New bundle
wizard, and the bundle page (progress, status, sessions, Send confirmations).

Each page is one call to its page query in `services.programs`; each form is parsed into
its command and handed to one use case, and a refused one is shown again with its page.
"""

from __future__ import annotations

from dataclasses import fields
from functools import partial
from typing import Any, Literal

from chalice import Blueprint, Response

from chalicelib.domain.commands import Command
from chalicelib.domain.errors import Conflict, InvalidInput, VersionConflict
from chalicelib.domain.programs import LENGTHS, MAX_DOCUMENTS, MAX_SESSIONS, STATES
from chalicelib.domain.schedule import PAYMENT_TYPES
from chalicelib.domain.settings import format_money
from chalicelib.services import card_payments, packs, programs
from chalicelib.services.auth import CurrentSession
from chalicelib.services.programs import (
    AddBundleSession,
    ChangeBundleStatus,
    CreateBundle,
    DeleteTemplate,
    SaveOffer,
    SaveSchedule,
    SaveTemplate,
    SendConfirmations,
    StartDraft,
)
from chalicelib.services.sessions import portal_link_ref
from chalicelib.web import forms, request_state, session_views
from chalicelib.web.middleware import csp_connecting_to
from chalicelib.web.render import redirect, render
from chalicelib.web.views import FORM, trainer

bp = Blueprint(__name__)

WIZARD = "/dashboard/programs/wizard/{}/{}"
BUNDLE_SAVED = {
    "created": "Bundle created. Nothing was sent: press Send confirmations when the dates "
    "are final.",
    "pause": "Bundle paused: no new sessions can be scheduled until you resume it.",
    "resume": "Bundle resumed.",
    "complete": "Bundle marked completed.",
    "reopen": "Bundle reopened.",
    "added": "Session added to the bundle.",
    "already": "This bundle was already created: here it is. Nothing was created twice.",
    "pack_pay": "Pack marked paid: its sessions show Paid (pack), and any session it gains "
    "is paid too.",
    "pack_unpay": "Pack payment undone: its sessions are owed again.",
    "tie": "Pack tied: Apply template books that recurring slot as this pack's sessions "
    "while places remain.",
    "untie": "Pack untied: that recurring slot is booked session by session again.",
    "renewal": "Renewal message queued: it is in the WhatsApp tab (or sent by email).",
    "add_document": "Document added: the bundle's upcoming sessions hand it to the client.",
    "remove_document": "Document removed from the bundle and its upcoming sessions.",
}


def _common(session: CurrentSession) -> dict[str, object]:
    """What every Programs page shows from the signed-in trainer (no read)."""
    trainer = session.trainer
    return {
        "tab": "programs",
        "currency": trainer.settings.currency,
        "money": partial(format_money, locale=trainer.settings.locale),
        "places": {lid: loc.name for lid, loc in trainer.locations.items()},
        "active_locations": sorted(
            ((lid, loc.name) for lid, loc in trainer.locations.items() if not loc.archived),
            key=lambda pair: pair[1].casefold(),
        ),
        "lengths": LENGTHS,
        "max_documents": MAX_DOCUMENTS,
        "max_sessions": MAX_SESSIONS,
        "now": request_state.deps().now,
        "states": STATES,
    }


def _show(
    template: str, session: CurrentSession, page: Any, status: int = 200, **context: Any
) -> Response:
    """Render a page query's view model (a dataclass): its fields are the template's names."""
    shown = {f.name: getattr(page, f.name) for f in fields(page)}
    return render(template, status=status, **shown, **_common(session), **context)


# Hub ---------------------------------------------------------------------------------------
@bp.route("/dashboard/programs", methods=["GET"])
@trainer
def hub(session: CurrentSession) -> Response:
    state, deps = request_state.current(), request_state.deps()
    which: Literal["bundles", "models"] = "models" if state.query("tab") == "models" else "bundles"
    page = programs.hub_page(deps, session.trainer.id, which, state.query("after"))
    return _show("programs/hub.html", session, page, saved=state.query("saved"))


# Templates ---------------------------------------------------------------------------------
def _template_page(
    session: CurrentSession,
    template_id: str | None,
    status: int = 200,
    typed: dict[str, str] | None = None,
    **context: object,
) -> Response:
    deps = request_state.deps()
    page = programs.template_page(deps, session.trainer, template_id, typed)
    uploads = deps.files.on and page.program is not None
    context.setdefault("upload_errors", {})
    response = _show(
        "programs/template_form.html",
        session,
        page,
        status,
        uploads=uploads,
        saved=request_state.current().query("saved"),
        **context,
    )
    if uploads:
        response.headers["Content-Security-Policy"] = csp_connecting_to(deps.files.upload_origins())
    return response


@bp.route("/dashboard/programs/templates/new", methods=["GET"])
@trainer
def template_new(session: CurrentSession) -> Response:
    return _template_page(session, None)


@bp.route("/dashboard/programs/templates/new", methods=["POST"], content_types=FORM)
@trainer
def template_create(session: CurrentSession) -> Response:
    form, deps = request_state.current().form(), request_state.deps()
    try:
        command = forms.command(SaveTemplate, form)
        programs.save_template(deps, session.trainer, command)
    except InvalidInput as exc:
        return _template_page(
            session, None, 400, typed=form, errors=forms.errors(SaveTemplate, exc)
        )
    return redirect("/dashboard/programs", tab="models", saved="template")


@bp.route("/dashboard/programs/templates/{template_id}", methods=["GET"])
@trainer
def template_edit(session: CurrentSession, template_id: str) -> Response:
    return _template_page(session, template_id)


@bp.route(
    "/dashboard/programs/templates/{template_id}/documents", methods=["POST"], content_types=FORM
)
@trainer
def template_file(session: CurrentSession, template_id: str) -> Response:
    """An uploaded file handed back by the page's script, checked and attached."""
    form, deps = request_state.current().form(), request_state.deps()
    try:
        attach = forms.command(programs.AttachTemplateFile, form, template_id=template_id)
        programs.attach_template_file(deps, session.trainer, attach)
    except InvalidInput as exc:
        return _template_page(session, template_id, 400, upload_errors=exc.errors)
    except VersionConflict as exc:
        return _template_page(session, template_id, 409, upload_errors={"file": exc.user_message})
    return redirect(f"/dashboard/programs/templates/{template_id}", saved="file")


@bp.route("/dashboard/programs/templates/{template_id}", methods=["POST"], content_types=FORM)
@trainer
def template_save(session: CurrentSession, template_id: str) -> Response:
    form, deps = request_state.current().form(), request_state.deps()
    deleting = form.get("action") == "delete"  # the form's other button is Save template
    model: type[Command] = DeleteTemplate if deleting else SaveTemplate
    try:
        if deleting:
            delete = forms.command(DeleteTemplate, form, template_id=template_id)
            programs.delete_template(deps, session.trainer.id, delete)
            return redirect("/dashboard/programs", tab="models", saved="deleted")
        save = forms.command(SaveTemplate, form, template_id=template_id)
        programs.save_template(deps, session.trainer, save)
    except InvalidInput as exc:
        return _template_page(
            session, template_id, 400, typed=form, errors=forms.errors(model, exc)
        )
    except VersionConflict as exc:
        return _template_page(
            session, template_id, 409, typed=form, errors={"_form": exc.user_message}
        )
    return redirect("/dashboard/programs", tab="models", saved="template")


# Starting the wizard: choose the client (and maybe a template) ---------------------------
def _start_page(
    session: CurrentSession,
    status: int = 200,
    typed: dict[str, str] | None = None,
    **context: object,
) -> Response:
    state = request_state.current()
    chosen = StartDraft(client_id=state.query("client_id"), template_id=state.query("template_id"))
    page = programs.start_page(request_state.deps(), session.trainer.id, chosen, typed)
    return _show("programs/start.html", session, page, status, **context)


@bp.route("/dashboard/programs/new", methods=["GET"])
@trainer
def wizard_start(session: CurrentSession) -> Response:
    return _start_page(session)


@bp.route("/dashboard/programs/new", methods=["POST"], content_types=FORM)
@trainer
def wizard_begin(session: CurrentSession) -> Response:
    form, deps = request_state.current().form(), request_state.deps()
    try:
        command = forms.command(StartDraft, form)
        draft = programs.start_draft(deps, session.trainer, command)
    except InvalidInput as exc:
        return _start_page(session, 400, typed=form, errors=forms.errors(StartDraft, exc))
    return redirect(WIZARD.format(draft.id, "offer"))


# Step 1: the offer -------------------------------------------------------------------------
def _offer_page(
    session: CurrentSession, draft_id: str, status: int = 200, **context: object
) -> Response:
    # A refused offer was saved as typed first: the page shows the draft, errors and all.
    deps = request_state.deps()
    page = programs.offer_page(deps, session.trainer.id, draft_id)
    context.setdefault("upload_errors", {})
    response = _show(
        "programs/wizard_offer.html",
        session,
        page,
        status,
        uploads=deps.files.on,
        saved=request_state.current().query("saved"),
        **context,
    )
    if deps.files.on:  # its upload card's script posts files straight to the bucket
        response.headers["Content-Security-Policy"] = csp_connecting_to(deps.files.upload_origins())
    return response


@bp.route("/dashboard/programs/wizard/{draft_id}/offer", methods=["GET"])
@trainer
def wizard_offer(session: CurrentSession, draft_id: str) -> Response:
    return _offer_page(session, draft_id)


@bp.route("/dashboard/programs/wizard/{draft_id}/offer", methods=["POST"], content_types=FORM)
@trainer
def wizard_offer_save(session: CurrentSession, draft_id: str) -> Response:
    form, deps = request_state.current().form(), request_state.deps()
    try:
        command = forms.command(SaveOffer, form, draft_id=draft_id)
        programs.save_offer(deps, session.trainer, command)
    except InvalidInput as exc:
        if "file" in exc.errors:  # the upload card's own message, beside it
            return _offer_page(session, draft_id, 400, upload_errors=exc.errors)
        return _offer_page(session, draft_id, 400, errors=forms.errors(SaveOffer, exc))
    except VersionConflict as exc:
        return _offer_page(session, draft_id, 409, errors={"_form": exc.user_message})
    if command.action == "use_template":
        return redirect(WIZARD.format(draft_id, "offer"), saved="template")
    if command.action == "attach_file":
        return redirect(WIZARD.format(draft_id, "offer"), saved="file")
    return redirect(WIZARD.format(draft_id, "schedule"))


# Step 2: scheduling --------------------------------------------------------------------------
def _schedule_page(
    session: CurrentSession, draft_id: str, status: int = 200, **context: object
) -> Response:
    try:
        page = programs.schedule_page(request_state.deps(), session.trainer, draft_id)
    except InvalidInput:  # step 1 is not complete
        return redirect(WIZARD.format(draft_id, "offer"), saved="incomplete")
    saved = request_state.current().query("saved")
    return _show("programs/wizard_schedule.html", session, page, status, saved=saved, **context)


@bp.route("/dashboard/programs/wizard/{draft_id}/schedule", methods=["GET"])
@trainer
def wizard_schedule(session: CurrentSession, draft_id: str) -> Response:
    return _schedule_page(session, draft_id)


@bp.route("/dashboard/programs/wizard/{draft_id}/schedule", methods=["POST"], content_types=FORM)
@trainer
def wizard_schedule_save(session: CurrentSession, draft_id: str) -> Response:
    form, deps = request_state.current().form(), request_state.deps()
    try:
        command = forms.command(SaveSchedule, form, draft_id=draft_id)
        _, action = programs.save_schedule(deps, session.trainer, command)
    except InvalidInput as exc:
        return _schedule_page(session, draft_id, 400, errors=forms.errors(SaveSchedule, exc))
    except VersionConflict as exc:
        return _schedule_page(session, draft_id, 409, errors={"_form": exc.user_message})
    if action == "back":
        return redirect(WIZARD.format(draft_id, "offer"))
    if action == "next":
        return redirect(WIZARD.format(draft_id, "confirm"))
    return redirect(WIZARD.format(draft_id, "schedule"), saved=action.split("_")[0])


# Step 3: confirmation ------------------------------------------------------------------------
def _confirm_page(
    session: CurrentSession, draft_id: str, status: int = 200, **context: object
) -> Response:
    try:
        page = programs.confirm_page(request_state.deps(), session.trainer, draft_id)
    except InvalidInput:  # step 1 is not complete
        return redirect(WIZARD.format(draft_id, "offer"), saved="incomplete")
    return _show("programs/wizard_confirm.html", session, page, status, **context)


@bp.route("/dashboard/programs/wizard/{draft_id}/confirm", methods=["GET"])
@trainer
def wizard_confirm(session: CurrentSession, draft_id: str) -> Response:
    return _confirm_page(session, draft_id)


@bp.route("/dashboard/programs/wizard/{draft_id}/confirm", methods=["POST"], content_types=FORM)
@trainer
def wizard_validate(session: CurrentSession, draft_id: str) -> Response:
    form, deps = request_state.current().form(), request_state.deps()
    try:
        command = forms.command(CreateBundle, form, draft_id=draft_id)
        if command.action == "back":
            return redirect(WIZARD.format(draft_id, "schedule"))
        bundle = programs.create_bundle(deps, session.trainer, command)
    except InvalidInput as exc:
        return _confirm_page(session, draft_id, 400, errors=forms.errors(CreateBundle, exc))
    except VersionConflict as exc:
        return _confirm_page(session, draft_id, 409, errors={"_form": exc.user_message})
    except programs.AlreadyCreated:
        return redirect(f"/dashboard/bundles/{draft_id}", saved="already")
    except Conflict as exc:
        return _confirm_page(session, draft_id, 409, errors={"_form": exc.user_message})
    return redirect(f"/dashboard/bundles/{bundle.id}", saved="created")


# The bundle page -----------------------------------------------------------------------------
def _base_url(state: request_state.RequestState) -> str:
    """The absolute base for the pack's pay link; none (no link shown) when no trusted
    base is configured."""
    try:
        return state.base_url
    except request_state.NoTrustedBaseUrl:  # the page still draws, without the link
        return ""


def _bundle_page(
    session: CurrentSession, bundle_id: str, status: int = 200, **context: object
) -> Response:
    deps, state = request_state.deps(), request_state.current()
    page = programs.bundle_page(deps, session.trainer, bundle_id)
    card_link = card_payments.pack_card_link(
        deps.links, _base_url(state), session.trainer, page.bundle, page.client
    )
    response = _show(
        "programs/bundle.html",
        session,
        page,
        status,
        saved=state.query("saved"),
        sent=state.query("sent"),
        saved_messages=BUNDLE_SAVED,
        payment_types=PAYMENT_TYPES,
        card_link=card_link,
        uploads=deps.files.on,
        **context,
    )
    if deps.files.on:  # its upload card's script posts files straight to the bucket
        response.headers["Content-Security-Policy"] = csp_connecting_to(deps.files.upload_origins())
    return response


@bp.route("/dashboard/bundles/{bundle_id}", methods=["GET"])
@trainer
def bundle_page(session: CurrentSession, bundle_id: str) -> Response:
    return _bundle_page(session, bundle_id)


@bp.route("/dashboard/bundles/{bundle_id}", methods=["POST"], content_types=FORM)
@trainer
def bundle_change(session: CurrentSession, bundle_id: str) -> Response:
    form, deps, tid = request_state.current().form(), request_state.deps(), session.trainer.id
    # Several forms post here; the button pressed says which one this is.
    action = form.get("action", "")
    model: type[Command] = {
        "confirm": SendConfirmations,
        "add": AddBundleSession,
        "pack_pay": packs.PackPaymentForm,
        "pack_unpay": packs.PackPaymentForm,
        "tie": packs.TiePack,
        "untie": packs.TiePack,
        "renewal": packs.SendRenewal,
        "add_document": programs.BundleDocument,
        "remove_document": programs.BundleDocument,
    }.get(action, ChangeBundleStatus)
    try:
        if action in ("add_document", "remove_document"):
            change = forms.command(programs.BundleDocument, form, bundle_id=bundle_id)
            programs.change_bundle_documents(deps, session.trainer, change)
            return redirect(f"/dashboard/bundles/{bundle_id}", saved=action)
        if action in ("pack_pay", "pack_unpay"):
            payment = forms.command(
                packs.PackPaymentForm,
                form,
                bundle_id=bundle_id,
                action=action.removeprefix("pack_"),
            )
            packs.change_pack_payment(deps, session.trainer, payment)
            return redirect(f"/dashboard/bundles/{bundle_id}", saved=action)
        if action in ("tie", "untie"):
            values = {**form, "template_slot_id": form.get("template_slot_id", "")}
            if action == "untie":
                values["template_slot_id"] = ""
            tie = forms.command(packs.TiePack, values, bundle_id=bundle_id)
            packs.tie_pack(deps, session.trainer, tie)
            return redirect(f"/dashboard/bundles/{bundle_id}", saved=action)
        if action == "renewal":
            renew = forms.command(packs.SendRenewal, form, bundle_id=bundle_id)
            packs.send_renewal(
                deps, session.trainer, renew, portal_link_ref(request_state.current().base_url, tid)
            )
            return redirect(f"/dashboard/bundles/{bundle_id}", saved=action)
        if action == "confirm":
            confirm = forms.command(SendConfirmations, form, bundle_id=bundle_id)
            count = programs.send_confirmations(
                deps, session.trainer, confirm, session_views.session_url(tid)
            )
            return redirect(f"/dashboard/bundles/{bundle_id}", sent=str(count))
        if action == "add":
            add = forms.command(AddBundleSession, form, bundle_id=bundle_id)
            programs.add_session(deps, session.trainer, add)
            return redirect(f"/dashboard/bundles/{bundle_id}", saved="added")
        change = forms.command(ChangeBundleStatus, form, bundle_id=bundle_id)
        programs.change_status(deps, tid, change)
    except InvalidInput as exc:
        return _bundle_page(session, bundle_id, 400, errors=forms.errors(model, exc), form=form)
    except (VersionConflict, Conflict) as exc:
        return _bundle_page(session, bundle_id, 409, errors={"_form": exc.user_message}, form=form)
    return redirect(f"/dashboard/bundles/{bundle_id}", saved=change.action)

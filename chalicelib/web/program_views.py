"""The Programs tab: the hub (Customer bundles, Models), templates, the 3-step New bundle
wizard, and the bundle page (progress, status, sessions, Send confirmations)."""

from __future__ import annotations

from functools import partial

from chalice import Blueprint, Response

from chalicelib.domain.errors import Conflict, InvalidInput, VersionConflict
from chalicelib.domain.programs import (
    LENGTHS,
    MAX_DOCUMENTS,
    MAX_EVERY_WEEKS,
    MAX_SESSIONS,
    STATES,
    confirmable,
    document_rows,
    offer_form_values,
    price_summary,
    scheduling_problem,
)
from chalicelib.domain.settings import format_money
from chalicelib.services import clients, programs
from chalicelib.services.auth import CurrentSession
from chalicelib.web import request_state, session_views
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
}


def _common(session: CurrentSession) -> dict[str, object]:
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


# Hub ---------------------------------------------------------------------------------------
@bp.route("/dashboard/programs", methods=["GET"])
@trainer
def hub(session: CurrentSession) -> Response:
    state = request_state.current()
    which = "models" if state.query("tab") == "models" else "bundles"
    repo, tid = request_state.deps().repo, session.trainer.id
    return render(
        "programs/hub.html",
        which=which,
        templates=programs.store(repo).list_templates(tid) if which == "models" else [],
        page=(
            programs.bundle_hub(repo, tid, state.query("after"), request_state.deps().now)
            if which == "bundles"
            else None
        ),
        saved=state.query("saved"),
        **_common(session),
    )


# Templates ---------------------------------------------------------------------------------
def _template_page(
    session: CurrentSession, template_id: str | None, status: int = 200, **context: object
) -> Response:
    template = None
    if template_id:
        template = programs.store(request_state.deps().repo).get_template(
            session.trainer.id, template_id
        )
    form = context.pop("form", None) or (
        {
            **offer_form_values(
                template, session.trainer.settings.currency, session.trainer.settings.locale
            ),
            "version": str(template.version),
        }
        if template
        else {"sessions": "", "length": "60"}
    )
    return render(
        "programs/template_form.html",
        status=status,
        program=template,
        form=form,
        documents=document_rows(form),
        **_common(session),
        **context,
    )


@bp.route("/dashboard/programs/templates/new", methods=["GET"])
@trainer
def template_new(session: CurrentSession) -> Response:
    return _template_page(session, None)


@bp.route("/dashboard/programs/templates/new", methods=["POST"], content_types=FORM)
@trainer
def template_create(session: CurrentSession) -> Response:
    form = request_state.current().form()
    try:
        programs.save_template(
            request_state.deps().repo, session.trainer, None, form, request_state.deps().now
        )
    except InvalidInput as exc:
        return _template_page(session, None, 400, errors=exc.errors, form=form)
    return redirect("/dashboard/programs", tab="models", saved="template")


@bp.route("/dashboard/programs/templates/{template_id}", methods=["GET"])
@trainer
def template_edit(session: CurrentSession, template_id: str) -> Response:
    return _template_page(session, template_id)


@bp.route("/dashboard/programs/templates/{template_id}", methods=["POST"], content_types=FORM)
@trainer
def template_save(session: CurrentSession, template_id: str) -> Response:
    form = request_state.current().form()
    repo = request_state.deps().repo
    try:
        if form.get("action") == "delete":
            programs.delete_template(repo, session.trainer.id, template_id, form.get("version"))
            return redirect("/dashboard/programs", tab="models", saved="deleted")
        programs.save_template(repo, session.trainer, template_id, form, request_state.deps().now)
    except InvalidInput as exc:
        return _template_page(session, template_id, 400, errors=exc.errors, form=form)
    except VersionConflict as exc:
        return _template_page(
            session, template_id, 409, errors={"_form": exc.user_message}, form=form
        )
    return redirect("/dashboard/programs", tab="models", saved="template")


# Starting the wizard: choose the client (and maybe a template) ---------------------------
def _start_page(session: CurrentSession, status: int = 200, **context: object) -> Response:
    repo = request_state.deps().repo
    state = request_state.current()
    form = context.pop("form", None) or {
        "client_id": state.query("client_id"),
        "template_id": state.query("template_id"),
    }
    return render(
        "programs/start.html",
        status=status,
        form=form,
        clients=[c for c in clients.find_clients(repo, session.trainer.id, "") if not c.archived],
        templates=programs.store(repo).list_templates(session.trainer.id),
        **_common(session),
        **context,
    )


@bp.route("/dashboard/programs/new", methods=["GET"])
@trainer
def wizard_start(session: CurrentSession) -> Response:
    return _start_page(session)


@bp.route("/dashboard/programs/new", methods=["POST"], content_types=FORM)
@trainer
def wizard_begin(session: CurrentSession) -> Response:
    form = request_state.current().form()
    try:
        draft = programs.start_draft(
            request_state.deps().repo,
            session.trainer,
            form.get("client_id", ""),
            form.get("template_id", ""),
            request_state.deps().now,
        )
    except InvalidInput as exc:
        return _start_page(session, 400, errors=exc.errors, form=form)
    return redirect(WIZARD.format(draft.id, "offer"))


# Step 1: the offer -------------------------------------------------------------------------
def _offer_page(
    session: CurrentSession, draft_id: str, status: int = 200, **context: object
) -> Response:
    repo = request_state.deps().repo
    view = programs.open_draft(repo, session.trainer.id, draft_id)
    form = context.pop("form", None) or dict(view.draft.offer)
    return render(
        "programs/wizard_offer.html",
        status=status,
        step=1,
        draft=view.draft,
        client=view.client,
        form=form,
        documents=document_rows(form),
        templates=programs.store(repo).list_templates(session.trainer.id),
        **_common(session),
        **context,
    )


@bp.route("/dashboard/programs/wizard/{draft_id}/offer", methods=["GET"])
@trainer
def wizard_offer(session: CurrentSession, draft_id: str) -> Response:
    return _offer_page(session, draft_id)


@bp.route("/dashboard/programs/wizard/{draft_id}/offer", methods=["POST"], content_types=FORM)
@trainer
def wizard_offer_save(session: CurrentSession, draft_id: str) -> Response:
    form = request_state.current().form()
    try:
        programs.save_offer(request_state.deps().repo, session.trainer, draft_id, form)
    except InvalidInput as exc:
        return _offer_page(session, draft_id, 400, errors=exc.errors)
    except VersionConflict as exc:
        return _offer_page(session, draft_id, 409, errors={"_form": exc.user_message})
    if form.get("action") == "use_template":
        return redirect(WIZARD.format(draft_id, "offer"), saved="template")
    return redirect(WIZARD.format(draft_id, "schedule"))


# Step 2: scheduling --------------------------------------------------------------------------
def _schedule_page(
    session: CurrentSession, draft_id: str, status: int = 200, **context: object
) -> Response:
    repo = request_state.deps().repo
    try:
        checked = programs.plan(repo, session.trainer, draft_id, request_state.deps().now)
    except InvalidInput:
        return redirect(WIZARD.format(draft_id, "offer"), saved="incomplete")
    quick = dict(checked.draft.quick)
    if not quick.get("every_weeks"):
        quick["every_weeks"] = "1"
    return render(
        "programs/wizard_schedule.html",
        status=status,
        step=2,
        plan=checked,
        draft=checked.draft,
        client=checked.client,
        quick=quick,
        max_every=MAX_EVERY_WEEKS,
        saved=request_state.current().query("saved"),
        **_common(session),
        **context,
    )


@bp.route("/dashboard/programs/wizard/{draft_id}/schedule", methods=["GET"])
@trainer
def wizard_schedule(session: CurrentSession, draft_id: str) -> Response:
    return _schedule_page(session, draft_id)


@bp.route("/dashboard/programs/wizard/{draft_id}/schedule", methods=["POST"], content_types=FORM)
@trainer
def wizard_schedule_save(session: CurrentSession, draft_id: str) -> Response:
    form = request_state.current().form()
    repo = request_state.deps().repo
    try:
        draft, action = programs.save_schedule(repo, session.trainer, draft_id, form)
    except InvalidInput as exc:
        return _schedule_page(session, draft_id, 400, errors=exc.errors)
    except VersionConflict as exc:
        return _schedule_page(session, draft_id, 409, errors={"_form": exc.user_message})
    if action == "back":
        return redirect(WIZARD.format(draft_id, "offer"))
    if action == "next":
        checked = programs.plan_draft(repo, session.trainer, draft, request_state.deps().now)
        if not checked.ready:
            return _schedule_page(
                session,
                draft_id,
                400,
                errors={
                    "_form": checked.problem
                    or "Some dates cannot be booked: change or remove the flagged ones."
                },
            )
        return redirect(WIZARD.format(draft_id, "confirm"))
    return redirect(WIZARD.format(draft_id, "schedule"), saved=action.split("_")[0])


# Step 3: confirmation ------------------------------------------------------------------------
def _confirm_page(
    session: CurrentSession, draft_id: str, status: int = 200, **context: object
) -> Response:
    try:
        checked = programs.plan(
            request_state.deps().repo, session.trainer, draft_id, request_state.deps().now
        )
    except InvalidInput:
        return redirect(WIZARD.format(draft_id, "offer"), saved="incomplete")
    currency = session.trainer.settings.currency
    return render(
        "programs/wizard_confirm.html",
        status=status,
        step=3,
        plan=checked,
        draft=checked.draft,
        client=checked.client,
        price_text=price_summary(
            checked.offer.price_minor,
            checked.offer.sessions,
            currency,
            session.trainer.settings.locale,
        ),
        **_common(session),
        **context,
    )


@bp.route("/dashboard/programs/wizard/{draft_id}/confirm", methods=["GET"])
@trainer
def wizard_confirm(session: CurrentSession, draft_id: str) -> Response:
    return _confirm_page(session, draft_id)


@bp.route("/dashboard/programs/wizard/{draft_id}/confirm", methods=["POST"], content_types=FORM)
@trainer
def wizard_validate(session: CurrentSession, draft_id: str) -> Response:
    form = request_state.current().form()
    if form.get("action") == "back":
        return redirect(WIZARD.format(draft_id, "schedule"))
    try:
        bundle = programs.create_bundle(
            request_state.deps().repo,
            request_state.deps().links,
            session.trainer,
            draft_id,
            form.get("version"),
            request_state.deps().now,
        )
    except InvalidInput as exc:
        return _confirm_page(session, draft_id, 400, errors=exc.errors)
    except VersionConflict as exc:
        return _confirm_page(session, draft_id, 409, errors={"_form": exc.user_message})
    except programs.AlreadyCreated:
        return redirect(f"/dashboard/bundles/{draft_id}", saved="already")
    except Conflict as exc:
        return _confirm_page(session, draft_id, 409, errors={"_form": exc.user_message})
    return redirect(f"/dashboard/bundles/{bundle.id}", saved="created")


# The bundle page -----------------------------------------------------------------------------
def _bundle_page(
    session: CurrentSession, bundle_id: str, status: int = 200, **context: object
) -> Response:
    repo = request_state.deps().repo
    page = programs.open_bundle(repo, session.trainer.id, bundle_id)
    now = request_state.deps().now
    state = request_state.current()
    return render(
        "programs/bundle.html",
        status=status,
        bundle=page.bundle,
        sessions=page.sessions,
        client=page.client,
        attended=page.bundle.attended(now),
        bundle_state=page.bundle.state(now),
        scheduling_problem=scheduling_problem(page.bundle, now),
        confirmable=confirmable(page.sessions, now),
        shares=price_summary(
            page.bundle.price_minor,
            page.bundle.sessions_planned,
            session.trainer.settings.currency,
            session.trainer.settings.locale,
        ),
        saved=state.query("saved"),
        sent=state.query("sent"),
        saved_messages=BUNDLE_SAVED,
        **_common(session),
        **context,
    )


@bp.route("/dashboard/bundles/{bundle_id}", methods=["GET"])
@trainer
def bundle_page(session: CurrentSession, bundle_id: str) -> Response:
    return _bundle_page(session, bundle_id)


@bp.route("/dashboard/bundles/{bundle_id}", methods=["POST"], content_types=FORM)
@trainer
def bundle_change(session: CurrentSession, bundle_id: str) -> Response:
    form = request_state.current().form()
    repo, now, tid = request_state.deps().repo, request_state.deps().now, session.trainer.id
    action = form.get("action", "")
    try:
        if action == "confirm":
            count = programs.send_confirmations(
                repo,
                session.trainer,
                bundle_id,
                form.get("round"),
                session_views.session_url(tid),
                now,
            )
            return redirect(f"/dashboard/bundles/{bundle_id}", sent=str(count))
        if action == "add":
            programs.add_session(
                repo, request_state.deps().links, session.trainer, bundle_id, form, now
            )
            return redirect(f"/dashboard/bundles/{bundle_id}", saved="added")
        programs.change_status(repo, tid, bundle_id, action, form.get("version"), now)
    except InvalidInput as exc:
        return _bundle_page(session, bundle_id, 400, errors=exc.errors, form=form)
    except (VersionConflict, Conflict) as exc:
        return _bundle_page(session, bundle_id, 409, errors={"_form": exc.user_message}, form=form)
    return redirect(f"/dashboard/bundles/{bundle_id}", saved=action)

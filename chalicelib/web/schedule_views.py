"""The Schedule tab: week and day views, one-off slots, open-slot actions, Apply template."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.domain.errors import Conflict, InvalidInput, VersionConflict
from chalicelib.domain.schedule import AddSlot, ApplyTemplate, parse_day, parse_week
from chalicelib.services import schedule
from chalicelib.services.auth import CurrentSession
from chalicelib.services.schedule import MoveHerePage, MoveSession, SlotAction, SlotPage
from chalicelib.services.travel import TRAVEL_OK
from chalicelib.web import forms, request_state
from chalicelib.web.grids import week_grid
from chalicelib.web.render import redirect, render
from chalicelib.web.views import FORM, trainer

bp = Blueprint(__name__)


WEEK_SAVED = {
    "added": "Slot added.",
    "offer": "Offer sent: the slot is held and the WhatsApp message is queued.",
    "withdraw": "Offer withdrawn: the slot is open again.",
    "remove": "Slot removed.",
    "location": "Slot moved to the new location.",
}


def _week(page: schedule.WeekPage, status: int = 200, **context: object) -> Response:
    return render(
        "schedule/week.html",
        status=status,
        tab="schedule",
        page=page,
        grid=week_grid(page),
        saved=WEEK_SAVED.get(request_state.current().query("saved")),
        **context,
    )


def _asked_week(session: CurrentSession) -> schedule.WeekPage:
    """The week or day the query string asks for (`day`, `week`, `view`, `move`)."""
    state = request_state.current()
    day_text, week_text = state.query("day"), state.query("week")
    return schedule.week_page(
        request_state.deps(),
        session.trainer,
        view=state.query("view"),
        day=parse_day(day_text) if day_text else None,
        week=parse_week(week_text) if week_text else None,
        move_ref=state.query("move"),
    )


@bp.route("/dashboard/schedule", methods=["GET"])
@trainer
def week_view(session: CurrentSession) -> Response:
    return _week(_asked_week(session))


def _new_slot(page: schedule.NewSlotPage, status: int = 200, **context: object) -> Response:
    return render(
        "schedule/slot_new.html",
        status=status,
        tab="schedule",
        page=page,
        form=page.form,
        **context,
    )


@bp.route("/dashboard/schedule/new", methods=["GET"])
@trainer
def slot_new(session: CurrentSession) -> Response:
    state = request_state.current()
    day = parse_day(state.query("day"))
    return _new_slot(schedule.new_slot_page(session.trainer, day, state.query("start", "09:00")))


@bp.route("/dashboard/schedule/new", methods=["POST"], content_types=FORM)
@trainer
def slot_create(session: CurrentSession) -> Response:
    form = request_state.current().form()
    try:
        command = forms.command(AddSlot, form)
        slot = schedule.add_one_off(request_state.deps(), session.trainer, command)
    except InvalidInput as exc:
        page = schedule.new_slot_page(session.trainer, typed=form)
        return _new_slot(page, 400, errors=forms.errors(AddSlot, exc))
    except Conflict as exc:
        page = schedule.new_slot_page(session.trainer, typed=form)
        return _new_slot(page, 409, errors={"_form": exc.user_message})
    return redirect("/dashboard/schedule", week=slot.week, saved="added")


def _slot(page: SlotPage, status: int = 200, **context: object) -> Response:
    return render("schedule/slot.html", status=status, tab="schedule", page=page, **context)


@bp.route("/dashboard/schedule/{week}/slots/{slot_id}", methods=["GET"])
@trainer
def slot_page(session: CurrentSession, week: str, slot_id: str) -> Response:
    state = request_state.current()
    page = schedule.slot_or_move_here(
        request_state.deps(),
        session.trainer,
        parse_week(week),
        slot_id,
        move_ref=state.query("move"),
        # Remove is two steps without JavaScript: a link here with ?confirm=remove shows
        # the form.
        confirming=state.query("confirm"),
    )
    if isinstance(page, MoveHerePage):
        return render("schedule/move_here.html", tab="schedule", page=page)
    return _slot(page)


@bp.route("/dashboard/schedule/{week}/slots/{slot_id}", methods=["POST"], content_types=FORM)
@trainer
def slot_change(session: CurrentSession, week: str, slot_id: str) -> Response:
    state, deps = request_state.current(), request_state.deps()
    form = state.form()
    week = parse_week(week)
    try:
        command = forms.command(SlotAction, form, week=week, slot_id=slot_id)
        done = schedule.change_slot(deps, session.trainer, command, lambda: state.base_url)
    except schedule.SlotRefused as refused:
        errors = forms.errors(SlotAction, refused)
        return _slot(refused.page, refused.status, errors=errors, form=form)
    except InvalidInput as exc:  # the form itself did not parse: the page as it is
        page = schedule.slot_page(deps, session.trainer, week, slot_id)
        return _slot(page, 400, errors=forms.errors(SlotAction, exc), form=form)
    if done.booked is not None:
        return redirect(f"/dashboard/sessions/{done.booked.ref}", saved="booked")
    return redirect("/dashboard/schedule", week=done.week, saved=done.action)


@bp.route("/dashboard/schedule/move", methods=["POST"], content_types=FORM)
@trainer
def move_session(session: CurrentSession) -> Response:
    """Move a Changing session into the open slot picked on the schedule (one transaction);
    a refusal shows the same week again, still picking, with the reason."""
    state, deps = request_state.current(), request_state.deps()
    command = forms.command(MoveSession, state.form())
    try:
        moved = schedule.move_session(deps, session.trainer, command, lambda: state.base_url)
    except InvalidInput as exc:
        if TRAVEL_OK in exc.errors:  # asked again on the same page, "Move anyway" to tick
            page = schedule.move_here_again(deps, session.trainer, command)
            if page is not None:
                return render(
                    "schedule/move_here.html",
                    400,
                    tab="schedule",
                    page=page,
                    errors=exc.errors,
                    form=state.form(),
                )
        status, reason = 400, next(iter(exc.errors.values()), "That move is not possible.")
    except (VersionConflict, Conflict) as exc:
        status, reason = 409, exc.user_message
    else:
        return redirect(f"/dashboard/sessions/{moved.ref}", saved="moved")
    page = schedule.week_page(
        deps,
        session.trainer,
        view=state.query("view"),
        week=parse_week(command.week),  # a week that does not parse is a plain 400 page
        move_ref=command.session_ref,
    )
    return _week(page, status, errors={"_form": reason})


@bp.route("/dashboard/schedule/apply", methods=["POST"], content_types=FORM)
@trainer
def apply_template(session: CurrentSession) -> Response:
    try:
        command = forms.command(ApplyTemplate, request_state.current().form())
        page = schedule.apply(request_state.deps(), session.trainer, command)
    except InvalidInput as exc:
        return _week(_asked_week(session), 400, errors=forms.errors(ApplyTemplate, exc))
    return render("schedule/applied.html", tab="schedule", page=page)

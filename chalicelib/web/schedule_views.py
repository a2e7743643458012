"""The Schedule tab: week and day views, one-off slots, open-slot actions, Apply template."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from chalice import Blueprint, Response

from chalicelib.domain.errors import Conflict, InvalidInput, NotFound, VersionConflict
from chalicelib.domain.grid import MINUTES_PER_DAY, format_clock
from chalicelib.domain.offers import can_be_offered, matching_clients
from chalicelib.domain.schedule import (
    MAX_WEEKS_AT_ONCE,
    Session,
    Slot,
    parse_day,
    parse_week,
    week_days,
)
from chalicelib.domain.timeutil import local_today, week_key
from chalicelib.repo.repository import Repository, Week
from chalicelib.services import offers, schedule, sessions
from chalicelib.services.auth import CurrentSession
from chalicelib.web import request_state
from chalicelib.web.grids import clock_choices, schedule_grid, schedule_nav
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


def _moving(session: CurrentSession, ref: str) -> Session | None:
    """The session being changed, when the schedule is shown to pick its new slot."""
    if not ref:
        return None
    try:
        booking = sessions.find_session(request_state.deps().repo, session.trainer.id, ref)
    except NotFound:
        return None
    if not booking.is_live or not booking.changing or booking.is_past(request_state.deps().now):
        return None
    return booking


def _matched_slots(repo: Repository, trainer_id: str, week: Week, now: datetime) -> frozenset[str]:
    """Open, unlocked, future slots with at least one last-minute match (amber). One
    Query of the account partition (clients, opt-ins, template) for the whole week."""
    candidates = [s for s in week.slots if can_be_offered(s, now)]
    if not candidates:
        return frozenset()
    account = repo.get_account(trainer_id)
    return frozenset(
        s.id
        for s in candidates
        if matching_clients(
            s, account.clients, account.optins, account.setup.template, week.sessions
        )
    )


def _week_page(
    session: CurrentSession,
    status: int = 200,
    *,
    week_text: str | None = None,
    move_ref: str | None = None,
    **context: object,
) -> Response:
    state = request_state.current()
    settings = session.trainer.settings
    today = local_today(request_state.deps().now, settings.time_zone)
    day_text = state.query("day") if week_text is None else ""
    week_text = state.query("week") if week_text is None else week_text
    moving = _moving(session, state.query("move") if move_ref is None else move_ref)
    view = state.query("view") or ("day" if day_text else settings.default_view)
    if view not in ("day", "week"):
        view = "week"
    day = parse_day(day_text) if day_text else None
    week = parse_week(week_text) if week_text else week_key(day or today)
    if day is None:
        day = today if week_key(today) == week else week_days(week)[0]
    shown = [day] if view == "day" else week_days(week)
    repo, now = request_state.deps().repo, request_state.deps().now
    data = repo.get_week_with_sessions(session.trainer.id, week_key(shown[0]))
    slots = data.slots
    matched = _matched_slots(repo, session.trainer.id, data, now)
    step = timedelta(days=1 if view == "day" else 7)
    return render(
        "schedule/week.html",
        status=status,
        tab="schedule",
        view=view,
        week=week_key(shown[0]),
        day=day,
        today=today,
        previous=shown[0] - step,
        next=shown[0] + step,
        grid=schedule_grid(
            shown,
            slots,
            data.sessions,
            settings,
            session.trainer.locations,
            today,
            move_ref=moving.ref if moving else None,
            matched=matched,
            now=now,
        ),
        moving=moving,
        saved=WEEK_SAVED.get(state.query("saved")),
        slot_count=len([s for s in slots if s.day in shown]),
        label=_range_label(shown),
        nav=schedule_nav(shown, MAX_WEEKS_AT_ONCE),
        max_weeks=MAX_WEEKS_AT_ONCE,
        **context,
    )


@bp.route("/dashboard/schedule", methods=["GET"])
@trainer
def week_view(session: CurrentSession) -> Response:
    return _week_page(session)


def _active_locations(session: CurrentSession) -> list[tuple[str, str]]:
    """(id, name) of the trainer's active locations, by name: from the profile's mirror."""
    active = [(lid, loc.name) for lid, loc in session.trainer.locations.items() if not loc.archived]
    return sorted(active, key=lambda pair: pair[1].casefold())


def _slot_form(session: CurrentSession, status: int = 200, **context: object) -> Response:
    return render(
        "schedule/slot_new.html",
        status=status,
        tab="schedule",
        locations=_active_locations(session),
        start_times=clock_choices(0, MINUTES_PER_DAY - 30),
        end_times=clock_choices(30, MINUTES_PER_DAY),
        **context,
    )


@bp.route("/dashboard/schedule/new", methods=["GET"])
@trainer
def slot_new(session: CurrentSession) -> Response:
    state = request_state.current()
    day = parse_day(state.query("day"))
    start = state.query("start", "09:00")
    form = {"day": day.isoformat(), "start": start, "end": ""}
    try:
        minutes = int(start[:2]) * 60 + int(start[3:5])
        form["end"] = format_clock(min(minutes + 60, MINUTES_PER_DAY))
    except ValueError:
        pass
    return _slot_form(session, form=form)


@bp.route("/dashboard/schedule/new", methods=["POST"], content_types=FORM)
@trainer
def slot_create(session: CurrentSession) -> Response:
    form = request_state.current().form()
    try:
        slot = schedule.add_slot(
            request_state.deps().repo, session.trainer, form, request_state.deps().now
        )
    except InvalidInput as exc:
        return _slot_form(session, 400, errors=exc.errors, form=form)
    except Conflict as exc:
        return _slot_form(session, 409, errors={"_form": exc.user_message}, form=form)
    return redirect("/dashboard/schedule", week=slot.week, saved="added")


def _slot_in_week(session: CurrentSession, week_text: str, slot_id: str) -> tuple[Slot, Week]:
    """The slot and its week (slots and sessions): one Query, read once per request for
    the slot itself, its matches and a refused form shown again."""
    week = request_state.deps().repo.get_week_with_sessions(
        session.trainer.id, parse_week(week_text)
    )
    slot = next((s for s in week.slots if s.id == slot_id), None)
    if slot is None:
        raise NotFound(slot_id)
    return slot, week


def _open_slot_page(
    session: CurrentSession, slot: Slot, week: Week, status: int = 200, **context: object
) -> Response:
    """The open slot's page: `week` is the Query that found the slot (its sessions tell
    who is booked then), plus the account partition for matches and the slot's log."""
    repo, now = request_state.deps().repo, request_state.deps().now
    context.setdefault("confirming", "")
    account = repo.get_account(session.trainer.id)
    active_clients = sorted(
        (c for c in account.clients if not c.archived), key=lambda c: c.name.casefold()
    )
    live = slot.offer if slot.offer is not None and slot.offer.live(now) else None
    matches = (
        []
        if live or slot.start_utc <= now
        else matching_clients(
            slot, account.clients, account.optins, account.setup.template, week.sessions
        )
    )
    return render(
        "schedule/slot.html",
        status=status,
        tab="schedule",
        slot=slot,
        live_offer=live,
        minutes_left=max(1, int((live.expires_at - now).total_seconds() // 60)) if live else 0,
        matches=matches,
        lock_minutes=session.trainer.settings.offer_lock_minutes,
        log=repo.log_of(session.trainer.id, slot.week, slot.id),
        clients=active_clients,
        location=session.trainer.locations.get(slot.location_id),
        locations=_active_locations(session),
        **context,
    )


@bp.route("/dashboard/schedule/{week}/slots/{slot_id}", methods=["GET"])
@trainer
def slot_page(session: CurrentSession, week: str, slot_id: str) -> Response:
    slot, data = _slot_in_week(session, week, slot_id)
    moving = _moving(session, request_state.current().query("move"))
    if moving is not None and slot.is_open:
        return render(
            "schedule/move_here.html",
            tab="schedule",
            slot=slot,
            moving=moving,
            location=session.trainer.locations.get(slot.location_id),
            was_at=session.trainer.locations.get(moving.location_id),
        )
    # Remove is two steps without JavaScript: a link here with ?confirm=remove shows the form.
    return _open_slot_page(session, slot, data, confirming=request_state.current().query("confirm"))


@bp.route("/dashboard/schedule/{week}/slots/{slot_id}", methods=["POST"], content_types=FORM)
@trainer
def slot_change(session: CurrentSession, week: str, slot_id: str) -> Response:
    form = request_state.current().form()
    repo = request_state.deps().repo
    slot, data = _slot_in_week(session, week, slot_id)
    action = form.get("action", "")
    try:
        if action == "remove":
            schedule.remove_slot(
                repo, session.trainer.id, slot, form.get("version"), request_state.deps().now
            )
        elif action == "allocate":
            booked = schedule.allocate(
                repo,
                request_state.deps().links,
                session.trainer,
                slot,
                form.get("client_id", ""),
                form.get("version"),
                request_state.deps().now,
            )
            return redirect(f"/dashboard/sessions/{booked.ref}", saved="booked")
        elif action == "offer":
            offers.send_offer(
                repo,
                request_state.deps().links,
                session.trainer,
                slot,
                form.get("client_id", ""),
                form.get("version"),
                request_state.current().base_url,
                request_state.deps().now,
                week=data,
            )
        elif action == "withdraw":
            offers.withdraw(repo, session.trainer.id, slot, request_state.deps().now)
        elif action == "location":
            schedule.move_slot(
                repo,
                session.trainer,
                slot,
                form.get("location_id", ""),
                form.get("version"),
                request_state.deps().now,
            )
        else:
            raise InvalidInput({"action": "Unknown action."})
    except InvalidInput as exc:
        return _open_slot_page(session, slot, data, 400, errors=exc.errors, form=form)
    except (VersionConflict, Conflict) as exc:
        errors = {"_form": exc.user_message}
        return _open_slot_page(session, slot, data, 409, errors=errors, form=form)
    return redirect("/dashboard/schedule", week=slot.week, saved=action)


@bp.route("/dashboard/schedule/move", methods=["POST"], content_types=FORM)
@trainer
def move_session(session: CurrentSession) -> Response:
    """Move a Changing session into the open slot picked on the schedule (one transaction);
    a refusal shows the same week again, still picking, with the reason."""
    form = request_state.current().form()
    repo, tid, now = request_state.deps().repo, session.trainer.id, request_state.deps().now
    ref, week = form.get("session", ""), parse_week(form.get("week", ""))
    booking = sessions.find_session(repo, tid, ref)
    try:
        target = schedule.find_slot(repo, tid, week, form.get("slot_id", ""))
        moved = sessions.move_to(
            repo, request_state.deps().links, tid, booking, target, form.get("version"), now
        )
    except InvalidInput as exc:
        errors = {"_form": next(iter(exc.errors.values()), "That move is not possible.")}
        return _week_page(session, 400, week_text=week, move_ref=ref, errors=errors)
    except NotFound:
        errors = {"_form": "That slot was removed meanwhile. Pick another open slot."}
        return _week_page(session, 409, week_text=week, move_ref=ref, errors=errors)
    except (VersionConflict, Conflict) as exc:
        errors = {"_form": exc.user_message}
        return _week_page(session, 409, week_text=week, move_ref=ref, errors=errors)
    return redirect(f"/dashboard/sessions/{moved.ref}", saved="moved")


@bp.route("/dashboard/schedule/apply", methods=["POST"], content_types=FORM)
@trainer
def apply_template(session: CurrentSession) -> Response:
    form = request_state.current().form()
    week = parse_week(form.get("week", ""))
    raw_weeks = (form.get("weeks") or "1").strip()
    weeks = int(raw_weeks) if raw_weeks.isascii() and raw_weeks.isdigit() else 0
    try:
        results = schedule.apply_template(
            request_state.deps().repo,
            request_state.deps().links,
            session.trainer,
            week,
            weeks,
            request_state.deps().now,
        )
    except InvalidInput as exc:
        return _week_page(session, 400, errors=exc.errors)
    return render(
        "schedule/applied.html",
        tab="schedule",
        results=results,
        first_week=week,
        week_label=lambda key: _range_label(week_days(key)),
        span=_range_label([week_days(week)[0], week_days(results[-1].plan.week)[-1]]),
    )


def _range_label(days: list[date]) -> str:
    if len(days) == 1:
        return f"{days[0]:%A} {days[0].day} {days[0]:%B %Y}"
    return f"{days[0].day} {days[0]:%b} – {days[-1].day} {days[-1]:%b %Y}"

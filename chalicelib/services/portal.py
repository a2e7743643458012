"""The client portal: what personal links open, and what a client can do there.

Two kinds of link, both 256-bit tokens derived from the stage secret and stored only as a
hash: `/c/<token>` (the client's home) and `/s/<token>` (one session). Every request
starts with the same single GetItem on the token's hash, so forged, truncated and retired
links cost the same before their answer. A link dies when the client is archived or the
trainer rotates the portal link (session links carry the portal generation).

Each page is one call here (`home_page`, `book_page`, `session_page`, `change_page`) that
returns a frozen view model: what the template shows, the links it shows as plain tokens,
and the client as `PortalClient` (no private notes). Every rule about time (the window,
the deadline, "past") is checked against the one `now` the request was handed, with the
client's own window and deadline where their profile sets them (`ClientContext.rules`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from chalicelib import observability
from chalicelib.domain import policy
from chalicelib.domain.clients import Client
from chalicelib.domain.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    VersionConflict,
    expect_version,
)
from chalicelib.domain.invoices import PDF_SUFFIX, number_label
from chalicelib.domain.models import Trainer
from chalicelib.domain.portal import (
    GONE,
    TAKEN,
    TOO_CLOSE_NOW,
    BookingRules,
    BookSlot,
    CancelSession,
    ChangeSession,
    PortalClient,
    SaveOptins,
    SetOptin,
    SlotChoice,
    allowed_weeks,
    bookable,
    booking_problem,
    chosen_week,
    client_cancellation,
    client_may_change,
    client_move,
    deadline_message,
    effective_rules,
    optin_choices,
    past_the_deadline,
    picked_slot,
)
from chalicelib.domain.programs import Bundle
from chalicelib.domain.schedule import (
    Document,
    Session,
    SessionRef,
    Slot,
    book,
    parse_session_ref,
)
from chalicelib.domain.skips import add_date
from chalicelib.domain.template import TemplateSlot, WeeklyTemplate
from chalicelib.domain.time_off import TimeOff
from chalicelib.domain.timeutil import local_today, parse_utc_iso
from chalicelib.domain.tokens import new_id, token_hash
from chalicelib.domain.travel import booked_too_close
from chalicelib.messaging.whatsapp import wa_me_link
from chalicelib.repo.clients import client_at_version
from chalicelib.repo.parts import NeighbourTaken, Notices
from chalicelib.repo.repository import SESSION_LINK_KIND, ClientUnavailable, Repository
from chalicelib.services import programs, travel
from chalicelib.services.deps import Deps
from chalicelib.services.links import Links
from chalicelib.services.sessions import (
    ClientAction,
    Reach,
    client_action_notices,
    client_reach,
    link_for,
)

PORTAL_KIND = "portal"


class LinkInactive(DomainError):
    """A real link that was rotated, or whose client is archived: 410, never their data."""


@dataclass(frozen=True)
class ClientContext:
    """Who a link belongs to, loaded for one portal request (never handed to a template:
    it holds the whole trainer and the link maker)."""

    trainer: Trainer
    client: PortalClient  # never the private notes: see domain.portal.PortalClient
    template: WeeklyTemplate
    links: Links  # makes this client's links again (the table holds only their hashes)
    reach: Reach | None = None  # where the client's confirmations go (None: nowhere)
    # The trainer's time off: never offered, whatever slots stand in it (a slot added by
    # hand, or written while the period was being saved).
    time_off: TimeOff = field(default_factory=TimeOff)

    def in_time_off(self, slot: Slot) -> bool:
        return self.time_off.covering(slot.start_utc, slot.end_utc) is not None

    @property
    def trainer_id(self) -> str:
        return self.trainer.id

    def session_token(self, session_id: str) -> str:
        return self.links.session(
            self.trainer.id, self.client.id, self.client.portal_generation, session_id
        )

    @property
    def home_token(self) -> str:
        return self.links.portal(self.trainer.id, self.client)

    @property
    def places(self) -> dict[str, str]:
        return {lid: loc.name for lid, loc in self.trainer.locations.items()}

    @property
    def rules(self) -> BookingRules:
        """The window and deadline this client's pages and forms apply."""
        return effective_rules(self.trainer.settings, self.client)


def _record(repo: Repository, token: str, kind: str) -> dict[str, object]:
    record = repo.get_token(token_hash(token or ""))
    if record is None or record.kind != kind:
        raise NotFound("link")
    if record.data.get("revoked_at"):
        raise LinkInactive("rotated")
    return record.data


def _live(client: Client, generation: object) -> None:
    if client.archived:
        raise LinkInactive("archived")
    if generation != client.portal_generation:
        raise LinkInactive("rotated")


def open_client(repo: Repository, links: Links, token: str) -> ClientContext:
    """A home link's client: two reads (the token, then client + profile + template)."""
    data = _record(repo, token, PORTAL_KIND)
    tid, cid = str(data["trainer_id"]), str(data["client_id"])
    client, trainer, template, _, time_off = repo.portal_view(tid, cid)
    _live(client, data.get("generation", client.portal_generation))
    return ClientContext(
        trainer, PortalClient.of(client), template, links, client_reach(client), time_off
    )


@dataclass(frozen=True)
class SessionView:
    """A session link's session with its client, as one use case loaded them."""

    context: ClientContext
    session: Session

    @property
    def token(self) -> str:
        return self.context.session_token(self.session.id)


def open_session_link(repo: Repository, links: Links, token: str) -> SessionView:
    """A session link: the token, then client + profile + template + session together."""
    data = _record(repo, token, SESSION_LINK_KIND)
    tid, cid = str(data["trainer_id"]), str(data["client_id"])
    at = SessionRef(
        str(data["week"]), parse_utc_iso(str(data["start_utc"])), str(data["session_id"])
    )
    client, trainer, template, session, time_off = repo.portal_view(tid, cid, at)
    _live(client, data.get("generation"))
    if session is None:
        raise NotFound("session")
    context = ClientContext(
        trainer, PortalClient.of(client), template, links, client_reach(client), time_off
    )
    return SessionView(context, session)


# Home -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class UpcomingSession:
    label: str
    place: str
    token: str  # its /s/ link


@dataclass(frozen=True)
class BundleProgress:
    """A program's progress as the client sees it, at the request's `now`."""

    title: str
    state: str
    state_label: str
    done: int
    planned: int
    ahead: int  # booked sessions not yet done
    left: int = 0  # sessions not used yet: "7 of 12 left"
    pack_paid: bool = False
    documents: tuple[Document, ...] = ()  # the bundle's, linked when the page is drawn
    # The pack's invoice (docs/invoices.md): its /i/ link's token and what it is, "" when
    # none was issued (or it was credited).
    invoice_token: str = ""
    invoice_label: str = ""

    @classmethod
    def of(
        cls, bundle: Bundle, now: datetime, invoice: tuple[str, str] = ("", "")
    ) -> BundleProgress:
        done = bundle.attended(now)
        return cls(
            title=bundle.title,
            state=bundle.state(now),
            state_label=bundle.state_label(now),
            done=done,
            planned=bundle.sessions_planned,
            ahead=max(0, bundle.live_count() - done),
            left=bundle.left(now),
            pack_paid=bundle.pack_paid,
            documents=bundle.documents,
            invoice_token=invoice[0],
            invoice_label=invoice[1],
        )


def _pack_invoice(context: ClientContext, bundle: Bundle, number: int | None) -> tuple[str, str]:
    """The pack invoice's PDF link token and its name, made from the number the bundle
    carries (no read); the receipt once the pack is paid."""
    if number is None:
        return "", ""
    token = context.links.invoice(
        context.trainer.id, context.client.id, context.client.portal_generation, number
    )
    kind = "Receipt" if bundle.pack_paid else "Invoice"
    return token + PDF_SUFFIX, f"{kind} {number_label(number)} (PDF)"


@dataclass(frozen=True)
class HomePage:
    trainer_name: str
    client: PortalClient
    token: str  # the home link itself
    upcoming: tuple[UpcomingSession, ...]
    bundles: tuple[BundleProgress, ...]
    choices: tuple[TemplateSlot, ...]  # the times the client may opt in to
    optins: frozenset[str]  # the ones ticked
    places: Mapping[str, str]
    messages_opt_out: bool = False  # STOP on WhatsApp or the toggle: no reminders
    # What the trainer sends, so the page promises only that: "24h", "2h", "both" or off.
    reminders: str = "off"
    reminders_off_for_client: bool = False  # the trainer left them out on the profile
    # "Skip this week": the next recurring session, and whether it is still before the
    # client's own cancel deadline (inside it, the page says to ask the trainer).
    next_recurring: NextRecurring | None = None


@dataclass(frozen=True)
class NextRecurring:
    label: str
    session_id: str
    version: int
    skippable: bool
    deadline_text: str  # why not, when it is not


def home_page(deps: Deps, token: str) -> HomePage:
    """The home page in five reads: token, client + profile + template, the client's
    upcoming sessions, their opt-ins, their bundles (programs)."""
    repo, now = deps.repo, deps.now
    context = open_client(repo, deps.links, token)
    tid, cid = context.trainer.id, context.client.id
    places = context.places
    booked = repo.client_upcoming(tid, cid, now)
    upcoming = tuple(
        UpcomingSession(s.label, places.get(s.location_id, ""), context.session_token(s.id))
        for s in booked
        if s.is_live
    )
    recurring = next_recurring(booked)
    rules = context.rules
    # The bundles' one Query; each carries its current invoice's number.
    bundles = tuple(
        BundleProgress.of(b, now, _pack_invoice(context, b, b.invoice_number))
        for b in programs.store(repo).client_bundles(tid, cid)
        if b.status != "creating"
    )
    choices = optin_choices(context.template, context.client, context.trainer.locations)
    return HomePage(
        trainer_name=context.trainer.display_name,
        client=context.client,
        token=token,
        upcoming=upcoming,
        bundles=bundles,
        choices=tuple(choices),
        optins=frozenset(repo.client_optins(tid, cid)),
        places=places,
        messages_opt_out=context.client.messages_opt_out,
        reminders=context.trainer.settings.reminders,
        reminders_off_for_client=context.client.reminders_off,
        next_recurring=None
        if recurring is None
        else NextRecurring(
            label=recurring.label,
            session_id=recurring.id,
            version=recurring.version,
            skippable=not past_the_deadline(recurring, rules, now),
            deadline_text=deadline_message(rules, context.trainer.display_name),
        ),
    )


# Booking ----------------------------------------------------------------------------
@dataclass(frozen=True)
class BookPage:
    trainer_name: str
    token: str  # the home link
    days: Mapping[date, list[Slot]]  # the open slots the client may take, by day
    places: Mapping[str, str]
    window_text: str  # how far ahead this client may book, in their words
    policy_text: str = ""  # what a no-show or a late cancel costs ("" when nothing)


def open_slots(
    repo: Repository, context: ClientContext, now: datetime, *, excluding: str | None = None
) -> dict[date, list[Slot]]:
    """Open slots the client may take, grouped by their day: one Query per allowed week."""
    weeks = allowed_weeks(context.rules, now)
    found: list[Slot] = []
    for week in weeks:
        found += repo.get_week(context.trainer.id, week)
    slots = bookable(found, context.client, context.trainer.locations, weeks, now)
    # Travel time: the weeks read are consecutive, so a slot at a week's edge has its
    # neighbours in `found` too (at the window's far edge the booking checks again). The
    # session being changed (`excluding` is its slot) leaves, so it is no neighbour.
    minutes = context.trainer.settings.travel_minutes
    leaving = next((s.session_id for s in found if s.id == excluding), None)
    grouped: dict[date, list[Slot]] = {}
    for slot in slots:
        if (
            slot.id != excluding
            and not context.in_time_off(slot)
            and booked_too_close(slot, found, minutes, moving=leaving) is None
        ):
            grouped.setdefault(slot.day, []).append(slot)
    return grouped


def book_page(deps: Deps, token: str) -> BookPage:
    """The book page: the link's two reads, then one Query per allowed week."""
    context = open_client(deps.repo, deps.links, token)
    return BookPage(
        trainer_name=context.trainer.display_name,
        token=token,
        days=open_slots(deps.repo, context, deps.now),
        places=context.places,
        window_text=context.rules.window_text,
        policy_text=policy.policy_text(
            context.trainer.settings.no_show_percent,
            context.trainer.settings.late_cancel_percent,
            context.rules.cancel_deadline_hours,
        ),
    )


def _notices(
    deps: Deps,
    context: ClientContext,
    action: ClientAction,
    session: Session,
    before: Session | None = None,
) -> Notices:
    """What a portal action tells, written in its own transaction: the links in it
    point at the stage's public base URL."""
    return client_action_notices(
        context.trainer,
        context.client,
        context.reach,
        action,
        session,
        deps.base_url,
        deps.now,
        before=before,
    )


def _chosen_slot(
    repo: Repository, context: ClientContext, choice: SlotChoice, now: datetime
) -> tuple[Slot, travel.Around]:
    """The slot a form names, only from the client's allowed weeks and this trainer, and
    the slots around it (travel time) from the same Query."""
    week = chosen_week(choice.week, context.rules, now)
    slots = repo.get_week(context.trainer.id, week)
    slot = picked_slot(slots, choice.slot_id)
    if context.in_time_off(slot):
        raise InvalidInput({"_form": GONE})  # as a slot gone meanwhile: pick another
    return slot, travel.around(repo, context.trainer, slot, slots)


@dataclass(frozen=True)
class Booked:
    session_id: str
    token: str  # the session's /s/ link, where the client lands
    again: bool = False  # the form was replayed: the client already has this slot


def book_slot(deps: Deps, token: str, command: BookSlot) -> Booked:
    repo, now = deps.repo, deps.now
    context = open_client(repo, deps.links, token)
    slot, near = _chosen_slot(repo, context, command, now)
    if slot.session_id is not None:
        mine = [
            s
            for s in repo.client_upcoming(context.trainer.id, context.client.id, now)
            if s.id == slot.session_id and s.is_live
        ]
        if mine:  # a replayed or double-submitted form: nothing booked twice
            return Booked(slot.session_id, context.session_token(slot.session_id), again=True)
    problem = booking_problem(
        slot,
        context.client,
        context.trainer.locations,
        allowed_weeks(context.rules, now),
        now,
    )
    if problem:
        raise InvalidInput({"_form": problem})
    neighbours = travel.check_client_booking(context.trainer, slot, near)
    client = context.client
    _, session = book(slot, new_id(), client.id, client.name, "manual", now, client.price_minor)
    try:
        repo.book_slot(
            context.trainer.id,
            slot,
            session,
            link_for(context.links, context.trainer.id, client, session),
            actor="client",
            note="Booked by the client (portal)",
            notices=_notices(deps, context, "booked", session),
            neighbours=neighbours,
        )
    except ClientUnavailable as exc:
        raise LinkInactive("archived") from exc
    except NeighbourTaken as exc:
        raise InvalidInput({"_form": TOO_CLOSE_NOW}) from exc
    except Conflict as exc:
        raise InvalidInput({"_form": TAKEN}) from exc
    observability.count("Bookings")
    return Booked(session.id, context.session_token(session.id))


# One session: its page, cancel and change ---------------------------------------------------
@dataclass(frozen=True)
class SessionPage:
    trainer_name: str
    session: Session
    token: str  # this session's /s/ link
    home_token: str
    place: str
    past: bool
    can_change: bool  # outside the deadline: change and cancel are offered
    locked: bool  # inside the deadline: the client is pointed to the trainer
    deadline: str | None  # why it is locked
    contact: str | None  # a wa.me link to the trainer, when they have a number
    successor: str | None  # the link to the session a moved one became
    cancel_deadline_hours: int  # this client's: their own, or the trainer's default
    change_text: str  # the deadline in the client's words


def _session_page(view: SessionView, token: str, now: datetime) -> SessionPage:
    context, session = view.context, view.session
    trainer, rules = context.trainer, context.rules
    locked = past_the_deadline(session, rules, now)
    number = trainer.settings.whatsapp_number
    text = f"Hi, it's {context.client.first_name} about my session on {session.label}."
    moved_to = parse_session_ref(session.moved_to or "")
    return SessionPage(
        trainer_name=trainer.display_name,
        session=session,
        token=token,
        home_token=context.home_token,
        place=context.places.get(session.location_id, ""),
        past=session.start_utc <= now,
        can_change=client_may_change(session, rules, now),
        locked=locked,
        deadline=deadline_message(rules, trainer.display_name) if locked else None,
        contact=wa_me_link(number, text) if number else None,
        successor=context.session_token(moved_to.id) if moved_to else None,
        cancel_deadline_hours=rules.cancel_deadline_hours,
        change_text=rules.change_text,
    )


def session_page(deps: Deps, token: str) -> SessionPage:
    """A session link's page: two reads (the token; client, profile and session)."""
    return _session_page(open_session_link(deps.repo, deps.links, token), token, deps.now)


@dataclass(frozen=True)
class ChangePage:
    session: SessionPage  # shown instead when the session can no longer be changed
    days: Mapping[date, list[Slot]]  # the other open slots it may move to, by day
    places: Mapping[str, str]


def change_page(deps: Deps, token: str) -> ChangePage:
    """The times a session may move to; the weeks are read only if it may still move."""
    view = open_session_link(deps.repo, deps.links, token)
    page = _session_page(view, token, deps.now)
    days = (
        open_slots(deps.repo, view.context, deps.now, excluding=view.session.slot_id)
        if page.can_change
        else {}
    )
    return ChangePage(page, days, view.context.places)


def _submitted(version: int | None) -> str | None:
    return None if version is None else str(version)


def _cancel_by_client(
    deps: Deps,
    context: ClientContext,
    session: Session,
    version: int | None,
    text: str,
    also: Sequence[dict[str, Any]] = (),
) -> Session:
    """The portal's cancel: the page's version, the client's own deadline, then the cancel
    with its notices in one transaction (a refusal writes nothing)."""
    expect_version(session.version, _submitted(version))
    trainer = context.trainer
    canceled = client_cancellation(session, context.rules, trainer.display_name, deps.now)
    return deps.repo.change_session(
        trainer.id,
        session,
        canceled,
        "client",
        text,
        deps.now,
        free_slot=True,
        notices=_notices(deps, context, "canceled", canceled),
        also=also,
    )


def cancel(deps: Deps, token: str, command: CancelSession) -> SessionView:
    view = open_session_link(deps.repo, deps.links, token)
    saved = _cancel_by_client(
        deps,
        view.context,
        view.session,
        command.version,
        "Canceled by the client (portal); slot reopened",
    )
    return SessionView(view.context, saved)


# Skip this week (issue 15) ------------------------------------------------------------------
class SkipWeek(CancelSession):
    """ "Skip this week" on the home page: the client's next recurring session, as drawn."""

    session_id: str = ""


NOT_YOURS = "That session is not one of your booked recurring sessions. Nothing was changed."
SKIP_SAVES = 3  # a profile save racing the skip moves the version: read and merge again


def _is_recurring(session: Session) -> bool:
    return session.kind == "recurring" and bool(session.template_slot_id)


def next_recurring(sessions: list[Session]) -> Session | None:
    """The soonest live recurring session, from the client's upcoming ones."""
    return next((s for s in sessions if s.is_live and _is_recurring(s)), None)


def skip_week(deps: Deps, token: str, command: SkipWeek) -> Session:
    """Skip the client's next recurring session: the portal's cancel (deadline, version,
    notices) and the skip on the client's profile, so the trainer sees it listed, in one
    transaction. The session is looked up among this client's own upcoming sessions
    only, so another client's id, or a session no longer booked, is refused before
    anything is written."""
    repo, now = deps.repo, deps.now
    context = open_client(repo, deps.links, token)
    tid, cid = context.trainer.id, context.client.id
    session = next(
        (s for s in repo.client_upcoming(tid, cid, now, limit=None) if s.id == command.session_id),
        None,
    )
    if session is None or not session.is_live or not _is_recurring(session):
        raise InvalidInput({"_form": NOT_YOURS})
    today = local_today(now, context.trainer.settings.time_zone)
    for attempt in range(SKIP_SAVES):
        try:
            return _cancel_by_client(
                deps,
                context,
                session,
                command.version,
                "Skipped by the client (portal); slot reopened",
                also=_skip_parts(repo, tid, cid, session, today),
            )
        except VersionConflict:
            # The session as the page drew it, or the profile beside it, changed: a
            # profile save (the trainer's) is merged with on a new read; anything else is
            # the client's page gone stale.
            at = SessionRef(session.week, session.start_utc, session.id)
            if attempt == SKIP_SAVES - 1 or repo.get_session(tid, at).version != session.version:
                raise
    raise AssertionError("unreachable")  # the loop returns or raises


def _skip_parts(
    repo: Repository, tid: str, cid: str, session: Session, today: date
) -> list[dict[str, Any]]:
    """The client saved with the skipped date (at the version read now), for the cancel's
    own transaction; none when the date is already listed."""
    client = repo.get_client(tid, cid)
    assert session.template_slot_id is not None
    day = session.day
    skips = add_date(
        client.skips, session.template_slot_id, day.weekday(), "this session", day, today
    )
    if skips == client.skips:
        return []
    return client_at_version(tid, client, skips=skips)[1]


def change(deps: Deps, token: str, command: ChangeSession) -> SessionView:
    """Move the session to another open slot: one transaction, or nothing changes."""
    repo, now = deps.repo, deps.now
    view = open_session_link(repo, deps.links, token)
    context, session = view.context, view.session
    expect_version(session.version, _submitted(command.version))
    target, near = _chosen_slot(repo, context, command, now)
    trainer = context.trainer
    neighbours = travel.check_client_booking(trainer, target, near, moving=session)
    moved, replacement = client_move(
        session,
        target,
        context.client,
        context.rules,
        trainer.locations,
        trainer.display_name,
        new_id(),
        now,
    )
    try:
        repo.move_session(
            trainer.id,
            session,
            moved,
            replacement,
            target,
            "client",
            now,
            link_for(context.links, trainer.id, context.client, replacement),
            notices=_notices(deps, context, "moved", replacement, before=session),
            neighbours=neighbours,
        )
    except NeighbourTaken as exc:
        raise InvalidInput({"_form": TOO_CLOSE_NOW}) from exc
    except Conflict as exc:
        raise InvalidInput({"_form": TAKEN}) from exc
    return SessionView(context, replacement)


# Last-minute opt-ins ----------------------------------------------------------------------
def set_optin(deps: Deps, token: str, command: SetOptin) -> None:
    context = open_client(deps.repo, deps.links, token)
    choices = optin_choices(context.template, context.client, context.trainer.locations)
    if command.template_slot_id not in {c.id for c in choices}:
        raise InvalidInput({"optins": "That time is not one you can opt in to."})
    deps.repo.set_optin(context.trainer.id, context.client.id, command.template_slot_id, command.on)


def save_optins(deps: Deps, token: str, command: SaveOptins) -> None:
    """The no-JavaScript form: the whole set of ticks at once."""
    repo = deps.repo
    context = open_client(repo, deps.links, token)
    tid, cid = context.trainer.id, context.client.id
    choices = {
        c.id for c in optin_choices(context.template, context.client, context.trainer.locations)
    }
    wanted = set(command.template_slot_ids) & choices
    current = repo.client_optins(tid, cid)
    for template_slot_id in choices:
        if (template_slot_id in wanted) != (template_slot_id in current):
            repo.set_optin(tid, cid, template_slot_id, template_slot_id in wanted)

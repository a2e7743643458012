"""The client portal: what personal links open, and what a client can do there.

Two kinds of link, both 256-bit tokens derived from the stage secret and stored only as a
hash: `/c/<token>` (the client's home) and `/s/<token>` (one session). Every request
starts with the same single GetItem on the token's hash, so forged, truncated and retired
links cost the same before their answer. A link dies when the client is archived or the
trainer rotates the portal link (session links carry the portal generation).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from chalicelib.domain.clients import Client
from chalicelib.domain.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    expect_version,
)
from chalicelib.domain.models import Trainer
from chalicelib.domain.portal import (
    TAKEN,
    PortalClient,
    allowed_weeks,
    bookable,
    booking_problem,
    client_cancellation,
    client_may_change,
    client_move,
    optin_choices,
)
from chalicelib.domain.programs import Bundle
from chalicelib.domain.schedule import (
    Session,
    SessionRef,
    Slot,
    book,
    parse_session_ref,
    parse_week,
)
from chalicelib.domain.template import TemplateSlot, WeeklyTemplate
from chalicelib.domain.timeutil import parse_utc_iso
from chalicelib.domain.tokens import new_id, token_hash
from chalicelib.repo.repository import SESSION_LINK_KIND, ClientUnavailable, Repository
from chalicelib.services import programs
from chalicelib.services.links import Links
from chalicelib.services.sessions import link_for

PORTAL_KIND = "portal"


class LinkInactive(DomainError):
    """A real link that was rotated, or whose client is archived: 410, never their data."""


@dataclass(frozen=True)
class ClientContext:
    """Who a link belongs to, loaded for one portal request."""

    trainer: Trainer
    client: PortalClient  # never the private notes: see domain.portal.PortalClient
    template: WeeklyTemplate
    links: Links  # makes this client's links again (the table holds only their hashes)

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


@dataclass(frozen=True)
class PortalHome:
    context: ClientContext
    upcoming: list[Session]
    choices: list[TemplateSlot]
    optins: set[str] = field(default_factory=set)
    bundles: list[Bundle] = field(default_factory=list)

    @property
    def trainer(self) -> Trainer:
        return self.context.trainer

    @property
    def client(self) -> PortalClient:
        return self.context.client


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
    client, trainer, template, _ = repo.portal_view(str(data["trainer_id"]), str(data["client_id"]))
    _live(client, data.get("generation", client.portal_generation))
    return ClientContext(trainer, PortalClient.of(client), template, links)


def open_portal(repo: Repository, links: Links, token: str, now: datetime) -> PortalHome:
    """The home page in five reads: token, client + profile + template, the client's
    upcoming sessions, their opt-ins, their bundles (programs)."""
    context = open_client(repo, links, token)
    tid, cid = context.trainer.id, context.client.id
    upcoming = [s for s in repo.client_upcoming(tid, cid, now) if s.is_live]
    choices = optin_choices(context.template, context.client, context.trainer.locations)
    bundles = [b for b in programs.store(repo).client_bundles(tid, cid) if b.status != "creating"]
    return PortalHome(context, upcoming, choices, repo.client_optins(tid, cid), bundles)


@dataclass(frozen=True)
class SessionView:
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
    client, trainer, template, session = repo.portal_view(tid, cid, at)
    _live(client, data.get("generation"))
    if session is None:
        raise NotFound("session")
    return SessionView(ClientContext(trainer, PortalClient.of(client), template, links), session)


# Booking ----------------------------------------------------------------------------
def open_slots(
    repo: Repository, context: ClientContext, now: datetime, *, excluding: str | None = None
) -> dict[date, list[Slot]]:
    """Open slots the client may take, grouped by their day: one Query per allowed week."""
    weeks = allowed_weeks(context.trainer.settings, now)
    found: list[Slot] = []
    for week in weeks:
        found += repo.get_week(context.trainer.id, week)
    slots = bookable(found, context.client, context.trainer.locations, weeks, now)
    grouped: dict[date, list[Slot]] = {}
    for slot in slots:
        if slot.id != excluding:
            grouped.setdefault(slot.day, []).append(slot)
    return grouped


def _chosen_slot(
    repo: Repository, context: ClientContext, form: Mapping[str, str], now: datetime
) -> Slot:
    """The slot a form names, only from the client's allowed weeks and this trainer."""
    try:
        week = parse_week(form.get("week", ""))
    except InvalidInput:
        raise InvalidInput(
            {"_form": "That time is not available. Pick one from the list."}
        ) from None
    if week not in allowed_weeks(context.trainer.settings, now):
        raise InvalidInput({"_form": "That week is outside the booking window."})
    slot_id = form.get("slot_id", "")
    for slot in repo.get_week(context.trainer.id, week):
        if slot.id == slot_id:
            return slot
    raise InvalidInput({"_form": "That time is not available any more. Pick one from the list."})


@dataclass(frozen=True)
class Booked:
    session_id: str
    again: bool = False  # the form was replayed: the client already has this slot


def book_slot(
    repo: Repository, links: Links, token: str, form: Mapping[str, str], now: datetime
) -> tuple[ClientContext, Booked]:
    context = open_client(repo, links, token)
    slot = _chosen_slot(repo, context, form, now)
    if slot.session_id is not None:
        mine = [
            s
            for s in repo.client_upcoming(context.trainer.id, context.client.id, now)
            if s.id == slot.session_id and s.is_live
        ]
        if mine:  # a replayed or double-submitted form: nothing booked twice
            return context, Booked(slot.session_id, again=True)
    problem = booking_problem(
        slot,
        context.client,
        context.trainer.locations,
        allowed_weeks(context.trainer.settings, now),
        now,
    )
    if problem:
        raise InvalidInput({"_form": problem})
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
        )
    except ClientUnavailable as exc:
        raise LinkInactive("archived") from exc
    except Conflict as exc:
        raise InvalidInput({"_form": TAKEN}) from exc
    return context, Booked(session.id)


# One session: cancel and change ---------------------------------------------------------
def can_change(view: SessionView, now: datetime) -> bool:
    return client_may_change(view.session, view.context.trainer.settings, now)


def cancel(
    repo: Repository, links: Links, token: str, version: str | None, now: datetime
) -> SessionView:
    view = open_session_link(repo, links, token)
    trainer = view.context.trainer
    expect_version(view.session.version, version)
    canceled = client_cancellation(view.session, trainer.settings, trainer.display_name, now)
    saved = repo.change_session(
        trainer.id,
        view.session,
        canceled,
        "client",
        "Canceled by the client (portal); slot reopened",
        now,
        free_slot=True,
    )
    return SessionView(view.context, saved)


def change(
    repo: Repository, links: Links, token: str, form: Mapping[str, str], now: datetime
) -> SessionView:
    """Move the session to another open slot: one transaction, or nothing changes."""
    view = open_session_link(repo, links, token)
    context, session = view.context, view.session
    expect_version(session.version, form.get("version"))
    target = _chosen_slot(repo, context, form, now)
    trainer = context.trainer
    moved, replacement = client_move(
        session,
        target,
        context.client,
        trainer.settings,
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
        )
    except Conflict as exc:
        raise InvalidInput({"_form": TAKEN}) from exc
    return SessionView(context, replacement)


def successor_token(view: SessionView) -> str | None:
    """The link to the session a moved one became."""
    ref = parse_session_ref(view.session.moved_to or "")
    return view.context.session_token(ref.id) if ref else None


# Last-minute opt-ins ----------------------------------------------------------------------
def set_optin(repo: Repository, links: Links, token: str, template_slot_id: str, on: bool) -> None:
    context = open_client(repo, links, token)
    choices = optin_choices(context.template, context.client, context.trainer.locations)
    if template_slot_id not in {c.id for c in choices}:
        raise InvalidInput({"optins": "That time is not one you can opt in to."})
    repo.set_optin(context.trainer.id, context.client.id, template_slot_id, on)


def save_optins(repo: Repository, links: Links, token: str, chosen: list[str]) -> None:
    """The no-JavaScript form: the whole set of ticks at once."""
    context = open_client(repo, links, token)
    tid, cid = context.trainer.id, context.client.id
    choices = {
        c.id for c in optin_choices(context.template, context.client, context.trainer.locations)
    }
    wanted = set(chosen) & choices
    current = repo.client_optins(tid, cid)
    for template_slot_id in choices:
        if (template_slot_id in wanted) != (template_slot_id in current):
            repo.set_optin(tid, cid, template_slot_id, template_slot_id in wanted)

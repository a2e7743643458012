"""Use cases for the Clients tab, and its pages: the list (and its search), the profile.

A view makes one call: `clients_page` or `profile_page` to show a page, `create_client`,
`change_client` or `link_copied` for a form (a command). The helpers below them
(`add_client`, `save_profile`, `archive`…) take the repository and what they need, for
the scripts and tests that make clients without a request.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from chalicelib.domain.clients import (
    AddClient,
    Client,
    SaveProfile,
    check_recurring,
    email_still_bouncing,
    format_price_input,
    format_rule_input,
    parse_contact,
    parse_profile,
    parse_rules,
    recurring_problem,
    search,
)
from chalicelib.domain.commands import Command, Versioned
from chalicelib.domain.errors import InvalidInput, VersionConflict, same_version
from chalicelib.domain.models import Location, Trainer
from chalicelib.domain.phone import format_phone
from chalicelib.domain.portal import BookingRules, default_rules, effective_rules
from chalicelib.domain.programs import Bundle
from chalicelib.domain.schedule import (
    ClientBalance,
    Owed,
    Session,
    SessionRef,
    owed_now,
    unpaid_amount,
)
from chalicelib.domain.skips import (
    ClientSkips,
    add_date,
    add_pause,
    date_key,
    dates_to_cancel,
    short_day,
    upcoming,
)
from chalicelib.domain.skips import remove as remove_skip
from chalicelib.domain.template import TemplateSlot
from chalicelib.domain.timeutil import local_today
from chalicelib.domain.tokens import new_id
from chalicelib.repo.programs import ProgramRepository
from chalicelib.repo.repository import Account, Repository
from chalicelib.services import messages
from chalicelib.services import sessions as session_rules
from chalicelib.services.deps import Deps
from chalicelib.services.links import Links
from chalicelib.services.sessions import portal_link_ref


# Commands --------------------------------------------------------------------------------
class ClientAction(Versioned):
    """Archive, Restore or Rotate link on the profile, over the client as the page showed."""

    messages: ClassVar[dict[str, str]] = {"action": "Unknown action."}

    client_id: str
    action: Literal["archive", "restore", "rotate"]


class SendPortalLink(Command):
    """Send portal link on WhatsApp; `send_id` was made when the page was shown."""

    client_id: str
    send_id: str = ""


class LinkCopied(Command):
    """The Copy button: the portal link generation the page showed."""

    client_id: str
    generation: int | None = None

    @field_validator("generation", mode="before")
    @classmethod
    def _unreadable_is_none(cls, value: Any) -> Any:
        # Anything but a generation number is a page we did not draw: refused as a link
        # replaced since, which is what the rule says of any generation but the current.
        text = str(value if value is not None else "").strip()
        return int(text) if text.isascii() and text.isdigit() else None


ProfileChange = SaveProfile | ClientAction | SendPortalLink


# The list ------------------------------------------------------------------------------------
def find_clients(repo: Repository, trainer_id: str, query: str) -> list[Client]:
    return search(repo.list_clients(trainer_id), query)


@dataclass(frozen=True)
class ClientsPage:
    clients: tuple[Client, ...]  # matching the search, active first, by name
    query: str


def clients_page(deps: Deps, trainer_id: str, query: str) -> ClientsPage:
    found = find_clients(deps.repo, trainer_id, query)
    return ClientsPage(tuple(found), query)


def add_client(
    repo: Repository, links: Links, trainer: Trainer, command: AddClient, now: datetime
) -> Client:
    settings = trainer.settings
    contact = parse_contact(command, settings.country, settings.currency)
    client = Client(id=new_id(), created_at=now, **contact.model_dump())
    repo.add_client(trainer.id, client, links.portal_hash(trainer.id, client))
    return client


def create_client(deps: Deps, trainer: Trainer, command: AddClient) -> Client:
    """Add a client from the Clients tab, with their portal link."""
    return add_client(deps.repo, deps.links, trainer, command, deps.now)


# Changing a client ---------------------------------------------------------------------------
def rotate_portal_link(
    repo: Repository,
    links: Links,
    trainer_id: str,
    client: Client,
    version: int | None,
    now: datetime,
    **changes: Any,
) -> Client:
    same_version(client.version, version)
    old = links.portal_hash(trainer_id, client)
    successor = client.model_copy(update={"portal_generation": client.portal_generation + 1})
    new = links.portal_hash(trainer_id, successor)
    return repo.rotate_portal(trainer_id, client, old, new, now, **changes)


def save_profile(
    repo: Repository, trainer: Trainer, account: Account, client: Client, command: SaveProfile
) -> Client:
    """Save the profile form over `client` as read for this request (version-checked).
    `account` is the set-up read: template, locations, who holds each recurring slot and
    their names from the client index."""
    setup = account.setup
    settings = trainer.settings
    errors: dict[str, str] = {}
    try:
        contact, location_ids, shared, private = parse_profile(
            command, settings.country, settings.currency, setup.locations
        )
    except InvalidInput as exc:
        errors.update(exc.errors)
        location_ids = command.location_ids
    try:
        rules = parse_rules(command)
    except InvalidInput as exc:
        errors.update(exc.errors)
    try:
        chosen = check_recurring(
            command.recurring,
            setup.template,
            location_ids,
            account.recurring_holders(),
            client.id,
            setup.location_names(),
            account.client_names(),
        )
    except InvalidInput as exc:
        errors.update(exc.errors)
    if errors:
        raise InvalidInput(errors)
    same_version(client.version, command.version)
    return repo.save_client(
        trainer.id,
        client,
        **contact.model_dump(),
        email_bouncing=email_still_bouncing(client, contact.email),
        location_ids=location_ids,
        recurring=chosen,
        shared_notes=shared,
        private_notes=private,
        reminders_off=command.reminders_off,
        **rules.model_dump(),
    )


def archive(repo: Repository, trainer_id: str, client: Client, version: int | None) -> Client:
    same_version(client.version, version)
    return repo.save_client(trainer_id, client, archived=True)


def restore(
    repo: Repository,
    links: Links,
    trainer_id: str,
    client: Client,
    version: int | None,
    now: datetime,
) -> Client:
    """Bring an archived client back with a new portal link.

    The old link was shared before the archive and may have reached people the client no
    longer wants it with; reviving it silently would reopen their sessions to them.
    """
    return rotate_portal_link(repo, links, trainer_id, client, version, now, archived=False)


def change_client(
    deps: Deps, trainer: Trainer, command: ProfileChange, base_url: Callable[[], str]
) -> bool:
    """One of the profile page's forms. False when it did nothing new: the portal link
    message of that very form was already queued (a double click).

    `base_url` is asked for only when a link is sent, so a stage that cannot make
    absolute links still saves profiles."""
    repo, tid = deps.repo, trainer.id
    client = repo.get_client(tid, command.client_id)  # 404 for another trainer's id, first
    if isinstance(command, SaveProfile):
        save_profile(repo, trainer, repo.get_account(tid), client, command)
    elif isinstance(command, SendPortalLink):
        link = portal_link_ref(base_url(), tid)(client)
        queued = messages.send_portal_link(repo, trainer, client, command.send_id, link, deps.now)
        return queued.new
    elif command.action == "archive":
        archive(repo, tid, client, command.version)
    elif command.action == "restore":
        restore(repo, deps.links, tid, client, command.version, deps.now)
    else:
        rotate_portal_link(repo, deps.links, tid, client, command.version, deps.now)
    return True


def mark_link_copied(
    repo: Repository, trainer_id: str, client: Client, generation: int | None
) -> None:
    """The trainer copied the portal link shown for `generation`: a page drawn before the
    link was rotated copies a dead link, which must not tick step 6."""
    if generation != client.portal_generation:
        raise InvalidInput({"_form": "This portal link was replaced: copy the new one."})
    repo.mark_portal_shared(trainer_id, client)


def link_copied(deps: Deps, trainer_id: str, command: LinkCopied) -> None:
    client = deps.repo.get_client(trainer_id, command.client_id)  # 404 for another trainer's
    mark_link_copied(deps.repo, trainer_id, client, command.generation)


# Skip a date, pause, resume (issue 15) -------------------------------------------------------
DATE_MESSAGE = "Enter a date, for example 2026-12-14."


class SkipDate(Versioned):
    """Skip a date: one date of one of the client's recurring slots."""

    messages: ClassVar[dict[str, str]] = {"day": DATE_MESSAGE}

    client_id: str
    template_slot_id: str = Field(default="", alias="skip_slot")
    day: date | None = Field(default=None, alias="skip_day")

    @field_validator("day", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if str(value or "").strip() == "" else value


class PauseRecurring(Versioned):
    """Pause all recurring from `first_day` to `last_day`, both included."""

    messages: ClassVar[dict[str, str]] = {"first_day": DATE_MESSAGE, "last_day": DATE_MESSAGE}

    client_id: str
    first_day: date | None = Field(default=None, alias="pause_from")
    last_day: date | None = Field(default=None, alias="pause_to")

    @field_validator("first_day", "last_day", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if str(value or "").strip() == "" else value


class ResumeSkip(Versioned):
    """Resume: drop one skipped date or one pause (`key` as the page listed it)."""

    messages: ClassVar[dict[str, str]] = {"kind": "Unknown thing to resume."}

    client_id: str
    kind: Literal["date", "pause"]
    key: str = ""


SkipChange = SkipDate | PauseRecurring | ResumeSkip


@dataclass(frozen=True)
class SkipsChanged:
    client: Client
    canceled: tuple[Session, ...]  # the client's recurring sessions the new skip covered
    unchanged: bool  # nothing to do: that date or pause was already there (or gone)


def _skips_after(account: Account, client: Client, command: SkipChange, today: date) -> ClientSkips:
    """The client's skips once `command` is applied, or InvalidInput naming its field."""
    if isinstance(command, ResumeSkip):
        return remove_skip(client.skips, command.kind, command.key, today)
    if isinstance(command, PauseRecurring):
        return add_pause(client.skips, command.first_day, command.last_day, today)
    slot = next((s for s in account.setup.template.slots if s.id == command.template_slot_id), None)
    if slot is None or slot.id not in client.recurring:
        raise InvalidInput(
            {"template_slot_id": f"That is not one of {client.first_name}'s recurring slots."}
        )
    return add_date(client.skips, slot.id, slot.weekday, slot.label, command.day, today)


def _covered(session: Session, covered: tuple[tuple[str | None, date, date], ...]) -> bool:
    return any(
        (template is None or template == session.template_slot_id) and first <= session.day <= last
        for template, first, last in covered
    )


def cancel_skipped(deps: Deps, trainer: Trainer, client: Client) -> tuple[Session, ...]:
    """Cancel the client's booked recurring sessions their skips and pauses cover, each by
    the trainer's cancel (its notice to the client in the same transaction, the record
    kept, the slot open again: amber when someone matches, as for any freed slot).

    Every covered session, not only those the latest skip covers: a long pause covers more
    sessions than one transaction may hold, so each cancel is its own, and a save cut
    short after its skip (or a cancel refused as stale) is finished by the next click,
    which finds what is still booked. A session read from the index before its latest
    change is read again and cancelled at its current version."""
    covered = dates_to_cancel(ClientSkips(), client.skips)
    if not covered:
        return ()
    repo, tid, now = deps.repo, trainer.id, deps.now
    canceled = []
    for booked in repo.client_upcoming(tid, client.id, now, limit=None):
        # Only what Apply template booked as theirs: a one-off they booked is not paused.
        if booked.kind == "recurring" and _covered(booked, covered):
            done = _cancel_covered(deps, trainer, client, booked)
            if done is not None:
                canceled.append(done)
    return tuple(canceled)


def _cancel_covered(
    deps: Deps, trainer: Trainer, client: Client, booked: Session
) -> Session | None:
    """The trainer's cancel of one covered session; None when it is no longer live (the
    index lags: a session moved or cancelled meanwhile is left as it now is)."""
    repo, tid, now = deps.repo, trainer.id, deps.now
    session = booked
    for _attempt in range(3):
        if not session.is_live or session.start_utc <= now:
            return None
        notice = session_rules.change_notice(
            session_rules.ChangeNotice(trainer, "", deps.base_url),
            client,
            "cancel_notice",
            session,
            now,
        )
        try:
            return session_rules.cancel(
                repo, tid, session, str(session.version), now, notice=notice
            )
        except VersionConflict:
            session = repo.get_session(tid, SessionRef(session.week, session.start_utc, session.id))
    # Three reads in a row found it changed again: let the trainer click once more (the
    # skip is saved; that click cancels what is still booked).
    raise VersionConflict()


def change_skips(deps: Deps, trainer: Trainer, command: SkipChange) -> SkipsChanged:
    """Skip a date, pause, or resume, from the profile. Written over the client as the
    page showed them (a stale page is refused by the write itself); the booked recurring
    sessions the client's skips cover are cancelled afterwards (`cancel_skipped`)."""
    repo, tid = deps.repo, trainer.id
    client = repo.get_client(tid, command.client_id)  # 404 for another trainer's id, first
    today = local_today(deps.now, trainer.settings.time_zone)
    after = _skips_after(repo.get_account(tid), client, command, today)
    if after == upcoming(client.skips, today):
        # A second click, or resuming what is gone: nothing to write, nothing to refuse.
        # What a first click cut short is still cancelled.
        return SkipsChanged(client, cancel_skipped(deps, trainer, client), unchanged=True)
    same_version(client.version, command.version)
    saved = repo.save_client(tid, client, skips=after)
    return SkipsChanged(saved, cancel_skipped(deps, trainer, saved), False)


# The profile page ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ClientSessions:
    upcoming: list[Session]  # live ones, soonest first
    history: list[Session]  # the latest past ones, and canceled or moved future ones
    owed: Owed


HISTORY_SHOWN = 20


def client_sessions(
    repo: Repository,
    trainer_id: str,
    client_id: str,
    now: datetime,
    balance: ClientBalance | None = None,
) -> ClientSessions:
    """The profile's sessions and what the client owes, from the kept balance (read here
    unless the caller read it with the client), the upcoming sessions and a page of the
    past: never the whole history (once only, for a client whose balance was never kept,
    it is counted from all of it)."""
    if balance is None:
        balance = repo.client_balance(trainer_id, client_id)
    if balance.counted:
        upcoming, past = repo.client_sessions(trainer_id, client_id, now, HISTORY_SHOWN)
    else:
        upcoming, past = repo.client_sessions(trainer_id, client_id, now)
        counted = ClientBalance(
            unpaid_minor=sum(unpaid_amount(s) for s in upcoming + past),
            unpaid_count=sum(1 for s in upcoming + past if unpaid_amount(s)),
            counted=True,
        )
        # Stored only if no session write came in between; either way this page shows
        # what was counted from what it read.
        repo.count_balance(trainer_id, client_id, balance, counted)
        balance, past = counted, past[:HISTORY_SHOWN]
    owed = owed_now(balance, upcoming, past, now)
    # Upcoming lists what will happen; a canceled or moved future session is history.
    retired = sorted(
        (s for s in upcoming if not s.is_live), key=lambda s: s.start_utc, reverse=True
    )
    live = [s for s in upcoming if s.is_live]
    return ClientSessions(live, (retired + past)[:HISTORY_SHOWN], owed)


@dataclass(frozen=True)
class RecurringChoice:
    slot: TemplateSlot
    place: str
    checked: bool
    held_by: str | None  # another client's name: amber, read-only
    problem: str | None  # why a slot this client holds no longer fits: red


def _recurring_choices(
    account: Account, client: Client, enabled: set[str], chosen: set[str]
) -> tuple[tuple[RecurringChoice, ...], tuple[str, ...]]:
    """Template slots as choices, and red notices for held slots that no longer fit."""
    setup = account.setup
    holders, names = account.recurring_holders(), account.client_names()
    places = setup.location_names()
    choices = []
    for slot in setup.template.slots:
        holder = holders.get(slot.id)
        problem = None
        if slot.id in chosen:
            problem = recurring_problem(
                slot.id, setup.template, enabled, holders, client.id, places, names
            )
        choices.append(
            RecurringChoice(
                slot=slot,
                place=places.get(slot.location_id, "Deleted location"),
                checked=slot.id in chosen,
                held_by=names.get(holder) if holder and holder != client.id else None,
                problem=problem,
            )
        )
    template_ids = {s.id for s in setup.template.slots}
    gone = tuple(
        "A recurring slot was removed from the weekly template: save to drop it."
        for t in chosen
        if t not in template_ids
    )
    return tuple(choices), gone


@dataclass(frozen=True)
class SkipChoice:
    """One of the client's recurring slots, for "Skip a date": its picker offers only its
    weekday (`first_day` and a step of a week)."""

    template_slot_id: str
    label: str
    first_day: date  # the next date on its weekday, today included


@dataclass(frozen=True)
class ListedSkip:
    label: str  # "Mon 14 Dec, Mon 09:00–10:00"
    kind: Literal["date", "pause"]
    key: str  # what its Resume button sends


@dataclass(frozen=True)
class AwayCard:
    """The profile's "Skip a date / pause" card."""

    choices: tuple[SkipChoice, ...]
    listed: tuple[ListedSkip, ...]
    today: date


def away_card(account: Account, client: Client, today: date) -> AwayCard:
    slots = {s.id: s for s in account.setup.template.slots}
    held = [slots[t] for t in client.recurring if t in slots]
    kept = upcoming(client.skips, today)
    listed = [
        ListedSkip(
            f"Skip {short_day(s.day)} {s.day.year}"
            + (f": {slots[s.template_slot_id].label}" if s.template_slot_id in slots else ""),
            "date",
            date_key(s),
        )
        for s in kept.dates
    ] + [
        ListedSkip(
            f"Pause from {short_day(p.first_day)} to {short_day(p.last_day)} {p.last_day.year}",
            "pause",
            p.key,
        )
        for p in kept.pauses
    ]
    return AwayCard(
        choices=tuple(
            SkipChoice(s.id, s.label, today + timedelta(days=(s.weekday - today.weekday()) % 7))
            for s in sorted(held, key=lambda s: (s.weekday, s.start))
        ),
        listed=tuple(listed),
        today=today,
    )


@dataclass(frozen=True)
class ProfilePage:
    """A client's page: the profile form, balance, sessions, bundles and portal link."""

    client: Client
    prefill: dict[str, str]  # the form's inputs from the client as saved
    enabled: frozenset[str]  # the location boxes ticked
    locations: tuple[Location, ...]  # active ones, and archived ones the client still has
    recurring: tuple[RecurringChoice, ...]
    recurring_gone: tuple[str, ...]
    upcoming: tuple[Session, ...]
    history: tuple[Session, ...]
    owed: Owed
    bundles: tuple[Bundle, ...]
    places: dict[str, str]  # location names by id, deleted ones left out
    portal_url: str  # the client's live link: the page shows it to copy
    link_shared: bool
    share_text: str  # the portal link message, for the wa.me fallback
    send_id: str  # the message id a Send on WhatsApp from this page will have
    rules: BookingRules  # what the client's portal applies, as saved
    default_rules: BookingRules  # the trainer's, for clients without their own
    away: AwayCard  # skipped dates and pauses of the recurring slots


def profile_page(
    deps: Deps,
    trainer: Trainer,
    client_id: str,
    base_url: str,
    ticked_locations: Sequence[str] | None = None,
    ticked_recurring: Sequence[str] | None = None,
) -> ProfilePage:
    """The profile as saved, or with the boxes a refused form had ticked. Six reads with
    the session's: the client with their balance, the set-up read, the client's upcoming
    sessions and a page of the past, their bundles."""
    repo, tid = deps.repo, trainer.id
    client, balance = repo.client_with_balance(tid, client_id)  # 404 for another trainer's
    account = repo.get_account(tid)
    settings = trainer.settings
    enabled = set(client.location_ids if ticked_locations is None else ticked_locations)
    chosen = set(client.recurring if ticked_recurring is None else ticked_recurring)
    choices, gone = _recurring_choices(account, client, enabled, chosen)
    shown = client_sessions(repo, tid, client.id, deps.now, balance)
    portal_url = f"{base_url}/c/{deps.links.portal(tid, client)}"
    return ProfilePage(
        client=client,
        prefill={
            "name": client.name,
            "phone": format_phone(client.phone),
            "email": client.email,
            "price": format_price_input(client.price_minor, settings.currency, settings.locale),
            "shared_notes": client.shared_notes,
            "private_notes": client.private_notes,
            "reminders_off": "yes" if client.reminders_off else "",
            "booking_window_weeks": format_rule_input(client.booking_window_weeks),
            "cancel_deadline_hours": format_rule_input(client.cancel_deadline_hours),
            "version": str(client.version),
        },
        enabled=frozenset(enabled),
        locations=tuple(
            loc
            for loc in account.setup.locations
            if not loc.archived or loc.id in client.location_ids
        ),
        recurring=choices,
        recurring_gone=gone,
        upcoming=tuple(shown.upcoming),
        history=tuple(shown.history),
        owed=shown.owed,
        # Not `programs.client_bundles`: services.programs imports this module.
        bundles=tuple(ProgramRepository(repo.db).client_bundles(tid, client.id)),
        places={lid: loc.name for lid, loc in trainer.locations.items()},
        portal_url=portal_url,
        link_shared=account.link_shared(client),
        share_text=messages.portal_link_text(trainer, client, portal_url),
        send_id=new_id(),
        rules=effective_rules(settings, client),
        default_rules=default_rules(settings),
        away=away_card(account, client, local_today(deps.now, settings.time_zone)),
    )

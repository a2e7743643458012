"""Use cases on one session: payment, cancel, void (each logged in the same write), and
the trainer's Sessions tab and session page as view models."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from pydantic import field_validator

from chalicelib.domain import policy
from chalicelib.domain.clients import Client
from chalicelib.domain.commands import Versioned
from chalicelib.domain.errors import expect_version
from chalicelib.domain.messages import (
    EMAIL,
    LINK_PLACEHOLDER,
    TRAINER_NOTIFICATION,
    WHATSAPP,
    LinkRef,
    Message,
)
from chalicelib.domain.models import Trainer
from chalicelib.domain.portal import PortalClient
from chalicelib.domain.schedule import (
    PAYMENT_TYPES,
    LogEntry,
    Session,
    Slot,
    cancellation,
    change_start,
    change_stop,
    payment_change,
    session_ref_or_404,
    trainer_move,
    voiding,
)
from chalicelib.domain.settings import format_money
from chalicelib.domain.tokens import new_id
from chalicelib.messaging.email import client_sender
from chalicelib.messaging.templates import clean, variables_for
from chalicelib.messaging.texts import render_text
from chalicelib.repo.activity import ActivityEntry
from chalicelib.repo.parts import Notices
from chalicelib.repo.repository import ClientLink, Repository
from chalicelib.services.deps import Deps
from chalicelib.services.links import Links


class SetPayment(Versioned):
    """Paid or unpaid, and how, for a session drawn at `version`."""

    paid: bool = False  # the radio sends "yes" or "no"; neither ticked is unpaid
    payment_type: str = ""  # checked against PAYMENT_TYPES by the rule, with its message

    @field_validator("version", mode="before")
    @classmethod
    def _garbled_is_stale(cls, value: Any) -> Any:
        # The page only ever sends the number it was drawn with: anything else is refused
        # as a stale page ("changed elsewhere"), not as a typo in a field nobody sees.
        if isinstance(value, str) and not (value.strip().isascii() and value.strip().isdigit()):
            return None
        return value


def submitted_version(version: int | None) -> str | None:
    """A command's version as `expect_version` compares it (None: no version sent)."""
    return None if version is None else str(version)


def open_session(
    repo: Repository, trainer_id: str, ref_text: str
) -> tuple[Session, list[LogEntry | Message]]:
    """The session and its change log with its messages, for the page."""
    return repo.get_session_with_log(trainer_id, session_ref_or_404(ref_text))


def find_session(repo: Repository, trainer_id: str, ref_text: str) -> Session:
    """Just the session (one GetItem), for a change that may not need the log."""
    return repo.get_session(trainer_id, session_ref_or_404(ref_text))


def set_payment(
    repo: Repository,
    trainer_id: str,
    session: Session,
    payment: SetPayment,
    now: datetime,
) -> Session:
    expect_version(session.version, submitted_version(payment.version))
    updated, text = payment_change(session, payment.paid, payment.payment_type, now)
    return repo.change_session(trainer_id, session, updated, "trainer", text, now)


def cancel(
    repo: Repository,
    trainer_id: str,
    session: Session,
    version: str | None,
    now: datetime,
    *,
    notice: Message | None = None,
    late: Trainer | None = None,
    client: Client | None = None,
) -> Session:
    """Cancel and free the slot; `notice` (the client's message) is queued in the same
    transaction, so a client is told exactly when the cancel happened, and once. `late`:
    marked a late cancel under this trainer's policy, only inside the client's deadline
    (their own, or the trainer's default), its fee entering the client's balance in the
    same write. `client`: the session's client when the caller has read it already."""
    expect_version(session.version, version)
    canceled = cancellation(session, now)
    text = "Canceled by the trainer; slot reopened"
    if late is not None:
        rules = late.settings
        if client is None:
            client = repo.get_client(trainer_id, session.client_id)
        canceled = policy.mark_late_cancel(
            canceled,
            rules.late_cancel_percent,
            policy.cancel_deadline_hours(rules, client),
            now,
        )
        text = f"Late cancel ({policy.charge_words(canceled, _money(late))}); slot reopened"
    return repo.change_session(
        trainer_id,
        session,
        canceled,
        "trainer",
        text + (_told(notice) if notice else ""),
        now,
        free_slot=True,
        message=notice,
    )


def _money(trainer: Trainer) -> Callable[[int], str]:
    settings = trainer.settings
    return lambda minor: format_money(minor, settings.currency, settings.locale)


def mark_no_show(
    repo: Repository, trainer: Trainer, session: Session, version: str | None, now: datetime
) -> Session:
    """A past session the client did not come to: its fee (the trainer's no-show policy)
    enters the client's balance in the same write; the slot stays as it was."""
    expect_version(session.version, version)
    marked = policy.mark_no_show(session, trainer.settings.no_show_percent, now)
    text = f"Marked no-show ({policy.charge_words(marked, _money(trainer))})"
    return repo.change_session(trainer.id, session, marked, "trainer", text, now)


def _told(notice: Message) -> str:
    return "; the client was told " + ("by email" if notice.channel == EMAIL else "on WhatsApp")


def void(
    repo: Repository, trainer_id: str, session: Session, version: str | None, now: datetime
) -> Session:
    expect_version(session.version, version)
    voided = voiding(session, now)
    return repo.change_session(
        trainer_id, session, voided, "trainer", "Voided: the session did not happen", now
    )


def start_changing(
    repo: Repository, trainer_id: str, session: Session, version: str | None, now: datetime
) -> Session:
    """Mark the session Changing while the trainer picks a slot on the schedule."""
    expect_version(session.version, version)
    changing = change_start(session, now)
    if session.changing:
        return session  # already picking (a second tab, a double click): nothing to log
    return repo.change_session(
        trainer_id, session, changing, "trainer", "Change started: picking another slot", now
    )


def stop_changing(
    repo: Repository, trainer_id: str, session: Session, version: str | None, now: datetime
) -> Session:
    expect_version(session.version, version)
    return repo.change_session(
        trainer_id, session, change_stop(session), "trainer", "Change abandoned: slot kept", now
    )


def move_to(
    repo: Repository,
    links: Links,
    trainer_id: str,
    session: Session,
    target: Slot,
    version: str | None,
    now: datetime,
    actor: str = "trainer",
    *,
    tell: ChangeNotice | None = None,
    neighbours: Sequence[Slot] = (),
) -> Session:
    """Move the session to an open slot in one transaction; returns the new session. With
    `tell`, the client's move notice is queued in that same transaction; `neighbours`
    (travel time) stay open as read."""
    expect_version(session.version, version)
    moved, replacement = trainer_move(session, target, new_id(), now)
    client = repo.get_client(trainer_id, session.client_id)  # for the new session's link
    notice = (
        change_notice(tell, client, "move_notice", replacement, now, before=session)
        if tell is not None
        else None
    )
    repo.move_session(
        trainer_id,
        session,
        moved,
        replacement,
        target,
        actor,
        now,
        link_for(links, trainer_id, client, replacement),
        notices=Notices((notice,) if notice else ()),
        neighbours=neighbours,
    )
    return replacement


def link_for(
    links: Links, trainer_id: str, client: Client | PortalClient, session: Session
) -> ClientLink:
    """The client's /s/ link to a new session (stored as a hash, made with the session)."""
    generation = client.portal_generation
    return ClientLink(links.session_hash(trainer_id, client.id, generation, session.id), generation)


def encode_cursor(key: dict[str, str] | None) -> str | None:
    if not key:
        return None
    return base64.urlsafe_b64encode(json.dumps(key, sort_keys=True).encode()).decode()


def decode_cursor(text: str) -> dict[str, str] | None:
    """A page cursor from the URL, or None if it is missing or not one of ours."""
    if not text:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(text.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(key, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in key.items()
    ):
        return None
    return key


# Links in messages -------------------------------------------------------------------------
def portal_link_ref(base_url: str, trainer_id: str) -> Callable[[Client], LinkRef]:
    """Which portal link (/c/) a message carries: made again when it is sent or shown."""
    return lambda client: LinkRef(
        kind="portal",
        base=base_url,
        trainer_id=trainer_id,
        client_id=client.id,
        generation=client.portal_generation,
    )


def session_link_ref(base_url: str, trainer_id: str) -> Callable[[Client, Session], LinkRef]:
    """Which session link (/s/) a message carries: made again when it is sent or shown."""

    def link(client: Client, booking: Session) -> LinkRef:
        return LinkRef(
            kind="session",
            base=base_url,
            trainer_id=trainer_id,
            client_id=client.id,
            generation=client.portal_generation,
            target_id=booking.id,
        )

    return link


# Pages --------------------------------------------------------------------------------------
Which = Literal["upcoming", "past"]


@dataclass(frozen=True)
class SessionList:
    """One page of the Sessions tab (canceled sessions are not in the index it reads)."""

    which: Which
    sessions: tuple[Session, ...]
    next_cursor: str | None  # the next page, or None on the last
    first_page: bool
    places: Mapping[str, str]


def sessions_page(deps: Deps, trainer: Trainer, which: Which, after: str) -> SessionList:
    """The Sessions tab: one Query of the trainer's timeline, 20 a page."""
    found, last = deps.repo.trainer_sessions(
        trainer.id, deps.now, upcoming=which != "past", after=decode_cursor(after)
    )
    return SessionList(
        which=which,
        sessions=tuple(found),
        next_cursor=encode_cursor(last),
        first_page=not after,
        places={lid: loc.name for lid, loc in trainer.locations.items()},
    )


@dataclass(frozen=True)
class SessionDetail:
    """The trainer's page of one session, with its change log and messages."""

    session: Session
    log: tuple[LogEntry | Message, ...]
    past: bool
    location_name: str | None  # None: the location was deleted
    price: str | None  # formatted in the trainer's currency; None: no price recorded
    payment_ready: bool  # the bank details an invoice needs are complete
    payment_types: Mapping[str, str]
    send_id: str  # a fresh id for the send form: a double click queues one message
    confirming: str  # the destructive action asked for (?confirm=), while it can be done
    time_zone: str
    now: datetime  # the request's instant, for each message's delivery_label
    charge: str | None = None  # a no-show's or late cancel's fee, formatted
    no_show_fee: str = ""  # what marking a no-show would charge, in words
    late_fee: str = ""  # what a late cancel would charge, in words
    late_possible: bool = False  # inside the cancel deadline: "Late cancel" is offered
    # The numbered invoice's PDF (docs/invoices.md): "invoice", "receipt" once paid, or ""
    # when no invoice was sent. From the session alone: the page reads nothing more.
    invoice_download: str = ""


def _fee_words(trainer: Trainer, session: Session, percent: int, what: str) -> str:
    charged = policy.fee(session.price_minor, percent)
    if charged is None:
        return f"nothing (no {what} fee in Settings)" if not percent else "nothing (no price)"
    share = "the full price" if percent == 100 else "half the price"
    return f"{_money(trainer)(charged)} ({share}, your {what} policy)"


def session_page(deps: Deps, trainer: Trainer, ref: str, confirming: str = "") -> SessionDetail:
    """A session's page: one read of the session with its log (the week partition), and
    the client (one GetItem) only where "Late cancel" could be offered by their own
    deadline: the cancel confirmation of a booked session starting within the longest
    deadline any client may have."""
    booking, log = open_session(deps.repo, trainer.id, ref)
    settings = trainer.settings
    late_possible = False
    if confirming == "cancel" and policy.late_cancel_possible(
        booking, policy.LATE_CANCEL_HORIZON_HOURS, deps.now
    ):
        client = deps.repo.get_client(trainer.id, booking.client_id)
        deadline = policy.cancel_deadline_hours(settings, client)
        late_possible = policy.late_cancel_possible(booking, deadline, deps.now)
    location = trainer.locations.get(booking.location_id)
    return SessionDetail(
        session=booking,
        log=tuple(log),
        past=booking.is_past(deps.now),
        location_name=location.name if location else None,
        price=None
        if booking.price_minor is None
        else format_money(booking.price_minor, settings.currency, settings.locale),
        payment_ready=settings.payment.complete,
        payment_types=PAYMENT_TYPES,
        send_id=new_id(),
        confirming=confirming if booking.is_live else "",
        time_zone=settings.time_zone,
        now=deps.now,
        charge=_money(trainer)(booking.charge_minor) if booking.charge_minor else None,
        no_show_fee=_fee_words(trainer, booking, settings.no_show_percent, "no-show"),
        late_fee=_fee_words(trainer, booking, settings.late_cancel_percent, "late-cancel"),
        late_possible=late_possible,
        invoice_download=""
        if booking.invoice_sent_at is None
        else ("receipt" if booking.paid else "invoice"),
    )


# What a client's action tells -------------------------------------------------------------
ClientAction = Literal["booked", "moved", "canceled", "accepted"]

# The client's word per action: its message kind and text. A move is a confirmation of
# the new time, so it goes out on the confirmation template.
_CLIENT_TEXTS: Final[dict[str, tuple[str, str]]] = {
    "booked": ("confirmation", "booked.txt"),
    "accepted": ("confirmation", "booked.txt"),
    "moved": ("confirmation", "moved.txt"),
    "canceled": ("canceled", "canceled.txt"),
}


@dataclass(frozen=True)
class Reach:
    """Where a message to someone goes."""

    channel: str  # whatsapp or email
    to: str


def client_reach(client: Client) -> Reach | None:
    """WhatsApp, or email for a client with only an email; None when they opted out of
    messages or left no way to reach them."""
    if client.messages_opt_out:  # STOP, or the portal's opt-out
        return None
    if client.phone:
        return Reach(WHATSAPP, client.phone)
    if client.email and not client.email_bouncing:  # not mailed again until edited
        return Reach(EMAIL, client.email)
    return None


def trainer_reach(trainer: Trainer) -> Reach | None:
    """The trainer's choice for being told of client actions (Settings)."""
    settings = trainer.settings
    if settings.client_activity_notify == "whatsapp" and settings.whatsapp_number:
        return Reach(WHATSAPP, settings.whatsapp_number)
    if settings.client_activity_notify == "email" and trainer.email:
        return Reach(EMAIL, trainer.email)
    return None


def _place_name(trainer: Trainer, session: Session) -> str:
    location = trainer.locations.get(session.location_id)
    return location.name if location else "the usual place"


def _when(session: Session) -> str:
    return f"{session.label} {session.day.year}"


def _what_happened(action: ClientAction, session: Session, before: Session | None) -> str:
    if action == "moved" and before is not None:
        return f"moved their session from {before.label} to {session.label}"
    if action == "canceled":
        return f"canceled {session.label}"
    if action == "accepted":
        return f"took the last-minute offer {session.label}"
    return f"booked {session.label}"


def client_action_notices(
    trainer: Trainer,
    client: Client | PortalClient,
    reach: Reach | None,
    action: ClientAction,
    session: Session,
    base_url: str,
    now: datetime,
    *,
    before: Session | None = None,
) -> Notices:
    """The client's confirmation (unless `reach` is None), the trainer's notification (by
    their setting) and the feed line for one action on `session` (the session the action
    leaves: the new one of a booking or a move, the canceled one of a cancel).

    Every id is made from the session and the action, so writing one action twice is
    refused by the outbox's `attribute_not_exists` instead of telling anyone twice."""
    subject = f"{session.id}-{action}"
    happened = _what_happened(action, session, before)
    messages: list[Message] = []

    def message(suffix: str, kind: str, to: Reach, text: str, **extra: Any) -> Message:
        return Message(
            id=f"{subject}-{suffix}",
            week=session.week,
            subject_id=session.id,
            subject_ref=session.ref,
            client_id=client.id,
            client_name=client.name,
            kind=kind,
            channel=to.channel,
            to=to.to,
            text=text,
            created_at=now,
            next_attempt_at=now,
            **extra,
        )

    if reach is not None:
        kind, template = _CLIENT_TEXTS[action]
        values = {
            "first_name": client.first_name,
            "trainer": trainer.display_name,
            "when": _when(session),
            "place": _place_name(trainer, session),
        }
        canceled = action == "canceled"
        link = LinkRef(
            kind="portal" if canceled else "session",
            base=base_url,
            trainer_id=trainer.id,
            client_id=client.id,
            generation=client.portal_generation,
            target_id="" if canceled else session.id,
        )
        text = render_text(
            template,
            first_name=values["first_name"],
            trainer_name=values["trainer"],
            when=values["when"],
            old_when=_when(before) if before is not None else "",
            place=values["place"],
            session_url=LINK_PLACEHOLDER,
            portal_url=LINK_PLACEHOLDER,
        )
        variables = variables_for(kind, **values)
        messages.append(
            message(
                "client",
                kind,
                reach,
                text,
                link=link,
                variables=variables,
                subject=f"Your session with {trainer.display_name}"
                if reach.channel == EMAIL
                else "",
                **client_sender(trainer, reach.channel),
            )
        )
    told = trainer_reach(trainer)
    if told is not None:
        line = f"{clean(client.name, 80)} {happened}"
        dashboard_url = f"{base_url}/dashboard/sessions/{session.ref}"
        messages.append(
            message(
                "trainer",
                TRAINER_NOTIFICATION,
                told,
                render_text("client_activity.txt", line=line, session_url=dashboard_url),
                variables=variables_for(TRAINER_NOTIFICATION, what=line, url=dashboard_url),
                subject=line if told.channel == EMAIL else "",
            )
        )
    entry = ActivityEntry(
        id=subject,
        at=now,
        actor="client",
        client_name=client.name,
        text=happened,
        session_ref=session.ref,
    )
    return Notices(tuple(messages), entry)


# What a trainer's change tells the client ----------------------------------------------------
ChangeKind = Literal["cancel_notice", "move_notice"]
_CHANGE_TEXTS: Final[dict[str, str]] = {
    "cancel_notice": "trainer_canceled.txt",
    "move_notice": "trainer_moved.txt",
}


@dataclass(frozen=True)
class ChangeNotice:
    """The trainer chose to tell the client of a cancel or a move, with an optional note."""

    trainer: Trainer
    note: str  # free text as typed: made one safe line before it goes anywhere
    base_url: str  # where the client's link points


def change_notice(
    tell: ChangeNotice,
    client: Client,
    kind: ChangeKind,
    session: Session,
    now: datetime,
    *,
    before: Session | None = None,
) -> Message | None:
    """The client's cancel or move notice for `session` (the canceled one, or the new one
    of a move), or None when they opted out or cannot be reached.

    The note goes into the template's `note` variable cleaned (one line, no forged lines),
    and the text carries the same cleaned value."""
    reach = client_reach(client)
    if reach is None:
        return None
    trainer = tell.trainer
    values = {
        "first_name": client.first_name,
        "trainer": trainer.display_name,
        "when": _when(session),
        "place": _place_name(trainer, session),
        "note": tell.note,
    }
    if kind == "move_notice":
        values["old_when"] = _when(before or session)
    variables = variables_for(kind, **values)
    canceled = kind == "cancel_notice"
    text = render_text(
        _CHANGE_TEXTS[kind],
        first_name=variables["first_name"],
        trainer_name=variables["trainer"],
        when=variables["when"],
        old_when=variables.get("old_when", ""),
        place=variables["place"],
        note=variables["note"] if tell.note.strip() else "",
        session_url=LINK_PLACEHOLDER,
        portal_url=LINK_PLACEHOLDER,
    )
    return Message(
        # One notice per session and kind: a replayed form (refused as stale anyway)
        # could never queue a second.
        id=f"{session.id}-{kind}",
        week=session.week,
        subject_id=session.id,
        subject_ref=session.ref,
        client_id=client.id,
        client_name=client.name,
        kind=kind,
        channel=reach.channel,
        to=reach.to,
        subject=f"Your session with {trainer.display_name}" if reach.channel == EMAIL else "",
        **client_sender(trainer, reach.channel),
        text=text,
        link=LinkRef(
            kind="portal" if canceled else "session",
            base=tell.base_url,
            trainer_id=trainer.id,
            client_id=client.id,
            generation=client.portal_generation,
            target_id="" if canceled else session.id,
        ),
        variables=variables,
        created_at=now,
        next_attempt_at=now,
    )

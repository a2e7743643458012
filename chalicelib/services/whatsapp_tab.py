"""The WhatsApp tab as conversations: the list (one row per client or number, most recent
activity first), one client's conversation (inbound and outbound merged, newest last),
and the trainer's free-form reply while the client's 24-hour window is open.

The list is one Query of the per-trainer conversation index that every inbound and every
queued message moves in its own transaction (`repo.parts.conversation_update`), plus the
client index for current names: it does not grow with clients or messages. A
conversation reads the messages themselves, so it is right even for messages queued
before the index existed (those clients only appear in the list from their next message;
"All messages", `services.messages.whatsapp_page`, lists everything).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

from chalicelib.domain.clients import Client, format_phone
from chalicelib.domain.conversations import (
    WINDOW,
    ConversationSummary,
    InboundMessage,
    SendReply,
    preview,
    reply_problem,
    window_closed_words,
    window_closes_at,
    window_open,
)
from chalicelib.domain.errors import Conflict, InvalidInput, NotFound
from chalicelib.domain.messages import (
    LINK_PLACEHOLDER,
    TRAINER_NOTIFICATION,
    WHATSAPP,
    Message,
)
from chalicelib.domain.models import Trainer
from chalicelib.domain.timeutil import local_today, week_key, zone
from chalicelib.domain.tokens import new_id
from chalicelib.messaging.whatsapp import wa_me_link
from chalicelib.repo.conversations import WindowClosed
from chalicelib.repo.mapping import ClientSummary
from chalicelib.services.deps import Deps
from chalicelib.services.sessions import decode_cursor, encode_cursor

REPLY_KIND: Final = "reply"
_ABOUT: Final = {"offer": "Open the slot", "portal_link": "Open the profile"}
_SEND_ID = re.compile(r"^[A-Za-z0-9_-]{12}$")
CLIENT_ID: Final = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # ids are new_id()s
# A conversation's "Earlier messages" position: a timeline sort key, `<compact UTC>#<id>`.
_POSITION = re.compile(r"^\d{8}T\d{6}Z#[A-Za-z0-9_.:+/=-]{1,160}$")


def _when(instant: datetime, time_zone: str, now: datetime) -> str:
    """A message's time as the trainer reads it, in their zone: the day is left out for
    today, the year for this year."""
    local = instant.astimezone(zone(time_zone))
    today = now.astimezone(zone(time_zone))
    if local.date() == today.date():
        return local.strftime("%H:%M")
    if local.year == today.year:
        return local.strftime("%a %-d %b %H:%M")
    return local.strftime("%-d %b %Y %H:%M")


def window_words(last_inbound_at: datetime | None, time_zone: str, now: datetime) -> str:
    """The reply window in words: until when a free-form reply can go, or why not."""
    closes = window_closes_at(last_inbound_at)
    if closes is None:
        return "Templates only: the client has not written to you yet"
    if not window_open(last_inbound_at, now):
        return "Templates only: the client has not written in 24 h"
    return f"Reply possible until {closes.astimezone(zone(time_zone)).strftime('%a %H:%M')}"


# The list --------------------------------------------------------------------------------
RowKind = Literal["client", "shared", "unknown"]


@dataclass(frozen=True)
class ConversationRow:
    kind: RowKind
    client_id: str  # "" for a number
    title: str  # the client's name, or what the number is ("Shared number: …")
    path: str  # the conversation's page; "" for a number (nothing to open or answer)
    archived: bool
    number: str  # a shared or unknown number, as people read it
    preview: str
    from_client: bool  # the last message is theirs
    at: datetime
    when: str
    unread: int
    window: str  # the reply window in words (clients only)
    phone_link: str  # wa.me for a number: answer from the trainer's own phone


@dataclass(frozen=True)
class ConversationList:
    rows: tuple[ConversationRow, ...]
    next_cursor: str | None
    first_page: bool


def _names(names: list[str]) -> str:
    return ", ".join(names) if names else "clients who were archived since"


def _row(
    summary: ConversationSummary,
    clients: dict[str, ClientSummary],
    time_zone: str,
    now: datetime,
) -> ConversationRow:
    common = {
        "preview": preview(summary.last_text, LINK_PLACEHOLDER),
        "from_client": summary.last_direction == "in",
        "at": summary.last_at,
        "when": _when(summary.last_at, time_zone, now),
    }
    if summary.kind == "client":
        known = clients.get(summary.client_id)
        return ConversationRow(
            kind="client",
            client_id=summary.client_id,
            title=known.name if known else (summary.client_name or "A client"),
            path=f"/dashboard/whatsapp/{summary.client_id}",
            archived=known.archived if known else True,
            number="",
            unread=summary.unread,
            window=window_words(summary.last_inbound_at, time_zone, now),
            phone_link="",
            **common,
        )
    shared = sorted((clients[c].name for c in summary.client_ids if c in clients), key=str.casefold)
    return ConversationRow(
        kind=summary.kind,
        client_id="",
        title=f"Shared number: {_names(shared)}" if summary.kind == "shared" else "Unknown number",
        path="",
        archived=False,
        number=format_phone(summary.number),
        unread=0,
        window="",
        phone_link=wa_me_link(summary.number, ""),
        **common,
    )


def conversations_page(deps: Deps, trainer: Trainer, after: str) -> ConversationList:
    """Two reads: one page of the conversation index, and the client index for names as
    they are now (a rename shows at once; archived clients are marked)."""
    found, last = deps.repo.conversations.summaries(trainer.id, decode_cursor(after))
    clients = {c.id: c for c in deps.repo.client_summaries(trainer.id)} if found else {}
    rows = tuple(_row(s, clients, trainer.settings.time_zone, deps.now) for s in found)
    return ConversationList(rows, encode_cursor(last), first_page=not after)


# One conversation ------------------------------------------------------------------------
@dataclass(frozen=True)
class Bubble:
    from_client: bool
    at: datetime
    when: str
    text: str  # as the client reads it (links made again), escaped by the template
    kind_label: str  # outbound: "Invoice", "Your reply", …; inbound: "" or "Photo or file"
    status: str  # outbound: the delivery label at the request's instant
    status_class: str  # the badge's modifier: queued, sent, failed, …
    error: str  # a failure or a retry, in words
    retrying: bool
    channel: str  # whatsapp or email
    to: str  # an email's address (a WhatsApp message goes to the client's number)
    subject: str  # an email's subject line
    phone_link: str  # wa.me "Send from my phone" (WhatsApp outbound only)
    offer_phone: bool  # failed, or only logged: the trainer should send it by hand
    about_path: str  # the trainer's page for what it is about ("" for a reply)
    about_label: str  # "Open the session", "Open the slot", "Open the profile"
    reply_to: str  # "Reply to your Invoice" when the client answered a known message


@dataclass(frozen=True)
class ReplyForm:
    send_id: str
    text: str  # as typed, kept on a refusal
    errors: dict[str, str]


@dataclass(frozen=True)
class ConversationPage:
    client_id: str
    client_name: str
    phone: str  # as people read it
    bubbles: tuple[Bubble, ...]  # oldest first: the newest is at the end
    earlier: str | None  # the position to page back from
    first_page: bool
    unread: int  # before this page marked them read
    window_is_open: bool
    window: str
    can_reply: bool  # a WhatsApp number, and the window is open
    phone_link: str  # wa.me to the client with the typed text (the closed window's way)
    form: ReplyForm


def _outbound(deps: Deps, message: Message, time_zone: str) -> Bubble:
    text = deps.links.message_text(message)
    whatsapp = message.channel == WHATSAPP
    about = "" if message.kind == REPLY_KIND else message.subject_path
    return Bubble(
        from_client=False,
        at=message.created_at,
        when=_when(message.created_at, time_zone, deps.now),
        text=text,
        kind_label=message.kind_label,
        status=message.delivery_label(deps.now),
        status_class=message.status,
        error=message.error or "",
        retrying=message.retrying,
        channel=message.channel,
        to=message.to,
        subject=message.subject,
        phone_link=wa_me_link(message.to, text) if whatsapp else "",
        offer_phone=whatsapp and (message.status == "failed" or message.provider == "log"),
        about_path=about,
        about_label=_ABOUT.get(message.kind, "Open the session"),
        reply_to="",
    )


def _inbound(deps: Deps, message: InboundMessage, ours: dict[str, str], time_zone: str) -> Bubble:
    answered = ours.get(message.replied_to or "")
    return Bubble(
        from_client=True,
        at=message.received_at,
        when=_when(message.received_at, time_zone, deps.now),
        text=message.text,
        kind_label="" if message.kind == "text" or message.text else "Photo or file",
        status="",
        status_class="",
        error="",
        retrying=False,
        channel=WHATSAPP,
        to="",
        subject="",
        phone_link="",
        offer_phone=False,
        about_path="",
        about_label="",
        # Only when the message answered is on this page: naming it costs no read.
        reply_to=f"Reply to your {answered.lower()}" if answered else "",
    )


def _open_client(
    deps: Deps, trainer_id: str, client_id: str
) -> tuple[Client, int, datetime | None]:
    """The client and their conversation summary; NotFound for another trainer's or an
    unknown id. An archived client's conversation is not shown either (its page is a
    404), but a reply to one is told why it was refused."""
    if not CLIENT_ID.match(client_id):
        raise NotFound(client_id)  # not an id of ours: no key is made of it
    client, state = deps.repo.conversations.open(trainer_id, client_id)
    if client is None:
        raise NotFound(client_id)
    return client, state.unread, state.last_inbound_at


def conversation_page(
    deps: Deps,
    trainer: Trainer,
    client_id: str,
    before: str,
    form: ReplyForm | None = None,
) -> ConversationPage:
    """At most four calls: the client with their conversation summary (one BatchGetItem),
    a Query of each direction, and, when something was unread, the write that marks it
    read (only if the count is still the one shown: an inbound arriving meanwhile stays
    unread). Another trainer's client, an archived or unknown one: NotFound."""
    client, unread, last_inbound_at = _open_client(deps, trainer.id, client_id)
    if client.archived:
        raise NotFound(client_id)
    position = before if _POSITION.match(before or "") else None
    entries, earlier = deps.repo.conversations.thread(trainer.id, client.id, position)
    time_zone = trainer.settings.time_zone
    ours = {
        e.entry.provider_id: e.entry.kind_label
        for e in entries
        if isinstance(e.entry, Message) and e.entry.provider_id
    }
    bubbles: list[Bubble] = []
    for e in entries:
        if isinstance(e.entry, Message):
            if e.entry.kind != TRAINER_NOTIFICATION:  # to the trainer, not the client
                bubbles.append(_outbound(deps, e.entry, time_zone))
        else:
            bubbles.append(_inbound(deps, e.entry, ours, time_zone))
    if unread and form is None:
        # A refused reply draws the page again and writes nothing: the trainer's first
        # look at it (the GET) already marked what they saw.
        deps.repo.conversations.mark_read(trainer.id, client.id, unread)
    is_open = window_open(last_inbound_at, deps.now)
    if form is None or not _SEND_ID.match(form.send_id):
        # A fresh page, or a refused form whose id was garbled: a new id to send with.
        form = ReplyForm(new_id(), form.text if form else "", form.errors if form else {})
    return ConversationPage(
        client_id=client.id,
        client_name=client.name,
        phone=format_phone(client.phone) if client.phone else "",
        bubbles=tuple(bubbles),
        earlier=earlier,
        first_page=position is None,
        unread=unread,
        window_is_open=is_open,
        window=window_words(last_inbound_at, time_zone, deps.now),
        can_reply=is_open and bool(client.phone),
        phone_link=wa_me_link(client.phone, form.text) if client.phone else "",
        form=form,
    )


# The reply -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Replied:
    message_id: str
    new: bool  # False: this form was already sent (a double click); nothing was added


def send_reply(deps: Deps, trainer: Trainer, client_id: str, command: SendReply) -> Replied:
    """Queue the trainer's free-form answer through the outbox, once per `send_id`, only
    while the client's window is open: the write itself checks the window (the client's
    last message after now − 24 h) and that the client is still active."""
    if not _SEND_ID.match(command.send_id):
        raise InvalidInput({"_form": "This form has expired. Reload the page and try again."})
    if problem := reply_problem(command.text):
        raise InvalidInput(problem)
    client, _unread, last_inbound_at = _open_client(deps, trainer.id, client_id)
    if client.archived:
        raise Conflict(f"{client.name} is archived: restore them first. Nothing was sent.")
    if not client.phone:
        raise InvalidInput(
            {"_form": f"{client.name} has no phone number: add it on their profile."}
        )
    if not window_open(last_inbound_at, deps.now):
        raise InvalidInput({"text": window_closed_words(client.name)})
    message = Message(
        id=command.send_id,
        # About the client, not a session: this week's partition, under the client's id,
        # like the portal link message.
        week=week_key(local_today(deps.now, trainer.settings.time_zone)),
        subject_id=client.id,
        subject_ref="",
        client_id=client.id,
        client_name=client.name,
        kind=REPLY_KIND,
        channel=WHATSAPP,
        to=client.phone,
        text=command.text,
        created_at=deps.now,
        next_attempt_at=deps.now,
    )
    try:
        new = deps.repo.conversations.queue_reply(trainer.id, message, deps.now - WINDOW)
    except WindowClosed:
        raise InvalidInput({"text": window_closed_words(client.name)}) from None
    except Conflict:
        raise Conflict(f"{client.name} was archived meanwhile: nothing was sent.") from None
    return Replied(message.id, new)

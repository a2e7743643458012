"""Inbound WhatsApp messages: who they belong to, and the 24-hour window they open.

Pure rules; the repository finds the candidates (every client with the sender's number)
and writes what `match_inbound` decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

from chalicelib.domain.commands import Command

# WhatsApp lets a business answer free-form for 24 hours after the client last wrote.
WINDOW: Final = timedelta(hours=24)

MatchKind = Literal["client", "shared", "unknown"]


@dataclass(frozen=True)
class PhoneOwner:
    """A client (of any trainer) whose profile has the number an inbound came from."""

    trainer_id: str
    client_id: str
    archived: bool


@dataclass(frozen=True)
class Received:
    """An inbound message as the conversation keeps it (messaging.payloads.Inbound, which
    the repository may not import, read into the domain's words)."""

    provider: str
    provider_message_id: str
    from_e164: str
    to: str  # our sender
    text: str
    kind: str
    received_at: datetime
    replied_to: str = ""  # the provider's id of our message they answered, if any


@dataclass(frozen=True)
class InboundMatch:
    kind: MatchKind
    trainer_id: str | None  # None: kept at stage level (visible to no trainer)
    client_id: str | None = None  # kind == "client" only
    client_ids: tuple[str, ...] = ()  # kind == "shared": every client with that number


def match_inbound(owners: list[PhoneOwner], sender_trainer_id: str | None) -> InboundMatch:
    """Where an inbound goes. `sender_trainer_id` is the trainer whose own sender received
    it, or None for the stage's shared sender. Never guessed: one active client of one
    trainer is that client; several of one trainer are that trainer's "shared number";
    none (or, on the shared sender, clients of several trainers) is "unknown"."""
    active = [o for o in owners if not o.archived]
    if sender_trainer_id is not None:
        active = [o for o in active if o.trainer_id == sender_trainer_id]
    trainers = sorted({o.trainer_id for o in active})
    if len(trainers) != 1:
        # Nobody has it, or several trainers do on the shared sender: telling one
        # trainer's client what another's wrote is worse than keeping it for ops.
        return InboundMatch("unknown", sender_trainer_id)
    clients = sorted(o.client_id for o in active)
    if len(clients) == 1:
        return InboundMatch("client", trainers[0], client_id=clients[0])
    return InboundMatch("shared", trainers[0], client_ids=tuple(clients))


def window_open(last_inbound_at: datetime | None, now: datetime) -> bool:
    """Free-form text may be sent until exactly 24 hours after the client's last message
    (at 24 h the window is closed: the template goes)."""
    return last_inbound_at is not None and now < last_inbound_at + WINDOW


OptOutWord = Literal["stop", "start"]

_STOP_WORDS: Final = frozenset({"stop", "unsubscribe"})
_START_WORDS: Final = frozenset({"start"})


def opt_out_word(text: str) -> OptOutWord | None:
    """ "STOP" (or "UNSUBSCRIBE") and "START", alone in a message, any case, spaces around
    them ignored; a sentence that merely contains the word is a message, not a request."""
    word = text.strip().casefold()
    if word in _STOP_WORDS:
        return "stop"
    if word in _START_WORDS:
        return "start"
    return None


class SetMessagesOptOut(Command):
    """The portal's toggle: no reminders or notifications (yes), or resume them (no)."""

    opt_out: bool = False


# The WhatsApp tab's conversations ---------------------------------------------------------
Direction = Literal["in", "out"]

# A row of the tab shows one line of the last message; the summary keeps a little more
# than a phone shows, so the item stays small whatever was written.
PREVIEW_CHARS: Final = 120
REPLY_MAX_CHARS: Final = 1000
LINK_WORD: Final = "(link)"


def preview(text: str, link_placeholder: str) -> str:
    """One line of a message for the list: whitespace folded, the client link placeholder
    named instead of shown raw (the list never makes links), cut with an ellipsis."""
    line = " ".join(text.replace(link_placeholder, LINK_WORD).split())
    if len(line) <= PREVIEW_CHARS:
        return line
    return line[: PREVIEW_CHARS - 1].rstrip() + "…"


def window_closes_at(last_inbound_at: datetime | None) -> datetime | None:
    """When free-form replies stop being possible, or None when the client never wrote."""
    return last_inbound_at + WINDOW if last_inbound_at is not None else None


@dataclass(frozen=True)
class ConversationSummary:
    """One row of the WhatsApp tab: a client's conversation or a number's, as the
    per-trainer conversation index keeps it (moved with every message in or out)."""

    kind: MatchKind  # "client"; "shared" or "unknown" for a number
    last_at: datetime
    last_text: str  # already a preview
    last_direction: Direction
    unread: int = 0
    client_id: str = ""  # kind == "client"
    client_name: str = ""  # as the last outbound message named them ("" if none yet)
    number: str = ""  # a shared or unknown number (E.164)
    client_ids: tuple[str, ...] = ()  # kind == "shared"
    last_kind: str = ""  # the outbound message's kind (invoice…), or the inbound's (text, media)
    last_inbound_at: datetime | None = None


@dataclass(frozen=True)
class InboundMessage:
    """A message the client wrote, as their conversation shows it."""

    id: str  # the provider's message id
    text: str
    kind: str  # text, media, button, …
    received_at: datetime
    replied_to: str | None = None  # the provider id of our message it answers, if known

    @property
    def at(self) -> datetime:
        return self.received_at


class SendReply(Command):
    """The trainer's free-form answer on a conversation page; `send_id` was made when the
    page was drawn, so a double click queues one message."""

    text: str = ""
    send_id: str = ""


def reply_problem(text: str) -> dict[str, str] | None:
    """Why a reply cannot be queued as typed, by field, or None."""
    if not text.strip():
        return {"text": "Write a message first."}
    if len(text) > REPLY_MAX_CHARS:
        return {"text": f"Keep it to {REPLY_MAX_CHARS} characters (this one has {len(text)})."}
    return None


def window_closed_words(name: str) -> str:
    return (
        f"{name} has not written to you in the last 24 hours, so WhatsApp only delivers "
        "approved templates: nothing was sent. Send it from your phone instead."
    )

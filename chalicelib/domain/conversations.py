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

"""Inbound WhatsApp messages: matched to a client, kept once, STOP / START applied; and
the 24-hour window the dispatcher asks about before sending free-form text.

The webhooks (services/webhooks.py) prove a message came from the provider; this module
decides whose it is (`domain.conversations.match_inbound`) and records it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from chalicelib.domain.conversations import (
    InboundMatch,
    Received,
    SetMessagesOptOut,
    match_inbound,
    opt_out_word,
)
from chalicelib.domain.conversations import window_open as window_is_open
from chalicelib.domain.messages import TRAINER_NOTIFICATION, Message
from chalicelib.messaging.payloads import Inbound
from chalicelib.repo.repository import Repository
from chalicelib.services import portal
from chalicelib.services.deps import Deps

log = logging.getLogger("pt_bookings.conversations")

# Which trainer a sender (our Twilio number or Meta phone-number id) belongs to; None for
# the stage's shared sender. The webhooks pass `webhooks.claim_owner` (a trainer's own
# sender, through its claim item) on a stage with own senders on.
SenderOwner = Callable[[str], str | None]


def shared_sender(_sender: str) -> str | None:
    return None


@dataclass(frozen=True)
class Recorded:
    match: InboundMatch
    written: bool  # False: a replay, already kept; nothing was written
    opt_out: bool | None = None  # True: STOP applied, False: START applied


def record_inbound(
    repo: Repository, message: Inbound, sender_owner: SenderOwner = shared_sender
) -> Recorded:
    """Keep one inbound message where it belongs; a replay writes nothing."""
    match = match_inbound(repo.phone_owners(message.from_e164), sender_owner(message.to))
    written = repo.conversations.record_inbound(_received(message), match)
    if match.kind == "unknown":
        # Counted for ops: the provider's id only, never the number or the text.
        log.info(
            "inbound from an unknown number (%s, trainer %s)",
            message.provider_message_id,
            match.trainer_id or "stage",
        )
    word = opt_out_word(message.text) if written else None
    if word is None or match.trainer_id is None or match.kind == "unknown":
        return Recorded(match, written)
    # The phone asked, so every client of this trainer with that number is covered.
    clients = (match.client_id,) if match.client_id else match.client_ids
    repo.set_messages_opt_out(match.trainer_id, clients, word == "stop")
    return Recorded(match, written, opt_out=word == "stop")


def window_check(repo: Repository, clock: Callable[[], datetime]) -> Callable[[str, Message], bool]:
    """The dispatcher's question "may this message go free-form?": inside 24 hours of the
    client's last inbound (one GetItem, asked only when the stage has templates)."""

    def window_open(trainer_id: str, message: Message) -> bool:
        if message.kind == TRAINER_NOTIFICATION:
            # To the trainer's own number, not the client's: the client's window says
            # nothing about it, and trainers never write to the business number.
            return False
        last = repo.conversations.last_inbound_at(trainer_id, message.client_id)
        return window_is_open(last, clock())

    return window_open


def _received(message: Inbound) -> Received:
    return Received(
        provider=message.provider,
        provider_message_id=message.provider_message_id,
        from_e164=message.from_e164,
        to=message.to,
        text=message.text,
        kind=message.kind,
        received_at=message.received_at,
        replied_to=message.replied_to,
    )


def set_portal_opt_out(deps: Deps, token: str, command: SetMessagesOptOut) -> None:
    """The portal's toggle: the client's own choice, the same one STOP / START make."""
    context = portal.open_client(deps.repo, deps.links, token)
    deps.repo.set_messages_opt_out(context.trainer.id, (context.client.id,), command.opt_out)

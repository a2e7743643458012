"""Capability links handed to clients: derived from the stage's secret, stored hashed."""

from __future__ import annotations

from chalicelib import runtime
from chalicelib.domain.clients import Client
from chalicelib.domain.messages import LINK_PLACEHOLDER, Message
from chalicelib.domain.portal import PortalClient
from chalicelib.domain.tokens import (
    offer_link_token,
    portal_token,
    session_link_token,
    token_hash,
)
from chalicelib.services.clients import portal_token_for


def portal(trainer_id: str, client: Client | PortalClient) -> str:
    return portal_token_for(runtime.link_secret(), trainer_id, client)


def session(trainer_id: str, client_id: str, generation: int, session_id: str) -> str:
    return session_link_token(runtime.link_secret(), trainer_id, client_id, generation, session_id)


def session_hash(trainer_id: str, client_id: str, generation: int, session_id: str) -> str:
    return token_hash(session(trainer_id, client_id, generation, session_id))


def message_text(message: Message) -> str:
    """The message's text with its client link made again from the stage's secret (the
    table holds the placeholder, never the link)."""
    ref = message.link
    if ref is None:
        return message.text
    secret = runtime.link_secret()
    if ref.kind == "session":
        path = "/s/" + session_link_token(
            secret, ref.trainer_id, ref.client_id, ref.generation, ref.target_id
        )
    elif ref.kind == "portal":
        path = "/c/" + portal_token(secret, ref.trainer_id, ref.client_id, ref.generation)
    else:
        path = "/o/" + offer_link_token(secret, ref.trainer_id, ref.target_id)
    return message.text.replace(LINK_PLACEHOLDER, ref.base + path)


def offer(trainer_id: str, offer_id: str) -> str:
    return offer_link_token(runtime.link_secret(), trainer_id, offer_id)

"""Capability links handed to clients: derived from the stage's secret, stored hashed."""

from __future__ import annotations

from chalicelib import runtime
from chalicelib.domain.clients import Client
from chalicelib.domain.portal import PortalClient
from chalicelib.domain.tokens import session_link_token, token_hash
from chalicelib.services.clients import portal_token_for


def portal(trainer_id: str, client: Client | PortalClient) -> str:
    return portal_token_for(runtime.link_secret(), trainer_id, client)


def session(trainer_id: str, client_id: str, generation: int, session_id: str) -> str:
    return session_link_token(runtime.link_secret(), trainer_id, client_id, generation, session_id)


def session_hash(trainer_id: str, client_id: str, generation: int, session_id: str) -> str:
    return token_hash(session(trainer_id, client_id, generation, session_id))

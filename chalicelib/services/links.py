"""Capability links handed to clients: derived from the stage's secret, stored hashed.

`Links` is handed the secret's reader by the composition root (runtime), so a use case
that makes a link says so in its signature and a test can give it any secret.
"""

from __future__ import annotations

from collections.abc import Callable

from chalicelib.domain.clients import Client
from chalicelib.domain.messages import LINK_PLACEHOLDER, Message
from chalicelib.domain.portal import PortalClient
from chalicelib.domain.tokens import (
    offer_link_token,
    portal_token,
    session_link_token,
    token_hash,
)


class Links:
    """Makes a client's links again from the stage secret (the table holds only hashes)."""

    def __init__(self, secret: Callable[[], bytes]) -> None:
        # A reader, not the bytes: deployed, the secret is an SSM read that a request
        # making no link never pays for.
        self._secret = secret

    @property
    def secret(self) -> bytes:
        return self._secret()

    def portal(self, trainer_id: str, client: Client | PortalClient) -> str:
        return portal_token(self.secret, trainer_id, client.id, client.portal_generation)

    def portal_hash(self, trainer_id: str, client: Client | PortalClient) -> str:
        return token_hash(self.portal(trainer_id, client))

    def session(self, trainer_id: str, client_id: str, generation: int, session_id: str) -> str:
        return session_link_token(self.secret, trainer_id, client_id, generation, session_id)

    def session_hash(
        self, trainer_id: str, client_id: str, generation: int, session_id: str
    ) -> str:
        return token_hash(self.session(trainer_id, client_id, generation, session_id))

    def offer(self, trainer_id: str, offer_id: str) -> str:
        return offer_link_token(self.secret, trainer_id, offer_id)

    def message_text(self, message: Message) -> str:
        """The message's text with its client link made again (the table holds the
        placeholder, never the link)."""
        ref = message.link
        if ref is None:
            return message.text
        if ref.kind == "session":
            path = "/s/" + self.session(
                ref.trainer_id, ref.client_id, ref.generation, ref.target_id
            )
        elif ref.kind == "portal":
            path = "/c/" + portal_token(self.secret, ref.trainer_id, ref.client_id, ref.generation)
        else:
            path = "/o/" + self.offer(ref.trainer_id, ref.target_id)
        return message.text.replace(LINK_PLACEHOLDER, ref.base + path)


def fixed(secret: bytes) -> Links:
    """Links from a known secret (tests, scripts)."""
    return Links(lambda: secret)

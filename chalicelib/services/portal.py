"""The client portal: what a personal link (/c/<token>) opens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from chalicelib.domain.clients import Client
from chalicelib.domain.errors import DomainError, NotFound
from chalicelib.domain.models import Trainer
from chalicelib.domain.schedule import Session
from chalicelib.domain.tokens import token_hash
from chalicelib.repo.repository import Repository

PORTAL_KIND = "portal"


class LinkInactive(DomainError):
    """A real link that was rotated, or whose client is archived: 410, never their data."""


@dataclass(frozen=True)
class PortalHome:
    trainer: Trainer
    client: Client
    upcoming: list[Session]


def open_portal(repo: Repository, token: str, now: datetime) -> PortalHome:
    """At most three reads: the token, then client + trainer together, then the sessions.

    Every token, well-formed or not, is looked up by its hash, so forged, truncated and
    rotated links cost the same single read before their answer.
    """
    record = repo.get_token(token_hash(token or ""))
    if record is None or record.kind != PORTAL_KIND:
        raise NotFound("link")
    if record.data.get("revoked_at"):
        raise LinkInactive("rotated")
    trainer_id, client_id = str(record.data["trainer_id"]), str(record.data["client_id"])
    client, trainer = repo.client_with_trainer(trainer_id, client_id)
    if client.archived:
        raise LinkInactive("archived")
    upcoming = [s for s in repo.client_upcoming(trainer_id, client_id, now) if s.is_live]
    return PortalHome(trainer, client, upcoming)

"""Use cases for the Clients tab."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from chalicelib.domain.clients import (
    Client,
    check_recurring,
    parse_contact_form,
    parse_profile_form,
    search,
)
from chalicelib.domain.errors import InvalidInput, expect_version
from chalicelib.domain.models import Trainer
from chalicelib.domain.tokens import new_id, portal_token, token_hash
from chalicelib.repo.repository import Account, Repository


def find_clients(repo: Repository, trainer_id: str, query: str) -> list[Client]:
    return search(repo.list_clients(trainer_id), query)


def portal_token_for(secret: bytes, trainer_id: str, client: Client) -> str:
    return portal_token(secret, trainer_id, client.id, client.portal_generation)


def add_client(
    repo: Repository, trainer: Trainer, form: Mapping[str, str], now: datetime, secret: bytes
) -> Client:
    settings = trainer.settings
    contact = parse_contact_form(form, settings.country, settings.currency)
    client = Client(id=new_id(), created_at=now, **contact.model_dump())
    repo.add_client(trainer.id, client, token_hash(portal_token_for(secret, trainer.id, client)))
    return client


def rotate_portal_link(
    repo: Repository,
    trainer_id: str,
    client: Client,
    version: str | None,
    secret: bytes,
    now: datetime,
    **changes: Any,
) -> Client:
    expect_version(client.version, version)
    old = token_hash(portal_token_for(secret, trainer_id, client))
    successor = client.model_copy(update={"portal_generation": client.portal_generation + 1})
    new = token_hash(portal_token_for(secret, trainer_id, successor))
    return repo.rotate_portal(trainer_id, client, old, new, now, **changes)


def save_profile(
    repo: Repository,
    trainer: Trainer,
    account: Account,
    client: Client,
    form: Mapping[str, str],
    enabled_locations: Sequence[str],
    recurring: Sequence[str],
) -> Client:
    """Save the profile form over `client` as read for this request (version-checked)."""
    setup = account.setup
    settings = trainer.settings
    errors: dict[str, str] = {}
    try:
        contact, location_ids, shared, private = parse_profile_form(
            form, enabled_locations, settings.country, settings.currency, setup.locations
        )
    except InvalidInput as exc:
        errors.update(exc.errors)
        location_ids = tuple(enabled_locations)
    try:
        chosen = check_recurring(
            recurring,
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
    expect_version(client.version, form.get("version"))
    return repo.save_client(
        trainer.id,
        client,
        **contact.model_dump(),
        location_ids=location_ids,
        recurring=chosen,
        shared_notes=shared,
        private_notes=private,
    )


def archive(repo: Repository, trainer_id: str, client: Client, version: str | None) -> Client:
    expect_version(client.version, version)
    return repo.save_client(trainer_id, client, archived=True)


def restore(
    repo: Repository,
    trainer_id: str,
    client: Client,
    version: str | None,
    secret: bytes,
    now: datetime,
) -> Client:
    """Bring an archived client back with a new portal link.

    The old link was shared before the archive and may have reached people the client no
    longer wants it with; reviving it silently would reopen their sessions to them.
    """
    return rotate_portal_link(repo, trainer_id, client, version, secret, now, archived=False)


def mark_link_copied(
    repo: Repository, trainer_id: str, client: Client, generation: str | None, now: datetime
) -> None:
    """The trainer copied the portal link shown for `generation`: a page drawn before the
    link was rotated copies a dead link, which must not tick step 6."""
    if generation != str(client.portal_generation):
        raise InvalidInput({"_form": "This portal link was replaced: copy the new one."})
    repo.mark_portal_shared(trainer_id, client, "copied", now)

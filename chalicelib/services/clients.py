"""Use cases for the Clients tab."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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
from chalicelib.domain.schedule import ClientBalance, Owed, Session, owed_now, unpaid_amount
from chalicelib.domain.tokens import new_id
from chalicelib.repo.repository import Account, Repository
from chalicelib.services.links import Links


def find_clients(repo: Repository, trainer_id: str, query: str) -> list[Client]:
    return search(repo.list_clients(trainer_id), query)


def add_client(
    repo: Repository, links: Links, trainer: Trainer, form: Mapping[str, str], now: datetime
) -> Client:
    settings = trainer.settings
    contact = parse_contact_form(form, settings.country, settings.currency)
    client = Client(id=new_id(), created_at=now, **contact.model_dump())
    repo.add_client(trainer.id, client, links.portal_hash(trainer.id, client))
    return client


def rotate_portal_link(
    repo: Repository,
    links: Links,
    trainer_id: str,
    client: Client,
    version: str | None,
    now: datetime,
    **changes: Any,
) -> Client:
    expect_version(client.version, version)
    old = links.portal_hash(trainer_id, client)
    successor = client.model_copy(update={"portal_generation": client.portal_generation + 1})
    new = links.portal_hash(trainer_id, successor)
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
    links: Links,
    trainer_id: str,
    client: Client,
    version: str | None,
    now: datetime,
) -> Client:
    """Bring an archived client back with a new portal link.

    The old link was shared before the archive and may have reached people the client no
    longer wants it with; reviving it silently would reopen their sessions to them.
    """
    return rotate_portal_link(repo, links, trainer_id, client, version, now, archived=False)


def mark_link_copied(
    repo: Repository, trainer_id: str, client: Client, generation: str | None, now: datetime
) -> None:
    """The trainer copied the portal link shown for `generation`: a page drawn before the
    link was rotated copies a dead link, which must not tick step 6."""
    if generation != str(client.portal_generation):
        raise InvalidInput({"_form": "This portal link was replaced: copy the new one."})
    repo.mark_portal_shared(trainer_id, client, "copied", now)


@dataclass(frozen=True)
class ClientSessions:
    upcoming: list[Session]  # live ones, soonest first
    history: list[Session]  # the latest past ones, and canceled or moved future ones
    owed: Owed


HISTORY_SHOWN = 20


def client_sessions(
    repo: Repository,
    trainer_id: str,
    client_id: str,
    now: datetime,
) -> ClientSessions:
    """The profile's sessions and what the client owes, from the kept balance, the
    upcoming sessions and a page of the past: never the whole history (once only, for a
    client whose balance was never kept, it is counted from all of it)."""
    balance = repo.client_balance(trainer_id, client_id)
    if balance.counted:
        upcoming, past = repo.client_sessions(trainer_id, client_id, now, HISTORY_SHOWN)
    else:
        upcoming, past = repo.client_sessions(trainer_id, client_id, now)
        counted = ClientBalance(
            unpaid_minor=sum(unpaid_amount(s) for s in upcoming + past),
            unpaid_count=sum(1 for s in upcoming + past if unpaid_amount(s)),
            counted=True,
        )
        # Stored only if no session write came in between; either way this page shows
        # what was counted from what it read.
        repo.count_balance(trainer_id, client_id, balance, counted)
        balance, past = counted, past[:HISTORY_SHOWN]
    owed = owed_now(balance, upcoming, past, now)
    # Upcoming lists what will happen; a canceled or moved future session is history.
    retired = sorted(
        (s for s in upcoming if not s.is_live), key=lambda s: s.start_utc, reverse=True
    )
    live = [s for s in upcoming if s.is_live]
    return ClientSessions(live, (retired + past)[:HISTORY_SHOWN], owed)

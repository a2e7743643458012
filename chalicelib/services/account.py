"""Use cases for a trainer's set-up: settings, locations and the weekly template."""

from __future__ import annotations

from collections.abc import Mapping

from chalicelib.domain.checklist import ClientSetup, Step, getting_started
from chalicelib.domain.errors import Conflict, expect_version
from chalicelib.domain.models import Location, Trainer, clean_location_name
from chalicelib.domain.settings import parse_settings_form
from chalicelib.domain.template import TemplateSlot, WeeklyTemplate, parse_slot_form
from chalicelib.domain.tokens import new_id
from chalicelib.repo.repository import Account, Repository, Setup


# Dashboard ---------------------------------------------------------------------------
def checklist(repo: Repository, trainer: Trainer) -> tuple[list[Step], Account]:
    """The getting-started steps from one Query of the account partition."""
    account = repo.get_account(trainer.id)
    active = [c for c in account.clients if not c.archived]
    clients = ClientSetup(
        clients=len(active),
        configured=sum(c.configured for c in active),
        shared=sum(account.link_shared(c) for c in active),
    )
    setup = account.setup
    return getting_started(trainer, setup.locations, setup.template, clients), account


# Settings ------------------------------------------------------------------------------
def save_settings(repo: Repository, trainer: Trainer, form: Mapping[str, str]) -> Trainer:
    settings = parse_settings_form(form)
    expect_version(trainer.version, form.get("version"))
    return repo.save_settings(trainer, settings)


# Locations -----------------------------------------------------------------------------
def add_location(repo: Repository, trainer_id: str, raw_name: str) -> Location:
    setup = repo.get_setup(trainer_id)
    location = Location(id=new_id(), name=clean_location_name(raw_name, setup.locations))
    repo.add_location(trainer_id, location)
    return location


def _location_for_edit(
    repo: Repository, trainer_id: str, location_id: str, submitted_version: str | None
) -> tuple[Setup, Location]:
    setup = repo.get_setup(trainer_id)
    location = setup.location(location_id)
    expect_version(location.version, submitted_version)
    return setup, location


def rename_location(
    repo: Repository, trainer_id: str, location_id: str, raw_name: str, version: str | None
) -> Location:
    setup, location = _location_for_edit(repo, trainer_id, location_id, version)
    others = [loc for loc in setup.locations if loc.id != location_id]
    return repo.update_location(trainer_id, location, name=clean_location_name(raw_name, others))


def set_location_archived(
    repo: Repository, trainer_id: str, location_id: str, archived: bool, version: str | None
) -> Location:
    _setup, location = _location_for_edit(repo, trainer_id, location_id, version)
    return repo.update_location(trainer_id, location, archived=archived)


def delete_location(
    repo: Repository, trainer_id: str, location_id: str, version: str | None
) -> Location:
    setup, location = _location_for_edit(repo, trainer_id, location_id, version)
    used_by = [s for s in setup.template.slots if s.location_id == location_id]
    if used_by:
        raise Conflict(
            f"“{location.name}” is used by {len(used_by)} template slot"
            f"{'s' if len(used_by) != 1 else ''}, so it cannot be deleted. Archive it instead, "
            "or move those slots first."
        )
    repo.delete_location(trainer_id, location, setup.template)
    return location


# Weekly template ---------------------------------------------------------------------
def add_template_slot(repo: Repository, trainer_id: str, form: Mapping[str, str]) -> TemplateSlot:
    draft = parse_slot_form(form)
    setup = repo.get_setup(trainer_id)
    slot_id = new_id()
    new_template = setup.template.with_slot(slot_id, draft, setup.locations)
    expect_version(setup.template.version, form.get("version"))
    repo.save_template(trainer_id, setup.template, new_template, draft.location_id)
    return new_template.slot(slot_id)


def update_template_slot(
    repo: Repository, trainer_id: str, slot_id: str, form: Mapping[str, str]
) -> TemplateSlot:
    draft = parse_slot_form(form)
    setup = repo.get_setup(trainer_id)
    setup.template.slot(slot_id)  # NotFound before any validation message
    new_template = setup.template.with_slot(slot_id, draft, setup.locations)
    expect_version(setup.template.version, form.get("version"))
    repo.save_template(trainer_id, setup.template, new_template, draft.location_id)
    return new_template.slot(slot_id)


def remove_template_slot(
    repo: Repository, trainer_id: str, slot_id: str, version: str | None
) -> WeeklyTemplate:
    setup = repo.get_setup(trainer_id)
    new_template = setup.template.without_slot(slot_id)
    expect_version(setup.template.version, version)
    return repo.save_template(trainer_id, setup.template, new_template, None)


def template_slot(repo: Repository, trainer_id: str, slot_id: str) -> tuple[Setup, TemplateSlot]:
    setup = repo.get_setup(trainer_id)
    return setup, setup.template.slot(slot_id)

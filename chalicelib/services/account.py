"""Use cases for a trainer's set-up: settings, locations and the weekly template, and the
Settings pages that show them (each page one call, returning what its template shows).

`add_location` takes the repository and a name: scripts and tests set accounts up with
it; a view goes through `create_location`, which takes the request's `Deps`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from chalicelib.config import from_env as config_from_env
from chalicelib.domain.checklist import ClientSetup, Step, getting_started
from chalicelib.domain.commands import Command, Versioned
from chalicelib.domain.errors import Conflict, InvalidInput, same_version
from chalicelib.domain.grid import MINUTES_PER_DAY, format_clock
from chalicelib.domain.models import Location, Trainer, clean_location_name
from chalicelib.domain.money import currency_choices
from chalicelib.domain.settings import (
    COUNTRIES,
    SaveSettings,
    SenderSecrets,
    TrainerSettings,
    parse_sender,
    parse_settings,
)
from chalicelib.domain.template import (
    RemoveSlot,
    SaveSlot,
    TemplateSlot,
    WeeklyTemplate,
    parse_slot,
)
from chalicelib.domain.timeutil import all_time_zones
from chalicelib.domain.tokens import new_id
from chalicelib.messaging import whatsapp
from chalicelib.repo.auto_apply import AutoApplyStore, schedule_run_part
from chalicelib.repo.repository import Account, Repository, Setup
from chalicelib.repo.senders import SenderStore, SenderTaken
from chalicelib.services import webhooks
from chalicelib.services.deps import Deps


# Commands --------------------------------------------------------------------------------
class AddLocation(Command):
    name: str = ""


class ChangeLocation(Versioned):
    """The location page's buttons: Rename (with the name typed), Archive, Restore, Delete."""

    messages: ClassVar[dict[str, str]] = {"action": "Unknown action."}

    location_id: str
    action: Literal["rename", "archive", "restore", "delete"]
    name: str = ""


# Dashboard ---------------------------------------------------------------------------
def checklist(repo: Repository, trainer: Trainer) -> tuple[list[Step], Account]:
    """The getting-started steps from the set-up read: its client index gives the counts,
    so no client item is read."""
    account = repo.get_account(trainer.id)
    active = account.active_clients()
    clients = ClientSetup(
        clients=len(active),
        configured=sum(c.configured for c in active),
        shared=sum(c.link_shared for c in active),
    )
    setup = account.setup
    return getting_started(trainer, setup.locations, setup.template, clients), account


# Settings ------------------------------------------------------------------------------
@dataclass(frozen=True)
class SettingsPage:
    """The Settings form: nothing to read, the signed-in trainer came with the session."""

    settings: TrainerSettings
    version: int
    time_zones: tuple[str, ...]
    countries: dict[str, str]
    currencies: tuple[tuple[str, str], ...]
    sender: SenderSection


def settings_page(trainer: Trainer) -> SettingsPage:
    settings = trainer.settings
    return SettingsPage(
        settings=settings,
        version=trainer.version,
        time_zones=all_time_zones(),
        countries=COUNTRIES,
        currencies=tuple(currency_choices(settings.locale)),
        sender=sender_section(),
    )


def save_settings(
    deps: Deps,
    trainer: Trainer,
    command: SaveSettings,
    secrets: whatsapp.TrainerSecrets | None = None,
) -> Trainer:
    """`secrets`: where a trainer's own sender's tokens go (the stage's SSM by default)."""
    settings, typed_secrets = _parse_with_sender(command, trainer)
    if not command.reminders:
        # A form drawn before the reminders setting existed keeps the trainer's choice.
        settings = settings.model_copy(update={"reminders": trainer.settings.reminders})
    if not command.auto_apply:
        # Nor does it turn "apply my template automatically" off.
        kept = trainer.settings.auto_apply_weeks
        settings = settings.model_copy(update={"auto_apply_weeks": kept})
    for kept in ("travel_minutes", "no_show_percent", "late_cancel_percent"):
        if not getattr(command, kept):  # a form from before the setting keeps it
            settings = settings.model_copy(update={kept: getattr(trainer.settings, kept)})
    if command.vat_number is None:  # VAT on invoices: a form from before it keeps them
        settings = settings.model_copy(update={"vat_number": trainer.settings.vat_number})
    if command.vat_rate is None:
        settings = settings.model_copy(update={"vat_rate_bp": trainer.settings.vat_rate_bp})
    same_version(trainer.version, command.version)
    return _store_settings(deps, trainer, settings, typed_secrets, secrets)


# Settings: the WhatsApp sender ---------------------------------------------------------
@dataclass(frozen=True)
class SenderSection:
    """What the WhatsApp sender section shows beside the trainer's settings."""

    offered: bool  # this stage lets trainers send from their own number
    twilio_inbound_url: str  # to paste into Twilio ("A message comes in")
    meta_webhook_url: str  # to paste into the Meta app's WhatsApp webhook


def sender_section() -> SenderSection:
    base = config_from_env().public_base_url or "<this site's address>"
    return SenderSection(
        offered=whatsapp.own_senders_enabled(),
        twilio_inbound_url=base + webhooks.TWILIO_INBOUND_PATH,
        meta_webhook_url=base + webhooks.META_PATH,
    )


def _parse_with_sender(
    command: SaveSettings, trainer: Trainer
) -> tuple[TrainerSettings, SenderSecrets]:
    """Every field's rules at once, so the page shows all the problems together."""
    errors: dict[str, str] = {}
    previous = trainer.settings.whatsapp_sender
    sender, typed = parse_sender(command, previous, errors)
    if sender != previous and sender.is_own and not whatsapp.own_senders_enabled():
        errors["whatsapp_sender"] = (
            "Your own WhatsApp sender is not available here yet: use the PT Bookings number."
        )
    elif sender.address is not None and sender.address in whatsapp.shared_addresses():
        errors[_ADDRESS_FIELD[sender.kind]] = (
            "That is the PT Bookings shared number: choose “The PT Bookings number” instead."
        )
    try:
        settings = parse_settings(command)
    except InvalidInput as exc:
        raise InvalidInput({**exc.errors, **errors}) from exc
    if errors:
        raise InvalidInput(errors)
    return settings.model_copy(update={"whatsapp_sender": sender}), typed


# The form field a sender's number (or phone-number id) is typed in, for its messages.
_ADDRESS_FIELD = {"twilio": "twilio_number", "meta": "meta_phone_number_id"}
_TOKEN_FIELD = {"twilio": "twilio_auth_token", "meta": "meta_access_token"}


def _store_settings(
    deps: Deps,
    trainer: Trainer,
    settings: TrainerSettings,
    typed: SenderSecrets,
    secrets: whatsapp.TrainerSecrets | None,
) -> Trainer:
    old = trainer.settings.whatsapp_sender
    token = typed.token.get_secret_value()
    app_secret = typed.app_secret.get_secret_value()
    if settings.whatsapp_sender == old and not token and not app_secret:
        return _save_with_auto_apply(deps, trainer, settings)  # the sender is not touched
    store = secrets or whatsapp.trainer_secrets()
    # New secrets go under new names first: until the transaction commits, the settings
    # still name the old ones, so a refused save leaves the live sender as it was.
    written: list[tuple[str, str]] = []
    sender = settings.whatsapp_sender
    try:
        if token:
            written.append((whatsapp.TOKEN, new_id()))
            store.put(trainer.id, whatsapp.TOKEN, written[-1][1], token)
            sender = sender.model_copy(update={"token_ref": written[-1][1]})
        if app_secret:
            written.append((whatsapp.APP_SECRET, new_id()))
            store.put(trainer.id, whatsapp.APP_SECRET, written[-1][1], app_secret)
            sender = sender.model_copy(update={"app_secret_ref": written[-1][1]})
        if sender.kind == "meta" and not sender.verify_token:
            verify = webhooks.trainer_verify_token(deps.links, trainer.id)
            sender = sender.model_copy(update={"verify_token": verify})
        # A changed auto-apply setting writes its due item in this same transaction.
        auto_apply = (
            [schedule_run_part(trainer.id, settings.auto_apply_weeks, deps.now)]
            if settings.auto_apply_weeks != trainer.settings.auto_apply_weeks
            else []
        )
        sender_settings = settings.model_copy(update={"whatsapp_sender": sender})
        updated = SenderStore(deps.repo.db).save_settings(trainer, sender_settings, also=auto_apply)
    except SenderTaken as exc:
        store.forget(trainer.id, written)
        raise InvalidInput(
            {
                _ADDRESS_FIELD[sender.kind]: (
                    "This number is already connected to another PT Bookings account. "
                    "Check the number, or ask us to release it."
                )
            }
        ) from exc
    except whatsapp.NotConfigured as exc:  # SSM would not store it
        store.forget(trainer.id, written)
        raise InvalidInput(
            {
                _TOKEN_FIELD[sender.kind]: (
                    "We could not store the token just now, so nothing was saved. "
                    "Try again in a minute."
                )
            }
        ) from exc
    except Exception:
        store.forget(trainer.id, written)
        raise
    # The secrets the settings no longer name: nothing will read them again.
    kept = {sender.token_ref, sender.app_secret_ref}
    retired = [(whatsapp.TOKEN, old.token_ref), (whatsapp.APP_SECRET, old.app_secret_ref)]
    store.forget(trainer.id, [(what, ref) for what, ref in retired if ref and ref not in kept])
    return updated


def _save_with_auto_apply(deps: Deps, trainer: Trainer, settings: TrainerSettings) -> Trainer:
    """The settings; when "apply my template automatically" changed, in one transaction
    with the trainer's due item for the weekly run (services/auto_apply.py)."""
    if settings.auto_apply_weeks == trainer.settings.auto_apply_weeks:
        return deps.repo.save_settings(trainer, settings)
    return AutoApplyStore(deps.repo.db).save_settings(trainer, settings, deps.now)


# Locations -----------------------------------------------------------------------------
@dataclass(frozen=True)
class LocationsPage:
    setup: Setup
    usage: dict[str, int]  # template slots per location id


def locations_page(deps: Deps, trainer_id: str) -> LocationsPage:
    setup = deps.repo.get_setup(trainer_id)
    usage = {loc.id: 0 for loc in setup.locations}
    for slot in setup.template.slots:
        usage[slot.location_id] = usage.get(slot.location_id, 0) + 1
    return LocationsPage(setup, usage)


@dataclass(frozen=True)
class LocationPage:
    location: Location
    used_by: tuple[TemplateSlot, ...]  # template slots there: it cannot be deleted


def location_page(deps: Deps, trainer_id: str, location_id: str) -> LocationPage:
    setup = deps.repo.get_setup(trainer_id)
    location = setup.location(location_id)  # NotFound for another trainer's
    used_by = tuple(s for s in setup.template.slots if s.location_id == location_id)
    return LocationPage(location, used_by)


def add_location(repo: Repository, trainer_id: str, raw_name: str) -> Location:
    setup = repo.get_setup(trainer_id)
    location = Location(id=new_id(), name=clean_location_name(raw_name, setup.locations))
    repo.add_location(trainer_id, location)
    return location


def create_location(deps: Deps, trainer_id: str, command: AddLocation) -> Location:
    return add_location(deps.repo, trainer_id, command.name)


def _location_for_edit(
    repo: Repository, trainer_id: str, location_id: str, version: int | None
) -> tuple[Setup, Location]:
    setup = repo.get_setup(trainer_id)
    location = setup.location(location_id)
    same_version(location.version, version)
    return setup, location


def rename_location(
    repo: Repository, trainer_id: str, location_id: str, raw_name: str, version: int | None
) -> Location:
    setup, location = _location_for_edit(repo, trainer_id, location_id, version)
    others = [loc for loc in setup.locations if loc.id != location_id]
    return repo.update_location(trainer_id, location, name=clean_location_name(raw_name, others))


def set_location_archived(
    repo: Repository, trainer_id: str, location_id: str, archived: bool, version: int | None
) -> Location:
    _setup, location = _location_for_edit(repo, trainer_id, location_id, version)
    return repo.update_location(trainer_id, location, archived=archived)


def delete_location(
    repo: Repository, trainer_id: str, location_id: str, version: int | None
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


def change_location(deps: Deps, trainer_id: str, command: ChangeLocation) -> Location:
    repo, location_id, version = deps.repo, command.location_id, command.version
    if command.action == "rename":
        return rename_location(repo, trainer_id, location_id, command.name, version)
    if command.action == "delete":
        return delete_location(repo, trainer_id, location_id, version)
    archived = command.action == "archive"
    return set_location_archived(repo, trainer_id, location_id, archived, version)


# Weekly template ---------------------------------------------------------------------
@dataclass(frozen=True)
class TemplatePage:
    setup: Setup
    names: dict[str, str]  # location names by id, archived ones included


def template_page(deps: Deps, trainer_id: str) -> TemplatePage:
    setup = deps.repo.get_setup(trainer_id)
    return TemplatePage(setup, setup.location_names())


@dataclass(frozen=True)
class SlotPage:
    """The add or edit slot form. `prefill` holds its inputs as text: the slot's own, or
    for a new slot the cell that was clicked, an hour long."""

    slot: TemplateSlot | None  # None: a new slot
    setup: Setup
    version: int  # the template's: the form is refused if it changed meanwhile
    prefill: dict[str, str]


def slot_page(deps: Deps, trainer_id: str, slot_id: str) -> SlotPage:
    setup = deps.repo.get_setup(trainer_id)
    slot = setup.template.slot(slot_id)  # NotFound for another trainer's
    prefill = {
        "weekday": str(slot.weekday),
        "start": format_clock(slot.start),
        "end": format_clock(slot.end),
        "location_id": slot.location_id,
    }
    return SlotPage(slot, setup, setup.template.version, prefill)


def new_slot_page(deps: Deps, trainer_id: str, weekday: str, start: str) -> SlotPage:
    """The form for a new slot, from the cell clicked (query text, shown back as it came)."""
    setup = deps.repo.get_setup(trainer_id)
    try:
        minutes = int(start[:2]) * 60 + int(start[3:5])
        end = format_clock(min(minutes + 60, MINUTES_PER_DAY))
    except ValueError:
        end = ""
    prefill = {"weekday": weekday, "start": start, "end": end}
    return SlotPage(None, setup, setup.template.version, prefill)


def save_template_slot(deps: Deps, trainer_id: str, command: SaveSlot) -> TemplateSlot:
    """Add a slot (the command names none) or change one, if the template is still at the
    version the form was drawn from and the slot breaks no template rule."""
    repo = deps.repo
    setup = repo.get_setup(trainer_id)
    if command.slot_id is not None:
        setup.template.slot(command.slot_id)  # NotFound before any validation message
    draft = parse_slot(command)
    slot_id = command.slot_id or new_id()
    new_template = setup.template.with_slot(slot_id, draft, setup.locations)
    same_version(setup.template.version, command.version)
    repo.save_template(trainer_id, setup.template, new_template, draft.location_id)
    return new_template.slot(slot_id)


def remove_template_slot(deps: Deps, trainer_id: str, command: RemoveSlot) -> WeeklyTemplate:
    repo = deps.repo
    setup = repo.get_setup(trainer_id)
    new_template = setup.template.without_slot(command.slot_id)
    same_version(setup.template.version, command.version)
    return repo.save_template(trainer_id, setup.template, new_template, None)

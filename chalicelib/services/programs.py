"""Use cases for programs: templates, the New bundle wizard, bundles and their
confirmations.

The wizard keeps its state in a draft item: every step saves what was typed, as typed,
before checking it, so a reload or the Back button never loses input. Nothing is sent
when a bundle is saved; Send confirmations is its own action.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from chalicelib import observability
from chalicelib.domain import packs
from chalicelib.domain.clients import Client, email_bounced_text
from chalicelib.domain.commands import Command, Versioned
from chalicelib.domain.documents import files_prefix
from chalicelib.domain.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    VersionConflict,
    same_version,
)
from chalicelib.domain.messages import EMAIL, LINK_PLACEHOLDER, WHATSAPP, LinkRef, Message
from chalicelib.domain.models import Trainer
from chalicelib.domain.programs import (
    MAX_CARDS,
    MAX_EVERY_WEEKS,
    Bundle,
    BundleAction,
    BundleEntry,
    CardCheck,
    DateCard,
    DocumentInput,
    Draft,
    OfferInput,
    ProgramOffer,
    ProgramTemplate,
    QuickInput,
    card_count_problem,
    cards_for,
    check_cards,
    confirmable,
    documents_line,
    offer_form_values,
    offer_input,
    parse_offer,
    parse_quick,
    price_summary,
    scheduling_problem,
    sessions_gaining,
    sessions_losing,
    split_price,
    transition,
)
from chalicelib.domain.schedule import Session, book
from chalicelib.domain.timeutil import local_today
from chalicelib.domain.tokens import new_id
from chalicelib.messaging.email import client_sender
from chalicelib.messaging.templates import variables_for
from chalicelib.messaging.texts import render_text
from chalicelib.repo.packs import PackWrites
from chalicelib.repo.programs import (
    AlreadyCreated,
    PlannedSession,
    ProgramRepository,
    SlotTaken,
    TemplateGone,
    is_hub_cursor,
)
from chalicelib.repo.repository import ClientSummary, Repository
from chalicelib.services import documents as documents_service
from chalicelib.services.deps import Deps
from chalicelib.services.sessions import decode_cursor, encode_cursor, link_for


def store(repo: Repository) -> ProgramRepository:
    return ProgramRepository(repo.db)


def client_bundles(repo: Repository, trainer_id: str, client_id: str) -> list[Bundle]:
    """A client's bundles, newest first (one Query): their profile and their portal."""
    return store(repo).client_bundles(trainer_id, client_id)


# Commands ----------------------------------------------------------------------------------
class _Buttons(Command):
    """A form whose submit buttons say what to do (`action`). A bad one is about the
    whole form, not an input a message could sit beside."""

    messages: ClassVar[dict[str, str]] = {"action": "Unknown action."}

    @classmethod
    def form_name(cls, field: str) -> str:
        return "_form" if field == "action" else super().form_name(field)


class SaveTemplate(OfferInput, Versioned):
    """The template form: a new template (no id) or an edit of one."""

    template_id: str | None = None


class DeleteTemplate(Versioned):
    template_id: str


class StartDraft(Command):
    """Who the new bundle is for, and maybe the template it starts from."""

    client_id: str = ""
    template_id: str = ""


class SaveOffer(_Buttons, OfferInput, Versioned):
    """Step 1: keep the offer as typed (Continue), fill it from a template, or keep it
    as typed and add an uploaded file (`key`, `signature`, `name`) to its documents."""

    draft_id: str
    action: Literal["next", "use_template", "attach_file"] = "next"
    template_id: str = ""
    key: str = ""
    name: str = ""
    signature: str = ""


SCHEDULE_ACTIONS = ("generate", "add", "next", "back")


class SaveSchedule(_Buttons, Versioned):
    """Step 2: the quick scheduling fields and the date cards as typed, and the button
    pressed: Generate, + Add a date, Remove (`remove_<i>`), Continue or Back. The form
    says how many cards it has (`cards`), each as `card_day_<i>` / `card_start_<i>`."""

    draft_id: str
    action: str = ""
    quick: QuickInput = QuickInput()
    cards: tuple[DateCard, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _gather(cls, data: Any) -> Any:
        if not isinstance(data, Mapping) or "quick" in data:
            return data
        try:
            count = min(int(data.get("cards") or 0), MAX_CARDS)
        except (TypeError, ValueError):
            count = 0  # a tampered count is no cards, as a page with none would send
        cards = [
            {
                "day": str(data.get(f"card_day_{i}") or "")[:20],
                "start": str(data.get(f"card_start_{i}") or "")[:10],
            }
            for i in range(count)
        ]
        return {**data, "quick": QuickInput.model_validate(data), "cards": cards}

    @field_validator("action")
    @classmethod
    def _known(cls, action: str) -> str:
        if action not in SCHEDULE_ACTIONS and not action.startswith("remove_"):
            raise ValueError("unknown action")
        return action

    @property
    def removed_card(self) -> int | None:
        """The card whose Remove was pressed, if it is one of them."""
        index = self.action.removeprefix("remove_")
        if self.action.startswith("remove_") and re.fullmatch(r"[0-9]{1,3}", index):
            return int(index) if int(index) < len(self.cards) else None
        return None


class CreateBundle(_Buttons, Versioned):
    """Step 3: Create bundle (Validate), or Back to the dates."""

    draft_id: str
    action: Literal["create", "back"] = "create"


class ChangeBundleStatus(_Buttons, Versioned):
    bundle_id: str
    action: BundleAction


class AddBundleSession(Versioned):
    """One more date for a bundle, as typed (checked like a wizard card)."""

    bundle_id: str
    day: str = ""
    start: str = ""


class SendConfirmations(Command):
    """The round of confirmations the page was drawn for (the form's `round`)."""

    bundle_id: str
    round_seen: int | None = Field(default=None, alias="round")

    @field_validator("round_seen", mode="before")
    @classmethod
    def _not_a_round(cls, value: Any) -> Any:
        # Anything but a round number is a page we did not draw: the round check refuses
        # it as already sent, as it always did.
        text = str(value).strip() if value is not None else ""
        return int(text) if re.fullmatch(r"[0-9]{1,9}", text) else None


# Templates ---------------------------------------------------------------------------------
def save_template(deps: Deps, trainer: Trainer, command: SaveTemplate) -> ProgramTemplate:
    """Create a template (no id) or replace one if unchanged since the form was shown."""
    programs = store(deps.repo)
    previous = (
        programs.get_template(trainer.id, command.template_id) if command.template_id else None
    )
    if previous is not None:
        same_version(previous.version, command.version)
    offer = parse_offer(
        command,
        trainer.locations,
        trainer.settings.currency,
        trainer.settings.locale,
        files_prefix(trainer.id),
    )
    template = ProgramTemplate(
        **offer.model_dump(),
        id=previous.id if previous else new_id(),
        created_at=previous.created_at if previous else deps.now,
    )
    return programs.save_template(trainer.id, template, previous.version if previous else 0)


class AttachTemplateFile(Versioned):
    """An uploaded file handed back for a template (services/documents.AttachUpload)."""

    template_id: str
    key: str = ""
    name: str = ""
    signature: str = ""


def attach_template_file(
    deps: Deps, trainer: Trainer, command: AttachTemplateFile
) -> ProgramTemplate:
    """The checked file added to the template's documents, in a new version of it
    (refused, and the file deleted, when the template already has 5 documents)."""
    programs = store(deps.repo)
    template = programs.get_template(trainer.id, command.template_id)
    with documents_service.discarded_if_stale(deps.files, trainer, command.key):
        same_version(template.version, command.version)
    upload = documents_service.AttachUpload(
        key=command.key, name=command.name, signature=command.signature
    )
    attached = documents_service.file_to_attach(
        deps, trainer, upload, len(template.documents), "template"
    )
    updated = template.model_copy(update={"documents": (*template.documents, attached.document)})
    with documents_service.deleted_unless_attached(deps.files, attached):
        return programs.save_template(trainer.id, updated, template.version)


class BundleDocument(Versioned):
    """Add an uploaded file to a bundle (and its upcoming sessions), or remove its
    `index`-th document (from them too), from the bundle page drawn at `version`."""

    bundle_id: str
    action: Literal["add_document", "remove_document"]
    key: str = ""
    name: str = ""
    signature: str = ""
    index: int | None = None


def change_bundle_documents(deps: Deps, trainer: Trainer, command: BundleDocument) -> Bundle:
    """The bundle's documents and its upcoming sessions' in the chunked write a pack
    payment uses (repo/packs.write_documents); a file added to a bundle that changed
    meanwhile is deleted, not kept unattached. Removing never deletes the file: sessions
    that took place keep it."""
    programs = store(deps.repo)
    bundle = programs.get_bundle(trainer.id, command.bundle_id)
    adding = command.key if command.action == "add_document" else ""
    with documents_service.discarded_if_stale(deps.files, trainer, adding):
        same_version(bundle.version, command.version)
    if bundle.status == "creating":
        raise Conflict("This bundle was not fully created.")
    now = deps.now
    if command.action == "remove_document":
        if command.index is None or not 0 <= command.index < len(bundle.documents):
            raise InvalidInput({"file": "That document is no longer there: reload the page."})
        gone = bundle.documents[command.index]
        kept = tuple(d for i, d in enumerate(bundle.documents) if i != command.index)

        def losing(fresh: Sequence[Session]) -> list[tuple[Session, Session]]:
            return sessions_losing(fresh, gone, now)

        sessions = programs.bundle_sessions(trainer.id, bundle)
        return PackWrites(deps.repo.db).write_documents(
            trainer.id,
            bundle,
            kept,
            losing(sessions),
            losing,
            f"Document removed: {gone.name}",
            now,
        )
    upload = documents_service.AttachUpload(
        key=command.key, name=command.name, signature=command.signature
    )
    attached = documents_service.file_to_attach(
        deps, trainer, upload, len(bundle.documents), "bundle"
    )
    document = attached.document

    def gaining(fresh: Sequence[Session]) -> list[tuple[Session, Session]]:
        return sessions_gaining(fresh, document, now)

    sessions = programs.bundle_sessions(trainer.id, bundle)
    with documents_service.deleted_unless_attached(deps.files, attached):
        return PackWrites(deps.repo.db).write_documents(
            trainer.id,
            bundle,
            (*bundle.documents, document),
            gaining(sessions),
            gaining,
            f"Document added to the bundle: {document.name}",
            now,
        )


def delete_template(deps: Deps, trainer_id: str, command: DeleteTemplate) -> ProgramTemplate:
    programs = store(deps.repo)
    template = programs.get_template(trainer_id, command.template_id)
    same_version(template.version, command.version)
    programs.delete_template(trainer_id, template)
    return template


@dataclass(frozen=True)
class TemplatePage:
    """A template's form: the template being edited (None for a new one) and the
    fields shown."""

    program: ProgramTemplate | None
    form: dict[str, str]


def template_page(
    deps: Deps,
    trainer: Trainer,
    template_id: str | None,
    typed: Mapping[str, str] | None = None,
) -> TemplatePage:
    """The new-template form, or a template's (GetItem). `typed` is a form posted and
    refused, shown again as it was typed."""
    template = store(deps.repo).get_template(trainer.id, template_id) if template_id else None
    if typed is not None:
        form = dict(typed)
    elif template is not None:
        settings = trainer.settings
        form = {
            **offer_form_values(template, settings.currency, settings.locale),
            "version": str(template.version),
        }
    else:
        form = {"sessions": "", "length": "60"}
    return TemplatePage(template, form)


# The wizard ------------------------------------------------------------------------------
def _active_client(repo: Repository, trainer_id: str, client_id: str) -> Client:
    if not client_id:
        raise InvalidInput({"client_id": "Choose a client."})
    try:
        client = repo.get_client(trainer_id, client_id)
    except NotFound:
        raise InvalidInput({"client_id": "Choose one of your clients."}) from None
    if client.archived:
        raise InvalidInput({"client_id": f"{client.name} is archived: restore them first."})
    return client


@dataclass(frozen=True)
class StartPage:
    """Who a new bundle is for: the active clients (from the client index: the picker
    needs their names only) and the templates to start from."""

    clients: tuple[ClientSummary, ...]
    templates: tuple[ProgramTemplate, ...]
    form: dict[str, str]


def start_page(
    deps: Deps, trainer_id: str, chosen: StartDraft, typed: Mapping[str, str] | None = None
) -> StartPage:
    """The client and template pickers, with `chosen` preselected (from a link such as a
    template's "Apply to a client"), or a refused form shown again as `typed`."""
    # One GetItem of the client index, never every client item: the account's clients
    # grow, and the picker shows only names.
    found = deps.repo.client_summaries(trainer_id)
    return StartPage(
        clients=tuple(c for c in found if not c.archived),
        templates=tuple(store(deps.repo).list_templates(trainer_id)),
        form=dict(typed)
        if typed is not None
        else {"client_id": chosen.client_id, "template_id": chosen.template_id},
    )


def start_draft(deps: Deps, trainer: Trainer, command: StartDraft) -> Draft:
    """A new wizard for a client, prefilled from a template when one is chosen."""
    repo = deps.repo
    client = _active_client(repo, trainer.id, command.client_id)
    draft = Draft(id=new_id(), client_id=client.id, created_at=deps.now)
    if command.template_id:
        draft = _with_template(repo, trainer, draft, command.template_id)
    return store(repo).save_draft(trainer.id, draft, 0)


def _with_template(repo: Repository, trainer: Trainer, draft: Draft, template_id: str) -> Draft:
    try:
        template = store(repo).get_template(trainer.id, template_id)
    except NotFound:
        raise InvalidInput({"template_id": "That template no longer exists."}) from None
    return draft.model_copy(
        update={
            "template_id": template.id,
            "template_title": template.title,
            "offer": offer_input(template, trainer.settings.currency, trainer.settings.locale),
        }
    )


@dataclass(frozen=True)
class OfferPage:
    """Step 1: the offer as last typed, and the templates that could fill it."""

    draft: Draft
    client: Client
    form: dict[str, str]
    templates: tuple[ProgramTemplate, ...]
    step: int = 1


def offer_page(deps: Deps, trainer_id: str, draft_id: str) -> OfferPage:
    """The draft (GetItem), its client (GetItem) and the templates (one Query)."""
    repo = deps.repo
    programs = store(repo)
    draft = programs.get_draft(trainer_id, draft_id)
    return OfferPage(
        draft=draft,
        client=repo.get_client(trainer_id, draft.client_id),
        form=draft.offer.typed(),
        templates=tuple(programs.list_templates(trainer_id)),
    )


def save_offer(deps: Deps, trainer: Trainer, command: SaveOffer) -> Draft:
    """Step 1. "Use template" fills the offer from a template; "Continue" keeps what was
    typed and checks it. The draft is saved before the check, so errors lose nothing."""
    repo = deps.repo
    programs = store(repo)
    draft = programs.get_draft(trainer.id, command.draft_id)
    adding = command.key if command.action == "attach_file" else ""
    with documents_service.discarded_if_stale(deps.files, trainer, adding):
        same_version(draft.version, command.version)
    if command.action == "use_template":
        updated = _with_template(repo, trainer, draft, command.template_id)
        return programs.save_draft(trainer.id, updated, draft.version)
    if command.action == "attach_file":
        upload = documents_service.AttachUpload(
            key=command.key, name=command.name, signature=command.signature
        )
        return _with_draft_file(deps, trainer, draft, command.offer_only(), upload)
    updated = programs.save_draft(
        trainer.id, draft.model_copy(update={"offer": command.offer_only()}), draft.version
    )
    parse_offer(
        updated.offer,
        trainer.locations,
        trainer.settings.currency,
        trainer.settings.locale,
        files_prefix(trainer.id),
    )
    return updated


def _with_draft_file(
    deps: Deps,
    trainer: Trainer,
    draft: Draft,
    typed: OfferInput,
    upload: documents_service.AttachUpload,
) -> Draft:
    """The offer as typed with the checked file in its first free document row, in one
    write of the draft. A refused file (deleted by the check) still saves what was typed,
    as every step does; the rows themselves are checked on Continue, as typed ones are."""
    programs = store(deps.repo)
    rows = list(typed.documents)
    free = [i for i, row in enumerate(rows) if not (row.name or row.url or row.key)]
    held = len(rows) - len(free) if free else len(rows)
    try:
        attached = documents_service.file_to_attach(deps, trainer, upload, held, "bundle")
    except InvalidInput:
        programs.save_draft(trainer.id, draft.model_copy(update={"offer": typed}), draft.version)
        raise
    document = attached.document
    rows[free[0]] = DocumentInput(
        name=document.name,
        key=document.key,
        content_type=document.content_type,
        size=str(document.size),
    )
    updated = draft.model_copy(
        update={"offer": typed.model_copy(update={"documents": tuple(rows)})}
    )
    with documents_service.deleted_unless_attached(deps.files, attached):
        return programs.save_draft(trainer.id, updated, draft.version)


def draft_offer(trainer: Trainer, draft: Draft) -> ProgramOffer:
    """The offer of step 1; InvalidInput (on `_form`) if it was never completed."""
    try:
        return parse_offer(
            draft.offer,
            trainer.locations,
            trainer.settings.currency,
            trainer.settings.locale,
            files_prefix(trainer.id),
        )
    except InvalidInput:
        raise InvalidInput({"_form": "Step 1 is not complete: check the offer first."}) from None


def save_schedule(deps: Deps, trainer: Trainer, command: SaveSchedule) -> tuple[Draft, str]:
    """Step 2: Generate dates, add or remove a card, or save the cards to go on (or back).
    Continue also checks every date against the schedule: InvalidInput (on `_form`) if
    one cannot be booked, with the cards saved all the same. Returns the saved draft
    and what was done."""
    programs = store(deps.repo)
    draft = programs.get_draft(trainer.id, command.draft_id)
    same_version(draft.version, command.version)
    offer = draft_offer(trainer, draft)
    action = command.action
    cards = list(command.cards)
    errors: dict[str, str] = {}
    if action == "generate":
        try:
            cards = cards_for(parse_quick(command.quick), offer.sessions)
        except InvalidInput as exc:
            errors = exc.errors
    elif action == "add":
        if len(cards) >= offer.sessions:
            errors = {"_form": f"This bundle has {offer.sessions} sessions: there is no room."}
        else:
            cards.append(DateCard(start=cards[-1].start if cards else ""))
    elif (removed := command.removed_card) is not None:
        del cards[removed]
    saved = programs.save_draft(
        trainer.id,
        draft.model_copy(update={"cards": tuple(cards), "quick": command.quick}),
        draft.version,
    )
    if errors:
        raise InvalidInput(errors)
    if action == "next":
        checked = plan_draft(deps.repo, trainer, saved, deps.now)
        if not checked.ready:
            raise InvalidInput(
                {
                    "_form": checked.problem
                    or "Some dates cannot be booked: change or remove the flagged ones."
                }
            )
    return saved, action


@dataclass(frozen=True)
class Plan:
    """The wizard's draft checked against the schedule: what Validate would create."""

    draft: Draft
    client: Client
    offer: ProgramOffer
    checks: list[CardCheck]
    shares: list[int]
    problem: str | None  # about the cards as a whole

    @property
    def ready(self) -> bool:
        return self.problem is None and all(c.ok for c in self.checks)


def plan(repo: Repository, trainer: Trainer, draft_id: str, now: datetime) -> Plan:
    """Check every card against the schedule: the draft (GetItem), then the client and
    what the schedule holds at all the dates at once (a few BatchGetItems, see
    `ProgramRepository.client_and_schedule_at`), however many weeks they span."""
    return plan_draft(repo, trainer, store(repo).get_draft(trainer.id, draft_id), now)


def plan_draft(repo: Repository, trainer: Trainer, draft: Draft, now: datetime) -> Plan:
    """`plan` for a draft just read or saved."""
    offer = draft_offer(trainer, draft)
    zone = trainer.settings.time_zone
    # First pass without the schedule: where each date would go. A date in the past is
    # refused whatever the schedule holds; every other one is checked against it.
    wanted = [
        c.slot
        for c in check_cards(draft.cards, offer, zone, now, [], [], new_id)
        if c.slot is not None and c.slot.start_utc > now
    ]
    around = store(repo).client_and_schedule_at(trainer.id, draft.client_id, wanted, zone)
    if around.client is None:
        raise NotFound(draft.client_id)
    checks = check_cards(draft.cards, offer, zone, now, around.slots, around.sessions, new_id)
    return Plan(
        draft,
        around.client,
        offer,
        checks,
        split_price(offer.price_minor, offer.sessions),
        card_count_problem(len(checks), offer.sessions),
    )


@dataclass(frozen=True)
class SchedulePage:
    """Step 2: the cards checked against the schedule, and quick scheduling as typed."""

    plan: Plan
    draft: Draft
    client: Client
    quick: dict[str, str]
    step: int = 2
    max_every: int = MAX_EVERY_WEEKS


def schedule_page(deps: Deps, trainer: Trainer, draft_id: str) -> SchedulePage:
    """`plan`, and InvalidInput (on `_form`) while step 1 is not complete."""
    checked = plan(deps.repo, trainer, draft_id, deps.now)
    quick = checked.draft.quick.typed()
    quick["every_weeks"] = quick["every_weeks"] or "1"  # weekly unless typed otherwise
    return SchedulePage(checked, checked.draft, checked.client, quick)


@dataclass(frozen=True)
class ConfirmPage:
    """Step 3: what Validate would create, and how the price is shared."""

    plan: Plan
    draft: Draft
    client: Client
    price_text: str
    step: int = 3


def confirm_page(deps: Deps, trainer: Trainer, draft_id: str) -> ConfirmPage:
    """`plan`, and InvalidInput (on `_form`) while step 1 is not complete."""
    checked = plan(deps.repo, trainer, draft_id, deps.now)
    settings = trainer.settings
    price_text = price_summary(
        checked.offer.price_minor, checked.offer.sessions, settings.currency, settings.locale
    )
    return ConfirmPage(checked, checked.draft, checked.client, price_text)


def create_bundle(deps: Deps, trainer: Trainer, command: CreateBundle) -> Bundle:
    """Validate: the bundle and all its sessions, or nothing (see repo.programs)."""
    repo, links, now = deps.repo, deps.links, deps.now
    programs = store(repo)
    try:
        draft = programs.get_draft(trainer.id, command.draft_id)
    except NotFound:
        programs.get_bundle(trainer.id, command.draft_id)  # NotFound: there never was one
        raise AlreadyCreated("This bundle was already created.") from None
    same_version(draft.version, command.version)
    checked = plan_draft(repo, trainer, draft, now)
    if not checked.ready:
        raise InvalidInput(
            {"_form": checked.problem or "Some dates cannot be booked: fix them in step 2."}
        )
    client, offer = checked.client, checked.offer
    if client.archived:
        raise InvalidInput({"_form": f"{client.name} is archived: restore them first."})
    if draft.template_id:
        try:
            programs.get_template(trainer.id, draft.template_id)
        except NotFound:
            _detach_template(programs, trainer.id, draft)
            raise TemplateGone(_template_gone(draft)) from None
    bundle_id = draft.id  # one draft makes one bundle: a second Validate cannot make two
    planned: list[PlannedSession] = []
    entries: list[BundleEntry] = []
    for index, check in enumerate(checked.checks):
        assert check.slot is not None
        session = _bundle_session(
            check, client, bundle_id, index, offer, checked.shares[index], now
        )
        planned.append(
            PlannedSession(
                check.slot, check.existing, session, link_for(links, trainer.id, client, session)
            )
        )
        entries.append(BundleEntry(ref=session.ref, end_utc=session.end_utc))
    bundle = Bundle(
        id=bundle_id,
        client_id=client.id,
        client_name=client.name,
        template_id=draft.template_id,
        title=offer.title,
        sessions_planned=offer.sessions,
        price_minor=offer.price_minor,
        location_id=offer.location_id,
        length=offer.length,
        video_link=offer.video_link,
        documents=offer.documents,
        entries=tuple(entries),
        created_at=now,
    )
    try:
        created = programs.create_bundle(
            trainer.id,
            bundle,
            planned,
            now,
            draft,
            sold_on=local_today(now, trainer.settings.time_zone),
        )
    except TemplateGone:
        _detach_template(programs, trainer.id, draft)
        raise TemplateGone(_template_gone(draft)) from None
    except SlotTaken as exc:
        raise Conflict(
            f"{exc.label} was taken while you were confirming. Nothing was created: "
            "go back to step 2, change that date and confirm again."
        ) from exc
    observability.count("Bookings", len(planned))
    return created


def _bundle_session(
    check: CardCheck,
    client: Client,
    bundle_id: str,
    index: int,
    offer: ProgramOffer,
    price_minor: int,
    now: datetime,
) -> Session:
    """A session of a bundle: booked into the card's slot, with the bundle's title, link
    and documents, at its share of the price."""
    assert check.slot is not None
    _, session = book(check.slot, new_id(), client.id, client.name, "program", now, price_minor)
    return session.model_copy(
        update={
            "bundle_id": bundle_id,
            "bundle_index": index,
            "bundle_title": offer.title,
            "video_link": offer.video_link,
            "documents": offer.documents,
        }
    )


def _template_gone(draft: Draft) -> str:
    return (
        f"The template “{draft.template_title}” was deleted while this wizard was open. "
        "Nothing was created. Your entries are kept: check them and confirm again."
    )


def _detach_template(programs: ProgramRepository, trainer_id: str, draft: Draft) -> None:
    """Keep the entries but drop the deleted template, so confirming again works."""
    with contextlib.suppress(VersionConflict):  # changed in another tab: that one wins
        programs.save_draft(
            trainer_id, draft.model_copy(update={"template_id": None}), draft.version
        )


# Bundles -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class BundleList:
    """One page of the hub's Customer bundles."""

    current: list[Bundle]  # not completed (active, paused, not created), newest first
    past: list[Bundle]  # completed, most recently over first
    next_cursor: str | None  # the "Older bundles" page, if there is one
    first: bool  # the first page (no cursor)


def bundle_hub(repo: Repository, trainer_id: str, cursor: str, now: datetime) -> BundleList:
    """One Query page of 20 bundles, however many were ever sold. The index sorts the
    bundles that are not over first (nothing ahead of them but their own dates), then
    the others, most recently over first; the page is split by each bundle's state, so
    one whose session was canceled or moved since its last write still shows where its
    state says."""
    after = decode_cursor(cursor)
    if after is not None and not is_hub_cursor(after, trainer_id):
        after = None  # tampered, or another trainer's: the first page
    found, last = store(repo).hub_page(trainer_id, after)
    current = sorted(
        (b for b in found if not b.is_past(now)), key=lambda b: b.created_at, reverse=True
    )
    past = [b for b in found if b.is_past(now)]
    return BundleList(current, past, encode_cursor(last), after is None)


@dataclass(frozen=True)
class HubPage:
    """The Programs tab: Customer bundles (one page) or Models (every template)."""

    which: Literal["bundles", "models"]
    templates: tuple[ProgramTemplate, ...]  # Models only
    page: BundleList | None  # Customer bundles only


def hub_page(
    deps: Deps, trainer_id: str, which: Literal["bundles", "models"], after: str
) -> HubPage:
    """One Query either way: the templates, or one page of the bundles from `after`."""
    if which == "models":
        return HubPage(which, tuple(store(deps.repo).list_templates(trainer_id)), None)
    return HubPage(which, (), bundle_hub(deps.repo, trainer_id, after, deps.now))


@dataclass(frozen=True)
class BundlePage:
    """A bundle's page: progress, state, its sessions and what may be done next."""

    bundle: Bundle
    sessions: list[Session]
    client: Client | None  # None once the client is deleted (clients are archived, not deleted)
    attended: int
    bundle_state: str
    scheduling_problem: str | None  # why no session can be added now
    confirmable: list[Session]  # what Send confirmations would cover
    shares: str  # how the price is shared across the planned sessions
    left: int  # sessions the client has not used yet
    payment_words: str  # "Paid as a pack on 1 Dec 2026 (cash)" / "Paid session by session"
    owing: int  # sessions a pack payment would mark paid now
    tie_choices: list[tuple[str, str]]  # the client's recurring slots (id, label)
    tied_label: str  # the recurring slot the pack is tied to, "" if none
    renewal_problem: str | None  # why the renewal message cannot go now


def bundle_page(deps: Deps, trainer: Trainer, bundle_id: str) -> BundlePage:
    """The bundle (GetItem), then its sessions and client (one BatchGetItem); the weekly
    template (one GetItem) only when the client has recurring slots to tie it to."""
    now = deps.now
    programs = store(deps.repo)
    bundle = programs.get_bundle(trainer.id, bundle_id)
    sessions, client = programs.bundle_sessions_and_client(trainer.id, bundle)
    settings = trainer.settings
    choices = (
        packs.tie_choices(deps.repo.get_setup(trainer.id).template, client)
        if client is not None and (client.recurring or bundle.tied_slot_id)
        else []
    )
    return BundlePage(
        bundle=bundle,
        sessions=sessions,
        client=client,
        attended=bundle.attended(now),
        bundle_state=bundle.state(now),
        scheduling_problem=scheduling_problem(bundle, now),
        confirmable=confirmable(sessions, now),
        shares=price_summary(
            bundle.price_minor, bundle.sessions_planned, settings.currency, settings.locale
        ),
        left=bundle.left(now),
        payment_words=packs.payment_words(bundle),
        owing=sum(1 for s in sessions if packs.owing(s)),
        tie_choices=choices,
        tied_label=dict(choices).get(bundle.tied_slot_id or "", "") if bundle.tied_slot_id else "",
        renewal_problem=packs.renewal_problem(bundle, now),
    )


def change_status(deps: Deps, trainer_id: str, command: ChangeBundleStatus) -> Bundle:
    now = deps.now
    programs = store(deps.repo)
    bundle = programs.get_bundle(trainer_id, command.bundle_id)
    same_version(bundle.version, command.version)
    if bundle.status == "creating":
        raise Conflict("This bundle was not fully created.")
    return programs.set_status(trainer_id, bundle, transition(bundle, command.action, now), now)


def add_session(deps: Deps, trainer: Trainer, command: AddBundleSession) -> Session:
    """One more session for an active bundle (a canceled one replaced, say)."""
    repo, links, now = deps.repo, deps.links, deps.now
    programs = store(repo)
    bundle = programs.get_bundle(trainer.id, command.bundle_id)
    same_version(bundle.version, command.version)
    if problem := scheduling_problem(bundle, now):
        raise InvalidInput({"_form": problem})
    client = _active_client(repo, trainer.id, bundle.client_id)
    offer = ProgramOffer(
        title=bundle.title,
        sessions=bundle.sessions_planned,
        price_minor=bundle.price_minor,
        location_id=bundle.location_id,
        length=bundle.length,
        video_link=bundle.video_link,
        documents=bundle.documents,
    )
    card = DateCard(day=command.day, start=command.start)
    zone = trainer.settings.time_zone
    first = check_cards([card], offer, zone, now, [], [], new_id)[0]
    if first.slot is None:
        raise InvalidInput({"day": first.problem or "Check the date and time."})
    week = repo.get_week_with_sessions(trainer.id, first.slot.week)
    check = check_cards([card], offer, zone, now, week.slots, week.sessions, new_id)[0]
    if not check.ok:
        raise InvalidInput({"day": check.problem or "Check the date and time."})
    assert check.slot is not None
    index = len(bundle.entries)
    session = _bundle_session(check, client, bundle.id, index, offer, bundle.share(index), now)
    session = session.model_copy(update=packs.born_paid(bundle))
    plan_ = PlannedSession(
        check.slot, check.existing, session, link_for(links, trainer.id, client, session)
    )
    try:
        programs.add_session(trainer.id, bundle, plan_, now)
    except SlotTaken as exc:
        raise InvalidInput({"day": f"{exc.label} was just taken: pick another time."}) from exc
    return session


# Confirmations -----------------------------------------------------------------------------
def _place(trainer: Trainer, location_id: str) -> str:
    location = trainer.locations.get(location_id)
    return location.name if location else "the usual place"


def confirmation_message(
    trainer: Trainer,
    bundle: Bundle,
    client: Client,
    session: Session,
    message_id: str,
    session_link: LinkRef,
    now: datetime,
) -> Message:
    """One session's confirmation: by email when the client has an address, else WhatsApp."""
    when = f"{session.label} {session.day.year}"
    index = session.bundle_index if session.bundle_index is not None else 0
    text = render_text(
        "program_confirmation.txt",
        first_name=client.first_name,
        trainer_name=trainer.display_name,
        when=when,
        place=_place(trainer, session.location_id),
        title=bundle.title,
        number=index + 1,
        total=bundle.sessions_planned,
        video_link=session.video_link,
        documents=documents_line(session.documents),
        session_url=LINK_PLACEHOLDER,
    )
    # A bouncing address is not mailed again until edited: WhatsApp instead.
    by_email = bool(client.email) and not client.email_bouncing
    variables = variables_for(
        "program_confirmation",
        first_name=client.first_name,
        trainer=trainer.display_name,
        when=when,
        place=_place(trainer, session.location_id),
        program=bundle.title,
        number=str(index + 1),
        total=str(bundle.sessions_planned),
    )
    return Message(
        id=message_id,
        week=session.week,
        subject_id=session.id,
        subject_ref=session.ref,
        client_id=client.id,
        client_name=client.name,
        kind="confirmation",
        channel=EMAIL if by_email else WHATSAPP,
        to=client.email if by_email else client.phone,
        subject=f"Confirmed: {when} with {trainer.display_name}" if by_email else "",
        **client_sender(trainer, EMAIL if by_email else WHATSAPP),
        text=text,
        link=session_link,
        variables=variables,
        template="program_confirmation",
        created_at=now,
        next_attempt_at=now,
    )


def send_confirmations(
    deps: Deps,
    trainer: Trainer,
    command: SendConfirmations,
    session_url: Callable[[Client, Session], LinkRef],
) -> int:
    """Queue one confirmation per upcoming session. The form carries the round it was
    shown for; a second press of the same form finds that round gone and sends nothing.
    A resend is the next round, from the button the page then shows."""
    now = deps.now
    programs = store(deps.repo)
    bundle = programs.get_bundle(trainer.id, command.bundle_id)
    if command.round_seen != bundle.confirmations_round:
        raise Conflict("These confirmations were already sent: nothing was sent twice.")
    if bundle.status == "creating":
        raise Conflict("This bundle was not fully created.")
    found, client = programs.bundle_sessions_and_client(trainer.id, bundle)
    sessions = confirmable(found, now)
    if not sessions:
        raise InvalidInput({"_form": "There is no upcoming session to confirm."})
    if client is None:
        raise NotFound(bundle.client_id)
    if client.archived:
        raise InvalidInput({"_form": f"{client.name} is archived: restore them first."})
    if client.email_bouncing and not client.phone:
        raise InvalidInput({"_form": email_bounced_text(client)})
    round_number = bundle.confirmations_round + 1
    messages = [
        (
            session,
            confirmation_message(
                trainer,
                bundle,
                client,
                session,
                f"{bundle.id}-r{round_number}-{session.bundle_index or 0:03d}",
                session_url(client, session),
                now,
            ),
        )
        for session in sessions
    ]
    return programs.queue_confirmations(trainer.id, bundle, messages, now)

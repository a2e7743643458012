"""Use cases for programs: templates, the New bundle wizard, bundles and their
confirmations.

The wizard keeps its state in a draft item: every step saves what was typed, as typed,
before checking it, so a reload or the Back button never loses input. Nothing is sent
when a bundle is saved; Send confirmations is its own action.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from chalicelib.domain.clients import Client
from chalicelib.domain.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    VersionConflict,
    expect_version,
)
from chalicelib.domain.messages import EMAIL, LINK_PLACEHOLDER, WHATSAPP, LinkRef, Message
from chalicelib.domain.models import Trainer
from chalicelib.domain.programs import (
    MAX_DOCUMENTS,
    Bundle,
    BundleEntry,
    CardCheck,
    Draft,
    ProgramOffer,
    ProgramTemplate,
    card_count_problem,
    cards_for,
    check_cards,
    confirmable,
    documents_line,
    offer_form_values,
    parse_offer_form,
    parse_quick_form,
    scheduling_problem,
    split_price,
    transition,
)
from chalicelib.domain.schedule import Session, book
from chalicelib.domain.tokens import new_id
from chalicelib.messaging.texts import render_text
from chalicelib.repo.programs import (
    AlreadyCreated,
    PlannedSession,
    ProgramRepository,
    SlotTaken,
    TemplateGone,
    is_hub_cursor,
)
from chalicelib.repo.repository import Repository
from chalicelib.services.links import Links
from chalicelib.services.sessions import decode_cursor, encode_cursor, link_for

OFFER_FIELDS = (
    "title",
    "sessions",
    "price",
    "location_id",
    "length",
    "video_link",
    *(f"doc_{part}_{i}" for i in range(MAX_DOCUMENTS) for part in ("name", "url")),
)
QUICK_FIELDS = ("first_day", "first_time", "every_weeks")


def store(repo: Repository) -> ProgramRepository:
    return ProgramRepository(repo.db)


def _typed(form: Mapping[str, str], fields: tuple[str, ...]) -> dict[str, str]:
    return {name: (form.get(name) or "")[:500] for name in fields}


# Templates ---------------------------------------------------------------------------------
def save_template(
    repo: Repository,
    trainer: Trainer,
    template_id: str | None,
    form: Mapping[str, str],
    now: datetime,
) -> ProgramTemplate:
    """Create a template (no id) or replace one if unchanged since the form was shown."""
    programs = store(repo)
    previous = programs.get_template(trainer.id, template_id) if template_id else None
    if previous is not None:
        expect_version(previous.version, form.get("version"))
    offer = parse_offer_form(
        form, trainer.locations, trainer.settings.currency, trainer.settings.locale
    )
    template = ProgramTemplate(
        **offer.model_dump(),
        id=previous.id if previous else new_id(),
        created_at=previous.created_at if previous else now,
    )
    return programs.save_template(trainer.id, template, previous.version if previous else 0)


def delete_template(
    repo: Repository, trainer_id: str, template_id: str, version: str | None
) -> ProgramTemplate:
    programs = store(repo)
    template = programs.get_template(trainer_id, template_id)
    expect_version(template.version, version)
    programs.delete_template(trainer_id, template)
    return template


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


def start_draft(
    repo: Repository, trainer: Trainer, client_id: str, template_id: str, now: datetime
) -> Draft:
    """A new wizard for a client, prefilled from a template when one is chosen."""
    client = _active_client(repo, trainer.id, client_id)
    draft = Draft(id=new_id(), client_id=client.id, created_at=now)
    if template_id:
        draft = _with_template(repo, trainer, draft, template_id)
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
            "offer": offer_form_values(
                template, trainer.settings.currency, trainer.settings.locale
            ),
        }
    )


@dataclass(frozen=True)
class DraftView:
    draft: Draft
    client: Client


def open_draft(repo: Repository, trainer_id: str, draft_id: str) -> DraftView:
    draft = store(repo).get_draft(trainer_id, draft_id)
    return DraftView(draft, repo.get_client(trainer_id, draft.client_id))


def save_offer(repo: Repository, trainer: Trainer, draft_id: str, form: Mapping[str, str]) -> Draft:
    """Step 1. "Use template" fills the offer from a template; "Continue" keeps what was
    typed and checks it. The draft is saved before the check, so errors lose nothing."""
    programs = store(repo)
    draft = programs.get_draft(trainer.id, draft_id)
    expect_version(draft.version, form.get("version"))
    if form.get("action") == "use_template":
        updated = _with_template(repo, trainer, draft, form.get("template_id", ""))
        return programs.save_draft(trainer.id, updated, draft.version)
    updated = programs.save_draft(
        trainer.id, draft.model_copy(update={"offer": _typed(form, OFFER_FIELDS)}), draft.version
    )
    parse_offer_form(
        updated.offer, trainer.locations, trainer.settings.currency, trainer.settings.locale
    )
    return updated


def draft_offer(trainer: Trainer, draft: Draft) -> ProgramOffer:
    """The offer of step 1; InvalidInput (on `_form`) if it was never completed."""
    try:
        return parse_offer_form(
            draft.offer, trainer.locations, trainer.settings.currency, trainer.settings.locale
        )
    except InvalidInput:
        raise InvalidInput({"_form": "Step 1 is not complete: check the offer first."}) from None


def _cards_from(form: Mapping[str, str]) -> list[dict[str, str]]:
    try:
        count = min(int(form.get("cards") or 0), 200)
    except ValueError:
        count = 0
    return [
        {
            "day": (form.get(f"card_day_{i}") or "")[:20].strip(),
            "start": (form.get(f"card_start_{i}") or "")[:10].strip(),
        }
        for i in range(count)
    ]


def save_schedule(
    repo: Repository, trainer: Trainer, draft_id: str, form: Mapping[str, str]
) -> tuple[Draft, str]:
    """Step 2: Generate dates, add or remove a card, or save the cards to go on (or back).
    Returns the saved draft and what was done."""
    programs = store(repo)
    draft = programs.get_draft(trainer.id, draft_id)
    expect_version(draft.version, form.get("version"))
    offer = draft_offer(trainer, draft)
    action = form.get("action", "")
    cards = _cards_from(form)
    quick = _typed(form, QUICK_FIELDS)
    errors: dict[str, str] = {}
    if action == "generate":
        try:
            cards = cards_for(parse_quick_form(quick), offer.sessions)
        except InvalidInput as exc:
            errors = exc.errors
    elif action == "add":
        if len(cards) >= offer.sessions:
            errors = {"_form": f"This bundle has {offer.sessions} sessions: there is no room."}
        else:
            cards.append({"day": "", "start": cards[-1]["start"] if cards else ""})
    elif action.startswith("remove_"):
        index = action.removeprefix("remove_")
        if index.isdigit() and int(index) < len(cards):
            del cards[int(index)]
    elif action not in ("next", "back"):
        raise InvalidInput({"_form": "Unknown action."})
    saved = programs.save_draft(
        trainer.id, draft.model_copy(update={"cards": tuple(cards), "quick": quick}), draft.version
    )
    if errors:
        raise InvalidInput(errors)
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


def create_bundle(
    repo: Repository,
    links: Links,
    trainer: Trainer,
    draft_id: str,
    version: str | None,
    now: datetime,
) -> Bundle:
    """Validate: the bundle and all its sessions, or nothing (see repo.programs)."""
    programs = store(repo)
    try:
        draft = programs.get_draft(trainer.id, draft_id)
    except NotFound:
        programs.get_bundle(trainer.id, draft_id)  # NotFound: there never was such a wizard
        raise AlreadyCreated("This bundle was already created.") from None
    expect_version(draft.version, version)
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
        return programs.create_bundle(trainer.id, bundle, planned, now, draft)
    except TemplateGone:
        _detach_template(programs, trainer.id, draft)
        raise TemplateGone(_template_gone(draft)) from None
    except SlotTaken as exc:
        raise Conflict(
            f"{exc.label} was taken while you were confirming. Nothing was created: "
            "go back to step 2, change that date and confirm again."
        ) from exc


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
class HubPage:
    """One page of the hub's Customer bundles."""

    current: list[Bundle]  # not completed (active, paused, not created), newest first
    past: list[Bundle]  # completed, most recently over first
    next_cursor: str | None  # the "Older bundles" page, if there is one
    first: bool  # the first page (no cursor)


def bundle_hub(repo: Repository, trainer_id: str, cursor: str, now: datetime) -> HubPage:
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
    return HubPage(current, past, encode_cursor(last), after is None)


@dataclass(frozen=True)
class BundlePage:
    bundle: Bundle
    sessions: list[Session]
    client: Client | None  # None once the client is deleted (clients are archived, not deleted)


def open_bundle(repo: Repository, trainer_id: str, bundle_id: str) -> BundlePage:
    """The bundle (GetItem), then its sessions and client (one BatchGetItem)."""
    programs = store(repo)
    bundle = programs.get_bundle(trainer_id, bundle_id)
    return BundlePage(bundle, *programs.bundle_sessions_and_client(trainer_id, bundle))


def change_status(
    repo: Repository,
    trainer_id: str,
    bundle_id: str,
    action: str,
    version: str | None,
    now: datetime,
) -> Bundle:
    programs = store(repo)
    bundle = programs.get_bundle(trainer_id, bundle_id)
    expect_version(bundle.version, version)
    if bundle.status == "creating":
        raise Conflict("This bundle was not fully created.")
    return programs.set_status(trainer_id, bundle, transition(bundle, action, now), now)


def add_session(
    repo: Repository,
    links: Links,
    trainer: Trainer,
    bundle_id: str,
    form: Mapping[str, str],
    now: datetime,
) -> Session:
    """One more session for an active bundle (a canceled one replaced, say)."""
    programs = store(repo)
    bundle = programs.get_bundle(trainer.id, bundle_id)
    expect_version(bundle.version, form.get("version"))
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
    card = {"day": form.get("day", "").strip(), "start": form.get("start", "").strip()}
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
    by_email = bool(client.email)
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
        text=text,
        link=session_link,
        created_at=now,
        next_attempt_at=now,
    )


def send_confirmations(
    repo: Repository,
    trainer: Trainer,
    bundle_id: str,
    round_seen: str | None,
    session_url: Callable[[Client, Session], LinkRef],
    now: datetime,
) -> int:
    """Queue one confirmation per upcoming session. The form carries the round it was
    shown for; a second press of the same form finds that round gone and sends nothing.
    A resend is the next round, from the button the page then shows."""
    programs = store(repo)
    bundle = programs.get_bundle(trainer.id, bundle_id)
    if (round_seen or "").strip() != str(bundle.confirmations_round):
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

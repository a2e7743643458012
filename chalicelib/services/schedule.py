"""Use cases for the Schedule tab: the week and day views, one-off slots, the open-slot
page and its actions, moves of a session in Changing, Apply template.

Each page is one call returning a frozen view model (`week_page`, `new_slot_page`,
`slot_page`); each form is one call taking its command (`add_one_off`, `change_slot`,
`move_session`, `apply`). The lower-level helpers below them (`add_slot`, `allocate`,
`apply_template`, …) keep taking the repository, for scripts and other services.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import ClassVar, Literal

from pydantic import Field

from chalicelib import observability
from chalicelib.domain import packs
from chalicelib.domain.clients import Client
from chalicelib.domain.commands import Versioned
from chalicelib.domain.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    VersionConflict,
    expect_version,
)
from chalicelib.domain.grid import (
    GRID_MINUTES,
    MINUTES_PER_DAY,
    ScheduleNav,
    clock_choices,
    format_clock,
    range_label,
    schedule_nav,
)
from chalicelib.domain.messages import Message
from chalicelib.domain.models import LocationName, Trainer
from chalicelib.domain.offers import can_be_offered, live_offer
from chalicelib.domain.programs import Bundle, BundleEntry
from chalicelib.domain.schedule import (
    MAX_WEEKS_AT_ONCE,
    AddSlot,
    ApplyTemplate,
    LogEntry,
    Offer,
    Session,
    Skip,
    Slot,
    WeekPlan,
    book,
    handled_recurring,
    make_slot,
    parse_one_off,
    parse_week,
    plan_template_week,
    recurring_booking_skip,
    week_days,
    weeks_to_apply,
)
from chalicelib.domain.settings import TrainerSettings
from chalicelib.domain.skips import skip_reason
from chalicelib.domain.template import WeeklyTemplate
from chalicelib.domain.time_off import TimeOff, TimeOffPeriod, keep_out_of_time_off
from chalicelib.domain.timeutil import local_today, week_key
from chalicelib.domain.tokens import new_id
from chalicelib.domain.travel import TravelClash, booked_too_close
from chalicelib.repo.bundles import PlannedSession, SlotTaken
from chalicelib.repo.repository import Account, ClientSummary, Repository, Week
from chalicelib.repo.schedule import NewSlot
from chalicelib.services import offers, sessions, travel
from chalicelib.services.deps import Deps
from chalicelib.services.links import Links
from chalicelib.services.programs import store as programs_store


# Commands ----------------------------------------------------------------------------------
class SlotAction(Versioned):
    """One of the open-slot page's forms; `action` is the button pressed. Each form sends
    only its own fields: the others keep their defaults and the action ignores them."""

    messages: ClassVar[dict[str, str]] = {"action": "Unknown action."}

    week: str  # from the URL, checked by the view
    slot_id: str  # from the URL
    action: Literal["remove", "allocate", "offer", "withdraw", "location"]
    client_id: str = ""  # allocate, offer
    location_id: str = ""  # location
    travel_ok: bool = False  # allocate: "Book anyway" past a travel-time clash


class MoveSession(Versioned):
    """Move here: the session in Changing (its ref, the form's `session`) into an open slot
    of a week, at the session's version the schedule was drawn with."""

    session_ref: str = Field(default="", alias="session")
    week: str = ""
    slot_id: str = ""
    quiet: bool = False  # "Don't notify the client" (unticked: the client is told)
    note: str = ""  # the trainer's note to the client, free text
    travel_ok: bool = False  # "Move anyway" past a travel-time clash


@dataclass(frozen=True)
class AppliedWeek:
    plan: WeekPlan
    added: list[Slot]
    booked: list[Session]  # recurring clients booked into the added slots
    lost_races: int  # slots another request took between our read and our write
    left_open: list[Skip] = field(default_factory=list)  # added, but its client not booked


def recurring_bookings(holders: Mapping[str, str], clients: list[Client]) -> dict[str, Client]:
    """Template slot id -> the active client who holds it as a recurring slot (its claim
    names them, and their profile lists it)."""
    by_id = {c.id: c for c in clients}
    return {
        t: client
        for t, client_id in holders.items()
        if (client := by_id.get(client_id)) is not None
        and not client.archived
        and t in client.recurring
    }


def skipped_by_client(client: Client, slot: Slot) -> str | None:
    """The summary's line when the client skipped this date or paused (the slot is still
    added, open); their skips came with the client item, at no extra read."""
    reason = skip_reason(client.skips, client.first_name, slot.template_slot_id or "", slot.day)
    return f"left open: {reason}" if reason else None


def this_week(trainer: Trainer, now: datetime) -> str:
    return week_key(local_today(now, trainer.settings.time_zone))


def find_slot(repo: Repository, trainer_id: str, week: str, slot_id: str) -> Slot:
    for slot in repo.get_week(trainer_id, week):
        if slot.id == slot_id:
            return slot
    raise NotFound(slot_id)


def add_slot(repo: Repository, trainer: Trainer, command: AddSlot, now: datetime) -> Slot:
    """A one-off slot from the `+ Add` form: on the grid, in the future, not overlapping."""
    day, start, end, location_id = parse_one_off(command, trainer.locations)
    slot = make_slot(new_id(), day, start, end, location_id, trainer.settings.time_zone)
    if slot.start_utc <= now:
        raise InvalidInput({"start": "That time has passed: pick a time in the future."})
    clash = next((s for s in repo.get_week(trainer.id, slot.week) if s.overlaps(slot)), None)
    if clash is not None:
        raise InvalidInput({"start": f"This overlaps the slot {clash.label}."})
    repo.add_slot(trainer.id, slot)  # the guards refuse a slot added meanwhile
    return slot


def remove_slot(
    repo: Repository, trainer_id: str, slot: Slot, version: str | None, now: datetime
) -> None:
    expect_version(slot.version, version)
    if not slot.is_open:
        raise Conflict("This slot is booked: cancel or move the session first.")
    if live_offer(slot, now) is not None:
        raise Conflict(
            f"This slot is offered to {slot.offer.client_name} until the offer ends: "
            "withdraw the offer first."
        )
    repo.remove_slot(trainer_id, slot, now)


def move_slot(
    repo: Repository,
    trainer: Trainer,
    slot: Slot,
    location_id: str,
    version: str | None,
    now: datetime,
) -> Slot:
    expect_version(slot.version, version)
    location = trainer.locations.get(location_id)
    if location is None or location.archived:
        raise InvalidInput({"location_id": "Pick one of your active locations."})
    if (offer := live_offer(slot, now)) is not None:
        raise Conflict(
            f"This slot is offered to {offer.client_name}, who was told its place: "
            "withdraw the offer first."
        )
    return repo.move_slot_location(trainer.id, slot, location_id, now)


def apply_template(
    repo: Repository,
    links: Links,
    trainer: Trainer,
    first_week: str,
    weeks: int,
    now: datetime,
) -> list[AppliedWeek]:
    """Apply the weekly template to `weeks` weeks from `first_week`; each week on its own.

    The whole range is checked before anything is written, so a refused request writes
    nothing and an accepted one reports exactly what each week got."""
    chosen = weeks_to_apply(first_week, weeks, this_week(trainer, now))
    # The set-up read says who holds each template slot (only those clients are read),
    # and holds the time off: no slot is added there, so nobody is booked there.
    account, time_off = repo.time_off.account_with_time_off(trainer.id)
    template = account.setup.template
    holders = account.recurring_holders()
    recurring = recurring_bookings(holders, repo.get_clients(trainer.id, holders.values()))
    tied = tied_packs(repo, trainer.id, recurring)
    results = [
        _apply_week(repo, links, trainer, template, recurring, week, now, time_off, tied)
        for week in chosen
    ]
    booked = sum(len(r.booked) for r in results)
    if booked:
        observability.count("Bookings", booked)
    if any(r.added for r in results) and trainer.template_applied_at is None:
        repo.mark_template_applied(trainer.id, now)
    return results


def _apply_week(
    repo: Repository,
    links: Links,
    trainer: Trainer,
    template: WeeklyTemplate,
    recurring: dict[str, Client],
    week: str,
    now: datetime,
    time_off: TimeOff,
    tied: dict[str, Bundle] | None = None,
) -> AppliedWeek:
    existing = repo.get_week_with_sessions(trainer.id, week)
    tied = {} if tied is None else tied
    pack_entries: list[NewSlot] = []
    live = {s.slot_id: s.client_name for s in existing.sessions if s.is_live}
    planned = plan_template_week(
        template,
        trainer.locations,
        week,
        trainer.settings.time_zone,
        now,
        existing.slots,
        new_id,
        live,
    )
    plan = keep_out_of_time_off(planned, time_off)
    handled = handled_recurring(existing.sessions, existing.slots)
    entries, left_open = [], []
    # Bookings this run has planned so far: a later one too close to one of them (travel
    # time) is left open, as one too close to a session already in the week is.
    planned_booked: list[Slot] = []
    planned_sessions: list[Session] = []
    for slot in plan.add:
        client = recurring.get(slot.template_slot_id or "")
        if client is None:
            entries.append(NewSlot(slot))
            continue
        reason = recurring_booking_skip(
            client.name, client.location_ids, slot, handled.get(client.id, set())
        ) or skipped_by_client(client, slot)
        if not reason:
            near = travel.around(repo, trainer, slot, existing)
            with_planned = travel.Around(
                (*near.slots, *planned_booked), (*near.sessions, *planned_sessions)
            )
            clash = travel.clash(trainer, slot, with_planned)
            reason = clash.left_open(client.name) if clash else None
        if reason:
            left_open.append(Skip(slot.label, reason))
            entries.append(NewSlot(slot))
            continue
        booking = book(
            slot, new_id(), client.id, client.name, "recurring", now, client.price_minor
        )[1]
        planned_booked.append(slot.model_copy(update={"session_id": booking.id}))
        planned_sessions.append(booking)
        entry = NewSlot(
            slot,
            booking,
            sessions.link_for(links, trainer.id, client, booking),
            travel.neighbours(trainer, slot, near),
            client.skips_rev,
        )
        pack = tied.get(slot.template_slot_id or "")
        if pack is not None and packs.takes_booking(pack, now):
            # The pack's place is claimed in its own write (the bundle as read).
            pack_entries.append(entry)
            continue
        entries.append(entry)
    pack_booked, pack_open, pack_lost = _write_pack_bookings(repo, trainer, pack_entries, tied, now)
    entries += pack_open
    # A week's slots go in as few transactions as fit: each still all or nothing, so a
    # time taken meanwhile (or a location archived) loses only its own slot, and a
    # client archived meanwhile leaves theirs open.
    written = repo.add_slots(trainer.id, entries)
    added = [entries[i].slot for i in written.written] + [e.slot for e in pack_booked]
    booked = [b for i in written.booked if (b := entries[i].booking) is not None]
    booked += [e.booking for e in pack_booked if e.booking is not None]
    lost = len(written.lost) + pack_lost
    left_open += [Skip(entries[i].slot.label, BOOKED_NEXT_TO_IT) for i in written.too_close]
    for index in written.client_changed:
        entry = entries[index]
        assert entry.booking is not None
        reason = _book_changed_client(repo, trainer, entry)
        if reason:
            left_open.append(Skip(entry.slot.label, reason))
        else:
            booked.append(entry.booking)
    return AppliedWeek(plan, added, booked, lost, left_open)


# Packs tied to recurring slots (docs/packs.md) ------------------------------------------------


def tied_packs(
    repo: Repository, trainer_id: str, recurring: Mapping[str, Client]
) -> dict[str, Bundle]:
    """Template slot id -> the pack its client tied to it (one BatchGetItem, only when a
    recurring client has a tie): Apply template books those weeks as the pack's sessions."""
    wanted = {
        slot_id: bundle_id
        for slot_id, client in recurring.items()
        if (bundle_id := client.pack_for(slot_id)) is not None
    }
    if not wanted:
        return {}
    found = {b.id: b for b in programs_store(repo).get_bundles(trainer_id, wanted.values())}
    return {
        slot_id: found[bundle_id]
        for slot_id, bundle_id in wanted.items()
        if bundle_id in found and found[bundle_id].client_id == recurring[slot_id].id
    }


def pack_booking(booking: Session, pack: Bundle) -> Session:
    """A recurring booking made one of its pack's sessions: the pack's next place, its
    share of the price, paid when the pack is, with the pack's link and documents."""
    index = len(pack.entries)
    return booking.model_copy(
        update={
            "bundle_id": pack.id,
            "bundle_index": index,
            "bundle_title": pack.title,
            "price_minor": pack.share(index),
            "video_link": pack.video_link,
            "documents": pack.documents,
            **packs.born_paid(pack),
        }
    )


def _with_entry(pack: Bundle, booking: Session) -> Bundle:
    """The pack as it is once `booking` is written (the next write's bundle as read)."""
    return pack.model_copy(
        update={
            "entries": (
                *pack.entries,
                BundleEntry(ref=booking.ref, end_utc=booking.end_utc, status=booking.status),
            ),
            "version": pack.version + 1,
        }
    )


def _write_pack_bookings(
    repo: Repository,
    trainer: Trainer,
    pending: list[NewSlot],
    tied: dict[str, Bundle],
    now: datetime,
) -> tuple[list[NewSlot], list[NewSlot], int]:
    """Each recurring booking of a tied pack in its own write, in order: (booked as pack
    sessions, to add as Apply template's other entries, lost). A pack changed meanwhile
    (a session added by hand) is read again and its place taken if one is still free;
    with none, or when the client changed or a neighbour was booked, the entry goes in
    with the others as an ordinary booking (they handle those cases). `tied` moves on
    with each write, for the weeks after."""
    programs = programs_store(repo)
    booked: list[NewSlot] = []
    ordinary: list[NewSlot] = []
    lost = 0
    for entry in pending:
        recurring = entry.booking
        assert recurring is not None
        slot_id = entry.slot.template_slot_id or ""
        bundle: Bundle | None = tied.get(slot_id)
        outcome = "ordinary"
        for _attempt in range(2):
            if bundle is None or not packs.takes_booking(bundle, now):
                break
            booking = pack_booking(recurring, bundle)
            assert entry.link is not None
            plan = PlannedSession(entry.slot, False, booking, entry.link)
            try:
                programs.add_session(
                    trainer.id,
                    bundle,
                    plan,
                    now,
                    neighbours=entry.neighbours,
                    skips_rev=entry.skips_rev,
                )
            except VersionConflict:
                bundle = programs.get_bundle(trainer.id, bundle.id)
                continue
            except SlotTaken:
                outcome = "lost"
                break
            except Conflict:
                break
            bundle = _with_entry(bundle, booking)
            booked.append(replace(entry, booking=booking))
            outcome = "booked"
            break
        if bundle is not None:
            tied[slot_id] = bundle
        if outcome == "lost":
            lost += 1
        elif outcome == "ordinary":
            ordinary.append(entry)
    return booked, ordinary, lost


def _book_changed_client(repo: Repository, trainer: Trainer, entry: NewSlot) -> str | None:
    """A recurring booking whose client changed between Apply template's read and its
    write (archived, or a week skipped) went in open. Read the client again and book
    the slot now unless the change covers it: why it stays open, or None once booked.
    Rare (a change in those milliseconds), so one read and one write each."""
    booking = entry.booking
    assert booking is not None
    client = repo.get_client(trainer.id, booking.client_id)
    if client.archived:
        return f"left open: {client.name} was archived meanwhile"
    skipped = skipped_by_client(client, entry.slot)
    if skipped:
        return skipped
    try:
        repo.book_slot(
            trainer.id,
            entry.slot,
            booking,
            entry.link,
            note="Booked by Apply template (recurring slot)",
            neighbours=entry.neighbours,
            skips_rev=client.skips_rev,
        )
    except Conflict:
        return CLIENT_CHANGED.format(name=client.name)
    return None


CLIENT_CHANGED = "left open: {name}'s profile changed while it was being booked: book it by hand"
BOOKED_NEXT_TO_IT = (
    "left open: a session at another place was booked too close to it meanwhile (travel time)"
)


def allocate(
    repo: Repository,
    links: Links,
    trainer: Trainer,
    slot: Slot,
    client_id: str,
    version: str | None,
    now: datetime,
    near: travel.Around | None = None,
    *,
    anyway: bool = False,
) -> Session:
    """Book a client into an open slot by hand (a Manual session). `near`: the slots
    around it for the travel-time check, when the caller has read its week (else read
    here); `anyway`: the trainer ticked "Book anyway"."""
    expect_version(slot.version, version)
    if not client_id:
        raise InvalidInput({"client_id": "Choose a client."})
    try:
        client = repo.get_client(trainer.id, client_id)
    except NotFound:
        raise InvalidInput({"client_id": "Choose one of your clients."}) from None
    if client.archived:
        raise InvalidInput({"client_id": f"{client.name} is archived: restore them first."})
    if not slot.is_open:
        raise Conflict("This slot is already booked.")
    if live_offer(slot, now) is not None:
        raise Conflict(
            f"This slot is offered to {slot.offer.client_name} until the offer ends: "
            "withdraw the offer first."
        )
    if slot.start_utc <= now:
        raise InvalidInput({"client_id": "This slot has started: it cannot be booked any more."})
    if near is None:
        near = travel.around(repo, trainer, slot)
    neighbours = travel.check_trainer_booking(trainer, slot, near, anyway=anyway)
    _taken, session = book(
        slot, new_id(), client.id, client.name, "manual", now, client.price_minor
    )
    link = sessions.link_for(links, trainer.id, client, session)
    repo.book_slot(trainer.id, slot, session, link, neighbours=neighbours)
    observability.count("Bookings")
    return session


def slot_in(week: Week, slot_id: str) -> Slot:
    """The slot of a week read earlier (a slot id from another week or trainer: 404)."""
    slot = next((s for s in week.slots if s.id == slot_id), None)
    if slot is None:
        raise NotFound(slot_id)
    return slot


def active_locations(trainer: Trainer) -> list[tuple[str, str]]:
    """(id, name) of the trainer's active locations, by name: from the profile's mirror."""
    active = [(lid, loc.name) for lid, loc in trainer.locations.items() if not loc.archived]
    return sorted(active, key=lambda pair: pair[1].casefold())


def changing_session(repo: Repository, trainer_id: str, ref: str, now: datetime) -> Session | None:
    """The session being moved, while the schedule is shown to pick its new slot: only a
    live, upcoming session in Changing (any other ref shows the plain schedule)."""
    if not ref:
        return None
    try:
        booking = sessions.find_session(repo, trainer_id, ref)
    except NotFound:
        return None
    if not booking.is_live or not booking.changing or booking.is_past(now):
        return None
    return booking


def matched_slots(repo: Repository, trainer: Trainer, week: Week, now: datetime) -> frozenset[str]:
    """Open, unlocked, future slots with at least one last-minute match (amber). One
    set-up read (client index, opt-ins, template) for the whole week, none when no slot
    of the week can be offered."""
    return _matches_and_time_off(repo, trainer, week, now, needs_time_off=False)[0]


def _matches_and_time_off(
    repo: Repository, trainer: Trainer, week: Week, now: datetime, *, needs_time_off: bool
) -> tuple[frozenset[str], TimeOff | None]:
    """The amber slots, and the time off when the set-up read was made anyway (it holds
    it) or `needs_time_off` asks for it (one GetItem then). A slot in time off is never
    amber: no last-minute offer goes there; nor is one too close to a session at another
    place (travel time): no client could take it."""
    trainer_id, travel_minutes = trainer.id, trainer.settings.travel_minutes
    candidates = [
        s
        for s in week.slots
        if can_be_offered(s, now) and booked_too_close(s, week.slots, travel_minutes) is None
    ]
    store = repo.time_off
    if not candidates:
        return frozenset(), store.get_time_off(trainer_id) if needs_time_off else None
    account, time_off = store.account_with_time_off(trainer_id)
    return frozenset(
        s.id
        for s in candidates
        if time_off.covering(s.start_utc, s.end_utc) is None
        and offers.slot_matches(s, account, week)
    ), time_off


def refuse_offer_too_close(trainer: Trainer, slot: Slot, near: travel.Around) -> None:
    """An offer is the client's to accept, and a client cannot book past travel time:
    the trainer is told now, with both sessions named, rather than the client later."""
    found = travel.clash(trainer, slot, near)
    if found is not None:
        raise InvalidInput({"client_id": f"No offer here: {found.message}"})


def refuse_offer_in_time_off(slot: Slot, time_off: TimeOff) -> None:
    period = time_off.covering(slot.start_utc, slot.end_utc)
    if period is not None:
        raise InvalidInput(
            {"client_id": f"This slot is in your {period.title.lower()}: no offer goes there."}
        )


# The week and day views --------------------------------------------------------------------
ScheduleView = Literal["day", "week"]


@dataclass(frozen=True)
class WeekPage:
    """The schedule for a day or a week: the week's slots and sessions as read once, and
    what the grid, the toolbar and the Apply form say about them."""

    view: ScheduleView
    week: str  # the week of the first day shown: what Apply and the Week button use
    day: date  # the day the Day button opens
    today: date
    days: tuple[date, ...]  # the days shown: one, or Monday to Sunday
    previous: date  # where the arrows go (a day or a week away)
    next: date
    label: str  # the heading: "Thursday 26 November 2026" or "23 Nov – 29 Nov 2026"
    nav: ScheduleNav
    slots: tuple[Slot, ...]
    sessions: tuple[Session, ...]
    matched: frozenset[str]  # open slots with last-minute matches (amber)
    time_off: tuple[TimeOffPeriod, ...]  # periods on the days shown (none for past weeks)
    moving: Session | None  # the session in Changing whose new slot is being picked
    settings: TrainerSettings  # the grid's hours and time zone
    locations: Mapping[str, LocationName]  # names for the blocks (the profile's mirror)
    now: datetime  # the request's instant: which offers are live, where the grid opens


def week_page(
    deps: Deps,
    trainer: Trainer,
    *,
    view: str = "",
    day: date | None = None,
    week: str | None = None,
    move_ref: str = "",
) -> WeekPage:
    """The week (or day) asked for, else the week or day of today: the week's Query, and
    the set-up read only when a slot of it could be amber. `view` falls back to the day
    view when only a day is given, else to the trainer's default."""
    repo, now, settings = deps.repo, deps.now, trainer.settings
    today = local_today(now, settings.time_zone)
    moving = changing_session(repo, trainer.id, move_ref, now)
    asked = view or ("day" if day else settings.default_view)
    chosen: ScheduleView = "day" if asked == "day" else "week"  # an unknown view: the week
    week = week or week_key(day or today)
    if day is None:
        day = today if week_key(today) == week else week_days(week)[0]
    shown = (day,) if chosen == "day" else tuple(week_days(week))
    data = repo.get_week_with_sessions(trainer.id, week_key(shown[0]))
    # The band comes from the profile's copy of the time off, read with the session: every
    # week not over shows it at no read of its own, whatever its slots. A profile from
    # before the copy existed falls back to what was read anyway (the set-up read made for
    # amber holds the item), or to one GetItem for days holding no slot at all.
    mirrored = trainer.time_off
    not_over = shown[-1] >= today
    bare = mirrored is None and not_over and not any(s.day in shown for s in data.slots)
    matched, read = _matches_and_time_off(repo, trainer, data, now, needs_time_off=bare)
    time_off = read if mirrored is None else mirrored if not_over else None
    step = timedelta(days=1 if chosen == "day" else 7)
    return WeekPage(
        view=chosen,
        week=week_key(shown[0]),
        day=day,
        today=today,
        days=shown,
        previous=shown[0] - step,
        next=shown[0] + step,
        label=range_label(shown),
        nav=schedule_nav(shown, MAX_WEEKS_AT_ONCE),
        slots=tuple(data.slots),
        sessions=tuple(data.sessions),
        matched=matched,
        time_off=tuple(
            p for p in (time_off.periods if time_off else ()) if any(p.covers_day(d) for d in shown)
        ),
        moving=moving,
        settings=settings,
        locations=dict(trainer.locations),
        now=now,
    )


# + Add a one-off slot ----------------------------------------------------------------------
@dataclass(frozen=True)
class NewSlotPage:
    form: Mapping[str, str]  # the inputs as shown: the cell's defaults, or what was typed
    locations: list[tuple[str, str]]  # the active ones, (id, name) by name
    start_times: list[tuple[int, str]]
    end_times: list[tuple[int, str]]


def new_slot_page(
    trainer: Trainer,
    day: date | None = None,
    start: str = "09:00",
    *,
    typed: Mapping[str, str] | None = None,
) -> NewSlotPage:
    """The `+ Add` form: for an empty cell (its day and start, an hour long), or again
    with what was `typed` after a refusal. It reads nothing: the locations come from the
    profile's mirror."""
    if typed is None:
        typed = {"day": day.isoformat() if day else "", "start": start, "end": ""}
        try:
            minutes = int(start[:2]) * 60 + int(start[3:5])
            typed["end"] = format_clock(min(minutes + 60, MINUTES_PER_DAY))
        except ValueError:
            pass  # a start that is not HH:MM leaves the end to the trainer
    return NewSlotPage(
        form=dict(typed),
        locations=active_locations(trainer),
        start_times=clock_choices(0, MINUTES_PER_DAY - GRID_MINUTES),
        end_times=clock_choices(GRID_MINUTES, MINUTES_PER_DAY),
    )


def add_one_off(deps: Deps, trainer: Trainer, command: AddSlot) -> Slot:
    """The `+ Add` form's use case (see `add_slot`)."""
    return add_slot(deps.repo, trainer, command, deps.now)


# The open-slot page ------------------------------------------------------------------------
@dataclass(frozen=True)
class SlotPage:
    """An open slot: its offer (live, or who matches), the pickers, its offer history."""

    slot: Slot
    location: LocationName | None  # None once the location is deleted
    live_offer: Offer | None
    minutes_left: int  # of the live offer (at least 1 while it is live)
    matches: list[ClientSummary]  # who could be sent an offer now (none unless it can be)
    lock_minutes: int  # how long an offer sent now holds the slot
    time_zone: str  # the trainer's, for the times shown
    log: list[LogEntry | Message]  # the slot's offers and what became of them
    clients: list[ClientSummary]  # the active clients, by name: Allocate's choices
    locations: list[tuple[str, str]]  # the active locations: Change location's choices
    confirming: str = ""  # "remove" once Remove slot… was pressed
    # A booked session at another place too close to it (travel time): said before
    # anyone is booked here, and no offer goes out for it.
    clash: TravelClash | None = None


@dataclass(frozen=True)
class MoveHerePage:
    """An open slot picked for the session in Changing: confirm the move."""

    slot: Slot
    moving: Session
    location: LocationName | None
    was_at: LocationName | None  # the session's location now
    clash: TravelClash | None = None  # travel time: asked "Move anyway" before moving


def slot_page(
    deps: Deps, trainer: Trainer, week: str, slot_id: str, *, confirming: str = ""
) -> SlotPage:
    """The open slot's page: the week's Query finds the slot, and its sessions say who is
    booked then; the set-up read gives the matches and the picker; then the slot's log."""
    data = deps.repo.get_week_with_sessions(trainer.id, week)
    slot = slot_in(data, slot_id)
    account = deps.repo.get_account(trainer.id)
    return _open_slot_page(deps, trainer, slot, data, account, confirming)


def slot_or_move_here(
    deps: Deps,
    trainer: Trainer,
    week: str,
    slot_id: str,
    *,
    move_ref: str = "",
    confirming: str = "",
) -> SlotPage | MoveHerePage:
    """A slot picked on the schedule: while a session is being moved (`move_ref`), an open
    slot asks to move it here (the week and the session, no more); else the slot's page."""
    if not move_ref:
        return slot_page(deps, trainer, week, slot_id, confirming=confirming)
    data = deps.repo.get_week_with_sessions(trainer.id, week)
    slot = slot_in(data, slot_id)
    moving = changing_session(deps.repo, trainer.id, move_ref, deps.now)
    if moving is not None and slot.is_open:
        return move_here_page(deps, trainer, slot, moving, data)
    account = deps.repo.get_account(trainer.id)
    return _open_slot_page(deps, trainer, slot, data, account, confirming)


def move_here_page(
    deps: Deps,
    trainer: Trainer,
    slot: Slot,
    moving: Session,
    week: Week,
) -> MoveHerePage:
    near = travel.around(deps.repo, trainer, slot, week)
    return MoveHerePage(
        slot=slot,
        moving=moving,
        location=trainer.locations.get(slot.location_id),
        was_at=trainer.locations.get(moving.location_id),
        clash=travel.clash(trainer, slot, near, moving=moving),
    )


def move_here_again(deps: Deps, trainer: Trainer, command: MoveSession) -> MoveHerePage | None:
    """The move's confirmation once more, after a refusal that asks "Move anyway"; None
    when the session or the slot is not there to show any more."""
    try:
        moving = sessions.find_session(deps.repo, trainer.id, command.session_ref)
        data = deps.repo.get_week_with_sessions(trainer.id, parse_week(command.week))
    except (NotFound, InvalidInput):
        return None
    slot = next((s for s in data.slots if s.id == command.slot_id and s.is_open), None)
    return move_here_page(deps, trainer, slot, moving, data) if slot else None


def _open_slot_page(
    deps: Deps,
    trainer: Trainer,
    slot: Slot,
    week: Week,
    account: Account,
    confirming: str = "",
) -> SlotPage:
    now = deps.now
    live = live_offer(slot, now)
    minutes_left = max(1, int((live.expires_at - now).total_seconds() // 60)) if live else 0
    clash = travel.clash(trainer, slot, travel.around(deps.repo, trainer, slot, week))
    offerable = can_be_offered(slot, now) and clash is None
    return SlotPage(
        slot=slot,
        location=trainer.locations.get(slot.location_id),
        live_offer=live,
        minutes_left=minutes_left,
        matches=offers.slot_matches(slot, account, week) if offerable else [],
        lock_minutes=trainer.settings.offer_lock_minutes,
        time_zone=trainer.settings.time_zone,
        log=deps.repo.log_of(trainer.id, slot.week, slot.id),
        clients=account.active_clients(),
        locations=active_locations(trainer),
        confirming=confirming,
        clash=clash,
    )


@dataclass(frozen=True)
class SlotChanged:
    action: str  # which button was pressed: what the schedule confirms
    week: str  # the slot's week, where the schedule opens
    booked: Session | None = None  # allocate: the new session, whose page comes next


class SlotRefused(InvalidInput):
    """An open-slot action refused, by a rule (`status` 400) or by a change made elsewhere
    (409): why, by command field or `_form`, and the page to show again, made from the
    reads the refusal already made (the week is not read twice)."""

    def __init__(self, status: int, errors: dict[str, str], page: SlotPage) -> None:
        super().__init__(errors)
        self.status = status
        self.page = page


def change_slot(
    deps: Deps, trainer: Trainer, command: SlotAction, base_url: Callable[[], str]
) -> SlotChanged:
    """Do what the open-slot page's button asks, in one write after the week's Query (and
    the set-up read for an offer's matches, the client for an allocation or an offer).
    `base_url` is asked only when an offer makes a link."""
    repo, links, now, tid = deps.repo, deps.links, deps.now, trainer.id
    week = repo.get_week_with_sessions(tid, command.week)
    slot = slot_in(week, command.slot_id)
    version = sessions.submitted_version(command.version)
    account: Account | None = None
    booked = None
    try:
        if command.action == "remove":
            remove_slot(repo, tid, slot, version, now)
        elif command.action == "allocate":
            near = travel.around(repo, trainer, slot, week)
            booked = allocate(
                repo,
                links,
                trainer,
                slot,
                command.client_id,
                version,
                now,
                near,
                anyway=command.travel_ok,
            )
        elif command.action == "offer":
            offer_url = base_url()
            account, time_off = repo.time_off.account_with_time_off(tid)
            refuse_offer_in_time_off(slot, time_off)
            refuse_offer_too_close(trainer, slot, travel.around(repo, trainer, slot, week))
            # Every match, not only while the page would list them: the offer's own rules
            # then say why a booked, started or held slot cannot be offered.
            matches = offers.slot_matches(slot, account, week)
            offers.send_offer(
                repo,
                links,
                trainer,
                slot,
                command.client_id,
                version,
                offer_url,
                now,
                matches=matches,
            )
        elif command.action == "withdraw":
            offers.withdraw(repo, tid, slot, now)
        else:
            move_slot(repo, trainer, slot, command.location_id, version, now)
    except InvalidInput as exc:
        account = account or repo.get_account(tid)
        page = _open_slot_page(deps, trainer, slot, week, account)
        raise SlotRefused(400, exc.errors, page) from exc
    except (VersionConflict, Conflict) as exc:
        account = account or repo.get_account(tid)
        page = _open_slot_page(deps, trainer, slot, week, account)
        raise SlotRefused(409, {"_form": exc.user_message}, page) from exc
    return SlotChanged(command.action, slot.week, booked)


# Moves of a session in Changing ------------------------------------------------------------
SLOT_GONE = "That slot was removed meanwhile. Pick another open slot."


def move_session(
    deps: Deps, trainer: Trainer, command: MoveSession, base_url: Callable[[], str]
) -> Session:
    """Move the session in Changing into the open slot picked on the schedule, in one
    transaction with the client's move notice (unless the trainer ticked "Don't notify");
    returns the new session. A slot removed meanwhile is a Conflict (the session itself
    not found stays a 404). `base_url` is asked only when the client is told."""
    repo, tid = deps.repo, trainer.id
    week = parse_week(command.week)
    booking = sessions.find_session(repo, tid, command.session_ref)
    data = repo.get_week_with_sessions(tid, week)
    target = next((s for s in data.slots if s.id == command.slot_id), None)
    if target is None:
        raise Conflict(SLOT_GONE)
    near = travel.around(repo, trainer, target, data)
    # Refused past the deadline checks of the move itself (the version first): a stale
    # form says so before a clash it may no longer have.
    expect_version(booking.version, sessions.submitted_version(command.version))
    neighbours = travel.check_trainer_booking(
        trainer, target, near, anyway=command.travel_ok, moving=booking
    )
    return sessions.move_to(
        repo,
        deps.links,
        tid,
        booking,
        target,
        sessions.submitted_version(command.version),
        deps.now,
        tell=None if command.quiet else sessions.ChangeNotice(trainer, command.note, base_url()),
        neighbours=neighbours,
    )


# Apply template ----------------------------------------------------------------------------
@dataclass(frozen=True)
class AppliedPage:
    first_week: str  # where Back to the schedule goes
    span: str  # every week applied, as dates: "23 Nov – 6 Dec 2026"
    weeks: list[tuple[str, AppliedWeek]]  # each week's dates, and what it got


def apply(deps: Deps, trainer: Trainer, command: ApplyTemplate) -> AppliedPage:
    """Apply template from the form, and its summary (see `apply_template`)."""
    results = apply_template(deps.repo, deps.links, trainer, command.week, command.weeks, deps.now)
    first, last = results[0].plan.week, results[-1].plan.week
    return AppliedPage(
        first_week=first,
        span=range_label([week_days(first)[0], week_days(last)[-1]]),
        weeks=[(range_label(week_days(r.plan.week)), r) for r in results],
    )

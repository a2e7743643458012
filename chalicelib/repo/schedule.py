"""The schedule aggregate: slots (with their guards) and sessions in trainer-week
partitions, their change log, and the session lists.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chalicelib.domain.errors import Conflict, NotFound, VersionConflict
from chalicelib.domain.messages import Message
from chalicelib.domain.schedule import (
    LogEntry,
    Session,
    SessionRef,
    Slot,
)
from chalicelib.domain.timeutil import parse_utc_iso, utc_iso
from chalicelib.repo import keys
from chalicelib.repo.dynamo import (
    Condition,
    Db,
    TransactionFailed,
    tagged,
    tx_check,
    tx_update,
)
from chalicelib.repo.mapping import (
    Week,
    is_timeline_cursor,
    session_from_item,
    slot_from_item,
    slot_key,
)
from chalicelib.repo.outbox import Outbox, message_from_item
from chalicelib.repo.parts import (
    CLIENT_ACTIVE,
    LOCATION_ACTIVE,
    NEW_MESSAGE,
    NO_NOTICES,
    SESSION_AT_VERSION,
    TAKE_OPEN_SLOT,
    TRAVEL_NEIGHBOUR,
    ClientLink,
    ClientUnavailable,
    Notices,
    all_of,
    balance_change,
    bundle_entry_update,
    client_is_active,
    client_link,
    drop_slot_with_guards,
    figures_change,
    location_is_active,
    log_line,
    message_parts,
    new_session,
    not_locked,
    notice_parts,
    open_at_version,
    refuse_neighbour_taken,
    session_at_version,
    session_change_parts,
    slot_with_guards,
    take_open_slot,
    travel_neighbours_open,
)
from chalicelib.repo.parts import free_slot as free
from chalicelib.repo.reconciliation import PAYMENT_REFERENCE, ReferenceTaken, reference_claim

# Parts only this store's writes use.
SESSION_STILL_BOOKED = "session still booked"
SLOT_AT_VERSION = "slot at version"


@dataclass(frozen=True)
class NewSlot:
    """A slot Apply template adds, created booked by `booking` when there is one."""

    slot: Slot
    booking: Session | None = None
    link: ClientLink | None = None
    # Open slots at other places too close to the booking (travel time): kept open and
    # versioned by the same write (parts.travel_neighbour_open).
    neighbours: tuple[Slot, ...] = ()
    # The booked client's skips as Apply template read them: a skip saved since leaves
    # the slot open (added unbooked, as for a client archived meanwhile).
    skips_rev: int | None = None


@dataclass
class AddedSlots:
    """Indexes into the entries: written (booked or open), booked as asked, lost."""

    written: list[int] = field(default_factory=list)
    booked: list[int] = field(default_factory=list)
    lost: list[int] = field(default_factory=list)
    too_close: list[int] = field(default_factory=list)  # added open: a neighbour was booked
    # Added open: the client was archived, or their skips changed, since they were read.
    client_changed: list[int] = field(default_factory=list)


MAX_TRANSACTION = 100


def _entry_ops(
    trainer_id: str, entry: NewSlot, book: bool, named: set[str] | None = None
) -> list[dict[str, Any]]:
    """`named`: the neighbours a chunk's earlier entries already keep open (a
    transaction names an item once); this entry's are added to it."""
    booking = entry.booking if book else None
    slot = entry.slot.model_copy(update={"session_id": booking.id if booking else None})
    ops = slot_with_guards(trainer_id, slot)
    if booking is not None:
        seen = named if named is not None else set()
        fresh = [n for n in entry.neighbours if n.id not in seen]
        seen.update(n.id for n in fresh)
        ops += [
            *travel_neighbours_open(trainer_id, fresh),
            new_session(trainer_id, booking),
            log_line(
                trainer_id,
                booking,
                "trainer",
                "Booked by Apply template (recurring slot)",
                booking.created_at,
            ),
            *([client_link(trainer_id, booking, entry.link)] if entry.link else []),
        ]
    return ops


def _shared_checks(
    trainer_id: str, entries: Sequence[NewSlot], chunk: list[int], unbooked: set[int]
) -> list[dict[str, Any]]:
    """One check per location and per client (a transaction may name an item once), each
    tagged with what it stands for, and one balance part per client."""
    places = sorted({entries[i].slot.location_id for i in chunk})
    bookings = [entries[i].booking for i in chunk if i not in unbooked]
    by_client: dict[str, list[Session]] = {}
    for booking in bookings:
        if booking is not None:
            by_client.setdefault(booking.client_id, []).append(booking)
    revs = {
        booking.client_id: entries[i].skips_rev
        for i in chunk
        if (booking := entries[i].booking) is not None and entries[i].skips_rev is not None
    }
    made_here = [b for b in bookings if b is not None]
    return [
        *(tagged([location_is_active(trainer_id, place)], place)[0] for place in places),
        *figures_change(trainer_id, [], made_here, slots_added=[entries[i].slot for i in chunk]),
        *(
            tagged([client_is_active(trainer_id, cid, skips_rev=revs.get(cid))], cid)[0]
            for cid in sorted(by_client)
        ),
        *(
            op
            for cid, made in by_client.items()
            for op in balance_change(trainer_id, cid, [], made)
        ),
    ]


def _fit(
    entries: Sequence[NewSlot], pending: list[int], unbooked: set[int]
) -> tuple[list[int], list[int]]:
    """The first entries that fit one transaction with their shared checks."""
    chunk: list[int] = []
    for position, index in enumerate(pending):
        trial = [*chunk, index]
        size = sum(len(_entry_ops("", entries[i], i not in unbooked)) for i in trial)
        size += len(_shared_checks("", entries, trial, unbooked))
        if size > MAX_TRANSACTION and chunk:
            return chunk, pending[position:]
        chunk = trial
    return chunk, []


def _add_slots_ops(
    trainer_id: str, entries: Sequence[NewSlot], chunk: list[int], unbooked: set[int]
) -> list[dict[str, Any]]:
    named: set[str] = set()
    return [
        *(
            op
            for index in chunk
            for op in tagged(
                _entry_ops(trainer_id, entries[index], index not in unbooked, named), index
            )
        ),
        *_shared_checks(trainer_id, entries, chunk, unbooked),
    ]


def session_message_parts(
    trainer_id: str,
    session: Session,
    message: Message,
    *,
    invoiced: Session | None = None,
    reference: str | None = None,
    at_version: bool = False,
) -> list[dict[str, Any]]:
    """The parts that queue a message about a live session (and, for an invoice, mark
    the session invoiced at its price with its payment reference, claimed): what
    `queue_session_message` writes, for a write that adds parts of its own (an invoice's
    number). `at_version`: the session also unchanged since read, not only still booked
    (the one part on the session item, so it carries that check itself)."""
    session_key = keys.session(trainer_id, session.week, utc_iso(session.start_utc), session.id)
    still_live = Condition("#status = :booked", {"#status": "status"}, {":booked": "booked"})
    if at_version:
        still_live = Condition(
            "#status = :booked AND #version = :read",
            {"#status": "status", "#version": "version"},
            {":booked": "booked", ":read": session.version},
        )
    operations = message_parts(trainer_id, [message])
    if invoiced is None:
        operations.append(tx_check(session_key, still_live, part=SESSION_STILL_BOOKED))
        return operations
    operations.append(
        tx_update(
            session_key,
            Condition(
                "SET #sent = :sent, #price = :price, #version = #version + :one"
                + (", #payref = :payref" if reference else ""),
                {
                    "#sent": "invoice_sent_at",
                    "#price": "price_minor",
                    "#version": "version",
                    **({"#payref": "payment_reference"} if reference else {}),
                },
                {
                    ":sent": utc_iso(message.created_at),
                    ":price": invoiced.price_minor,
                    ":one": 1,
                    **({":payref": reference} if reference else {}),
                },
            ),
            still_live,
            part=SESSION_STILL_BOOKED,
        )
    )
    if reference:
        operations.append(reference_claim(trainer_id, reference, session))
    operations += session_change_parts(trainer_id, session.client_id, [session], [invoiced])
    return operations


class ScheduleStore:
    db: Db
    outbox: Outbox

    # Schedule: slots in trainer-weeks ---------------------------------------------
    def get_week(self, trainer_id: str, week: str) -> list[Slot]:
        return self.get_week_with_sessions(trainer_id, week).slots

    def get_week_with_sessions(self, trainer_id: str, week: str) -> Week:
        """A week of the schedule: one Query of the trainer-week partition."""
        items = self.db.query(keys.week_pk(trainer_id, week), sk_range=keys.WEEK_VIEW_RANGE)
        return Week(
            slots=[slot_from_item(i) for i in items if i[keys.SK].startswith(keys.SLOT_PREFIX)],
            sessions=[
                session_from_item(i) for i in items if i[keys.SK].startswith(keys.SESSION_PREFIX)
            ],
        )

    def get_session(self, trainer_id: str, ref: SessionRef) -> Session:
        item = self.db.get(keys.session(trainer_id, ref.week, utc_iso(ref.start_utc), ref.id))
        if item is None:
            raise NotFound(ref.id)
        return session_from_item(item)

    def client_sessions(
        self, trainer_id: str, client_id: str, now: datetime, past_limit: int | None = None
    ) -> tuple[list[Session], list[Session]]:
        """A client's upcoming sessions (soonest first; all of them: the future is bounded
        by what is booked) and their past ones, latest first: `past_limit` of them, or all
        (only to count a balance that was never kept)."""
        pk = keys.client_timeline(trainer_id, client_id)
        point = keys.timeline_point(utc_iso(now))
        upcoming = self.client_upcoming(trainer_id, client_id, now, limit=None)
        past = self.db.query(
            pk, index=keys.CLIENT_INDEX, sk_range=("0", point), forward=False, limit=past_limit
        )
        return upcoming, [session_from_item(i) for i in past]

    def get_session_with_log(
        self, trainer_id: str, ref: SessionRef
    ) -> tuple[Session, list[LogEntry | Message]]:
        """A session and its change log with its messages, oldest first (GetItem + one
        Query: messages sit beside the log lines in the week partition)."""
        session = self.get_session(trainer_id, ref)
        return session, self.log_of(trainer_id, ref.week, ref.id)

    def log_of(self, trainer_id: str, week: str, subject_id: str) -> list[LogEntry | Message]:
        """The change log of a session or a slot, with its messages, oldest first."""
        items = self.db.query(
            keys.week_pk(trainer_id, week), sk_prefix=keys.session_log_prefix(subject_id)
        )
        log: list[LogEntry | Message] = [
            message_from_item(i)
            if keys.is_message_sk(i[keys.SK])
            else LogEntry(at=parse_utc_iso(i["at"]), actor=i["actor"], text=i["text"])
            for i in items
        ]
        log.sort(key=lambda entry: entry.at)
        return log

    def change_session(
        self,
        trainer_id: str,
        session: Session,
        updated: Session,
        actor: str,
        text: str,
        now: datetime,
        *,
        free_slot: bool = False,
        message: Message | None = None,
        notices: Notices = NO_NOTICES,
        also: Sequence[dict[str, Any]] = (),
    ) -> Session:
        """Save a session change with its log line; a cancel also frees the slot, and a
        `message` to the client (or `notices`) is queued with it; `also`: parts another
        aggregate adds (a skip's client save). All or nothing, and only if the session is
        unchanged since it was read (a VersionConflict when any part refuses)."""
        saved = updated.model_copy(update={"version": session.version + 1})
        operations = [
            session_at_version(trainer_id, session, saved),
            log_line(trainer_id, session, actor, text, now),
        ]
        operations += notice_parts(
            trainer_id, notices, also=(message,) if message is not None else ()
        )
        if (bundle_op := bundle_entry_update(trainer_id, session, saved)) is not None:
            operations.append(bundle_op)
        if free_slot:
            operations.append(free(trainer_id, session))
        operations += session_change_parts(trainer_id, session.client_id, [session], [saved])
        operations += also
        try:
            self.db.transact(operations)
        except TransactionFailed as exc:
            raise VersionConflict() from exc
        return saved

    def queue_session_message(
        self,
        trainer_id: str,
        session: Session,
        message: Message,
        *,
        invoiced: Session | None = None,
        reference: str | None = None,
    ) -> bool:
        """Queue a message about a live session, with the session's invoice mark when it
        is an invoice. False if this very message (same id: a double click, a replayed
        form) is already queued; nothing is written twice. `reference`: the invoice's
        payment reference, kept on the session and claimed as its lookup item in the same
        write (ReferenceTaken when another session holds it)."""
        operations = session_message_parts(
            trainer_id, session, message, invoiced=invoiced, reference=reference
        )
        try:
            self.db.transact(operations)
        except TransactionFailed as exc:
            if exc.refused(NEW_MESSAGE):
                return False
            if exc.refused(PAYMENT_REFERENCE) and not exc.refused(SESSION_STILL_BOOKED):
                raise ReferenceTaken() from exc
            raise Conflict(
                "This session was canceled or moved meanwhile. Reload the page to see it."
            ) from exc
        return True

    def move_session(
        self,
        trainer_id: str,
        session: Session,
        moved: Session,
        replacement: Session,
        target: Slot,
        actor: str,
        now: datetime,
        link: ClientLink | None = None,
        notices: Notices = NO_NOTICES,
        neighbours: Sequence[Slot] = (),
    ) -> None:
        """One transaction: the target slot taken by the replacement session, the old slot
        freed, the old session marked moved (only if unchanged since read), both logged,
        with what the move tells (`notices`); `neighbours` as for `book_slot`."""
        operations = [
            take_open_slot(trainer_id, target, replacement.id, now),
            *travel_neighbours_open(trainer_id, neighbours),
            session_at_version(
                trainer_id, session, moved.model_copy(update={"version": session.version + 1})
            ),
            free(trainer_id, session),
            new_session(trainer_id, replacement),
            log_line(trainer_id, session, actor, f"Moved to {replacement.label}", now),
            log_line(trainer_id, replacement, actor, f"Moved here from {session.label}", now),
            *([client_link(trainer_id, replacement, link)] if link else []),
            *notice_parts(trainer_id, notices),
        ]
        if (bundle_op := bundle_entry_update(trainer_id, session, replacement)) is not None:
            operations.append(bundle_op)
        operations += session_change_parts(
            trainer_id, session.client_id, [session], [moved, replacement]
        )
        try:
            self.db.transact(operations)
        except TransactionFailed as exc:
            refuse_neighbour_taken(exc)
            if exc.refused(TAKE_OPEN_SLOT) and not exc.refused(SESSION_AT_VERSION):
                raise Conflict(
                    "That slot was just taken. The session stays where it was: pick another "
                    "open slot."
                ) from exc
            raise VersionConflict() from exc

    def trainer_sessions(
        self,
        trainer_id: str,
        now: datetime,
        *,
        upcoming: bool,
        after: dict[str, str] | None,
        limit: int = 20,
    ) -> tuple[list[Session], dict[str, str] | None]:
        """One page of the Sessions tab: upcoming soonest first, past latest first."""
        pk = keys.trainer_timeline(trainer_id)
        point = keys.timeline_point(utc_iso(now))
        sk_range = (point, "~") if upcoming else ("0", point)
        if after is not None and not is_timeline_cursor(after, trainer_id, sk_range):
            after = None  # a cursor from elsewhere (tampered, another trainer): start over
        items, last = self.db.query_page(
            pk,
            index=keys.TRAINER_INDEX,
            sk_range=sk_range,
            forward=upcoming,
            limit=limit,
            start_key=after,
        )
        return [session_from_item(i) for i in items], last

    def trainer_sessions_between(
        self, trainer_id: str, since: datetime, until: datetime, limit: int
    ) -> tuple[list[Session], bool]:
        """Live and voided sessions starting in [since, until), latest first: one Query
        page of TrainerTimeline, so the read is bounded by time *and* by `limit` however
        old the account is (the dashboard's unpaid total). The flag is True when the
        page did not reach `since` (the limit or DynamoDB's 1 MB page cut it short)."""
        items, last = self.db.query_page(
            keys.trainer_timeline(trainer_id),
            index=keys.TRAINER_INDEX,
            sk_range=(keys.timeline_point(utc_iso(since)), keys.timeline_point(utc_iso(until))),
            forward=False,
            limit=limit,
            start_key=None,
        )
        return [session_from_item(i) for i in items], last is not None

    def client_upcoming(
        self, trainer_id: str, client_id: str, now: datetime, limit: int | None = 20
    ) -> list[Session]:
        """A client's next sessions, soonest first: one Query of ClientTimeline."""
        items = self.db.query(
            keys.client_timeline(trainer_id, client_id),
            index=keys.CLIENT_INDEX,
            sk_range=(keys.timeline_point(utc_iso(now)), "~"),
            limit=limit,
        )
        return [session_from_item(i) for i in items]

    def book_slot(
        self,
        trainer_id: str,
        slot: Slot,
        session: Session,
        link: ClientLink | None = None,
        *,
        actor: str = "trainer",
        note: str = "Booked by the trainer",
        notices: Notices = NO_NOTICES,
        neighbours: Sequence[Slot] = (),
        skips_rev: int | None = None,
    ) -> None:
        """Take an open slot for a session: exactly one of two bookings at once wins, and
        only the winner's `notices` are written. `neighbours`: the open slots at other
        places too close to it (travel time), which stay open as read; `skips_rev`: the
        client's skips as read, for a recurring booking (parts.client_is_active)."""
        try:
            self.db.transact(
                [
                    take_open_slot(trainer_id, slot, session.id, session.created_at),
                    *travel_neighbours_open(trainer_id, neighbours),
                    new_session(trainer_id, session),
                    client_is_active(trainer_id, session.client_id, skips_rev=skips_rev),
                    log_line(trainer_id, session, actor, note, session.created_at),
                    *([client_link(trainer_id, session, link)] if link else []),
                    *session_change_parts(trainer_id, session.client_id, [], [session]),
                    *notice_parts(trainer_id, notices),
                ]
            )
        except TransactionFailed as exc:
            if exc.refused(CLIENT_ACTIVE) and not exc.refused(TAKE_OPEN_SLOT):
                raise ClientUnavailable("That client was archived meanwhile.") from exc
            refuse_neighbour_taken(exc)
            raise Conflict("This slot was just taken. Reload the schedule to see it.") from exc

    def add_slot(
        self,
        trainer_id: str,
        slot: Slot,
        booking: Session | None = None,
        link: ClientLink | None = None,
    ) -> None:
        """Create a slot and take its half hours; refused if any is taken or the location
        was archived or deleted meanwhile. With a booking, the slot is created taken by
        that session, in the same transaction (and only if the client is still active)."""
        if booking is not None:
            slot = slot.model_copy(update={"session_id": booking.id})
        operations = [
            *slot_with_guards(trainer_id, slot),
            location_is_active(trainer_id, slot.location_id),
        ]
        if booking is not None:
            operations += [
                new_session(trainer_id, booking),
                log_line(
                    trainer_id,
                    booking,
                    "trainer",
                    "Booked by Apply template (recurring slot)",
                    booking.created_at,
                ),
                client_is_active(trainer_id, booking.client_id),
                *([client_link(trainer_id, booking, link)] if link else []),
                *balance_change(trainer_id, booking.client_id, [], [booking]),
            ]
        operations += figures_change(
            trainer_id, [], [booking] if booking else [], slots_added=[slot]
        )
        try:
            self.db.transact(operations)
        except TransactionFailed as exc:
            if exc.refused(LOCATION_ACTIVE):
                raise Conflict("That location was archived or deleted meanwhile.") from exc
            if exc.refused(CLIENT_ACTIVE):
                raise ClientUnavailable("That client was archived meanwhile.") from exc
            raise Conflict(
                "Another slot already takes part of that time. Reload the schedule to see it."
            ) from exc

    def add_slots(self, trainer_id: str, entries: Sequence[NewSlot]) -> AddedSlots:
        """Apply template's writes: many new slots (some created booked) in as few
        transactions as fit 100 items, each slot still all or nothing. A transaction
        that refuses is written again without what refused: a slot whose time was taken
        (its guards) or whose location was archived is dropped; one whose client was
        archived is added open instead. Its parts are tagged with the entry's index, and
        the shared checks (one per location, one per client) say whose entries they
        stand for."""
        pending = list(range(len(entries)))
        unbooked: set[int] = set()
        result = AddedSlots()
        while pending:
            chunk, rest = _fit(entries, pending, unbooked)
            operations = _add_slots_ops(trainer_id, entries, chunk, unbooked)
            try:
                self.db.transact(operations)
            except TransactionFailed as exc:
                # A neighbour booked meanwhile: the entry goes in open, as a client
                # archived meanwhile does; anything else of an entry refusing drops it.
                near = exc.refused_tags(TRAVEL_NEIGHBOUR)
                refused = {
                    t for t in exc.refused_tags(besides=TRAVEL_NEIGHBOUR) if isinstance(t, int)
                }
                gone_places = exc.refused_tags(LOCATION_ACTIVE)
                gone_clients = exc.refused_tags(CLIENT_ACTIVE)
                retry = []
                for index in chunk:
                    entry = entries[index]
                    if index in refused or entry.slot.location_id in gone_places:
                        result.lost.append(index)
                        continue
                    if (
                        entry.booking is not None
                        and entry.booking.client_id in gone_clients
                        and index not in unbooked
                    ):
                        unbooked.add(index)
                        result.client_changed.append(index)
                    if index in near and index not in unbooked:
                        unbooked.add(index)
                        result.too_close.append(index)
                    retry.append(index)
                if not (refused or near or gone_places or gone_clients):
                    raise  # nothing of ours refused (throttling, say): the caller says so
                pending = retry + rest
                continue
            for index in chunk:
                result.written.append(index)
                if index not in unbooked and entries[index].booking is not None:
                    result.booked.append(index)
            pending = rest
        return result

    def remove_slot(self, trainer_id: str, slot: Slot, now: datetime) -> None:
        """Remove an open slot (unchanged since read, no live offer on it) and free its
        half hours."""
        try:
            self.db.transact(
                [
                    *drop_slot_with_guards(
                        trainer_id, slot, all_of(open_at_version(slot), not_locked(now))
                    ),
                    *figures_change(trainer_id, slots_dropped=[slot]),
                ]
            )
        except TransactionFailed as exc:
            raise VersionConflict() from exc

    def move_slot_location(
        self, trainer_id: str, slot: Slot, location_id: str, now: datetime | None = None
    ) -> Slot:
        """Another location for an open slot as read; with `now`, never one held by a
        live offer (its client was told the old place)."""
        moved = slot.model_copy(update={"location_id": location_id, "version": slot.version + 1})
        try:
            self.db.transact(
                [
                    tx_update(
                        slot_key(trainer_id, slot),
                        Condition(
                            "SET #location_id = :location, #version = #version + :one",
                            {"#location_id": "location_id", "#version": "version"},
                            {":location": location_id, ":one": 1},
                        ),
                        all_of(open_at_version(slot), not_locked(now))
                        if now is not None
                        else open_at_version(slot),
                        part=SLOT_AT_VERSION,
                    ),
                    location_is_active(trainer_id, location_id),
                ]
            )
        except TransactionFailed as exc:
            if exc.refused(LOCATION_ACTIVE) and not exc.refused(SLOT_AT_VERSION):
                raise Conflict("That location was archived or deleted meanwhile.") from exc
            raise VersionConflict() from exc
        return moved

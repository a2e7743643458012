"""Writing a bundle: its sessions created all at once (or in chunks, activated last and
rolled back on failure), a session added, its status, and its batch of confirmations.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from chalicelib.domain import figures
from chalicelib.domain.errors import Conflict, VersionConflict
from chalicelib.domain.messages import Message
from chalicelib.domain.programs import Bundle, BundleEntry, Draft
from chalicelib.domain.schedule import Session, Slot
from chalicelib.domain.timeutil import utc_iso
from chalicelib.repo import keys
from chalicelib.repo.dynamo import (
    PART_KEY,
    Condition,
    ConditionFailed,
    Db,
    Part,
    TransactionFailed,
    at_version,
    new_item,
    tagged,
    tx_check,
    tx_delete,
    tx_put,
    tx_update,
)
from chalicelib.repo.parts import (
    CLIENT_ACTIVE,
    LOCATION_ACTIVE,
    TRAVEL_NEIGHBOUR,
    ClientLink,
    balance_change,
    bundle_entry,
    client_is_active,
    client_link,
    conversation_parts,
    drop_slot_with_guards,
    figures_change,
    free_slot,
    held_by,
    location_is_active,
    log_line,
    new_message,
    new_session,
    pack_recheck,
    pack_totals_change,
    slot_with_guards,
    take_open_slot,
    travel_neighbours_open,
)
from chalicelib.repo.program_items import (
    MAX_TRANSACTION,
    bundle_to_item,
    hub_sk,
)


# Writing a bundle's sessions ---------------------------------------------------------------
@dataclass(frozen=True)
class PlannedSession:
    """One session of a bundle to write: the slot it takes (an open one already on the
    schedule, or a new one) and its client link."""

    slot: Slot
    existing: bool
    session: Session
    link: ClientLink


class TemplateGone(Conflict):
    """The bundle's template was deleted while the wizard was open."""


class AlreadyCreated(Conflict):
    """The wizard's bundle exists already (a second Validate, another tab)."""


class ClientChanged(Conflict):
    """The bundle's client was archived (or, for Apply template, their skips changed)."""


class NeighbourTaken(Conflict):
    """A session at another place was booked too close to it meanwhile (travel time)."""

    def __init__(self, label: str) -> None:
        super().__init__(f"{label} is now too close to another session (travel time).")
        self.label = label


class SlotTaken(Conflict):
    def __init__(self, label: str) -> None:
        super().__init__(f"{label} was taken meanwhile.")
        self.label = label


def _log_key(trainer_id: str, session: Session, now: datetime) -> dict[str, str]:
    return keys.session_log(
        trainer_id,
        session.week,
        session.id,
        utc_iso(now),
        keys.program_session_log_id(session.bundle_id or "", session.bundle_index or 0),
    )


def _write_ops(trainer_id: str, plan: PlannedSession, now: datetime) -> list[dict[str, Any]]:
    session, slot = plan.session, plan.slot
    if plan.existing:
        take = [take_open_slot(trainer_id, slot, session.id, now)]
    else:
        take = slot_with_guards(trainer_id, slot.model_copy(update={"session_id": session.id}))
    return [
        *take,
        new_session(trainer_id, session),
        log_line(
            trainer_id,
            session,
            "trainer",
            f"Booked for the bundle “{session.bundle_title}”",
            now,
            keys.program_session_log_id(session.bundle_id or "", session.bundle_index or 0),
        ),
        client_link(trainer_id, session, plan.link),
    ]


def _undo_ops(trainer_id: str, plan: PlannedSession, now: datetime) -> list[dict[str, Any]]:
    """What removes exactly what `_write_ops` wrote (used after a failed creation)."""
    session, slot = plan.session, plan.slot
    if plan.existing:
        free = [free_slot(trainer_id, session)]
    else:
        free = drop_slot_with_guards(trainer_id, slot, held_by(session.id))
    return [
        *free,
        tx_delete(
            keys.session(trainer_id, session.week, utc_iso(session.start_utc), session.id),
            part=UNDO_SESSION,
        ),
        tx_delete(_log_key(trainer_id, session, now), part=UNDO_LOG_LINE),
        tx_delete(keys.token(plan.link.token_hash), part=UNDO_CLIENT_LINK),
        *balance_change(trainer_id, session.client_id, [session], []),
        *figures_change(
            trainer_id, [session], [], slots_dropped=[] if plan.existing else [plan.slot]
        ),
    ]


# Parts only programs use.
NEW_BUNDLE = "new bundle"
ACTIVATE_BUNDLE = "activate bundle"
BUNDLE_AS_READ = "bundle as read"
TEMPLATE_EXISTS = "program template exists"
DRAFT_AT_VERSION = "draft at version"
CLAIM_ROUND = "claim confirmation round"
SESSION_STILL_BOOKED = "session still booked"
UNDO_SESSION = "undo session"
UNDO_LOG_LINE = "undo log line"
UNDO_CLIENT_LINK = "undo client link"


def _exists() -> Condition:
    return Condition("attribute_exists(#pk)", {"#pk": keys.PK})


class BundleWrites:
    db: Db

    def create_bundle(
        self,
        trainer_id: str,
        bundle: Bundle,
        plans: Sequence[PlannedSession],
        now: datetime,
        draft: Draft | None = None,
        sold_on: date | None = None,
    ) -> Bundle:
        """Write the bundle and its sessions (see the module docstring). The wizard's
        draft is deleted with the bundle's commit, so a second Validate finds no draft.
        `sold_on` (the trainer's local day): the pack counts as sold then, in the write
        that activates it (domain/figures.PACKS_SOLD and the running pack totals)."""
        checks = [
            location_is_active(trainer_id, bundle.location_id),
            client_is_active(trainer_id, bundle.client_id),
        ]
        final = [
            *(
                [
                    tx_check(
                        keys.program(trainer_id, bundle.template_id),
                        _exists(),
                        part=TEMPLATE_EXISTS,
                    )
                ]
                if bundle.template_id
                else []
            ),
            *(
                [
                    tx_delete(
                        keys.draft(trainer_id, draft.id),
                        at_version(draft.version),
                        part=DRAFT_AT_VERSION,
                    )
                ]
                if draft
                else []
            ),
        ]
        # Each session's parts carry its index: a refusal says which date was taken.
        groups = [tagged(_write_ops(trainer_id, plan, now), i) for i, plan in enumerate(plans)]
        chunks: list[list[int]] = [[]]
        # 2: the bundle's own write and the client's balance; 3 more for the sale's week,
        # month and running pack totals (in the last chunk)
        room = MAX_TRANSACTION - len(checks) - len(final) - 2 - 3
        used = 0
        periods: set[str] = set()  # the figure items this chunk updates, one part each
        for index, group in enumerate(groups):
            fresh = set(figures.periods_of(plans[index].session.day)) - periods
            if used + len(group) + len(fresh) > room and chunks[-1]:
                chunks.append([])
                used = 0
                periods = set()
                fresh = set(figures.periods_of(plans[index].session.day))
            chunks[-1].append(index)
            used += len(group) + len(fresh)
            periods |= fresh
        single = len(chunks) == 1
        active = bundle.model_copy(update={"status": "active"})
        first = active if single else bundle.model_copy(update={"status": "creating"})
        done: list[int] = []
        for number, chunk in enumerate(chunks):
            last = number == len(chunks) - 1
            head: list[dict[str, Any]] = []
            if number == 0:
                head.append(tx_put(bundle_to_item(trainer_id, first), new_item(), part=NEW_BUNDLE))
            elif last:
                head.append(
                    tx_update(
                        keys.bundle(trainer_id, bundle.id),
                        Condition(
                            "SET #status = :active, #hub = :hub",
                            {"#status": "status", "#hub": keys.TRAINER_SK},
                            {":active": "active", ":hub": hub_sk(active, now)},
                        ),
                        Condition(
                            "#status = :creating", {"#status": "status"}, {":creating": "creating"}
                        ),
                        part=ACTIVATE_BUNDLE,
                    )
                )
            tail = final if last else []
            body = [op for index in chunk for op in groups[index]]
            # One part for the client's kept unpaid total: one item, once per transaction.
            made = [plans[index].session for index in chunk]
            sold = [(sold_on, bundle.price_minor)] if last and sold_on is not None else []
            owed = [
                *balance_change(trainer_id, bundle.client_id, [], made),
                *figures_change(
                    trainer_id,
                    [],
                    made,
                    slots_added=[plans[i].slot for i in chunk if not plans[i].existing],
                    packs_sold=sold,
                ),
                *(pack_totals_change(trainer_id, places=bundle.sessions_planned) if sold else []),
            ]
            operations = [*head, *checks, *body, *tail, *owed]
            try:
                self.db.transact(operations)
            except TransactionFailed as exc:
                self._roll_back(trainer_id, bundle, [plans[i] for i in done], now, number > 0)
                raise self._creation_error(exc, plans) from exc
            done.extend(chunk)
        return active

    @staticmethod
    def _creation_error(exc: TransactionFailed, plans: Sequence[PlannedSession]) -> Conflict:
        if exc.refused(NEW_BUNDLE):
            return AlreadyCreated("This bundle was already created.")
        if exc.refused(LOCATION_ACTIVE):
            return Conflict("That location was archived or deleted meanwhile.")
        if exc.refused(CLIENT_ACTIVE):
            return Conflict("That client was archived meanwhile.")
        taken = sorted(t for t in exc.refused_tags() if isinstance(t, int))
        if taken:
            return SlotTaken(plans[taken[0]].slot.label)
        if exc.refused(TEMPLATE_EXISTS):
            return TemplateGone("The template was deleted.")
        return VersionConflict()

    def _roll_back(
        self,
        trainer_id: str,
        bundle: Bundle,
        written: Sequence[PlannedSession],
        now: datetime,
        bundle_written: bool,
    ) -> None:
        """Remove what a failed creation wrote: each session on its own (a trainer may
        have touched one meanwhile), then the `creating` bundle."""
        for plan in written:
            try:
                self.db.transact(_undo_ops(trainer_id, plan, now))
            except TransactionFailed:
                continue  # already changed by someone: leave it, it is a real session now
        if bundle_written:
            with contextlib.suppress(ConditionFailed):  # activated after all: keep it
                self.db.delete(
                    keys.bundle(trainer_id, bundle.id),
                    Condition(
                        "#status = :creating", {"#status": "status"}, {":creating": "creating"}
                    ),
                )

    def add_session(
        self,
        trainer_id: str,
        bundle: Bundle,
        plan: PlannedSession,
        now: datetime,
        *,
        neighbours: Sequence[Slot] = (),
        skips_rev: int | None = None,
    ) -> None:
        """One more session for an active bundle: only while it is still active and has
        the entries it had when read (two adds at once cannot take the same place).
        Apply template books a tied pack's week through here too: `neighbours` (travel
        time) and `skips_rev` (the client's skips as read) as for `book_slot`."""
        session = plan.session
        entry = bundle_entry(session)
        recheck, recheck_names, recheck_values = pack_recheck(bundle.id)
        grown = bundle.model_copy(
            update={
                "entries": (
                    *bundle.entries,
                    BundleEntry(ref=session.ref, end_utc=session.end_utc, status=session.status),
                )
            }
        )
        operations = [
            tx_update(
                keys.bundle(trainer_id, bundle.id),
                Condition(
                    "SET #entries = list_append(#entries, :entry), #version = #version + :one, "
                    f"#hub = :hub, {recheck}",
                    {
                        "#entries": "entries",
                        "#version": "version",
                        "#hub": keys.TRAINER_SK,
                        **recheck_names,
                    },
                    {":entry": [entry], ":one": 1, ":hub": hub_sk(grown, now), **recheck_values},
                ),
                # Its version too: a pack paid since the read makes the session born
                # unpaid stale (it would be an unpaid session in a paid pack).
                Condition(
                    "#status = :active AND size(#entries) = :count AND #version = :seen",
                    {"#status": "status", "#entries": "entries", "#version": "version"},
                    {":active": "active", ":count": len(bundle.entries), ":seen": bundle.version},
                ),
                part=BUNDLE_AS_READ,
            ),
            location_is_active(trainer_id, plan.slot.location_id),
            client_is_active(trainer_id, bundle.client_id, skips_rev=skips_rev),
            *travel_neighbours_open(trainer_id, neighbours),
            *_write_ops(trainer_id, plan, now),
            *balance_change(trainer_id, bundle.client_id, [], [plan.session]),
            *figures_change(
                trainer_id, [], [plan.session], slots_added=[] if plan.existing else [plan.slot]
            ),
        ]
        try:
            self.db.transact(operations)
        except TransactionFailed as exc:
            if exc.refused(BUNDLE_AS_READ):
                raise VersionConflict() from exc
            if exc.refused(LOCATION_ACTIVE):
                raise Conflict("That location was archived or deleted meanwhile.") from exc
            if exc.refused(CLIENT_ACTIVE):
                raise ClientChanged("That client was archived meanwhile.") from exc
            if exc.refused(TRAVEL_NEIGHBOUR):
                raise NeighbourTaken(plan.slot.label) from exc
            raise SlotTaken(plan.slot.label) from exc

    def set_status(self, trainer_id: str, bundle: Bundle, status: str, now: datetime) -> Bundle:
        """The bundle's status if unchanged since read; it moves in the hub with it (a
        completed bundle sorts by when it was completed)."""
        changed = bundle.model_copy(update={"status": status})
        recheck, recheck_names, recheck_values = pack_recheck(bundle.id)
        try:
            self.db.update(
                keys.bundle(trainer_id, bundle.id),
                Condition(
                    f"SET #status = :status, #version = :next, #hub = :hub, {recheck}",
                    {
                        "#status": "status",
                        "#version": "version",
                        "#hub": keys.TRAINER_SK,
                        **recheck_names,
                    },
                    {
                        ":status": status,
                        ":next": bundle.version + 1,
                        ":hub": hub_sk(changed, now),
                        **recheck_values,
                    },
                ),
                at_version(bundle.version),
            )
        except ConditionFailed as exc:
            raise VersionConflict() from exc
        return bundle.model_copy(update={"status": status, "version": bundle.version + 1})

    def queue_confirmations(
        self,
        trainer_id: str,
        bundle: Bundle,
        messages: Sequence[tuple[Session, Message]],
        now: datetime,
    ) -> int:
        """Queue one confirmation per session and count the round on the bundle, on
        condition that nobody sent this round already (a double click, a second tab).

        Each message is written with a check that its session is still booked, so a
        session canceled meanwhile gets no confirmation: its part is dropped and the rest
        of the transaction written again. Up to 49 sessions go in one transaction; the
        round is claimed in the first, and later ones can only lose canceled sessions, so
        a send never stops half-way. Returns how many messages were queued."""
        claim = tx_update(
            keys.bundle(trainer_id, bundle.id),
            Condition(
                "SET #round = :next, #sent_at = :now",
                {"#round": "confirmations_round", "#sent_at": "confirmations_sent_at"},
                {":next": bundle.confirmations_round + 1, ":now": utc_iso(now)},
            ),
            Condition(
                "#round = :seen AND #status <> :creating",
                {"#round": "confirmations_round", "#status": "status"},
                {":seen": bundle.confirmations_round, ":creating": "creating"},
            ),
            part=CLAIM_ROUND,
        )
        still_booked = Condition("#status = :booked", {"#status": "status"}, {":booked": "booked"})
        pairs = [
            (
                message,
                tx_check(
                    keys.session(trainer_id, session.week, utc_iso(session.start_utc), session.id),
                    still_booked,
                    part=Part(SESSION_STILL_BOOKED, n),
                ),
            )
            for n, (session, message) in enumerate(messages)
        ]
        # The round's claim and the client's conversation row, then two items a session.
        per_chunk = (MAX_TRANSACTION - 2) // 2
        queued = 0
        for start in range(0, max(len(pairs), 1), per_chunk):
            chunk = pairs[start : start + per_chunk]
            head = [claim] if start == 0 else []
            for _attempt in range(per_chunk + 1):
                try:
                    self.db.transact(
                        [
                            *head,
                            *(
                                op
                                for m, check in chunk
                                for op in (new_message(trainer_id, m), check)
                            ),
                            # From what is left of the chunk: a dropped (canceled)
                            # session's message never becomes the row's preview.
                            *conversation_parts(trainer_id, [m for m, _ in chunk]),
                        ]
                    )
                except TransactionFailed as exc:
                    if exc.refused(CLAIM_ROUND):
                        raise Conflict(
                            "These confirmations were already sent: nothing was sent twice."
                        ) from exc
                    canceled = exc.refused_tags(SESSION_STILL_BOOKED)
                    gone = {n for n, pair in enumerate(chunk) if pair[1][PART_KEY].tag in canceled}
                    if not gone:  # not a canceled session: busy items, say; try again later
                        raise Conflict(
                            f"{queued} confirmations were queued, then the table was busy. "
                            "Reload the page: Resend sends the rest."
                            if queued
                            else "The bundle was busy. Reload the page and send again."
                        ) from exc
                    chunk = [pair for n, pair in enumerate(chunk) if n not in gone]
                    if not chunk and not head:
                        break
                    continue
                queued += len(chunk)
                break
        return queued

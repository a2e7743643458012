"""Programs in the table: templates, bundles, wizard drafts, and the bundle's writes.

Templates, bundles and drafts live in the trainer's programs partition `T#<tid>#PROG`
(`MODEL#`, `BUNDLE#`, `DRAFT#`); a bundle is also in ClientTimeline
`T#<tid>#C#<cid>#BUNDLES` for the client's profile and portal. A bundle's sessions are
ordinary session items in their trainer-week partitions.

Creating a bundle writes the bundle and every session (with its slot, guards, log line
and client link) in one transaction when it fits in 100 items. A bigger bundle is
written in several: the bundle first as `creating` (shown nowhere as active), then the
sessions, then the bundle switched to `active` in the last one. If any part fails, what
was written is removed again before the error is shown.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, Final

from chalicelib.domain.clients import Client
from chalicelib.domain.errors import Conflict, NotFound, VersionConflict
from chalicelib.domain.grid import GRID_MINUTES
from chalicelib.domain.messages import Message
from chalicelib.domain.programs import Bundle, BundleEntry, Draft, ProgramTemplate
from chalicelib.domain.schedule import Document, Session, Slot, guard_instants, parse_session_ref
from chalicelib.domain.timeutil import parse_utc_iso, utc_iso, zone
from chalicelib.repo import keys
from chalicelib.repo.dynamo import (
    PART_KEY,
    Condition,
    ConditionFailed,
    Db,
    Item,
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
from chalicelib.repo.mapping import client_from_item, session_from_item, slot_from_item
from chalicelib.repo.parts import (
    CLIENT_ACTIVE,
    LOCATION_ACTIVE,
    ClientLink,
    balance_change,
    bundle_entry,
    client_is_active,
    client_link,
    drop_slot_with_guards,
    free_slot,
    held_by,
    location_is_active,
    log_line,
    new_message,
    new_session,
    slot_with_guards,
    take_open_slot,
)

MAX_TRANSACTION: Final = 100
MAX_BATCH_GET: Final = 100
DRAFT_DAYS: Final = 14
HUB_PAGE: Final = 20


# Mapping -----------------------------------------------------------------------------------
def _documents(item: Item) -> tuple[Document, ...]:
    return tuple(Document.model_validate(d) for d in item.get("documents") or ())


def template_to_item(trainer_id: str, template: ProgramTemplate) -> Item:
    return {
        **keys.program(trainer_id, template.id),
        "type": "program",
        "id": template.id,
        "title": template.title,
        "sessions": template.sessions,
        "price_minor": template.price_minor,
        "location_id": template.location_id,
        "length": template.length,
        "video_link": template.video_link or None,
        "documents": [d.model_dump() for d in template.documents],
        "version": template.version,
        "created_at": utc_iso(template.created_at),
    }


def template_from_item(item: Item) -> ProgramTemplate:
    return ProgramTemplate(
        id=item["id"],
        title=item["title"],
        sessions=item["sessions"],
        price_minor=item["price_minor"],
        location_id=item["location_id"],
        length=item.get("length", 60),
        video_link=item.get("video_link") or "",
        documents=_documents(item),
        version=item["version"],
        created_at=parse_utc_iso(item["created_at"]),
    )


def hub_sk(bundle: Bundle, at: datetime) -> str:
    """Where the bundle sorts in the hub (TrainerTimeline `T#<tid>#BUNDLES`): by when it
    is over, newest first. Completed by hand: `at`, the moment of that write. Active
    with every planned session booked: when the last of them ends (it completes by
    itself then). Otherwise (paused, being created, sessions still to book) it has no
    end and sorts first. Written with every write of the bundle made here; a cancel,
    void or move of one of its sessions (pattern 63) leaves it as it was, so the hub
    splits each page by the bundle's state, never by this key."""
    over = at if bundle.status == "completed" else bundle.finishes_at()
    return keys.bundle_hub_sk(
        utc_iso(over) if over else None, utc_iso(bundle.created_at), bundle.id
    )


def bundle_to_item(trainer_id: str, bundle: Bundle, at: datetime | None = None) -> Item:
    created = utc_iso(bundle.created_at)
    return {
        **keys.bundle(trainer_id, bundle.id),
        keys.CLIENT_PK: keys.client_bundles(trainer_id, bundle.client_id),
        keys.CLIENT_SK: keys.timeline_point(created) + "#" + bundle.id,
        keys.TRAINER_PK: keys.trainer_bundles(trainer_id),
        keys.TRAINER_SK: hub_sk(bundle, at or bundle.created_at),
        "type": "bundle",
        "id": bundle.id,
        "client_id": bundle.client_id,
        "client_name": bundle.client_name,
        "title": bundle.title,
        "sessions_planned": bundle.sessions_planned,
        "price_minor": bundle.price_minor,
        "location_id": bundle.location_id,
        "length": bundle.length,
        "video_link": bundle.video_link or None,
        "documents": [d.model_dump() for d in bundle.documents],
        "template_id": bundle.template_id,
        "status": bundle.status,
        "entries": [
            {"ref": e.ref, "end_utc": utc_iso(e.end_utc), "status": e.status}
            for e in bundle.entries
        ],
        "confirmations_round": bundle.confirmations_round,
        "confirmations_sent_at": (
            utc_iso(bundle.confirmations_sent_at) if bundle.confirmations_sent_at else None
        ),
        "created_at": created,
        "version": bundle.version,
    }


def bundle_from_item(item: Item) -> Bundle:
    sent = item.get("confirmations_sent_at")
    return Bundle(
        id=item["id"],
        client_id=item["client_id"],
        client_name=item["client_name"],
        title=item["title"],
        sessions_planned=item["sessions_planned"],
        price_minor=item["price_minor"],
        location_id=item["location_id"],
        length=item.get("length", 60),
        video_link=item.get("video_link") or "",
        documents=_documents(item),
        template_id=item.get("template_id"),
        status=item["status"],
        entries=tuple(
            BundleEntry(ref=e["ref"], end_utc=parse_utc_iso(e["end_utc"]), status=e["status"])
            for e in item.get("entries") or ()
        ),
        confirmations_round=item.get("confirmations_round", 0),
        confirmations_sent_at=parse_utc_iso(sent) if sent else None,
        created_at=parse_utc_iso(item["created_at"]),
        version=item["version"],
    )


def draft_to_item(trainer_id: str, draft: Draft) -> Item:
    return {
        **keys.draft(trainer_id, draft.id),
        "type": "draft",
        "id": draft.id,
        "client_id": draft.client_id,
        "template_id": draft.template_id,
        "template_title": draft.template_title or None,
        "offer": dict(draft.offer),
        "quick": dict(draft.quick),
        "cards": [dict(c) for c in draft.cards],
        "version": draft.version,
        "created_at": utc_iso(draft.created_at),
        # A wizard left open is cleaned up after two weeks (TTL only tidies up).
        keys.TTL: int(draft.created_at.timestamp()) + DRAFT_DAYS * 86400,
    }


def draft_from_item(item: Item) -> Draft:
    return Draft(
        id=item["id"],
        client_id=item["client_id"],
        template_id=item.get("template_id"),
        template_title=item.get("template_title") or "",
        offer=item.get("offer") or {},
        quick=item.get("quick") or {},
        cards=tuple(item.get("cards") or ()),
        version=item["version"],
        created_at=parse_utc_iso(item["created_at"]),
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


@dataclass(frozen=True)
class ScheduleAround:
    """A wizard's client, and what the schedule holds where its dates would go."""

    client: Client | None
    slots: list[Slot]  # every slot overlapping one of the dates, by start
    sessions: list[Session]  # the sessions booked in those slots


def _local_midnight(instant: datetime, zone_name: str) -> datetime:
    """The start of the trainer-local day of `instant`, in UTC."""
    local = instant.astimezone(zone(zone_name))
    return datetime.combine(local.date(), time(0), tzinfo=local.tzinfo).astimezone(UTC)


class TemplateGone(Conflict):
    """The bundle's template was deleted while the wizard was open."""


class AlreadyCreated(Conflict):
    """The wizard's bundle exists already (a second Validate, another tab)."""


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


HUB_RANGE: Final = ("0", keys.OPEN_ENDED * 2)  # every dated key, then every open-ended one


def is_hub_cursor(key: Mapping[str, str], trainer_id: str) -> bool:
    """Only a key the hub's Query could have returned: DynamoDB answers anything else
    with a ValidationException, not a page."""
    return (
        set(key) == {keys.PK, keys.SK, keys.TRAINER_PK, keys.TRAINER_SK}
        and key[keys.TRAINER_PK] == keys.trainer_bundles(trainer_id)
        and key[keys.PK] == keys.programs_pk(trainer_id)
        and key[keys.SK].startswith(keys.BUNDLE_PREFIX)
        and HUB_RANGE[0] <= key[keys.TRAINER_SK] <= HUB_RANGE[1]
    )


class ProgramRepository:
    def __init__(self, db: Db) -> None:
        self.db = db

    # Templates -------------------------------------------------------------------------
    def list_templates(self, trainer_id: str) -> list[ProgramTemplate]:
        items = self.db.query(keys.programs_pk(trainer_id), sk_prefix=keys.PROGRAM_PREFIX)
        return sorted((template_from_item(i) for i in items), key=lambda t: t.title.casefold())

    def get_template(self, trainer_id: str, template_id: str) -> ProgramTemplate:
        item = self.db.get(keys.program(trainer_id, template_id))
        if item is None:
            raise NotFound(template_id)
        return template_from_item(item)

    def save_template(
        self, trainer_id: str, template: ProgramTemplate, seen_version: int
    ) -> ProgramTemplate:
        """Create (seen_version 0) or replace a template if unchanged since the form."""
        saved = template.model_copy(update={"version": seen_version + 1})
        try:
            self.db.put(template_to_item(trainer_id, saved), at_version(seen_version))
        except ConditionFailed as exc:
            raise VersionConflict() from exc
        return saved

    def delete_template(self, trainer_id: str, template: ProgramTemplate) -> None:
        try:
            self.db.delete(keys.program(trainer_id, template.id), at_version(template.version))
        except ConditionFailed as exc:
            raise VersionConflict() from exc

    # Drafts ------------------------------------------------------------------------------
    def get_draft(self, trainer_id: str, draft_id: str) -> Draft:
        item = self.db.get(keys.draft(trainer_id, draft_id))
        if item is None:
            raise NotFound(draft_id)
        return draft_from_item(item)

    def save_draft(self, trainer_id: str, draft: Draft, seen_version: int) -> Draft:
        saved = draft.model_copy(update={"version": seen_version + 1})
        try:
            self.db.put(draft_to_item(trainer_id, saved), at_version(seen_version))
        except ConditionFailed as exc:
            raise VersionConflict() from exc
        return saved

    # Bundles -----------------------------------------------------------------------------
    def list_bundles(self, trainer_id: str) -> list[Bundle]:
        """Every bundle, newest first: the whole programs partition's bundles. Grows with
        the account, so no page uses it (the hub reads `hub_page`)."""
        items = self.db.query(keys.programs_pk(trainer_id), sk_prefix=keys.BUNDLE_PREFIX)
        return sorted(
            (bundle_from_item(i) for i in items), key=lambda b: b.created_at, reverse=True
        )

    def hub_page(
        self, trainer_id: str, after: dict[str, str] | None, limit: int = HUB_PAGE
    ) -> tuple[list[Bundle], dict[str, str] | None]:
        """One page of the hub's bundles (TrainerTimeline `T#<tid>#BUNDLES`, one Query):
        those not over yet first, then the others, most recently over first; and the
        key to continue from (None on the last page). A cursor that this Query could not
        have returned (tampered, another trainer's) starts from the top."""
        if after is not None and not is_hub_cursor(after, trainer_id):
            after = None
        items, last = self.db.query_page(
            keys.trainer_bundles(trainer_id),
            index=keys.TRAINER_INDEX,
            sk_range=HUB_RANGE,
            forward=False,
            limit=limit,
            start_key=after,
        )
        return [bundle_from_item(i) for i in items], last

    def index_bundles(self, trainer_id: str, now: datetime) -> int:
        """One-off backfill: the hub's keys on bundles written before they existed. Each
        bundle only if it still has none (one written meanwhile keeps its own); one
        completed by hand sorts by its last session's end. Returns how many were keyed."""
        keyed = 0
        for item in self.db.iter_query(keys.programs_pk(trainer_id), sk_prefix=keys.BUNDLE_PREFIX):
            if keys.TRAINER_PK in item:
                continue
            bundle = bundle_from_item(item)
            ended = max((e.end_utc for e in bundle.entries), default=bundle.created_at)
            try:
                self.db.update(
                    keys.bundle(trainer_id, bundle.id),
                    Condition(
                        "SET #tpk = :tpk, #tsk = :tsk",
                        {"#tpk": keys.TRAINER_PK, "#tsk": keys.TRAINER_SK},
                        {
                            ":tpk": keys.trainer_bundles(trainer_id),
                            ":tsk": hub_sk(bundle, min(ended, now)),
                        },
                    ),
                    Condition(
                        "attribute_exists(#pk) AND attribute_not_exists(#tpk)", {"#pk": keys.PK}
                    ),
                )
            except ConditionFailed:
                continue
            keyed += 1
        return keyed

    def client_bundles(self, trainer_id: str, client_id: str) -> list[Bundle]:
        """A client's bundles, newest first: one Query of ClientTimeline."""
        items = self.db.query(
            keys.client_bundles(trainer_id, client_id), index=keys.CLIENT_INDEX, forward=False
        )
        return [bundle_from_item(i) for i in items]

    def get_bundle(self, trainer_id: str, bundle_id: str) -> Bundle:
        item = self.db.get(keys.bundle(trainer_id, bundle_id))
        if item is None:
            raise NotFound(bundle_id)
        return bundle_from_item(item)

    def bundle_sessions(self, trainer_id: str, bundle: Bundle) -> list[Session]:
        """The bundle's sessions in its order: BatchGetItem, one call up to 100."""
        return self.bundle_sessions_and_client(trainer_id, bundle, with_client=False)[0]

    def bundle_sessions_and_client(
        self, trainer_id: str, bundle: Bundle, *, with_client: bool = True
    ) -> tuple[list[Session], Client | None]:
        """The bundle's sessions in its order, and its client, in one BatchGetItem (one
        more per 100 sessions)."""
        wanted = [keys.client(trainer_id, bundle.client_id)] if with_client else []
        for entry in bundle.entries:
            ref = parse_session_ref(entry.ref)
            if ref is not None:
                wanted.append(keys.session(trainer_id, ref.week, utc_iso(ref.start_utc), ref.id))
        found: list[Item] = []
        for start in range(0, len(wanted), 100):
            found.extend(self.db.batch_get(wanted[start : start + 100]))
        client = next(
            (client_from_item(i) for i in found if i[keys.SK].startswith(keys.CLIENT_PREFIX)),
            None,
        )
        sessions = [
            session_from_item(i) for i in found if i[keys.SK].startswith(keys.SESSION_PREFIX)
        ]
        sessions.sort(key=lambda s: s.bundle_index if s.bundle_index is not None else 0)
        return sessions, client

    # The wizard's dates against the schedule --------------------------------------------
    def client_and_schedule_at(
        self, trainer_id: str, client_id: str, wanted: Sequence[Slot], zone_name: str
    ) -> ScheduleAround:
        """The client, and every slot on the schedule that overlaps one of `wanted` with
        the sessions booked in them, in a few BatchGetItems whatever the number of weeks:

        1. the client and the guard of each half hour the wanted slots would hold, plus
           the half hour before each: a guard names the slot holding its half hour;
        2. those slots. A slot's key holds its start, its first guard: when the half
           hour before a wanted slot is held by the same slot, that slot began earlier,
           and each earlier start back to the local midnight is asked for (a key per
           half hour; the one that exists is the slot);
        3. the sessions booked in them (a session's key has its slot's start).
        Each step is one call per 100 keys, and none when there is nothing to read. A
        week where a guard's slot is not found that way (a slot from before a time-zone
        change) is read whole with pattern 22, as every week was before."""
        step = timedelta(minutes=GRID_MINUTES)
        points: dict[tuple[str, str], tuple[str, datetime]] = {}  # guard key -> (week, instant)
        for slot in wanted:
            for instant in (slot.start_utc - step, *guard_instants(slot)):
                guard = keys.slot_guard(trainer_id, slot.week, utc_iso(instant))
                points[(guard[keys.PK], guard[keys.SK])] = (slot.week, instant)
        found = self._batch_get(
            [keys.client(trainer_id, client_id), *(keys.key(pk, sk) for pk, sk in points)]
        )
        client = next(
            (client_from_item(i) for i in found if i[keys.SK].startswith(keys.CLIENT_PREFIX)),
            None,
        )
        held = {
            points[(i[keys.PK], i[keys.SK])]: str(i["slot_id"])
            for i in found
            if (i[keys.PK], i[keys.SK]) in points
        }
        # The slots holding a half hour of a wanted slot, and the first half hour each
        # was seen to hold.
        taking = {
            (slot.week, held[(slot.week, instant)])
            for slot in wanted
            for instant in guard_instants(slot)
            if (slot.week, instant) in held
        }
        first: dict[tuple[str, str], datetime] = {}
        for (week, instant), sid in sorted(held.items()):
            if (week, sid) in taking:
                first.setdefault((week, sid), instant)
        fetched = set(points.values())
        slot_keys = []
        for (week, sid), seen in first.items():
            starts = [seen]
            if (week, seen - step) not in fetched:  # it may have begun earlier that day
                floor = _local_midnight(seen, zone_name) - timedelta(hours=1)
                while starts[-1] - step >= floor:
                    starts.append(starts[-1] - step)
            slot_keys += [keys.slot(trainer_id, week, utc_iso(start), sid) for start in starts]
        slots = {
            (s.week, s.id): s
            for s in (slot_from_item(i) for i in self._batch_get(slot_keys))
            if (s.week, s.id) in first
        }
        whole_weeks = sorted({week for week, sid in first if (week, sid) not in slots})
        booked = [s for s in slots.values() if s.session_id and s.week not in whole_weeks]
        sessions = [
            session_from_item(i)
            for i in self._batch_get(
                [
                    keys.session(trainer_id, s.week, utc_iso(s.start_utc), s.session_id or "")
                    for s in booked
                ]
            )
        ]
        kept = [s for s in slots.values() if s.week not in whole_weeks]
        for week in whole_weeks:
            items = self.db.query(keys.week_pk(trainer_id, week), sk_range=keys.WEEK_VIEW_RANGE)
            kept += [slot_from_item(i) for i in items if i[keys.SK].startswith(keys.SLOT_PREFIX)]
            sessions += [
                session_from_item(i) for i in items if i[keys.SK].startswith(keys.SESSION_PREFIX)
            ]
        kept.sort(key=lambda s: (s.start_utc, s.id))  # the order of a week's Query
        return ScheduleAround(client, kept, sessions)

    def _batch_get(self, wanted: Sequence[Mapping[str, str]]) -> list[Item]:
        """BatchGetItem of distinct keys: one call per 100, none for no key."""
        distinct = list({(k[keys.PK], k[keys.SK]): k for k in wanted}.values())
        found: list[Item] = []
        for start in range(0, len(distinct), MAX_BATCH_GET):
            found.extend(self.db.batch_get(distinct[start : start + MAX_BATCH_GET]))
        return found

    def create_bundle(
        self,
        trainer_id: str,
        bundle: Bundle,
        plans: Sequence[PlannedSession],
        now: datetime,
        draft: Draft | None = None,
    ) -> Bundle:
        """Write the bundle and its sessions (see the module docstring). The wizard's
        draft is deleted with the bundle's commit, so a second Validate finds no draft."""
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
        # 2: the bundle's own write and the client's balance
        room = MAX_TRANSACTION - len(checks) - len(final) - 2
        used = 0
        for index, group in enumerate(groups):
            if used + len(group) > room and chunks[-1]:
                chunks.append([])
                used = 0
            chunks[-1].append(index)
            used += len(group)
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
            owed = balance_change(
                trainer_id, bundle.client_id, [], [plans[index].session for index in chunk]
            )
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
        self, trainer_id: str, bundle: Bundle, plan: PlannedSession, now: datetime
    ) -> None:
        """One more session for an active bundle: only while it is still active and has
        the entries it had when read (two adds at once cannot take the same place)."""
        session = plan.session
        entry = bundle_entry(session)
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
                    "#hub = :hub",
                    {"#entries": "entries", "#version": "version", "#hub": keys.TRAINER_SK},
                    {":entry": [entry], ":one": 1, ":hub": hub_sk(grown, now)},
                ),
                Condition(
                    "#status = :active AND size(#entries) = :count",
                    {"#status": "status", "#entries": "entries"},
                    {":active": "active", ":count": len(bundle.entries)},
                ),
                part=BUNDLE_AS_READ,
            ),
            location_is_active(trainer_id, bundle.location_id),
            client_is_active(trainer_id, bundle.client_id),
            *_write_ops(trainer_id, plan, now),
            *balance_change(trainer_id, bundle.client_id, [], [plan.session]),
        ]
        try:
            self.db.transact(operations)
        except TransactionFailed as exc:
            if exc.refused(BUNDLE_AS_READ):
                raise VersionConflict() from exc
            if exc.refused(LOCATION_ACTIVE):
                raise Conflict("That location was archived or deleted meanwhile.") from exc
            if exc.refused(CLIENT_ACTIVE):
                raise Conflict("That client was archived meanwhile.") from exc
            raise SlotTaken(plan.slot.label) from exc

    def set_status(self, trainer_id: str, bundle: Bundle, status: str, now: datetime) -> Bundle:
        """The bundle's status if unchanged since read; it moves in the hub with it (a
        completed bundle sorts by when it was completed)."""
        changed = bundle.model_copy(update={"status": status})
        try:
            self.db.update(
                keys.bundle(trainer_id, bundle.id),
                Condition(
                    "SET #status = :status, #version = :next, #hub = :hub",
                    {"#status": "status", "#version": "version", "#hub": keys.TRAINER_SK},
                    {":status": status, ":next": bundle.version + 1, ":hub": hub_sk(changed, now)},
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
                new_message(trainer_id, message),
                tx_check(
                    keys.session(trainer_id, session.week, utc_iso(session.start_utc), session.id),
                    still_booked,
                    part=Part(SESSION_STILL_BOOKED, n),
                ),
            )
            for n, (session, message) in enumerate(messages)
        ]
        per_chunk = (MAX_TRANSACTION - 1) // 2
        queued = 0
        for start in range(0, max(len(pairs), 1), per_chunk):
            chunk = pairs[start : start + per_chunk]
            head = [claim] if start == 0 else []
            for _attempt in range(per_chunk + 1):
                try:
                    self.db.transact([*head, *(op for pair in chunk for op in pair)])
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

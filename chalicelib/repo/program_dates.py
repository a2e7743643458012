"""What the wizard needs to check a bundle's dates: the client and, for every half hour
the dates would hold, the guard, the slot and the session there (BatchGetItem, not a
Query per week).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from chalicelib.domain.clients import Client
from chalicelib.domain.grid import GRID_MINUTES
from chalicelib.domain.schedule import Session, Slot, guard_instants
from chalicelib.domain.timeutil import utc_iso, zone
from chalicelib.repo import keys
from chalicelib.repo.dynamo import (
    Db,
    Item,
)
from chalicelib.repo.mapping import client_from_item, session_from_item, slot_from_item
from chalicelib.repo.program_items import (
    MAX_BATCH_GET,
)


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


class ProgramDates:
    db: Db

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

"""Reads for the Reports page: the kept week and month counters (written by every session
and slot change through `parts.figures_change`), and the sessions of a date range for
the CSV export. No Scan, and nothing outside the range asked for."""

from __future__ import annotations

from datetime import datetime

from chalicelib.domain import figures
from chalicelib.domain.schedule import Session
from chalicelib.domain.timeutil import utc_iso
from chalicelib.repo import keys
from chalicelib.repo.dynamo import Db
from chalicelib.repo.mapping import session_from_item


class FiguresStore:
    def __init__(self, db: Db) -> None:
        self.db = db

    def periods(self, trainer_id: str, first: str, last: str) -> figures.Deltas:
        """The counters of the periods from `first` to `last` (both W#… or both M#…), as
        kept: one Query, at most one item per period (60 for five years of months)."""
        items = self.db.query(keys.figures_pk(trainer_id), sk_range=(first, last))
        names = (*figures.FIELDS, *figures.PACK_FIELDS)
        return {
            item[keys.SK]: {name: int(item[name]) for name in names if int(item.get(name) or 0)}
            for item in items
        }

    def pack_totals(self, trainer_id: str) -> tuple[int, int]:
        """(places sold, places used) over every pack the trainer sold: one GetItem."""
        item = self.db.get(keys.figures(trainer_id, figures.PACKS_PERIOD)) or {}
        return int(item.get(figures.PACK_PLACES) or 0), int(item.get(figures.PACK_USED) or 0)

    def sessions_between(self, trainer_id: str, since: datetime, until: datetime) -> list[Session]:
        """Every session starting in [since, until), in any status, soonest first: the
        live and the gone TrainerTimeline partitions over the range, paged (the export
        reads what the range holds and nothing else)."""
        window = (keys.timeline_point(utc_iso(since)), keys.timeline_point(utc_iso(until)))
        found: dict[str, Session] = {}
        for partition in (
            keys.trainer_timeline(trainer_id),
            keys.trainer_gone_timeline(trainer_id),
        ):
            for item in self.db.iter_query(partition, index=keys.TRAINER_INDEX, sk_range=window):
                session = session_from_item(item)
                seen = found.get(session.id)
                if seen is None or session.version > seen.version:
                    found[session.id] = session
        return sorted(found.values(), key=lambda s: (s.start_utc, s.id))

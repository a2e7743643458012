"""The operator's recount of the report counters (`python -m infra.manage figures-recount`):
the week and month figure items of a range of months rebuilt from the sessions and slots
themselves, and the running pack totals from the bundles (docs/reports.md, docs/packs.md).

For accounts older than the counters (they were kept from the deploy that introduced
them, so earlier months read as empty), and as a repair. It reads every week partition
that touches the range (one Query a week) and every bundle of the trainer: an operator
tool, never a page. Each item is written with SET of its counters, not ADD: a session
written by the app between this read and that write is lost from the count, so run it
at a quiet hour; running it again converges. The pack sale counters (`packs_sold`,
`packs_value`) cannot be rebuilt from sessions and are left as they are.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from chalicelib.domain import figures
from chalicelib.domain.schedule import Session, Slot
from chalicelib.domain.timeutil import week_key, week_monday
from chalicelib.repo import keys
from chalicelib.repo.dynamo import Condition, Db
from chalicelib.repo.parts import pack_recheck
from chalicelib.repo.programs import ProgramRepository
from chalicelib.repo.repository import Repository


def weeks_touching(first: date, last: date) -> list[str]:
    """Every trainer-week holding a day from `first` to `last`, in order."""
    monday = first - timedelta(days=first.weekday())
    found: list[str] = []
    while monday <= last:
        found.append(week_key(monday))
        monday += timedelta(weeks=1)
    return found


def month_bounds(first_month: date, last_month: date) -> tuple[date, date]:
    """The first day of `first_month` and the last day of `last_month`."""
    after = date(last_month.year + last_month.month // 12, last_month.month % 12 + 1, 1)
    return first_month.replace(day=1), after - timedelta(days=1)


class Recount:
    def __init__(self, db: Db) -> None:
        self.db = db

    def figures(self, trainer_id: str, first_month: date, last_month: date) -> int:
        """Rebuild the month items of the range and the week items inside it; returns how
        many items were written."""
        first, last = month_bounds(first_month, last_month)
        sessions: list[Session] = []
        slots: list[Slot] = []
        schedule = Repository(self.db)
        for week in weeks_touching(first, last):
            found = schedule.get_week_with_sessions(trainer_id, week)
            sessions += found.sessions
            slots += found.slots
        counts = figures.figures_of(sessions, slots)
        wanted = {
            period
            for day in _days(first, last)
            for period in figures.periods_of(day)
            # A week that runs out of the range was only partly read: left as it is.
            if not period.startswith(figures.WEEK_PERIOD) or _week_inside(period, first, last)
        }
        for period in sorted(wanted):
            self._set(trainer_id, period, counts.get(period, {}))
        return len(wanted)

    def _set(self, trainer_id: str, period: str, counts: dict[str, int]) -> None:
        names: dict[str, str] = {"#type": "type", "#period": "period"}
        values: dict[str, Any] = {":figures": "figures", ":period": period}
        sets, removes = ["#type = :figures", "#period = :period"], []
        for i, name in enumerate(figures.FIELDS):
            names[f"#c{i}"] = name
            if counts.get(name):
                values[f":c{i}"] = counts[name]
                sets.append(f"#c{i} = :c{i}")
            else:
                removes.append(f"#c{i}")
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        self.db.update(keys.figures(trainer_id, period), Condition(expression, names, values))

    def pack_totals(self, trainer_id: str) -> tuple[int, int]:
        """The running pack totals rebuilt from every bundle (places sold; places the pack
        job counted as used), and every active bundle asked to be looked at again so the
        job counts those from before it. Returns (places, used)."""
        bundles = ProgramRepository(self.db).list_bundles(trainer_id)
        sold = [b for b in bundles if b.status != "creating"]
        places = sum(b.sessions_planned for b in sold)
        used = sum(b.used_counted for b in sold)
        self.db.update(
            keys.figures(trainer_id, figures.PACKS_PERIOD),
            Condition(
                "SET #places = :places, #used = :used, #type = :figures, #period = :period",
                {
                    "#places": figures.PACK_PLACES,
                    "#used": figures.PACK_USED,
                    "#type": "type",
                    "#period": "period",
                },
                {
                    ":places": places,
                    ":used": used,
                    ":figures": "figures",
                    ":period": figures.PACKS_PERIOD,
                },
            ),
        )
        for bundle in sold:
            if bundle.status in ("active", "paused"):
                clause, names, values = pack_recheck(bundle.id)
                self.db.update(
                    keys.bundle(trainer_id, bundle.id), Condition(f"SET {clause}", names, values)
                )
        return places, used


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _week_inside(period: str, first: date, last: date) -> bool:
    monday = week_monday(period.removeprefix(figures.WEEK_PERIOD))
    return first <= monday and monday + timedelta(days=6) <= last

"""The trainer's kept report counters, as the Reports page would read them, for tests
that hold them to a recomputation from the sessions and slots (domain.figures)."""

from __future__ import annotations

from chalicelib.domain import figures
from chalicelib.repo import keys
from chalicelib.repo.repository import Repository


def kept_figures(repo: Repository, trainer_id: str) -> figures.Deltas:
    """Every period item's non-zero counters (an item brought back to zero is nothing)."""
    items = repo.db.query(keys.figures_pk(trainer_id))
    kept = {
        item[keys.SK]: {
            name: int(item[name]) for name in figures.FIELDS if int(item.get(name, 0) or 0)
        }
        for item in items
    }
    return {period: counts for period, counts in sorted(kept.items()) if counts}


def recomputed(repo: Repository, trainer_id: str, weeks: list[str]) -> figures.Deltas:
    """The counters recomputed from the sessions and slots of `weeks` (one Query each)."""
    sessions, slots = [], []
    for week in weeks:
        data = repo.get_week_with_sessions(trainer_id, week)
        sessions += data.sessions
        slots += data.slots
    return figures.figures_of(sessions, slots)

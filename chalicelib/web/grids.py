"""Presentation of the 30-minute grid: rows, spans and empty cells for day columns.

One layout serves the weekly template (weekday columns) and the schedule (dated columns).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from chalicelib.domain.grid import GRID_MINUTES, WEEKDAYS, WEEKDAYS_SHORT, format_clock, grid_times
from chalicelib.domain.models import Location, LocationName
from chalicelib.domain.schedule import Slot
from chalicelib.domain.settings import TrainerSettings
from chalicelib.domain.template import TemplateSlot, WeeklyTemplate


@dataclass(frozen=True)
class Block:
    id: str
    start: int
    end: int
    row: int  # 1-based grid row
    span: int
    place: str
    kind: str  # css modifier: open, warning (and booked, recurring... with sessions)

    @property
    def times(self) -> str:
        return f"{format_clock(self.start)}–{format_clock(self.end)}"


@dataclass(frozen=True)
class EmptyCell:
    start: int
    row: int


@dataclass
class DayColumn:
    key: str  # weekday index for the template, ISO date for the schedule
    name: str
    short: str
    blocks: list[Block] = field(default_factory=list)
    empty: list[EmptyCell] = field(default_factory=list)
    is_today: bool = False


@dataclass(frozen=True)
class Grid:
    times: list[int]
    days: list[DayColumn]

    @property
    def rows(self) -> int:
        return len(self.times)


def _grid(
    settings: TrainerSettings,
    columns: list[tuple[DayColumn, list[tuple[str, int, int, str, str]]]],
) -> Grid:
    """Lay out (id, start, end, place, kind) blocks in their columns over the day's rows."""
    spans = [(start, end) for _col, blocks in columns for _id, start, end, _p, _k in blocks]
    first = min([settings.day_start, *(s for s, _e in spans)])
    last = max([settings.day_end, *(e for _s, e in spans)])
    first -= first % GRID_MINUTES
    times = grid_times(first, last)
    for column, blocks in columns:
        covered: set[int] = set()
        for block_id, start, end, place, kind in sorted(blocks, key=lambda b: b[1]):
            column.blocks.append(
                Block(
                    id=block_id,
                    start=start,
                    end=end,
                    row=(start - first) // GRID_MINUTES + 1,
                    span=max(1, (end - start) // GRID_MINUTES),
                    place=place,
                    kind=kind,
                )
            )
            covered.update(grid_times(start, end))
        column.empty = [EmptyCell(t, i + 1) for i, t in enumerate(times) if t not in covered]
    return Grid(times=times, days=[column for column, _ in columns])


def _place(location_id: str, names: dict[str, str], archived: set[str]) -> tuple[str, bool]:
    if location_id not in names:
        return "Deleted location", True
    return names[location_id], location_id in archived


def template_grid(
    template: WeeklyTemplate, settings: TrainerSettings, locations: list[Location]
) -> Grid:
    names = {loc.id: loc.name for loc in locations}
    archived = {loc.id for loc in locations if loc.archived}

    def block(slot: TemplateSlot) -> tuple[str, int, int, str, str]:
        place, unusable = _place(slot.location_id, names, archived)
        return (
            slot.id,
            slot.start,
            slot.end,
            place + (" (archived)" if unusable and place != "Deleted location" else ""),
            "warning" if unusable else "open",
        )

    columns = [
        (
            DayColumn(str(weekday), WEEKDAYS[weekday], WEEKDAYS_SHORT[weekday]),
            [block(s) for s in template.on_weekday(weekday)],
        )
        for weekday in range(7)
    ]
    return _grid(settings, columns)


def schedule_grid(
    days: list[date],
    slots: list[Slot],
    settings: TrainerSettings,
    locations: dict[str, LocationName],
    today: date,
) -> Grid:
    names = {lid: loc.name for lid, loc in locations.items()}
    archived = {lid for lid, loc in locations.items() if loc.archived}
    columns = []
    for day in days:
        blocks = []
        for slot in slots:
            if slot.day == day:
                place, _unusable = _place(slot.location_id, names, archived)
                blocks.append((slot.id, slot.start, slot.end, place, "open"))
        column = DayColumn(
            day.isoformat(),
            f"{WEEKDAYS_SHORT[day.weekday()]} {day.day} {day:%b}",
            f"{WEEKDAYS_SHORT[day.weekday()]} {day.day}",
            is_today=day == today,
        )
        columns.append((column, blocks))
    return _grid(settings, columns)


def clock_choices(start: int, end: int) -> list[tuple[int, str]]:
    return [(t, format_clock(t)) for t in range(start, end + 1, GRID_MINUTES)]

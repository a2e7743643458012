"""Presentation of the weekly template as a 30-minute grid (rows, spans, empty cells)."""

from __future__ import annotations

from dataclasses import dataclass, field

from chalicelib.domain.grid import GRID_MINUTES, WEEKDAYS, format_clock, grid_times
from chalicelib.domain.models import Location
from chalicelib.domain.settings import TrainerSettings
from chalicelib.domain.template import TemplateSlot, WeeklyTemplate


@dataclass(frozen=True)
class Block:
    slot: TemplateSlot
    row: int  # 1-based grid row
    span: int
    location_name: str
    location_archived: bool


@dataclass(frozen=True)
class EmptyCell:
    start: int
    row: int


@dataclass
class DayColumn:
    weekday: int
    name: str
    blocks: list[Block] = field(default_factory=list)
    empty: list[EmptyCell] = field(default_factory=list)


@dataclass(frozen=True)
class TemplateGrid:
    times: list[int]
    days: list[DayColumn]

    @property
    def rows(self) -> int:
        return len(self.times)


def template_grid(
    template: WeeklyTemplate, settings: TrainerSettings, locations: list[Location]
) -> TemplateGrid:
    # The grid covers the schedule hours, stretched to show any slot outside them.
    first = min([settings.day_start, *(s.start for s in template.slots)])
    last = max([settings.day_end, *(s.end for s in template.slots)])
    first -= first % GRID_MINUTES
    times = grid_times(first, last)
    by_id = {loc.id: loc for loc in locations}
    days = []
    for weekday, name in enumerate(WEEKDAYS):
        column = DayColumn(weekday, name)
        covered: set[int] = set()
        for slot in template.on_weekday(weekday):
            location = by_id.get(slot.location_id)
            column.blocks.append(
                Block(
                    slot=slot,
                    row=(slot.start - first) // GRID_MINUTES + 1,
                    span=max(1, slot.length // GRID_MINUTES),
                    location_name=location.name if location else "Deleted location",
                    location_archived=location is None or location.archived,
                )
            )
            covered.update(grid_times(slot.start, slot.end))
        column.empty = [
            EmptyCell(start=t, row=i + 1) for i, t in enumerate(times) if t not in covered
        ]
        days.append(column)
    return TemplateGrid(times=times, days=days)


def clock_choices(start: int, end: int) -> list[tuple[int, str]]:
    return [(t, format_clock(t)) for t in range(start, end + 1, GRID_MINUTES)]

"""Presentation of the 30-minute grid: rows, spans and empty cells for day columns.

One layout serves the weekly template (weekday columns) and the schedule (dated columns).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from chalicelib.domain.grid import GRID_MINUTES, WEEKDAYS, WEEKDAYS_SHORT, format_clock, grid_times
from chalicelib.domain.models import Location, LocationName
from chalicelib.domain.schedule import Session, Slot
from chalicelib.domain.settings import TrainerSettings
from chalicelib.domain.template import TemplateSlot, WeeklyTemplate


@dataclass(frozen=True)
class Item:
    """Something to draw on the grid, before layout."""

    href: str
    start: int
    end: int
    place: str
    kind: str  # css modifier: open, warning, recurring, booked
    who: str = ""  # the client, for bookings


@dataclass(frozen=True)
class Block:
    href: str
    start: int
    end: int
    row: int  # 1-based grid row
    span: int
    place: str
    kind: str
    who: str

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
    columns: list[tuple[DayColumn, list[Item]]],
) -> Grid:
    """Lay out items in their columns over the rows of the day (schedule hours, stretched)."""
    items = [item for _column, column_items in columns for item in column_items]
    first = min([settings.day_start, *(i.start for i in items)])
    last = max([settings.day_end, *(i.end for i in items)])
    first -= first % GRID_MINUTES
    times = grid_times(first, last)
    for column, column_items in columns:
        covered: set[int] = set()
        for item in sorted(column_items, key=lambda i: i.start):
            column.blocks.append(
                Block(
                    href=item.href,
                    start=item.start,
                    end=item.end,
                    row=(item.start - first) // GRID_MINUTES + 1,
                    span=max(1, (item.end - item.start) // GRID_MINUTES),
                    place=item.place,
                    kind=item.kind,
                    who=item.who,
                )
            )
            covered.update(grid_times(item.start, item.end))
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

    def block(slot: TemplateSlot) -> Item:
        place, unusable = _place(slot.location_id, names, archived)
        return Item(
            href=f"/dashboard/settings/template/slots/{slot.id}",
            start=slot.start,
            end=slot.end,
            place=place + (" (archived)" if unusable and place != "Deleted location" else ""),
            kind="warning" if unusable else "open",
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
    sessions: list[Session],
    settings: TrainerSettings,
    locations: dict[str, LocationName],
    today: date,
    *,
    move_ref: str | None = None,
    matched: frozenset[str] = frozenset(),
    now: datetime | None = None,
) -> Grid:
    """Open slots in green; a booked slot shows its session (blue recurring, dark manual,
    amber while it is being changed). Open slots with last-minute matches are amber, those
    locked by a live offer purple. While a session is being moved (`move_ref`), open
    slots lead to "Move here" instead of the open-slot menu."""
    names = {lid: loc.name for lid, loc in locations.items()}
    archived = {lid for lid, loc in locations.items() if loc.archived}
    live = {s.slot_id: s for s in sessions if s.status == "booked"}
    columns = []
    for day in days:
        blocks = []
        for slot in slots:
            if slot.day != day:
                continue
            place, _unusable = _place(slot.location_id, names, archived)
            booking = live.get(slot.id)
            if booking is None:
                href = f"/dashboard/schedule/{slot.week}/slots/{slot.id}"
                if move_ref:
                    href += f"?move={move_ref}"
                if slot.offer is not None and now is not None and slot.offer.live(now):
                    who = f"Offered: {slot.offer.client_name}"
                    blocks.append(Item(href, slot.start, slot.end, place, "locked", who=who))
                else:
                    kind = "match" if slot.id in matched else "open"
                    blocks.append(Item(href, slot.start, slot.end, place, kind))
            else:
                kind = "recurring" if booking.kind == "recurring" else "booked"
                if booking.changing:
                    kind = "changing"
                href = f"/dashboard/sessions/{booking.ref}"
                blocks.append(
                    Item(href, slot.start, slot.end, place, kind, who=booking.client_name)
                )
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

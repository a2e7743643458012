"""Presentation of the 30-minute grid: rows, spans and empty cells for day columns.

One layout serves the weekly template (weekday columns) and the schedule (dated columns).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from chalicelib.domain.grid import (
    GRID_MINUTES,
    WEEKDAYS,
    WEEKDAYS_SHORT,
    format_clock,
    grid_times,
)
from chalicelib.domain.grid import (
    clock_choices as clock_choices,  # the template form's pickers (web/dashboard_views)
)
from chalicelib.domain.models import Location, LocationName
from chalicelib.domain.offers import live_offer
from chalicelib.domain.schedule import Session, Slot
from chalicelib.domain.settings import TrainerSettings
from chalicelib.domain.template import TemplateSlot, WeeklyTemplate
from chalicelib.domain.time_off import TimeOffPeriod
from chalicelib.domain.timeutil import zone
from chalicelib.services.schedule import WeekPage

# Each kind's word, as in the legend: a block's colour is never the only way to tell what
# it is (screen readers read the word, colour-blind trainers see it on the block).
STATUS_WORDS = {
    "open": "Open",
    "match": "Open, last-minute matches",
    "locked": "Offer locked",
    "recurring": "Recurring",
    "booked": "Booked",
    "changing": "Changing",
    "timeoff": "Time off",
}
TIME_OFF_PAGE = "/dashboard/settings/time-off"


@dataclass(frozen=True)
class Item:
    """Something to draw on the grid, before layout."""

    href: str
    start: int
    end: int
    place: str
    kind: str  # css modifier: open, match, locked, recurring, booked, changing, warning
    who: str = ""  # the client, for bookings
    status: str = ""  # the kind in words, where the colour alone would carry it
    # Drawn first, under the slots: a time-off band spans the sessions still inside it.
    behind: bool = False


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
    status: str = ""

    @property
    def times(self) -> str:
        return f"{format_clock(self.start)}–{format_clock(self.end)}"

    @property
    def compact(self) -> bool:
        """A half-hour block: too short for three lines, so it leads with the client."""
        return self.span == 1

    @property
    def title(self) -> str:
        """Everything the block says, untruncated, for the tooltip."""
        return " · ".join(part for part in (self.status, self.times, self.who, self.place) if part)


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
    # The row a keyboard user lands on and a scrolled grid opens at: now, when today is
    # shown during the grid's hours, else the earliest block; None for an empty grid.
    focus_row: int | None = None

    @property
    def rows(self) -> int:
        return len(self.times)


def _grid(
    settings: TrainerSettings,
    columns: list[tuple[DayColumn, list[Item]]],
    now_minutes: int | None = None,
) -> Grid:
    """Lay out items in their columns over the rows of the day (schedule hours, stretched)."""
    items = [item for _column, column_items in columns for item in column_items]
    first = min([settings.day_start, *(i.start for i in items)])
    last = max([settings.day_end, *(i.end for i in items)])
    first -= first % GRID_MINUTES
    times = grid_times(first, last)
    for column, column_items in columns:
        covered: set[int] = set()
        for item in sorted(column_items, key=lambda i: (not i.behind, i.start)):
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
                    status=item.status,
                )
            )
            covered.update(grid_times(item.start, item.end))
        column.empty = [EmptyCell(t, i + 1) for i, t in enumerate(times) if t not in covered]
    if now_minutes is not None and first <= now_minutes < last:
        focus_row: int | None = (now_minutes - first) // GRID_MINUTES + 1
    else:
        focus_row = min(((i.start - first) // GRID_MINUTES + 1 for i in items), default=None)
    return Grid(times=times, days=[column for column, _ in columns], focus_row=focus_row)


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
    time_off: Sequence[TimeOffPeriod] = (),
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
        blocks = [band for p in time_off if (band := _time_off_band(p, day, settings))]
        for slot in slots:
            if slot.day != day:
                continue
            place, _unusable = _place(slot.location_id, names, archived)
            booking = live.get(slot.id)
            if booking is None:
                href = f"/dashboard/schedule/{slot.week}/slots/{slot.id}"
                if move_ref:
                    href += f"?move={move_ref}"
                if now is not None and live_offer(slot, now) is not None:
                    who = f"Offered: {slot.offer.client_name}"
                    kind = "locked"
                else:
                    who, kind = "", "match" if slot.id in matched else "open"
            else:
                kind = "recurring" if booking.kind == "recurring" else "booked"
                if booking.changing:
                    kind = "changing"
                href = f"/dashboard/sessions/{booking.ref}"
                who = booking.client_name
            blocks.append(
                Item(href, slot.start, slot.end, place, kind, who=who, status=STATUS_WORDS[kind])
            )
        column = DayColumn(
            day.isoformat(),
            f"{WEEKDAYS_SHORT[day.weekday()]} {day.day} {day:%b}",
            f"{WEEKDAYS_SHORT[day.weekday()]} {day.day}",
            is_today=day == today,
        )
        columns.append((column, blocks))
    now_minutes = None
    if now is not None and today in days:
        local = now.astimezone(zone(settings.time_zone))
        now_minutes = local.hour * 60 + local.minute
    return _grid(settings, columns, now_minutes)


def _time_off_band(period: TimeOffPeriod, day: date, settings: TrainerSettings) -> Item | None:
    """The labelled band of a period on one day, kept to the grid's hours (a whole day
    would otherwise stretch the grid to 24 hours) and widened to whole half hours."""
    if not period.covers_day(day):
        return None
    start, end = period.minutes_on(day)
    start = max(start, settings.day_start)
    end = min(end, settings.day_end)
    start -= start % GRID_MINUTES
    end += -end % GRID_MINUTES
    if start >= end:
        return None
    return Item(
        TIME_OFF_PAGE,
        start,
        end,
        period.label,
        "timeoff",
        who=period.title,
        status=STATUS_WORDS["timeoff"],
        behind=True,
    )


def week_grid(page: WeekPage) -> Grid:
    """The schedule page's grid, laid out from what the page read."""
    return schedule_grid(
        list(page.days),
        list(page.slots),
        list(page.sessions),
        page.settings,
        dict(page.locations),
        page.today,
        move_ref=page.moving.ref if page.moving else None,
        matched=page.matched,
        now=page.now,
        time_off=page.time_off,
    )

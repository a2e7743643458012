"""The weekly template: the slots a trainer offers in a typical week.

A template slot is a local wall-clock range on a weekday at a location. Rules: both ends
on the 30-minute grid, end after start, a location that exists and is not archived, and
no overlap with another slot on the same weekday (at any location: a trainer is in one
place at a time).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict

from chalicelib.domain.commands import Command, Versioned
from chalicelib.domain.errors import InvalidInput, NotFound
from chalicelib.domain.grid import (
    WEEKDAYS,
    format_clock,
    overlaps,
    parse_time_fields,
    range_errors,
)
from chalicelib.domain.models import Location

MAX_TEMPLATE_SLOTS = 7 * 48


class TemplateSlot(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    weekday: int  # 0 = Monday, as date.weekday()
    start: int  # minutes since local midnight
    end: int
    location_id: str

    @property
    def label(self) -> str:
        return f"{WEEKDAYS[self.weekday]} {format_clock(self.start)}–{format_clock(self.end)}"

    @property
    def length(self) -> int:
        return self.end - self.start


class SlotDraft(BaseModel):
    """A slot as typed into the form, before it has an id."""

    model_config = ConfigDict(frozen=True)

    weekday: int
    start: int
    end: int
    location_id: str


class WeeklyTemplate(BaseModel):
    model_config = ConfigDict(frozen=True)

    slots: tuple[TemplateSlot, ...] = ()
    version: int = 0  # 0 = never saved

    def slot(self, slot_id: str) -> TemplateSlot:
        for slot in self.slots:
            if slot.id == slot_id:
                return slot
        raise NotFound(slot_id)

    def on_weekday(self, weekday: int) -> list[TemplateSlot]:
        return sorted((s for s in self.slots if s.weekday == weekday), key=lambda s: s.start)

    def location_ids(self) -> set[str]:
        return {s.location_id for s in self.slots}

    def uses_location(self, location_id: str) -> bool:
        return location_id in self.location_ids()

    def with_slot(
        self, slot_id: str, draft: SlotDraft, locations: Iterable[Location]
    ) -> WeeklyTemplate:
        """Add (new id) or replace (existing id) a slot, enforcing every template rule."""
        others = [s for s in self.slots if s.id != slot_id]
        errors = slot_errors(draft, others, locations)
        if not any(s.id == slot_id for s in self.slots) and len(self.slots) >= MAX_TEMPLATE_SLOTS:
            errors.setdefault("start", "The template is full.")
        if errors:
            raise InvalidInput(errors)
        slot = TemplateSlot(id=slot_id, **draft.model_dump())
        return self.model_copy(update={"slots": _sorted((*others, slot))})

    def without_slot(self, slot_id: str) -> WeeklyTemplate:
        self.slot(slot_id)
        return self.model_copy(update={"slots": tuple(s for s in self.slots if s.id != slot_id)})


def _sorted(slots: Iterable[TemplateSlot]) -> tuple[TemplateSlot, ...]:
    return tuple(sorted(slots, key=lambda s: (s.weekday, s.start, s.id)))


def slot_errors(
    draft: SlotDraft, others: Iterable[TemplateSlot], locations: Iterable[Location]
) -> dict[str, str]:
    errors = range_errors(draft.start, draft.end)
    if not 0 <= draft.weekday <= 6:
        errors["weekday"] = "Pick a day of the week."
    usable = {loc.id: loc for loc in locations if not loc.archived}
    if not draft.location_id:
        errors["location_id"] = "Every slot needs a location."
    elif draft.location_id not in usable:
        errors["location_id"] = "That location does not exist or is archived; pick another."
    if not errors:
        for other in others:
            if other.weekday == draft.weekday and overlaps(
                draft.start, draft.end, other.start, other.end
            ):
                errors["start"] = (
                    f"This overlaps {format_clock(other.start)}–{format_clock(other.end)} "
                    f"on {WEEKDAYS[other.weekday]}. Slots on the same day cannot overlap."
                )
                break
    return errors


class SlotInput(Command):
    """A template slot's form as typed. The fields stay text so that every problem is
    found at once and told in the rules' words (a day of the week, a time on the grid)."""

    weekday: str = ""
    start: str = ""
    end: str = ""
    location_id: str = ""


class SaveSlot(SlotInput, Versioned):
    """Add a slot to the weekly template (no id), or change one: at the template's version."""

    slot_id: str | None = None


class RemoveSlot(Versioned):
    slot_id: str


def parse_slot(typed: SlotInput) -> SlotDraft:
    """The slot a form asks for; raises InvalidInput with per-field messages."""
    errors: dict[str, str] = {}
    # Only ASCII digits: str.isdigit() also accepts "²", which int() then rejects.
    weekday = int(typed.weekday) if re.fullmatch(r"[0-6]", typed.weekday) else -1
    if not 0 <= weekday <= 6:
        errors["weekday"] = "Pick a day of the week."
    start, end = parse_time_fields({"start": typed.start, "end": typed.end}, errors)
    if not typed.location_id:
        errors["location_id"] = "Every slot needs a location."
    if errors:
        raise InvalidInput(errors)
    assert start is not None and end is not None
    return SlotDraft(weekday=weekday, start=start, end=end, location_id=typed.location_id)

"""The weekly template: the slot form and the no-overlap, grid and location rules."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain.errors import InvalidInput, NotFound
from chalicelib.domain.grid import overlaps
from chalicelib.domain.models import Location
from chalicelib.domain.template import (
    MAX_TEMPLATE_SLOTS,
    SlotDraft,
    SlotInput,
    TemplateSlot,
    WeeklyTemplate,
    parse_slot,
)

MON, TUE, SUN = 0, 1, 6
STUDIO = Location(id="loc-studio", name="Studio")
PARK = Location(id="loc-park", name="Park")
OLD_GYM = Location(id="loc-old", name="Old gym", archived=True)
LOCATIONS = [STUDIO, PARK, OLD_GYM]


def hm(hours: int, minutes: int = 0) -> int:
    return hours * 60 + minutes


def draft(
    weekday: int = MON, start: str = "09:00", end: str = "10:00", location: str = STUDIO.id
) -> SlotDraft:
    h1, m1 = map(int, start.split(":"))
    h2, m2 = map(int, end.split(":"))
    return SlotDraft(weekday=weekday, start=hm(h1, m1), end=hm(h2, m2), location_id=location)


def slot_form(**overrides: str) -> dict[str, str]:
    form = {"weekday": "0", "start": "09:00", "end": "10:00", "location_id": STUDIO.id}
    form.update(overrides)
    return form


def read_slot(form: dict[str, str]) -> SlotDraft:
    """The slot form as the page posts it, through its command and the rules."""
    return parse_slot(SlotInput.model_validate(form))


def form_errors(**overrides: str) -> dict[str, str]:
    with pytest.raises(InvalidInput) as info:
        read_slot(slot_form(**overrides))
    return info.value.errors


def refused(template: WeeklyTemplate, slot_id: str, new: SlotDraft) -> dict[str, str]:
    with pytest.raises(InvalidInput) as info:
        template.with_slot(slot_id, new, LOCATIONS)
    return info.value.errors


def monday_nine_to_ten() -> WeeklyTemplate:
    return WeeklyTemplate().with_slot("a", draft(MON, "09:00", "10:00"), LOCATIONS)


# --- parse_slot: the slot form -------------------------------------------------------------------


def test_a_valid_slot_form_becomes_a_draft():
    assert read_slot(slot_form(weekday="2", start="09:30", end="11:00")) == SlotDraft(
        weekday=2, start=570, end=660, location_id=STUDIO.id
    )


def test_a_slot_form_may_end_at_midnight():
    assert read_slot(slot_form(start="23:00", end="24:00")).end == 1440


def test_the_slot_form_trims_weekday_and_location():
    parsed = read_slot(slot_form(weekday=" 6 ", location_id=f"  {PARK.id} "))
    assert (parsed.weekday, parsed.location_id) == (SUN, PARK.id)


@pytest.mark.parametrize("value", ["", "   "])
def test_a_slot_form_without_a_location_is_refused(value):
    assert form_errors(location_id=value) == {"location_id": "Every slot needs a location."}


def test_a_slot_form_with_no_location_key_is_refused():
    form = slot_form()
    del form["location_id"]
    with pytest.raises(InvalidInput) as info:
        read_slot(form)
    assert info.value.errors == {"location_id": "Every slot needs a location."}


@pytest.mark.parametrize("value", ["", "7", "-1", "Monday", "1.0", "99"])
def test_a_slot_form_with_a_bad_weekday_is_refused(value):
    assert form_errors(weekday=value) == {"weekday": "Pick a day of the week."}


@pytest.mark.parametrize("value", ["²", "³"])
def test_a_slot_form_with_a_unicode_superscript_weekday_is_a_field_error_not_a_crash(value):
    # str.isdigit() is True for "²" but int("²") raises: this must be InvalidInput.
    assert form_errors(weekday=value) == {"weekday": "Pick a day of the week."}


@pytest.mark.parametrize("value", ["", "9", "09:60", "25:00", "24:00", "nine"])
def test_a_slot_form_with_a_bad_start_is_refused_on_start(value):
    assert set(form_errors(start=value)) == {"start"}


@pytest.mark.parametrize("value", ["", "10", "10:60", "24:30"])
def test_a_slot_form_with_a_bad_end_is_refused_on_end(value):
    assert set(form_errors(end=value)) == {"end"}


def test_a_slot_form_reports_every_bad_field_at_once():
    errors = form_errors(weekday="x", start="", end="", location_id="")
    assert set(errors) == {"weekday", "start", "end", "location_id"}


def test_the_slot_form_leaves_the_grid_to_the_template():
    # 09:00-09:45 parses; with_slot refuses it with the grid message.
    assert read_slot(slot_form(end="09:45")).end == 585


ascii_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=8)


@given(st.dictionaries(st.sampled_from(["weekday", "start", "end", "location_id"]), ascii_text))
def test_any_ascii_slot_form_either_parses_or_raises_invalid_input(overrides):
    try:
        parsed = read_slot(slot_form(**overrides))
    except InvalidInput as exc:
        assert set(exc.errors) <= {"weekday", "start", "end", "location_id"}
    else:
        assert 0 <= parsed.weekday <= 6
        assert 0 <= parsed.start < 1440
        assert 0 <= parsed.end <= 1440
        assert parsed.location_id


# --- with_slot: adding -------------------------------------------------------------------


def test_an_empty_template_has_no_slots_and_was_never_saved():
    template = WeeklyTemplate()
    assert template.slots == ()
    assert template.version == 0


def test_a_valid_slot_is_added():
    template = monday_nine_to_ten()
    assert template.slots == (
        TemplateSlot(id="a", weekday=MON, start=540, end=600, location_id=STUDIO.id),
    )


def test_with_slot_returns_a_new_template_and_leaves_the_old_one_alone():
    empty = WeeklyTemplate()
    empty.with_slot("a", draft(), LOCATIONS)
    assert empty.slots == ()


def test_with_slot_keeps_the_version():
    template = WeeklyTemplate(version=7).with_slot("a", draft(), LOCATIONS)
    assert template.version == 7


def test_an_overlapping_slot_on_the_same_day_is_refused_naming_the_other_slot():
    errors = refused(monday_nine_to_ten(), "b", draft(MON, "09:30", "10:30"))
    assert set(errors) == {"start"}
    assert "09:00–10:00" in errors["start"]
    assert "Monday" in errors["start"]
    assert "cannot overlap" in errors["start"]


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("09:00", "10:00"),
        ("08:30", "09:30"),
        ("09:30", "10:30"),
        ("08:00", "11:00"),
        ("09:00", "09:30"),
    ],
)
def test_any_overlap_on_the_same_day_is_refused(start, end):
    assert "start" in refused(monday_nine_to_ten(), "b", draft(MON, start, end))


def test_an_overlap_at_another_location_is_still_refused():
    # A trainer is in one place at a time.
    errors = refused(monday_nine_to_ten(), "b", draft(MON, "09:30", "10:30", PARK.id))
    assert "overlaps" in errors["start"]


def test_the_same_time_on_a_different_day_is_allowed():
    template = monday_nine_to_ten().with_slot("b", draft(TUE, "09:00", "10:00"), LOCATIONS)
    assert [s.id for s in template.slots] == ["a", "b"]


def test_touching_slots_are_allowed():
    template = monday_nine_to_ten().with_slot("b", draft(MON, "10:00", "11:00"), LOCATIONS)
    template = template.with_slot("c", draft(MON, "08:00", "09:00"), LOCATIONS)
    assert [(s.start, s.end) for s in template.on_weekday(MON)] == [
        (480, 540),
        (540, 600),
        (600, 660),
    ]


def test_an_archived_location_is_refused():
    errors = refused(WeeklyTemplate(), "a", draft(location=OLD_GYM.id))
    assert set(errors) == {"location_id"}
    assert "archived" in errors["location_id"]


def test_an_unknown_location_is_refused():
    errors = refused(WeeklyTemplate(), "a", draft(location="loc-nowhere"))
    assert set(errors) == {"location_id"}


def test_an_empty_location_is_refused():
    assert refused(WeeklyTemplate(), "a", draft(location="")) == {
        "location_id": "Every slot needs a location."
    }


def test_a_slot_is_refused_when_there_are_no_locations_at_all():
    with pytest.raises(InvalidInput) as info:
        WeeklyTemplate().with_slot("a", draft(), [])
    assert set(info.value.errors) == {"location_id"}


def test_a_45_minute_slot_is_refused_with_a_grid_message():
    errors = refused(WeeklyTemplate(), "a", draft(MON, "09:00", "09:45"))
    assert set(errors) == {"end"}
    assert "30-minute grid" in errors["end"]


def test_a_slot_starting_off_the_grid_is_refused():
    assert set(refused(WeeklyTemplate(), "a", draft(MON, "09:15", "10:00"))) == {"start"}


def test_a_slot_ending_before_it_starts_is_refused():
    errors = refused(WeeklyTemplate(), "a", draft(MON, "10:00", "09:00"))
    assert errors == {"end": "The end must be after the start."}


@pytest.mark.parametrize("weekday", [-1, 7, 10])
def test_a_slot_on_a_nonexistent_weekday_is_refused(weekday):
    assert set(refused(WeeklyTemplate(), "a", draft(weekday=weekday))) == {"weekday"}


def test_a_refused_slot_reports_all_its_problems():
    errors = refused(WeeklyTemplate(), "a", draft(9, "09:15", "09:45", "nowhere"))
    assert set(errors) == {"weekday", "start", "end", "location_id"}


def test_a_slot_ending_at_midnight_is_allowed():
    template = WeeklyTemplate().with_slot("a", draft(SUN, "23:00", "24:00"), LOCATIONS)
    assert template.slots[0].end == 1440


# --- with_slot: editing ------------------------------------------------------------------


def test_editing_a_slot_does_not_conflict_with_itself():
    template = monday_nine_to_ten().with_slot("a", draft(MON, "09:30", "10:30"), LOCATIONS)
    assert [(s.id, s.start, s.end) for s in template.slots] == [("a", 570, 630)]


def test_editing_a_slot_can_move_it_to_another_day_and_location():
    template = monday_nine_to_ten().with_slot("a", draft(SUN, "18:00", "19:00", PARK.id), LOCATIONS)
    assert template.slots == (
        TemplateSlot(id="a", weekday=SUN, start=1080, end=1140, location_id=PARK.id),
    )


def test_editing_a_slot_into_another_slot_is_refused():
    template = monday_nine_to_ten().with_slot("b", draft(MON, "10:00", "11:00"), LOCATIONS)
    errors = refused(template, "b", draft(MON, "09:30", "10:30"))
    assert "09:00–10:00" in errors["start"]


def test_a_refused_edit_leaves_the_template_unchanged():
    template = monday_nine_to_ten().with_slot("b", draft(MON, "10:00", "11:00"), LOCATIONS)
    before = template.slots
    refused(template, "b", draft(MON, "09:30", "10:30"))
    assert template.slots == before


# --- without_slot / lookups --------------------------------------------------------------


def test_without_slot_removes_the_slot():
    template = monday_nine_to_ten().with_slot("b", draft(TUE), LOCATIONS)
    assert [s.id for s in template.without_slot("a").slots] == ["b"]


def test_without_an_unknown_slot_raises_not_found():
    with pytest.raises(NotFound):
        monday_nine_to_ten().without_slot("nope")


def test_a_removed_slot_frees_its_time():
    template = monday_nine_to_ten().without_slot("a")
    assert template.with_slot("b", draft(MON, "09:00", "10:00"), LOCATIONS).slots[0].id == "b"


def test_slot_finds_by_id_and_raises_not_found_otherwise():
    template = monday_nine_to_ten()
    assert template.slot("a").start == 540
    with pytest.raises(NotFound):
        template.slot("b")


def test_location_use_is_tracked():
    template = monday_nine_to_ten().with_slot("b", draft(TUE, location=PARK.id), LOCATIONS)
    assert template.location_ids() == {STUDIO.id, PARK.id}
    assert template.uses_location(PARK.id)
    assert not template.uses_location(OLD_GYM.id)
    assert not template.without_slot("b").uses_location(PARK.id)


def test_slot_label_and_length():
    slot = monday_nine_to_ten().slot("a")
    assert slot.label == "Monday 09:00–10:00"
    assert slot.length == 60


def test_slots_stay_sorted_by_day_then_start():
    template = WeeklyTemplate()
    for slot_id, new in [
        ("s1", draft(SUN, "08:00", "09:00")),
        ("s2", draft(MON, "14:00", "15:00")),
        ("s3", draft(TUE, "07:00", "08:00")),
        ("s4", draft(MON, "06:00", "07:00")),
    ]:
        template = template.with_slot(slot_id, new, LOCATIONS)
    assert [s.id for s in template.slots] == ["s4", "s2", "s3", "s1"]


def test_on_weekday_lists_only_that_day_in_start_order():
    template = (
        WeeklyTemplate()
        .with_slot("late", draft(MON, "18:00", "19:00"), LOCATIONS)
        .with_slot("early", draft(MON, "06:00", "07:00"), LOCATIONS)
        .with_slot("other", draft(TUE, "07:00", "08:00"), LOCATIONS)
    )
    assert [s.id for s in template.on_weekday(MON)] == ["early", "late"]
    assert template.on_weekday(SUN) == []


def test_a_full_week_of_half_hours_fits_the_template_limit():
    assert MAX_TEMPLATE_SLOTS == 7 * 48


# --- invariants --------------------------------------------------------------------------

slot_ids = st.sampled_from(["a", "b", "c", "d", "e", "f", "g", "h"])
attempts = st.tuples(
    slot_ids,
    st.integers(-1, 7),
    st.integers(0, 1440 // 15).map(lambda n: n * 15),
    st.integers(0, 1440 // 15).map(lambda n: n * 15),
    st.sampled_from([STUDIO.id, PARK.id, OLD_GYM.id, "ghost", ""]),
)


@settings(max_examples=200)
@given(st.lists(attempts, max_size=30))
def test_no_sequence_of_edits_leaves_two_slots_overlapping_on_the_same_day(steps):
    template = WeeklyTemplate()
    for slot_id, weekday, start, end, location_id in steps:
        new = SlotDraft(weekday=weekday, start=start, end=end, location_id=location_id)
        try:
            template = template.with_slot(slot_id, new, LOCATIONS)
        except InvalidInput:
            continue
        assert template.slot(slot_id).start == start
    slots = template.slots
    assert len({s.id for s in slots}) == len(slots)
    assert list(slots) == sorted(slots, key=lambda s: (s.weekday, s.start, s.id))
    for s in slots:
        assert 0 <= s.weekday <= 6
        assert s.start % 30 == 0 and s.end % 30 == 0 and s.start < s.end <= 1440
        assert s.location_id in {STUDIO.id, PARK.id}
    for i, a in enumerate(slots):
        for b in slots[i + 1 :]:
            if a.weekday == b.weekday:
                assert not overlaps(a.start, a.end, b.start, b.end)


@given(st.integers(0, 6), st.integers(0, 47), st.integers(1, 4))
def test_any_on_grid_slot_fits_an_empty_template(weekday, cell, length):
    start = cell * 30
    end = min(start + length * 30, 1440)
    template = WeeklyTemplate().with_slot(
        "x", SlotDraft(weekday=weekday, start=start, end=end, location_id=STUDIO.id), LOCATIONS
    )
    assert template.slot("x").length == end - start

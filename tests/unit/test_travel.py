"""Travel-time rules (domain/travel.py): real minutes between slots, only across places."""

from __future__ import annotations

from datetime import date

import pytest

from chalicelib.domain.schedule import Slot, make_slot
from chalicelib.domain.travel import (
    TravelClash,
    booked_too_close,
    gap_minutes,
    open_too_close,
    too_close,
    weeks_to_read,
)

LONDON = "Europe/London"
THURSDAY = date(2026, 11, 26)


def slot(start: str, end: str, place: str = "studio", day: date = THURSDAY, **extra) -> Slot:
    def minutes(text: str) -> int:
        hours, mins = text.split(":")
        return int(hours) * 60 + int(mins)

    made = make_slot(f"{place}-{start}-{day}", day, minutes(start), minutes(end), place, LONDON)
    return made.model_copy(update=extra)


def test_the_gap_is_from_the_earlier_end_to_the_later_start_either_way_round() -> None:
    park, studio = slot("12:00", "13:00", "park"), slot("13:30", "14:30")
    assert gap_minutes(park, studio) == gap_minutes(studio, park) == 30
    assert gap_minutes(park, slot("13:00", "14:00")) == 0


@pytest.mark.parametrize(
    ("start", "end", "place", "travel", "expected"),
    [
        ("13:00", "14:00", "studio", 30, True),  # back to back, another place
        ("13:30", "14:30", "studio", 30, False),  # exactly the travel time: fine
        ("13:30", "14:30", "studio", 60, True),
        ("13:00", "14:00", "park", 60, False),  # same place: may touch
        ("13:00", "14:00", "studio", 0, False),  # no travel time set
        ("10:00", "11:30", "studio", 60, True),  # before it, 30 minutes short
    ],
)
def test_too_close_means_another_place_less_than_the_travel_time_away(
    start: str, end: str, place: str, travel: int, expected: bool
) -> None:
    assert too_close(slot(start, end, place), slot("12:00", "13:00", "park"), travel) is expected


def test_the_travel_time_is_real_time_across_the_autumn_dst_night() -> None:
    """London's clocks go back an hour at 02:00 on 25 Oct 2026: a session ending at
    01:00 (BST) and one starting at 02:00 (GMT) are two real hours apart."""
    night = date(2026, 10, 25)
    park = slot("00:00", "01:00", "park", night)
    studio = slot("02:00", "03:00", "studio", night)
    assert gap_minutes(park, studio) == 120
    assert not too_close(studio, park, 60)


def test_the_spring_dst_night_is_an_hour_shorter_than_the_clocks_say() -> None:
    night = date(2026, 3, 29)  # 01:00 GMT jumps to 02:00 BST
    park = slot("00:00", "00:30", "park", night)
    studio = slot("02:00", "03:00", "studio", night)
    assert gap_minutes(park, studio) == 30  # 00:30 GMT to 02:00 BST is 30 real minutes
    assert too_close(studio, park, 60)


def test_a_moving_session_is_no_neighbour_of_its_new_slot() -> None:
    target = slot("13:00", "14:00")
    mine = slot("12:00", "13:00", "park", session_id="mine")
    theirs = slot("14:00", "15:00", "park", session_id="theirs")
    assert booked_too_close(target, [mine, theirs], 30) in (mine, theirs)
    assert booked_too_close(target, [mine, theirs], 30, moving="mine") == theirs
    assert booked_too_close(target, [mine], 30, moving="mine") is None


def test_open_neighbours_leave_out_booked_ones_the_slot_itself_and_the_one_left() -> None:
    target = slot("13:00", "14:00")
    left = slot("11:30", "12:30", "gym")
    open_one = slot("14:00", "15:00", "park")
    booked = slot("12:00", "12:30", "pool", session_id="s")
    found = open_too_close(target, [target, left, open_one, booked], 60, leaving=left.id)
    assert found == [open_one]


def test_only_slots_near_a_week_s_edge_read_the_week_next_door() -> None:
    monday, sunday = date(2026, 11, 23), date(2026, 11, 29)
    assert weeks_to_read(slot("00:30", "01:00", day=monday), 60) == ["2026-W47"]
    assert weeks_to_read(slot("01:00", "02:00", day=monday), 60) == []
    assert weeks_to_read(slot("23:00", "23:30", day=sunday), 60) == ["2026-W49"]
    assert weeks_to_read(slot("22:00", "22:30", day=sunday), 60) == []
    assert weeks_to_read(slot("00:00", "00:30", day=monday), 0) == []


def test_the_words_name_both_sessions_in_the_order_they_happen() -> None:
    park = slot("12:00", "13:00", "park")
    later = TravelClash(slot("13:30", "14:00"), "Studio", park, "Park", "Priya's session", 60)
    assert later.message == (
        "Priya's session at Park (Thursday 26 Nov 12:00–13:00) leaves only 30 minutes to "
        "get to Thursday 26 Nov 13:30–14:00 at Studio: you allow 60 minutes to get between "
        "places."
    )
    earlier = TravelClash(slot("11:00", "12:00"), "Studio", park, "Park", "Priya's session", 30)
    assert earlier.message.startswith("Thursday 26 Nov 11:00–12:00 at Studio leaves no time")
    assert (
        "Priya"
        not in TravelClash(
            slot("13:00", "14:00"), "Studio", park, "Park", "another session", 30
        ).client_message
    )

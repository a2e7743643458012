"""Change on schedule: Changing while the trainer picks a slot, then one-transaction move."""

from __future__ import annotations

import re

import pytest

from tests.functional.conftest import Browser
from tests.functional.test_locations_and_template import add_location
from tests.functional.test_schedule_pages import add_client, allocate, new_slot, slots_on


@pytest.fixture
def setup(trainer: Browser, clock) -> dict[str, str]:
    """Priya booked Thursday 26 Nov 09:00; open slots Friday 09:00 and Friday 11:00."""
    studio = add_location(trainer, "Studio")
    priya = add_client(trainer, "Priya Shah")
    new_slot(trainer, "2026-11-26", "09:00", "10:00", studio)
    ((week, thursday),) = slots_on(trainer, "2026-W48")
    session_url = allocate(trainer, week, thursday, priya).location.split("?")[0]
    new_slot(trainer, "2026-11-27", "09:00", "10:00", studio)
    new_slot(trainer, "2026-11-27", "11:00", "12:00", studio)
    open_slots = [s for _, s in slots_on(trainer, "2026-W48") if s != thursday]
    bodies = {s: trainer.get(f"/dashboard/schedule/2026-W48/slots/{s}").body for s in open_slots}
    friday_9 = next(s for s, b in bodies.items() if "09:00–10:00" in b)
    friday_11 = next(s for s, b in bodies.items() if "11:00–12:00" in b)
    return {
        "session": session_url,
        "ref": session_url.rsplit("/", 1)[1],
        "thursday": thursday,
        "friday_9": friday_9,
        "friday_11": friday_11,
        "studio": studio,
        "priya": priya,
    }


def _version(trainer: Browser, session_url: str) -> str:
    found = re.search(r'name="version" value="(\d+)"', trainer.get(session_url).body)
    assert found
    return found.group(1)


def _start(trainer: Browser, setup: dict[str, str]):
    return trainer.post(
        setup["session"], {"action": "change_start", "version": _version(trainer, setup["session"])}
    )


def _move(trainer: Browser, setup: dict[str, str], slot: str, version: str | None = None):
    return trainer.post(
        "/dashboard/schedule/move",
        {
            "session": setup["ref"],
            "version": version or _version(trainer, setup["session"]),
            "week": "2026-W48",
            "slot_id": slot,
        },
    )


def test_change_on_schedule_shows_changing_then_moves_in_one_step(
    trainer: Browser, setup: dict[str, str]
) -> None:
    started = _start(trainer, setup)
    assert started.status == 303
    assert f"move={setup['ref']}" in started.location and "week=2026-W48" in started.location
    assert "Changing" in trainer.get(setup["session"]).body
    assert "Changing" in trainer.get("/dashboard/sessions").body
    picking = trainer.follow(started).body
    assert "Changing Priya Shah's session" in picking
    assert "slot slot-changing" in picking  # the session itself, amber and dashed
    assert f"/slots/{setup['friday_9']}?move={setup['ref']}" in picking
    confirm = trainer.get(
        f"/dashboard/schedule/2026-W48/slots/{setup['friday_9']}?move={setup['ref']}"
    )
    assert "Move Priya Shah's session here?" in confirm.body and "Move here" in confirm.body

    trainer.post(
        setup["session"],
        {
            "action": "payment",
            "paid": "yes",
            "payment_type": "cash",
            "version": _version(trainer, setup["session"]),
        },
    )
    moved = _move(trainer, setup, setup["friday_9"])
    assert moved.status == 303
    new_url = moved.location.split("?")[0]
    assert new_url != setup["session"] and "saved=moved" in moved.location
    new_page = trainer.get(new_url).body
    assert "Friday 27 Nov 09:00–10:00" in new_page
    assert "Paid · Cash" in new_page  # payment goes with the session
    assert "Moved here from Thursday 26 Nov 09:00–10:00" in new_page
    old_page = trainer.get(setup["session"]).body
    assert "Moved" in old_page and "Moved to Friday 27 Nov 09:00–10:00" in old_page
    assert new_url.split("/dashboard/sessions/")[1] in old_page  # linked to the new one
    week = trainer.get("/dashboard/schedule?week=2026-W48").body
    assert f'/slots/{setup["thursday"]}"' in week  # open again
    assert f'/slots/{setup["friday_9"]}"' not in week  # taken
    assert "slot-changing" not in week and "Changing Priya" not in week
    sessions_tab = trainer.get("/dashboard/sessions").body
    assert "Friday 27 Nov" in sessions_tab and "Thursday 26 Nov" not in sessions_tab
    profile = trainer.get(f"/dashboard/clients/{setup['priya']}").body
    upcoming = profile[profile.index("Upcoming sessions") : profile.index("<h2>History")]
    history = profile[profile.index("<h2>History") :]
    assert "Friday 27 Nov" in upcoming and "Thursday 26 Nov" not in upcoming
    assert "Thursday 26 Nov" in history and "Moved" in history
    portal = re.search(r"http://testserver(/c/[A-Za-z0-9_-]{43})", profile)
    assert portal
    home = trainer.get(portal.group(1)).body
    assert "Friday 27 Nov" in home and "Thursday 26 Nov" not in home  # the client sees one


def test_a_slot_taken_meanwhile_is_refused_and_the_booking_stays(
    trainer: Browser, setup: dict[str, str]
) -> None:
    _start(trainer, setup)
    omar = add_client(trainer, "Omar Haddad")
    assert allocate(trainer, "2026-W48", setup["friday_9"], omar).status == 303  # another tab
    refused = _move(trainer, setup, setup["friday_9"])
    assert refused.status in (400, 409)
    assert "just taken" in refused.body and "Changing Priya Shah" in refused.body  # still picking
    page = trainer.get(setup["session"]).body
    assert "Thursday 26 Nov 09:00–10:00" in page and "Moved to" not in page
    week = trainer.get("/dashboard/schedule?week=2026-W48").body
    assert f'/slots/{setup["thursday"]}"' not in week  # still Priya's


def test_a_stale_move_form_changes_nothing(trainer: Browser, setup: dict[str, str]) -> None:
    _start(trainer, setup)
    stale = _version(trainer, setup["session"])
    trainer.post(
        setup["session"],
        {"action": "payment", "paid": "yes", "payment_type": "card", "version": stale},
    )
    refused = _move(trainer, setup, setup["friday_9"], version=stale)
    assert refused.status == 409 and "changed" in refused.body.lower()
    assert "Moved to" not in trainer.get(setup["session"]).body


def test_keeping_it_where_it_is_ends_the_change(trainer: Browser, setup: dict[str, str]) -> None:
    _start(trainer, setup)
    kept = trainer.post(
        setup["session"], {"action": "change_stop", "version": _version(trainer, setup["session"])}
    )
    assert kept.status == 303
    page = trainer.get(setup["session"]).body
    assert "Change abandoned: slot kept" in page and "badge-changing" not in page
    # Without Changing, the schedule is not in picking mode even with the old URL.
    week = trainer.get(f"/dashboard/schedule?week=2026-W48&move={setup['ref']}").body
    assert "Changing Priya" not in week


def test_a_move_to_a_past_slot_or_of_a_past_session_is_refused(
    trainer: Browser, setup: dict[str, str], clock
) -> None:
    _start(trainer, setup)
    clock.advance(days=4, hours=1)  # Friday 27 Nov 10:00: Friday 09:00 is past
    refused = _move(trainer, setup, setup["friday_11"])
    assert refused.status == 400 and "started" in refused.body  # the session itself is past
    assert "Moved to" not in trainer.get(setup["session"]).body


def test_a_move_into_a_slot_that_has_started_is_refused(
    trainer: Browser, setup: dict[str, str], clock
) -> None:
    studio = setup["studio"]
    new_slot(trainer, "2026-11-23", "10:00", "11:00", studio)  # Monday, later today
    monday = next(
        s
        for _, s in slots_on(trainer, "2026-W48")
        if "10:00–11:00" in trainer.get(f"/dashboard/schedule/2026-W48/slots/{s}").body
    )
    _start(trainer, setup)
    clock.advance(hours=1, minutes=30)  # 10:30: the Monday slot has started
    refused = _move(trainer, setup, monday)
    assert refused.status == 400 and "in the past" in refused.body


def test_another_trainers_ids_get_404(
    trainer: Browser, other_trainer: Browser, setup: dict[str, str]
) -> None:
    _start(trainer, setup)
    assert _move(other_trainer, setup, setup["friday_9"], version="2").status == 404
    theirs = add_location(other_trainer, "Gym")
    new_slot(other_trainer, "2026-11-27", "15:00", "16:00", theirs)
    ((_, their_slot),) = slots_on(other_trainer, "2026-W48")
    assert _move(trainer, setup, their_slot).status in (404, 409)
    assert "Moved to" not in trainer.get(setup["session"]).body


def test_the_move_is_one_transaction(trainer: Browser, setup: dict[str, str]) -> None:
    _start(trainer, setup)
    version = _version(trainer, setup["session"])
    moved = _move(trainer, setup, setup["friday_11"], version)
    # session + profile, the session, the week Query for the slot, the client (for the new
    # session's portal link), one transaction
    assert moved.status == 303 and moved.db_calls == 5


def test_a_move_posted_without_change_on_schedule_is_refused(
    trainer: Browser, setup: dict[str, str]
) -> None:
    # Decided (docs/architecture.md): only a session in Changing can be moved by the
    # trainer; a hand-made POST or a tab left open after "Keep it where it is" is refused.
    refused = _move(trainer, setup, setup["friday_9"])
    assert refused.status == 400
    assert "press Change on schedule on its page first. Nothing was moved." in refused.body
    page = trainer.get(setup["session"]).body
    assert "Moved to" not in page and "badge-changing" not in page


def test_a_move_from_a_tab_left_open_after_keep_it_where_it_is_is_refused_by_the_write(
    trainer: Browser, setup: dict[str, str]
) -> None:
    from chalicelib import runtime
    from chalicelib.domain.errors import VersionConflict
    from chalicelib.services import schedule, sessions
    from tests.functional.test_schedule_pages import trainer_id

    _start(trainer, setup)
    repo, tid = runtime.repository(), trainer_id(trainer)
    changing = sessions.find_session(repo, tid, setup["ref"])  # read while Changing
    assert changing.changing
    kept = trainer.post(
        setup["session"], {"action": "change_stop", "version": _version(trainer, setup["session"])}
    )
    assert kept.status == 303
    target = schedule.find_slot(repo, tid, "2026-W48", setup["friday_9"])
    with pytest.raises(VersionConflict):
        # the stale object still says Changing: only the write's condition can refuse it
        sessions.move_to(
            repo, runtime.links(), tid, changing, target, str(changing.version), runtime.now()
        )
    assert "Moved to" not in trainer.get(setup["session"]).body

"""Settings → Time off through its pages, and what time off does to Apply template, the
portal, the grid and the sessions already booked there.

The clock is Monday 23 Nov 2026 09:00 UTC (GMT). The portal world (test_portal_booking):
Priya's recurring Wednesday 18:00 at the Studio in W48–W50, Thursday 12:00 at the Park
open, one-off 07:00 slots on Tue 24, Fri 27 Nov, Tue 1 and Tue 8 Dec.
"""

from __future__ import annotations

import html
import re

import pytest

from chalicelib import runtime
from chalicelib.domain.messages import Message
from chalicelib.repo import keys
from chalicelib.repo.dynamo import Condition
from tests.functional import test_portal_booking
from tests.functional.conftest import Browser
from tests.functional.test_locations_and_template import add_location, add_slot
from tests.functional.test_portal_booking import World
from tests.functional.test_schedule_pages import slots_on, trainer_id
from tests.support.table import unchanged

world = test_portal_booking.world
PAGE = "/dashboard/settings/time-off"
CANCEL_FORM = re.compile(
    r'name="session_ref" value="([^"]+)">\s*<input type="hidden" name="version" value="(\d+)">'
)


def version_of(browser: Browser) -> str:
    found = re.search(r'name="version" value="(\d+)"', browser.get(PAGE).body)
    assert found
    return found.group(1)


def add_time_off(browser: Browser, first: str, last: str = "", **fields: str):
    form = {"from_day": first, "to_day": last, "version": version_of(browser), **fields}
    return browser.post(PAGE, form)


def queued(browser: Browser) -> list[Message]:
    messages, _ = runtime.repository().outbox.page(trainer_id(browser), None, None)
    return messages


def test_the_page_is_a_settings_tab_with_a_labelled_form(trainer: Browser, clock) -> None:
    page = trainer.get(PAGE)
    assert page.status == 200 and 'aria-current="page">Time off</a>' in page.body
    for name, label in [("from_day", "From"), ("to_day", "To"), ("note", "Note")]:
        assert f'<label for="{name}">{label}' in page.body and f'id="{name}"' in page.body
    assert "No time off planned." in page.body
    assert page.db_calls == 2  # the session with the profile, and the time-off item
    assert 'href="/dashboard/settings/time-off"' in trainer.get("/dashboard/settings").body


def test_adding_and_removing_a_holiday(trainer: Browser, clock) -> None:
    saved = add_time_off(trainer, "2026-12-21", "2027-01-03", note="Holiday <b>Spain</b>")
    assert saved.status == 303 and "saved=added" in saved.location
    page = trainer.get(PAGE)
    body = page.body
    assert "Time off: Holiday &lt;b&gt;Spain&lt;/b&gt;" in body and "<b>Spain</b>" not in body
    assert "Mon 21 Dec 2026 – Sun 3 Jan 2027" in body
    assert page.db_calls == 3  # + one TrainerTimeline Query for the sessions inside it
    period = re.search(r'name="period" value="([^"]+)"', body)
    assert period
    removed = trainer.post(
        f"{PAGE}/remove", {"period": period.group(1), "version": version_of(trainer)}
    )
    assert removed.status == 303 and "No time off planned." in trainer.get(PAGE).body


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        (
            {"from_day": "2026-12-10", "to_day": "2026-12-09"},
            "to_day",
            "The time off ends before it starts: check the dates.",
        ),
        (
            {"from_day": "2026-12-10", "from_time": "15:00", "to_time": "14:00"},
            "to_time",
            "The time off ends before it starts: check the times.",
        ),
        (
            {"from_day": "2026-11-20", "to_day": "2026-11-21"},
            "from_day",
            "That day is in the past: time off starts today or later.",
        ),
        (
            {"from_day": "2026-12-24", "to_day": "2026-12-26"},
            "from_day",
            "This overlaps your time off Mon 21 Dec 2026 – Sun 27 Dec 2026: remove that one first.",
        ),
        ({"from_day": "2026-02-30"}, "from_day", "“2026-02-30” is not a date."),
        ({"from_day": "2026-12-01", "from_time": "9h"}, "from_time", "Enter a time as HH:MM"),
    ],
)
def test_bad_time_off_is_explained_with_the_input_kept_and_nothing_written(
    trainer: Browser, clock, fields: dict[str, str], field: str, message: str
) -> None:
    assert add_time_off(trainer, "2026-12-21", "2026-12-27", note="Holiday").status == 303
    form = {"to_day": "", "from_time": "", "to_time": "", "note": "Typed note", **fields}
    form["version"] = version_of(trainer)
    with unchanged(runtime.repository()):
        refused = trainer.post(PAGE, form)
    assert refused.status == 400
    body = html.unescape(refused.body)
    assert message in body
    assert f'id="{field}-error"' in refused.body and 'aria-invalid="true"' in refused.body
    assert 'value="Typed note"' in refused.body  # the input kept
    assert f'value="{fields["from_day"]}"' in refused.body


def test_a_form_from_before_another_tab_saved_is_refused(trainer: Browser, clock) -> None:
    stale = version_of(trainer)
    assert add_time_off(trainer, "2026-12-01").status == 303
    with unchanged(runtime.repository()):
        refused = trainer.post(PAGE, {"from_day": "2026-12-08", "version": stale})
    assert refused.status == 409 and "changed elsewhere" in refused.body
    assert 'value="2026-12-08"' in refused.body


def test_the_schedule_links_to_time_off_with_its_day(trainer: Browser, clock) -> None:
    day = trainer.get("/dashboard/schedule?day=2026-11-26").body
    assert f'href="{PAGE}?day=2026-11-26"' in day
    page = trainer.get(f"{PAGE}?day=2026-11-26").body
    assert 'id="from_day" name="from_day" type="date" value="2026-11-26"' in page
    assert trainer.get(f"{PAGE}?day=garbage").status == 200


def test_apply_template_across_a_holiday_adds_nothing_there(trainer: Browser, clock) -> None:
    studio = add_location(trainer, "Studio")
    add_slot(trainer, 2, "18:00", "19:00", studio)  # Wednesdays
    assert add_time_off(trainer, "2026-11-30", "2026-12-06", note="Holiday").status == 303
    applied = html.unescape(
        trainer.post("/dashboard/schedule/apply", {"week": "2026-W48", "weeks": "3"}).body
    )
    assert "1 not added: it is in your time off (Holiday)" in applied
    assert "<li>Wednesday 2 Dec 18:00–19:00</li>" in applied
    assert len(slots_on(trainer, "2026-W48")) == 1
    assert slots_on(trainer, "2026-W49") == []
    assert len(slots_on(trainer, "2026-W50")) == 1
    week = trainer.get("/dashboard/schedule?week=2026-W49")
    assert "Time off: Holiday" in week.body and "Mon 30 Nov 2026 – Sun 6 Dec 2026" in week.body
    assert week.db_calls == 2  # the band came with the profile: no read of its own


def test_a_week_holding_only_booked_slots_shows_its_time_off_at_no_extra_read(
    world: World,
) -> None:
    trainer = world.trainer
    # Saving the holiday removes W49's open slots: Priya's Wednesday 2 Dec session is all
    # that is left, so no slot of the week could be amber and no set-up read is made.
    assert add_time_off(trainer, "2026-11-30", "2026-12-06", note="Holiday").status == 303
    assert slots_on(trainer, "2026-W49") == []  # no open slot left
    week = trainer.get("/dashboard/schedule?week=2026-W49")
    assert week.db_calls == 2  # the session with the profile, the week: as with no time off
    assert "slot slot-timeoff" in week.body and "Time off: Holiday" in week.body
    assert "Mon 30 Nov 2026 – Sun 6 Dec 2026" in week.body
    assert 'slot-who">Priya Shah' in week.body  # her session stays, drawn over the band
    day = trainer.get("/dashboard/schedule?day=2026-12-02")
    assert day.db_calls == 2 and "slot slot-timeoff" in day.body
    # a week with open slots still makes its set-up read for amber, and no more
    assert trainer.get("/dashboard/schedule?week=2026-W50").db_calls == 3
    # a past week shows no band, as the time off drops periods once they are over
    assert "slot-timeoff" not in trainer.get("/dashboard/schedule?week=2026-W47").body


def test_a_profile_from_before_the_copy_reads_the_time_off_for_an_empty_day(
    world: World,
) -> None:
    trainer = world.trainer
    assert add_time_off(trainer, "2026-11-30", "2026-12-06", note="Holiday").status == 303
    repo = runtime.repository()
    repo.db.update(
        keys.profile(trainer_id(trainer)), Condition("REMOVE #copy", {"#copy": "time_off"})
    )
    empty_day = trainer.get("/dashboard/schedule?day=2026-11-30")
    assert empty_day.db_calls == 3 and "Time off: Holiday" in empty_day.body  # + the item
    # the next save writes the copy again, and the band is free once more
    assert add_time_off(trainer, "2026-12-20", note="Party").status == 303
    assert repo.get_trainer(trainer_id(trainer)).time_off == repo.time_off.get_time_off(
        trainer_id(trainer)
    )
    again = trainer.get("/dashboard/schedule?day=2026-11-30")
    assert again.db_calls == 2 and "Time off: Holiday" in again.body


def test_time_off_clears_the_portal_and_lists_the_sessions_inside_it(world: World) -> None:
    trainer = world.trainer
    before = world.choices()
    assert any("1 December" in label for label in before), before
    saved = add_time_off(trainer, "2026-12-01", "2026-12-04", note="Holiday")
    # Tue 1 Dec 07:00 (Studio) and Thu 3 Dec 12:00 (Park); Priya's session stays
    assert saved.status == 303 and "slots=2" in saved.location
    assert saved.db_calls == 6  # 1, the item, its Put; W49's Query and two removals
    assert "2 open slots inside it were removed." in trainer.get(saved.location).body
    after = world.choices()
    assert set(after) == {label for label in before if "1 December" not in label}

    page = trainer.get(PAGE).body
    assert "1 session in this time off." in page
    assert "Priya Shah" in page and "Move Priya Shah" in page
    ref, version = CANCEL_FORM.findall(page)[0]
    assert f'href="/dashboard/sessions/{ref}"' in page

    done = trainer.post(f"{PAGE}/cancel", {"session_ref": ref, "version": version})
    assert done.status == 303 and "saved=canceled_told" in done.location
    assert done.db_calls == 7  # docs/access-patterns.md: the time-off page's Cancel
    (notice,) = [m for m in queued(trainer) if m.kind == "cancel_notice"]
    assert notice.client_id == world.priya and notice.subject_ref == ref
    assert "0 sessions" not in trainer.get(PAGE).body and "Priya Shah" not in trainer.get(PAGE).body
    # the slot its cancel freed is in time off: removed, so the portal offers nothing there
    assert slots_on(trainer, "2026-W49") == []
    assert world.choices() == after
    # a second press of the same form changes nothing
    with unchanged(runtime.repository()):
        again = trainer.post(f"{PAGE}/cancel", {"session_ref": ref, "version": version})
    assert again.status == 409

    # Apply template does not put the slot back, nor book Priya there again
    applied = html.unescape(
        trainer.post("/dashboard/schedule/apply", {"week": "2026-W49", "weeks": "1"}).body
    )
    assert "2 not added: it is in your time off (Holiday)" in applied
    assert slots_on(trainer, "2026-W49") == []


def test_no_last_minute_offer_goes_into_time_off(trainer: Browser, clock) -> None:
    studio = add_location(trainer, "Studio")
    assert add_time_off(trainer, "2026-11-26", from_time="12:00", to_time="14:00").status == 303
    # a slot the trainer adds by hand inside time off is theirs to keep, but not to offer
    made = trainer.post(
        "/dashboard/schedule/new",
        {"day": "2026-11-26", "start": "12:00", "end": "13:00", "location_id": studio},
    )
    assert made.status == 303
    ((week, slot_id),) = slots_on(trainer, "2026-W48")
    slot_page = trainer.get(f"/dashboard/schedule/{week}/slots/{slot_id}").body
    version = re.search(r'name="version" value="(\d+)"', slot_page)
    assert version
    with unchanged(runtime.repository()):
        refused = trainer.post(
            f"/dashboard/schedule/{week}/slots/{slot_id}",
            {"action": "offer", "client_id": "anyone", "version": version.group(1)},
        )
    assert refused.status == 400 and "This slot is in your time off" in refused.body


@pytest.mark.parametrize(
    ("path", "form"),
    [
        (PAGE, {"from_day": "2026-12-01", "version": "garbled"}),
        (f"{PAGE}/remove", {"period": "nope", "version": "1"}),
        (f"{PAGE}/remove", {"period": "", "version": ""}),
        (f"{PAGE}/cancel", {"session_ref": "../../etc", "version": "1"}),
        (f"{PAGE}/cancel", {"session_ref": "2026-W49.20261202T180000Z.forged", "version": "x"}),
    ],
)
def test_forged_or_stale_posts_are_a_clear_409_with_nothing_written(
    trainer: Browser, clock, path: str, form: dict[str, str]
) -> None:
    assert add_time_off(trainer, "2026-12-01", "2026-12-04").status == 303
    with unchanged(runtime.repository()):
        refused = trainer.post(path, form)
    assert refused.status == 409 and 'role="alert"' in refused.body


def test_a_session_outside_time_off_is_not_canceled_from_this_page(world: World) -> None:
    trainer = world.trainer
    assert add_time_off(trainer, "2026-12-01", "2026-12-04").status == 303
    week = trainer.get("/dashboard/schedule?week=2026-W48").body
    found = re.search(r'href="/dashboard/sessions/(2026-W48\.[^"]+)"', week)
    assert found  # Priya's Wednesday 25 Nov: not in the time off
    with unchanged(runtime.repository()):
        refused = trainer.post(f"{PAGE}/cancel", {"session_ref": found.group(1), "version": "1"})
    assert refused.status == 409 and "no longer booked in your time off" in refused.body


def test_a_slot_added_by_hand_inside_time_off_is_never_offered_on_the_portal(
    world: World,
) -> None:
    # Saving a period removes the open slots in it; one the trainer adds afterwards by hand
    # stays theirs, but the portal reads the time off with the client and never offers it.
    trainer = world.trainer
    assert add_time_off(trainer, "2026-12-02", note="Dentist").status == 303
    before = set(slots_on(trainer, "2026-W49"))
    made = trainer.post(
        "/dashboard/schedule/new",
        {"day": "2026-12-02", "start": "09:00", "end": "10:00", "location_id": world.studio},
    )
    assert made.status == 303
    ((_, slot_id),) = set(slots_on(trainer, "2026-W49")) - before
    assert not any("2 December" in label for label in world.choices())
    home = world.client.get(world.home)
    assert home.db_calls == 5  # the time off came with the client's one BatchGetItem
    with unchanged(runtime.repository()):
        forged = world.client.post(f"{world.home}/book", {"week": "2026-W49", "slot_id": slot_id})
    assert forged.status == 409
    assert "That time is not available any more" in forged.body

"""Travel time between locations, through the pages: the setting, the trainer's allocate
and move (asked, "Book anyway"), the portal's book and change (refused, and not listed),
offers, and Apply template (left open, said why).

The clock is Monday 23 Nov 2026 09:00 UTC (GMT). Thursday 26 Nov: Priya is booked at the
Park 12:00–13:00; the Studio has 13:00–14:00 (no time from the Park), 14:00–15:00 (an
hour after it) and 16:00–17:00. The trainer allows 30 minutes between places.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

import pytest

from chalicelib import runtime
from tests.functional.conftest import Browser
from tests.functional.test_client_notifications import _settings_form
from tests.functional.test_clients_pages import add_client, post_profile_with, template_slot_ids
from tests.functional.test_locations_and_template import add_location, add_slot
from tests.functional.test_portal_booking import CHOICE
from tests.functional.test_portal_link import portal_path
from tests.functional.test_schedule_pages import new_slot, slots_on
from tests.support.table import unchanged

THURSDAY = "2026-11-26"
CLASH = (
    "Priya Shah's session at Park (Thursday 26 Nov 12:00–13:00) leaves no time to get to "
    "Thursday 26 Nov 13:00–14:00 at Studio: you allow 30 minutes to get between places."
)
CLIENT_CLASH = (
    "Thursday 26 Nov 13:00–14:00 at Studio leaves no time to get to or from another "
    "session at Park (Thursday 26 Nov 12:00–13:00): please pick another time."
)
H1 = re.compile(r"<h1>([^<]+)</h1>")


def text(page) -> str:
    """A page's HTML with its entities read (an apostrophe is &#39; there)."""
    return html.unescape(page.body)


def set_travel(trainer: Browser, minutes: str):
    return trainer.post("/dashboard/settings", _settings_form(trainer, travel_minutes=minutes))


def open_slots(trainer: Browser, week: str = "2026-W48") -> dict[str, str]:
    """Open slots of the week by their page's heading ("Thursday 26 Nov 13:00–14:00")."""
    found = {}
    for week_key, slot_id in slots_on(trainer, week):
        page = trainer.get(f"/dashboard/schedule/{week_key}/slots/{slot_id}").body
        heading = H1.search(page)
        assert heading
        found[heading.group(1)] = slot_id
    return found


def slot_version(body: str) -> str:
    found = re.search(r'name="version" value="(\d+)"', body)
    assert found
    return found.group(1)


def slot_path(slot_id: str, week: str = "2026-W48") -> str:
    return f"/dashboard/schedule/{week}/slots/{slot_id}"


@dataclass
class Scene:
    trainer: Browser
    client: Browser  # Sam's phone
    studio: str
    park: str
    priya: str
    sam: str
    sam_home: str
    slots: dict[str, str]  # open slot ids by heading, after Priya's booking

    def sam_choices(self, path: str = "") -> dict[str, tuple[str, str]]:
        body = self.client.get(path or f"{self.sam_home}/book").body
        return {f"{t} {p}": (w, s) for w, s, t, p in CHOICE.findall(body)}


@pytest.fixture
def scene(trainer: Browser, chalice_client, clock) -> Scene:
    studio = add_location(trainer, "Studio")
    park = add_location(trainer, "Park")
    priya = add_client(trainer, "Priya Shah")
    sam = add_client(trainer, "Sam Lee")
    for client, name in ((priya, "Priya Shah"), (sam, "Sam Lee")):
        assert post_profile_with(trainer, client, [studio, park], name=name).status == 303
    for start, end, place in (
        ("12:00", "13:00", park),
        ("13:00", "14:00", studio),
        ("14:00", "15:00", studio),
        ("16:00", "17:00", studio),
    ):
        assert new_slot(trainer, THURSDAY, start, end, place).status == 303
    assert set_travel(trainer, "30").status == 303
    noon = open_slots(trainer)["Thursday 26 Nov 12:00–13:00"]
    booked = trainer.post(
        slot_path(noon), {"action": "allocate", "client_id": priya, "version": "1"}
    )
    assert booked.status == 303, booked.body
    return Scene(
        trainer,
        Browser(chalice_client, []),
        studio,
        park,
        priya,
        sam,
        portal_path(trainer, sam),
        open_slots(trainer),
    )


# The setting ------------------------------------------------------------------------------
def test_travel_time_is_none_by_default_and_each_choice_is_saved(trainer: Browser) -> None:
    page = trainer.get("/dashboard/settings").body
    assert '<label for="travel_minutes">Travel time between locations</label>' in page
    assert '<option value="0" selected>' in page
    for choice in ("30", "60", "0"):
        assert set_travel(trainer, choice).status == 303
        assert f'<option value="{choice}" selected>' in trainer.get("/dashboard/settings").body


def test_an_unknown_travel_time_is_refused_with_the_form_kept(trainer: Browser) -> None:
    with unchanged(runtime.repository()):
        page = trainer.post(
            "/dashboard/settings",
            _settings_form(trainer, travel_minutes="45", business_name="Kept Fit"),
        )
    assert page.status == 400
    assert "Choose no travel time, 30 minutes or 60 minutes." in page.body
    assert 'value="Kept Fit"' in page.body


def test_a_settings_form_from_before_the_setting_keeps_the_travel_time(trainer: Browser) -> None:
    set_travel(trainer, "60")
    old_form = _settings_form(trainer)
    assert "travel_minutes" not in old_form
    assert trainer.post("/dashboard/settings", old_form).status == 303
    assert '<option value="60" selected>' in trainer.get("/dashboard/settings").body


# The trainer: asked first, "Book anyway" ----------------------------------------------------
def test_the_slot_page_says_so_and_allocate_asks_before_booking(scene: Scene) -> None:
    trainer, path = scene.trainer, slot_path(scene.slots["Thursday 26 Nov 13:00–14:00"])
    page = text(trainer.get(path))
    assert CLASH in page and "Book anyway: I can get there in time" in page
    assert "No offer goes out for this time" in page
    version = slot_version(page)  # Priya's booking moved it: the Studio is her neighbour
    with unchanged(runtime.repository()):
        refused = trainer.post(
            path, {"action": "allocate", "client_id": scene.sam, "version": version}
        )
    assert refused.status == 400
    assert CLASH in text(refused) and 'aria-invalid="true"' in refused.body
    assert f'<option value="{scene.sam}" selected>' in refused.body  # the choice kept
    anyway = trainer.post(
        path,
        {"action": "allocate", "client_id": scene.sam, "version": version, "travel_ok": "yes"},
    )
    assert anyway.status == 303 and "/dashboard/sessions/" in anyway.location


def test_a_slot_an_hour_away_or_at_the_same_place_is_booked_without_a_question(
    scene: Scene,
) -> None:
    trainer = scene.trainer
    path = slot_path(scene.slots["Thursday 26 Nov 14:00–15:00"])
    assert "Travel time" not in trainer.get(path).body
    booked = trainer.post(path, {"action": "allocate", "client_id": scene.sam, "version": "1"})
    assert booked.status == 303
    # Studio 13:00 sits between the Park (no time) and Sam's Studio 14:00 (same place):
    # only the Park is named.
    assert CLASH in text(trainer.get(slot_path(scene.slots["Thursday 26 Nov 13:00–14:00"])))


def test_with_no_travel_time_back_to_back_places_are_fine(scene: Scene) -> None:
    trainer = scene.trainer
    assert set_travel(trainer, "0").status == 303
    path = slot_path(scene.slots["Thursday 26 Nov 13:00–14:00"])
    assert "Travel time" not in trainer.get(path).body
    version = re.search(r'name="version" value="(\d+)"', trainer.get(path).body)
    assert version
    booked = trainer.post(
        path, {"action": "allocate", "client_id": scene.sam, "version": version.group(1)}
    )
    assert booked.status == 303


def test_an_offer_is_not_sent_where_the_client_could_not_be_booked(scene: Scene) -> None:
    path = slot_path(scene.slots["Thursday 26 Nov 13:00–14:00"])
    version = slot_version(scene.trainer.get(path).body)
    with unchanged(runtime.repository()):
        refused = scene.trainer.post(
            path, {"action": "offer", "client_id": scene.sam, "version": version}
        )
    assert refused.status == 400
    assert f"No offer here: {CLASH}" in text(refused)


def _start_changing(trainer: Browser, session_path: str) -> str:
    page = trainer.get(session_path).body
    version = re.search(r'name="version" value="(\d+)"', page)
    assert version
    started = trainer.post(session_path, {"action": "change_start", "version": version.group(1)})
    assert started.status == 303, started.body
    return session_path.rsplit("/", 1)[1]


def test_a_move_next_to_a_session_elsewhere_asks_and_keeps_the_note(scene: Scene) -> None:
    trainer = scene.trainer
    booked = trainer.post(
        slot_path(scene.slots["Thursday 26 Nov 16:00–17:00"]),
        {"action": "allocate", "client_id": scene.sam, "version": "1"},
    )
    session_path = booked.location.split("?")[0]
    ref = _start_changing(trainer, session_path)
    target = scene.slots["Thursday 26 Nov 13:00–14:00"]
    confirm = text(trainer.get(f"{slot_path(target)}?move={ref}"))
    assert CLASH in confirm and "Move anyway: I can get there in time" in confirm
    version = re.search(r'name="version" value="(\d+)"', confirm)
    assert version
    form = {
        "session": ref,
        "version": version.group(1),
        "week": "2026-W48",
        "slot_id": target,
        "note": "See you <there>",
    }
    with unchanged(runtime.repository()):
        refused = trainer.post("/dashboard/schedule/move", form)
    assert refused.status == 400
    assert CLASH in text(refused) and 'value="See you &lt;there&gt;"' in refused.body
    moved = trainer.post("/dashboard/schedule/move", {**form, "travel_ok": "yes"})
    assert moved.status == 303 and "saved=moved" in moved.location


# The client: not listed, and refused ---------------------------------------------------------
def test_the_portal_lists_no_time_too_close_and_refuses_a_forged_one(scene: Scene) -> None:
    choices = scene.sam_choices()
    assert "14:00–15:00 Studio" in choices and "16:00–17:00 Studio" in choices
    assert "13:00–14:00 Studio" not in choices
    with unchanged(runtime.repository()):
        refused = scene.client.post(
            f"{scene.sam_home}/book",
            {"week": "2026-W48", "slot_id": scene.slots["Thursday 26 Nov 13:00–14:00"]},
        )
    assert refused.status == 409  # the portal's word for "not that one": pick another
    assert CLIENT_CLASH in text(refused) and "Priya" not in refused.body


def test_a_client_change_into_a_time_too_close_is_refused(scene: Scene) -> None:
    week, slot_id = scene.sam_choices()["16:00–17:00 Studio"]
    booked = scene.client.post(f"{scene.sam_home}/book", {"week": week, "slot_id": slot_id})
    assert booked.status == 303
    session_link = booked.location.split("?")[0]
    change_page = scene.client.get(f"{session_link}/change").body
    assert "13:00–14:00" not in change_page and "14:00–15:00" in change_page
    version = re.search(r'name="version" value="(\d+)"', change_page)
    assert version
    with unchanged(runtime.repository()):
        refused = scene.client.post(
            f"{session_link}/change",
            {
                "week": "2026-W48",
                "slot_id": scene.slots["Thursday 26 Nov 13:00–14:00"],
                "version": version.group(1),
            },
        )
    assert refused.status == 409 and CLIENT_CLASH in text(refused)


# Apply template ---------------------------------------------------------------------------------
def test_apply_template_leaves_a_recurring_booking_too_close_open_and_says_why(
    trainer: Browser, clock
) -> None:
    studio = add_location(trainer, "Studio")
    park = add_location(trainer, "Park")
    add_slot(trainer, 3, "12:00", "13:00", park)  # Thursday
    add_slot(trainer, 3, "13:00", "14:00", studio)
    park_noon, studio_one = template_slot_ids(trainer)
    priya = add_client(trainer, "Priya Shah")
    sam = add_client(trainer, "Sam Lee")
    post_profile_with(trainer, priya, [studio, park], [park_noon])
    post_profile_with(trainer, sam, [studio, park], [studio_one], name="Sam Lee")
    assert set_travel(trainer, "30").status == 303
    applied = trainer.post("/dashboard/schedule/apply", {"week": "2026-W49", "weeks": "1"})
    assert applied.status == 200
    assert (
        "left open: booking Sam Lee would leave no time to get to or from Priya Shah's "
        "session at Park (Thursday 3 Dec 12:00–13:00); you allow 30 minutes between places"
    ) in text(applied)
    week = trainer.get("/dashboard/schedule?week=2026-W49").body
    assert week.count('slot-who">Priya Shah') == 1 and 'slot-who">Sam Lee' not in week
    # Nothing was written next to Priya: the Studio slot is there, open.
    assert "Thursday 3 Dec 13:00–14:00" in open_slots(trainer, "2026-W49")


# Amber ------------------------------------------------------------------------------------------
def test_a_freed_slot_too_close_to_a_session_elsewhere_is_not_amber(
    trainer: Browser, chalice_client, clock
) -> None:
    """Omar opted in to Wednesday 18:00 at the Studio and Priya's session there is
    canceled: amber, until Sam is booked at the Park 17:00–18:00 with 30 minutes to
    travel, when no client could take it."""
    from tests.functional.test_offers import WEEK

    studio = add_location(trainer, "Studio")
    park = add_location(trainer, "Park")
    add_slot(trainer, 2, "18:00", "19:00", studio)
    (wednesday,) = template_slot_ids(trainer)
    priya = add_client(trainer, "Priya Shah")
    post_profile_with(trainer, priya, [studio], [wednesday])
    omar = add_client(trainer, "Omar Haddad")
    post_profile_with(trainer, omar, [studio], name="Omar Haddad")
    sam = add_client(trainer, "Sam Lee")
    post_profile_with(trainer, sam, [park], name="Sam Lee")
    trainer.post("/dashboard/schedule/apply", {"week": "2026-W48", "weeks": "1"})
    home = portal_path(trainer, omar)
    tick = Browser(chalice_client, []).post(
        f"{home}/optins", {"template_slot_id": wednesday, "on": "yes"}
    )
    assert tick.status == 303
    session = re.search(r'href="(/dashboard/sessions/[^"]+)"', trainer.get(WEEK).body)
    assert session
    assert trainer.post(session.group(1), {"action": "cancel", "version": "1"}).status == 303
    assert "slot slot-match" in trainer.get(WEEK).body
    new_slot(trainer, "2026-11-25", "17:00", "18:00", park)
    park_slot = next(
        slot_id
        for slot_id in open_slots(trainer).values()
        if "Park" in trainer.get(slot_path(slot_id)).body
    )
    booked = trainer.post(
        slot_path(park_slot), {"action": "allocate", "client_id": sam, "version": "1"}
    )
    assert booked.status == 303
    assert set_travel(trainer, "30").status == 303
    week = trainer.get(WEEK).body
    assert "slot slot-match" not in week
    assert set_travel(trainer, "0").status == 303
    assert "slot slot-match" in trainer.get(WEEK).body

"""Skip a week / pause through the pages (issue 15 item 2): the profile's card and the
portal's "Skip this week", with their refusals. The clock is Monday 23 Nov 2026 09:00;
Priya holds the recurring Wednesday 18:00 (Studio), applied for three weeks."""

from __future__ import annotations

import html
import re

from chalicelib import runtime
from tests.functional import test_portal_booking
from tests.functional.test_portal_booking import World
from tests.support.table import unchanged

world = test_portal_booking.world  # the same fixture: trainer, Priya, a Studio and a Park

AWAY = re.compile(r'<section class="card" id="away".*?</section>', re.S)
SKIP_FORM = re.compile(
    r'action="(/c/[^"]+/skip)".*?name="session_id" value="([^"]+)".*?name="version" value="(\d+)"',
    re.S,
)


def _away(scene: World) -> str:
    found = AWAY.search(scene.trainer.get(f"/dashboard/clients/{scene.priya}").body)
    assert found, "the profile has no skip card"
    return found.group(0)


def _version(card: str) -> str:
    found = re.search(r'name="version" value="(\d+)"', card)
    assert found
    return found.group(1)


def _upcoming(scene: World) -> str:
    return html.unescape(scene.client.get(scene.home).body)


def test_the_trainer_skips_a_date_and_the_session_there_is_canceled(
    world: World,
) -> None:
    assert "Wednesday 2 Dec" in _upcoming(world)
    card = _away(world)
    form = {
        "action": "skip",
        "version": _version(card),
        "skip_slot": world.template[0],
        "skip_day": "2026-12-02",
    }
    done = world.trainer.post(f"/dashboard/clients/{world.priya}/skips", form)
    assert done.status == 303 and "saved=skip" in done.location
    assert "Date skipped" in world.trainer.follow(done).body
    assert "Wednesday 2 Dec" not in _upcoming(world)
    assert "Resume" in _away(world)


def test_a_skip_on_the_wrong_weekday_is_refused_with_the_date_kept(
    world: World,
) -> None:
    card = _away(world)
    form = {
        "action": "skip",
        "version": _version(card),
        "skip_slot": world.template[0],
        "skip_day": "2026-12-03",  # a Thursday: the slot is on Wednesdays
    }
    with unchanged(runtime.repository()):
        refused = world.trainer.post(f"/dashboard/clients/{world.priya}/skips", form)
    assert refused.status == 400
    assert 'value="2026-12-03"' in refused.body and 'class="field-error"' in refused.body


def test_a_pause_ending_before_it_starts_is_refused_and_nothing_written(
    world: World,
) -> None:
    form = {
        "action": "pause",
        "version": _version(_away(world)),
        "pause_from": "2026-12-10",
        "pause_to": "2026-12-01",
    }
    with unchanged(runtime.repository()):
        refused = world.trainer.post(f"/dashboard/clients/{world.priya}/skips", form)
    assert refused.status == 400 and 'value="2026-12-10"' in refused.body


def test_the_client_skips_next_week_on_the_portal(world: World) -> None:
    home = world.client.get(world.home).body
    assert "Skip this week" in home
    found = SKIP_FORM.search(home)
    assert found
    path, session_id, version = found.groups()
    done = world.client.post(path, {"session_id": session_id, "version": version})
    assert done.status == 303 and "saved=skipped" in done.location
    assert done.db_calls == 5  # the cancel and the skip on the profile: one transaction
    after = _upcoming(world)
    assert "This week is skipped" in html.unescape(world.client.follow(done).body)
    assert "Wednesday 25 Nov" not in after and "Wednesday 2 Dec" in after


def test_a_client_cannot_skip_a_session_that_is_not_theirs(world: World) -> None:
    found = SKIP_FORM.search(world.client.get(world.home).body)
    assert found
    path, _session_id, version = found.groups()
    with unchanged(runtime.repository()):
        refused = world.client.post(path, {"session_id": "someone-else", "version": version})
    assert refused.status == 400
    assert "Wednesday 25 Nov" in _upcoming(world)

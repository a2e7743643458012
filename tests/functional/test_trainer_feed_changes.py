"""The trainer's calendar feed after changes on the dashboard: a cancel stays in the feed
as STATUS:CANCELLED with a higher SEQUENCE, a move shows the old UID cancelled and the new
one confirmed, and the Sessions tab (which reads only the live partition) lists what it
did. The clock is Monday 23 Nov 2026 09:00 UTC."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from chalice.test import Client

from chalicelib import runtime
from chalicelib.domain.schedule import book, make_slot
from chalicelib.domain.tokens import new_id
from tests.functional.conftest import Browser
from tests.functional.test_calendar_feeds import events, trainer_feed_path
from tests.functional.test_locations_and_template import add_location
from tests.functional.test_schedule_pages import add_client, allocate, new_slot, slots_on

LONDON = ZoneInfo("Europe/London")
SESSION_REF = re.compile(r'href="/dashboard/sessions/(\d{4}-W\d{2}\.\d{8}T\d{6}Z\.[A-Za-z0-9_-]+)"')


def at(day: int, hour: int) -> datetime:
    return datetime(2026, 11, day, hour, 0, tzinfo=LONDON)


def uid(session_url: str) -> str:
    return session_url.rsplit(".", 1)[1] + "@ptbookings"


def version(trainer: Browser, session_url: str) -> str:
    found = re.search(r'name="version" value="(\d+)"', trainer.get(session_url).body)
    assert found, "no version on the session page"
    return found.group(1)


def slot_at(trainer: Browser, day: str, start: str, end: str) -> tuple[str, str]:
    for week, slot_id in slots_on(trainer, "2026-W48"):
        page = trainer.get(f"/dashboard/schedule/{week}/slots/{slot_id}").body
        if f"{start}–{end}" in page and f" {int(day[-2:])} " in page:
            return week, slot_id
    raise AssertionError(f"no open slot {day} {start}")


@pytest.fixture
def scene(trainer: Browser, chalice_client: Client, clock) -> dict[str, str]:
    """Priya booked Thursday, Friday and Saturday 09:00 (W48); Friday 11:00 is open."""
    studio = add_location(trainer, "Studio")
    priya = add_client(trainer, "Priya Shah")
    booked = {}
    for name, day in (
        ("thursday", "2026-11-26"),
        ("friday", "2026-11-27"),
        ("saturday", "2026-11-28"),
    ):
        assert new_slot(trainer, day, "09:00", "10:00", studio).status == 303
        week, slot_id = slot_at(trainer, day, "09:00", "10:00")
        booked[name] = allocate(trainer, week, slot_id, priya).location.split("?")[0]
    assert new_slot(trainer, "2026-11-27", "11:00", "12:00", studio).status == 303
    _, open_slot = slot_at(trainer, "2026-11-27", "11:00", "12:00")
    return {**booked, "open": open_slot, "studio": studio, "priya": priya}


def calendar_app(chalice_client: Client) -> Browser:
    return Browser(chalice_client, [])  # no cookies, as a phone's calendar fetches


def tab(trainer: Browser, which: str = "") -> set[str]:
    page = trainer.get("/dashboard/sessions" + (f"?list={which}" if which else ""))
    assert page.status == 200 and page.db_calls == 2  # session + profile, one Query
    return set(SESSION_REF.findall(page.body))


def ref(session_url: str) -> str:
    return session_url.rsplit("/", 1)[1]


def move(trainer: Browser, session_url: str, week: str, slot_id: str) -> str:
    """Change on schedule, then the slot picked: the new session's URL."""
    started = trainer.post(
        session_url, {"action": "change_start", "version": version(trainer, session_url)}
    )
    assert started.status == 303
    moved = trainer.post(
        "/dashboard/schedule/move",
        {
            "session": ref(session_url),
            "version": version(trainer, session_url),
            "week": week,
            "slot_id": slot_id,
        },
    )
    assert moved.status == 303, moved.body[:300]
    return moved.location.split("?")[0]


def test_a_cancel_on_the_dashboard_stays_in_the_trainer_feed_as_cancelled(
    trainer: Browser, chalice_client: Client, scene: dict[str, str]
) -> None:
    path, app = trainer_feed_path(trainer), calendar_app(chalice_client)
    before = events(app.get(path))
    saturday = uid(scene["saturday"])
    assert before[saturday]["status"] == "CONFIRMED"

    done = trainer.post(
        scene["saturday"], {"action": "cancel", "version": version(trainer, scene["saturday"])}
    )
    assert done.status == 303
    page = app.get(path)
    after = events(page)
    assert page.db_calls == 3  # profile + generation, the live window, the gone window
    assert set(after) == set(before)  # the same UIDs: updated, not added
    assert after[saturday]["status"] == "CANCELLED"
    assert after[saturday]["sequence"] > before[saturday]["sequence"]
    assert after[saturday]["start"] == at(28, 9)
    assert "Canceled." in str(after[saturday]["description"])
    others = {u: e for u, e in after.items() if u != saturday}
    assert {e["status"] for e in others.values()} == {"CONFIRMED"}
    assert {u: e["sequence"] for u, e in others.items()} == {
        u: before[u]["sequence"] for u in others
    }


def test_a_move_shows_the_old_uid_cancelled_and_the_new_one_confirmed(
    trainer: Browser, chalice_client: Client, scene: dict[str, str]
) -> None:
    path, app = trainer_feed_path(trainer), calendar_app(chalice_client)
    before = events(app.get(path))
    new_url = move(trainer, scene["thursday"], "2026-W48", scene["open"])
    assert new_url != scene["thursday"]
    page = app.get(path)
    after = events(page)
    assert page.db_calls == 3
    old, new = uid(scene["thursday"]), uid(new_url)
    assert set(after) == set(before) | {new}
    assert after[old]["status"] == "CANCELLED" and after[old]["start"] == at(26, 9)
    assert after[old]["sequence"] > before[old]["sequence"]
    assert "Moved to another time" in str(after[old]["description"])
    assert after[new]["status"] == "CONFIRMED" and after[new]["start"] == at(27, 11)


def test_the_sessions_tab_lists_exactly_what_it_did(
    trainer: Browser, scene: dict[str, str], clock
) -> None:
    thursday, friday, saturday = (ref(scene[d]) for d in ("thursday", "friday", "saturday"))
    assert tab(trainer) == {thursday, friday, saturday}
    trainer.post(
        scene["saturday"], {"action": "cancel", "version": version(trainer, scene["saturday"])}
    )
    new = ref(move(trainer, scene["thursday"], "2026-W48", scene["open"]))
    # Canceled and moved sessions are not rows of the tab, before or after their time.
    assert tab(trainer) == {friday, new}
    clock.advance(days=6)  # Sunday 29 Nov: all of them are past
    assert tab(trainer, "past") == {friday, new}


def test_the_trainer_feed_stays_three_reads_with_history_and_many_cancels(
    trainer: Browser, chalice_client: Client, scene: dict[str, str], clock
) -> None:
    """Years of sessions, canceled ones among them, outside the window: never read."""
    repo = runtime.repository()
    tid = trainer.cookies["pt_session"].split(".")[0]
    for weeks_ago in range(5, 60):
        day = date(2026, 11, 25) - timedelta(weeks=weeks_ago)
        slot = make_slot(new_id(), day, 7 * 60, 8 * 60, scene["studio"], "Europe/London")
        taken, session = book(slot, new_id(), scene["priya"], "Priya Shah", "manual", clock.now)
        # Every other one as canceled (a cancel of a past session is refused today).
        status = "canceled" if weeks_ago % 2 else "booked"
        repo.add_slot(tid, taken, session.model_copy(update={"status": status}))
    trainer.post(
        scene["friday"], {"action": "cancel", "version": version(trainer, scene["friday"])}
    )
    page = calendar_app(chalice_client).get(trainer_feed_path(trainer))
    found = events(page)
    assert page.db_calls == 3
    assert sorted(e["start"] for e in found.values()) == [at(26, 9), at(27, 9), at(28, 9)]
    assert [e["status"] for e in found.values() if e["start"] == at(27, 9)] == ["CANCELLED"]

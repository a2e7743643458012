"""The client portal: book, change and cancel within the rules, opt-ins, link hygiene.

The clock is Monday 23 Nov 2026 09:00 UTC (GMT); the booking window is two calendar
weeks (W48 and W49), the deadline 36 hours.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from chalice.test import Client

from chalicelib.domain.tokens import new_token
from tests.functional.conftest import Browser
from tests.functional.test_clients_pages import add_client, post_profile_with, template_slot_ids
from tests.functional.test_locations_and_template import add_location, add_slot
from tests.functional.test_messages import set_payment_details
from tests.functional.test_portal_link import client_version, portal_path
from tests.functional.test_schedule_pages import new_slot, slots_on

CHOICE = re.compile(
    r'name="week" value="([^"]+)">\s*<input type="hidden" name="slot_id" value="([^"]+)">'
    r'\s*<button[^>]*><span class="choice-time">([^<]+)</span> <span class="choice-place">([^<]*)'
)
SESSION_LINK = re.compile(r'href="(/s/[A-Za-z0-9_-]{43})"')


@dataclass
class World:
    trainer: Browser
    client: Browser  # Priya on her phone: no trainer cookies
    priya: str
    home: str  # /c/<token>
    studio: str
    park: str
    template: list[str]  # template slot ids: Wednesday 18:00 Studio, Thursday 12:00 Park

    def choices(self, path: str | None = None) -> dict[str, tuple[str, str, str]]:
        """'<day heading> <times> <place>' -> (week, slot id, times) from a slot list."""
        body = self.client.get(path or f"{self.home}/book").body
        found: dict[str, tuple[str, str, str]] = {}
        for section in body.split('<section class="card slot-day"')[1:]:
            day = re.search(r"<h2[^>]*>([^<]+)</h2>", section)
            assert day
            for week, slot_id, times, place in CHOICE.findall(section):
                found[f"{day.group(1)} {times} {place}"] = (week, slot_id, times)
        return found

    def book(self, label: str, browser: Browser | None = None, home: str | None = None):
        week, slot_id, _ = self.choices()[label]
        return (browser or self.client).post(
            f"{home or self.home}/book", {"week": week, "slot_id": slot_id}
        )


@pytest.fixture
def world(trainer: Browser, chalice_client: Client, clock) -> World:
    studio = add_location(trainer, "Studio")
    park = add_location(trainer, "Park")
    add_slot(trainer, 2, "18:00", "19:00", studio)  # Wednesday
    add_slot(trainer, 3, "12:00", "13:00", park)  # Thursday
    template = template_slot_ids(trainer)
    priya = add_client(trainer, "Priya Shah")
    post_profile_with(trainer, priya, [studio], [template[0]], shared_notes="Bring <b>water</b>")
    trainer.post("/dashboard/schedule/apply", {"week": "2026-W48", "weeks": "3"})
    for day in ("2026-11-24", "2026-11-27", "2026-12-01", "2026-12-08"):
        assert new_slot(trainer, day, "07:00", "08:00", studio).status == 303
    return World(
        trainer,
        Browser(chalice_client, []),
        priya,
        portal_path(trainer, priya),
        studio,
        park,
        template,
    )


# Booking -------------------------------------------------------------------------------
def test_the_book_page_lists_only_what_the_client_may_take(world: World) -> None:
    choices = world.choices()
    assert sorted(choices) == [
        "Friday 27 November 07:00–08:00 Studio",
        "Tuesday 1 December 07:00–08:00 Studio",
        "Tuesday 24 November 07:00–08:00 Studio",
    ]  # not the Park (disabled), not W50 (outside the window), not Priya's own Wednesdays
    page = world.client.get(f"{world.home}/book").body
    assert page.index("Tuesday 24 November") < page.index("Friday 27 November")  # by day


def test_a_client_books_and_the_trainer_sees_it(world: World) -> None:
    booked = world.book("Friday 27 November 07:00–08:00 Studio")
    assert booked.status == 303 and booked.location.startswith("/s/")
    page = world.client.follow(booked).body
    assert "You are booked" in page and "Friday 27 Nov 07:00–08:00" in page
    home = world.client.get(world.home).body
    assert "Friday 27 Nov 07:00–08:00" in home
    week = world.trainer.get("/dashboard/schedule?week=2026-W48").body
    assert week.count('slot-who">Priya Shah') == 2  # Wednesday (recurring), Friday (booked)
    session = re.search(r'href="(/dashboard/sessions/2026-W48\.20261127T070000Z\.[^"]+)"', week)
    assert session
    assert "Booked by the client (portal)" in world.trainer.get(session.group(1)).body
    assert "Friday 27 November" not in str(world.choices())


def test_a_replayed_booking_form_books_nothing_twice(world: World) -> None:
    week, slot_id, _ = world.choices()["Friday 27 November 07:00–08:00 Studio"]
    first = world.client.post(f"{world.home}/book", {"week": week, "slot_id": slot_id})
    again = world.client.post(f"{world.home}/book", {"week": week, "slot_id": slot_id})
    assert first.status == again.status == 303
    assert (
        "saved=again" in again.location
        and again.location.split("?")[0] == first.location.split("?")[0]
    )
    assert "nothing was booked twice" in world.client.follow(again).body
    assert world.trainer.get("/dashboard/sessions").body.count("Friday 27 Nov") == 1


def test_a_slot_taken_by_another_client_is_refused_plainly(world: World, chalice_client) -> None:
    omar = add_client(world.trainer, "Omar Haddad")
    post_profile_with(world.trainer, omar, [world.studio])
    omar_home = portal_path(world.trainer, omar)
    omar_phone = Browser(chalice_client, [])
    week, slot_id, _ = world.choices()["Friday 27 November 07:00–08:00 Studio"]
    assert world.book("Friday 27 November 07:00–08:00 Studio").status == 303
    late = omar_phone.post(f"{omar_home}/book", {"week": week, "slot_id": slot_id})
    assert late.status == 409 and "just taken" in late.body
    assert "Tuesday 24 November" in late.body  # the other times are offered again


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("disabled location", "not one you can book at"),
        ("outside window", "outside the booking window"),
        ("garbage week", "not available"),
        ("unknown slot", "not available any more"),
        ("slot of another week", "not available any more"),
        ("another trainer", "not available any more"),
        ("past", "has passed"),
    ],
)
def test_tampered_booking_forms_are_refused(
    world: World, other_trainer: Browser, clock, case: str, message: str
) -> None:
    slots = {}
    for week in ("2026-W48", "2026-W50"):
        for _, slot_id in slots_on(world.trainer, week):
            body = world.trainer.get(f"/dashboard/schedule/{week}/slots/{slot_id}").body
            slots[re.search(r"<h1>([^<]+)</h1>", body).group(1)] = (week, slot_id)  # type: ignore[union-attr]
    form = {
        "disabled location": lambda: dict(
            zip(("week", "slot_id"), slots["Thursday 26 Nov 12:00–13:00"], strict=True)
        ),
        "outside window": lambda: dict(
            zip(("week", "slot_id"), slots["Tuesday 8 Dec 07:00–08:00"], strict=True)
        ),
        "garbage week": lambda: {"week": "<script>", "slot_id": "x"},
        "unknown slot": lambda: {"week": "2026-W48", "slot_id": "nope"},
        "slot of another week": lambda: {
            "week": "2026-W49",
            "slot_id": slots["Tuesday 24 Nov 07:00–08:00"][1],
        },
        "another trainer": lambda: _their_slot(other_trainer),
        "past": lambda: dict(
            zip(("week", "slot_id"), slots["Tuesday 24 Nov 07:00–08:00"], strict=True)
        ),
    }[case]()
    if case == "past":
        clock.advance(days=1)  # Tuesday 09:00: the 07:00 slot is over
    page = world.client.post(f"{world.home}/book", form)
    assert page.status == 409 and message in page.body
    assert "&lt;script&gt;" not in page.body or case == "garbage week"
    assert world.trainer.get("/dashboard/sessions").body.count("Priya Shah") == 3  # unchanged


def _their_slot(other: Browser) -> dict[str, str]:
    gym = add_location(other, "Gym")
    new_slot(other, "2026-11-27", "10:00", "11:00", gym)
    ((week, slot_id),) = slots_on(other, "2026-W48")
    return {"week": week, "slot_id": slot_id}


# One session: cancel and change ---------------------------------------------------------
def _session_links(world: World) -> list[str]:
    return SESSION_LINK.findall(world.client.get(world.home).body)


def test_a_client_cancels_two_days_ahead_and_the_slot_opens(world: World) -> None:
    wednesday = _session_links(world)[0]  # Wednesday 25 Nov 18:00: 57 hours away
    page = world.client.get(wednesday).body
    assert "Wednesday 25 Nov 18:00–19:00" in page and "Cancel this session" in page
    assert 'value="cancel"' not in page  # one tap only asks: the form is on the next page
    confirm = world.client.get(f"{wednesday}?confirm=cancel").body
    assert "Cancel your session on Wednesday 25 Nov 18:00–19:00?" in confirm
    assert "Keep my session" in confirm
    version = re.search(r'name="version" value="(\d+)"', confirm).group(1)  # type: ignore[union-attr]
    canceled = world.client.post(wednesday, {"action": "cancel", "version": version})
    assert canceled.status == 303
    after = world.client.follow(canceled).body
    assert "Session canceled" in after and "This session was canceled" in after
    assert "Wednesday 25 November 18:00–19:00 Studio" in world.choices()  # open again
    week = world.trainer.get("/dashboard/schedule?week=2026-W48").body
    assert week.count('slot-who">Priya Shah') == 0
    assert world.client.get(world.home).body.count("Wednesday 25 Nov") == 0


def test_inside_the_deadline_the_client_is_told_to_contact_the_trainer(world: World, clock) -> None:
    set_payment_details(world.trainer, whatsapp_number="07400 654321")
    wednesday = _session_links(world)[0]
    version = re.search(
        r'name="version" value="(\d+)"', world.client.get(f"{wednesday}?confirm=cancel").body
    ).group(1)  # type: ignore[union-attr]
    clock.advance(hours=30)  # Tuesday 15:00: 27 hours before
    page = world.client.get(wednesday).body
    assert "Too late to change online" in page and "less than 36 hours" in page
    assert "Cancel this session" not in page and "Change time" not in page
    assert 'href="https://wa.me/447400654321?text=Hi%2C%20it' in page
    refused = world.client.post(wednesday, {"action": "cancel", "version": version})
    assert refused.status == 400 and "Nothing was changed" in refused.body
    assert world.client.get(f"{wednesday}/change").body.count("Move here") == 0
    trainer_week = world.trainer.get("/dashboard/schedule?week=2026-W48").body
    assert trainer_week.count('slot-who">Priya Shah') == 1


def test_a_client_changes_to_another_time_in_one_step(world: World) -> None:
    wednesday = _session_links(world)[0]
    change_page = world.client.get(f"{wednesday}/change").body
    assert "Move here" in change_page and "Wednesday 25 November" not in change_page
    choices = world.choices(f"{wednesday}/change")
    week, slot_id, _ = choices["Friday 27 November 07:00–08:00 Studio"]
    version = re.search(r'name="version" value="(\d+)"', change_page).group(1)  # type: ignore[union-attr]
    moved = world.client.post(
        f"{wednesday}/change", {"week": week, "slot_id": slot_id, "version": version}
    )
    assert moved.status == 303 and moved.location.split("?")[0] != wednesday
    assert "Session moved" in world.client.follow(moved).body
    old = world.client.get(wednesday).body
    assert "This session was moved" in old and moved.location.split("?")[0] in old
    home = world.client.get(world.home).body
    assert "Friday 27 Nov 07:00–08:00" in home and "Wednesday 25 Nov" not in home
    assert "Wednesday 25 November 18:00–19:00 Studio" in world.choices()  # freed
    trainer_week = world.trainer.get("/dashboard/schedule?week=2026-W48").body
    session = re.search(
        r'href="(/dashboard/sessions/2026-W48\.20261127T070000Z\.[^"]+)"', trainer_week
    )
    assert session
    log = world.trainer.get(session.group(1)).body
    assert "Moved here from Wednesday 25 Nov 18:00–19:00" in log and ">client</span>" in log


def test_a_change_to_the_same_slot_or_a_taken_one_changes_nothing(
    world: World, chalice_client: Client
) -> None:
    wednesday = _session_links(world)[0]
    page = world.client.get(f"{wednesday}/change").body
    version = re.search(r'name="version" value="(\d+)"', page).group(1)  # type: ignore[union-attr]
    own_slot = _trainer_slot_of(world, "2026-W48", "20261125T180000Z")
    same = world.client.post(
        f"{wednesday}/change", {"week": "2026-W48", "slot_id": own_slot, "version": version}
    )
    assert same.status == 409 and "already have" in same.body
    week, slot_id, _ = world.choices()["Friday 27 November 07:00–08:00 Studio"]
    omar = add_client(world.trainer, "Omar Haddad")
    post_profile_with(world.trainer, omar, [world.studio])
    omar_phone = Browser(chalice_client, [])
    taken = omar_phone.post(
        f"{portal_path(world.trainer, omar)}/book", {"week": week, "slot_id": slot_id}
    )
    assert taken.status == 303
    late = world.client.post(
        f"{wednesday}/change", {"week": week, "slot_id": slot_id, "version": version}
    )
    assert late.status == 409 and "just taken" in late.body
    assert "Wednesday 25 Nov 18:00–19:00" in world.client.get(world.home).body  # kept


def _trainer_slot_of(world: World, week: str, start: str) -> str:
    body = world.trainer.get(f"/dashboard/schedule?week={week}").body
    session = re.search(rf'href="(/dashboard/sessions/{week}\.{start}\.[^"]+)"', body)
    assert session
    from chalicelib import runtime
    from chalicelib.domain.schedule import parse_session_ref

    ref = parse_session_ref(session.group(1).rsplit("/", 1)[1])
    assert ref is not None
    tid = world.trainer.cookies["pt_session"].split(".")[0]
    return runtime.repository().get_session(tid, ref).slot_id


# Last-minute opt-ins ----------------------------------------------------------------------
def test_opt_ins_save_one_tick_at_a_time_and_without_javascript(world: World) -> None:
    home = world.client.get(world.home).body
    assert "Last-minute sessions" in home
    assert f'value="{world.template[0]}"' in home  # Wednesday 18:00 at the Studio
    assert f'value="{world.template[1]}"' not in home  # the Park is not enabled for Priya
    csrf = world.client.get(world.home).csrf()
    tick = world.client.request(
        "POST",
        f"{world.home}/optins",
        f"csrf_token={csrf}&template_slot_id={world.template[0]}&on=yes",
        {"x-requested-with": "fetch"},
    )
    assert tick.status == 204
    assert re.search(rf'value="{world.template[0]}" checked', world.client.get(world.home).body)
    untick = world.client.post(
        f"{world.home}/optins", {"template_slot_id": world.template[0], "on": "no"}
    )
    assert untick.status == 303
    assert not re.search(rf'value="{world.template[0]}" checked', world.client.get(world.home).body)
    saved = world.client.post(f"{world.home}/optins", {"optin": world.template[0]})  # no JS
    assert saved.status == 303 and "Last-minute times saved" in world.client.follow(saved).body
    assert re.search(rf'value="{world.template[0]}" checked', world.client.get(world.home).body)
    refused = world.client.post(
        f"{world.home}/optins", {"template_slot_id": world.template[1], "on": "yes"}
    )
    assert refused.status == 400
    assert not re.search(rf'value="{world.template[1]}" checked', world.client.get(world.home).body)


def test_portal_forms_need_the_csrf_token(world: World) -> None:
    page = world.client.request(
        "POST", f"{world.home}/optins", f"template_slot_id={world.template[0]}&on=yes"
    )
    assert page.status == 403


# Link hygiene -------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", ["", "/book"])
def test_every_portal_page_is_private_to_the_link(world: World, suffix: str) -> None:
    page = world.client.get(world.home + suffix)
    assert page.status == 200
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    assert "noindex" in page.headers["x-robots-tag"]
    session = world.client.get(_session_links(world)[0])
    assert session.headers["cache-control"] == "no-store"
    assert "noindex" in session.headers["x-robots-tag"]


def test_robots_txt_keeps_portal_links_out_of_search(world: World) -> None:
    robots = world.client.get("/robots.txt").body
    assert "Disallow: /c/" in robots and "Disallow: /s/" in robots


def test_rotating_or_archiving_retires_session_links_too(world: World) -> None:
    wednesday = _session_links(world)[0]
    world.trainer.post(
        f"/dashboard/clients/{world.priya}",
        {"action": "rotate", "version": client_version(world.trainer, world.priya)},
    )
    for path in (world.home, f"{world.home}/book", wednesday, f"{wednesday}/change"):
        page = world.client.get(path)
        assert page.status == 410 and "Priya" not in page.body, path
    assert world.client.get(world.home).db_calls == 1  # like a forged token: one GetItem
    new_home = portal_path(world.trainer, world.priya)
    assert world.client.get(new_home).status == 200
    world.trainer.post(
        f"/dashboard/clients/{world.priya}",
        {"action": "archive", "version": client_version(world.trainer, world.priya)},
    )
    assert world.client.get(new_home).status == 410


@pytest.mark.parametrize("kind", ["forged", "truncated", "padded"])
def test_forged_session_links_are_404_after_the_same_single_read(world: World, kind: str) -> None:
    real = _session_links(world)[0].removeprefix("/s/")
    bad = {"forged": new_token(), "truncated": real[:-1], "padded": real + "A"}[kind]
    page = world.client.get(f"/s/{bad}")
    assert page.status == 404 and "Priya" not in page.body
    assert page.db_calls == 1
    rotated_calls = world.client.get(f"/c/{new_token()}").db_calls
    assert rotated_calls == page.db_calls


def test_a_portal_token_does_not_open_a_session_page_or_the_reverse(world: World) -> None:
    home_token = world.home.removeprefix("/c/")
    session_token = _session_links(world)[0].removeprefix("/s/")
    assert world.client.get(f"/s/{home_token}").status == 404
    assert world.client.get(f"/c/{session_token}").status == 404


def test_shared_notes_with_html_are_inert(world: World) -> None:
    page = world.client.get(world.home).body
    assert "Bring &lt;b&gt;water&lt;/b&gt;" in page and "<b>water</b>" not in page


def test_portal_pages_keep_to_their_round_trips(world: World) -> None:
    assert world.client.get(world.home).db_calls == 5
    assert world.client.get(f"{world.home}/book").db_calls == 4  # + one Query per week (2)
    assert world.client.get(_session_links(world)[0]).db_calls == 2


def test_no_portal_page_can_show_the_private_notes(world: World) -> None:
    from chalicelib.domain.portal import PortalClient

    # the portal is built from a model that has no private notes at all
    assert "private_notes" not in PortalClient.model_fields
    post_profile_with(
        world.trainer,
        world.priya,
        [world.studio],
        [world.template[0]],
        shared_notes="Bring water",
        private_notes="PRIVATE-knee-injury",
    )
    booked = world.book("Friday 27 November 07:00–08:00 Studio")
    session = booked.location.split("?")[0]
    pages = [
        world.home,
        f"{world.home}/book",
        session,
        f"{session}?confirm=cancel",
        f"{session}/change",
    ]
    for path in pages:
        page = world.client.get(path)
        assert page.status == 200, path
        assert "PRIVATE-knee-injury" not in page.body, path
    assert "PRIVATE-knee-injury" in world.trainer.get(f"/dashboard/clients/{world.priya}").body

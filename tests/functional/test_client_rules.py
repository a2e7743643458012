"""A client's own booking rules (issue 15 item 5): the profile's "Booking rules" card, and
the portal applying the client's window and deadline, server side, while another client
of the same trainer keeps the trainer's defaults (2 weeks, 36 hours).

The clock is Monday 23 Nov 2026 09:00 UTC (GMT), in week 2026-W48.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urlencode

import pytest
from chalice.test import Client as ChaliceClient

from chalicelib import runtime
from chalicelib.domain.clients import SaveProfile
from chalicelib.domain.errors import VersionConflict
from chalicelib.repo.repository import Repository
from chalicelib.services import clients
from tests.functional.conftest import Browser
from tests.functional.test_clients_pages import add_client, post_profile_with, profile_form
from tests.functional.test_portal_booking import World, world  # noqa: F401 (the fixture)
from tests.functional.test_portal_link import portal_path
from tests.functional.test_schedule_pages import new_slot, slots_on
from tests.support.builders import add_client as make_client
from tests.support.builders import make_trainer, trainer_of
from tests.support.race import race
from tests.support.table import unchanged

VERSION = re.compile(r'name="version" value="(\d+)"')
SESSION_LINK = re.compile(r'href="(/s/[A-Za-z0-9_-]{43})"')


def _trainer_id(browser: Browser) -> str:
    return browser.cookies["pt_session"].split(".")[0]


def _stored(browser: Browser, client_id: str):
    return runtime.repository().get_client(_trainer_id(browser), client_id)


def _now(body: str) -> tuple[str, str]:
    """The profile's "now" lines: the effective window and deadline, in plain text."""
    window = re.search(r'<li id="window-now">(.*?)</li>', body, re.S)
    deadline = re.search(r'<li id="deadline-now">(.*?)</li>', body, re.S)
    assert window and deadline
    plain = (re.sub(r"<[^>]+>", "", m.group(1)) for m in (window, deadline))
    window_text, deadline_text = (html.unescape(" ".join(t.split())) for t in plain)
    return window_text, deadline_text


def _input_value(body: str, name: str) -> str:
    found = re.search(rf'<input id="{name}" name="{name}"[^>]*value="([^"]*)"', body)
    assert found, f"no {name} input"
    return html.unescape(found.group(1))


# The profile -------------------------------------------------------------------------------
def test_the_profile_shows_the_trainers_defaults_until_the_client_has_their_own(
    trainer: Browser,
) -> None:
    client = add_client(trainer, "Priya Shah")
    page = trainer.get(f"/dashboard/clients/{client}").body
    assert "Booking rules" in page
    assert '<label for="booking_window_weeks">' in page
    assert '<label for="cancel_deadline_hours">' in page
    assert "Empty: your default (2 weeks)." in page and "Empty: your default (36 h)." in page
    assert _now(page) == (
        "Booking window now: 2 weeks (your default)",
        "Cancel/change deadline now: 36 h before (your default)",
    )
    assert _input_value(page, "booking_window_weeks") == ""

    saved = post_profile_with(trainer, client, booking_window_weeks="4", cancel_deadline_hours="12")
    assert saved.status == 303
    page = trainer.get(f"/dashboard/clients/{client}").body
    assert _input_value(page, "booking_window_weeks") == "4"
    assert _input_value(page, "cancel_deadline_hours") == "12"
    assert _now(page) == (
        "Booking window now: 4 weeks (Priya's own)",
        "Cancel/change deadline now: 12 h before (Priya's own)",
    )
    stored = _stored(trainer, client)
    assert (stored.booking_window_weeks, stored.cancel_deadline_hours) == (4, 12)

    # A zero-hour deadline is a rule of its own, not "empty".
    post_profile_with(trainer, client, booking_window_weeks="", cancel_deadline_hours="0")
    page = trainer.get(f"/dashboard/clients/{client}").body
    assert _input_value(page, "cancel_deadline_hours") == "0"
    assert _now(page) == (
        "Booking window now: 2 weeks (your default)",
        "Cancel/change deadline now: 0 h before (Priya's own)",
    )
    stored = _stored(trainer, client)
    assert (stored.booking_window_weeks, stored.cancel_deadline_hours) == (None, 0)


def test_a_name_with_html_is_escaped_in_the_rules_card(trainer: Browser) -> None:
    client = add_client(trainer, "<b>Al</b> Smith")
    post_profile_with(trainer, client, name="<b>Al</b> Smith", booking_window_weeks="3")
    page = trainer.get(f"/dashboard/clients/{client}").body
    assert "<b>Al</b>" not in page
    assert "&lt;b&gt;Al&lt;/b&gt;&#39;s own" in page


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("booking_window_weeks", "0", "must be between 1 and 12 weeks"),
        ("booking_window_weeks", "13", "must be between 1 and 12 weeks"),
        ("booking_window_weeks", "-1", "cannot be negative"),
        ("booking_window_weeks", "abc", "must be a whole number of weeks from 1 to 12"),
        ("booking_window_weeks", "2.5", "must be a whole number of weeks from 1 to 12"),
        ("cancel_deadline_hours", "169", "must be between 0 and 168 hours"),
        ("cancel_deadline_hours", "-1", "cannot be negative"),
        ("cancel_deadline_hours", "abc", "must be a whole number of hours from 0 to 168"),
        ("cancel_deadline_hours", "1.5", "must be a whole number of hours from 0 to 168"),
    ],
)
def test_a_bad_override_is_explained_with_the_input_kept_and_nothing_written(
    trainer: Browser, field: str, value: str, message: str
) -> None:
    client = add_client(trainer, "Priya Shah")
    form = profile_form(trainer, client, name="Priya Renamed", **{field: value})
    pairs = [*form.items(), ("csrf_token", trainer.get("/dashboard").csrf())]
    with unchanged(runtime.repository()):
        page = trainer.request("POST", f"/dashboard/clients/{client}", urlencode(pairs))
    assert page.status == 400
    body = html.unescape(page.body)
    assert message in body and f'id="{field}-error"' in page.body
    assert f'aria-describedby="{field}-hint {field}-error" aria-invalid="true"' in page.body
    assert _input_value(page.body, field) == value  # kept as typed
    assert 'value="Priya Renamed"' in page.body  # and the rest of the form with it
    assert _stored(trainer, client).name == "Priya Shah"


def test_overrides_from_a_stale_profile_page_are_refused_by_the_write(trainer: Browser) -> None:
    client = add_client(trainer, "Priya Shah")
    stale = profile_form(trainer, client)
    first = post_profile_with(trainer, client, booking_window_weeks="4")
    assert first.status == 303
    pairs = [
        *{**stale, "booking_window_weeks": "8"}.items(),
        ("csrf_token", trainer.get("/dashboard").csrf()),
    ]
    with unchanged(runtime.repository()):
        page = trainer.request("POST", f"/dashboard/clients/{client}", urlencode(pairs))
    assert page.status == 409 and "changed elsewhere" in page.body
    assert _stored(trainer, client).booking_window_weeks == 4


def test_two_saves_of_the_rules_at_once_from_one_read_make_one_write(repo: Repository) -> None:
    trainer = make_trainer(repo)
    client = make_client(repo, trainer, "Priya Shah")
    account = repo.get_account(trainer.id)
    trainer = trainer_of(repo, trainer.id)
    windows = ["3", "9"]

    def save(i: int):
        command = SaveProfile(
            client_id=client.id,
            name="Priya Shah",
            phone="07400 123456",
            booking_window_weeks=windows[i],
            version=client.version,
        )
        return clients.save_profile(repo, trainer, account, client, command)

    outcomes = race(2, save, timeout=30)
    won = [o for o in outcomes if not isinstance(o, Exception)]
    lost = [o for o in outcomes if isinstance(o, Exception)]
    assert len(won) == 1 and len(lost) == 1
    assert isinstance(lost[0], VersionConflict), lost[0]
    stored = repo.get_client(trainer.id, client.id)
    assert stored.booking_window_weeks == won[0].booking_window_weeks
    assert stored.version == client.version + 1


# The portal ---------------------------------------------------------------------------------
def _set_rules(w: World, window: str = "", deadline: str = "") -> None:
    saved = post_profile_with(
        w.trainer,
        w.priya,
        [w.studio],
        [w.template[0]],
        booking_window_weeks=window,
        cancel_deadline_hours=deadline,
    )
    assert saved.status == 303, saved.body


def _omar(w: World, chalice_client: ChaliceClient) -> tuple[str, Browser]:
    """Another client of the same trainer, on the trainer's defaults."""
    omar = add_client(w.trainer, "Omar Haddad")
    post_profile_with(w.trainer, omar, [w.studio])
    return portal_path(w.trainer, omar), Browser(chalice_client, [])


def _week_four_slot(w: World) -> tuple[str, str]:
    """An open slot in week 4 of the window (W51): outside the trainer's two weeks."""
    assert new_slot(w.trainer, "2026-12-15", "07:00", "08:00", w.studio).status == 303
    ((week, slot_id),) = slots_on(w.trainer, "2026-W51")
    return week, slot_id


def _sessions_of(w: World, name: str) -> int:
    return w.trainer.get("/dashboard/sessions").body.count(name)


def test_a_wider_window_lets_the_client_book_week_four_and_no_one_else(
    world: World,  # noqa: F811
    chalice_client: ChaliceClient,
) -> None:
    week, slot_id = _week_four_slot(world)
    omar_home, omar_phone = _omar(world, chalice_client)
    assert "Tuesday 15 December 07:00–08:00 Studio" not in world.choices()
    with unchanged(runtime.repository()):
        refused = world.client.post(f"{world.home}/book", {"week": week, "slot_id": slot_id})
    assert refused.status == 409 and "outside the booking window" in refused.body

    _set_rules(world, window="4")
    book_page = world.client.get(f"{world.home}/book").body
    assert "You can book sessions this week and up to 3 weeks ahead." in book_page
    assert "Tuesday 15 December 07:00–08:00 Studio" in world.choices()
    booked = world.book("Tuesday 15 December 07:00–08:00 Studio")
    assert booked.status == 303 and booked.location.startswith("/s/")
    assert "Tuesday 15 Dec 07:00–08:00" in world.client.get(world.home).body

    # Omar keeps the trainer's two weeks: W51 is neither listed nor bookable for him.
    omar_book = omar_phone.get(f"{omar_home}/book").body
    assert "You can book sessions this week and up to 1 week ahead." in omar_book
    assert "Tuesday 1 December" in omar_book and "December 15" not in omar_book
    assert new_slot(world.trainer, "2026-12-16", "07:00", "08:00", world.studio).status == 303
    other = [s for w, s in slots_on(world.trainer, "2026-W51") if s != slot_id]
    with unchanged(runtime.repository()):
        late = omar_phone.post(f"{omar_home}/book", {"week": "2026-W51", "slot_id": other[0]})
    assert late.status == 409 and "outside the booking window" in late.body


def test_a_narrower_window_hides_and_refuses_next_week(world: World) -> None:  # noqa: F811
    week49 = world.choices()["Tuesday 1 December 07:00–08:00 Studio"]
    _set_rules(world, window="1")
    page = world.client.get(f"{world.home}/book").body
    assert "You can book sessions in this calendar week." in page
    assert "Tuesday 1 December" not in page and "Friday 27 November" in page
    with unchanged(runtime.repository()):
        refused = world.client.post(f"{world.home}/book", {"week": week49[0], "slot_id": week49[1]})
    assert refused.status == 409 and "outside the booking window" in refused.body


def _session_link(browser: Browser, home: str) -> str:
    links = SESSION_LINK.findall(browser.get(home).body)
    assert links
    return links[0]


def _version(browser: Browser, path: str) -> str:
    found = VERSION.search(browser.get(f"{path}?confirm=cancel").body)
    assert found
    return found.group(1)


def test_a_shorter_deadline_lets_the_client_cancel_later_than_the_default(
    world: World,  # noqa: F811
    chalice_client: ChaliceClient,
    clock,
) -> None:
    omar_home, omar_phone = _omar(world, chalice_client)
    assert new_slot(world.trainer, "2026-11-25", "07:00", "08:00", world.studio).status == 303
    wednesday_morning = "Wednesday 25 November 07:00–08:00 Studio"
    assert world.book(wednesday_morning, omar_phone, omar_home).status == 303
    _set_rules(world, deadline="12")
    priya_session = _session_link(world.client, world.home)  # Wednesday 25 Nov 18:00
    omar_session = _session_link(omar_phone, omar_home)  # Wednesday 25 Nov 07:00
    priya_version = _version(world.client, priya_session)
    omar_version = _version(omar_phone, omar_session)
    priya_page = world.client.get(priya_session).body
    assert "You can change or cancel up to 12 hours before the start." in priya_page
    omar_page = omar_phone.get(omar_session).body
    assert "You can change or cancel up to 36 hours before the start." in omar_page

    clock.advance(hours=30)  # Tuesday 15:00: Priya's session in 27 h, Omar's in 16 h
    priya_page = world.client.get(priya_session).body
    assert "Cancel this session" in priya_page and "Too late" not in priya_page
    omar_page = omar_phone.get(omar_session).body
    assert "Too late to change online" in omar_page and "less than 36 hours" in omar_page
    with unchanged(runtime.repository()):
        refused = omar_phone.post(omar_session, {"action": "cancel", "version": omar_version})
    assert refused.status == 400 and "Nothing was changed" in refused.body

    canceled = world.client.post(priya_session, {"action": "cancel", "version": priya_version})
    assert canceled.status == 303
    assert "This session was canceled" in world.client.follow(canceled).body


def test_a_longer_deadline_locks_change_and_cancel_earlier(world: World) -> None:  # noqa: F811
    session = _session_link(world.client, world.home)  # Wednesday 18:00: 57 hours away
    version = _version(world.client, session)  # drawn while it could still change
    target = world.choices()["Friday 27 November 07:00–08:00 Studio"]
    _set_rules(world, deadline="72")
    page = world.client.get(session).body
    assert "Too late to change online" in page and "less than 72 hours" in page
    assert "Cancel this session" not in page and "Change time" not in page
    with unchanged(runtime.repository()):
        canceled = world.client.post(session, {"action": "cancel", "version": version})
        moved = world.client.post(
            f"{session}/change", {"week": target[0], "slot_id": target[1], "version": version}
        )
    assert canceled.status == 400 and "less than 72 hours" in html.unescape(canceled.body)
    assert moved.status == 400 and "less than 72 hours" in html.unescape(moved.body)
    assert world.client.get(f"{session}/change").body.count("Move here") == 0


def test_a_zero_hour_deadline_lets_the_client_cancel_a_minute_before(
    world: World,  # noqa: F811
    clock,
) -> None:
    _set_rules(world, deadline="0")
    session = _session_link(world.client, world.home)  # Wednesday 25 Nov 18:00
    version = _version(world.client, session)
    clock.advance(hours=56, minutes=59)  # Wednesday 17:59
    page = world.client.get(session).body
    assert "You can change or cancel online until the session starts." in page
    assert "Cancel this session" in page and "Too late" not in page
    canceled = world.client.post(session, {"action": "cancel", "version": version})
    assert canceled.status == 303


def test_the_portal_reads_nothing_more_for_a_client_with_rules(
    world: World,  # noqa: F811
    chalice_client: ChaliceClient,
) -> None:
    """The overrides live on the client item the portal already reads; only a wider
    window costs its extra weeks' Queries, as a wider default would."""
    omar_home, omar_phone = _omar(world, chalice_client)
    _set_rules(world, window="4", deadline="12")
    assert world.client.get(world.home).db_calls == 5
    assert world.client.get(f"{world.home}/book").db_calls == 2 + 4  # one Query a week
    assert omar_phone.get(f"{omar_home}/book").db_calls == 2 + 2
    assert world.client.get(_session_link(world.client, world.home)).db_calls == 2

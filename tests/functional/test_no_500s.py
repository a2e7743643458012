"""Inputs that used to answer 500: each must be a clear 4xx page, with nothing written."""

from __future__ import annotations

import base64
import json

import pytest

from chalicelib import runtime
from tests.functional.conftest import Browser
from tests.functional.test_clients_pages import add_client
from tests.functional.test_locations_and_template import add_location
from tests.functional.test_programs import (
    OFFER,
    bundle_ready,
    create_bundle,
    fill_offer,
    generate,
    post_step,
    start_wizard,
    version_of,
    wizard_path,
)
from tests.functional.test_schedule_pages import trainer_id


@pytest.fixture
def studio_setup(trainer: Browser, clock) -> dict[str, str]:
    studio = add_location(trainer, "Studio")
    priya = add_client(trainer, "Priya Shah")
    return {"studio": studio, "priya": priya}


def test_step_three_with_more_dates_than_sessions_sends_the_trainer_back_to_fix_it(
    trainer: Browser, studio_setup
) -> None:
    draft = bundle_ready(trainer, studio_setup["studio"], studio_setup["priya"])  # 12 dates
    # back to step 1: the bundle becomes 6 sessions, the 12 dates are still in the draft
    assert fill_offer(trainer, draft, studio_setup["studio"], sessions="6").status == 303
    page = trainer.get(wizard_path(draft, "confirm"))
    assert page.status in (200, 400) and "remove 6 date(s)" in page.body
    assert "disabled" in page.body  # the create button cannot be pressed
    created = post_step(trainer, draft, "confirm", {"action": "create"})
    assert created.status == 400 and "remove 6 date(s)" in created.body
    assert "/dashboard/bundles/" not in trainer.get("/dashboard/programs").body


@pytest.mark.parametrize("link", ["http://[abc", "https://[::1", "http://exa mple.com"])
def test_a_malformed_link_is_refused_on_the_template_and_wizard_forms(
    trainer: Browser, studio_setup, link: str
) -> None:
    page = trainer.post(
        "/dashboard/programs/templates/new",
        {**OFFER, "location_id": studio_setup["studio"], "video_link": link},
    )
    assert page.status == 400 and "Enter a full link starting with https://" in page.body
    draft = start_wizard(trainer, studio_setup["priya"])
    step = fill_offer(trainer, draft, studio_setup["studio"], video_link=link)
    assert step.status == 400 and "Enter a full link starting with https://" in step.body


@pytest.mark.parametrize("week", ["0001-W01", "9999-W52"])
def test_a_week_out_of_range_on_the_schedule_is_a_400(trainer: Browser, clock, week: str) -> None:
    page = trainer.get(f"/dashboard/schedule?week={week}")
    assert page.status == 400 and "Pick a week between 2000 and 2100." in page.body


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_far_dates_are_refused_on_the_schedule_and_in_the_wizard(
    trainer: Browser, studio_setup, day: str
) -> None:
    day_view = trainer.get(f"/dashboard/schedule?view=day&day={day}")
    assert day_view.status == 400
    new = trainer.post(
        "/dashboard/schedule/new",
        {"day": day, "start": "09:00", "end": "10:00", "location_id": studio_setup["studio"]},
    )
    assert new.status == 400 and "between 2000 and 2100" in new.body
    assert runtime.repository().get_week(trainer_id(trainer), "2026-W48") == []
    draft = start_wizard(trainer, studio_setup["priya"])
    assert fill_offer(trainer, draft, studio_setup["studio"]).status == 303
    generated = generate(trainer, draft, day, "10:00")
    assert generated.status == 400 and "2026-12-01" in generated.body
    cards = post_step(
        trainer,
        draft,
        "schedule",
        {"cards": "1", "card_day_0": day, "card_start_0": "10:00", "action": "next"},
    )
    assert cards.status in (200, 303, 400)
    assert trainer.get(wizard_path(draft, "schedule")).status == 200
    assert "between 2000 and 2100" in trainer.get(wizard_path(draft, "schedule")).body


def test_add_a_session_on_a_far_date_is_refused(trainer: Browser, studio_setup) -> None:
    import re

    bundle = create_bundle(trainer, studio_setup["studio"], studio_setup["priya"])
    page = trainer.get(f"/dashboard/bundles/{bundle}").body
    # one session canceled, so the bundle has room for one more
    first = re.search(r'href="(/dashboard/sessions/[^"]+)"', page)
    assert first
    version = re.search(r'name="version" value="(\d+)"', trainer.get(first.group(1)).body)
    assert version
    trainer.post(first.group(1), {"action": "cancel", "version": version.group(1)})
    page = trainer.get(f"/dashboard/bundles/{bundle}").body
    for day in ("0001-01-01", "9999-12-31"):
        added = trainer.post(
            f"/dashboard/bundles/{bundle}",
            {"action": "add", "day": day, "start": "10:00", "version": version_of(page)},
        )
        assert added.status == 400 and "between 2000 and 2100" in added.body


@pytest.mark.parametrize(
    "cursor",
    [
        "not-base64!!",
        base64.urlsafe_b64encode(b"[1,2]").decode(),
        "x" * 3000,
    ],
)
def test_a_tampered_sessions_cursor_starts_over(trainer: Browser, clock, cursor: str) -> None:
    page = trainer.get(f"/dashboard/sessions?after={cursor}")
    assert page.status == 200


def test_a_cursor_with_our_partition_but_forged_keys_starts_over(trainer: Browser, clock) -> None:
    from chalicelib.repo import keys

    tid = trainer_id(trainer)
    forged = [
        {keys.TRAINER_PK: keys.trainer_timeline(tid)},
        {keys.TRAINER_PK: keys.trainer_timeline(tid), keys.TRAINER_SK: "x", keys.PK: "T#other"},
        {
            keys.TRAINER_PK: keys.trainer_timeline(tid),
            keys.TRAINER_SK: "2026",
            keys.PK: "T#x",
            keys.SK: "y",
            "extra": "z",
        },
    ]
    for key in forged:
        text = base64.urlsafe_b64encode(json.dumps(key).encode()).decode()
        for which in ("upcoming", "past"):
            page = trainer.get(f"/dashboard/sessions?which={which}&after={text}")
            assert page.status == 200, (key, page.body[:300])


@pytest.mark.parametrize("name", ["a" * 300, "x" * 255 + ".css", "%00.css", "..%2Fapp.py"])
def test_odd_static_file_names_are_404(browser: Browser, name: str) -> None:
    page = browser.get(f"/static/{name}")
    assert page.status == 404


def test_a_cursor_outside_the_querys_range_shows_the_first_page(trainer: Browser, clock) -> None:
    # DynamoDB refuses a start key outside the key condition with a ValidationException
    # (a 500); moto silently returns nothing. Either way the list must start over.
    from chalicelib.repo import keys
    from tests.functional.test_schedule_pages import allocate, new_slot, slots_on

    studio = add_location(trainer, "Studio")
    priya = add_client(trainer, "Priya Shah")
    new_slot(trainer, "2026-11-26", "09:00", "10:00", studio)
    ((week, slot),) = slots_on(trainer, "2026-W48")
    allocate(trainer, week, slot, priya)
    tid = trainer_id(trainer)
    forged = {
        keys.TRAINER_PK: keys.trainer_timeline(tid),
        keys.TRAINER_SK: "~~beyond",
        keys.PK: keys.week_pk(tid, "2026-W48"),
        keys.SK: keys.SESSION_PREFIX + "x",
    }
    text = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode()
    page = trainer.get(f"/dashboard/sessions?after={text}")
    assert page.status == 200 and "Priya Shah" in page.body

"""Programs: templates, the New bundle wizard, the bundle page and its confirmations."""

from __future__ import annotations

import re

import pytest

from tests.functional.conftest import Browser
from tests.functional.test_locations_and_template import add_location
from tests.functional.test_schedule_pages import add_client

DRAFT = re.compile(r"/dashboard/programs/wizard/([A-Za-z0-9_-]+)/offer")
VERSION = re.compile(r'name="version" value="(\d+)"')

OFFER = {
    "title": "12-session coaching",
    "sessions": "12",
    "price": "540",
    "length": "60",
    "video_link": "https://meet.example.com/coach",
    "doc_name_0": "Training plan",
    "doc_url_0": "https://docs.example.com/plan.pdf",
    "doc_name_1": "Meal guide",
    "doc_url_1": "https://docs.example.com/meals.pdf",
}


def version_of(page_body: str) -> str:
    found = VERSION.search(page_body)
    assert found, "no version field"
    return found.group(1)


def create_template(browser: Browser, studio: str, **changes: str) -> str:
    page = browser.post(
        "/dashboard/programs/templates/new", {**OFFER, "location_id": studio, **changes}
    )
    assert page.status == 303, page.body
    models = browser.get("/dashboard/programs?tab=models").body
    found = re.findall(r"/dashboard/programs/new\?template_id=([A-Za-z0-9_-]+)", models)
    return found[-1]


def start_wizard(browser: Browser, client: str, template: str = "") -> str:
    page = browser.post("/dashboard/programs/new", {"client_id": client, "template_id": template})
    assert page.status == 303, page.body
    match = DRAFT.search(page.location)
    assert match, page.location
    return match.group(1)


def wizard_path(draft: str, step: str) -> str:
    return f"/dashboard/programs/wizard/{draft}/{step}"


def post_step(browser: Browser, draft: str, step: str, data: dict[str, str]):
    version = version_of(browser.get(wizard_path(draft, step)).body)
    return browser.post(wizard_path(draft, step), {"version": version, **data})


def generate(browser: Browser, draft: str, first_day: str, time: str, every: str = "1"):
    return post_step(
        browser,
        draft,
        "schedule",
        {"action": "generate", "first_day": first_day, "first_time": time, "every_weeks": every},
    )


@pytest.fixture
def studio_setup(trainer: Browser, clock) -> dict[str, str]:
    studio = add_location(trainer, "Studio")
    priya = add_client(trainer, "Priya Shah")
    return {"studio": studio, "priya": priya}


def test_smoke_full_flow(trainer: Browser, studio_setup: dict[str, str]) -> None:
    template = create_template(trainer, studio_setup["studio"])
    draft = start_wizard(trainer, studio_setup["priya"], template)
    offer_page = trainer.get(wizard_path(draft, "offer"))
    assert offer_page.status == 200, offer_page.body
    assert "12-session coaching" in offer_page.body
    done = post_step(
        trainer, draft, "offer", {**OFFER, "location_id": studio_setup["studio"], "action": "next"}
    )
    assert done.status == 303, done.body
    gen = generate(trainer, draft, "2026-12-01", "10:00")
    assert gen.status == 303, gen.body
    schedule = trainer.get(wizard_path(draft, "schedule"))
    assert schedule.status == 200, schedule.body
    assert schedule.body.count("Free: a slot is added") == 12
    cards = {
        "cards": "12",
        "action": "next",
        "first_day": "2026-12-01",
        "first_time": "10:00",
        "every_weeks": "1",
    }
    for i, day in enumerate(
        re.findall(r'name="card_day_\d+" type="date" value="([^"]*)"', schedule.body)
    ):
        cards[f"card_day_{i}"] = day
        cards[f"card_start_{i}"] = "10:00"
    nxt = post_step(trainer, draft, "schedule", cards)
    assert nxt.status == 303, nxt.body
    confirm = trainer.get(wizard_path(draft, "confirm"))
    assert confirm.status == 200, confirm.body
    created = post_step(trainer, draft, "confirm", {"action": "create"})
    assert created.status == 303, created.body
    bundle = trainer.follow(created)
    assert bundle.status == 200, bundle.body
    assert "Progress: 0 / 12" in bundle.body
    sent = trainer.post(created.location.split("?")[0], {"action": "confirm", "round": "0"})
    assert sent.status == 303, sent.body
    again = trainer.post(created.location.split("?")[0], {"action": "confirm", "round": "0"})
    assert again.status == 409, again.body

"""Programs: templates, the New bundle wizard, the bundle page and its confirmations,
through the real app (chalice.test.Client), bad input and other trainers' ids included."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from chalice.test import Client

from chalicelib.messaging import email as email_module
from tests.functional.conftest import Browser
from tests.functional.test_clients_pages import post_profile, profile_form
from tests.functional.test_locations_and_template import add_location
from tests.functional.test_messages import _invoke_dispatcher
from tests.functional.test_portal_link import portal_path
from tests.functional.test_schedule_pages import (
    add_client,
    allocate,
    new_slot,
    slots_on,
    trainer_id,
)

DRAFT = re.compile(r"/dashboard/programs/wizard/([A-Za-z0-9_-]+)/offer")
VERSION = re.compile(r'name="version" value="(\d+)"')
CARD_DAY = re.compile(r'name="card_day_(\d+)" type="date" value="([^"]*)"')
CARD_START = re.compile(r'name="card_start_(\d+)" type="time" step="1800" value="([^"]*)"')
SESSION_LINK = re.compile(r'href="(/dashboard/sessions/[^"]+)"')

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


def version_of(body: str) -> str:
    found = VERSION.search(body)
    assert found, "no version field"
    return found.group(1)


def create_template(browser: Browser, studio: str, **changes: str) -> str:
    page = browser.post(
        "/dashboard/programs/templates/new", {**OFFER, "location_id": studio, **changes}
    )
    assert page.status == 303, page.body
    models = browser.get("/dashboard/programs?tab=models").body
    return re.findall(r"/dashboard/programs/new\?template_id=([A-Za-z0-9_-]+)", models)[-1]


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


def fill_offer(browser: Browser, draft: str, studio: str, **changes: str):
    return post_step(
        browser, draft, "offer", {**OFFER, "location_id": studio, "action": "next", **changes}
    )


def generate(browser: Browser, draft: str, first_day: str, time: str, every: str = "1"):
    return post_step(
        browser,
        draft,
        "schedule",
        {"action": "generate", "first_day": first_day, "first_time": time, "every_weeks": every},
    )


def cards_on(body: str) -> list[tuple[str, str]]:
    days = dict(CARD_DAY.findall(body))
    starts = dict(CARD_START.findall(body))
    return [(days[i], starts[i]) for i in sorted(days, key=int)]


def schedule_form(cards: list[tuple[str, str]], action: str = "next") -> dict[str, str]:
    form = {"cards": str(len(cards)), "action": action}
    for i, (day, start) in enumerate(cards):
        form[f"card_day_{i}"] = day
        form[f"card_start_{i}"] = start
    return form


def bundle_ready(browser: Browser, studio: str, client: str, **offer: str) -> str:
    """A wizard filled up to step 3: twelve weekly Tuesdays from 1 Dec at 10:00."""
    draft = start_wizard(browser, client)
    assert fill_offer(browser, draft, studio, **offer).status == 303
    assert generate(browser, draft, "2026-12-01", "10:00").status == 303
    return draft


def create_bundle(browser: Browser, studio: str, client: str, **offer: str) -> str:
    draft = bundle_ready(browser, studio, client, **offer)
    created = post_step(browser, draft, "confirm", {"action": "create"})
    assert created.status == 303, created.body
    return created.location.split("?")[0].split("/dashboard/bundles/")[1]


@pytest.fixture
def studio_setup(trainer: Browser, clock) -> dict[str, str]:
    studio = add_location(trainer, "Studio")
    priya = add_client(trainer, "Priya Shah")
    return {"studio": studio, "priya": priya}


# Hub and templates ---------------------------------------------------------------------------
def test_the_hub_has_customer_bundles_and_models_tabs_with_its_actions(
    trainer: Browser, studio_setup
) -> None:
    bundles = trainer.get("/dashboard/programs")
    assert bundles.status == 200
    assert 'aria-current="page">Customer bundles' in bundles.body
    assert "No active bundle" in bundles.body and "Completed bundles show here" in bundles.body
    assert "New bundle" in bundles.body and "Create a template" in bundles.body
    assert bundles.db_calls == 2  # session + one Query of the programs partition
    models = trainer.get("/dashboard/programs?tab=models")
    assert 'aria-current="page">Models' in models.body and "No template yet" in models.body
    assert 'class="tab active" aria-current="page">Programs' in models.body


def test_a_trainer_creates_edits_and_deletes_a_template(trainer: Browser, studio_setup) -> None:
    template = create_template(trainer, studio_setup["studio"])
    models = trainer.get("/dashboard/programs?tab=models").body
    assert "12-session coaching" in models and "12 × 1 h · £540.00 · Studio" in models
    assert "2 documents" in models and "Apply to a client" in models
    page = trainer.get(f"/dashboard/programs/templates/{template}")
    assert 'value="https://docs.example.com/meals.pdf"' in page.body
    saved = trainer.post(
        f"/dashboard/programs/templates/{template}",
        {**OFFER, "location_id": studio_setup["studio"], "price": "600", "version": "1"},
    )
    assert saved.status == 303
    assert "£600.00" in trainer.get("/dashboard/programs?tab=models").body
    stale = trainer.post(
        f"/dashboard/programs/templates/{template}",
        {**OFFER, "location_id": studio_setup["studio"], "title": "Old tab", "version": "1"},
    )
    assert stale.status == 409 and "changed elsewhere" in stale.body
    assert 'value="Old tab"' in stale.body  # the input is kept
    deleted = trainer.post(
        f"/dashboard/programs/templates/{template}", {"action": "delete", "version": "2"}
    )
    assert deleted.status == 303
    assert "No template yet" in trainer.get("/dashboard/programs?tab=models").body


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("sessions", "0", "at least 1 session"),
        ("sessions", "-4", "at least 1 session"),
        ("sessions", "101", "at most 100 sessions"),
        ("sessions", "twelve", "Enter the number of sessions"),
        ("price", "-5", "cannot be negative"),
        ("length", "45", "not 45 min"),
        ("video_link", "javascript:alert(1)", "starting with https://"),
        ("doc_url_0", "", "Add the document&#39;s link"),
        ("title", "", "Give it a title"),
    ],
)
def test_a_bad_template_is_refused_with_the_input_kept_and_nothing_saved(
    trainer: Browser, studio_setup, field: str, value: str, message: str
) -> None:
    form = {**OFFER, "location_id": studio_setup["studio"], "title": "Kept title", field: value}
    page = trainer.post("/dashboard/programs/templates/new", form)
    assert page.status == 400
    assert message in page.body
    if field != "title":
        assert 'value="Kept title"' in page.body
    assert 'value="https://docs.example.com/meals.pdf"' in page.body
    assert "No template yet" in trainer.get("/dashboard/programs?tab=models").body


def test_html_in_a_title_is_shown_as_text(trainer: Browser, studio_setup) -> None:
    create_template(trainer, studio_setup["studio"], title="<b>Bold</b> pack")
    models = trainer.get("/dashboard/programs?tab=models").body
    assert "&lt;b&gt;Bold&lt;/b&gt; pack" in models and "<b>Bold</b>" not in models


# The wizard -------------------------------------------------------------------------------
def test_the_wizard_starts_from_the_profile_with_the_client_chosen(
    trainer: Browser, studio_setup
) -> None:
    profile = trainer.get(f"/dashboard/clients/{studio_setup['priya']}").body
    assert 'id="programs"' in profile and "No bundle yet" in profile
    assert 'name="client_id" value="' + studio_setup["priya"] in profile
    draft = start_wizard(trainer, studio_setup["priya"])
    step1 = trainer.get(wizard_path(draft, "offer"))
    assert step1.status == 200
    assert "New bundle for Priya Shah" in step1.body
    assert '<li class="current" aria-current="step"><span class="step-n">1</span> Offer</li>' in (
        step1.body
    )


def test_the_hub_asks_for_the_client_first(trainer: Browser, studio_setup) -> None:
    page = trainer.get("/dashboard/programs/new")
    assert page.status == 200 and "Priya Shah" in page.body
    refused = trainer.post("/dashboard/programs/new", {"client_id": "", "template_id": ""})
    assert refused.status == 400 and "Choose a client." in refused.body


def test_applying_a_template_fills_the_offer_which_stays_editable(
    trainer: Browser, studio_setup
) -> None:
    template = create_template(trainer, studio_setup["studio"])
    draft = start_wizard(trainer, studio_setup["priya"], template)
    step1 = trainer.get(wizard_path(draft, "offer")).body
    assert 'value="12-session coaching"' in step1 and 'value="540.00"' in step1
    assert "Filled from “12-session coaching”" in step1
    fill_offer(trainer, draft, studio_setup["studio"], title="Priya's 12")
    assert 'value="Priya&#39;s 12"' in trainer.get(wizard_path(draft, "offer")).body
    # the template itself is unchanged
    assert "Priya&#39;s 12" not in trainer.get("/dashboard/programs?tab=models").body


@pytest.mark.parametrize(
    ("sessions", "message"),
    [("0", "at least 1 session"), ("-2", "at least 1 session"), ("101", "at most 100")],
)
def test_step_one_refuses_a_bad_number_of_sessions_and_keeps_it_across_a_reload(
    trainer: Browser, studio_setup, sessions: str, message: str
) -> None:
    draft = start_wizard(trainer, studio_setup["priya"])
    page = fill_offer(trainer, draft, studio_setup["studio"], sessions=sessions)
    assert page.status == 400 and message in page.body
    reloaded = trainer.get(wizard_path(draft, "offer")).body
    assert f'name="sessions" inputmode="numeric" class="short" value="{sessions}"' in reloaded
    assert 'value="12-session coaching"' in reloaded
    # step 2 is not reachable with an incomplete offer
    assert trainer.get(wizard_path(draft, "schedule")).status == 303


def test_generate_dates_fills_twelve_weekly_cards_and_flags_nothing_when_free(
    trainer: Browser, studio_setup
) -> None:
    draft = bundle_ready(trainer, studio_setup["studio"], studio_setup["priya"])
    page = trainer.get(wizard_path(draft, "schedule"))
    cards = cards_on(page.body)
    assert len(cards) == 12
    assert cards[0] == ("2026-12-01", "10:00") and cards[-1] == ("2027-02-16", "10:00")
    assert page.body.count("Free: a slot is added") == 12
    every_two = generate(trainer, draft, "2026-12-01", "10:00", every="2")
    assert every_two.status == 303
    assert cards_on(trainer.get(wizard_path(draft, "schedule")).body)[1] == ("2026-12-15", "10:00")


def test_cards_can_be_edited_removed_and_added_and_survive_back_and_reload(
    trainer: Browser, studio_setup
) -> None:
    draft = bundle_ready(trainer, studio_setup["studio"], studio_setup["priya"])
    cards = cards_on(trainer.get(wizard_path(draft, "schedule")).body)
    cards[2] = ("2026-12-16", "18:30")
    removed = post_step(trainer, draft, "schedule", schedule_form(cards, "remove_5"))
    assert removed.status == 303
    now_cards = cards_on(trainer.get(wizard_path(draft, "schedule")).body)
    assert len(now_cards) == 11 and now_cards[2] == ("2026-12-16", "18:30")
    added = post_step(trainer, draft, "schedule", schedule_form(now_cards, "add"))
    assert added.status == 303
    assert len(cards_on(trainer.get(wizard_path(draft, "schedule")).body)) == 12
    back = post_step(trainer, draft, "schedule", schedule_form(now_cards, "back"))
    assert back.location.endswith(wizard_path(draft, "offer"))
    assert 'value="12-session coaching"' in trainer.get(wizard_path(draft, "offer")).body
    assert cards_on(trainer.get(wizard_path(draft, "schedule")).body)[2] == ("2026-12-16", "18:30")


def test_a_date_on_the_dst_gap_is_flagged_and_blocks_validation(
    trainer: Browser, studio_setup
) -> None:
    draft = start_wizard(trainer, studio_setup["priya"])
    fill_offer(trainer, draft, studio_setup["studio"], sessions="3")
    generate(trainer, draft, "2027-03-14", "01:00")  # the third is Sun 28 Mar 2027, 01:00
    page = trainer.get(wizard_path(draft, "schedule")).body
    assert "01:00 does not exist on Sunday 28 Mar 2027: the clocks go forward" in page
    nxt = post_step(trainer, draft, "schedule", schedule_form(cards_on(page)))
    assert nxt.status == 400 and "change or remove the flagged ones" in nxt.body
    created = post_step(trainer, draft, "confirm", {"action": "create"})
    assert created.status == 400
    assert "No bundle" in trainer.get(f"/dashboard/clients/{studio_setup['priya']}").body


def test_a_date_in_the_past_is_flagged(trainer: Browser, studio_setup) -> None:
    draft = start_wizard(trainer, studio_setup["priya"])
    fill_offer(trainer, draft, studio_setup["studio"], sessions="2")
    generate(trainer, draft, "2026-11-16", "10:00")  # a week before today (23 Nov)
    page = trainer.get(wizard_path(draft, "schedule")).body
    assert "This date is in the past." in page
    assert page.count("Free: a slot is added") == 1  # 23 Nov 10:00 is still ahead


def test_conflicts_with_slots_and_sessions_are_flagged_before_validation(
    trainer: Browser, studio_setup
) -> None:
    studio, priya = studio_setup["studio"], studio_setup["priya"]
    other = add_client(trainer, "Sam Lee")
    new_slot(trainer, "2026-12-08", "10:00", "11:00", studio)  # exact and open: reused
    new_slot(trainer, "2026-12-15", "10:30", "11:30", studio)  # overlapping
    new_slot(trainer, "2026-12-22", "10:00", "11:00", studio)  # booked by Sam
    new_slot(trainer, "2026-12-29", "09:30", "10:30", studio)  # began before the date
    new_slot(trainer, "2027-01-05", "08:00", "12:00", studio)  # long, booked by Sam
    new_slot(trainer, "2027-01-12", "10:00", "11:00", add_location(trainer, "Park"))
    for week in ("2026-W52", "2027-W01"):
        ((_, slot),) = [(w, s) for w, s in slots_on(trainer, week)]
        allocate(trainer, week, slot, other)
    draft = bundle_ready(trainer, studio, priya)
    page = trainer.get(wizard_path(draft, "schedule")).body
    assert page.count("Takes your open slot") == 1
    assert "Overlaps your open slot Tuesday 15 Dec 10:30–11:30" in page
    assert "Clashes with Sam Lee&#39;s session Tuesday 22 Dec 10:00–11:00" in page
    assert "Overlaps your open slot Tuesday 29 Dec 09:30–10:30" in page
    assert "Clashes with Sam Lee&#39;s session Tuesday 5 Jan 08:00–12:00" in page
    assert "Your open slot Tuesday 12 Jan 10:00–11:00 is at another location" in page
    assert page.count("Free: a slot is added") == 6
    confirm = trainer.get(wizard_path(draft, "confirm")).body
    assert "disabled" in confirm


def test_validation_creates_the_bundle_and_its_sessions_at_once_and_sends_nothing(
    trainer: Browser, studio_setup, chalice_client: Client
) -> None:
    draft = bundle_ready(trainer, studio_setup["studio"], studio_setup["priya"], price="100")
    confirm = trainer.get(wizard_path(draft, "confirm"))
    assert "£100.00 in total: £8.34 for the first 4, £8.33 for the other 8" in confirm.body
    assert "Nothing is sent to Priya now" in confirm.body
    created = post_step(trainer, draft, "confirm", {"action": "create"})
    assert created.status == 303
    # session, draft, the client and the 36 guards of the 12 dates, the transaction (it
    # was 16: a Query per week)
    assert created.db_calls == 4
    bundle = trainer.follow(created)
    assert "Bundle created. Nothing was sent" in bundle.body
    assert "Progress: 0 / 12" in bundle.body and "Nothing has been sent" in bundle.body
    prices = re.findall(r"Session \d+ · Studio · (£[\d.]+)", bundle.body)
    assert len(prices) == 12 and prices.count("£8.34") == 4 and prices.count("£8.33") == 8
    week = trainer.get("/dashboard/schedule?week=2026-W49").body
    assert "Priya Shah" in week
    assert "No messages yet" in trainer.get("/dashboard/whatsapp/all").body
    # Validate twice (a double click, the back button): still one bundle
    again = trainer.post(wizard_path(draft, "confirm"), {"action": "create", "version": "9"})
    assert again.status == 303 and "saved=already" in again.location
    hub = trainer.get("/dashboard/programs").body
    assert hub.count("/dashboard/bundles/") == 1


def test_a_slot_taken_between_check_and_validation_creates_nothing(
    trainer: Browser, studio_setup
) -> None:
    draft = bundle_ready(trainer, studio_setup["studio"], studio_setup["priya"])
    new_slot(trainer, "2027-01-12", "09:30", "10:30", studio_setup["studio"])  # meanwhile
    page = post_step(trainer, draft, "confirm", {"action": "create"})
    assert page.status == 400
    assert "Some dates cannot be booked" in page.body or "Overlaps" in page.body
    assert "No active bundle" in trainer.get("/dashboard/programs").body
    assert "Priya Shah" not in trainer.get("/dashboard/schedule?week=2026-W49").body


def test_a_template_deleted_while_the_wizard_is_open_is_reported_and_entries_kept(
    trainer: Browser, studio_setup
) -> None:
    template = create_template(trainer, studio_setup["studio"])
    draft = start_wizard(trainer, studio_setup["priya"], template)
    fill_offer(trainer, draft, studio_setup["studio"], title="Priya pack")
    generate(trainer, draft, "2026-12-01", "10:00")
    trainer.post(f"/dashboard/programs/templates/{template}", {"action": "delete", "version": "1"})
    refused = post_step(trainer, draft, "confirm", {"action": "create"})
    assert refused.status == 409
    assert "was deleted while this wizard was open. Nothing was created" in refused.body
    assert "No active bundle" in trainer.get("/dashboard/programs").body
    assert "Priya pack" in refused.body  # the entries are kept
    again = post_step(trainer, draft, "confirm", {"action": "create"})
    assert again.status == 303


def test_another_trainers_ids_are_not_found(
    trainer: Browser, other_trainer: Browser, studio_setup
) -> None:
    template = create_template(trainer, studio_setup["studio"])
    draft = bundle_ready(trainer, studio_setup["studio"], studio_setup["priya"])
    bundle = create_bundle(trainer, studio_setup["studio"], studio_setup["priya"])
    for path in (
        f"/dashboard/programs/templates/{template}",
        wizard_path(draft, "offer"),
        wizard_path(draft, "schedule"),
        wizard_path(draft, "confirm"),
        f"/dashboard/bundles/{bundle}",
    ):
        assert other_trainer.get(path).status == 404, path
    assert (
        other_trainer.post(
            f"/dashboard/bundles/{bundle}", {"action": "confirm", "round": "0"}
        ).status
        == 404
    )
    assert (
        other_trainer.post(
            f"/dashboard/programs/templates/{template}", {"action": "delete", "version": "1"}
        ).status
        == 404
    )
    assert (
        other_trainer.post(
            wizard_path(draft, "confirm"), {"action": "create", "version": "3"}
        ).status
        == 404
    )
    refused = other_trainer.post(
        "/dashboard/programs/new", {"client_id": studio_setup["priya"], "template_id": ""}
    )
    assert refused.status == 400 and "Choose one of your clients" in refused.body
    assert "No active bundle" in other_trainer.get("/dashboard/programs").body


# The bundle page --------------------------------------------------------------------------
def _bundle_version(browser: Browser, bundle: str) -> str:
    return version_of(browser.get(f"/dashboard/bundles/{bundle}").body)


def test_pause_stops_new_scheduling_and_complete_moves_it_to_past(
    trainer: Browser, studio_setup
) -> None:
    bundle = create_bundle(trainer, studio_setup["studio"], studio_setup["priya"])
    path = f"/dashboard/bundles/{bundle}"
    last = SESSION_LINK.findall(trainer.get(path).body)[-1]
    trainer.post(last, {"action": "cancel", "version": version_of(trainer.get(last).body)})
    paused = trainer.post(path, {"action": "pause", "version": _bundle_version(trainer, bundle)})
    assert paused.status == 303
    page = trainer.get(path).body
    assert "Paused" in page and "This bundle is paused: resume it to schedule sessions." in page
    refused = trainer.post(
        path, {"action": "add", "day": "2027-03-02", "start": "10:00", "version": version_of(page)}
    )
    assert refused.status == 400 and "paused" in refused.body
    assert 'value="2027-03-02"' not in refused.body or "paused" in refused.body
    trainer.post(path, {"action": "resume", "version": _bundle_version(trainer, bundle)})
    added = trainer.post(
        path,
        {
            "action": "add",
            "day": "2027-03-02",
            "start": "10:00",
            "version": _bundle_version(trainer, bundle),
        },
    )
    assert added.status == 303
    assert "Tuesday 2 Mar 10:00–11:00 2027" in trainer.get(path).body
    trainer.post(path, {"action": "complete", "version": _bundle_version(trainer, bundle)})
    hub = trainer.get("/dashboard/programs").body
    assert "No active bundle" in hub and "Completed" in hub
    stale = trainer.post(path, {"action": "reopen", "version": "1"})
    assert stale.status == 409


def test_progress_counts_attended_non_voided_sessions(
    trainer: Browser, studio_setup, clock
) -> None:
    bundle = create_bundle(trainer, studio_setup["studio"], studio_setup["priya"])
    path = f"/dashboard/bundles/{bundle}"
    sessions = SESSION_LINK.findall(trainer.get(path).body)
    clock.advance(days=23)  # 1, 8 and 15 Dec have taken place
    assert "Progress: 3 / 12" in trainer.get(path).body
    voided = trainer.post(
        sessions[1], {"action": "void", "version": version_of(trainer.get(sessions[1]).body)}
    )
    assert voided.status == 303
    assert "Progress: 2 / 12" in trainer.get(path).body


def test_send_confirmations_queues_one_per_session_once_and_resend_is_explicit(
    trainer: Browser, studio_setup, chalice_client: Client, outbox
) -> None:
    form = profile_form(trainer, studio_setup["priya"], email="priya@example.com")
    post_profile(trainer, studio_setup["priya"], form, [studio_setup["studio"]])
    bundle = create_bundle(trainer, studio_setup["studio"], studio_setup["priya"])
    path = f"/dashboard/bundles/{bundle}"
    assert "Send confirmations (12 by email to priya@example.com)" in trainer.get(path).body
    sent = trainer.post(path, {"action": "confirm", "round": "0"})
    assert sent.status == 303 and "sent=12" in sent.location
    twice = trainer.post(path, {"action": "confirm", "round": "0"})
    assert twice.status == 409 and "already sent: nothing was sent twice" in twice.body
    page = trainer.get(path).body
    assert "Resend confirmations (12 by email" in page
    first_session = SESSION_LINK.findall(page)[0]
    log = trainer.get(first_session).body
    assert "Confirmation by email" in log and "Queued" in log
    messages = trainer.get("/dashboard/whatsapp/all").body
    assert messages.count("Email to priya@example.com") == 12
    # the dispatcher sends them (console email locally)
    before = len(outbox)
    result = _invoke_dispatcher(chalice_client)
    assert result["claimed"] == 12, result
    confirmations = [m for m in outbox[before:] if m.to == "priya@example.com"]
    assert len(confirmations) == 12
    assert confirmations[0].subject.startswith("Confirmed: Tuesday 1 Dec 10:00–11:00 2026")
    assert "12-session coaching: session 1 of 12." in confirmations[0].text
    assert "https://docs.example.com/meals.pdf" in confirmations[0].text
    assert "/s/" in confirmations[0].text
    assert "Sent" in trainer.get(first_session).body
    resend = trainer.post(path, {"action": "confirm", "round": "1"})
    assert resend.status == 303
    assert trainer.get("/dashboard/whatsapp/all").body.count("Email to priya@example.com") == 24


def test_confirmations_go_by_whatsapp_without_an_email(trainer: Browser, studio_setup) -> None:
    bundle = create_bundle(trainer, studio_setup["studio"], studio_setup["priya"], sessions="2")
    path = f"/dashboard/bundles/{bundle}"
    assert "Send confirmations (2 by WhatsApp)" in trainer.get(path).body
    trainer.post(path, {"action": "confirm", "round": "0"})
    messages = trainer.get("/dashboard/whatsapp/all").body
    assert messages.count(">Send from my phone</a>") == 2 and "Email to" not in messages


def test_bundle_sessions_stay_editable_and_the_bundle_follows(
    trainer: Browser, studio_setup
) -> None:
    bundle = create_bundle(trainer, studio_setup["studio"], studio_setup["priya"], sessions="2")
    path = f"/dashboard/bundles/{bundle}"
    first = SESSION_LINK.findall(trainer.get(path).body)[0]
    session_page = trainer.get(first).body
    assert "12-session coaching" in session_page and "session 1" in session_page
    assert "https://meet.example.com/coach" in session_page and "Meal guide" in session_page
    paid = trainer.post(
        first,
        {
            "action": "payment",
            "paid": "yes",
            "payment_type": "cash",
            "version": version_of(session_page),
        },
    )
    assert paid.status == 303
    canceled = trainer.post(
        first, {"action": "cancel", "version": version_of(trainer.get(first).body)}
    )
    assert canceled.status == 303
    page = trainer.get(path).body
    assert "Canceled" in page and "Paid" in page
    assert "Add a session" in page and 'name="day"' in page  # one place is free again


def test_the_portal_shows_the_bundle_progress(
    trainer: Browser, studio_setup, chalice_client
) -> None:
    create_bundle(trainer, studio_setup["studio"], studio_setup["priya"])
    home = Browser(chalice_client, []).get(portal_path(trainer, studio_setup["priya"]))
    assert home.status == 200
    assert "Your programs" in home.body and "12-session coaching" in home.body
    assert "0 of 12 sessions done · 12 booked ahead" in home.body


def test_programs_pages_keep_to_their_round_trips(trainer: Browser, studio_setup) -> None:
    bundle = create_bundle(trainer, studio_setup["studio"], studio_setup["priya"])
    assert trainer.get(f"/dashboard/bundles/{bundle}").db_calls == 3  # session, bundle, batch
    assert trainer.get("/dashboard/programs?tab=models").db_calls == 2
    assert trainer.get("/dashboard/programs").db_calls == 2  # session, one page of the index
    sent = trainer.post(f"/dashboard/bundles/{bundle}", {"action": "confirm", "round": "0"})
    assert sent.db_calls == 4  # session, bundle, batch (sessions + client), one transaction


def test_the_wizard_checks_all_its_dates_in_a_few_round_trips(
    trainer: Browser, studio_setup
) -> None:
    """Twelve dates in twelve weeks were 15 calls a page (a Query per week)."""
    studio, priya = studio_setup["studio"], studio_setup["priya"]
    draft = bundle_ready(trainer, studio, priya)
    # session, draft, one BatchGetItem of the client and the dates' 36 guards
    assert trainer.get(wizard_path(draft, "schedule")).db_calls == 3
    assert trainer.get(wizard_path(draft, "confirm")).db_calls == 3
    cards = cards_on(trainer.get(wizard_path(draft, "schedule")).body)
    onward = post_step(trainer, draft, "schedule", schedule_form(cards))
    assert onward.status == 303 and onward.db_calls == 4  # + the draft saved, not read again
    new_slot(trainer, "2026-12-08", "10:00", "11:00", studio)
    new_slot(trainer, "2026-12-15", "09:30", "10:30", studio)
    assert trainer.get(wizard_path(draft, "schedule")).db_calls == 4  # + those two slots
    new_slot(trainer, "2026-12-22", "10:00", "11:00", studio)
    ((week, slot),) = slots_on(trainer, "2026-W52")
    allocate(trainer, week, slot, add_client(trainer, "Sam Lee"))
    page = trainer.get(wizard_path(draft, "schedule"))
    assert "Clashes with Sam Lee&#39;s session" in page.body
    assert page.db_calls == 5  # + Sam's session, for the name on the card
    # 40 dates: 121 keys, so two calls of at most 100 for the guards
    many = start_wizard(trainer, priya)
    fill_offer(trainer, many, studio, sessions="40")
    generate(trainer, many, "2027-06-01", "10:00")
    assert trainer.get(wizard_path(many, "schedule")).db_calls == 4


# The hub's pages -------------------------------------------------------------------------
BUNDLE_LINK = re.compile(r'href="/dashboard/bundles/([A-Za-z0-9_-]+)"')
OLDER = re.compile(r'href="(/dashboard/programs\?after=[^"]+)">Older bundles')


def _listed(body: str, label: str) -> list[str]:
    found = re.search(rf'<ul class="list list-flush" aria-label="{label}">(.*?)</ul>', body, re.S)
    return BUNDLE_LINK.findall(found.group(1)) if found else []


def _sold(trainer: Browser, studio: str, client: str, n: int, ends: list, **changes) -> str:
    """A bundle written straight to the table: the hub reads only the bundle items."""
    from chalicelib import runtime
    from chalicelib.domain.programs import Bundle, BundleEntry
    from chalicelib.repo.programs import bundle_to_item

    now = runtime.now()
    bundle = Bundle(
        id=f"pack{n:03d}",
        client_id=client,
        client_name="Priya Shah",
        title=f"Pack {n}",
        sessions_planned=len(ends),
        price_minor=1000,
        location_id=studio,
        entries=tuple(
            BundleEntry(ref=f"2026-W01.20260101T000000Z.s{n}x{i}", end_utc=now + end)
            for i, end in enumerate(ends)
        ),
        created_at=now - timedelta(days=500 - n),
        **changes,
    )
    runtime.repository().db.put(bundle_to_item(trainer_id(trainer), bundle, now))
    return bundle.id


def test_the_hub_lists_twenty_bundles_a_page_active_ones_first(
    trainer: Browser, other_trainer: Browser, studio_setup
) -> None:
    studio, priya = studio_setup["studio"], studio_setup["priya"]
    day = timedelta(days=1)
    active = [_sold(trainer, studio, priya, n, [-day, n * day + day]) for n in range(3)]
    active.append(_sold(trainer, studio, priya, 3, [-day], status="paused"))
    active.append(_sold(trainer, studio, priya, 4, [-day, -day, day * 9]))  # 2 of 3 booked
    done = [_sold(trainer, studio, priya, 10 + n, [-day * (n + 1)]) for n in range(40)]
    done.append(_sold(trainer, studio, priya, 60, [day * 5], status="completed"))

    first = trainer.get("/dashboard/programs")
    assert first.status == 200 and first.db_calls == 2
    # the active ones, newest first, then the 15 most recently over
    assert _listed(first.body, "Active bundles") == list(reversed(active))
    past = _listed(first.body, "Past bundles")
    assert past == [done[-1], *done[:14]] and "← Newest" not in first.body
    seen = [*_listed(first.body, "Active bundles"), *past]
    older = OLDER.search(first.body)
    pages = 1
    while older:
        page = trainer.get(html.unescape(older.group(1)))
        assert page.status == 200 and page.db_calls == 2 and "← Newest" in page.body
        assert "Active bundles" not in page.body and "No active bundle" not in page.body
        seen += _listed(page.body, "Past bundles")
        older = OLDER.search(page.body)
        pages += 1
    assert pages == 3 and sorted(seen) == sorted(active + done) and len(seen) == len(set(seen))

    # a cursor not made by this list is the first page again, never a 500
    assert "Pack 4" in trainer.get("/dashboard/programs?after=bm90LWEtY3Vyc29y").body
    cursor = OLDER.search(first.body)
    assert cursor
    theirs = other_trainer.get(html.unescape(cursor.group(1)))
    assert theirs.status == 200 and "Pack 1" not in theirs.body
    assert "No active bundle" in theirs.body and "← Newest" not in theirs.body


def test_the_hub_places_each_bundle_by_its_state(trainer: Browser, studio_setup, clock) -> None:
    """A bundle whose sessions all took place is past without any write; one with a
    canceled session is still active after its last planned date."""
    studio, priya = studio_setup["studio"], studio_setup["priya"]
    finished = create_bundle(trainer, studio, priya, sessions="2", title="Finished pack")
    draft = start_wizard(trainer, priya)
    fill_offer(trainer, draft, studio, sessions="2", title="Short pack")
    generate(trainer, draft, "2026-12-01", "12:00")
    made = post_step(trainer, draft, "confirm", {"action": "create"})
    short = made.location.split("?")[0].split("/dashboard/bundles/")[1]
    last = SESSION_LINK.findall(trainer.get(f"/dashboard/bundles/{short}").body)[-1]
    trainer.post(last, {"action": "cancel", "version": version_of(trainer.get(last).body)})
    hub = trainer.get("/dashboard/programs").body
    assert _listed(hub, "Active bundles") == [short, finished]
    clock.advance(days=30)  # both were planned for 1 and 8 Dec
    hub = trainer.get("/dashboard/programs").body
    assert _listed(hub, "Active bundles") == [short] and "1 / 2 done" in hub
    assert _listed(hub, "Past bundles") == [finished]


def test_forms_without_csrf_are_refused(trainer: Browser, studio_setup) -> None:
    page = trainer.request(
        "POST",
        "/dashboard/programs/new",
        urlencode({"client_id": studio_setup["priya"], "template_id": ""}),
    )
    assert page.status == 403


def test_outbox_capture_is_the_console_email(outbox: list[email_module.Email]) -> None:
    assert outbox == []


def test_a_stale_wizard_form_is_refused_and_the_saved_state_shown(
    trainer: Browser, studio_setup
) -> None:
    draft = bundle_ready(trainer, studio_setup["studio"], studio_setup["priya"])
    before = cards_on(trainer.get(wizard_path(draft, "schedule")).body)
    stale = trainer.post(
        wizard_path(draft, "schedule"),
        {**schedule_form([("2026-12-02", "11:00")]), "version": "1"},
    )
    assert stale.status == 409 and "changed elsewhere" in stale.body
    assert cards_on(trainer.get(wizard_path(draft, "schedule")).body) == before


def test_a_template_of_another_trainer_cannot_fill_the_offer(
    trainer: Browser, other_trainer: Browser, studio_setup
) -> None:
    theirs_studio = add_location(other_trainer, "Their studio")
    theirs = create_template(other_trainer, theirs_studio, title="Their pack")
    draft = start_wizard(trainer, studio_setup["priya"])
    page = post_step(trainer, draft, "offer", {"action": "use_template", "template_id": theirs})
    assert page.status == 400 and "That template no longer exists." in page.body
    assert "Their pack" not in trainer.get(wizard_path(draft, "offer")).body

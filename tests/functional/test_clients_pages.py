"""The Clients tab: add, search, profile editing, archive, isolation and bad input."""

from __future__ import annotations

import html
import re

import pytest

from tests.functional.conftest import Browser
from tests.functional.test_locations_and_template import add_location

CLIENT_LINK = re.compile(r'href="/dashboard/clients/([A-Za-z0-9_-]+)"')


def add_client(browser: Browser, name: str = "Priya Shah", **fields: str) -> str:
    form = {"name": name, "phone": "07400 123456", "email": "", "price": "45", **fields}
    page = browser.post("/dashboard/clients", form)
    assert page.status == 303, page.body
    return page.location.split("/dashboard/clients/")[1].split("?")[0]


def profile_form(browser: Browser, client_id: str, **overrides: str) -> dict[str, str]:
    body = browser.get(f"/dashboard/clients/{client_id}").body
    version = re.search(r'name="version" value="(\d+)"', body)
    assert version
    form = {
        "name": "Priya Shah",
        "phone": "07400 123456",
        "email": "priya@example.com",
        "price": "45.50",
        "shared_notes": "Bring a towel.",
        "private_notes": "Bad left knee.",
        "version": version.group(1),
        "action": "save",
    }
    form.update(overrides)
    return form


def post_profile(browser: Browser, client_id: str, form: dict[str, str], locations=()):
    from urllib.parse import urlencode

    pairs = list(form.items()) + [("location_ids", lid) for lid in locations]
    pairs.append(("csrf_token", browser.get("/dashboard").csrf()))
    return browser.request("POST", f"/dashboard/clients/{client_id}", urlencode(pairs))


def test_a_trainer_adds_a_client_and_sees_them_listed(trainer: Browser) -> None:
    client = add_client(trainer, "Priya Shah", phone="07400 123456", price="45")
    profile = trainer.get(f"/dashboard/clients/{client}")
    assert profile.status == 200
    assert "Client added." in trainer.get(f"/dashboard/clients/{client}?saved=added").body
    assert "+44 7400 123456" in profile.body  # stored as E.164, shown readably
    listing = trainer.get("/dashboard/clients").body
    assert "Priya Shah" in listing and "£45.00 a session" in listing


def test_phone_numbers_are_stored_as_e164_with_the_trainers_country_as_default(
    trainer: Browser,
) -> None:
    from chalicelib import runtime

    add_client(trainer, "Local", phone="07400 123456")
    add_client(trainer, "Abroad", phone="+33 6 12 34 56 78")
    trainer_id = trainer.cookies["pt_session"].split(".")[0]
    phones = {c.name: c.phone for c in runtime.repository().list_clients(trainer_id)}
    assert phones == {"Local": "+447400123456", "Abroad": "+33612345678"}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "", "Enter the client's name."),
        ("phone", "12345", "not a valid phone number"),
        ("phone", "07400 12345x", "not a valid phone number"),
        ("phone", "", "Enter a phone number"),
        ("price", "-5", "cannot be negative"),
        ("price", "forty", "Enter the price as a number"),
        ("price", "45.555", "Enter the price as a number"),
        ("email", "not-an-email", "Enter an email address"),
    ],
)
def test_bad_client_details_are_explained_with_input_kept_and_nothing_saved(
    trainer: Browser, field: str, value: str, message: str
) -> None:
    form = {"name": "Priya Shah", "phone": "07400 123456", "email": "", "price": "45"}
    form[field] = value
    page = trainer.post("/dashboard/clients", form)
    assert page.status == 400
    assert message in html.unescape(page.body)
    assert 'aria-invalid="true"' in page.body
    assert f'value="{value}"' in page.body
    assert "No clients yet" in trainer.get("/dashboard/clients").body


def test_search_finds_clients_by_any_part_of_the_name(trainer: Browser) -> None:
    add_client(trainer, "Priya Shah")
    add_client(trainer, "Tom Okafor")
    found = trainer.get("/dashboard/clients?q=shah").body
    assert "Priya Shah" in found and "Tom Okafor" not in found
    nothing = trainer.get("/dashboard/clients?q=%3Cscript%3E").body
    assert "No client's name contains “&lt;script&gt;”" in nothing


def test_the_profile_saves_contact_locations_and_notes(trainer: Browser) -> None:
    studio = add_location(trainer, "Studio")
    park = add_location(trainer, "Park")
    client = add_client(trainer)
    saved = post_profile(trainer, client, profile_form(trainer, client), [studio, park])
    assert saved.status == 303
    page = trainer.get(f"/dashboard/clients/{client}").body
    assert 'value="45.50"' in page and "priya@example.com" in page
    assert page.count("checked") == 2
    assert "Bring a towel." in page and "Bad left knee." in page
    # un-ticking a location removes it
    post_profile(trainer, client, profile_form(trainer, client), [park])
    assert trainer.get(f"/dashboard/clients/{client}").body.count("checked") == 1


def test_a_profile_error_keeps_every_input_including_ticked_locations(trainer: Browser) -> None:
    studio = add_location(trainer, "Studio")
    client = add_client(trainer)
    form = profile_form(trainer, client, phone="999", shared_notes="Keep me")
    page = post_profile(trainer, client, form, [studio])
    assert page.status == 400
    assert "not a valid phone number" in page.body
    assert 'value="999"' in page.body and "Keep me" in page.body
    assert "checked" in page.body
    assert "Keep me" not in trainer.get(f"/dashboard/clients/{client}").body


def test_a_profile_form_from_a_stale_page_is_refused(trainer: Browser) -> None:
    client = add_client(trainer)
    stale = profile_form(trainer, client)
    assert post_profile(trainer, client, stale).status == 303
    page = post_profile(trainer, client, {**stale, "name": "Other tab"})
    assert page.status == 409 and "changed elsewhere" in page.body
    assert "Other tab" not in trainer.get("/dashboard/clients").body


def test_an_unknown_location_id_in_the_profile_form_is_refused(
    trainer: Browser, other_trainer: Browser
) -> None:
    theirs = add_location(other_trainer, "Their gym")
    client = add_client(trainer)
    page = post_profile(trainer, client, profile_form(trainer, client), [theirs])
    assert page.status == 400 and "does not exist" in page.body


def test_archiving_keeps_the_client_and_restoring_brings_them_back(trainer: Browser) -> None:
    client = add_client(trainer)
    version = profile_form(trainer, client)["version"]
    archived = trainer.post(
        f"/dashboard/clients/{client}", {"action": "archive", "version": version}
    )
    assert archived.status == 303
    assert "Archived" in trainer.get("/dashboard/clients").body
    version = profile_form(trainer, client)["version"]
    trainer.post(f"/dashboard/clients/{client}", {"action": "restore", "version": version})
    assert "Archived" not in trainer.get("/dashboard/clients").body


def test_restoring_an_archived_client_issues_a_new_portal_link(trainer: Browser) -> None:
    from tests.functional.test_portal_link import portal_path

    client = add_client(trainer)
    old_link = portal_path(trainer, client)
    assert trainer.get(old_link).status == 200
    version = profile_form(trainer, client)["version"]
    trainer.post(f"/dashboard/clients/{client}", {"action": "archive", "version": version})
    assert trainer.get(old_link).status == 410
    version = profile_form(trainer, client)["version"]
    restored = trainer.post(
        f"/dashboard/clients/{client}", {"action": "restore", "version": version}
    )
    assert "with a new portal link" in trainer.follow(restored).body
    assert trainer.get(old_link).status == 410  # the shared link stays dead
    new_link = portal_path(trainer, client)
    assert new_link != old_link and trainer.get(new_link).status == 200


def test_a_canceled_recurring_session_goes_to_history_not_into_the_recurring_box(
    trainer: Browser, studio_template, clock
) -> None:
    studio, _park, (wednesday, _thursday) = studio_template
    client = add_client(trainer, "Priya Shah")
    post_profile_with(trainer, client, [studio], [wednesday])
    trainer.post("/dashboard/schedule/apply", {"week": "2026-W48", "weeks": "1"})
    page = trainer.get(f"/dashboard/clients/{client}").body
    session = re.search(r'href="/dashboard/sessions/([^"]+)"', page)
    assert session
    session_page = trainer.get(f"/dashboard/sessions/{session.group(1)}")
    version = re.search(r'name="version" value="(\d+)"', session_page.body)
    assert version
    canceled = trainer.post(
        f"/dashboard/sessions/{session.group(1)}",
        {"action": "cancel", "version": version.group(1), "confirm": "yes"},
    )
    assert canceled.status == 303, canceled.body
    page = trainer.get(f"/dashboard/clients/{client}").body
    box = page[page.index('id="recurring"') : page.index("<legend>Notes")]
    assert 'role="alert"' not in box and "slot_id=" not in page and "datetime." not in page
    history = page[page.index("<h2>History") :]
    assert "Wednesday 25 Nov 18:00–19:00 2026" in history and "Canceled" in history


def test_a_recurring_slot_removed_from_the_template_shows_its_red_notice(
    trainer: Browser, studio_template
) -> None:
    studio, _park, (wednesday, _thursday) = studio_template
    client = add_client(trainer, "Priya Shah")
    post_profile_with(trainer, client, [studio], [wednesday])
    edit = trainer.get(f"/dashboard/settings/template/slots/{wednesday}").body
    version = re.search(r'name="version" value="(\d+)"', edit)
    assert version
    removed = trainer.post(
        f"/dashboard/settings/template/slots/{wednesday}",
        {"action": "remove", "version": version.group(1)},
    )
    assert removed.status == 303, removed.body
    page = trainer.get(f"/dashboard/clients/{client}").body
    assert "A recurring slot was removed from the weekly template: save to drop it." in page


def test_another_trainers_client_ids_give_404_and_change_nothing(
    trainer: Browser, other_trainer: Browser
) -> None:
    client = add_client(trainer, "Private Person")
    form = profile_form(trainer, client, name="Hijacked")
    assert other_trainer.get(f"/dashboard/clients/{client}").status == 404
    assert post_profile(other_trainer, client, form).status == 404
    response = other_trainer.post(
        f"/dashboard/clients/{client}", {"action": "archive", "version": form["version"]}
    )
    assert response.status == 404
    listing = trainer.get("/dashboard/clients").body
    assert "Private Person" in listing and "Archived" not in listing
    assert "Private Person" not in other_trainer.get("/dashboard/clients").body


def test_html_in_client_fields_is_inert(trainer: Browser) -> None:
    client = add_client(trainer, "<img src=x onerror=alert(1)>")
    form = profile_form(
        trainer,
        client,
        name="<img src=x onerror=alert(1)>",
        shared_notes="</textarea><script>x()</script>",
    )
    post_profile(trainer, client, form)
    for path in ("/dashboard/clients", f"/dashboard/clients/{client}"):
        body = trainer.get(path).body
        assert "<img src=x" not in body and "<script>x()" not in body
        assert "&lt;img src=x onerror=alert(1)&gt;" in body


def test_checklist_steps_3_and_4_follow_the_clients(trainer: Browser) -> None:
    studio = add_location(trainer, "Studio")
    assert "1 of 6 done" in trainer.get("/dashboard").body
    client = add_client(trainer)
    assert "2 of 6 done" in trainer.get("/dashboard").body  # step 3: a client exists
    post_profile(trainer, client, profile_form(trainer, client), [studio])
    assert "3 of 6 done" in trainer.get("/dashboard").body  # step 4: every client has a place


def test_clients_pages_make_a_fixed_number_of_round_trips(trainer: Browser) -> None:
    studio = add_location(trainer, "Studio")
    client = add_client(trainer)
    for i in range(5):
        add_client(trainer, f"Client {i}")
    assert trainer.get("/dashboard/clients").db_calls == 2  # session + one Query
    # session + the client with their kept balance (one BatchGetItem) + the set-up read
    # (template, recurring holders, the client index for their names: no other client
    # item) + the client's timeline twice (the upcoming sessions, one page of history) +
    # their bundles
    assert trainer.get(f"/dashboard/clients/{client}").db_calls == 6
    assert trainer.get("/dashboard").db_calls == 2  # session + the set-up read: one Query
    saved = post_profile(trainer, client, profile_form(trainer, client), [studio])
    assert saved.db_calls == 4  # session, the client, the set-up read, one transaction


# Recurring slots -------------------------------------------------------------------------
def post_profile_with(browser: Browser, client_id: str, locations=(), recurring=(), **fields):
    from urllib.parse import urlencode

    form = profile_form(browser, client_id, **fields)
    pairs = list(form.items())
    pairs += [("location_ids", lid) for lid in locations]
    pairs += [("recurring", rid) for rid in recurring]
    pairs.append(("csrf_token", browser.get("/dashboard").csrf()))
    return browser.request("POST", f"/dashboard/clients/{client_id}", urlencode(pairs))


def template_slot_ids(browser: Browser) -> list[str]:
    body = browser.get("/dashboard/settings/template").body
    return list(dict.fromkeys(re.findall(r"/dashboard/settings/template/slots/([\w-]+)\"", body)))


@pytest.fixture
def studio_template(trainer: Browser) -> tuple[str, str, list[str]]:
    from tests.functional.test_locations_and_template import add_slot

    studio = add_location(trainer, "Studio")
    park = add_location(trainer, "Park")
    add_slot(trainer, 2, "18:00", "19:00", studio)
    add_slot(trainer, 3, "12:00", "13:00", park)
    return studio, park, template_slot_ids(trainer)


def test_a_client_gets_recurring_slots_at_enabled_locations(
    trainer: Browser, studio_template
) -> None:
    studio, _park, (wednesday, _thursday) = studio_template
    client = add_client(trainer, "Priya Shah")
    page = trainer.get(f"/dashboard/clients/{client}").body
    assert "tick the location and its slots together, then save once" in page
    assert "needs Studio enabled above" in page and "needs Park enabled above" in page
    # nothing enabled yet, yet no box is disabled: location and slot go in one save
    assert not re.search(r'name="recurring" value="[^"]+"[^>]*disabled', page)
    saved = post_profile_with(trainer, client, [studio], [wednesday])
    assert saved.status == 303
    page = trainer.get(f"/dashboard/clients/{client}").body
    assert re.search(rf'value="{wednesday}" checked', page)


def test_a_recurring_slot_at_a_disabled_location_is_refused_with_input_kept(
    trainer: Browser, studio_template
) -> None:
    studio, _park, (_wednesday, thursday) = studio_template
    client = add_client(trainer, "Priya Shah")
    page = post_profile_with(trainer, client, [studio], [thursday], shared_notes="keep me")
    assert page.status == 400
    assert "is at Park, which is not enabled for this client" in html.unescape(page.body)
    assert "keep me" in page.body
    assert "recurring-choice problem" in page.body  # the red notice on that slot


@pytest.mark.parametrize("slot_id", ["not-a-template-slot", "<b>x</b>"])
def test_a_recurring_slot_not_in_the_template_is_refused(
    trainer: Browser, studio_template, slot_id: str
) -> None:
    studio, _park, _ids = studio_template
    client = add_client(trainer, "Priya Shah")
    page = post_profile_with(trainer, client, [studio], [slot_id])
    assert page.status == 400 and "no longer in the weekly template" in page.body
    assert "<b>x</b>" not in page.body


def test_another_clients_recurring_slot_is_amber_and_cannot_be_taken(
    trainer: Browser, studio_template
) -> None:
    studio, _park, (wednesday, _thursday) = studio_template
    priya = add_client(trainer, "Priya Shah")
    tom = add_client(trainer, "Tom Okafor")
    assert post_profile_with(trainer, priya, [studio], [wednesday]).status == 303
    page = trainer.get(f"/dashboard/clients/{tom}").body
    assert "recurring-choice held" in page and "Priya Shah's slot" in page
    refused = post_profile_with(trainer, tom, [studio], [wednesday])
    assert refused.status == 400 and "Priya Shah's recurring slot" in html.unescape(refused.body)


def test_disabling_the_location_of_a_recurring_slot_must_be_fixed_before_saving(
    trainer: Browser, studio_template
) -> None:
    studio, park, (wednesday, _thursday) = studio_template
    client = add_client(trainer, "Priya Shah")
    post_profile_with(trainer, client, [studio], [wednesday])
    # untick the studio but keep the recurring slot: refused, the slot shows in red
    page = post_profile_with(trainer, client, [park], [wednesday])
    assert page.status == 400 and "recurring-choice problem" in page.body
    # dropping the recurring slot too is accepted
    assert post_profile_with(trainer, client, [park], []).status == 303


def test_apply_template_books_recurring_clients_in_blue(
    trainer: Browser, studio_template, clock
) -> None:
    studio, _park, (wednesday, _thursday) = studio_template
    client = add_client(trainer, "Priya Shah")
    post_profile_with(trainer, client, [studio], [wednesday])
    result = html.unescape(
        trainer.post("/dashboard/schedule/apply", {"week": "2026-W48", "weeks": "1"}).body
    )
    assert "Wednesday 25 Nov 18:00–19:00 · <strong>Priya Shah</strong> (recurring)" in result
    assert "1 recurring session booked." in result
    week = trainer.get("/dashboard/schedule?week=2026-W48").body
    assert "slot slot-recurring" in week and "Priya Shah" in week
    session_link = re.search(r'href="(/dashboard/sessions/[^"]+)"', week)
    assert session_link
    session_page = trainer.get(session_link.group(1)).body
    assert "Recurring" in session_page and "Priya Shah" in session_page
    # applying again adds nothing and books no one twice: the booking is named as in the way
    again = html.unescape(
        trainer.post("/dashboard/schedule/apply", {"week": "2026-W48", "weeks": "1"}).body
    )
    assert "0 slots added." in again
    assert "Priya Shah's session is there (18:00–19:00)" in again


def test_the_profile_lists_upcoming_sessions_and_history(
    trainer: Browser, studio_template, clock
) -> None:
    studio, _park, (wednesday, _thursday) = studio_template
    client = add_client(trainer, "Priya Shah")
    post_profile_with(trainer, client, [studio], [wednesday])
    trainer.post("/dashboard/schedule/apply", {"week": "2026-W48", "weeks": "2"})
    page = trainer.get(f"/dashboard/clients/{client}").body
    upcoming = page[page.index("Upcoming sessions") : page.index("<h2>History")]
    assert "Wednesday 25 Nov 18:00–19:00" in upcoming and "Wednesday 2 Dec 18:00–19:00" in upcoming
    assert upcoming.index("25 Nov") < upcoming.index("2 Dec")  # soonest first
    clock.advance(days=3)  # Thursday 26 Nov: the first session is history now
    page = trainer.get(f"/dashboard/clients/{client}").body
    history = page[page.index("<h2>History") :]
    assert "Wednesday 25 Nov 18:00–19:00 2026" in history
    assert "25 Nov" not in page[page.index("Upcoming sessions") : page.index("<h2>History")]


def _share_form(page: str) -> dict[str, str]:
    generation = re.search(r'name="generation" value="(\d+)"', page)
    send_id = re.search(r'name="send_id" value="([\w-]+)"', page)
    assert generation and send_id
    return {"generation": generation.group(1), "send_id": send_id.group(1)}


def test_step_six_ticks_when_every_active_clients_link_is_copied_or_sent(
    trainer: Browser,
) -> None:
    priya = add_client(trainer, "Priya Shah")
    tom = add_client(trainer, "Tom Okafor", phone="07400 654321")
    home = trainer.get("/dashboard").body
    assert "Coming soon" not in home and "0 of 2 shared." in home
    # Tom's link copied (the Copy button's form, as without JavaScript)
    page = trainer.get(f"/dashboard/clients/{tom}").body
    assert "Not shared yet" in page
    copied = trainer.post(f"/dashboard/clients/{tom}/shared", _share_form(page))
    assert copied.status == 303 and "saved=copied" in copied.location
    assert "Shared" in trainer.follow(copied).body
    assert "1 of 2 shared." in trainer.get("/dashboard").body
    # Priya's sent on WhatsApp through the outbox, with the wa.me fallback shown
    page = trainer.get(f"/dashboard/clients/{priya}").body
    version = re.search(r'name="version" value="(\d+)"', page)
    assert version
    form = {"action": "send_link", "version": version.group(1), **_share_form(page)}
    sent = trainer.post(f"/dashboard/clients/{priya}", form)
    assert sent.status == 303, sent.body
    shown = html.unescape(trainer.follow(sent).body)
    assert "Portal link queued on WhatsApp" in shown and "https://wa.me/447400123456?text=" in shown
    tab = html.unescape(trainer.get("/dashboard/whatsapp/all").body)
    assert "Portal link" in tab and "this is your personal link" in tab
    assert re.search(r"http://testserver/c/[A-Za-z0-9_-]{43}", tab)
    assert f'href="/dashboard/clients/{priya}">Open the profile' in tab
    # a double click queues nothing twice
    again = trainer.post(f"/dashboard/clients/{priya}", form)
    assert "saved=already" in again.location
    assert tab.count("this is your personal link") == 1
    home = trainer.get("/dashboard").body
    assert "2 of 2 shared." in home and "6 of 6 done" not in home  # other steps remain
    assert re.search(
        r'class="step done">\s*<span class="step-mark" aria-hidden="true">✓</span>\s*'
        r'<div class="step-body">\s*<p class="step-title">\s*<a href="/dashboard/clients">'
        r"Share portal links",
        home,
    )


def test_a_rotated_link_must_be_shared_again_and_an_old_page_cannot_tick_it(
    trainer: Browser,
) -> None:
    priya = add_client(trainer, "Priya Shah")
    old_page = trainer.get(f"/dashboard/clients/{priya}").body
    assert trainer.post(f"/dashboard/clients/{priya}/shared", _share_form(old_page)).status == 303
    assert "1 of 1 shared." in trainer.get("/dashboard").body
    version = re.search(r'name="version" value="(\d+)"', old_page)
    assert version
    trainer.post(f"/dashboard/clients/{priya}", {"action": "rotate", "version": version.group(1)})
    assert "0 of 1 shared." in trainer.get("/dashboard").body
    # copying from the page drawn before the rotation copies a dead link: refused
    stale = trainer.post(f"/dashboard/clients/{priya}/shared", _share_form(old_page))
    assert stale.status == 409 and "This portal link was replaced" in stale.body
    background = trainer.post(
        f"/dashboard/clients/{priya}/shared", _share_form(old_page), **{"x-requested-with": "fetch"}
    )
    assert background.status == 409 and background.body == ""
    assert "0 of 1 shared." in trainer.get("/dashboard").body


def test_the_share_write_itself_refuses_a_link_rotated_after_it_was_read(trainer: Browser) -> None:
    from chalicelib import runtime
    from chalicelib.domain.errors import Conflict
    from tests.functional.test_schedule_pages import trainer_id

    priya = add_client(trainer, "Priya Shah")
    repo, tid = runtime.repository(), trainer_id(trainer)
    stale = repo.get_client(tid, priya)
    version = profile_form(trainer, priya)["version"]
    trainer.post(f"/dashboard/clients/{priya}", {"action": "rotate", "version": version})
    with pytest.raises(Conflict):
        repo.mark_portal_shared(tid, stale)
    assert "0 of 1 shared." in trainer.get("/dashboard").body


def test_another_trainers_client_cannot_be_marked_shared(
    trainer: Browser, other_trainer: Browser
) -> None:
    priya = add_client(trainer, "Priya Shah")
    page = trainer.get(f"/dashboard/clients/{priya}").body
    assert other_trainer.post(f"/dashboard/clients/{priya}/shared", _share_form(page)).status == 404
    assert "0 of 1 shared." in trainer.get("/dashboard").body


def test_rotate_asks_first_and_the_first_step_changes_nothing(trainer: Browser) -> None:
    from tests.functional.test_portal_link import portal_path

    client = add_client(trainer)
    link = portal_path(trainer, client)
    page = trainer.get(f"/dashboard/clients/{client}").body
    assert 'value="rotate"' not in page and "confirm=rotate" in page
    confirm = html.unescape(trainer.get(f"/dashboard/clients/{client}?confirm=rotate").body)
    assert "Make a new portal link for Priya Shah?" in confirm and 'value="rotate"' in confirm
    assert trainer.get(link).status == 200  # asking is not rotating

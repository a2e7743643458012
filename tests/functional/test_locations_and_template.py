"""Locations and the weekly template through the pages, including tenant isolation."""

from __future__ import annotations

import re

import pytest

from tests.functional.conftest import Browser

LOCATION_LINK = re.compile(r'/dashboard/settings/locations/([A-Za-z0-9_-]+)"')
SLOT_LINK = re.compile(r'/dashboard/settings/template/slots/([A-Za-z0-9_-]+)"')


def add_location(browser: Browser, name: str) -> str:
    before = set(LOCATION_LINK.findall(browser.get("/dashboard/settings/locations").body))
    page = browser.post("/dashboard/settings/locations", {"name": name})
    assert page.status == 303, page.body
    after = set(LOCATION_LINK.findall(browser.get("/dashboard/settings/locations").body))
    (new_id,) = after - before
    return new_id


def template_version(browser: Browser) -> str:
    page = browser.get("/dashboard/settings/template/new?weekday=0&start=09:00")
    match = re.search(r'name="version" value="(\d+)"', page.body)
    assert match
    return match.group(1)


def add_slot(browser: Browser, weekday: int, start: str, end: str, location_id: str, **extra):
    form = {
        "weekday": str(weekday),
        "start": start,
        "end": end,
        "location_id": location_id,
        "version": template_version(browser),
        **extra,
    }
    return browser.post("/dashboard/settings/template/new", form)


def slot_ids(browser: Browser) -> list[str]:
    return sorted(set(SLOT_LINK.findall(browser.get("/dashboard/settings/template").body)))


def location_version(browser: Browser, location_id: str) -> str:
    body = browser.get(f"/dashboard/settings/locations/{location_id}").body
    match = re.search(r'name="version" value="(\d+)"', body)
    assert match
    return match.group(1)


# Locations -----------------------------------------------------------------------------
def test_a_trainer_adds_renames_archives_restores_and_deletes_a_location(
    trainer: Browser,
) -> None:
    location = add_location(trainer, "Riverside Studio")
    assert "Riverside Studio" in trainer.get("/dashboard/settings/locations").body

    path = f"/dashboard/settings/locations/{location}"
    renamed = trainer.post(
        path,
        {
            "action": "rename",
            "name": "  Riverside   Gym ",
            "version": location_version(trainer, location),
        },
    )
    assert renamed.status == 303
    assert "Riverside Gym" in trainer.get("/dashboard/settings/locations").body

    trainer.post(path, {"action": "archive", "version": location_version(trainer, location)})
    assert "Archived" in trainer.get("/dashboard/settings/locations").body
    trainer.post(path, {"action": "restore", "version": location_version(trainer, location)})
    assert "Archived" not in trainer.get("/dashboard/settings/locations").body

    deleted = trainer.post(
        path, {"action": "delete", "version": location_version(trainer, location)}
    )
    assert deleted.status == 303
    assert "Riverside Gym" not in trainer.get("/dashboard/settings/locations").body
    assert trainer.get(path).status == 404


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "Give the location a name"),
        ("x" * 61, "60 characters or fewer"),
        ("studio", "already have"),
    ],
)
def test_a_bad_location_name_is_explained_and_kept(
    trainer: Browser, name: str, message: str
) -> None:
    add_location(trainer, "Studio")
    page = trainer.post("/dashboard/settings/locations", {"name": name})
    assert page.status == 400
    assert message in page.body
    assert f'value="{name}"' in page.body
    assert trainer.get("/dashboard/settings/locations").body.count("list-title") == 1


def test_a_location_used_by_the_template_cannot_be_deleted_only_archived(trainer: Browser) -> None:
    location = add_location(trainer, "Park")
    assert add_slot(trainer, 1, "12:00", "13:00", location).status == 303
    path = f"/dashboard/settings/locations/{location}"
    edit = trainer.get(path)
    assert "cannot be deleted" in edit.body and "Tuesday 12:00–13:00" in edit.body
    refused = trainer.post(
        path, {"action": "delete", "version": location_version(trainer, location)}
    )
    assert refused.status == 409
    assert "Archive it instead" in refused.body
    assert "Park" in trainer.get("/dashboard/settings/locations").body
    archived = trainer.post(
        path, {"action": "archive", "version": location_version(trainer, location)}
    )
    assert archived.status == 303
    grid = trainer.get("/dashboard/settings/template").body
    assert "Park (archived)" in grid


def test_renaming_from_a_stale_page_is_refused(trainer: Browser) -> None:
    location = add_location(trainer, "Studio")
    stale = location_version(trainer, location)
    path = f"/dashboard/settings/locations/{location}"
    assert (
        trainer.post(path, {"action": "rename", "name": "Studio A", "version": stale}).status == 303
    )
    page = trainer.post(path, {"action": "rename", "name": "Studio B", "version": stale})
    assert page.status == 409 and "changed elsewhere" in page.body
    assert 'value="Studio B"' in page.body
    assert "Studio A" in trainer.get("/dashboard/settings/locations").body


def test_html_in_a_location_name_is_inert_everywhere(trainer: Browser) -> None:
    location = add_location(trainer, "<script>alert(1)</script>")
    add_slot(trainer, 0, "09:00", "10:00", location)
    for path in (
        "/dashboard/settings/locations",
        f"/dashboard/settings/locations/{location}",
        "/dashboard/settings/template",
        "/dashboard/settings/template/new?weekday=0&start=11:00",
    ):
        body = trainer.get(path).body
        assert "<script>alert(1)</script>" not in body, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body, path


def test_another_trainers_location_ids_give_404_and_change_nothing(
    trainer: Browser, other_trainer: Browser
) -> None:
    location = add_location(trainer, "Private Studio")
    version = location_version(trainer, location)
    path = f"/dashboard/settings/locations/{location}"
    page = other_trainer.get(path)
    assert page.status == 404 and "Private Studio" not in page.body
    for action in ("rename", "archive", "delete"):
        response = other_trainer.post(
            path, {"action": action, "name": "Hijacked", "version": version}
        )
        assert response.status == 404
    mine = trainer.get("/dashboard/settings/locations").body
    assert "Private Studio" in mine and "Archived" not in mine
    assert "Private Studio" not in other_trainer.get("/dashboard/settings/locations").body


# Weekly template -----------------------------------------------------------------------
def test_a_trainer_lays_out_the_weekly_template_on_the_grid(trainer: Browser) -> None:
    studio = add_location(trainer, "Studio")
    new_page = trainer.get("/dashboard/settings/template/new?weekday=2&start=18:00")
    assert '<option value="2" selected>Wednesday' in new_page.body
    assert '<option value="18:00" selected>' in new_page.body
    assert '<option value="19:00" selected>' in new_page.body  # one hour by default
    assert add_slot(trainer, 2, "18:00", "19:30", studio).status == 303
    assert add_slot(trainer, 0, "07:00", "08:00", studio).status == 303
    grid = trainer.get("/dashboard/settings/template").body
    assert "18:00–19:30" in grid and "07:00–08:00" in grid
    assert "Wednesday 18:00–19:30" in grid and "Monday 07:00–08:00" in grid
    # the 90-minute slot spans three rows of the grid; the cells under it are not "+"
    assert re.search(r'class="slot slot-open r\d+ s3"', grid)
    assert 'aria-label="Add a slot on Wednesday at 18:30"' not in grid
    assert 'aria-label="Add a slot on Wednesday at 19:30"' in grid


def test_editing_and_removing_a_template_slot(trainer: Browser) -> None:
    studio = add_location(trainer, "Studio")
    add_slot(trainer, 0, "07:00", "08:00", studio)
    (slot,) = slot_ids(trainer)
    path = f"/dashboard/settings/template/slots/{slot}"
    edit = trainer.get(path)
    assert '<option value="07:00" selected>' in edit.body
    form = {
        "weekday": "4",
        "start": "07:30",
        "end": "09:00",
        "location_id": studio,
        "version": template_version(trainer),
    }
    assert trainer.post(path, form).status == 303
    assert "Friday 07:30–09:00" in trainer.get("/dashboard/settings/template").body
    removed = trainer.post(path, {"action": "remove", "version": template_version(trainer)})
    assert removed.status == 303
    assert slot_ids(trainer) == []


@pytest.mark.parametrize(
    ("start", "end", "location", "message"),
    [
        ("09:00", "09:45", "studio", "not 45 min"),
        ("10:00", "09:00", "studio", "The end must be after the start."),
        ("09:15", "10:15", "studio", "Start 09:15 is not on the 30-minute grid"),
        ("09:00", "10:00", "", "Every slot needs a location."),
        ("09:00", "10:00", "someone-elses", "does not exist or is archived"),
        ("09:30", "11:00", "studio", "This overlaps 09:00–10:00 on Monday"),
        ("8am", "10:00", "studio", "Enter a time as HH:MM"),
    ],
)
def test_bad_template_slots_are_explained_with_input_kept_and_nothing_saved(
    trainer: Browser, start: str, end: str, location: str, message: str
) -> None:
    studio = add_location(trainer, "Studio")
    add_slot(trainer, 0, "09:00", "10:00", studio)
    location_id = studio if location == "studio" else location
    page = add_slot(trainer, 0, start, end, location_id)
    assert page.status == 400
    assert message in page.body
    assert 'aria-invalid="true"' in page.body
    if start.count(":") == 1 and len(start) == 5:
        assert f'<option value="{start}" selected>' in page.body  # kept, even off the grid
    assert len(slot_ids(trainer)) == 1


def test_an_archived_location_cannot_take_new_slots(trainer: Browser) -> None:
    studio = add_location(trainer, "Studio")
    trainer.post(
        f"/dashboard/settings/locations/{studio}",
        {"action": "archive", "version": location_version(trainer, studio)},
    )
    page = add_slot(trainer, 0, "09:00", "10:00", studio)
    assert page.status == 400 and "archived" in page.body
    assert slot_ids(trainer) == []


def test_a_template_form_from_a_stale_page_is_refused(trainer: Browser) -> None:
    studio = add_location(trainer, "Studio")
    stale = template_version(trainer)
    form = {
        "weekday": "0",
        "start": "09:00",
        "end": "10:00",
        "location_id": studio,
        "version": stale,
    }
    assert trainer.post("/dashboard/settings/template/new", form).status == 303
    page = trainer.post("/dashboard/settings/template/new", {**form, "weekday": "3"})
    assert page.status == 409 and "changed elsewhere" in page.body
    assert '<option value="3" selected>Thursday' in page.body
    assert len(slot_ids(trainer)) == 1


def test_another_trainers_template_slot_ids_give_404_and_change_nothing(
    trainer: Browser, other_trainer: Browser
) -> None:
    studio = add_location(trainer, "Studio")
    add_slot(trainer, 0, "09:00", "10:00", studio)
    (slot,) = slot_ids(trainer)
    path = f"/dashboard/settings/template/slots/{slot}"
    assert other_trainer.get(path).status == 404
    theirs = add_location(other_trainer, "Their place")
    form = {
        "weekday": "0",
        "start": "11:00",
        "end": "12:00",
        "location_id": theirs,
        "version": template_version(other_trainer),
    }
    assert other_trainer.post(path, form).status == 404
    assert other_trainer.post(path, {"action": "remove", "version": "1"}).status == 404
    # and my location id is unusable in their template
    page = add_slot(other_trainer, 0, "09:00", "10:00", studio)
    assert page.status == 400
    assert slot_ids(trainer) == [slot]
    assert "Monday 09:00–10:00" in trainer.get("/dashboard/settings/template").body


# Dashboard -----------------------------------------------------------------------------
def test_the_checklist_ticks_steps_as_the_trainer_sets_up(trainer: Browser) -> None:
    assert "0 of 6 done" in trainer.get("/dashboard").body
    studio = add_location(trainer, "Studio")
    assert "1 of 6 done" in trainer.get("/dashboard").body
    add_slot(trainer, 0, "09:00", "10:00", studio)
    page = trainer.get("/dashboard").body
    assert "2 of 6 done" in page
    for title in (
        "Set up your locations",
        "Build your weekly template",
        "Add your first clients",
        "Configure each client",
        "Apply the template to upcoming weeks",
        "Share portal links and go live",
    ):
        assert title in page
    assert page.count("(done)") == 2


def test_an_unknown_dashboard_tab_is_a_plain_404(trainer: Browser) -> None:
    page = trainer.get("/dashboard/nope")
    assert page.status == 404
    assert "There is no such page" in page.body


def test_every_dashboard_page_has_the_five_tabs(trainer: Browser) -> None:
    for path in ("/dashboard", "/dashboard/settings", "/dashboard/settings/template"):
        body = trainer.get(path).body
        for label in ("Schedule", "Clients", "Sessions", "WhatsApp", "Settings"):
            assert f">{label}</a>" in body


def test_an_unknown_dashboard_tab_is_404(trainer: Browser) -> None:
    assert trainer.get("/dashboard/payroll").status == 404


# Round trips (Server-Timing) -------------------------------------------------------------
def test_dashboard_pages_make_a_fixed_number_of_round_trips(trainer: Browser) -> None:
    studio = add_location(trainer, "Studio")
    for weekday in range(7):
        add_slot(trainer, weekday, "09:00", "10:00", studio)
    # 1 = session + profile (BatchGetItem); +1 = locations and template (one Query)
    assert trainer.get("/dashboard").db_calls == 2
    assert trainer.get("/dashboard/settings").db_calls == 1
    assert trainer.get("/dashboard/settings/locations").db_calls == 2
    assert trainer.get("/dashboard/settings/template").db_calls == 2
    assert trainer.get(f"/dashboard/settings/locations/{studio}").db_calls == 2
    # adding a slot: session, read set-up, one transaction (template + location check)
    assert add_slot(trainer, 0, "11:00", "12:00", studio).db_calls == 3


@pytest.mark.parametrize("weekday", ["²", "7", "-1", "Monday", ""])
def test_a_tampered_weekday_is_a_form_error_not_a_crash(trainer: Browser, weekday: str) -> None:
    studio = add_location(trainer, "Studio")
    form = {
        "weekday": weekday,
        "start": "09:00",
        "end": "10:00",
        "location_id": studio,
        "version": template_version(trainer),
    }
    page = trainer.post("/dashboard/settings/template/new", form)
    assert page.status == 400 and "Pick a day of the week." in page.body
    assert slot_ids(trainer) == []


def test_a_tampered_booking_window_is_a_form_error_not_a_crash(trainer: Browser) -> None:
    body = trainer.get("/dashboard/settings").body
    version = re.search(r'name="version" value="(\d+)"', body).group(1)  # type: ignore[union-attr]
    page = trainer.post(
        "/dashboard/settings",
        {
            "version": version,
            "time_zone": "Europe/London",
            "country": "GB",
            "day_start": "07:00",
            "day_end": "21:00",
            "default_view": "week",
            "booking_window": "①",
            "cancel_deadline_hours": "36",
            "offer_lock_minutes": "60",
            "currency": "GBP",
        },
    )
    assert page.status == 400 and "Choose 1, 2, 3 weeks" in page.body

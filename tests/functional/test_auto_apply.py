"""Keep the template applied through the pages: the Settings field and its bad inputs,
then the hourly function invoked the way Lambda would, and what the week and the
dashboard's Activity feed show after it. The clock is Monday 23 Nov 2026 09:00 UTC."""

from __future__ import annotations

import html
import re

import pytest
from chalice.test import Client

from chalicelib import runtime
from chalicelib.repo.auto_apply import AutoApplyStore
from tests.functional.conftest import Browser
from tests.functional.test_dashboard import section
from tests.functional.test_locations_and_template import add_location, add_slot
from tests.functional.test_schedule_pages import slots_on, trainer_id
from tests.functional.test_settings_pages import _valid_form, _version
from tests.support import builders
from tests.support.table import unchanged


def _invoke_apply_templates(chalice_client: Client) -> dict:
    event = chalice_client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
    )
    return chalice_client.lambda_.invoke("apply_templates", event).payload


def _save(trainer: Browser, **fields: str):
    version = _version(trainer.get("/dashboard/settings").body)
    return trainer.post("/dashboard/settings", _valid_form(version, **fields))


def test_the_setting_is_off_by_default_with_labelled_fields(trainer: Browser) -> None:
    body = trainer.get("/dashboard/settings").body
    assert '<label for="auto_apply">Apply my template automatically</label>' in body
    assert '<option value="off" selected>' in body
    assert '<label for="auto_apply_weeks">Weeks ahead (1–12)</label>' in body
    assert 'aria-describedby="auto_apply-hint"' in body


def test_turning_it_on_is_saved_and_shown_again(trainer: Browser) -> None:
    saved = _save(trainer, auto_apply="on", auto_apply_weeks="3")
    assert saved.status == 303
    body = trainer.follow(saved).body
    assert '<option value="on" selected>' in body
    assert 'name="auto_apply_weeks" inputmode="numeric" class="short" value="3"' in body


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("0", "The weeks ahead to apply must be between 1 and 12."),
        ("13", "The weeks ahead to apply must be between 1 and 12."),
        ("abc", "The weeks ahead to apply must be a whole number."),
    ],
)
def test_a_bad_number_of_weeks_is_explained_with_the_input_kept_and_nothing_written(
    trainer: Browser, typed: str, message: str
) -> None:
    with unchanged(runtime.repository()):
        page = _save(trainer, auto_apply="on", auto_apply_weeks=typed)
    assert page.status == 400
    body = html.unescape(page.body)
    assert message in body
    assert f'name="auto_apply_weeks" inputmode="numeric" class="short" value="{typed}"' in body
    assert '<option value="on" selected>' in body
    assert 'aria-invalid="true"' in body


def test_a_form_from_before_the_setting_keeps_it(trainer: Browser) -> None:
    assert _save(trainer, auto_apply="on", auto_apply_weeks="4").status == 303
    assert _save(trainer).status == 303  # no auto_apply fields at all
    body = trainer.get("/dashboard/settings").body
    assert '<option value="on" selected>' in body
    assert AutoApplyStore(runtime.repository().db).get(trainer_id(trainer)) is not None


def test_the_hourly_function_applies_the_weeks_and_the_feed_says_so(
    trainer: Browser, chalice_client: Client, clock
) -> None:
    studio = add_location(trainer, "Studio")
    add_slot(trainer, 2, "18:00", "19:00", studio)  # Wednesdays
    add_slot(trainer, 3, "07:00", "08:00", studio)  # Thursdays
    # A first client: the account is set up, so the dashboard shows its feed.
    repo = runtime.repository()
    builders.add_client(repo, builders.trainer_of(repo, trainer_id(trainer)), "Priya Shah")
    assert _invoke_apply_templates(chalice_client)["due"] == 0  # off: nobody is due
    on = _save(
        trainer,
        time_zone="Europe/London",
        default_view="week",
        auto_apply="on",
        auto_apply_weeks="2",
    )
    assert on.status == 303
    first = _invoke_apply_templates(chalice_client)
    assert (first["due"], first["claimed"], first["applied"]) == (1, 1, [trainer_id(trainer)])
    for week in ("2026-W48", "2026-W49", "2026-W50"):
        assert len(slots_on(trainer, week)) == 2, week
    assert slots_on(trainer, "2026-W51") == []
    feed = html.unescape(section(trainer.get("/dashboard").body, "activity"))
    line = (
        "Template applied automatically to W48–W50: 6 slots added, "
        "0 recurring clients booked, 0 skipped (time off)"
    )
    assert line in feed
    assert 'href="/dashboard/sessions/"' not in feed  # an automatic run links nowhere
    # Run again within the hour: nothing is due until Monday 02:00, nothing is added.
    again = _invoke_apply_templates(chalice_client)
    assert again["due"] == 0 and len(slots_on(trainer, "2026-W48")) == 2
    # The next Monday's run brings W51 into range, and only W51.
    clock.advance(days=7, hours=-6)  # Mon 30 Nov 03:00 GMT
    assert _invoke_apply_templates(chalice_client)["applied"] == [trainer_id(trainer)]
    assert len(slots_on(trainer, "2026-W51")) == 2 and slots_on(trainer, "2026-W52") == []
    feed = html.unescape(section(trainer.get("/dashboard").body, "activity"))
    assert len(re.findall("Template applied automatically", feed)) == 2
    assert "Template applied automatically to W51: 2 slots added" in feed

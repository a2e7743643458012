"""Settings: defaults, saving, and every kind of bad input (kept, explained, not written)."""

from __future__ import annotations

import html
import re

import pytest

from tests.functional.conftest import Browser


def _version(page_body: str) -> str:
    match = re.search(r'name="version" value="(\d+)"', page_body)
    assert match
    return match.group(1)


def _valid_form(version: str, **overrides: str) -> dict[str, str]:
    form = {
        "version": version,
        "business_name": "Alex Fit",
        "time_zone": "Europe/Dublin",
        "country": "IE",
        "day_start": "06:00",
        "day_end": "20:30",
        "default_view": "day",
        "booking_window": "3",
        "booking_window_custom": "",
        "cancel_deadline_hours": "24",
        "offer_lock_minutes": "45",
        "currency": "EUR",
        "payee_name": "Alex Byrne",
        "bank_name": "AIB",
        "account_number": "12345678",
        "sort_code": "931152",
    }
    form.update(overrides)
    return form


def test_settings_show_the_spec_defaults(trainer: Browser) -> None:
    page = trainer.get("/dashboard/settings")
    assert page.status == 200
    assert 'value="Europe/London"' in page.body
    assert re.search(r'value="2" checked', page.body)  # booking window: this week and next
    assert 'name="cancel_deadline_hours" inputmode="numeric" class="short" value="36"' in page.body
    assert 'value="60"' in page.body
    assert '<option value="GBP" selected>' in page.body
    assert re.search(r'value="week" checked', page.body)


def test_settings_are_saved_and_shown_again(trainer: Browser) -> None:
    version = _version(trainer.get("/dashboard/settings").body)
    saved = trainer.post("/dashboard/settings", _valid_form(version))
    assert saved.status == 303
    page = trainer.follow(saved)
    assert "Settings saved." in page.body
    assert 'value="Europe/Dublin"' in page.body
    assert re.search(r'value="3" checked', page.body)
    assert re.search(r'value="day" checked', page.body)
    assert 'value="24"' in page.body and 'value="45"' in page.body
    assert 'value="93-11-52"' in page.body  # sort code normalised
    assert '<option value="06:00" selected>' in page.body
    assert '<option value="20:30" selected>' in page.body
    assert "Alex Fit" in trainer.get("/dashboard").body


def test_a_custom_booking_window_is_saved(trainer: Browser) -> None:
    version = _version(trainer.get("/dashboard/settings").body)
    form = _valid_form(version, booking_window="custom", booking_window_custom="6")
    trainer.post("/dashboard/settings", form)
    page = trainer.get("/dashboard/settings")
    assert re.search(r'value="custom" checked', page.body)
    assert 'name="booking_window_custom" inputmode="numeric" class="short" value="6"' in page.body


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("time_zone", "Mars/Olympus", "is not a time zone we know"),
        ("cancel_deadline_hours", "abc", "must be a whole number"),
        ("cancel_deadline_hours", "1.5", "must be a whole number"),
        ("cancel_deadline_hours", "-3", "must be a whole number"),
        ("offer_lock_minutes", "2", "between 5 and 1440"),
        ("day_end", "05:00", "must end after it starts"),
        ("day_start", "07:15", "30-minute grid"),
        ("booking_window", "9", "Choose 1, 2, 3 weeks"),
        ("sort_code", "12-34", "6 digits"),
        ("account_number", "ABCDEFGH", "6 to 10 digits"),
        ("currency", "XXX", "Pick a currency"),
    ],
)
def test_bad_settings_are_explained_with_the_input_kept_and_nothing_saved(
    trainer: Browser, field: str, value: str, message: str
) -> None:
    version = _version(trainer.get("/dashboard/settings").body)
    form = _valid_form(version, **{field: value})
    page = trainer.post("/dashboard/settings", form)
    assert page.status == 400
    assert message in html.unescape(page.body)
    assert 'aria-invalid="true"' in page.body
    # The other fields keep what was typed, not the stored values.
    assert 'value="Alex Fit"' in page.body
    if field not in ("day_end", "day_start", "booking_window", "currency"):
        assert f'value="{html.escape(value)}"' in page.body
    stored = trainer.get("/dashboard/settings").body
    assert 'value="Europe/London"' in stored and "Alex Fit" not in stored


def test_a_custom_window_needs_a_number(trainer: Browser) -> None:
    version = _version(trainer.get("/dashboard/settings").body)
    form = _valid_form(version, booking_window="custom", booking_window_custom="lots")
    page = trainer.post("/dashboard/settings", form)
    assert page.status == 400 and "must be a whole number" in page.body


def test_a_settings_form_from_a_stale_page_is_refused(trainer: Browser) -> None:
    stale_version = _version(trainer.get("/dashboard/settings").body)
    assert trainer.post("/dashboard/settings", _valid_form(stale_version)).status == 303
    page = trainer.post(
        "/dashboard/settings", _valid_form(stale_version, business_name="Other tab")
    )
    assert page.status == 409
    assert "changed elsewhere" in page.body
    assert 'value="Other tab"' in page.body  # what they typed is still there to copy
    assert "Other tab" not in trainer.get("/dashboard").body


def test_html_in_settings_is_rendered_inert(trainer: Browser) -> None:
    version = _version(trainer.get("/dashboard/settings").body)
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    trainer.post("/dashboard/settings", _valid_form(version, business_name=evil[:80]))
    for path in ("/dashboard", "/dashboard/settings"):
        body = trainer.get(path).body
        assert "<script>alert" not in body and "<img src=x" not in body
        assert "&lt;script&gt;" in body


def test_settings_page_reads_dynamodb_once(trainer: Browser) -> None:
    # Session and profile come back together in one BatchGetItem.
    assert trainer.get("/dashboard/settings").db_calls == 1


def test_saving_settings_costs_two_round_trips(trainer: Browser) -> None:
    version = _version(trainer.get("/dashboard/settings").body)
    assert trainer.post("/dashboard/settings", _valid_form(version)).db_calls == 2

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
        ("cancel_deadline_hours", "-3", "cannot be negative: use a whole number between 0 and 336"),
        ("offer_lock_minutes", "2", "between 5 and 1440"),
        ("day_end", "05:00", "must end after it starts"),
        ("day_start", "07:15", "30-minute grid"),
        ("booking_window", "9", "Choose 1, 2, 3 weeks"),
        ("sort_code", "12-34", "6 digits"),
        ("account_number", "ABCDEFGH", "A UK account number is 8 digits"),
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


# Bank details formats -------------------------------------------------------------------
GOOD_IBAN = "DE89 3704 0044 0532 0130 00"


def test_the_bank_details_format_defaults_from_the_country(trainer: Browser) -> None:
    page = trainer.get("/dashboard/settings")
    assert 'name="bank_scheme" value="uk" checked' in page.body
    empty = {"payee_name": "", "bank_name": "", "account_number": "", "sort_code": ""}
    form = _valid_form(_version(page.body), country="DE", **empty)
    assert trainer.post("/dashboard/settings", form).status == 303
    page = trainer.get("/dashboard/settings")
    assert 'name="bank_scheme" value="iban" checked' in page.body
    # booking window, default view, bank format, how the trainer hears of client actions,
    # reminders before sessions, the WhatsApp sender
    assert page.body.count(" checked>") == 6


def test_an_iban_is_saved_shown_in_print_form_and_the_uk_fields_are_dropped(
    trainer: Browser,
) -> None:
    version = _version(trainer.get("/dashboard/settings").body)
    form = _valid_form(
        version, bank_scheme="iban", iban="de89370400440532013000", bic="cobadeff xxx"
    )  # still carries the UK account number and sort code typed before switching
    assert trainer.post("/dashboard/settings", form).status == 303
    page = trainer.get("/dashboard/settings").body
    assert 'name="bank_scheme" value="iban" checked' in page
    assert f'value="{GOOD_IBAN}"' in page and 'value="COBADEFFXXX"' in page
    assert 'value="93-11-52"' not in page and 'value="12345678"' not in page


@pytest.mark.parametrize(
    ("field", "value", "scheme_fields", "message"),
    [
        ("iban", "DE88 3704 0044 0532 0130 00", {}, "That IBAN's check digits do not match"),
        ("iban", "DE89 3704 0044 0532 0130 0", {}, "has 22 characters; this one has 21"),
        ("iban", "12345678", {}, "An IBAN is a country code, 2 check digits"),
        ("bic", "COBAXXFFXXX", {"iban": GOOD_IBAN}, "“XX” is not a country"),
        ("bic", "COBADEF", {"iban": GOOD_IBAN}, "8 or 11 letters and digits"),
        (
            "routing_number",
            "021000022",
            {"bank_scheme": "us", "account_number": "1234"},
            "its check digit does not match",
        ),
        ("bsb", "12-345", {"bank_scheme": "au", "account_number": "123456"}, "A BSB is 6 digits"),
        (
            "account_number",
            "DE89370400440532013000",
            {"bank_scheme": "uk"},
            "A UK account number is 8 digits",
        ),
    ],
)
def test_bad_bank_details_keep_the_input_and_say_why(
    trainer: Browser, field: str, value: str, scheme_fields: dict[str, str], message: str
) -> None:
    version = _version(trainer.get("/dashboard/settings").body)
    form = _valid_form(version, **{"bank_scheme": "iban", **scheme_fields, field: value})
    page = trainer.post("/dashboard/settings", form)
    assert page.status == 400
    body = html.unescape(page.body)
    assert message in body
    assert f'id="{field}" name="{field}"' in page.body
    assert re.search(rf'id="{field}" name="{field}"[^>]*aria-invalid="true"', page.body)
    assert f'value="{value}"' in body  # what was typed, to correct rather than retype
    assert f'name="bank_scheme" value="{form["bank_scheme"]}" checked' in page.body
    stored = trainer.get("/dashboard/settings").body
    assert "Alex Fit" not in stored


def test_an_unknown_bank_details_format_is_refused(trainer: Browser) -> None:
    version = _version(trainer.get("/dashboard/settings").body)
    page = trainer.post("/dashboard/settings", _valid_form(version, bank_scheme="ca"))
    assert page.status == 400 and "Pick a bank details format from the list." in page.body


def test_the_bank_details_script_is_served_by_the_app_and_not_inline(trainer: Browser) -> None:
    body = trainer.get("/dashboard/settings").body
    found = re.search(
        r'<script src="(/static/bank-details\.js\?v=[0-9a-f]+)" defer></script>', body
    )
    assert found
    script = trainer.get(found.group(1))
    assert script.status == 200 and script.headers["content-type"].startswith("text/javascript")
    assert "data-bank-schemes" in body and "bankSchemes" in script.body
    assert re.search(r"<script(?![^>]*\ssrc=)", body) is None  # the CSP allows no inline script


# Prices in the trainer's locale (issue 6) --------------------------------------------------
def test_a_client_price_typed_with_a_decimal_comma_is_pounds_and_pence(trainer: Browser) -> None:
    from tests.functional.test_clients_pages import add_client

    client = add_client(trainer, price="45,50")
    assert 'value="45.50"' in trainer.get(f"/dashboard/clients/{client}").body
    assert "£45.50 a session" in trainer.get("/dashboard/clients").body


def test_a_german_trainer_types_and_reads_prices_the_german_way(trainer: Browser) -> None:
    from tests.functional.test_clients_pages import add_client

    version = _version(trainer.get("/dashboard/settings").body)
    trainer.post("/dashboard/settings", _valid_form(version, country="DE", currency="EUR"))
    client = add_client(trainer, phone="+49 151 23456789", price="1.234,50")
    assert 'value="1234,50"' in trainer.get(f"/dashboard/clients/{client}").body
    assert "1.234,50\xa0€ a session" in trainer.get("/dashboard/clients").body
    refused = trainer.post(
        "/dashboard/clients", {"name": "Tom", "phone": "+49 151 23456780", "price": "1,500"}
    )
    assert refused.status == 400
    assert "“1,500” could mean 1,50\xa0€ or 1.500,00\xa0€" in html.unescape(refused.body)
    assert 'value="1,500"' in refused.body

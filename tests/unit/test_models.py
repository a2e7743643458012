"""Trainer and location models: names, emails, display names."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.models import (
    MAX_LOCATION_NAME,
    Location,
    Trainer,
    clean_location_name,
)
from chalicelib.domain.settings import TrainerSettings

STUDIO = Location(id="l1", name="Studio")
PARK = Location(id="l2", name="Park", archived=True)


def name_error(raw: str, others: list[Location] | None = None) -> str:
    with pytest.raises(InvalidInput) as info:
        clean_location_name(raw, others or [])
    assert set(info.value.errors) == {"name"}
    return info.value.errors["name"]


# --- clean_location_name -----------------------------------------------------------------


def test_a_plain_location_name_is_kept():
    assert clean_location_name("Riverside Gym", []) == "Riverside Gym"


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("  Studio  ", "Studio"),
        ("Riverside   Gym", "Riverside Gym"),
        ("Home\tvisits\n", "Home visits"),
        (" a  b   c ", "a b c"),
    ],
)
def test_whitespace_in_a_location_name_is_collapsed(raw, clean):
    assert clean_location_name(raw, []) == clean


@pytest.mark.parametrize("raw", ["", "   ", "\t\n", None])
def test_an_empty_location_name_is_refused(raw):
    assert "Give the location a name" in name_error(raw)


def test_a_location_name_of_60_characters_is_accepted():
    assert clean_location_name("x" * MAX_LOCATION_NAME, []) == "x" * 60


def test_a_location_name_over_60_characters_is_refused():
    assert "60 characters" in name_error("x" * 61)


def test_length_is_counted_after_collapsing_whitespace():
    raw = "x" * 30 + " " * 40 + "y" * 29
    assert len(clean_location_name(raw, [])) == 60


@pytest.mark.parametrize("raw", ["Studio", "studio", "STUDIO", "  studio  ", "StUdIo"])
def test_a_duplicate_location_name_is_refused_ignoring_case_and_spacing(raw):
    message = name_error(raw, [STUDIO])
    assert "already have a location called" in message


def test_a_duplicate_of_an_archived_location_is_refused_too():
    assert "already have" in name_error("park", [STUDIO, PARK])


def test_the_duplicate_check_uses_unicode_case_folding():
    with_sharp_s = Location(id="l3", name="Straße")
    assert "already have" in name_error("STRASSE", [with_sharp_s])


def test_a_different_name_is_not_a_duplicate():
    assert clean_location_name("Studio 2", [STUDIO, PARK]) == "Studio 2"


def test_html_in_a_location_name_is_kept_as_plain_text():
    # Escaping is the template's job; the name itself is stored as typed.
    assert clean_location_name("<b>Gym</b>", []) == "<b>Gym</b>"
    assert clean_location_name("Tom & Jerry's <Gym>", []) == "Tom & Jerry's <Gym>"


def test_a_unicode_location_name_is_accepted():
    assert clean_location_name("Café Zürich 🏋", []) == "Café Zürich 🏋"


@given(st.text(max_size=100))
def test_a_cleaned_name_is_never_empty_padded_or_too_long(raw):
    try:
        name = clean_location_name(raw, [])
    except InvalidInput as exc:
        assert set(exc.errors) == {"name"}
        return
    assert name
    assert name == name.strip()
    assert "  " not in name
    assert len(name) <= MAX_LOCATION_NAME
    assert clean_location_name(name, []) == name


# --- Trainer / Location ------------------------------------------------------------------


def test_a_trainer_has_default_settings_and_version_one():
    trainer = Trainer(id="t1", email="sam@example.com", created_at=datetime(2026, 1, 1, tzinfo=UTC))
    assert trainer.settings == TrainerSettings()
    assert trainer.version == 1
    assert trainer.template_applied_at is None
    assert trainer.portal_link_shared_at is None


def test_a_trainer_without_a_business_name_is_shown_by_the_email_name():
    trainer = Trainer(
        id="t1", email="sam.k@example.com", created_at=datetime(2026, 1, 1, tzinfo=UTC)
    )
    assert trainer.display_name == "sam.k"


def test_a_trainer_with_a_business_name_is_shown_by_it():
    trainer = Trainer(
        id="t1",
        email="sam@example.com",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        settings=TrainerSettings(business_name="Sam Fit"),
    )
    assert trainer.display_name == "Sam Fit"


def test_a_location_is_active_by_default():
    assert Location(id="l", name="Gym").archived is False
    assert Location(id="l", name="Gym").version == 1

"""The Settings pages' queries and use cases (services.account), called as the views call
them: what each view model holds and how many DynamoDB calls it costs. The page tests
(test_locations_and_template.py, test_settings_pages.py) pin the same numbers per request,
plus the trainer's session read."""

from __future__ import annotations

import pytest

from chalicelib.domain.errors import Conflict, InvalidInput, NotFound, VersionConflict
from chalicelib.domain.models import Trainer
from chalicelib.domain.settings import SaveSettings
from chalicelib.domain.template import RemoveSlot, SaveSlot
from chalicelib.repo.repository import Repository
from chalicelib.services import account
from chalicelib.services.account import AddLocation, ChangeLocation
from tests.support.builders import add_location, make_trainer, trainer_of
from tests.support.pages import counted, holds_no_service_objects
from tests.support.pages import deps_for as _deps
from tests.unit.test_settings import valid_form


@pytest.fixture
def coach(repo: Repository) -> tuple[Trainer, str]:
    trainer, studio = add_location(repo, make_trainer(repo), "Studio")
    return trainer, studio


def _slot(repo: Repository, trainer: Trainer, location: str, weekday: str = "2") -> str:
    version = repo.get_setup(trainer.id).template.version
    command = SaveSlot(
        weekday=weekday, start="09:00", end="10:00", location_id=location, version=version
    )
    return account.save_template_slot(_deps(repo), trainer.id, command).id


# Settings -------------------------------------------------------------------------------
def test_the_settings_page_reads_nothing_the_session_did_not(repo: Repository, coach) -> None:
    trainer, _studio = coach
    page, calls = counted(lambda: account.settings_page(trainer))
    assert calls == 0
    assert (page.settings, page.version) == (trainer.settings, trainer.version)
    assert "Europe/London" in page.time_zones and page.countries["GB"] == "United Kingdom"
    assert dict(page.currencies)["GBP"] == "GBP (£)"
    holds_no_service_objects(page)


def test_saving_settings_is_one_write_at_the_version_the_form_showed(
    repo: Repository, coach
) -> None:
    trainer, _studio = coach
    command = SaveSettings.model_validate(valid_form(version=str(trainer.version)))
    saved, calls = counted(lambda: account.save_settings(_deps(repo), trainer, command))
    assert calls == 1 and saved.settings.business_name == "Sam Fit"
    assert trainer_of(repo, trainer.id).version == trainer.version + 1
    with pytest.raises(VersionConflict):  # the same form again: its page is stale now
        account.save_settings(_deps(repo), saved, command)


def test_a_settings_form_the_rules_refuse_writes_nothing(repo: Repository, coach) -> None:
    trainer, _studio = coach
    command = SaveSettings.model_validate(valid_form(currency="XYZ", version="1"))
    with pytest.raises(InvalidInput) as refused:
        counted(lambda: account.save_settings(_deps(repo), trainer, command))
    assert refused.value.errors == {"currency": "Pick a currency from the list."}
    assert trainer_of(repo, trainer.id).version == trainer.version


# Locations ------------------------------------------------------------------------------
def test_the_locations_page_is_one_query_with_each_locations_template_use(
    repo: Repository, coach
) -> None:
    trainer, studio = coach
    _trainer, park = add_location(repo, trainer, "Park")
    _slot(repo, trainer, studio, "1")
    _slot(repo, trainer, studio, "2")
    page, calls = counted(lambda: account.locations_page(_deps(repo), trainer.id))
    assert calls == 1
    assert [loc.name for loc in page.setup.locations] == ["Park", "Studio"]
    assert page.usage == {studio: 2, park: 0}
    holds_no_service_objects(page)


def test_a_location_page_lists_the_template_slots_that_use_it(repo: Repository, coach) -> None:
    trainer, studio = coach
    _slot(repo, trainer, studio)
    page, calls = counted(lambda: account.location_page(_deps(repo), trainer.id, studio))
    assert calls == 1
    assert page.location.name == "Studio"
    assert [s.label for s in page.used_by] == ["Wednesday 09:00–10:00"]
    other = make_trainer(repo, "other@example.com")
    with pytest.raises(NotFound):
        account.location_page(_deps(repo), other.id, studio)


def test_a_new_location_is_added_by_its_command(repo: Repository, coach) -> None:
    trainer, _studio = coach
    made = account.create_location(_deps(repo), trainer.id, AddLocation(name="  Park  Lane "))
    assert made.name == "Park Lane"
    with pytest.raises(InvalidInput) as refused:
        account.create_location(_deps(repo), trainer.id, AddLocation(name="park lane"))
    assert refused.value.errors == {"name": "You already have a location called “park lane”."}


def test_a_location_change_does_what_its_button_says_at_the_version_shown(
    repo: Repository, coach
) -> None:
    trainer, studio = coach

    def change(action: str, name: str = "") -> object:
        version = repo.get_setup(trainer.id).location(studio).version
        command = ChangeLocation(location_id=studio, action=action, name=name, version=version)  # type: ignore[arg-type]
        return account.change_location(_deps(repo), trainer.id, command)

    assert change("rename", "Studio A").name == "Studio A"  # type: ignore[attr-defined]
    assert change("archive").archived  # type: ignore[attr-defined]
    assert not change("restore").archived  # type: ignore[attr-defined]
    stale = ChangeLocation(location_id=studio, action="archive", version=1)
    with pytest.raises(VersionConflict):
        account.change_location(_deps(repo), trainer.id, stale)
    _slot(repo, trainer, studio)
    with pytest.raises(Conflict):
        change("delete")


# Weekly template ------------------------------------------------------------------------
def test_the_template_page_is_one_query_with_every_locations_name(repo: Repository, coach) -> None:
    trainer, studio = coach
    _slot(repo, trainer, studio)
    page, calls = counted(lambda: account.template_page(_deps(repo), trainer.id))
    assert calls == 1
    assert [s.label for s in page.setup.template.slots] == ["Wednesday 09:00–10:00"]
    assert page.names == {studio: "Studio"}
    holds_no_service_objects(page)


def test_a_slot_page_fills_the_form_from_the_slot(repo: Repository, coach) -> None:
    trainer, studio = coach
    slot_id = _slot(repo, trainer, studio)
    page, calls = counted(lambda: account.slot_page(_deps(repo), trainer.id, slot_id))
    assert calls == 1
    assert page.slot is not None and page.slot.id == slot_id
    assert page.version == 1
    assert page.prefill == {
        "weekday": "2",
        "start": "09:00",
        "end": "10:00",
        "location_id": studio,
    }
    with pytest.raises(NotFound):
        account.slot_page(_deps(repo), trainer.id, "nope")


@pytest.mark.parametrize(
    ("start", "end"), [("09:00", "10:00"), ("23:30", "24:00"), ("nine", ""), ("", "")]
)
def test_a_new_slot_page_starts_at_the_cell_clicked_for_an_hour(
    repo: Repository, coach, start: str, end: str
) -> None:
    trainer, _studio = coach
    page, calls = counted(lambda: account.new_slot_page(_deps(repo), trainer.id, "4", start))
    assert calls == 1
    assert page.slot is None and page.version == 0
    assert page.prefill == {"weekday": "4", "start": start, "end": end}


def test_a_slot_is_added_changed_and_removed_by_its_commands(repo: Repository, coach) -> None:
    trainer, studio = coach
    slot_id = _slot(repo, trainer, studio)
    moved = SaveSlot(
        slot_id=slot_id, weekday="3", start="10:00", end="11:30", location_id=studio, version=1
    )
    changed, calls = counted(lambda: account.save_template_slot(_deps(repo), trainer.id, moved))
    assert calls == 2  # the set-up read, the template's conditional write
    assert (changed.id, changed.label) == (slot_id, "Thursday 10:00–11:30")
    with pytest.raises(VersionConflict):  # the same form again: the template moved on
        account.save_template_slot(_deps(repo), trainer.id, moved)
    removed = account.remove_template_slot(
        _deps(repo), trainer.id, RemoveSlot(slot_id=slot_id, version=2)
    )
    assert removed.slots == ()


def test_changing_a_slot_that_is_not_there_is_not_found_before_any_message(
    repo: Repository, coach
) -> None:
    trainer, _studio = coach
    nonsense = SaveSlot(slot_id="nope", weekday="9", version=0)
    with pytest.raises(NotFound):
        account.save_template_slot(_deps(repo), trainer.id, nonsense)
    with pytest.raises(NotFound):
        account.remove_template_slot(_deps(repo), trainer.id, RemoveSlot(slot_id="nope"))

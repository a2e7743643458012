"""The repository against moto: conditional writes, transactions, versions and races."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib import runtime
from chalicelib.domain.errors import (
    Conflict,
    InvalidInput,
    InvalidToken,
    NotFound,
    VersionConflict,
)
from chalicelib.domain.models import Location, Trainer
from chalicelib.domain.settings import TrainerSettings
from chalicelib.domain.tokens import token_hash
from chalicelib.repo.repository import Repository
from chalicelib.services import account, auth
from tests.support.race import race

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def make_trainer(repo: Repository, email: str = "coach@example.com") -> Trainer:
    trainer = Trainer(id=email.split("@")[0], email=email, created_at=NOW)
    repo.create_trainer(trainer)
    return trainer


def slot_form(weekday: int, start: str, end: str, location_id: str, version: int) -> dict:
    return {
        "weekday": str(weekday),
        "start": start,
        "end": end,
        "location_id": location_id,
        "version": str(version),
    }


def test_an_email_belongs_to_one_trainer(repo: Repository) -> None:
    make_trainer(repo)
    with pytest.raises(Conflict):
        repo.create_trainer(Trainer(id="other", email="coach@example.com", created_at=NOW))
    assert repo.get_trainer("other") is None  # the transaction wrote nothing
    assert repo.trainer_id_for_email("coach@example.com") == "coach"


def test_settings_saved_at_a_stale_version_are_refused(repo: Repository) -> None:
    trainer = make_trainer(repo)
    saved = repo.save_settings(trainer, TrainerSettings(time_zone="Europe/Paris"))
    assert saved.version == trainer.version + 1
    with pytest.raises(VersionConflict):
        repo.save_settings(trainer, TrainerSettings(time_zone="Asia/Tokyo"))
    stored = repo.get_trainer(trainer.id)
    assert stored is not None and stored.settings.time_zone == "Europe/Paris"


def test_money_and_numbers_come_back_as_int_not_float_or_decimal(repo: Repository) -> None:
    trainer = make_trainer(repo)
    stored = repo.get_trainer(trainer.id)
    assert stored is not None
    assert type(stored.settings.cancel_deadline_hours) is int
    assert type(stored.version) is int


def test_locations_update_with_optimistic_versions(repo: Repository) -> None:
    trainer = make_trainer(repo)
    location = account.add_location(repo, trainer.id, "Studio")
    renamed = repo.update_location(trainer.id, location, name="Studio A")
    assert renamed.version == 2
    with pytest.raises(VersionConflict):
        repo.update_location(trainer.id, location, name="Studio B")
    assert repo.get_setup(trainer.id).location(location.id).name == "Studio A"


def test_deleting_a_location_fails_if_the_template_changed_since_it_was_checked(
    repo: Repository,
) -> None:
    trainer = make_trainer(repo)
    location = account.add_location(repo, trainer.id, "Studio")
    checked_template = repo.get_setup(trainer.id).template
    # Meanwhile another tab puts a slot at this location.
    account.add_template_slot(repo, trainer.id, slot_form(0, "09:00", "10:00", location.id, 0))
    with pytest.raises(VersionConflict):
        repo.delete_location(trainer.id, location, checked_template)
    assert repo.get_setup(trainer.id).location(location.id)


def test_a_template_slot_cannot_use_a_location_archived_meanwhile(repo: Repository) -> None:
    trainer = make_trainer(repo)
    location = account.add_location(repo, trainer.id, "Studio")
    setup = repo.get_setup(trainer.id)  # the form was rendered with the location active
    repo.update_location(trainer.id, location, archived=True)
    from chalicelib.domain.template import SlotDraft

    draft = SlotDraft(weekday=0, start=540, end=600, location_id=location.id)
    new_template = setup.template.with_slot("s1", draft, setup.locations)
    with pytest.raises(Conflict):
        repo.save_template(trainer.id, setup.template, new_template, location.id)
    assert repo.get_setup(trainer.id).template.slots == ()


def test_setup_is_one_query_of_the_account_partition_only(repo: Repository) -> None:
    trainer = make_trainer(repo)
    other = make_trainer(repo, "rival@example.com")
    account.add_location(repo, trainer.id, "Mine")
    account.add_location(repo, other.id, "Theirs")
    from chalicelib.repo import metrics

    recorded = metrics.begin()
    setup = repo.get_setup(trainer.id)
    assert [loc.name for loc in setup.locations] == ["Mine"]
    assert recorded.operations == ["Query"]


def test_unknown_template_slot_is_not_found(repo: Repository) -> None:
    trainer = make_trainer(repo)
    with pytest.raises(NotFound):
        account.template_slot(repo, trainer.id, "nope")


# Races ---------------------------------------------------------------------------------
def test_overlapping_template_slots_added_at_once_leave_exactly_one(repo: Repository) -> None:
    trainer = make_trainer(repo)
    location = account.add_location(repo, trainer.id, "Studio")
    starts = ["09:00", "09:30", "10:00", "09:00", "08:30", "09:30", "10:00", "09:00"]

    def add(i: int) -> Any:
        end = {"08:30": "10:00", "09:00": "10:30", "09:30": "11:00", "10:00": "11:30"}[starts[i]]
        return account.add_template_slot(
            repo, trainer.id, slot_form(0, starts[i], end, location.id, 0)
        )

    outcomes = race(len(starts), add)
    winners = [o for o in outcomes if not isinstance(o, Exception)]
    assert len(winners) == 1
    # A loser either read before the winner wrote (its write condition fails) or after
    # (the overlap rule refuses it): both are refusals, never a second slot.
    losers = [o for o in outcomes if isinstance(o, Exception)]
    assert all(isinstance(o, (VersionConflict, InvalidInput)) for o in losers), losers
    assert len(repo.get_setup(trainer.id).template.slots) == 1


def test_a_sign_in_link_confirmed_twice_at_once_opens_one_session(repo: Repository) -> None:
    make_trainer(repo)
    url = auth.issue_sign_in_link(repo, "coach@example.com", "http://x", NOW)
    token = url.split("token=")[1]
    cfg = runtime.config()
    outcomes = race(8, lambda _i: auth.confirm_sign_in(repo, cfg, token, NOW))
    sessions = [o for o in outcomes if isinstance(o, auth.SignedIn)]
    assert len(sessions) == 1
    assert all(
        isinstance(o, InvalidToken) and o.reason == "used" for o in outcomes if o not in sessions
    )


def test_two_sign_ups_for_one_new_email_make_one_account(repo: Repository) -> None:
    tokens = [
        auth.issue_sign_in_link(repo, "fresh@example.com", "http://x", NOW).split("token=")[1]
        for _ in range(4)
    ]
    cfg = runtime.config()
    outcomes = race(4, lambda i: auth.confirm_sign_in(repo, cfg, tokens[i], NOW))
    assert all(isinstance(o, auth.SignedIn) for o in outcomes), outcomes
    assert len({o.trainer_id for o in outcomes}) == 1
    assert repo.trainer_id_for_email("fresh@example.com") == outcomes[0].trainer_id


def test_a_sign_in_link_is_unusable_after_15_minutes_whatever_ttl_says(repo: Repository) -> None:
    make_trainer(repo)
    token = auth.issue_sign_in_link(repo, "coach@example.com", "http://x", NOW).split("token=")[1]
    cfg = runtime.config()
    with pytest.raises(InvalidToken) as refused:
        auth.confirm_sign_in(repo, cfg, token, NOW + timedelta(minutes=15))
    assert refused.value.reason == "expired"
    # the item is still there (moto never applies TTL): validity is decided in code
    assert repo.get_token(token_hash(token)) is not None


def test_the_rate_limit_counts_concurrent_attempts_exactly(repo: Repository) -> None:
    outcomes = race(12, lambda _i: repo.count_attempt("email", "h", 0, 900, 5))
    assert outcomes.count(True) == 5 and outcomes.count(False) == 7


def test_location_ids_are_scoped_to_their_trainer(repo: Repository) -> None:
    trainer = make_trainer(repo)
    other = make_trainer(repo, "rival@example.com")
    location = account.add_location(repo, trainer.id, "Studio")
    with pytest.raises(NotFound):
        account.rename_location(repo, other.id, location.id, "Mine now", "1")
    assert isinstance(repo.get_setup(trainer.id).location(location.id), Location)


def _mirror(repo: Repository, trainer_id: str) -> dict[str, tuple[str, bool]]:
    trainer = repo.get_trainer(trainer_id)
    assert trainer is not None
    return {lid: (m.name, m.archived) for lid, m in trainer.locations.items()}


def test_the_profile_mirrors_every_location_change_in_the_same_transaction(
    repo: Repository,
) -> None:
    trainer = make_trainer(repo)
    studio = account.add_location(repo, trainer.id, "Studio")
    assert _mirror(repo, trainer.id) == {studio.id: ("Studio", False)}
    renamed = account.rename_location(repo, trainer.id, studio.id, "Studio A", "1")
    archived = repo.update_location(trainer.id, renamed, archived=True)
    assert _mirror(repo, trainer.id) == {studio.id: ("Studio A", True)}
    account.delete_location(repo, trainer.id, studio.id, str(archived.version))
    assert _mirror(repo, trainer.id) == {}


def test_a_refused_location_change_leaves_the_mirror_alone(repo: Repository) -> None:
    trainer = make_trainer(repo)
    studio = account.add_location(repo, trainer.id, "Studio")
    repo.update_location(trainer.id, studio, name="Studio A")
    with pytest.raises(VersionConflict):
        repo.update_location(trainer.id, studio, name="Stale tab")
    assert _mirror(repo, trainer.id) == {studio.id: ("Studio A", False)}


def test_concurrent_renames_leave_the_mirror_equal_to_the_winner(repo: Repository) -> None:
    trainer = make_trainer(repo)
    studio = account.add_location(repo, trainer.id, "Studio")
    outcomes = race(6, lambda i: repo.update_location(trainer.id, studio, name=f"Name {i}"))
    winners = [o for o in outcomes if isinstance(o, Location)]
    assert len(winners) == 1
    stored = repo.get_setup(trainer.id).location(studio.id)
    assert stored.name == winners[0].name
    assert _mirror(repo, trainer.id) == {studio.id: (winners[0].name, False)}


def test_settings_saves_do_not_conflict_with_location_changes(repo: Repository) -> None:
    # The mirror is written without touching the profile's version: a settings form
    # opened before a location was added still saves.
    trainer = make_trainer(repo)
    account.add_location(repo, trainer.id, "Studio")
    saved = repo.save_settings(trainer, TrainerSettings(time_zone="Europe/Paris"))
    assert saved.settings.time_zone == "Europe/Paris"
    assert len(_mirror(repo, trainer.id)) == 1

"""Programs' conditional writes refuse stale objects by their own conditions: templates,
wizard drafts, creating a bundle, adding a session, the bundle's status, confirmations,
and the bundle's summary of a session kept in step with it.

Where a service reads then writes, `just_before` lets another tab change the item between
the two, so the write itself gets the stale object the service read.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from chalicelib import runtime
from chalicelib.domain.clients import Client
from chalicelib.domain.errors import Conflict, InvalidInput, VersionConflict
from chalicelib.domain.messages import LinkRef
from chalicelib.domain.programs import Bundle, Draft
from chalicelib.domain.schedule import Session, cancellation, trainer_move
from chalicelib.domain.tokens import new_id
from chalicelib.repo import keys
from chalicelib.repo.repository import Repository
from chalicelib.services import programs, schedule, sessions
from chalicelib.services.deps import Deps
from tests.support.builders import (
    NOW,
    World,
    add_slot,
    archive_client,
    archive_location,
    link_for,
    make_world,
)
from tests.support.interleave import just_before
from tests.support.moto_tables import table_per_test
from tests.support.table import raw_set, table_items, unchanged

FIRST_DAY = date(2026, 12, 1)  # a Tuesday; three weekly sessions at 10:00

moto_client, repo = table_per_test()  # a fresh table per test, one moto per module


@pytest.fixture
def world(repo: Repository) -> World:
    return make_world(repo)


def store(repo: Repository):
    return programs.store(repo)


def at(repo: Repository, now: datetime = NOW) -> Deps:
    """What a request at `now` hands the use cases."""
    return Deps(repo, runtime.links(), runtime.config(), now)


def offer_form(world: World) -> dict[str, str]:
    return {
        "title": "3-session kick-off",
        "sessions": "3",
        "price": "90",
        "location_id": world.studio,
        "length": "60",
        "video_link": "",
    }


def open_wizard(repo: Repository, world: World, template_id: str = "") -> Draft:
    """Steps 1 and 2: the offer, then three weekly dates from FIRST_DAY at 10:00."""
    draft = programs.start_draft(
        at(repo),
        world.trainer,
        programs.StartDraft(client_id=world.priya.id, template_id=template_id),
    )
    draft = programs.save_offer(
        at(repo),
        world.trainer,
        programs.SaveOffer.model_validate(
            {
                "version": str(draft.version),
                "action": "next",
                **offer_form(world),
                "draft_id": draft.id,
            }
        ),
    )
    return generate(repo, world, draft)


def generate(repo: Repository, world: World, draft: Draft) -> Draft:
    saved, _ = programs.save_schedule(
        at(repo),
        world.trainer,
        programs.SaveSchedule.model_validate(
            {
                "version": str(draft.version),
                "action": "generate",
                "first_day": FIRST_DAY.isoformat(),
                "first_time": "10:00",
                "every_weeks": "1",
                "draft_id": draft.id,
            }
        ),
    )
    return saved


def validate(repo: Repository, world: World, draft: Draft) -> Bundle:
    return programs.create_bundle(
        at(repo),
        world.trainer,
        programs.CreateBundle(draft_id=draft.id, version=str(draft.version)),
    )


def bundle_sessions(repo: Repository, world: World, bundle: Bundle) -> list[Session]:
    return store(repo).bundle_sessions(world.trainer.id, bundle)


def no_bundle_written(repo: Repository) -> None:
    assert not [i for i in table_items(repo) if i.get("type") in ("bundle", "session")]


# Program templates and wizard drafts --------------------------------------------------
def _template(repo: Repository, world: World):
    return programs.save_template(
        at(repo),
        world.trainer,
        programs.SaveTemplate.model_validate({**offer_form(world), "template_id": None}),
    )


def test_a_template_saved_from_a_stale_read_is_refused(repo: Repository, world) -> None:
    stale = _template(repo, world)
    form = {**offer_form(world), "title": "Renamed", "version": str(stale.version)}
    programs.save_template(
        at(repo),
        world.trainer,
        programs.SaveTemplate.model_validate({**form, "template_id": stale.id}),
    )  # another tab
    with unchanged(repo), pytest.raises(VersionConflict):
        store(repo).save_template(
            world.trainer.id, stale.model_copy(update={"title": "Mine"}), stale.version
        )


def test_a_new_template_never_writes_over_an_existing_one(repo: Repository, world) -> None:
    existing = _template(repo, world)
    with unchanged(repo), pytest.raises(VersionConflict):
        store(repo).save_template(world.trainer.id, existing.model_copy(update={"title": "X"}), 0)


def test_a_template_deleted_from_a_stale_read_is_refused(repo: Repository, world) -> None:
    stale = _template(repo, world)
    form = {**offer_form(world), "title": "Renamed", "version": str(stale.version)}
    programs.save_template(
        at(repo),
        world.trainer,
        programs.SaveTemplate.model_validate({**form, "template_id": stale.id}),
    )
    with unchanged(repo), pytest.raises(VersionConflict):
        store(repo).delete_template(world.trainer.id, stale)


def test_a_draft_saved_from_a_stale_read_is_refused(repo: Repository, world) -> None:
    stale = open_wizard(repo, world)
    generate(repo, world, stale)  # another tab pressed Generate again
    with unchanged(repo), pytest.raises(VersionConflict):
        store(repo).save_draft(
            world.trainer.id, stale.model_copy(update={"cards": ()}), stale.version
        )


# Creating a bundle (Validate) ------------------------------------------------------------
def _interleave(monkeypatch, repo: Repository, name: str, change):
    return just_before(monkeypatch, repo, type(store(repo)), name, change)


def test_validate_is_refused_by_the_write_when_the_draft_was_saved_since(
    repo: Repository, world, monkeypatch
) -> None:
    draft = open_wizard(repo, world)
    other_tab = _interleave(
        monkeypatch, repo, "create_bundle", lambda: generate(repo, world, draft)
    )
    with pytest.raises(VersionConflict):
        validate(repo, world, draft)
    other_tab.assert_refused_unchanged(VersionConflict)
    no_bundle_written(repo)


def test_a_bundle_is_never_written_over_an_existing_one(repo: Repository, world) -> None:
    bundle = validate(repo, world, open_wizard(repo, world))
    again = bundle.model_copy(update={"title": "Another", "entries": ()})
    with unchanged(repo), pytest.raises(Conflict, match="already created"):
        store(repo).create_bundle(world.trainer.id, again, [], NOW)


@pytest.mark.parametrize("gone", ["location", "client"])
def test_validate_is_refused_by_the_write_when_archived_since(
    repo: Repository, world, monkeypatch, gone: str
) -> None:
    draft = open_wizard(repo, world)

    def archive() -> None:
        if gone == "location":
            archive_location(repo, world.trainer.id, world.studio)
        else:
            archive_client(repo, world.trainer.id, world.priya)

    other_tab = _interleave(monkeypatch, repo, "create_bundle", archive)
    with pytest.raises(Conflict, match="archived"):
        validate(repo, world, draft)
    other_tab.assert_refused_unchanged(Conflict)
    no_bundle_written(repo)


def test_validate_is_refused_by_the_write_when_the_template_was_deleted_since(
    repo: Repository, world, monkeypatch
) -> None:
    template = _template(repo, world)
    draft = open_wizard(repo, world, template.id)

    def delete() -> None:
        programs.delete_template(
            at(repo),
            world.trainer.id,
            programs.DeleteTemplate(template_id=template.id, version=str(template.version)),
        )

    other_tab = _interleave(monkeypatch, repo, "create_bundle", delete)
    with pytest.raises(Conflict, match="deleted"):
        validate(repo, world, store(repo).get_draft(world.trainer.id, draft.id))
    other_tab.assert_refused_unchanged(Conflict)
    no_bundle_written(repo)


def test_validate_is_refused_by_the_write_when_a_date_was_taken_since(
    repo: Repository, world, monkeypatch
) -> None:
    draft = open_wizard(repo, world)

    def take() -> None:  # another tab adds a slot over the second date's 10:30
        add_slot(repo, world.trainer, world.park, "10:30", "11:30", FIRST_DAY + timedelta(7))

    other_tab = _interleave(monkeypatch, repo, "create_bundle", take)
    with pytest.raises(Conflict, match="taken"):
        validate(repo, world, draft)
    other_tab.assert_refused_unchanged(Conflict)
    no_bundle_written(repo)


def test_validate_is_refused_by_the_write_when_an_open_slot_it_takes_changed_since(
    repo: Repository, world, monkeypatch
) -> None:
    second = FIRST_DAY + timedelta(7)
    open_slot = add_slot(repo, world.trainer, world.studio, "10:00", "11:00", second)
    draft = open_wizard(repo, world)
    assert [c.existing for c in programs.plan(repo, world.trainer, draft.id, NOW).checks] == [
        False,
        True,
        False,
    ]

    def move() -> None:  # another tab moves that open slot to the Park
        schedule.move_slot(repo, world.trainer, open_slot, world.park, str(open_slot.version), NOW)

    other_tab = _interleave(monkeypatch, repo, "create_bundle", move)
    with pytest.raises(Conflict, match="taken"):
        validate(repo, world, draft)
    other_tab.assert_refused_unchanged(Conflict)
    no_bundle_written(repo)


# A bundle after creation: status, add a session, confirmations --------------------------
@pytest.fixture
def bundle(repo: Repository, world) -> Bundle:
    return validate(repo, world, open_wizard(repo, world))


def _with_room(repo: Repository, world: World, bundle: Bundle) -> Bundle:
    """Cancel the first session, so one more may be added."""
    first = bundle_sessions(repo, world, bundle)[0]
    sessions.cancel(repo, world.trainer.id, first, str(first.version), NOW)
    return store(repo).get_bundle(world.trainer.id, bundle.id)


def test_a_bundle_status_set_from_a_stale_read_is_refused(repo: Repository, world, bundle) -> None:
    programs.change_status(
        at(repo),
        world.trainer.id,
        programs.ChangeBundleStatus(
            bundle_id=bundle.id, action="pause", version=str(bundle.version)
        ),
    )
    with unchanged(repo), pytest.raises(VersionConflict):
        store(repo).set_status(world.trainer.id, bundle, "completed", NOW)


def _add(repo: Repository, world: World, bundle: Bundle, day: date) -> Session:
    form = {"version": str(bundle.version), "day": day.isoformat(), "start": "10:00"}
    return programs.add_session(
        at(repo),
        world.trainer,
        programs.AddBundleSession.model_validate({**form, "bundle_id": bundle.id}),
    )


def test_adding_a_session_is_refused_by_the_write_when_the_bundle_was_paused_since(
    repo: Repository, world, bundle, monkeypatch
) -> None:
    seen = _with_room(repo, world, bundle)

    def pause() -> None:
        programs.change_status(
            at(repo),
            world.trainer.id,
            programs.ChangeBundleStatus(
                bundle_id=seen.id, action="pause", version=str(seen.version)
            ),
        )

    other_tab = _interleave(monkeypatch, repo, "add_session", pause)
    with pytest.raises(VersionConflict):
        _add(repo, world, seen, date(2026, 12, 22))
    other_tab.assert_refused_unchanged(VersionConflict)


def test_adding_a_session_is_refused_by_the_write_when_another_was_added_since(
    repo: Repository, world, bundle, monkeypatch
) -> None:
    seen = _with_room(repo, world, bundle)
    other_tab = _interleave(
        monkeypatch, repo, "add_session", lambda: _add(repo, world, seen, date(2026, 12, 23))
    )
    with pytest.raises(VersionConflict):
        _add(repo, world, seen, date(2026, 12, 22))
    other_tab.assert_refused_unchanged(VersionConflict)
    assert len(store(repo).get_bundle(world.trainer.id, bundle.id).entries) == 4


@pytest.mark.parametrize("gone", ["location", "client"])
def test_adding_a_session_is_refused_by_the_write_when_archived_since(
    repo: Repository, world, bundle, monkeypatch, gone: str
) -> None:
    seen = _with_room(repo, world, bundle)

    def archive() -> None:
        if gone == "location":
            archive_location(repo, world.trainer.id, world.studio)
        else:
            archive_client(repo, world.trainer.id, world.priya)

    other_tab = _interleave(monkeypatch, repo, "add_session", archive)
    with pytest.raises(Conflict, match="archived"):
        _add(repo, world, seen, date(2026, 12, 22))
    other_tab.assert_refused_unchanged(Conflict)


def test_adding_a_session_is_refused_by_the_write_when_its_time_was_taken_since(
    repo: Repository, world, bundle, monkeypatch
) -> None:
    seen = _with_room(repo, world, bundle)
    day = date(2026, 12, 22)
    other_tab = _interleave(
        monkeypatch,
        repo,
        "add_session",
        lambda: add_slot(repo, world.trainer, world.park, "09:30", "10:30", day),
    )
    with pytest.raises(InvalidInput, match="just taken"):
        _add(repo, world, seen, day)
    other_tab.assert_refused_unchanged(Conflict)


def _send(repo: Repository, world: World, bundle: Bundle) -> int:
    return programs.send_confirmations(
        at(repo),
        world.trainer,
        programs.SendConfirmations(bundle_id=bundle.id, round=str(bundle.confirmations_round)),
        _url,
    )


def _url(_client: Client, _session: Session) -> LinkRef:
    return LinkRef(
        kind="session",
        base="https://x",
        trainer_id="coach",
        client_id=_client.id,
        generation=_client.portal_generation,
        target_id=_session.id,
    )


def _confirmations(repo: Repository) -> list[dict]:
    return [i for i in table_items(repo) if i.get("type") == "message"]


def test_confirmations_pressed_in_another_tab_meanwhile_queue_nothing_more(
    repo: Repository, world, bundle, monkeypatch
) -> None:
    other_tab = _interleave(
        monkeypatch, repo, "queue_confirmations", lambda: _send(repo, world, bundle)
    )
    with pytest.raises(Conflict, match="already sent"):
        _send(repo, world, bundle)
    other_tab.assert_refused_unchanged(Conflict)
    assert len(_confirmations(repo)) == 3


def test_confirmations_are_refused_once_their_round_was_claimed_since(
    repo: Repository, world, bundle
) -> None:
    # Constructed: the round moved on without this round's messages (a send whose first
    # part claimed the round); only the round condition stands in the way.
    raw_set(repo, keys.bundle(world.trainer.id, bundle.id), confirmations_round=1)
    found = bundle_sessions(repo, world, bundle)
    messages = [
        (
            s,
            programs.confirmation_message(
                world.trainer, bundle, world.priya, s, new_id(), _url(world.priya, s), NOW
            ),
        )
        for s in found
    ]
    with unchanged(repo), pytest.raises(Conflict, match="already sent"):
        store(repo).queue_confirmations(world.trainer.id, bundle, messages, NOW)


def test_confirmations_are_refused_for_a_bundle_still_being_created(
    repo: Repository, world, bundle
) -> None:
    # Constructed: the bundle as a chunked creation leaves it between its transactions.
    raw_set(repo, keys.bundle(world.trainer.id, bundle.id), status="creating")
    found = bundle_sessions(repo, world, bundle)
    messages = [
        (
            s,
            programs.confirmation_message(
                world.trainer, bundle, world.priya, s, new_id(), _url(world.priya, s), NOW
            ),
        )
        for s in found
    ]
    with unchanged(repo), pytest.raises(Conflict):
        store(repo).queue_confirmations(world.trainer.id, bundle, messages, NOW)


def test_a_session_canceled_after_the_page_was_read_gets_no_confirmation(
    repo: Repository, world, bundle, monkeypatch
) -> None:
    second = bundle_sessions(repo, world, bundle)[1]

    def cancel() -> None:
        sessions.cancel(repo, world.trainer.id, second, str(second.version), NOW)

    _interleave(monkeypatch, repo, "queue_confirmations", cancel)
    assert _send(repo, world, bundle) == 2
    assert second.id not in {m["subject_id"] for m in _confirmations(repo)}


# The bundle's summary of its sessions ----------------------------------------------------
def _entry_names_another_session(repo: Repository, world: World, bundle: Bundle) -> Session:
    """Constructed: entry 1 of the bundle names another session (the app keeps each entry
    in step with its session in the same transaction, so it never does this)."""
    session = bundle_sessions(repo, world, bundle)[1]
    item_key = keys.bundle(world.trainer.id, bundle.id)
    (item,) = [
        i for i in table_items(repo) if (i["PK"], i["SK"]) == (item_key["PK"], item_key["SK"])
    ]
    entries = item["entries"]
    entries[1] = {**entries[1], "ref": "2026-W49.20261208T100000Z.someoneelse"}
    raw_set(repo, item_key, entries=entries)
    return session


def test_a_cancel_never_marks_another_sessions_bundle_entry(
    repo: Repository, world, bundle
) -> None:
    session = _entry_names_another_session(repo, world, bundle)
    with unchanged(repo), pytest.raises(VersionConflict):
        repo.change_session(
            world.trainer.id,
            session,
            cancellation(session, NOW),
            "trainer",
            "x",
            NOW,
            free_slot=True,
        )


def test_a_move_never_replaces_another_sessions_bundle_entry(
    repo: Repository, world, bundle
) -> None:
    session = _entry_names_another_session(repo, world, bundle)
    session = sessions.start_changing(repo, world.trainer.id, session, str(session.version), NOW)
    target = add_slot(repo, world.trainer, world.studio, "15:00", "16:00", session.day)
    moved, replacement = trainer_move(session, target, new_id(), NOW)
    with unchanged(repo), pytest.raises(VersionConflict):
        repo.move_session(
            world.trainer.id,
            session,
            moved,
            replacement,
            target,
            "trainer",
            NOW,
            link_for(world.trainer, world.priya, replacement),
        )

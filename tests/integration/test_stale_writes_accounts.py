"""Account, client, link and token writes refuse stale objects by their own conditions.

Each test hands a write an object read before another request changed the item (or a
token used, expired or of another kind) and expects it to raise, or report False, with
every item of the table left as it was.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from chalicelib import runtime
from chalicelib.domain.clients import Client
from chalicelib.domain.errors import Conflict, InvalidToken, NotFound, VersionConflict
from chalicelib.domain.models import Location, Trainer
from chalicelib.domain.schedule import ClientBalance
from chalicelib.domain.settings import TrainerSettings
from chalicelib.domain.template import RemoveSlot, SlotDraft
from chalicelib.domain.tokens import new_id, new_token, token_hash
from chalicelib.repo import keys
from chalicelib.repo.dynamo import ConditionFailed, TransactionFailed
from chalicelib.repo.repository import Repository
from chalicelib.services import account, auth, clients, sessions
from chalicelib.services.deps import Deps
from tests.support.builders import (
    NOW,
    add_client,
    add_location,
    add_slot,
    allocate,
    archive_client,
    archive_location,
    client_now,
    make_trainer,
    message_for,
)
from tests.support.interleave import just_before
from tests.support.moto_tables import table_per_test
from tests.support.table import raw_set, unchanged

moto_client, repo = table_per_test()  # a fresh table per test, one moto per module


@dataclass(frozen=True)
class World:
    trainer: Trainer
    studio: str
    priya: Client
    omar: Client


@pytest.fixture
def world(repo: Repository) -> World:
    trainer = make_trainer(repo)
    trainer, studio = add_location(repo, trainer, "Studio")
    priya = add_client(repo, trainer, "Priya Shah", (studio,))
    omar = add_client(repo, trainer, "Omar Haddad", (studio,))
    return World(trainer, studio, priya, omar)


def _portal_hash(trainer_id: str, client: Client) -> str:
    return token_hash(runtime.links().portal(trainer_id, client))


def _rotate(repo: Repository, trainer_id: str, client: Client) -> Client:
    current = client_now(repo, trainer_id, client)
    return clients.rotate_portal_link(
        repo, runtime.links(), trainer_id, current, current.version, NOW
    )


def _save_notes(repo: Repository, world: World, client: Client, notes: str) -> Client:
    current = client_now(repo, world.trainer.id, client)
    return repo.save_client(world.trainer.id, current, shared_notes=notes)


# Trainers and settings -------------------------------------------------------------------
def test_a_second_trainer_with_the_same_email_is_refused(repo: Repository, world) -> None:
    other = Trainer(id=new_id(), email=world.trainer.email, created_at=NOW)
    with unchanged(repo), pytest.raises(Conflict):
        repo.create_trainer(other)


def test_a_trainer_profile_is_never_written_over_by_a_new_account(repo: Repository, world) -> None:
    same_id = Trainer(id=world.trainer.id, email="someone-else@example.com", created_at=NOW)
    with unchanged(repo), pytest.raises(Conflict):
        repo.create_trainer(same_id)


def test_settings_saved_from_a_stale_profile_are_refused(repo: Repository, world) -> None:
    stale = repo.get_trainer(world.trainer.id)
    assert stale is not None
    repo.save_settings(stale, stale.settings.model_copy(update={"business_name": "Sam Fit"}))
    with unchanged(repo), pytest.raises(VersionConflict):
        repo.save_settings(stale, TrainerSettings(time_zone="Asia/Tokyo"))


# The portal link shared (copied, sent) ---------------------------------------------------
def test_marking_a_link_copied_is_refused_once_it_was_rotated_since(
    repo: Repository, world
) -> None:
    _rotate(repo, world.trainer.id, world.priya)  # the page showed generation 1
    with unchanged(repo), pytest.raises(Conflict, match="replaced"):
        repo.mark_portal_shared(world.trainer.id, world.priya)


def test_marking_a_link_copied_is_refused_once_the_client_was_archived_since(
    repo: Repository, world
) -> None:
    archive_client(repo, world.trainer.id, world.priya)
    with unchanged(repo), pytest.raises(Conflict):
        repo.mark_portal_shared(world.trainer.id, world.priya)


def _portal_message(world: World, client: Client, message_id: str | None = None):
    return message_for(client, "2026-W48", client.id, kind="portal_link", message_id=message_id)


def test_sending_a_link_is_refused_once_it_was_rotated_since(repo: Repository, world) -> None:
    _rotate(repo, world.trainer.id, world.priya)
    with unchanged(repo), pytest.raises(Conflict, match="replaced"):
        repo.queue_portal_link(world.trainer.id, world.priya, _portal_message(world, world.priya))


def test_sending_a_link_is_refused_once_the_client_was_archived_since(
    repo: Repository, world
) -> None:
    archive_client(repo, world.trainer.id, world.priya)
    with unchanged(repo), pytest.raises(Conflict, match="archived"):
        repo.queue_portal_link(world.trainer.id, world.priya, _portal_message(world, world.priya))


def test_the_same_link_message_queued_twice_writes_nothing_the_second_time(
    repo: Repository, world
) -> None:
    message = _portal_message(world, world.priya)
    assert repo.queue_portal_link(world.trainer.id, world.priya, message)
    later = message.model_copy(update={"created_at": message.created_at.replace(minute=5)})
    with unchanged(repo):
        assert repo.queue_portal_link(world.trainer.id, world.priya, later) is False


# Clients and their portal links ----------------------------------------------------------
def test_adding_a_client_over_an_existing_one_is_refused(repo: Repository, world) -> None:
    again = world.priya.model_copy(update={"name": "Someone Else"})
    with unchanged(repo), pytest.raises(TransactionFailed):
        repo.add_client(world.trainer.id, again, token_hash(new_token()))


def test_adding_a_client_whose_link_hash_exists_already_is_refused(repo: Repository, world) -> None:
    newcomer = world.priya.model_copy(update={"id": new_id(), "name": "New Person"})
    taken = _portal_hash(world.trainer.id, world.omar)
    with unchanged(repo), pytest.raises(TransactionFailed):
        repo.add_client(world.trainer.id, newcomer, taken)


def test_rotating_from_a_stale_client_is_refused(repo: Repository, world) -> None:
    stale = client_now(repo, world.trainer.id, world.priya)
    _save_notes(repo, world, world.priya, "Knee: no lunges")  # another tab saved the profile
    with unchanged(repo), pytest.raises(VersionConflict):
        repo.rotate_portal(
            world.trainer.id,
            stale,
            _portal_hash(world.trainer.id, stale),
            _portal_hash(world.trainer.id, stale.model_copy(update={"portal_generation": 2})),
            NOW,
        )


def test_rotating_never_revokes_another_clients_link(repo: Repository, world) -> None:
    priya = client_now(repo, world.trainer.id, world.priya)
    with unchanged(repo), pytest.raises(VersionConflict):
        repo.rotate_portal(
            world.trainer.id,
            priya,
            _portal_hash(world.trainer.id, world.omar),  # not Priya's link
            _portal_hash(world.trainer.id, priya.model_copy(update={"portal_generation": 2})),
            NOW,
        )


def test_rotating_never_writes_over_an_existing_link(repo: Repository, world) -> None:
    priya = client_now(repo, world.trainer.id, world.priya)
    with unchanged(repo), pytest.raises(VersionConflict):
        repo.rotate_portal(
            world.trainer.id,
            priya,
            _portal_hash(world.trainer.id, priya),
            _portal_hash(world.trainer.id, world.omar),  # a hash that is someone's link
            NOW,
        )


def test_an_opt_in_is_refused_for_a_client_archived_since(repo: Repository, world) -> None:
    archive_client(repo, world.trainer.id, world.priya)  # the portal page was drawn before
    with unchanged(repo), pytest.raises(NotFound):
        repo.set_optin(world.trainer.id, world.priya.id, "wed-1800", True)


def test_an_opt_out_of_a_time_nobody_ticked_writes_nothing(repo: Repository, world) -> None:
    with unchanged(repo):
        repo.set_optin(world.trainer.id, world.priya.id, "wed-1800", False)


def test_a_client_saved_from_a_stale_profile_is_refused(repo: Repository, world) -> None:
    stale = client_now(repo, world.trainer.id, world.priya)
    _save_notes(repo, world, world.priya, "First tab")
    with unchanged(repo), pytest.raises(VersionConflict):
        repo.save_client(world.trainer.id, stale, shared_notes="Second tab")


def _template_slot(repo: Repository, world: World) -> str:
    setup = repo.get_setup(world.trainer.id)
    draft = SlotDraft(weekday=2, start=18 * 60, end=19 * 60, location_id=world.studio)
    template = setup.template.with_slot("wed", draft, setup.locations)
    repo.save_template(world.trainer.id, setup.template, template, world.studio)
    return "wed"


def test_a_recurring_slot_taken_by_another_client_since_is_refused(repo: Repository, world) -> None:
    wed = _template_slot(repo, world)
    omar = client_now(repo, world.trainer.id, world.omar)  # the form showed Wednesday free
    repo.save_client(
        world.trainer.id, client_now(repo, world.trainer.id, world.priya), recurring=(wed,)
    )
    with unchanged(repo), pytest.raises(Conflict, match="recurring"):
        repo.save_client(world.trainer.id, omar, recurring=(wed,))


def test_giving_up_a_recurring_slot_never_frees_another_clients_claim(
    repo: Repository, world
) -> None:
    # Constructed (one claim item per template slot makes it impossible through the app):
    # Priya's profile lists Wednesday but the claim item names Omar.
    wed = _template_slot(repo, world)
    priya = repo.save_client(
        world.trainer.id, client_now(repo, world.trainer.id, world.priya), recurring=(wed,)
    )
    raw_set(repo, keys.recurring_claim(world.trainer.id, wed), client_id=world.omar.id)
    with unchanged(repo), pytest.raises(VersionConflict):
        repo.save_client(world.trainer.id, priya, recurring=())


# The client's kept balance, counted once from history -----------------------------------
def _priced_booking(repo: Repository, world: World):
    return allocate(repo, world.trainer, add_slot(repo, world.trainer, world.studio), world.priya)


def test_a_balance_counted_before_a_booking_was_written_is_not_stored(
    repo: Repository, world
) -> None:
    seen = repo.client_balance(world.trainer.id, world.priya.id)  # nothing kept yet
    _priced_booking(repo, world)  # a session write moves the kept numbers meanwhile
    counted = ClientBalance(unpaid_minor=0, unpaid_count=0, counted=True)
    with unchanged(repo):
        assert repo.count_balance(world.trainer.id, world.priya.id, seen, counted) is False


def test_a_balance_counted_before_a_payment_was_written_is_not_stored(
    repo: Repository, world
) -> None:
    booked = _priced_booking(repo, world)
    seen = repo.client_balance(world.trainer.id, world.priya.id)
    assert (seen.unpaid_minor, seen.unpaid_count) == (4000, 1)
    form = {"paid": "yes", "payment_type": "cash", "version": str(booked.version)}
    sessions.set_payment(repo, world.trainer.id, booked, sessions.SetPayment(**form), NOW)
    counted = ClientBalance(unpaid_minor=4000, unpaid_count=1, counted=True)
    with unchanged(repo):
        assert repo.count_balance(world.trainer.id, world.priya.id, seen, counted) is False


# Locations and the weekly template -------------------------------------------------------
def _location(repo: Repository, world: World) -> Location:
    return repo.get_setup(world.trainer.id).location(world.studio)


def test_a_location_is_never_written_over_by_a_new_one(repo: Repository, world) -> None:
    existing = _location(repo, world)
    again = Location(id=existing.id, name="Another place")
    with unchanged(repo), pytest.raises(TransactionFailed):
        repo.add_location(world.trainer.id, again)


def test_a_location_updated_from_a_stale_read_is_refused(repo: Repository, world) -> None:
    stale = _location(repo, world)
    repo.update_location(world.trainer.id, stale, name="Studio A")
    with unchanged(repo), pytest.raises(VersionConflict):
        repo.update_location(world.trainer.id, stale, archived=True)


def test_a_location_deleted_from_a_stale_read_is_refused(repo: Repository, world) -> None:
    stale = _location(repo, world)
    template = repo.get_setup(world.trainer.id).template
    repo.update_location(world.trainer.id, stale, name="Studio A")
    with unchanged(repo), pytest.raises(VersionConflict):
        repo.delete_location(world.trainer.id, stale, template)


def test_a_location_delete_is_refused_once_the_template_changed_since_it_was_checked(
    repo: Repository, world
) -> None:
    trainer, park = add_location(repo, world.trainer, "Park")
    _template_slot(repo, world)  # the template exists (version 1) and does not use the Park
    location = repo.get_setup(trainer.id).location(park)
    checked = repo.get_setup(trainer.id).template
    draft = SlotDraft(weekday=3, start=12 * 60, end=13 * 60, location_id=park)
    repo.save_template(trainer.id, checked, checked.with_slot("thu", draft, [location]), park)
    with unchanged(repo), pytest.raises(VersionConflict):
        repo.delete_location(trainer.id, location, checked)


def test_a_template_saved_from_a_stale_read_is_refused(repo: Repository, world) -> None:
    _template_slot(repo, world)
    setup = repo.get_setup(world.trainer.id)
    stale = setup.template
    deps = Deps(repo, runtime.links(), runtime.config(), NOW)
    account.remove_template_slot(
        deps, world.trainer.id, RemoveSlot(slot_id="wed", version=stale.version)
    )
    draft = SlotDraft(weekday=4, start=7 * 60, end=8 * 60, location_id=world.studio)
    with unchanged(repo), pytest.raises(VersionConflict):
        repo.save_template(
            world.trainer.id, stale, stale.with_slot("fri", draft, setup.locations), world.studio
        )


def test_a_template_slot_at_a_location_archived_since_is_refused(repo: Repository, world) -> None:
    setup = repo.get_setup(world.trainer.id)
    archive_location(repo, world.trainer.id, world.studio)
    draft = SlotDraft(weekday=4, start=7 * 60, end=8 * 60, location_id=world.studio)
    new = setup.template.with_slot("fri", draft, setup.locations)
    with unchanged(repo), pytest.raises(Conflict, match="archived"):
        repo.save_template(world.trainer.id, setup.template, new, world.studio)


# Sign-in links and rate limits -----------------------------------------------------------
@pytest.fixture
def sign_in_link(repo: Repository) -> str:
    token = new_token()
    repo.put_token(
        token_hash(token),
        auth.SIGN_IN_KIND,
        NOW + auth.SIGN_IN_LIFETIME,
        {"email": "coach@example.com"},
    )
    return token


def test_a_sign_in_link_used_by_another_confirm_since_it_was_checked_is_refused_by_the_write(
    repo: Repository, world, sign_in_link: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = runtime.config()
    other_tab = just_before(
        monkeypatch,
        repo,
        type(repo),
        "transact",
        lambda: auth.confirm_sign_in(repo, cfg, sign_in_link, NOW),
    )
    with pytest.raises(InvalidToken, match="used"):
        auth.confirm_sign_in(repo, cfg, sign_in_link, NOW)
    other_tab.assert_refused_unchanged(TransactionFailed)


def test_a_sign_in_link_is_refused_by_the_write_once_it_has_expired(
    repo: Repository, world, sign_in_link: str
) -> None:
    expired = NOW + auth.SIGN_IN_LIFETIME
    operation = repo.use_token_op(token_hash(sign_in_link), auth.SIGN_IN_KIND, expired)
    with unchanged(repo), pytest.raises(TransactionFailed):
        repo.transact([operation])


def test_a_link_of_another_kind_cannot_be_used_as_a_sign_in_link(repo: Repository, world) -> None:
    portal = _portal_hash(world.trainer.id, world.priya)  # never expires, never "used"
    with unchanged(repo), pytest.raises(TransactionFailed):
        repo.transact([repo.use_token_op(portal, auth.SIGN_IN_KIND, NOW)])


def test_a_token_is_never_written_over(repo: Repository, world, sign_in_link: str) -> None:
    with unchanged(repo), pytest.raises(ConditionFailed):
        repo.put_token(token_hash(sign_in_link), auth.SIGN_IN_KIND, NOW, {"email": "x@y.z"})


def test_an_attempt_past_the_windows_limit_is_refused_and_not_counted(repo: Repository) -> None:
    for _ in range(3):
        assert repo.count_attempt("email", "abc", 0, 900, 3)
    with unchanged(repo):
        assert repo.count_attempt("email", "abc", 0, 900, 3) is False


def test_giving_back_an_attempt_never_counts_below_zero(repo: Repository) -> None:
    assert repo.count_attempt("email", "abc", 0, 900, 3)
    repo.release_attempt("email", "abc", 0)
    with unchanged(repo):
        repo.release_attempt("email", "abc", 0)


# The client index migration (infra.manage index-clients) -------------------------------
def test_the_migration_never_indexes_a_client_changed_since_it_read_them(
    repo: Repository, world, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.repo.client_index import ENTRY_PREFIX
    from chalicelib.repo.dynamo import Db

    tid = world.trainer.id
    repo.db.client.update_item(  # Priya's entry missing, as before the index existed
        TableName=repo.db.table,
        Key={"PK": {"S": keys.trainer_pk(tid)}, "SK": {"S": keys.CLIENT_INDEX_SK}},
        UpdateExpression="REMOVE #entry",
        ExpressionAttributeNames={"#entry": f"{ENTRY_PREFIX}{world.priya.id}"},
    )
    other_tab = just_before(
        monkeypatch,
        repo,
        Db,
        "transact",
        lambda: repo.save_client(tid, client_now(repo, tid, world.priya), name="Priya Shah-Lee"),
    )
    repo.index_clients(tid)
    other_tab.assert_refused_unchanged(TransactionFailed)
    assert repo.get_account(tid).clients[world.priya.id].name == "Priya Shah-Lee"


def test_the_migration_never_lowers_a_link_share_recorded_since(repo: Repository, world) -> None:
    tid = world.trainer.id
    priya = _rotate(repo, tid, world.priya)  # generation 2, then shared by the new version
    repo.mark_portal_shared(tid, priya)
    repo.db.put(
        {
            **keys.legacy_portal_shared(tid, priya.id),
            "client_id": priya.id,
            "generation": 1,  # the old version's mark, for the link before the rotation
        }
    )
    index_before = repo.db.get(keys.client_index(tid))
    assert repo.index_clients(tid)["shares"] == 0
    assert repo.db.get(keys.client_index(tid)) == index_before
    assert repo.get_account(tid).link_shared(priya)


def test_the_migration_never_moves_an_old_claim_over_one_made_since(
    repo: Repository, world
) -> None:
    tid = world.trainer.id
    wed = _template_slot(repo, world)
    omar = repo.save_client(tid, client_now(repo, tid, world.omar), recurring=(wed,))
    repo.db.put({**keys.legacy_recurring_claim(tid, wed), "client_id": world.priya.id})
    claim_before = repo.db.get(keys.recurring_claim(tid, wed))
    assert repo.index_clients(tid)["claims"] == 0
    assert repo.db.get(keys.recurring_claim(tid, wed)) == claim_before
    assert repo.get_account(tid).recurring_holders() == {wed: omar.id}

"""The repository against moto: conditional writes, transactions, versions and races."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib import runtime
from chalicelib.domain.clients import AddClient, SaveProfile
from chalicelib.domain.errors import (
    Conflict,
    InvalidInput,
    InvalidToken,
    NotFound,
    VersionConflict,
)
from chalicelib.domain.models import Location, Trainer
from chalicelib.domain.settings import TrainerSettings
from chalicelib.domain.template import SaveSlot
from chalicelib.domain.tokens import token_hash
from chalicelib.repo.repository import Repository
from chalicelib.services import account, auth
from chalicelib.services.deps import Deps
from tests.support.race import race

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def make_trainer(repo: Repository, email: str = "coach@example.com") -> Trainer:
    trainer = Trainer(id=email.split("@")[0], email=email, created_at=NOW)
    repo.create_trainer(trainer)
    return trainer


def _deps(repo: Repository) -> Deps:
    return Deps(repo, runtime.links(), runtime.config(), NOW)


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
    slot = SaveSlot.model_validate(slot_form(0, "09:00", "10:00", location.id, 0))
    account.save_template_slot(_deps(repo), trainer.id, slot)
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
        account.slot_page(_deps(repo), trainer.id, "nope")


# Races ---------------------------------------------------------------------------------
def test_overlapping_template_slots_added_at_once_leave_exactly_one(repo: Repository) -> None:
    trainer = make_trainer(repo)
    location = account.add_location(repo, trainer.id, "Studio")
    starts = ["09:00", "09:30", "10:00", "09:00", "08:30", "09:30", "10:00", "09:00"]

    def add(i: int) -> Any:
        end = {"08:30": "10:00", "09:00": "10:30", "09:30": "11:00", "10:00": "11:30"}[starts[i]]
        slot = SaveSlot.model_validate(slot_form(0, starts[i], end, location.id, 0))
        return account.save_template_slot(_deps(repo), trainer.id, slot)

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
        account.rename_location(repo, other.id, location.id, "Mine now", 1)
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
    renamed = account.rename_location(repo, trainer.id, studio.id, "Studio A", 1)
    archived = repo.update_location(trainer.id, renamed, archived=True)
    assert _mirror(repo, trainer.id) == {studio.id: ("Studio A", True)}
    account.delete_location(repo, trainer.id, studio.id, archived.version)
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


# The client index: never drifts from the client items ---------------------------------
def _index_rebuilt_from_client_items(repo: Repository, trainer_id: str) -> dict[str, Any]:
    """What the index entries would be if built now from every client item."""
    from chalicelib.repo import keys
    from chalicelib.repo.client_index import ENTRY_PREFIX, entry_of
    from chalicelib.repo.mapping import client_from_item
    from tests.support.table import table_items

    return {
        f"{ENTRY_PREFIX}{client.id}": entry_of(client)
        for client in (
            client_from_item(i)
            for i in table_items(repo)
            if i["PK"] == keys.trainer_pk(trainer_id) and i["SK"].startswith(keys.CLIENT_PREFIX)
        )
    }


def _index_entries(repo: Repository, trainer_id: str) -> dict[str, Any]:
    from chalicelib.repo import keys
    from chalicelib.repo.client_index import ENTRY_PREFIX

    item = repo.db.get(keys.client_index(trainer_id)) or {}
    return {name: value for name, value in item.items() if name.startswith(ENTRY_PREFIX)}


def _coach_with_template(repo: Repository) -> tuple[Trainer, str]:
    from chalicelib.domain.template import SlotDraft

    trainer = make_trainer(repo)
    studio = account.add_location(repo, trainer.id, "Studio").id
    setup = repo.get_setup(trainer.id)
    template = setup.template
    for slot_id, weekday in (("wed", 2), ("sat", 5)):
        draft = SlotDraft(weekday=weekday, start=18 * 60, end=19 * 60, location_id=studio)
        template = repo.save_template(
            trainer.id, template, template.with_slot(slot_id, draft, setup.locations), studio
        )
    found = repo.get_trainer(trainer.id)
    assert found is not None
    return found, studio


def test_the_client_index_equals_what_the_client_items_say_after_a_mixed_flow(
    repo: Repository,
) -> None:
    from chalicelib.domain.messages import LinkRef
    from chalicelib.domain.tokens import new_id
    from chalicelib.services import clients, messages

    trainer, studio = _coach_with_template(repo)
    tid, links = trainer.id, runtime.links()
    contact = {"phone": "07400 123456", "price": "40"}
    priya = clients.add_client(
        repo, links, trainer, AddClient.model_validate({"name": "Priya Shah", **contact}), NOW
    )
    omar = clients.add_client(
        repo, links, trainer, AddClient.model_validate({"name": "Omar Haddad", **contact}), NOW
    )
    ella = clients.add_client(
        repo, links, trainer, AddClient.model_validate({"name": "Ella Brown", **contact}), NOW
    )
    assert _index_entries(repo, tid) == _index_rebuilt_from_client_items(repo, tid)

    def profile(client, name: str, recurring: list[str]):
        form = {"name": name, **contact, "version": str(client.version)}
        return clients.save_profile(
            repo,
            trainer,
            repo.get_account(tid),
            client,
            SaveProfile.model_validate(
                {**form, "client_id": client.id, "location_ids": [studio], "recurring": recurring}
            ),
        )

    priya = profile(priya, "Priya Shah-Lee", ["wed"])  # renamed, located, a recurring slot
    omar = profile(omar, "Omar Haddad", ["sat"])
    repo.set_optin(tid, ella.id, "wed", True)
    repo.set_optin(tid, omar.id, "wed", True)
    repo.set_optin(tid, omar.id, "wed", True)  # a repeated tick
    repo.set_optin(tid, ella.id, "sat", True)
    repo.set_optin(tid, ella.id, "sat", False)
    repo.set_optin(tid, priya.id, "sat", False)  # never ticked
    clients.mark_link_copied(repo, tid, priya, priya.portal_generation)
    portal = LinkRef(kind="portal", base="http://x", trainer_id=tid, client_id=omar.id)
    messages.send_portal_link(repo, trainer, omar, new_id(), portal, NOW)
    priya = clients.rotate_portal_link(repo, links, tid, priya, priya.version, NOW)
    omar = clients.archive(repo, tid, omar, omar.version)
    omar = clients.restore(repo, links, tid, omar, omar.version, NOW)
    ella = clients.archive(repo, tid, ella, ella.version)
    with pytest.raises(VersionConflict):  # a stale tab: refused, and the entry with it
        repo.save_client(tid, priya.model_copy(update={"version": 1}), name="Stale")

    assert _index_entries(repo, tid) == _index_rebuilt_from_client_items(repo, tid)
    read = repo.get_account(tid)
    assert {c.id: c.name for c in read.clients.values()} == {
        priya.id: "Priya Shah-Lee",
        omar.id: "Omar Haddad",
        ella.id: "Ella Brown",
    }
    assert [c.name for c in read.active_clients()] == ["Omar Haddad", "Priya Shah-Lee"]
    # Priya's copied link was rotated since, Omar's sent one revoked by the archive: the
    # marks stay, for generations that are no longer theirs
    assert not read.link_shared(priya) and not read.link_shared(omar)
    assert read.clients[priya.id].shared_generation == 1
    assert read.opted_in == {"wed": frozenset({ella.id, omar.id})}
    assert read.optins_of(omar.id) == {"wed"} == repo.client_optins(tid, omar.id)
    assert repo.client_optins(tid, priya.id) == set()
    assert read.recurring_holders() == {"wed": priya.id, "sat": omar.id}
    assert [c.name for c in repo.client_summaries(tid)] == [
        "Ella Brown",
        "Omar Haddad",
        "Priya Shah-Lee",
    ]


def test_two_profile_saves_of_different_clients_at_once_both_reach_the_index(
    repo: Repository,
) -> None:
    from chalicelib.services import clients

    trainer, studio = _coach_with_template(repo)
    contact = {"phone": "07400 123456", "price": "40"}
    people = [
        clients.add_client(
            repo,
            runtime.links(),
            trainer,
            AddClient.model_validate({"name": f"Client {i}", **contact}),
            NOW,
        )
        for i in range(6)
    ]
    read = repo.get_account(trainer.id)

    def save(i: int):
        form = {"name": f"Renamed {i}", **contact, "version": "1"}
        return clients.save_profile(
            repo,
            trainer,
            read,
            people[i],
            SaveProfile.model_validate(
                {**form, "client_id": people[i].id, "location_ids": [studio], "recurring": []}
            ),
        )

    outcomes = race(len(people), save)
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    assert _index_entries(repo, trainer.id) == _index_rebuilt_from_client_items(repo, trainer.id)
    summaries = repo.get_account(trainer.id).clients
    assert {c.name for c in summaries.values()} == {f"Renamed {i}" for i in range(6)}
    assert all(c.location_ids == (studio,) for c in summaries.values())


def test_the_set_up_read_is_one_query_with_the_index_and_settings_skip_the_index(
    repo: Repository,
) -> None:
    from chalicelib.repo import keys, metrics
    from chalicelib.services import clients

    trainer, _studio = _coach_with_template(repo)
    for i in range(3):
        clients.add_client(
            repo,
            runtime.links(),
            trainer,
            AddClient.model_validate({"name": f"C{i}", "phone": "07400 123456"}),
            NOW,
        )
    items = repo.db.query(keys.trainer_pk(trainer.id), sk_prefix=keys.CFG_PREFIX)
    assert {i["SK"] for i in items} >= {keys.CLIENT_INDEX_SK, keys.TEMPLATE_SK}
    recorded = metrics.begin()
    assert len(repo.get_account(trainer.id).clients) == 3
    assert recorded.operations == ["Query"]
    setup_items = repo.db.query(keys.trainer_pk(trainer.id), sk_range=keys.SETUP_RANGE)
    assert keys.CLIENT_INDEX_SK not in {i["SK"] for i in setup_items}


# A transaction cancelled only by a conflict is sent again -----------------------------
class _ConflictingClient:
    """A low-level client whose TransactWriteItems is cancelled with these reasons for
    the first `times` calls, then succeeds."""

    def __init__(self, reasons: list[str], times: int) -> None:
        self.reasons, self.times, self.calls = reasons, times, 0

    def transact_write_items(self, **_: Any) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        self.calls += 1
        if self.calls <= self.times:
            raise ClientError(
                {
                    "Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
                    "CancellationReasons": [{"Code": r} for r in self.reasons],
                },
                "TransactWriteItems",
            )
        return {}


def _two_parts() -> list[dict[str, Any]]:
    from chalicelib.repo import keys
    from chalicelib.repo.dynamo import Condition, tx_put, tx_update

    return [
        tx_put({**keys.client("t", "c"), "name": "C"}, part="first"),
        tx_update(
            keys.client_index("t"), Condition("SET #a = :a", {"#a": "a"}, {":a": 1}), part="index"
        ),
    ]


@pytest.fixture
def no_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.repo.dynamo import Db

    monkeypatch.setattr(Db, "CONFLICT_PAUSE_SECONDS", 0.0)


def test_a_transaction_cancelled_by_a_conflict_once_is_sent_again_and_succeeds(no_pause) -> None:
    from chalicelib.repo.dynamo import Db

    client = _ConflictingClient(["None", "TransactionConflict"], times=1)
    Db(client, "table").transact(_two_parts())
    assert client.calls == 2


def test_a_transaction_that_keeps_conflicting_is_refused_naming_the_part(no_pause) -> None:
    from chalicelib.repo.dynamo import Db, TransactionFailed

    client = _ConflictingClient(["None", "TransactionConflict"], times=99)
    with pytest.raises(TransactionFailed) as refused:
        Db(client, "table").transact(_two_parts())
    assert client.calls == Db.TRANSACTION_ATTEMPTS
    assert refused.value.refused_parts == ["index"]


def test_a_refused_condition_is_never_sent_again_even_beside_a_conflict(no_pause) -> None:
    from chalicelib.repo.dynamo import Db, TransactionFailed

    client = _ConflictingClient(["ConditionalCheckFailed", "TransactionConflict"], times=99)
    with pytest.raises(TransactionFailed) as refused:
        Db(client, "table").transact(_two_parts())
    assert client.calls == 1
    assert refused.value.refused("first")

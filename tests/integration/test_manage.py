"""Operator commands: invite, and the backfills of data written by older versions."""

from __future__ import annotations

import dataclasses

import pytest

from chalicelib import runtime
from chalicelib.domain.clients import AddClient, Client, SaveProfile
from chalicelib.repo.repository import Repository
from chalicelib.services import auth
from infra import manage
from infra.manage import invite


def test_an_invited_trainer_can_sign_in_on_an_invite_only_stage(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert manage.main(["invite", "  Coach@Example.com "]) == 0
    trainer_id = repo.trainer_id_for_email("coach@example.com")
    assert trainer_id
    cfg = dataclasses.replace(runtime.config(), signup_mode="invite")
    link = auth.issue_sign_in_link(repo, "coach@example.com", "http://x", runtime.now())
    signed_in = auth.confirm_sign_in(repo, cfg, link.split("token=")[1], runtime.now())
    assert signed_in.trainer_id == trainer_id


def test_inviting_twice_or_a_bad_address_fails_clearly(repo: Repository) -> None:
    manage.main(["invite", "coach@example.com"])
    with pytest.raises(SystemExit, match="already has an account"):
        manage.main(["invite", "coach@example.com"])
    with pytest.raises(SystemExit, match="must have an @-sign"):
        manage.main(["invite", "nonsense"])
    with pytest.raises(SystemExit):
        manage.main(["invite", "a@b.com,evil@c.com"])


def test_index_bundles_keys_bundles_from_before_the_paged_hub(repo: Repository) -> None:
    trainer_id = manage.invite("coach@example.com")
    # nothing to do for a trainer without bundles, and running it twice is harmless
    assert manage.main(["index-bundles", trainer_id]) == 0
    assert manage.index_bundles([trainer_id]) == 0


# index-clients: accounts written before the client index ------------------------------
def to_legacy_keys(repo: Repository, trainer_id: str) -> None:
    """Rewrite an account as the version before the client index kept it: opt-ins one
    item per client and slot, claims as `RECUR#`, link shares as `SHARED#`, no index."""
    from chalicelib.repo import keys
    from chalicelib.repo.client_index import SHARED_PREFIX

    for item in repo.db.query(keys.trainer_pk(trainer_id), sk_prefix=keys.CFG_PREFIX):
        sk = item["SK"]
        if sk.startswith(keys.OPTIN_PREFIX):
            slot_id = keys.template_slot_id_from_optin_sk(sk)
            for client_id in item.get("client_ids") or ():
                legacy = keys.legacy_optin(trainer_id, client_id, slot_id)
                repo.db.put(
                    {**legacy, "type": "optin", "client_id": client_id, "template_slot_id": slot_id}
                )
        elif sk.startswith(keys.RECURRING_PREFIX):
            slot_id = keys.template_slot_id_from_claim_sk(sk)
            legacy = keys.legacy_recurring_claim(trainer_id, slot_id)
            repo.db.put({**legacy, "type": "recurring", "client_id": item["client_id"]})
        elif sk == keys.CLIENT_INDEX_SK:
            for name, generation in item.items():
                if name.startswith(SHARED_PREFIX):
                    client_id = name.removeprefix(SHARED_PREFIX)
                    legacy = keys.legacy_portal_shared(trainer_id, client_id)
                    repo.db.put(
                        {
                            **legacy,
                            "type": "portal_shared",
                            "client_id": client_id,
                            "generation": generation,
                            "how": "copied",
                            "at": "2026-11-20T09:00:00Z",
                        }
                    )
        else:
            continue
        repo.db.delete(keys.key(item["PK"], sk))
    # Before the ClientsByPhone index, client items carried no key in it.
    for item in repo.db.query(keys.trainer_pk(trainer_id), sk_prefix=keys.CLIENT_PREFIX):
        repo.db.put({k: v for k, v in item.items() if k != keys.PHONE_PK})


def legacy_account(repo: Repository) -> tuple[str, list[Client]]:
    """A trainer with a template, three clients (one holding a recurring slot, two opted
    in, one link shared), written today and rewritten with the old keys."""
    from chalicelib.domain.template import SlotDraft
    from chalicelib.services import account, clients

    trainer_id = invite("coach@example.com")
    trainer = repo.get_trainer(trainer_id)
    assert trainer is not None
    studio = account.add_location(repo, trainer_id, "Studio").id
    setup = repo.get_setup(trainer_id)
    draft = SlotDraft(weekday=2, start=18 * 60, end=19 * 60, location_id=studio)
    repo.save_template(
        trainer_id, setup.template, setup.template.with_slot("wed", draft, setup.locations), studio
    )
    trainer = repo.get_trainer(trainer_id)
    assert trainer is not None
    made = []
    for name, recurring in (("Priya Shah", ["wed"]), ("Omar Haddad", []), ("Ella Brown", [])):
        contact = {"name": name, "phone": "07400 123456", "price": "40"}
        person = clients.add_client(
            repo, runtime.links(), trainer, AddClient.model_validate(contact), runtime.now()
        )
        form = {**contact, "version": str(person.version)}
        made.append(
            clients.save_profile(
                repo,
                trainer,
                repo.get_account(trainer_id),
                person,
                SaveProfile.model_validate(
                    {
                        **form,
                        "client_id": person.id,
                        "location_ids": [studio],
                        "recurring": recurring,
                    }
                ),
            )
        )
    repo.set_optin(trainer_id, made[1].id, "wed", True)
    repo.set_optin(trainer_id, made[2].id, "wed", True)
    repo.mark_portal_shared(trainer_id, made[0])
    to_legacy_keys(repo, trainer_id)
    return trainer_id, made


def test_index_clients_brings_an_old_account_to_the_set_up_keys_once(repo: Repository) -> None:
    from tests.support.table import table_items, unchanged

    trainer_id, (priya, omar, ella) = legacy_account(repo)
    stale = repo.get_account(trainer_id)  # what the new pages would see before it runs
    assert not stale.clients and not stale.opted_in and not stale.holders
    assert manage.main(["index-clients", trainer_id]) == 0
    read = repo.get_account(trainer_id)
    assert {c.name for c in read.clients.values()} == {"Priya Shah", "Omar Haddad", "Ella Brown"}
    assert read.clients[priya.id].location_ids == priya.location_ids
    assert read.link_shared(priya) and not read.link_shared(omar)
    assert read.opted_in == {"wed": frozenset({omar.id, ella.id})}
    assert read.recurring_holders() == {"wed": priya.id}
    legacy = ("OPTIN#", "RECUR#", "SHARED#")
    assert not [i for i in table_items(repo) if str(i["SK"]).startswith(legacy)]
    # an inbound WhatsApp message can find them by phone again
    assert {o.client_id for o in repo.phone_owners("+447400123456")} == {
        priya.id,
        omar.id,
        ella.id,
    }
    with unchanged(repo):
        assert set(manage.index_clients([trainer_id]).values()) == {0}


def test_index_clients_claims_a_recurring_slot_listed_on_a_client_with_no_claim(
    repo: Repository,
) -> None:
    from chalicelib.repo import keys

    trainer_id, (priya, _omar, _ella) = legacy_account(repo)
    repo.db.delete(keys.legacy_recurring_claim(trainer_id, "wed"))  # from before claims
    assert manage.index_clients([trainer_id])["claims"] == 1
    assert repo.get_account(trainer_id).recurring_holders() == {"wed": priya.id}


def test_an_id_that_starts_with_a_dash_is_an_id_not_an_option(repo: Repository) -> None:
    # URL-safe ids start with "-" one time in 32; the command must not take it for a flag.
    assert manage.main(["index-bundles", "-Zm9vYmFy", "coach"]) == 0
    assert manage.main(["index-clients", "-Zm9vYmFy"]) == 0
    with pytest.raises(SystemExit) as helped:
        manage.main(["index-bundles", "--help"])
    assert helped.value.code == 0

"""The Clients tab's queries and use cases (services.clients), called as the views call
them: what each view model holds and how many DynamoDB calls it costs. The page tests
(test_clients_pages.py) pin the same numbers per request, plus the trainer's session
read."""

from __future__ import annotations

import pytest

from chalicelib import runtime
from chalicelib.domain.clients import AddClient, SaveProfile
from chalicelib.domain.errors import InvalidInput, NotFound, VersionConflict
from chalicelib.domain.models import Trainer
from chalicelib.domain.template import SaveSlot
from chalicelib.repo.repository import Repository
from chalicelib.services import account, clients
from chalicelib.services.clients import ClientAction, LinkCopied, SendPortalLink
from tests.support.builders import (
    NOW,
    add_client,
    add_location,
    add_slot,
    allocate,
    make_trainer,
)
from tests.support.pages import counted, holds_no_service_objects
from tests.support.pages import deps_for as _deps

BASE = "https://pt.example.com"


def _no_base_url() -> str:
    raise AssertionError("no link is made: the base URL must not be asked for")


@pytest.fixture
def coach(repo: Repository) -> tuple[Trainer, str]:
    trainer, studio = add_location(repo, make_trainer(repo), "Studio")
    return trainer, studio


def _profile(client_id: str, version: int, **fields: object) -> SaveProfile:
    return SaveProfile(
        client_id=client_id,
        name="Priya Shah",
        phone="07400 123456",
        price="45",
        version=version,
        **fields,  # type: ignore[arg-type]
    )


# The list --------------------------------------------------------------------------------
def test_the_clients_page_is_one_query_and_finds_by_any_word(repo: Repository, coach) -> None:
    trainer, _studio = coach
    for name in ("Priya Shah", "Tom Okafor", "Priya Patel"):
        add_client(repo, trainer, name)
    page, calls = counted(lambda: clients.clients_page(_deps(repo), trainer.id, "priya"))
    assert calls == 1
    assert [c.name for c in page.clients] == ["Priya Patel", "Priya Shah"]
    assert page.query == "priya"
    holds_no_service_objects(page)


def test_a_client_is_added_by_its_command_with_a_portal_link(repo: Repository, coach) -> None:
    trainer, _studio = coach
    command = AddClient(name="Priya Shah", phone="07400 123456", price="45")
    made, calls = counted(lambda: clients.create_client(_deps(repo), trainer, command))
    assert calls == 1  # one transaction: client, balance, link, index entry
    assert (made.phone, made.price_minor, made.created_at) == ("+447400123456", 4500, NOW)
    with pytest.raises(InvalidInput) as refused:
        clients.create_client(_deps(repo), trainer, AddClient(name="", phone="07400 123456"))
    assert refused.value.errors == {"name": "Enter the client's name."}


# The profile ------------------------------------------------------------------------------
def test_the_profile_page_is_five_reads_with_everything_the_page_shows(
    repo: Repository, coach
) -> None:
    trainer, studio = coach
    priya = add_client(repo, trainer, "Priya Shah", (studio,))
    booked = allocate(repo, trainer, add_slot(repo, trainer, studio), priya)
    page, calls = counted(lambda: clients.profile_page(_deps(repo), trainer, priya.id, BASE))
    # the client with their balance, the set-up read, upcoming, a page of history, bundles
    assert calls == 5
    assert page.client == priya
    assert page.prefill == {
        "name": "Priya Shah",
        "phone": "+44 7400 123456",
        "email": "",
        "price": "40.00",
        "shared_notes": "",
        "private_notes": "",
        "reminders_off": "",
        "booking_window_weeks": "",  # the trainer's default
        "cancel_deadline_hours": "",
        "version": str(priya.version),
    }
    assert page.enabled == {studio} and [loc.id for loc in page.locations] == [studio]
    assert [s.id for s in page.upcoming] == [booked.id] and page.history == ()
    assert page.owed.total_minor == 0 and page.bundles == ()
    assert page.places == {studio: "Studio"}
    token = runtime.links().portal(trainer.id, priya)
    assert page.portal_url == f"{BASE}/c/{token}"
    assert page.portal_url in page.share_text and not page.link_shared
    assert len(page.send_id) == 12
    holds_no_service_objects(page)


def test_the_profile_page_shows_the_boxes_a_refused_form_had_ticked(
    repo: Repository, coach
) -> None:
    trainer, studio = coach
    version = repo.get_setup(trainer.id).template.version
    wednesday = SaveSlot(
        weekday="2", start="09:00", end="10:00", location_id=studio, version=version
    )
    slot = account.save_template_slot(_deps(repo), trainer.id, wednesday)
    priya = add_client(repo, trainer, "Priya Shah")
    page = clients.profile_page(_deps(repo), trainer, priya.id, BASE, [], [slot.id])
    assert page.enabled == frozenset()
    (choice,) = page.recurring
    assert choice.checked and choice.problem == (
        "Wednesday 09:00–10:00 is at Studio, which is not enabled for this client."
    )
    assert clients.profile_page(_deps(repo), trainer, priya.id, BASE).recurring[0].checked is False


def test_another_trainers_client_has_no_profile_page(repo: Repository, coach) -> None:
    trainer, _studio = coach
    priya = add_client(repo, trainer, "Priya Shah")
    other = make_trainer(repo, "other@example.com")
    with pytest.raises(NotFound):
        clients.profile_page(_deps(repo), other, priya.id, BASE)
    with pytest.raises(NotFound):
        clients.change_client(_deps(repo), other, _profile(priya.id, 1), _no_base_url)


def test_a_profile_save_is_three_calls_and_asks_for_no_link(repo: Repository, coach) -> None:
    trainer, studio = coach
    priya = add_client(repo, trainer, "Priya Shah")
    command = _profile(priya.id, priya.version, location_ids=(studio,), shared_notes="Hi")
    done, calls = counted(
        lambda: clients.change_client(_deps(repo), trainer, command, _no_base_url)
    )
    assert done and calls == 3  # the client, the set-up read, one transaction
    saved = repo.get_client(trainer.id, priya.id)
    assert (saved.location_ids, saved.shared_notes, saved.price_minor) == ((studio,), "Hi", 4500)
    with pytest.raises(VersionConflict):  # the same form again: the client moved on
        clients.change_client(_deps(repo), trainer, command, _no_base_url)


def test_the_profile_buttons_archive_restore_and_rotate(repo: Repository, coach) -> None:
    trainer, _studio = coach
    priya = add_client(repo, trainer, "Priya Shah")

    def press(action: str) -> None:
        current = repo.get_client(trainer.id, priya.id)
        command = ClientAction(client_id=priya.id, action=action, version=current.version)  # type: ignore[arg-type]
        assert clients.change_client(_deps(repo), trainer, command, _no_base_url)

    press("archive")
    assert repo.get_client(trainer.id, priya.id).archived
    press("restore")
    restored = repo.get_client(trainer.id, priya.id)
    assert not restored.archived and restored.portal_generation == 2
    press("rotate")
    assert repo.get_client(trainer.id, priya.id).portal_generation == 3


def test_sending_the_portal_link_twice_from_one_page_queues_it_once(
    repo: Repository, coach
) -> None:
    trainer, _studio = coach
    priya = add_client(repo, trainer, "Priya Shah")
    command = SendPortalLink(client_id=priya.id, send_id="abcdefghijkl")
    assert clients.change_client(_deps(repo), trainer, command, lambda: BASE)
    assert not clients.change_client(_deps(repo), trainer, command, lambda: BASE)
    (message,) = repo.outbox.page(trainer.id, priya.id, None)[0]
    assert message.link is not None and message.link.base == BASE
    with pytest.raises(InvalidInput) as refused:
        expired = SendPortalLink(client_id=priya.id, send_id="")
        clients.change_client(_deps(repo), trainer, expired, lambda: BASE)
    assert refused.value.errors == {
        "_form": "This form has expired. Reload the page and try again."
    }


def test_copying_the_link_shown_ticks_it_and_a_replaced_one_is_refused(
    repo: Repository, coach
) -> None:
    trainer, _studio = coach
    priya = add_client(repo, trainer, "Priya Shah")
    stale = LinkCopied(client_id=priya.id, generation=priya.portal_generation + 1)
    with pytest.raises(InvalidInput) as refused:
        clients.link_copied(_deps(repo), trainer.id, stale)
    assert refused.value.errors == {"_form": "This portal link was replaced: copy the new one."}
    current = LinkCopied(client_id=priya.id, generation=priya.portal_generation)
    _none, calls = counted(lambda: clients.link_copied(_deps(repo), trainer.id, current))
    assert calls == 2  # the client, one transaction
    assert repo.get_account(trainer.id).link_shared(priya)

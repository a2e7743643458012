"""A bouncing address is not mailed again until edited (issue 14 item 8), where emails are
queued: a program's confirmations and the client's word for a portal action. The
bounce itself is marked by the write the webhook makes (repo/bounces.py)."""

from __future__ import annotations

import pytest

from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.messages import EMAIL, WHATSAPP
from chalicelib.repo import keys
from chalicelib.repo.bounces import EmailBounces
from chalicelib.repo.dynamo import Condition
from chalicelib.repo.repository import Repository
from chalicelib.services import account, sessions
from tests.integration.test_program_bundles import (
    Studio,
    add_person,
    confirm,
    messages_of,
    new_bundle,
)
from tests.support.builders import NOW, add_slot, allocate, client_now, make_trainer

ANA = "ana@example.com"


@pytest.fixture
def studio(repo: Repository) -> Studio:
    trainer = make_trainer(repo)
    location = account.add_location(repo, trainer.id, "Studio")
    refreshed = repo.get_trainer(trainer.id)
    assert refreshed is not None
    return Studio(refreshed, location.id, add_person(repo, refreshed, location.id, "Priya Shah"))


def test_confirmations_by_email_come_from_the_trainer_with_reply_to(
    repo: Repository, studio: Studio
) -> None:
    person = add_person(repo, studio.trainer, studio.location, "Ana Lima", ANA)
    bundle = new_bundle(repo, studio, 3, "90", client_id=person.id)
    assert confirm(repo, studio.trainer, bundle.id, "0") == 3
    queued = messages_of(repo, studio.trainer.id)
    assert {(m.channel, m.to, m.from_name, m.reply_to) for m in queued} == {
        (EMAIL, ANA, studio.trainer.display_name, studio.trainer.email)
    }


def test_confirmations_to_a_bouncing_address_go_by_whatsapp(
    repo: Repository, studio: Studio
) -> None:
    person = add_person(repo, studio.trainer, studio.location, "Ana Lima", ANA)
    assert EmailBounces(repo.db).mark_client_bouncing(studio.trainer.id, person.id, ANA)
    bundle = new_bundle(repo, studio, 3, "90", client_id=person.id)
    assert confirm(repo, studio.trainer, bundle.id, "0") == 3
    queued = messages_of(repo, studio.trainer.id)
    assert {(m.channel, m.to, m.subject, m.from_name) for m in queued} == {
        (WHATSAPP, person.phone, "", "")
    }


def test_a_bouncing_client_with_no_phone_is_told_in_words_and_nothing_is_queued(
    repo: Repository, studio: Studio
) -> None:
    person = add_person(repo, studio.trainer, studio.location, "Ana Lima", ANA)
    bundle = new_bundle(repo, studio, 3, "90", client_id=person.id)
    assert EmailBounces(repo.db).mark_client_bouncing(studio.trainer.id, person.id, ANA)
    # Clients written before a phone was required may have none.
    repo.db.update(
        keys.client(studio.trainer.id, person.id), Condition("SET phone = :none", {}, {":none": ""})
    )
    with pytest.raises(InvalidInput) as refused:
        confirm(repo, studio.trainer, bundle.id, "0")
    assert refused.value.errors == {"_form": "Ana's email bounced: fix it on their profile."}
    assert messages_of(repo, studio.trainer.id) == []


def test_a_portal_action_does_not_mail_a_bouncing_address(repo: Repository, studio: Studio) -> None:
    person = add_person(repo, studio.trainer, studio.location, "Ana Lima", ANA)
    slot = add_slot(repo, studio.trainer, studio.location)
    session = allocate(repo, studio.trainer, slot, person)
    assert EmailBounces(repo.db).mark_client_bouncing(studio.trainer.id, person.id, ANA)
    email_only = client_now(repo, studio.trainer.id, person).model_copy(update={"phone": ""})
    reach = sessions.client_reach(email_only)
    assert reach is None
    notices = sessions.client_action_notices(
        studio.trainer, email_only, reach, "booked", session, "http://testserver", NOW
    )
    # The trainer is still told (by email, their default); the client gets nothing.
    assert [m.kind for m in notices.messages] == ["notification"]
    (told,) = notices.messages
    assert (told.from_name, told.reply_to) == ("", "")


def test_a_client_with_only_an_email_hears_from_the_trainer(
    repo: Repository, studio: Studio
) -> None:
    person = add_person(repo, studio.trainer, studio.location, "Ana Lima", ANA)
    slot = add_slot(repo, studio.trainer, studio.location)
    session = allocate(repo, studio.trainer, slot, person)
    email_only = person.model_copy(update={"phone": ""})
    notices = sessions.client_action_notices(
        studio.trainer,
        email_only,
        sessions.client_reach(email_only),
        "booked",
        session,
        "http://testserver",
        NOW,
    )
    client_word = next(m for m in notices.messages if m.kind != "notification")
    assert (client_word.channel, client_word.to) == (EMAIL, ANA)
    assert (client_word.from_name, client_word.reply_to) == (
        studio.trainer.display_name,
        studio.trainer.email,
    )

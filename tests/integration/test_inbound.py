"""Recording inbound WhatsApp messages against the table: once per provider id, the
last-inbound time only ever moving forward, STOP / START, and the stale writes refused."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from chalicelib.domain.conversations import InboundMatch, Received
from chalicelib.domain.errors import NotFound, VersionConflict
from chalicelib.domain.models import Trainer
from chalicelib.messaging.payloads import Inbound
from chalicelib.repo import keys
from chalicelib.repo.repository import Repository
from chalicelib.services import conversations
from tests.support.builders import NOW, add_client, make_trainer, message_for
from tests.support.moto_tables import table_per_test
from tests.support.table import table_items, unchanged

moto_client, repo = table_per_test()

PRIYA_PHONE = "+447400123456"  # the builders' number for every client


def inbound(provider_id: str, at=NOW, text: str = "See you Thursday", sender: str = PRIYA_PHONE):
    return Inbound(
        provider="twilio",
        from_e164=sender,
        to="+14155238886",
        text=text,
        provider_message_id=provider_id,
        received_at=at,
    )


def _inbound_items(repo: Repository) -> list[dict]:
    return [i for i in table_items(repo) if i.get("type") == "inbound"]


@pytest.fixture
def priya(repo: Repository):
    trainer = make_trainer(repo)
    return trainer, add_client(repo, trainer, "Priya Shah")


def test_a_matched_inbound_is_kept_for_the_client_with_its_time_and_an_unread_count(
    repo: Repository, priya
) -> None:
    trainer, client = priya
    recorded = conversations.record_inbound(repo, inbound("SM1"))
    assert recorded.written and recorded.match.client_id == client.id
    assert repo.conversations.last_inbound_at(trainer.id, client.id) == NOW
    assert repo.conversations.unread(trainer.id, client.id) == 1
    (item,) = _inbound_items(repo)
    assert item[keys.CLIENT_PK] == keys.client_inbound(trainer.id, client.id)
    assert item["text"] == "See you Thursday"


def test_a_replayed_inbound_writes_nothing(repo: Repository, priya) -> None:
    conversations.record_inbound(repo, inbound("SM1"))
    with unchanged(repo):
        again = conversations.record_inbound(repo, inbound("SM1", at=NOW + timedelta(minutes=5)))
    assert not again.written


def test_an_older_inbound_delivered_late_is_kept_but_does_not_move_the_time_back(
    repo: Repository, priya
) -> None:
    trainer, client = priya
    conversations.record_inbound(repo, inbound("SM2", at=NOW))
    late = conversations.record_inbound(repo, inbound("SM1", at=NOW - timedelta(hours=3)))
    assert late.written
    assert repo.conversations.last_inbound_at(trainer.id, client.id) == NOW
    assert repo.conversations.unread(trainer.id, client.id) == 2
    assert len(_inbound_items(repo)) == 2


def test_two_inbounds_at_once_both_land_and_the_time_is_the_later(repo: Repository, priya) -> None:
    trainer, client = priya
    later = NOW + timedelta(seconds=30)
    messages = [inbound("SM1", at=NOW), inbound("SM2", at=later)] * 3  # replays too
    barrier = threading.Barrier(len(messages))

    def deliver(message: Inbound) -> None:
        barrier.wait()
        conversations.record_inbound(repo, message)

    threads = [threading.Thread(target=deliver, args=(m,)) for m in messages]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(i["provider_id"] for i in _inbound_items(repo)) == ["SM1", "SM2"]
    assert repo.conversations.last_inbound_at(trainer.id, client.id) == later
    assert repo.conversations.unread(trainer.id, client.id) == 2


def test_a_number_two_clients_share_is_kept_for_the_trainer_listing_both(
    repo: Repository, priya
) -> None:
    trainer, client = priya
    sam = add_client(repo, trainer, "Sam Shah")
    recorded = conversations.record_inbound(repo, inbound("SM1"))
    assert recorded.match.kind == "shared"
    (item,) = _inbound_items(repo)
    assert item[keys.TRAINER_PK] == keys.trainer_unmatched_inbound(trainer.id)
    assert sorted(item["client_ids"]) == sorted([client.id, sam.id])
    assert repo.conversations.last_inbound_at(trainer.id, client.id) is None  # not guessed


def test_an_unknown_number_is_kept_at_stage_level(repo: Repository, priya) -> None:
    recorded = conversations.record_inbound(repo, inbound("SM1", sender="+447700900123"))
    assert recorded.match.kind == "unknown" and recorded.match.trainer_id is None
    (item,) = _inbound_items(repo)
    assert item[keys.TRAINER_PK] == keys.STAGE_UNMATCHED_INBOUND
    assert keys.CLIENT_PK not in item


def test_stop_from_a_shared_number_opts_out_every_client_of_that_trainer_and_start_resumes(
    repo: Repository, priya
) -> None:
    trainer, client = priya
    sam = add_client(repo, trainer, "Sam Shah")
    other: Trainer = make_trainer(repo, "other@example.com")
    stranger = add_client(repo, other, "Other Client")
    # Two trainers have the number on the shared sender: unknown, nobody's choice changes.
    assert conversations.record_inbound(repo, inbound("SM0", text="STOP")).opt_out is None
    repo.save_client(other.id, stranger, archived=True)

    stopped = conversations.record_inbound(repo, inbound("SM1", text=" stop "))
    assert stopped.opt_out is True
    assert all(repo.get_client(trainer.id, c.id).messages_opt_out for c in (client, sam))
    started = conversations.record_inbound(repo, inbound("SM2", text="START"))
    assert started.opt_out is False
    assert not any(repo.get_client(trainer.id, c.id).messages_opt_out for c in (client, sam))


def test_a_replayed_stop_after_start_changes_nothing(repo: Repository, priya) -> None:
    trainer, client = priya
    conversations.record_inbound(repo, inbound("SM1", text="STOP"))
    conversations.record_inbound(repo, inbound("SM2", text="START"))
    with unchanged(repo):
        conversations.record_inbound(repo, inbound("SM1", text="STOP"))
    assert not repo.get_client(trainer.id, client.id).messages_opt_out


# stale objects -------------------------------------------------------------------------
def test_a_profile_form_drawn_before_a_stop_is_refused_and_keeps_the_opt_out(
    repo: Repository, priya
) -> None:
    trainer, client = priya  # the form's view of the client, read before the STOP
    conversations.record_inbound(repo, inbound("SM1", text="STOP"))
    with unchanged(repo), pytest.raises(VersionConflict):
        repo.save_client(trainer.id, client, name="Priya S.")
    assert repo.get_client(trainer.id, client.id).messages_opt_out


def test_an_opt_out_for_a_client_deleted_meanwhile_writes_nothing(repo: Repository, priya) -> None:
    trainer, client = priya
    with unchanged(repo), pytest.raises(NotFound):
        repo.set_messages_opt_out(trainer.id, [client.id, "gone"], True)


def test_an_inbound_already_written_refuses_the_transaction_that_would_write_it_again(
    repo: Repository, priya
) -> None:
    # The write's own condition, without the service: a second writer holding the same
    # provider id (another webhook delivery) writes nothing, summary included.
    trainer, client = priya
    conversations.record_inbound(repo, inbound("SM1"))
    match = InboundMatch("client", trainer.id, client_id=client.id)
    with unchanged(repo):
        assert not repo.conversations.record_inbound(
            Received("twilio", "SM1", PRIYA_PHONE, "+14155238886", "hi", "text", NOW), match
        )


def test_the_dispatchers_window_check_reads_the_last_inbound(repo: Repository, priya) -> None:
    trainer, client = priya
    message = message_for(client, "2026-W48", client.id, kind="portal_link")
    clock = [NOW]
    check = conversations.window_check(repo, lambda: clock[0])
    assert not check(trainer.id, message)
    conversations.record_inbound(repo, inbound("SM1"))
    assert check(trainer.id, message)
    clock[0] = NOW + timedelta(hours=24)
    assert not check(trainer.id, message)


def test_the_trainers_notification_never_rides_the_clients_window(repo: Repository, priya) -> None:
    # The notification names the client (client_id) but goes to the trainer's own number,
    # whose window the client's message cannot open.
    trainer, client = priya
    conversations.record_inbound(repo, inbound("SM1"))
    check = conversations.window_check(repo, lambda: NOW)
    to_client = message_for(client, "2026-W48", client.id, kind="confirmation")
    to_trainer = to_client.model_copy(update={"kind": "notification", "to": "+447400654321"})
    assert check(trainer.id, to_client)
    assert not check(trainer.id, to_trainer)


def test_a_reply_keeps_which_of_our_messages_it_answers(repo: Repository, priya) -> None:
    answer = inbound("SM2")
    answer = Inbound(**{**answer.__dict__, "replied_to": "SM" + "ab" * 16})
    conversations.record_inbound(repo, answer)
    conversations.record_inbound(repo, inbound("SM3"))  # just writing: nothing kept
    kept = {
        i["provider_id"]: i.get("replied_to")
        for i in table_items(repo)
        if i.get("type") == "inbound"
    }
    assert kept == {"SM2": "SM" + "ab" * 16, "SM3": None}

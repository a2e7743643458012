"""The outbox's conditional writes refuse a dispatcher run's stale view of a message:
claim, sent, retry, failed and delivery reports each get a message read before another
run (or a report) moved it on, and must leave the message as that other writer left it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.domain.messages import INTERRUPTED, SENDING_LEASE, Message
from chalicelib.domain.models import Trainer
from chalicelib.repo import keys
from chalicelib.repo.repository import Repository
from tests.support.builders import NOW, add_client, make_trainer, message_for
from tests.support.moto_tables import table_per_test
from tests.support.table import raw_set, table_items, unchanged

LEASE_OVER = NOW + SENDING_LEASE + timedelta(seconds=1)

moto_client, repo = table_per_test()  # a fresh table per test, one moto per module


@pytest.fixture
def queued(repo: Repository) -> tuple[Trainer, Message]:
    """One queued WhatsApp message (the portal link), as the dispatcher reads it."""
    trainer = make_trainer(repo)
    priya = add_client(repo, trainer, "Priya Shah")
    message = message_for(priya, "2026-W48", priya.id, kind="portal_link")
    assert repo.queue_portal_link(trainer.id, priya, message)
    ((tid, due),) = repo.outbox.due(NOW)
    assert tid == trainer.id and due.status == "queued" and due.attempts == 0
    return trainer, due


def _stored(repo: Repository, trainer: Trainer, message: Message) -> dict:
    key = keys.message(trainer.id, message.week, message.subject_id, message.id)
    (item,) = [i for i in table_items(repo) if i["PK"] == key["PK"] and i["SK"] == key["SK"]]
    return item


def _claim(repo: Repository, trainer: Trainer, message: Message, now=NOW) -> Message:
    claimed = repo.outbox.claim(trainer.id, message, now, now + SENDING_LEASE)
    assert claimed is not None
    return claimed


def _interrupted(repo: Repository, trainer: Trainer, claimed: Message) -> None:
    """Another run finds the claim's lease over and marks the message failed."""
    ((_tid, seen),) = repo.outbox.due(LEASE_OVER)
    assert repo.outbox.mark_failed(trainer.id, seen, INTERRUPTED, LEASE_OVER, held=False)


# claim -------------------------------------------------------------------------------------
def test_a_message_claimed_by_another_run_since_it_was_read_is_not_claimed_again(
    repo: Repository, queued
) -> None:
    trainer, seen = queued
    _claim(repo, trainer, seen)
    with unchanged(repo):
        assert repo.outbox.claim(trainer.id, seen, NOW, NOW + SENDING_LEASE) is None


def test_a_message_retried_since_it_was_read_is_claimed_only_at_its_new_attempt(
    repo: Repository, queued
) -> None:
    trainer, seen = queued  # attempt 0
    first = _claim(repo, trainer, seen)
    assert repo.outbox.retry_later(trainer.id, first, "busy", NOW, NOW)  # queued, attempt 1
    with unchanged(repo):
        assert repo.outbox.claim(trainer.id, seen, NOW, NOW + SENDING_LEASE) is None


def test_a_sent_message_is_never_claimed_at_its_own_attempt_number(
    repo: Repository, queued
) -> None:
    trainer, seen = queued
    claimed = _claim(repo, trainer, seen)
    repo.outbox.mark_sent(trainer.id, claimed, "log", "p-1", NOW)
    with unchanged(repo):
        assert repo.outbox.claim(trainer.id, claimed, NOW, NOW + SENDING_LEASE) is None


# sent, retry, failed -----------------------------------------------------------------------
def test_a_send_finishing_after_its_lease_was_declared_over_stays_failed(
    repo: Repository, queued
) -> None:
    trainer, seen = queued
    claimed = _claim(repo, trainer, seen)
    _interrupted(repo, trainer, claimed)
    repo.outbox.mark_sent(trainer.id, claimed, "twilio", "SM1", LEASE_OVER)
    stored = _stored(repo, trainer, claimed)
    assert stored["status"] == "failed" and stored["error"] == INTERRUPTED
    assert keys.DUE_PK not in stored and stored["attempts"] == 1


def test_a_send_from_an_older_attempt_leaves_the_current_attempt_sending(
    repo: Repository, queued
) -> None:
    trainer, seen = queued
    first = _claim(repo, trainer, seen)
    assert repo.outbox.retry_later(trainer.id, first, "busy", NOW, NOW)
    ((_tid, again),) = repo.outbox.due(NOW)
    second = _claim(repo, trainer, again)  # attempt 2, held by another run
    held = _stored(repo, trainer, second)
    repo.outbox.mark_sent(trainer.id, first, "twilio", "SM1", NOW)
    stored = _stored(repo, trainer, second)
    assert stored["status"] == "sending" and stored["attempts"] == 2
    assert stored[keys.DUE_SK] == held[keys.DUE_SK]
    assert stored.get("provider_id") is None  # the older run records nothing on attempt 2


def test_a_retry_after_the_lease_was_declared_over_is_refused(repo: Repository, queued) -> None:
    trainer, seen = queued
    claimed = _claim(repo, trainer, seen)
    _interrupted(repo, trainer, claimed)
    with unchanged(repo):
        assert not repo.outbox.retry_later(trainer.id, claimed, "busy", LEASE_OVER, LEASE_OVER)


def test_a_retry_from_an_older_attempt_is_refused(repo: Repository, queued) -> None:
    trainer, seen = queued
    first = _claim(repo, trainer, seen)
    assert repo.outbox.retry_later(trainer.id, first, "busy", NOW, NOW)
    ((_tid, again),) = repo.outbox.due(NOW)
    _claim(repo, trainer, again)
    with unchanged(repo):
        assert not repo.outbox.retry_later(trainer.id, first, "busy", NOW, NOW)


def test_a_failure_after_the_lease_was_declared_over_is_refused(repo: Repository, queued) -> None:
    trainer, seen = queued
    claimed = _claim(repo, trainer, seen)
    _interrupted(repo, trainer, claimed)
    with unchanged(repo):
        assert not repo.outbox.mark_failed(trainer.id, claimed, "bad number", LEASE_OVER)


def test_an_abandoned_claim_is_not_failed_once_its_send_was_recorded_since(
    repo: Repository, queued
) -> None:
    trainer, seen = queued
    claimed = _claim(repo, trainer, seen)
    ((_tid, abandoned),) = repo.outbox.due(LEASE_OVER)  # looks abandoned to a second run
    repo.outbox.mark_sent(trainer.id, claimed, "log", "p-1", LEASE_OVER)  # ...but it finished
    with unchanged(repo):
        assert not repo.outbox.mark_failed(
            trainer.id, abandoned, INTERRUPTED, LEASE_OVER, held=False
        )


def test_an_abandoned_claim_is_not_failed_once_its_run_queued_a_retry_since(
    repo: Repository, queued
) -> None:
    # The retry is due exactly when the lease ends, so only the status tells them apart.
    trainer, seen = queued
    claimed = _claim(repo, trainer, seen)
    ((_tid, abandoned),) = repo.outbox.due(LEASE_OVER)
    lease_end = claimed.next_attempt_at
    assert lease_end is not None
    assert repo.outbox.retry_later(trainer.id, claimed, "busy", lease_end, NOW)
    with unchanged(repo):
        assert not repo.outbox.mark_failed(
            trainer.id, abandoned, INTERRUPTED, LEASE_OVER, held=False
        )


def test_an_abandoned_claim_is_failed_only_at_the_lease_it_was_seen_with(
    repo: Repository, queued
) -> None:
    # Constructed: the item holds a later lease at the same attempt (claims always bump
    # the attempt, so the app never does this); the lease seen is not the one held.
    trainer, seen = queued
    claimed = _claim(repo, trainer, seen)
    ((_tid, abandoned),) = repo.outbox.due(LEASE_OVER)
    key = keys.message(trainer.id, claimed.week, claimed.subject_id, claimed.id)
    raw_set(repo, key, DueSK=keys.due_sk("2026-11-23T10:00:00Z", claimed.id))
    with unchanged(repo):
        assert not repo.outbox.mark_failed(
            trainer.id, abandoned, INTERRUPTED, LEASE_OVER, held=False
        )


# Delivery reports ----------------------------------------------------------------------------
def _report(repo: Repository, trainer: Trainer, message: Message, status: str) -> bool:
    return repo.outbox.record_delivery(
        trainer.id, message.week, message.subject_id, message.id, status, NOW
    )


def test_a_late_delivered_report_after_read_changes_nothing(repo: Repository, queued) -> None:
    trainer, seen = queued
    claimed = _claim(repo, trainer, seen)
    repo.outbox.mark_sent(trainer.id, claimed, "twilio", "SM1", NOW)
    assert _report(repo, trainer, claimed, "read")
    with unchanged(repo):
        assert _report(repo, trainer, claimed, "delivered") is False


def test_a_report_for_an_unknown_message_writes_nothing(repo: Repository, queued) -> None:
    trainer, seen = queued
    ghost = seen.model_copy(update={"id": "no-such-message"})
    with unchanged(repo):
        assert _report(repo, trainer, ghost, "delivered") is False

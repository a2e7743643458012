"""A refused transaction names the part that refused: no caller decodes by position."""

from __future__ import annotations

import pytest

from chalicelib import runtime
from chalicelib.domain.clients import AddClient
from chalicelib.domain.schedule import book
from chalicelib.repo import parts
from chalicelib.repo.dynamo import PART_KEY, TransactionFailed
from chalicelib.repo.repository import Repository
from chalicelib.services import clients, schedule
from tests.integration.test_repository import make_trainer
from tests.integration.test_schedule_repository import NOW, slot_form


@pytest.fixture
def coach(repo: Repository):
    from chalicelib.services import account

    trainer = make_trainer(repo)
    studio = account.add_location(repo, trainer.id, "Studio")
    refreshed = repo.get_trainer(trainer.id)
    assert refreshed is not None
    return refreshed, studio.id


def _client(repo: Repository, trainer):
    form = {"name": "Priya Shah", "phone": "07400 123456", "email": "", "price": "45"}
    return clients.add_client(repo, runtime.links(), trainer, AddClient.model_validate(form), NOW)


def test_the_refusing_part_is_named_and_the_others_are_not(repo: Repository, coach) -> None:
    trainer, studio = coach
    slot = schedule.add_slot(repo, trainer, slot_form("09:00", "10:00", studio), NOW)
    priya = _client(repo, trainer)
    _, session = book(slot, "s1", priya.id, priya.name, "manual", NOW)
    operations = [
        parts.take_open_slot(trainer.id, slot, session.id, NOW),
        parts.new_session(trainer.id, session),
        parts.client_is_active(trainer.id, priya.id),
    ]
    assert all(PART_KEY in op for op in operations)
    clients.archive(repo, trainer.id, priya, priya.version)
    with pytest.raises(TransactionFailed) as refused:
        repo.db.transact(operations)
    assert refused.value.refused_parts == [parts.CLIENT_ACTIVE]
    assert refused.value.refused(parts.CLIENT_ACTIVE)
    assert not refused.value.refused(parts.TAKE_OPEN_SLOT, parts.NEW_SESSION)
    # nothing was written: the slot is still open
    assert repo.get_week(trainer.id, slot.week)[0].session_id is None


def test_a_stale_slot_is_refused_by_take_open_slot_itself(repo: Repository, coach) -> None:
    trainer, studio = coach
    stale = schedule.add_slot(repo, trainer, slot_form("09:00", "10:00", studio), NOW)
    other = schedule.add_slot(repo, trainer, slot_form("11:00", "12:00", studio), NOW)
    # the slot moves to another location after it was read: its version moves on
    repo.move_slot_location(trainer.id, stale, studio)
    priya = _client(repo, trainer)
    _, session = book(stale, "s1", priya.id, priya.name, "manual", NOW)
    with pytest.raises(TransactionFailed) as refused:
        repo.db.transact([parts.take_open_slot(trainer.id, stale, session.id, NOW)])
    assert refused.value.refused_parts == [parts.TAKE_OPEN_SLOT]
    # tags tell which of many parts refused (a bundle's dates, a batch of messages)
    from chalicelib.repo.dynamo import tagged

    batch = [
        *tagged([parts.take_open_slot(trainer.id, other, "s2", NOW)], 0),
        *tagged([parts.take_open_slot(trainer.id, stale, "s3", NOW)], 1),
    ]
    with pytest.raises(TransactionFailed) as refused:
        repo.db.transact(batch)
    assert refused.value.refused_tags(parts.TAKE_OPEN_SLOT) == {1}

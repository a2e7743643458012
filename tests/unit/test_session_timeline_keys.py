"""`mapping.session_to_item`'s index keys per status: a canceled or moved session leaves
the Sessions tab's TrainerTimeline partition for the gone one (the trainer's calendar feed
reads both), in the same item, so the write that changes the status moves it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from chalicelib.domain.schedule import Session
from chalicelib.repo import keys
from chalicelib.repo.dynamo import to_attrs
from chalicelib.repo.mapping import session_from_item, session_to_item

START = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)


def session(status: str) -> Session:
    return Session(
        id="sess1",
        slot_id="slot1",
        client_id="c1",
        client_name="Priya Shah",
        day=date(2026, 11, 25),
        start=18 * 60,
        end=19 * 60,
        start_utc=START,
        end_utc=START + timedelta(hours=1),
        location_id="studio",
        kind="manual",
        status=status,
        created_at=datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
        version=3,
    )


@pytest.mark.parametrize(
    ("status", "partition"),
    [
        ("booked", "T#t1#SESSIONS"),
        ("voided", "T#t1#SESSIONS"),  # still in the Sessions tab, as before
        ("canceled", "T#t1#SESSIONS#GONE"),
        ("moved", "T#t1#SESSIONS#GONE"),
    ],
)
def test_each_status_keeps_trainer_timeline_keys_in_its_partition(
    status: str, partition: str
) -> None:
    item = session_to_item("t1", session(status))
    sort_key = "20261125T180000Z#sess1"
    assert item[keys.TRAINER_PK] == partition
    assert item[keys.TRAINER_SK] == sort_key  # the Sessions tab's sort key, either way
    # The client's timeline keeps every session in one partition, whatever its status.
    assert item[keys.CLIENT_PK] == keys.client_timeline("t1", "c1")
    assert item[keys.CLIENT_SK] == sort_key
    assert keys.TRAINER_PK in to_attrs(item)  # never None: written with the item
    assert session_from_item(item).status == status


def test_the_gone_partition_is_not_the_sessions_tabs_nor_another_trainers() -> None:
    assert keys.trainer_gone_timeline("t1") != keys.trainer_timeline("t1")
    assert keys.trainer_gone_timeline("t1") != keys.trainer_gone_timeline("t2")
    # Nor any other TrainerTimeline partition of the same trainer.
    others = {
        keys.trainer_timeline("t1"),
        keys.trainer_messages("t1"),
        keys.trainer_bundles("t1"),
        keys.trainer_conversations("t1"),
    }
    assert keys.trainer_gone_timeline("t1") not in others

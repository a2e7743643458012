"""The `Bookings` metric (docs/observability.md) counts each session booked, once, where
the booking's write succeeded: by the trainer, by a client on the portal; a refused
booking counts nothing."""

from __future__ import annotations

import json

import pytest

from chalicelib import observability, runtime
from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.portal import BookSlot
from chalicelib.repo.repository import Repository
from chalicelib.services import portal, schedule
from tests.integration.test_portal_races import _client, _deps, _home, studio  # noqa: F401
from tests.integration.test_schedule_repository import NOW, slot_form


@pytest.fixture
def bookings_counted(capsys: pytest.CaptureFixture[str]):
    observability.publish_metrics(True)
    capsys.readouterr()

    def counted() -> int:
        lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
        return sum(int(doc.get("Bookings", 0)) for doc in lines if "_aws" in doc)

    yield counted
    observability.publish_metrics(None)


def test_a_trainer_booking_and_a_client_booking_count_one_each_and_a_refusal_none(
    repo: Repository,
    studio,  # noqa: F811
    bookings_counted,
) -> None:
    trainer, location = studio
    evening = schedule.add_slot(repo, trainer, slot_form("18:00", "19:00", location), NOW)
    morning = schedule.add_slot(repo, trainer, slot_form("09:00", "10:00", location), NOW)
    sam, ana = (_client(repo, trainer, location, n) for n in (1, 2))
    assert bookings_counted() == 0

    schedule.allocate(repo, runtime.links(), trainer, morning, sam.id, "1", NOW)
    assert bookings_counted() == 1

    pick = BookSlot(week=evening.week, slot_id=evening.id)
    portal.book_slot(_deps(repo), _home(trainer, ana), pick)
    assert bookings_counted() == 1

    with pytest.raises(InvalidInput):  # the slot is taken now
        portal.book_slot(_deps(repo), _home(trainer, sam), pick)
    assert bookings_counted() == 0

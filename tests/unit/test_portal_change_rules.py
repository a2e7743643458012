"""Whether the client may still change a session online: one rule, used by the portal's
service (the form) and its page (the "too late" notice)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from chalicelib.domain.portal import client_may_change, default_rules, past_the_deadline
from chalicelib.domain.schedule import book, make_slot
from chalicelib.domain.settings import TrainerSettings

START = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)  # Wednesday 18:00 in London (GMT)
RULES = default_rules(TrainerSettings(cancel_deadline_hours=36))


def _session(status: str = "booked"):
    slot = make_slot("s", date(2026, 11, 25), 18 * 60, 19 * 60, "studio", "Europe/London")
    _, session = book(slot, "x", "c", "Priya", "manual", START - timedelta(days=7))
    return session.model_copy(update={"status": status})


@pytest.mark.parametrize(
    ("before", "may_change", "too_late"),
    [
        (timedelta(hours=36, minutes=1), True, False),
        (timedelta(hours=36), True, False),  # exactly at the deadline: still allowed
        (timedelta(hours=35, minutes=59), False, True),
        (timedelta(minutes=1), False, True),
        (timedelta(0), False, False),  # started: neither changeable nor "contact me"
        (-timedelta(hours=1), False, False),
    ],
)
def test_the_deadline_splits_change_online_from_contact_the_trainer(
    before: timedelta, may_change: bool, too_late: bool
) -> None:
    now = START - before
    assert client_may_change(_session(), RULES, now) is may_change
    assert past_the_deadline(_session(), RULES, now) is too_late


@pytest.mark.parametrize("status", ["canceled", "moved", "voided"])
def test_a_session_that_is_not_booked_is_never_changeable(status: str) -> None:
    now = START - timedelta(days=5)
    assert not client_may_change(_session(status), RULES, now)
    assert not past_the_deadline(_session(status), RULES, now)

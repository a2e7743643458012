"""Inbound matching, the 24-hour window's edges, and STOP / START parsing (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.conversations import (
    InboundMatch,
    PhoneOwner,
    match_inbound,
    opt_out_word,
    window_open,
)

LAST = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _owner(trainer: str, client: str, archived: bool = False) -> PhoneOwner:
    return PhoneOwner(trainer_id=trainer, client_id=client, archived=archived)


def test_one_active_client_of_one_trainer_is_that_client() -> None:
    owners = [_owner("t1", "c1"), _owner("t1", "c0", archived=True)]
    assert match_inbound(owners, None) == InboundMatch("client", "t1", client_id="c1")


def test_two_clients_of_one_trainer_are_a_shared_number_listing_both_never_a_guess() -> None:
    owners = [_owner("t1", "c2"), _owner("t1", "c1")]
    assert match_inbound(owners, None) == InboundMatch("shared", "t1", client_ids=("c1", "c2"))


def test_nobody_with_the_number_on_the_shared_sender_is_unknown_at_stage_level() -> None:
    assert match_inbound([], None) == InboundMatch("unknown", None)
    assert match_inbound([_owner("t1", "c1", archived=True)], None) == InboundMatch("unknown", None)


def test_clients_of_two_trainers_on_the_shared_sender_is_unknown_not_a_guess() -> None:
    owners = [_owner("t1", "c1"), _owner("t2", "c9")]
    assert match_inbound(owners, None) == InboundMatch("unknown", None)


def test_a_trainers_own_sender_looks_only_at_their_clients() -> None:
    owners = [_owner("t1", "c1"), _owner("t2", "c9")]
    assert match_inbound(owners, "t2") == InboundMatch("client", "t2", client_id="c9")
    assert match_inbound([_owner("t1", "c1")], "t2") == InboundMatch("unknown", "t2")


@pytest.mark.parametrize(
    ("after", "is_open"),
    [
        (timedelta(0), True),
        (timedelta(hours=23, minutes=59, seconds=59), True),
        (timedelta(hours=24), False),  # exactly 24 h: closed, the template goes
        (timedelta(hours=24, seconds=1), False),
    ],
)
def test_the_window_is_open_until_exactly_24_hours_after_the_last_inbound(
    after: timedelta, is_open: bool
) -> None:
    assert window_open(LAST, LAST + after) is is_open


def test_no_inbound_ever_means_the_window_is_closed() -> None:
    assert window_open(None, LAST) is False


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("STOP", "stop"),
        ("  stop \n", "stop"),
        ("Stop", "stop"),
        ("UNSUBSCRIBE", "stop"),
        ("start", "start"),
        (" START ", "start"),
        ("please stop the reminders", None),
        ("stopp", None),
        ("", None),
        ("STOP STOP", None),
    ],
)
def test_stop_and_start_are_the_whole_message_in_any_case(text: str, word: str | None) -> None:
    assert opt_out_word(text) == word

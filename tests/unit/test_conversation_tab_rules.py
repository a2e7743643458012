"""The conversation rules that need no table: a message's one-line preview, the reply
window in words, a reply's text, and one conversation update per client per transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.conversations import (
    PREVIEW_CHARS,
    REPLY_MAX_CHARS,
    preview,
    reply_problem,
    window_closes_at,
)
from chalicelib.domain.messages import LINK_PLACEHOLDER, TRAINER_NOTIFICATION, Message
from chalicelib.repo import keys
from chalicelib.repo.parts import CONVERSATION, conversation_parts, message_parts
from chalicelib.services.whatsapp_tab import window_words

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _message(client_id: str, n: int, kind: str = "confirmation") -> Message:
    return Message(
        id=f"m{n}",
        week="2026-W48",
        subject_id="s1",
        subject_ref="",
        client_id=client_id,
        client_name=client_id.title(),
        kind=kind,
        channel="whatsapp",
        to="+447400123456",
        text=f"Message {n}",
        created_at=NOW + timedelta(seconds=n),
    )


def test_a_preview_is_one_line_names_the_link_and_is_cut_with_an_ellipsis() -> None:
    assert preview(f"Hi Priya,\n\nyour link:  {LINK_PLACEHOLDER}", LINK_PLACEHOLDER) == (
        "Hi Priya, your link: (link)"
    )
    long = preview("word " * 100, LINK_PLACEHOLDER)
    assert len(long) <= PREVIEW_CHARS and long.endswith("…") and "\n" not in long
    assert preview("", LINK_PLACEHOLDER) == ""


def test_the_window_closes_24_hours_after_the_clients_last_message() -> None:
    assert window_closes_at(None) is None
    assert window_closes_at(NOW) == NOW + timedelta(hours=24)


@pytest.mark.parametrize(
    ("last", "now", "words"),
    [
        (None, NOW, "Templates only: the client has not written to you yet"),
        (NOW, NOW + timedelta(hours=1), "Reply possible until Tue 09:00"),
        (NOW, NOW + timedelta(hours=24), "Templates only: the client has not written in 24 h"),
        # British Summer Time: the trainer's clock, not UTC (13:32 UTC is 14:32 in London).
        (
            datetime(2026, 6, 1, 13, 32, tzinfo=UTC),
            datetime(2026, 6, 1, 14, 0, tzinfo=UTC),
            "Reply possible until Tue 14:32",
        ),
    ],
)
def test_the_window_in_words_in_the_trainers_zone(last, now, words: str) -> None:
    assert window_words(last, "Europe/London", now) == words


def test_a_reply_needs_words_and_at_most_a_thousand_characters() -> None:
    assert reply_problem("   ") == {"text": "Write a message first."}
    assert reply_problem("x" * REPLY_MAX_CHARS) is None
    assert reply_problem("x" * (REPLY_MAX_CHARS + 1)) == {
        "text": "Keep it to 1000 characters (this one has 1001)."
    }


def test_one_conversation_update_per_client_from_their_latest_message() -> None:
    batch = [_message("priya", 2), _message("priya", 5), _message("omar", 1), _message("priya", 3)]
    parts = conversation_parts("t1", batch)
    assert len(parts) == 2 and all(p["_part"].name == CONVERSATION for p in parts)
    by_client = {p["Update"]["Key"]["PK"]["S"]: p["Update"] for p in parts}
    priya = by_client[keys.conversation("t1", "priya")[keys.PK]]
    assert priya["ExpressionAttributeValues"][":text"] == {"S": "Message 5"}
    assert "ConditionExpression" not in priya  # it can never refuse the message's write


def test_the_trainers_notification_is_not_part_of_the_clients_conversation() -> None:
    parts = message_parts("t1", [_message("priya", 1, TRAINER_NOTIFICATION)])
    assert [p["_part"].name for p in parts] == ["new message"]

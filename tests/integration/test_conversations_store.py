"""The WhatsApp tab's conversation index and a conversation's reads and writes, against
the table: one entry per conversation moved by every message in or out (never twice in
one transaction), a number's row for shared and unknown senders, a conversation merged
and paged across both directions, "mark read" that cannot lose an inbound, and a reply
written once, only inside the window, only to an active client."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from chalicelib.domain.clients import Client
from chalicelib.domain.conversations import InboundMatch, InboundMessage, Received
from chalicelib.domain.messages import TRAINER_NOTIFICATION, Message
from chalicelib.domain.models import Trainer
from chalicelib.repo import keys
from chalicelib.repo.conversations import WindowClosed
from chalicelib.repo.parts import ClientUnavailable, Notices, message_parts, notice_parts
from chalicelib.repo.repository import Repository
from tests.support.builders import NOW, add_client, archive_client, make_trainer, message_for
from tests.support.moto_tables import table_per_test
from tests.support.race import race
from tests.support.table import table_items, unchanged

moto_client, repo = table_per_test()

WEEK = "2026-W48"


def received(
    provider_id: str, at=NOW, text: str = "See you Thursday", sender: str = "+447400123456"
):
    return Received(
        provider="twilio",
        provider_message_id=provider_id,
        from_e164=sender,
        to="+14155238886",
        text=text,
        kind="text",
        received_at=at,
    )


def client_wrote(repo: Repository, trainer: Trainer, client: Client, provider_id: str, at=NOW):
    match = InboundMatch("client", trainer.id, client_id=client.id)
    assert repo.conversations.record_inbound(received(provider_id, at), match)


def queue(repo: Repository, trainer: Trainer, *messages: Message) -> None:
    repo.db.transact(message_parts(trainer.id, messages))


def tab(repo: Repository, trainer: Trainer) -> list[tuple[str, str, str]]:
    found, _ = repo.conversations.summaries(trainer.id, None)
    return [(s.client_id or s.number, s.last_direction, s.last_text) for s in found]


@pytest.fixture
def scene(repo: Repository) -> tuple[Trainer, Client, Client]:
    trainer = make_trainer(repo)
    return (
        trainer,
        add_client(repo, trainer, "Priya Shah"),
        add_client(repo, trainer, "Omar Haddad"),
    )


# The index ---------------------------------------------------------------------------------
def test_each_message_in_or_out_moves_its_conversation_to_the_top_once(
    repo: Repository, scene
) -> None:
    trainer, priya, omar = scene
    client_wrote(repo, trainer, priya, "SM1", NOW)
    queue(repo, trainer, message_for(omar, WEEK, omar.id, now=NOW + timedelta(minutes=1)))
    assert tab(repo, trainer) == [
        (omar.id, "out", "A message"),
        (priya.id, "in", "See you Thursday"),
    ]
    client_wrote(repo, trainer, priya, "SM2", NOW + timedelta(minutes=2))
    assert [row[0] for row in tab(repo, trainer)] == [priya.id, omar.id]
    (summary, _) = repo.conversations.summaries(trainer.id, None)[0]
    assert summary.unread == 2 and summary.last_inbound_at == NOW + timedelta(minutes=2)


def test_a_client_message_and_the_trainers_notification_in_one_transaction_move_it_once(
    repo: Repository, scene
) -> None:
    """DynamoDB refuses two operations on one item in a transaction: the confirmation and
    the trainer's word about the same client make one conversation update, the client's."""
    trainer, priya, _ = scene
    confirmation = message_for(priya, WEEK, "s1", kind="booked", text="You are booked ⟦link⟧")
    notification = message_for(priya, WEEK, "s1", kind=TRAINER_NOTIFICATION, text="Priya booked")
    parts = notice_parts(trainer.id, Notices((confirmation, notification)))
    assert sum(1 for p in parts if "Update" in p) == 1
    repo.db.transact(parts)
    assert tab(repo, trainer) == [(priya.id, "out", "You are booked (link)")]


def test_many_messages_to_one_client_in_one_transaction_show_the_latest(
    repo: Repository, scene
) -> None:
    trainer, priya, _ = scene
    batch = [
        message_for(priya, WEEK, f"s{n}", now=NOW + timedelta(seconds=n), text=f"Session {n}")
        for n in range(5)
    ]
    queue(repo, trainer, *reversed(batch))
    assert tab(repo, trainer) == [(priya.id, "out", "Session 4")]


def test_a_long_message_is_kept_as_a_one_line_preview(repo: Repository, scene) -> None:
    trainer, priya, _ = scene
    queue(repo, trainer, message_for(priya, WEEK, priya.id, text="Hi Priya,\n\n" + "x" * 400))
    ((_, _, text),) = tab(repo, trainer)
    assert text.startswith("Hi Priya, xxx") and len(text) == 120 and text.endswith("…")


def test_a_shared_number_and_an_unknown_one_get_a_row_each_never_a_client(
    repo: Repository, scene
) -> None:
    trainer, priya, omar = scene
    shared = InboundMatch("shared", trainer.id, client_ids=(omar.id, priya.id))
    assert repo.conversations.record_inbound(received("SM1", NOW), shared)
    unknown = InboundMatch("unknown", trainer.id)
    stranger = "+447700900123"
    assert repo.conversations.record_inbound(
        received("SM2", NOW + timedelta(minutes=1), "Who is this?", stranger), unknown
    )
    # The stage's own inbox is nobody's conversation.
    assert repo.conversations.record_inbound(
        received("SM3", NOW, sender="+447700900999"), InboundMatch("unknown", None)
    )
    found, _ = repo.conversations.summaries(trainer.id, None)
    assert [(s.kind, s.number, s.client_id) for s in found] == [
        ("unknown", stranger, ""),
        ("shared", "+447400123456", ""),
    ]
    assert found[1].client_ids == (omar.id, priya.id)
    # An older message from the shared number arriving late is kept, the row stays.
    assert repo.conversations.record_inbound(
        received("SM0", NOW - timedelta(hours=1), "Earlier"), shared
    )
    assert tab(repo, trainer)[1] == ("+447400123456", "in", "See you Thursday")
    assert len([i for i in table_items(repo) if i.get("type") == "inbound"]) == 4


def test_a_replayed_shared_inbound_writes_nothing(repo: Repository, scene) -> None:
    trainer, priya, omar = scene
    shared = InboundMatch("shared", trainer.id, client_ids=(omar.id, priya.id))
    assert repo.conversations.record_inbound(received("SM1"), shared)
    with unchanged(repo):
        assert not repo.conversations.record_inbound(received("SM1"), shared)


def test_the_tab_pages_by_twenty_and_ignores_a_foreign_cursor(repo: Repository) -> None:
    trainer = make_trainer(repo)
    other = make_trainer(repo, "other@example.com")
    people = [add_client(repo, trainer, f"Client {n:02d}") for n in range(23)]
    for n, person in enumerate(people):
        queue(repo, trainer, message_for(person, WEEK, person.id, now=NOW + timedelta(minutes=n)))
    first, cursor = repo.conversations.summaries(trainer.id, None)
    assert len(first) == 20 and first[0].client_id == people[-1].id and cursor
    second, end = repo.conversations.summaries(trainer.id, cursor)
    assert [s.client_id for s in second] == [p.id for p in reversed(people[:3])] and end is None
    assert repo.conversations.summaries(other.id, cursor) == ([], None)


# A conversation ------------------------------------------------------------------------------
def test_a_conversation_merges_both_directions_and_pages_back_without_gaps(
    repo: Repository, scene
) -> None:
    trainer, priya, _ = scene
    expected: list[str] = []
    for n in range(30):
        at = NOW + timedelta(minutes=n)
        if n % 3 == 0:
            client_wrote(repo, trainer, priya, f"SM{n:02d}", at)
            expected.append(f"SM{n:02d}")
        else:
            message = message_for(
                priya, WEEK, priya.id, message_id=f"m{n:02d}-abcdefgh"[:12], now=at
            )
            queue(repo, trainer, message)
            expected.append(message.id)
    seen: list[str] = []
    before = None
    pages = 0
    while True:
        entries, before = repo.conversations.thread(trainer.id, priya.id, before)
        pages += 1
        seen = [e.entry.id for e in entries] + seen
        if before is None:
            break
    assert pages == 2 and seen == expected
    first, _ = repo.conversations.thread(trainer.id, priya.id, None)
    assert isinstance(first[-1].entry, Message) and len(first) == 20  # newest last
    assert any(isinstance(e.entry, InboundMessage) for e in first)


def test_a_message_queued_without_an_index_entry_is_still_in_its_conversation(
    repo: Repository, scene
) -> None:
    """Messages queued before the index (or by a write that does not move it yet) are
    read from the client's own timeline: the conversation page never depends on it."""
    trainer, priya, _ = scene
    repo.queue_portal_link(
        trainer.id, priya, message_for(priya, WEEK, priya.id, kind="portal_link")
    )
    entries, _ = repo.conversations.thread(trainer.id, priya.id, None)
    assert [e.entry.kind for e in entries] == ["portal_link"]


# Mark read -------------------------------------------------------------------------------
def test_mark_read_refuses_a_count_that_moved_since_the_page_read_it(
    repo: Repository, scene
) -> None:
    trainer, priya, _ = scene
    client_wrote(repo, trainer, priya, "SM1")
    _, state = repo.conversations.open(trainer.id, priya.id)
    client_wrote(repo, trainer, priya, "SM2", NOW + timedelta(seconds=1))  # arrives meanwhile
    assert not repo.conversations.mark_read(trainer.id, priya.id, state.unread)
    assert repo.conversations.unread(trainer.id, priya.id) == 2
    assert repo.conversations.mark_read(trainer.id, priya.id, 2)
    assert repo.conversations.unread(trainer.id, priya.id) == 0


def test_mark_read_racing_inbounds_never_loses_one(repo: Repository, scene) -> None:
    trainer, priya, _ = scene
    client_wrote(repo, trainer, priya, "SM0")
    marked: list[bool] = []
    lock = threading.Lock()

    def act(n: int) -> None:
        if n == 0:
            done = repo.conversations.mark_read(trainer.id, priya.id, 1)
            with lock:
                marked.append(done)
        else:
            client_wrote(repo, trainer, priya, f"SM{n}", NOW + timedelta(seconds=n))

    results = race(6, act)
    assert all(r is None for r in results), results
    unread = repo.conversations.unread(trainer.id, priya.id)
    # Either the page's read came first (1 → 0, then five more) or an inbound did (the
    # write refused: all six stay unread). Never fewer than the five that arrived.
    assert (marked, unread) in (([True], 5), ([False], 6))


# The reply -------------------------------------------------------------------------------
def reply(priya: Client, send_id: str = "reply-abcdef", at=NOW) -> Message:
    return message_for(priya, WEEK, priya.id, kind="reply", message_id=send_id, now=at, text="Yes!")


def test_a_reply_is_queued_once_and_moves_the_conversation(repo: Repository, scene) -> None:
    trainer, priya, _ = scene
    client_wrote(repo, trainer, priya, "SM1", NOW - timedelta(hours=1))
    window_from = NOW - timedelta(hours=24)
    assert repo.conversations.queue_reply(trainer.id, reply(priya), window_from)
    with unchanged(repo):
        assert not repo.conversations.queue_reply(trainer.id, reply(priya), window_from)
    assert tab(repo, trainer) == [(priya.id, "out", "Yes!")]


def test_a_reply_written_after_the_window_closed_is_refused_by_the_write(
    repo: Repository, scene
) -> None:
    """Stale: the window was open when the page was drawn; the write's own condition (the
    client's last message after now − 24 h) refuses it."""
    trainer, priya, _ = scene
    client_wrote(repo, trainer, priya, "SM1", NOW - timedelta(hours=24, seconds=1))
    with unchanged(repo), pytest.raises(WindowClosed):
        repo.conversations.queue_reply(trainer.id, reply(priya), NOW - timedelta(hours=24))


def test_a_reply_to_a_client_who_never_wrote_is_refused_by_the_write(
    repo: Repository, scene
) -> None:
    trainer, priya, _ = scene
    with unchanged(repo), pytest.raises(WindowClosed):
        repo.conversations.queue_reply(trainer.id, reply(priya), NOW - timedelta(hours=24))


def test_a_reply_to_a_client_archived_meanwhile_is_refused(repo: Repository, scene) -> None:
    trainer, priya, _ = scene
    client_wrote(repo, trainer, priya, "SM1")
    archive_client(repo, trainer.id, priya)
    with unchanged(repo), pytest.raises(ClientUnavailable):
        repo.conversations.queue_reply(trainer.id, reply(priya), NOW - timedelta(hours=24))


def test_the_same_reply_sent_from_many_tabs_at_once_is_queued_once(repo: Repository, scene) -> None:
    trainer, priya, _ = scene
    client_wrote(repo, trainer, priya, "SM1")
    results = race(
        6,
        lambda _n: repo.conversations.queue_reply(
            trainer.id, reply(priya), NOW - timedelta(hours=24)
        ),
    )
    assert sorted(results) == [False] * 5 + [True]
    messages = [i for i in table_items(repo) if i.get("type") == "message"]
    assert [m["id"] for m in messages] == ["reply-abcdef"]
    assert messages[0][keys.CLIENT_PK] == keys.client_messages(trainer.id, priya.id)

"""The WhatsApp tab as conversations, through the real routes: the list (one row per
client or number, newest activity first, unread counts, the reply window in words), a
client's conversation (both directions, newest last, failures in words with the wa.me
way out, marked read), the trainer's reply (once, only inside the window), and the old
URLs still working."""

from __future__ import annotations

import base64
import html
import json
import re
from datetime import timedelta

import pytest

from chalicelib import runtime
from chalicelib.domain.conversations import InboundMatch, Received
from chalicelib.messaging import whatsapp
from chalicelib.messaging.payloads import WINDOW_CLOSED
from chalicelib.repo import keys
from chalicelib.repo.parts import message_parts
from chalicelib.services import dispatcher, whatsapp_tab
from tests.functional.conftest import Browser
from tests.functional.test_locations_and_template import add_location
from tests.functional.test_messages import send
from tests.functional.test_schedule_pages import allocate, new_slot, slots_on
from tests.support.builders import message_for, trainer_of
from tests.support.pages import counted, deps_for, holds_no_service_objects
from tests.support.table import unchanged

SEND_ID = re.compile(r'name="send_id" value="([^"]+)"')


def _tid(trainer: Browser) -> str:
    return trainer.cookies["pt_session"].split(".")[0]


def add_client(trainer: Browser, name: str, phone: str) -> str:
    page = trainer.post("/dashboard/clients", {"name": name, "phone": phone, "price": "40"})
    assert page.status == 303, page.body
    return page.location.split("/dashboard/clients/")[1].split("?")[0]


def client_wrote(trainer: Browser, client_id: str, provider_id: str, at, text: str) -> None:
    """What the inbound webhook records for a client's message (tests/functional/
    test_webhooks_inbound.py covers the routes themselves)."""
    match = InboundMatch("client", _tid(trainer), client_id=client_id)
    message = Received("twilio", provider_id, "+447400111111", "+14155238886", text, "text", at)
    assert runtime.repository().conversations.record_inbound(message, match)


@pytest.fixture
def priya(trainer: Browser, clock) -> tuple[str, str]:
    """(client id, session URL): Priya booked on Thursday 26 Nov 09:00 at the Studio."""
    studio = add_location(trainer, "Studio")
    client = add_client(trainer, "Priya Shah", "07400 111111")
    new_slot(trainer, "2026-11-26", "09:00", "10:00", studio)
    ((week, slot_id),) = slots_on(trainer, "2026-W48")
    return client, allocate(trainer, week, slot_id, client).location.split("?")[0]


def _send_id(trainer: Browser, client_id: str) -> str:
    found = SEND_ID.search(trainer.get(f"/dashboard/whatsapp/{client_id}").body)
    assert found, "no reply form"
    return found.group(1)


def _version(trainer: Browser, client_id: str) -> str:
    found = re.search(
        r'name="version" value="(\d+)"', trainer.get(f"/dashboard/clients/{client_id}").body
    )
    assert found
    return found.group(1)


def _reply(trainer: Browser, client_id: str, text: str, send_id: str | None = None):
    if send_id is None:
        send_id = _send_id(trainer, client_id)
    return trainer.post(
        f"/dashboard/whatsapp/{client_id}/reply", {"text": text, "send_id": send_id}
    )


def queue(trainer: Browser, client_id: str, text: str) -> None:
    """A message queued the way every queueing transaction does (`message_parts`)."""
    repo = runtime.repository()
    client = repo.get_client(_tid(trainer), client_id)
    message = message_for(
        client, "2026-W48", client_id, kind="portal_link", text=text, now=runtime.now()
    )
    repo.db.transact(message_parts(_tid(trainer), [message]))


# The list ----------------------------------------------------------------------------------
def test_the_tab_lists_conversations_newest_first_with_unread_and_the_window(
    trainer: Browser, priya, clock
) -> None:
    client, _ = priya
    omar = add_client(trainer, "<b>Omar</b> Haddad", "07400 222222")
    client_wrote(trainer, client, "SM1", clock.now, "Can we move Thursday?")
    client_wrote(trainer, client, "SM2", clock.now + timedelta(minutes=1), "Or Friday")
    clock.advance(minutes=5)
    queue(trainer, omar, "Hi Omar, your link: ⟦link⟧")
    page = trainer.get("/dashboard/whatsapp")
    assert page.status == 200
    # the session and profile, one Query of the conversation index, the client index
    assert page.db_calls == 3
    body = page.body
    assert "&lt;b&gt;Omar&lt;/b&gt; Haddad" in body and "<b>Omar</b>" not in body
    assert body.index("Omar") < body.index("Priya Shah")  # most recent activity first
    assert body.count('class="list-row conversation-row') == 2
    assert "2 unread" in body and "Or Friday" in body
    assert "Reply possible until Tue 09:01" in body  # 24 h after her last message, London
    assert "Templates only: the client has not written to you yet" in body
    assert "⟦link⟧" not in body and "(link)" in body  # Omar's portal link, never made here
    assert f'href="/dashboard/whatsapp/{client}"' in body


def test_an_empty_tab_says_where_older_messages_are(trainer: Browser, clock) -> None:
    page = trainer.get("/dashboard/whatsapp")
    assert page.status == 200 and page.db_calls == 2  # no client index for no rows
    assert "No conversations yet" in page.body and 'href="/dashboard/whatsapp/all"' in page.body


def test_shared_and_unknown_numbers_have_rows_of_their_own_with_no_reply_box(
    trainer: Browser, clock
) -> None:
    priya = add_client(trainer, "Priya Shah", "07400 333333")
    ravi = add_client(trainer, "Ravi Shah", "07400 333333")
    repo = runtime.repository()
    tid = _tid(trainer)
    shared = Received("twilio", "SM1", "+447400333333", "+1415", "Hello from us", "text", clock.now)
    repo.conversations.record_inbound(
        shared, InboundMatch("shared", tid, client_ids=tuple(sorted((priya, ravi))))
    )
    stranger = Received("twilio", "SM2", "+447700900123", "+1415", "Who?", "text", clock.now)
    repo.conversations.record_inbound(stranger, InboundMatch("unknown", tid))
    body = html.unescape(trainer.get("/dashboard/whatsapp").body)
    assert "Shared number: Priya Shah, Ravi Shah" in body  # by name, never one guessed
    assert "Unknown number" in body and "+44 7700 900123" in body
    assert "https://wa.me/447700900123" in body and "Answer from my phone" in body
    assert "/dashboard/whatsapp/N#" not in body and 'name="text"' not in body


def test_the_tab_pages_by_twenty(trainer: Browser, clock) -> None:
    for n in range(21):
        client = add_client(trainer, f"Client {n:02d}", f"07400 5000{n:02d}")
        client_wrote(trainer, client, f"SM{n}", clock.now + timedelta(minutes=n), "Hi")
    first = trainer.get("/dashboard/whatsapp").body
    assert first.count('class="list-row conversation-row') == 20 and "Client 00" not in first
    cursor = re.search(r'href="/dashboard/whatsapp\?after=([^"]+)">Older', first)
    assert cursor
    second = trainer.get(f"/dashboard/whatsapp?after={cursor.group(1)}").body
    assert "Client 00" in second and "Back to the newest" in second
    assert trainer.get("/dashboard/whatsapp?after=garbage").status == 200


def test_the_page_service_reads_two_items_at_most_and_holds_only_values(
    trainer: Browser, priya, clock
) -> None:
    client, _ = priya
    client_wrote(trainer, client, "SM1", clock.now, "Hello")
    repo = runtime.repository()
    owner = trainer_of(repo, _tid(trainer))
    page, calls = counted(lambda: whatsapp_tab.conversations_page(deps_for(repo), owner, ""))
    assert calls == 2 and [r.title for r in page.rows] == ["Priya Shah"]
    holds_no_service_objects(page)


# Old URLs --------------------------------------------------------------------------------
def test_the_old_client_filter_goes_to_that_clients_conversation(trainer: Browser, priya) -> None:
    client, _ = priya
    moved = trainer.get(f"/dashboard/whatsapp?client={client}")
    assert moved.status == 303 and moved.location.endswith(f"/dashboard/whatsapp/{client}")
    assert trainer.get("/dashboard/whatsapp?client=../../x").status == 200  # not an id: the list
    assert trainer.get(f"/dashboard/whatsapp/all?client={client}").status == 200


# A conversation ----------------------------------------------------------------------------
def test_a_conversation_shows_both_directions_newest_last_and_marks_them_read(
    trainer: Browser, priya, clock
) -> None:
    client, session_url = priya
    client_wrote(trainer, client, "SM1", clock.now, "Is Thursday still on?")
    clock.advance(minutes=1)
    assert send(trainer, session_url, "confirm").status == 303
    clock.advance(minutes=1)
    client_wrote(trainer, client, "SM2", clock.now, "Thanks!")
    assert "2 unread" in trainer.get("/dashboard/whatsapp").body
    page = trainer.get(f"/dashboard/whatsapp/{client}")
    assert page.status == 200
    # session + profile; the client and the summary; a Query each way; mark read
    assert page.db_calls == 5
    body = html.unescape(page.body)
    first, confirmation, last = (
        body.index("Is Thursday still on?"),
        body.index("is confirmed:"),
        body.index("Thanks!"),
    )
    assert first < confirmation < last
    assert "Confirmation" in body and "Queued" in body
    assert re.search(r"http://testserver/s/[A-Za-z0-9_-]{43}", body)  # the link, made again
    assert "Reply possible until Tue 09:02" in body and "Send reply" in body
    assert "unread" not in trainer.get("/dashboard/whatsapp").body
    again = trainer.get(f"/dashboard/whatsapp/{client}")
    assert again.db_calls == 4  # nothing unread: no write


def test_a_conversation_of_someone_else_or_archived_or_unknown_is_not_found(
    trainer: Browser, other_trainer: Browser, priya
) -> None:
    client, _ = priya
    assert other_trainer.get(f"/dashboard/whatsapp/{client}").status == 404
    assert trainer.get("/dashboard/whatsapp/no-such-client").status == 404
    archive = {"action": "archive", "version": _version(trainer, client)}
    assert trainer.post(f"/dashboard/clients/{client}", archive).status == 303
    assert trainer.get(f"/dashboard/whatsapp/{client}").status == 404


def test_a_failed_whatsapp_message_says_why_and_offers_the_phone(
    trainer: Browser, priya, clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(whatsapp, "configured_provider", lambda: "twilio")
    client, session_url = priya
    send(trainer, session_url, "confirm")

    def outside_window(_trainer_id: str, _message) -> whatsapp.SendResult:
        raise whatsapp.SendError(f"Twilio 63016: {WINDOW_CLOSED}", retryable=False)

    dispatcher.dispatch(runtime.repository(), clock.now, outside_window)
    body = html.unescape(trainer.get(f"/dashboard/whatsapp/{client}").body)
    assert "Failed" in body and WINDOW_CLOSED in body
    assert "Send from my phone" in body and "https://wa.me/447400111111?text=Hi%20Priya" in body


def test_a_conversation_pages_back_with_earlier_messages(trainer: Browser, priya, clock) -> None:
    client, _ = priya
    for n in range(23):
        client_wrote(
            trainer, client, f"SM{n:02d}", clock.now + timedelta(minutes=n), f"Note {n:02d}"
        )
    first = trainer.get(f"/dashboard/whatsapp/{client}").body
    assert "Note 22" in first and "Note 02" not in first and first.count("bubble bubble-in") == 20
    earlier = re.search(r'href="(/dashboard/whatsapp/[^"]+before=[^"]+)"', first)
    assert earlier
    older = trainer.get(html.unescape(earlier.group(1))).body
    assert older.count("bubble bubble-in") == 3 and "Note 00" in older and "Note 03" not in older
    assert "Newest messages" in older
    assert trainer.get(f"/dashboard/whatsapp/{client}?before=garbage").status == 200


# The reply ---------------------------------------------------------------------------------
def test_a_reply_inside_the_window_is_queued_once(trainer: Browser, priya, clock) -> None:
    client, _ = priya
    client_wrote(trainer, client, "SM1", clock.now, "Can we move Thursday?")
    clock.advance(hours=2)
    found = SEND_ID.search(trainer.get(f"/dashboard/whatsapp/{client}").body)
    assert found
    sent = _reply(trainer, client, "Sure, Friday 10:00?", found.group(1))
    assert sent.status == 303 and "saved=reply" in sent.location
    assert sent.db_calls == 3  # session + profile, the client with its window, the transaction
    body = html.unescape(trainer.follow(sent).body)
    assert "Reply queued" in body and "Your reply" in body and "Sure, Friday 10:00?" in body
    twice = _reply(trainer, client, "Sure, Friday 10:00?", found.group(1))
    assert twice.status == 303 and "saved=already" in twice.location
    assert html.unescape(trainer.get("/dashboard/whatsapp/all").body).count("Friday 10:00?") == 1
    row = trainer.get("/dashboard/whatsapp").body
    assert 'You sent: </span><span aria-hidden="true">You: </span>Sure, Friday 10:00?' in row


def test_a_reply_outside_the_window_is_refused_with_the_text_kept(
    trainer: Browser, priya, clock
) -> None:
    client, _ = priya
    client_wrote(trainer, client, "SM1", clock.now, "Hi")
    send_id = _send_id(trainer, client)
    clock.advance(hours=24)  # the window closes exactly now
    repo = runtime.repository()
    with unchanged(repo):
        refused = _reply(trainer, client, "Are you still coming?", send_id)
    assert refused.status == 400
    body = html.unescape(refused.body)
    assert "has not written to you in the last 24 hours" in body and "nothing was sent" in body
    assert ">Are you still coming?</textarea>" in body
    assert "https://wa.me/447400111111?text=Are%20you%20still%20coming%3F" in body
    assert "Send reply" not in body
    closed = trainer.get(f"/dashboard/whatsapp/{client}").body
    assert "Templates only: the client has not written in 24 h" in closed
    assert 'name="text"' not in closed and "Send from my phone" in closed


@pytest.mark.parametrize(
    ("text", "send_id", "words"),
    [
        ("   ", None, "Write a message first."),
        ("x" * 1001, None, "Keep it to 1000 characters (this one has 1001)."),
        ("Hello", "garbled!", "This form has expired. Reload the page and try again."),
        ("Hello", "", "This form has expired. Reload the page and try again."),
    ],
)
def test_a_bad_reply_is_refused_in_words_and_writes_nothing(
    trainer: Browser, priya, clock, text: str, send_id: str | None, words: str
) -> None:
    client, _ = priya
    client_wrote(trainer, client, "SM1", clock.now, "Hi")
    if send_id is None:
        send_id = _send_id(trainer, client)
    with unchanged(runtime.repository()):
        refused = _reply(trainer, client, text, send_id)
    assert refused.status == 400 and words in html.unescape(refused.body)
    kept = SEND_ID.search(refused.body)
    assert kept and re.fullmatch(r"[A-Za-z0-9_-]{12}", kept.group(1))  # a usable id again


def test_a_reply_to_an_archived_or_foreign_client_writes_nothing(
    trainer: Browser, other_trainer: Browser, priya, clock
) -> None:
    client, _ = priya
    client_wrote(trainer, client, "SM1", clock.now, "Hi")
    send_id = _send_id(trainer, client)
    repo = runtime.repository()
    with unchanged(repo):
        assert _reply(other_trainer, client, "Hello", send_id).status == 404
    archive = {"action": "archive", "version": _version(trainer, client)}
    assert trainer.post(f"/dashboard/clients/{client}", archive).status == 303
    with unchanged(repo):
        refused = _reply(trainer, client, "Hello", send_id)
    assert refused.status == 409 and "is archived: restore them first" in refused.body


def test_a_reply_without_the_csrf_token_is_refused(trainer: Browser, priya, clock) -> None:
    client, _ = priya
    client_wrote(trainer, client, "SM1", clock.now, "Hi")
    with unchanged(runtime.repository()):
        refused = trainer.post(
            f"/dashboard/whatsapp/{client}/reply",
            {"text": "Hello", "send_id": "abcdefghijkl"},
            csrf="forged",
        )
    assert refused.status == 403


def test_forged_cursors_positions_and_ids_are_a_page_or_a_404_never_a_500(
    trainer: Browser, priya, clock
) -> None:
    client, _ = priya
    client_wrote(trainer, client, "SM1", clock.now, "Hi")
    for forged in (
        {keys.TRAINER_PK: keys.trainer_conversations(_tid(trainer))},  # not a whole key
        {keys.TRAINER_PK: "T#someone#CONVS", keys.TRAINER_SK: "x", keys.PK: "x", keys.SK: "y"},
    ):
        cursor = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode()
        page = trainer.get(f"/dashboard/whatsapp?after={cursor}")
        assert page.status == 200 and "Priya Shah" in page.body
    long_id = "x" * 3000
    assert trainer.get(f"/dashboard/whatsapp/{long_id}").status == 404
    with unchanged(runtime.repository()):
        reply = _reply(trainer, long_id, "Hello", "abcdefghijkl")
    assert reply.status == 404
    before = "20261123T090000Z#" + "y" * 3000
    assert trainer.get(f"/dashboard/whatsapp/{client}?before={before}").status == 200


def test_an_answer_to_one_of_our_messages_says_which_when_it_is_on_the_page(
    trainer: Browser, priya, clock
) -> None:
    client, session_url = priya
    send(trainer, session_url, "confirm")
    dispatcher.dispatch(
        runtime.repository(), clock.now, lambda _t, _m: whatsapp.SendResult("twilio", "SMours")
    )
    clock.advance(minutes=1)
    match = InboundMatch("client", _tid(trainer), client_id=client)
    answer = Received(
        "twilio", "SM9", "+447400111111", "+1415", "See you then", "text", clock.now, "SMours"
    )
    assert runtime.repository().conversations.record_inbound(answer, match)
    body = trainer.get(f"/dashboard/whatsapp/{client}").body
    assert "Reply to your confirmation" in body and body.count("Reply to your") == 1

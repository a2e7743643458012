"""Invoices, confirmations, the WhatsApp tab, the dispatcher and the delivery webhook."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from chalice.test import Client

from chalicelib import runtime
from chalicelib.domain.bank_statements import payment_reference
from chalicelib.messaging import whatsapp
from chalicelib.repo import metrics
from chalicelib.repo.repository import Repository
from chalicelib.services import dispatcher, messages
from chalicelib.services.deps import Deps
from tests.functional.conftest import Browser
from tests.functional.test_locations_and_template import add_location
from tests.functional.test_schedule_pages import add_client, allocate, new_slot, slots_on
from tests.support import builders

SEND_ID = re.compile(r'name="send_id" value="([^"]+)"')


def invoice_reference(trainer: Browser, session_url: str) -> str:
    """The payment reference an invoice of this session carries (derived, so exact)."""
    return payment_reference(
        trainer.cookies["pt_session"].split(".")[0], session_url.split(".")[-1]
    )


def set_payment_details(trainer: Browser, **overrides: str) -> None:
    page = trainer.get("/dashboard/settings")
    version = re.search(r'name="version" value="(\d+)"', page.body)
    assert version
    form = {
        "version": version.group(1),
        "business_name": "Alex Fit",
        "time_zone": "Europe/London",
        "country": "GB",
        "day_start": "07:00",
        "day_end": "21:00",
        "default_view": "week",
        "booking_window": "2",
        "booking_window_custom": "",
        "cancel_deadline_hours": "36",
        "offer_lock_minutes": "60",
        "currency": "GBP",
        "payee_name": "Alex Byrne",
        "bank_name": "Monzo",
        "account_number": "12345678",
        "sort_code": "04-00-04",
        **overrides,
    }
    saved = trainer.post("/dashboard/settings", form)
    assert saved.status == 303, saved.body


def send(trainer: Browser, session_url: str, action: str, send_id: str | None = None):
    if send_id is None:
        found = SEND_ID.search(trainer.get(session_url).body)
        assert found
        send_id = found.group(1)
    return trainer.post(session_url, {"action": action, "send_id": send_id})


@pytest.fixture
def booked(trainer: Browser, clock) -> tuple[str, str]:
    """(session URL, client id): Priya (£40) on Thursday 26 Nov 09:00 at the Studio."""
    studio = add_location(trainer, "Studio")
    client = add_client(trainer, "Priya Shah")
    new_slot(trainer, "2026-11-26", "09:00", "10:00", studio)
    ((week, slot_id),) = slots_on(trainer, "2026-W48")
    return allocate(trainer, week, slot_id, client).location.split("?")[0], client


def messages_in_tab(trainer: Browser, query: str = "") -> int:
    return trainer.get(f"/dashboard/whatsapp/all{query}").body.count('class="list-row message-row"')


# Invoices ------------------------------------------------------------------------------
def test_an_invoice_is_queued_with_the_price_and_bank_details(
    trainer: Browser, booked: tuple[str, str]
) -> None:
    session_url, _ = booked
    set_payment_details(trainer)
    page = send(trainer, session_url, "invoice")
    assert page.status == 303 and "saved=invoice" in page.location
    body = trainer.get(session_url).body
    assert "Invoice by WhatsApp" in body and "badge-queued" in body
    assert "Invoice sent" in body and "Resend invoice" in body
    tab = trainer.get("/dashboard/whatsapp/all").body
    for text in (
        "Amount due: £40.00",
        "Payee: Alex Byrne",
        "Bank: Monzo",
        "Sort code: 04-00-04",
        "Account number: 12345678",
        "Thursday 26 Nov 09:00–10:00 2026 at Studio",
        f"Reference: {invoice_reference(trainer, session_url)}",
    ):
        assert text in tab, text
    assert "https://wa.me/447400123456?text=Hi%20Priya" in tab  # click-to-chat (log provider)
    assert "Invoice sent" in trainer.get("/dashboard/sessions").body


def _invoice_text(trainer: Browser, session_url: str) -> str:
    page = send(trainer, session_url, "invoice")
    assert page.status == 303, page.body
    (message,) = runtime.repository().outbox.page(
        trainer.cookies["pt_session"].split(".")[0], None, None
    )[0]
    return runtime.links().message_text(message)


def test_an_invoice_to_an_iban_names_the_iban_and_bic_and_no_sort_code(
    trainer: Browser, booked: tuple[str, str]
) -> None:
    session_url, _ = booked
    set_payment_details(
        trainer,
        country="DE",
        currency="EUR",
        bank_name="Commerzbank",
        bank_scheme="iban",
        iban="de89370400440532013000",
        bic="cobadeffxxx",
    )  # the UK account number and sort code still in the form are not saved
    text = _invoice_text(trainer, session_url)
    assert "Amount due: 40,00\xa0€\n" in text  # the German trainer's way of writing it
    assert (
        "Please pay by bank transfer to:\n"
        "Payee: Alex Byrne\n"
        "Bank: Commerzbank\n"
        "IBAN: DE89 3704 0044 0532 0130 00\n"
        "BIC: COBADEFFXXX\n"
        f"Reference: {invoice_reference(trainer, session_url)}\n"
    ) in text
    assert "Sort code" not in text and "Account number" not in text
    assert "IBAN: DE89 3704 0044 0532 0130 00" in trainer.get("/dashboard/whatsapp/all").body


@pytest.mark.parametrize(
    ("details", "lines", "absent"),
    [
        (
            {"country": "US", "bank_scheme": "us", "routing_number": "021000021",
             "account_number": "123456789"},
            "Routing number: 021000021\nAccount number: 123456789\n",
            ("Sort code", "IBAN", "BSB"),
        ),
        (
            {"country": "AU", "bank_scheme": "au", "bsb": "062000", "account_number": "12345678"},
            "BSB: 062-000\nAccount number: 12345678\n",
            ("Sort code", "IBAN", "Routing"),
        ),
        (
            {"bank_scheme": "uk"},
            "Account number: 12345678\nSort code: 04-00-04\n",
            ("IBAN", "BSB", "Routing"),
        ),
    ],
)  # fmt: skip
def test_an_invoice_lists_only_the_lines_of_the_bank_details_format(
    trainer: Browser,
    booked: tuple[str, str],
    details: dict[str, str],
    lines: str,
    absent: tuple[str, ...],
) -> None:
    session_url, _ = booked
    set_payment_details(trainer, **details)
    text = _invoice_text(trainer, session_url)
    assert "Payee: Alex Byrne\nBank: Monzo\n" + lines + "Reference:" in text
    for label in absent:
        assert label not in text


def test_no_invoice_with_an_iban_format_but_no_iban_and_the_message_says_what_is_missing(
    trainer: Browser, booked: tuple[str, str]
) -> None:
    session_url, _ = booked
    set_payment_details(trainer, bank_scheme="iban", iban="")
    page = send(trainer, session_url, "invoice")
    assert page.status == 400
    assert "payment details are incomplete: add the IBAN in Settings" in page.body
    assert messages_in_tab(trainer) == 0


def test_a_double_click_on_send_queues_one_message(
    trainer: Browser, booked: tuple[str, str]
) -> None:
    session_url, _ = booked
    set_payment_details(trainer)
    send_id = SEND_ID.search(trainer.get(session_url).body).group(1)  # type: ignore[union-attr]
    first = send(trainer, session_url, "invoice", send_id)
    second = send(trainer, session_url, "invoice", send_id)
    assert first.status == second.status == 303
    assert "saved=already" in second.location
    assert "nothing was sent twice" in trainer.follow(second).body
    assert messages_in_tab(trainer) == 1
    resend = send(trainer, session_url, "invoice")  # a fresh page: an explicit resend
    assert resend.status == 303 and messages_in_tab(trainer) == 2


def test_no_invoice_without_payment_details_and_the_page_links_to_settings(
    trainer: Browser, booked: tuple[str, str]
) -> None:
    session_url, _ = booked
    set_payment_details(trainer, sort_code="")
    page = send(trainer, session_url, "invoice")
    assert page.status == 400
    assert "payment details are incomplete" in page.body
    assert "This was not sent:" in page.body and "to save" not in page.body
    assert '/dashboard/settings#payment"' in page.body
    assert messages_in_tab(trainer) == 0
    assert "No invoice sent" in trainer.get(session_url).body


def test_no_invoice_when_the_client_has_no_price(trainer: Browser, clock) -> None:
    set_payment_details(trainer)
    studio = add_location(trainer, "Studio")
    page = trainer.post("/dashboard/clients", {"name": "Sam Free", "phone": "07400 123457"})
    client = page.location.split("/dashboard/clients/")[1].split("?")[0]
    new_slot(trainer, "2026-11-26", "09:00", "10:00", studio)
    ((week, slot_id),) = slots_on(trainer, "2026-W48")
    session_url = allocate(trainer, week, slot_id, client).location.split("?")[0]
    refused = send(trainer, session_url, "invoice")
    assert refused.status == 400 and "Sam Free has no session price yet" in refused.body
    assert messages_in_tab(trainer) == 0


@pytest.mark.parametrize("how", ["cancel", "void"])
def test_no_invoice_for_a_canceled_or_voided_session(
    trainer: Browser, booked: tuple[str, str], clock, how: str
) -> None:
    session_url, _ = booked
    set_payment_details(trainer)
    if how == "void":
        clock.advance(days=4)
    stale_send_id = SEND_ID.search(trainer.get(session_url).body).group(1)  # type: ignore[union-attr]
    assert trainer.post(session_url, {"action": how, "version": "1", "quiet": "yes"}).status == 303
    assert "send_id" not in trainer.get(session_url).body  # no send buttons any more
    refused = send(trainer, session_url, "invoice", stale_send_id)
    assert refused.status == 400
    assert ("canceled session cannot" if how == "cancel" else "voided session cannot") in (
        refused.body
    )
    assert messages_in_tab(trainer) == 0


@pytest.mark.parametrize("send_id", ["", "short", "../../etc/passwd", "<script>x</script>"])
def test_a_send_without_a_valid_form_id_is_refused(
    trainer: Browser, booked: tuple[str, str], send_id: str
) -> None:
    session_url, _ = booked
    set_payment_details(trainer)
    page = send(trainer, session_url, "invoice", send_id)
    assert page.status == 400 and "This form has expired" in page.body
    assert messages_in_tab(trainer) == 0


def test_another_trainer_cannot_invoice_my_session(
    trainer: Browser, other_trainer: Browser, booked: tuple[str, str]
) -> None:
    session_url, _ = booked
    set_payment_details(other_trainer)
    assert send(other_trainer, session_url, "invoice", "abcdefghijkl").status == 404
    assert messages_in_tab(trainer) == 0


# Confirmations -------------------------------------------------------------------------
def test_a_confirmation_carries_the_clients_link_to_the_session(
    trainer: Browser, booked: tuple[str, str], chalice_client: Client
) -> None:
    session_url, _client = booked
    page = send(trainer, session_url, "confirm")
    assert page.status == 303 and "saved=confirm" in page.location
    tab = trainer.get("/dashboard/whatsapp/all").body
    link = re.search(r"Change or cancel it here: http://testserver(/s/[A-Za-z0-9_-]{43})", tab)
    assert "Confirmation" in tab and "is confirmed:" in tab and link
    opened = Browser(chalice_client, []).get(link.group(1))  # the client taps it
    assert opened.status == 200 and "Thursday 26 Nov 09:00–10:00" in opened.body
    assert "Confirmation by WhatsApp" in trainer.get(session_url).body


def test_no_confirmation_for_a_session_that_has_started(
    trainer: Browser, booked: tuple[str, str], clock
) -> None:
    session_url, _ = booked
    send_id = SEND_ID.search(trainer.get(session_url).body).group(1)  # type: ignore[union-attr]
    clock.advance(days=3)  # Thursday 09:00: it starts now
    refused = send(trainer, session_url, "confirm", send_id)
    assert refused.status == 400 and "nothing to confirm" in refused.body
    assert messages_in_tab(trainer) == 0


# The WhatsApp tab ----------------------------------------------------------------------
def test_the_whatsapp_tab_filters_by_client_and_ignores_foreign_ids(
    trainer: Browser, other_trainer: Browser, booked: tuple[str, str]
) -> None:
    session_url, priya = booked
    set_payment_details(trainer)
    studio = re.search(
        r"/dashboard/settings/locations/([\w-]+)", trainer.get("/dashboard/settings/locations").body
    )
    assert studio
    omar = add_client(trainer, "Omar Haddad")
    new_slot(trainer, "2026-11-27", "09:00", "10:00", studio.group(1))
    slots = slots_on(trainer, "2026-W48")
    omar_url = allocate(trainer, *slots[-1], omar).location.split("?")[0]
    send(trainer, session_url, "invoice")
    send(trainer, omar_url, "confirm")
    assert messages_in_tab(trainer) == 2
    assert messages_in_tab(trainer, f"?client={priya}") == 1
    only_omar = trainer.get(f"/dashboard/whatsapp/all?client={omar}").body
    assert "Omar Haddad" in only_omar and "Amount due" not in only_omar
    assert messages_in_tab(other_trainer, f"?client={priya}") == 0  # not their client
    assert messages_in_tab(trainer, "?client=nope") == 2  # unknown id: everything
    body = trainer.get("/dashboard/whatsapp/all").body
    assert body.index("Omar Haddad") < body.index("Amount due")  # newest first


def test_the_whatsapp_tab_pages_and_is_three_round_trips(
    trainer: Browser, booked: tuple[str, str], clock
) -> None:
    session_url, _ = booked
    for _ in range(27):
        send(trainer, session_url, "confirm")
        clock.advance(seconds=1)
    first = trainer.get("/dashboard/whatsapp/all")
    assert first.db_calls == 3  # session + profile, clients (for the filter), one Query
    assert first.body.count('class="list-row message-row"') == 25
    cursor = re.search(r'after=([^"&]+)"', first.body)
    assert cursor
    second = trainer.get(f"/dashboard/whatsapp/all?after={cursor.group(1)}")
    assert second.body.count('class="list-row message-row"') == 2
    assert trainer.get("/dashboard/whatsapp/all?after=garbage").status == 200


def test_html_in_a_client_name_is_inert_in_messages(trainer: Browser, clock) -> None:
    studio = add_location(trainer, "Studio")
    client = add_client(trainer, "<img src=x onerror=alert(1)> Eve")
    new_slot(trainer, "2026-11-26", "09:00", "10:00", studio)
    ((week, slot_id),) = slots_on(trainer, "2026-W48")
    session_url = allocate(trainer, week, slot_id, client).location.split("?")[0]
    send(trainer, session_url, "confirm")
    tab = trainer.get("/dashboard/whatsapp/all").body
    assert "<img src=x" not in tab and "&lt;img src=x" in tab


# The dispatcher ------------------------------------------------------------------------
def _invoke_dispatcher(chalice_client: Client) -> dict:
    event = chalice_client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
    )
    return chalice_client.lambda_.invoke("dispatch_messages", event).payload


def test_the_dispatcher_sends_queued_messages_once_through_the_log_provider(
    trainer: Browser,
    booked: tuple[str, str],
    chalice_client: Client,
    capsys: pytest.CaptureFixture[str],
) -> None:
    session_url, _ = booked
    send(trainer, session_url, "confirm")
    capsys.readouterr()
    first = _invoke_dispatcher(chalice_client)
    printed = capsys.readouterr().out
    assert first["due"] == 1 and first["claimed"] == 1
    assert "--- WhatsApp to +447400123456" in printed and "is confirmed:" in printed
    second = _invoke_dispatcher(chalice_client)
    assert second["due"] == 0  # sent: out of the due-work index
    assert "badge-sent" in trainer.get(session_url).body
    tab = trainer.get("/dashboard/whatsapp/all").body
    assert "badge-sent" in tab and ">Logged</span>" in tab  # printed, not delivered


def test_a_failing_provider_is_retried_with_backoff_then_shown_failed(
    trainer: Browser, booked: tuple[str, str], clock
) -> None:
    session_url, _ = booked
    send(trainer, session_url, "confirm")
    repo = runtime.repository()
    calls: list[str] = []

    def broken(_trainer_id: str, message) -> whatsapp.SendResult:
        calls.append(message.id)
        raise whatsapp.SendError("Twilio 503: Service Unavailable", retryable=True)

    waits = []
    for _ in range(5):
        report = dispatcher.dispatch(repo, clock.now, broken)
        assert report.claimed == 1
        assert dispatcher.dispatch(repo, clock.now, broken).claimed == 0  # not due yet
        body = trainer.get("/dashboard/whatsapp/all").body
        if report.retried:
            assert "Retrying: Twilio 503" in body and "badge-queued" in body
            (message,) = repo.outbox.page(_tid(trainer), None, None)[0]
            waits.append(message.next_attempt_at - clock.now)  # type: ignore[operator]
            clock.advance(hours=1)
    assert [w.total_seconds() / 60 for w in waits] == [1, 4, 16, 60]
    assert len(calls) == 5
    body = trainer.get("/dashboard/whatsapp/all").body
    assert "badge-failed" in body and "Twilio 503: Service Unavailable" in body
    assert "Retrying" not in body
    clock.advance(days=1)
    assert dispatcher.dispatch(repo, clock.now, broken).due == 0  # given up for good


def test_a_permanent_provider_error_fails_at_once(
    trainer: Browser, booked: tuple[str, str], clock
) -> None:
    session_url, _ = booked
    send(trainer, session_url, "confirm")

    def rejected(_trainer_id: str, _message) -> whatsapp.SendResult:
        raise whatsapp.SendError("Twilio 21211: Invalid 'To' Phone Number", retryable=False)

    report = dispatcher.dispatch(runtime.repository(), clock.now, rejected)
    assert len(report.failed) == 1 and not report.retried
    body = trainer.get(session_url).body
    assert "badge-failed" in body and "Invalid &#39;To&#39; Phone Number" in body


def test_a_send_interrupted_mid_flight_is_failed_not_repeated(
    trainer: Browser, booked: tuple[str, str], clock
) -> None:
    session_url, _ = booked
    send(trainer, session_url, "confirm")
    repo = runtime.repository()
    ((tid, message),) = repo.outbox.due(clock.now)
    assert repo.outbox.claim(tid, message, clock.now, clock.now + dispatcher.SENDING_LEASE)
    # ...and the run that claimed it dies before recording anything.
    calls: list[str] = []

    def sender(_t: str, m) -> whatsapp.SendResult:
        calls.append(m.id)
        return whatsapp.SendResult("log", "log-x")

    assert dispatcher.dispatch(repo, clock.now, sender).due == 0  # still within its lease
    clock.advance(minutes=11)
    report = dispatcher.dispatch(repo, clock.now, sender)
    assert report.failed == [message.id] and calls == []
    assert "may or may not have reached the client" in trainer.get(session_url).body


# The delivery webhook ------------------------------------------------------------------
TOKEN = "twilio-test-token"


@pytest.fixture
def public_base(monkeypatch: pytest.MonkeyPatch) -> None:
    # The stage's value, also outside requests (the dispatcher runs outside one here).
    monkeypatch.setenv("PUBLIC_BASE_URL", "http://testserver")


@pytest.fixture
def twilio(monkeypatch: pytest.MonkeyPatch, public_base: None) -> None:
    # The stage config says "log"; the webhook code asks these two functions.
    monkeypatch.setattr(whatsapp, "configured_provider", lambda: "twilio")
    monkeypatch.setattr(whatsapp, "twilio_auth_token", lambda: TOKEN)


def _sent_message(trainer: Browser, session_url: str, clock) -> tuple[str, str]:
    """Queue and send a confirmation; returns (callback URL, provider id)."""
    send(trainer, session_url, "confirm")
    repo = runtime.repository()

    def fake_twilio(_t: str, _m) -> whatsapp.SendResult:
        return whatsapp.SendResult("twilio", "SM0123456789abcdef")

    dispatcher.dispatch(repo, clock.now, fake_twilio)
    ((message,), _) = repo.outbox.page(_tid(trainer), None, None)
    url = dispatcher.webhooks.status_callback_url(
        runtime.config().public_base_url, _tid(trainer), message.ref
    )
    assert url and url.startswith("http://testserver/webhooks/twilio/status?m=")
    return url, "SM0123456789abcdef"


def _report(trainer: Browser, url: str, status: str, token: str = TOKEN, **extra: str):
    params = {"MessageSid": "SM0123456789abcdef", "MessageStatus": status, **extra}
    signature = whatsapp.twilio_signature(token, url, params)
    path = url.removeprefix("http://testserver")
    return trainer.client.http.post(
        path,
        headers={
            "host": "testserver",
            "content-type": "application/x-www-form-urlencoded",
            "x-twilio-signature": signature,
        },
        body=urlencode(params).encode(),
    )


def _status_in_log(trainer: Browser, session_url: str) -> str:
    found = re.search(
        r"Confirmation by WhatsApp <span class=\"badge badge-(\w+)\"", trainer.get(session_url).body
    )
    assert found
    return found.group(1)


def test_delivery_reports_move_a_message_forward_only(
    trainer: Browser, booked: tuple[str, str], clock, twilio: None
) -> None:
    session_url, _ = booked
    url, _ = _sent_message(trainer, session_url, clock)
    assert _status_in_log(trainer, session_url) == "sent"
    assert _report(trainer, url, "delivered").status_code == 204
    assert _status_in_log(trainer, session_url) == "delivered"
    assert _report(trainer, url, "sent").status_code == 204  # late: ignored
    assert _report(trainer, url, "delivered").status_code == 204  # replayed: ignored
    assert _status_in_log(trainer, session_url) == "delivered"
    assert _report(trainer, url, "read").status_code == 204
    assert _report(trainer, url, "undelivered", ErrorCode="30003").status_code == 204
    assert _status_in_log(trainer, session_url) == "read"


def test_an_undelivered_report_shows_the_message_failed(
    trainer: Browser, booked: tuple[str, str], clock, twilio: None
) -> None:
    session_url, _ = booked
    url, _ = _sent_message(trainer, session_url, clock)
    assert _report(trainer, url, "undelivered", ErrorCode="63016").status_code == 204
    body = trainer.get(session_url).body
    assert "badge-failed" in body and "Twilio reported undelivered (error 63016)" in body


@pytest.mark.parametrize("forgery", ["token", "url", "param", "none"])
def test_a_forged_delivery_report_is_rejected(
    trainer: Browser, booked: tuple[str, str], clock, twilio: None, forgery: str
) -> None:
    session_url, _ = booked
    url, _ = _sent_message(trainer, session_url, clock)
    params = {"MessageSid": "SM0123456789abcdef", "MessageStatus": "delivered"}
    signed_url = url.replace("?m=", "?m=x") if forgery == "url" else url
    signature = whatsapp.twilio_signature(
        "wrong" if forgery == "token" else TOKEN, signed_url, params
    )
    if forgery == "param":
        params["MessageStatus"] = "read"
    headers = {"host": "testserver", "content-type": "application/x-www-form-urlencoded"}
    if forgery != "none":
        headers["x-twilio-signature"] = signature
    response = trainer.client.http.post(
        url.removeprefix("http://testserver"), headers=headers, body=urlencode(params).encode()
    )
    assert response.status_code == 403
    assert _status_in_log(trainer, session_url) == "sent"


def test_the_webhook_is_closed_when_twilio_is_not_the_provider(
    trainer: Browser, booked: tuple[str, str], clock, public_base: None
) -> None:
    session_url, _ = booked
    url, _ = _sent_message(trainer, session_url, clock)
    assert _report(trainer, url, "delivered").status_code == 404
    assert _status_in_log(trainer, session_url) == "sent"


def _tid(trainer: Browser) -> str:
    return trainer.cookies["pt_session"].split(".")[0]


# The page query (services.messages.whatsapp_page) ----------------------------------------
def test_the_whatsapp_page_is_the_client_index_and_one_page_of_messages(
    repo: Repository,
) -> None:
    trainer = builders.make_trainer(repo)
    priya = builders.add_client(repo, trainer, "Priya Shah")
    omar = builders.add_client(repo, trainer, "Omar Haddad")
    repo.queue_portal_link(trainer.id, priya, builders.message_for(priya, "2026-W48", priya.id))
    deps = Deps(repo, runtime.links(), runtime.config(), builders.NOW)

    recorded = metrics.begin()
    page = messages.whatsapp_page(deps, trainer.id, priya.id, "")
    assert recorded.calls == 2  # the client index (the filter), one page of messages
    assert [c.name for c in page.clients] == ["Omar Haddad", "Priya Shah"]
    assert (page.client_id, page.first_page) == (priya.id, True)
    assert [m.client_id for m in page.page.messages] == [priya.id]
    assert messages.whatsapp_page(deps, trainer.id, omar.id, "").page.messages == []
    # Another trainer's id (or a stale link) shows everything instead.
    assert messages.whatsapp_page(deps, trainer.id, "someone-else", "").client_id == ""


def test_a_deployed_run_stops_taking_work_when_its_lambda_time_runs_low(
    trainer: Browser,
    booked: tuple[str, str],
    chalice_client: Client,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    session_url, _ = booked
    send(trainer, session_url, "confirm")
    # Deployed, the context's clock is real: Chalice's test context has 3 s in all, less
    # than the run keeps in reserve, so nothing is taken and the message waits.
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "pt-bookings-test-dispatch_messages")
    report = _invoke_dispatcher(chalice_client)
    assert report["due"] == 1 and report["claimed"] == 0 and report["stopped_early"]
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME")
    assert _invoke_dispatcher(chalice_client)["claimed"] == 1

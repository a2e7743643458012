"""Packs paid up front (issue 16 item 2): a bundle paid as a whole, its countdown on the
profile and the portal, the "2 left" notice and the renewal message, and a pack tied to
a recurring slot that Apply template books, through the real app."""

from __future__ import annotations

import html
import re

import pytest

from chalicelib import runtime
from tests.functional.conftest import Browser
from tests.functional.test_locations_and_template import add_location
from tests.functional.test_programs import (
    SESSION_LINK,
    create_bundle,
    version_of,
)
from tests.functional.test_schedule_pages import add_client, trainer_id


@pytest.fixture
def pack(trainer: Browser, clock) -> dict[str, str]:
    studio = add_location(trainer, "Studio")
    priya = add_client(trainer, "Priya Shah")
    bundle = create_bundle(trainer, studio, priya)
    return {
        "studio": studio,
        "priya": priya,
        "bundle": bundle,
        "path": f"/dashboard/bundles/{bundle}",
    }


def pay(browser: Browser, path: str, payment_type: str = "bank_transfer", version: str = ""):
    version = version or version_of(browser.get(path).body)
    return browser.post(
        path, {"action": "pack_pay", "payment_type": payment_type, "version": version}
    )


def test_a_pack_marked_paid_marks_each_of_its_sessions_paid_pack_once(
    trainer: Browser, pack
) -> None:
    path = pack["path"]
    page = trainer.get(path)
    assert page.status == 200, page.body
    assert "Paid session by session" in page.body and "Mark the pack paid" in page.body
    assert page.body.count(">Unpaid</span>") == 12
    done = pay(trainer, path)
    assert done.status == 303, done.body
    page = trainer.get(path).body
    assert "Paid as a pack on 23 Nov 2026 (bank transfer)" in page
    assert page.count(">Paid (pack)</span>") == 12 and ">Unpaid</span>" not in page
    session = trainer.get(SESSION_LINK.findall(page)[0]).body
    assert "Paid with the pack" in session and "Paid (pack)" in session
    twice = pay(trainer, path, version=version_of(page))
    assert twice.status == 400
    assert (
        "already marked paid on 23 Nov 2026 (bank transfer): nothing was marked twice" in twice.body
    )


def test_the_balance_falls_by_the_pack_and_undo_makes_it_owed_again(trainer: Browser, pack) -> None:
    path, profile = pack["path"], f"/dashboard/clients/{pack['priya']}"
    assert "Outstanding balance: £0.00" in trainer.get(profile).body  # nothing past yet
    assert pay(trainer, path).status == 303
    first = SESSION_LINK.findall(trainer.get(path).body)[0]
    # a pack session's own payment form is refused: it is paid by the pack
    own = trainer.post(
        first,
        {
            "action": "payment",
            "paid": "no",
            "payment_type": "",
            "version": version_of(trainer.get(first).body),
        },
    )
    assert (
        own.status == 400 and "change the pack&#39;s payment on the bundle&#39;s page" in own.body
    )
    undone = trainer.post(
        path, {"action": "pack_unpay", "version": version_of(trainer.get(path).body)}
    )
    assert undone.status == 303 and "saved=pack_unpay" in undone.location
    page = trainer.get(path).body
    assert "Paid session by session" in page and page.count(">Unpaid</span>") == 12
    assert "Unpaid" in trainer.get(first).body


def test_a_bad_payment_type_or_a_stale_page_marks_nothing(trainer: Browser, pack) -> None:
    path = pack["path"]
    version = version_of(trainer.get(path).body)
    bad = pay(trainer, path, payment_type="bitcoin", version=version)
    assert bad.status == 400 and "Choose how the pack was paid." in bad.body
    blank = pay(trainer, path, payment_type="", version=version)
    assert blank.status == 400
    stale = pay(trainer, path, version=str(int(version) + 5))
    assert stale.status == 409
    page = trainer.get(path).body
    assert "Paid session by session" in page and ">Paid (pack)</span>" not in page


def test_another_trainers_bundle_cannot_be_paid_tied_or_renewed(
    trainer: Browser, other_trainer: Browser, pack
) -> None:
    path = pack["path"]
    for form in (
        {"action": "pack_pay", "payment_type": "cash", "version": "1"},
        {"action": "tie", "template_slot_id": "x", "version": "1"},
        {"action": "renewal"},
    ):
        assert other_trainer.post(path, form).status == 404
    assert "Paid session by session" in trainer.get(path).body


def test_sessions_left_count_down_on_the_bundle_the_profile_and_the_portal(
    trainer: Browser, pack, clock
) -> None:
    from tests.functional.test_portal_link import portal_path

    path, profile = pack["path"], f"/dashboard/clients/{pack['priya']}"
    assert "12 of 12 left" in trainer.get(path).body
    assert "12 of 12 left" in trainer.get(profile).body
    portal = portal_path(trainer, pack["priya"])
    clock.advance(days=16)  # 1 and 8 Dec have taken place
    assert "10 of 12 left" in trainer.get(path).body
    assert "10 of 12 left" in trainer.get(profile).body
    assert "10 of 12 left" in trainer.get(portal).body


def test_a_charged_no_show_uses_its_place_and_a_free_cancel_gives_it_back(
    trainer: Browser, pack, clock
) -> None:
    from tests.functional.test_policy import set_policy

    assert set_policy(trainer, "100", "0").status == 303
    path = pack["path"]
    sessions = SESSION_LINK.findall(trainer.get(path).body)
    # a free cancel of the last session gives its place back: one may be added
    canceled = trainer.post(
        sessions[-1], {"action": "cancel", "version": version_of(trainer.get(sessions[-1]).body)}
    )
    assert canceled.status == 303, canceled.body
    assert "All 12 sessions are scheduled." not in trainer.get(path).body
    clock.advance(days=8, hours=2)  # 1 Dec is over
    marked = trainer.post(
        sessions[0], {"action": "no_show", "version": version_of(trainer.get(sessions[0]).body)}
    )
    assert marked.status == 303, marked.body
    assert "11 of 12 left" in trainer.get(path).body  # the no-show used its place


def test_a_session_added_to_a_paid_pack_is_born_paid(trainer: Browser, pack) -> None:
    path = pack["path"]
    sessions = SESSION_LINK.findall(trainer.get(path).body)
    trainer.post(
        sessions[-1], {"action": "cancel", "version": version_of(trainer.get(sessions[-1]).body)}
    )
    assert pay(trainer, path, payment_type="cash").status == 303
    added = trainer.post(
        path,
        {
            "action": "add",
            "day": "2027-03-02",
            "start": "10:00",
            "version": version_of(trainer.get(path).body),
        },
    )
    assert added.status == 303, added.body
    page = trainer.get(path).body
    assert page.count(">Paid (pack)</span>") == 12  # 11 kept and the new one


def _run_reminders_job(chalice_client) -> dict:
    event = chalice_client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
    )
    return chalice_client.lambda_.invoke("queue_reminders", event).payload


def test_the_trainer_hears_once_at_two_left_and_may_send_one_renewal(
    trainer: Browser, clock, chalice_client
) -> None:
    studio = add_location(trainer, "Studio")
    priya = add_client(trainer, "Priya Shah")
    bundle = create_bundle(trainer, studio, priya, sessions="4", title="Four-pack")
    path = f"/dashboard/bundles/{bundle}"
    first = _run_reminders_job(chalice_client)["packs"]
    assert first == {"looked": 1, "noticed": 0, "filed": 1}  # filed under 8 Dec 11:00
    assert runtime.repository().activity.feed(trainer_id(trainer)) == []
    refused = trainer.post(path, {"action": "renewal"})
    assert refused.status == 400 and "2 sessions or fewer left" in refused.body
    clock.advance(days=16)  # 1 and 8 Dec (10:00-11:00) are over: 2 left
    assert _run_reminders_job(chalice_client)["packs"]["noticed"] == 1
    assert _run_reminders_job(chalice_client)["packs"] == {"looked": 0, "noticed": 0, "filed": 0}
    feed = runtime.repository().activity.feed(trainer_id(trainer))
    assert [(a.client_name, a.text, a.link) for a in feed] == [
        (
            "Priya Shah",
            "has 2 sessions left of “Four-pack”: time to offer the next pack",
            f"/dashboard/bundles/{bundle}#renewal",
        )
    ]
    page = trainer.get(path).body
    assert "2 of 4 left" in page and "Send renewal message" in page
    sent = trainer.post(path, {"action": "renewal"})
    assert sent.status == 303 and "saved=renewal" in sent.location
    twice = trainer.post(path, {"action": "renewal"})
    assert twice.status == 400 and "already sent" in twice.body
    messages = html.unescape(trainer.get("/dashboard/whatsapp/all").body)
    assert messages.count("Pack renewal") == 1
    assert "you have 2 sessions left of your pack “Four-pack”" in messages
    assert "Renewal message sent" in trainer.get(path).body


def test_a_canceled_session_moves_the_notice_later(trainer: Browser, clock, chalice_client) -> None:
    studio = add_location(trainer, "Studio")
    priya = add_client(trainer, "Priya Shah")
    bundle = create_bundle(trainer, studio, priya, sessions="4", title="Four-pack")
    path = f"/dashboard/bundles/{bundle}"
    _run_reminders_job(chalice_client)
    sessions = SESSION_LINK.findall(trainer.get(path).body)
    second = sessions[1]
    trainer.post(second, {"action": "cancel", "version": version_of(trainer.get(second).body)})
    clock.advance(days=16)  # 1 Dec is over, 8 Dec canceled: 3 left
    packs_run = _run_reminders_job(chalice_client)["packs"]
    assert packs_run["noticed"] == 0 and packs_run["looked"] == 1
    assert runtime.repository().activity.feed(trainer_id(trainer)) == []


def create_partly_booked_bundle(
    browser: Browser, studio: str, client: str, planned: str, booked: int, **offer: str
) -> str:
    """A bundle of `planned` sessions with only its first `booked` dates booked."""
    from tests.functional.test_programs import (
        cards_on,
        fill_offer,
        generate,
        post_step,
        schedule_form,
        start_wizard,
        wizard_path,
    )

    draft = start_wizard(browser, client)
    assert fill_offer(browser, draft, studio, sessions=planned, **offer).status == 303
    assert generate(browser, draft, "2026-12-01", "10:00").status == 303
    cards = cards_on(browser.get(wizard_path(draft, "schedule")).body)[:booked]
    assert post_step(browser, draft, "schedule", schedule_form(cards)).status == 303
    created = post_step(browser, draft, "confirm", {"action": "create"})
    assert created.status == 303, created.body
    return created.location.split("?")[0].split("/dashboard/bundles/")[1]


def test_a_pack_tied_to_a_recurring_slot_books_apply_template_weeks_while_places_remain(
    trainer: Browser, clock
) -> None:
    from tests.functional.test_clients_pages import post_profile_with, template_slot_ids
    from tests.functional.test_locations_and_template import add_slot

    studio = add_location(trainer, "Studio")
    add_slot(trainer, 2, "18:00", "19:00", studio)  # Wednesdays
    (wednesday,) = template_slot_ids(trainer)
    priya = add_client(trainer, "Priya Shah")
    assert post_profile_with(trainer, priya, [studio], [wednesday], price="45").status == 303
    bundle = create_partly_booked_bundle(
        trainer, studio, priya, "4", 1, title="Four-pack", price="200"
    )
    path = f"/dashboard/bundles/{bundle}"
    page = trainer.get(path).body
    assert "Wednesday 18:00–19:00" in page and "Tie to this slot" in page
    assert pay(trainer, path, payment_type="cash").status == 303
    tied = trainer.post(
        path,
        {
            "action": "tie",
            "template_slot_id": wednesday,
            "version": version_of(trainer.get(path).body),
        },
    )
    assert tied.status == 303, tied.body
    assert "Tied to Wednesday 18:00–19:00" in trainer.get(path).body
    applied = html.unescape(
        trainer.post("/dashboard/schedule/apply", {"week": "2026-W48", "weeks": "5"}).body
    )
    assert applied.count("1 recurring session booked.") == 5
    for n, day in ((2, "25 Nov"), (3, "2 Dec"), (4, "9 Dec")):
        line = f"Wednesday {day} 18:00–19:00 · <strong>Priya Shah</strong>"
        assert f"{line} (pack “Four-pack”, session {n})" in applied
    for day in ("16 Dec", "23 Dec"):
        assert f"Wednesday {day} 18:00–19:00 · <strong>Priya Shah</strong> (recurring)" in applied
    page = trainer.get(path).body
    # the Tuesday booked by the wizard and three Wednesdays: its four places
    assert page.count(">Paid (pack)</span>") == 4
    for day in ("Wednesday 25 Nov", "Wednesday 2 Dec", "Wednesday 9 Dec"):
        assert day in page
    assert "All 4 sessions are scheduled." in page
    # the weeks after are booked session by session at Priya's own price, unpaid
    week = trainer.get("/dashboard/schedule?week=2026-W51").body
    later = re.search(r'href="(/dashboard/sessions/[^"]+)"', week)
    assert later
    session = html.unescape(trainer.get(later.group(1)).body)
    assert "£45.00" in session and "Unpaid" in session and "Four-pack" not in session
    pack_session = html.unescape(trainer.get(SESSION_LINK.findall(page)[1]).body)
    assert "£50.00" in pack_session and "Paid with the pack" in pack_session


def test_a_tie_to_a_slot_that_is_not_the_clients_is_refused(trainer: Browser, pack) -> None:
    path = pack["path"]
    refused = trainer.post(
        path,
        {
            "action": "tie",
            "template_slot_id": "not-hers",
            "version": version_of(trainer.get(path).body),
        },
    )
    assert refused.status == 400 and "Pick one of Priya&#39;s recurring slots." in refused.body


def test_reports_show_packs_sold_their_revenue_and_the_sessions_left(
    trainer: Browser, pack, clock, chalice_client
) -> None:
    path = pack["path"]
    assert pay(trainer, path, payment_type="cash").status == 303
    _run_reminders_job(chalice_client)
    report = html.unescape(trainer.get("/dashboard/reports?from=2026-11&to=2026-11").body)
    assert "<dt>Sold in these months</dt><dd>1 (£540.00)</dd>" in report
    assert "<dt>Sessions left on your packs</dt><dd>12 of 12 sold</dd>" in report
    clock.advance(days=16)  # 1 and 8 Dec have taken place
    _run_reminders_job(chalice_client)
    december = html.unescape(trainer.get("/dashboard/reports?from=2026-12&to=2026-12").body)
    assert "<dt>Sessions left on your packs</dt><dd>10 of 12 sold</dd>" in december
    assert "<dt>Sold in these months</dt><dd>0 (£0.00)</dd>" in december
    # December's five Tuesdays, paid with the pack: £45 each, in the Pack column
    assert '<th scope="col">Pack</th>' in december
    assert "<td>£225.00</td>" in december
    done = trainer.post(path, {"action": "complete", "version": version_of(trainer.get(path).body)})
    assert done.status == 303
    _run_reminders_job(chalice_client)
    december = html.unescape(trainer.get("/dashboard/reports?from=2026-12&to=2026-12").body)
    assert "<dt>Sessions left on your packs</dt><dd>0 of 12 sold</dd>" in december


# Paying a pack by card (Stripe) -----------------------------------------------------------
@pytest.fixture
def card_stage(monkeypatch: pytest.MonkeyPatch):
    from chalicelib.messaging import whatsapp
    from chalicelib.services import card_payments
    from tests.support.fake_stripe import fake_stripe

    monkeypatch.setenv("APP_STAGE", "test")
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    whatsapp.forget_secrets()
    with fake_stripe() as fake:
        monkeypatch.setenv(card_payments.API_BASE_ENV, fake.url)
        yield fake
    whatsapp.forget_secrets()


def test_a_pack_paid_by_card_through_stripe_is_marked_once_and_a_full_refund_undoes_it(
    trainer: Browser, pack, clock, card_stage
) -> None:
    from tests.functional.test_card_pages import connect, post_event
    from tests.support.builders import trainer_of
    from tests.support.fake_stripe import completed_event, refunded_event
    from tests.support.table import unchanged

    connect(trainer)
    path = pack["path"]
    page = html.unescape(trainer.get(path).body)
    found = re.search(
        r'id="pack_card_link" type="text" readonly value="http://testserver([^"]+)"', page
    )
    assert found, "no card link for the pack"
    link = found.group(1)
    visitor = Browser(trainer.client, [])
    pay_page = html.unescape(visitor.get(link).body)
    assert "12-session coaching (a pack of 12 sessions)" in pay_page
    assert "Pay £540.00 by card" in pay_page
    sent = visitor.post(link, {}, csrf=visitor.get(link).csrf())
    assert sent.status == 303, sent.body
    (request,) = card_stage.requests
    assert request.form["metadata[pack_id]"] == pack["bundle"]
    assert request.form["line_items[0][price_data][unit_amount]"] == "54000"
    assert "metadata[session_0]" not in request.form

    repo = runtime.repository()
    coach = trainer_of(repo, trainer_id(trainer))
    payload = completed_event(
        "evt_pack", coach.id, pack["priya"], [], 54000, pack_id=pack["bundle"]
    )
    first = post_event(trainer, coach, payload, clock.now)
    assert (first.status, first.body) == (200, "marked pack"), first.body
    page = trainer.get(path).body
    assert "Paid as a pack on 23 Nov 2026 (card)" in page
    assert page.count(">Paid (pack)</span>") == 12
    with unchanged(repo):
        replay = post_event(trainer, coach, payload, clock.now)
    assert (replay.status, replay.body) == (200, "marked 0")
    assert "This pack is paid. Thank you!" in visitor.get(link).body

    refund = post_event(trainer, coach, refunded_event("evt_back", 54000, 54000), clock.now)
    assert (refund.status, refund.body) == (200, "refunded 1"), refund.body
    page = trainer.get(path).body
    assert "Paid session by session" in page and page.count(">Unpaid</span>") == 12
    with unchanged(repo):
        again = post_event(trainer, coach, refunded_event("evt_back2", 54000, 54000), clock.now)
    assert again.status == 200 and "Paid session by session" in trainer.get(path).body


def test_a_pack_paid_by_hand_before_stripe_reports_is_left_and_recorded(
    trainer: Browser, pack, clock, card_stage
) -> None:
    from tests.functional.test_card_pages import connect, post_event
    from tests.support.builders import trainer_of
    from tests.support.fake_stripe import completed_event

    connect(trainer)
    assert pay(trainer, pack["path"], payment_type="cash").status == 303
    coach = trainer_of(runtime.repository(), trainer_id(trainer))
    payload = completed_event(
        "evt_late", coach.id, pack["priya"], [], 54000, pack_id=pack["bundle"]
    )
    late = post_event(trainer, coach, payload, clock.now)
    assert (late.status, late.body) == (200, "marked 0")
    assert "Paid as a pack on 23 Nov 2026 (cash)" in trainer.get(pack["path"]).body

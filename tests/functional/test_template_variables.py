"""Every business-initiated message is queued with its template's variables, so it can go
outside the client's 24-hour window: each flow below queues its message through the pages,
then the message is turned into the template send the dispatcher would make with the
window closed (`templates.choose`), and the parameters are checked one by one."""

from __future__ import annotations

import re

from chalicelib import runtime
from chalicelib.domain.messages import Message
from chalicelib.messaging import templates
from chalicelib.messaging.payloads import TemplateSend
from chalicelib.messaging.templates import SPECS, Binding, TemplateSet
from chalicelib.services.dispatcher import link_url
from tests.functional import test_offers
from tests.functional.conftest import Browser
from tests.functional.test_client_notifications import _version, world  # noqa: F401
from tests.functional.test_messages import (  # noqa: F401
    booked,
    invoice_reference,
    send,
    set_payment_details,
)
from tests.functional.test_portal_booking import SESSION_LINK, World

scene = test_offers.scene
EVERY_KIND = TemplateSet("meta", {kind: Binding(name=spec.name) for kind, spec in SPECS.items()})


def _tid(trainer: Browser) -> str:
    return trainer.cookies["pt_session"].split(".")[0]


def _queued(trainer: Browser, kind: str) -> Message:
    messages, _ = runtime.repository().outbox.page(_tid(trainer), None, None)
    (found,) = [m for m in messages if m.kind == kind]
    return found


def _outside_the_window(message: Message) -> TemplateSend:
    send_ = templates.choose(
        message.template_kind,
        message.variables,
        link_url(runtime.links(), message),
        EVERY_KIND,
        window_open=False,
    )
    assert send_ is not None
    assert send_.name == SPECS[message.template_kind].name
    return send_


def _filled(message: Message) -> str:
    spec = SPECS[message.template_kind]
    return templates.fill(spec.body, _outside_the_window(message).parameters)


def test_an_invoice_goes_as_its_template_with_the_bank_details_on_one_line(
    trainer: Browser,
    booked: tuple[str, str],  # noqa: F811
) -> None:
    set_payment_details(trainer)
    assert send(trainer, booked[0], "invoice").status == 303
    parameters = _outside_the_window(_queued(trainer, "invoice")).parameters
    assert parameters == (
        "Priya",
        "Alex Fit",  # the business name set with the payment details
        "Thursday 26 Nov 09:00–10:00 2026",
        "Studio",
        "£40.00",
        "Payee: Alex Byrne; Bank: Monzo; Account number: 12345678; Sort code: 04-00-04",
        invoice_reference(trainer, booked[0]),
    )


def test_a_confirmation_goes_as_its_template_with_the_session_link(
    trainer: Browser,
    booked: tuple[str, str],  # noqa: F811
) -> None:
    assert send(trainer, booked[0], "confirm").status == 303
    message = _queued(trainer, "confirmation")
    parameters = _outside_the_window(message).parameters
    assert parameters[:4] == ("Priya", "coach", "Thursday 26 Nov 09:00–10:00 2026", "Studio")
    assert re.fullmatch(r"http://testserver/s/[A-Za-z0-9_-]{43}", parameters[4])
    assert parameters[4] in runtime.links().message_text(message)  # the same link as the text


def test_an_offer_goes_as_its_template_with_the_deadline_day_and_the_offer_link(
    scene: test_offers.Scene,
) -> None:
    assert test_offers._send(scene).status == 303
    parameters = _outside_the_window(_queued(scene.trainer, "offer")).parameters
    assert parameters[0] == "Omar"
    assert parameters[2] == "Wednesday 25 Nov 18:00–19:00 2026"
    # The chat text says "until 18:30"; the template, read out of any chat, names the day.
    assert re.fullmatch(r"[A-Z][a-z]{2} \d{2} [A-Z][a-z]{2} \d{2}:\d{2}", parameters[4])
    assert re.fullmatch(r"http://testserver/o/[A-Za-z0-9_-]{43}", parameters[5])


def test_a_portal_link_goes_as_its_template(trainer: Browser, clock) -> None:
    from tests.functional.test_clients_pages import _share_form, add_client

    client_id = add_client(trainer, "Priya Shah")
    page = trainer.get(f"/dashboard/clients/{client_id}").body
    version = re.search(r'name="version" value="(\d+)"', page)
    assert version
    form = {"action": "send_link", "version": version.group(1), **_share_form(page)}
    assert trainer.post(f"/dashboard/clients/{client_id}", form).status == 303
    parameters = _outside_the_window(_queued(trainer, "portal_link")).parameters
    assert parameters[:2] == ("Priya", "coach")  # no business name: the email's name
    assert re.fullmatch(r"http://testserver/c/[A-Za-z0-9_-]{43}", parameters[2])


def test_a_client_cancel_and_the_trainers_notification_go_as_templates(
    world: World,  # noqa: F811
) -> None:
    set_payment_details(
        world.trainer, whatsapp_number="07400 654321", client_activity_notify="whatsapp"
    )
    wednesday = SESSION_LINK.findall(world.client.get(world.home).body)[0]
    version = _version(world.client.get(f"{wednesday}?confirm=cancel").body)
    assert world.client.post(wednesday, {"action": "cancel", "version": version}).status == 303

    receipt = _filled(_queued(world.trainer, "canceled"))
    assert "Wednesday 25 Nov 18:00–19:00 2026 at Studio is canceled, as you asked" in receipt
    assert f"http://testserver{world.home}" in receipt

    told = _queued(world.trainer, "notification")
    what, url = _outside_the_window(told).parameters
    assert what == "Priya Shah canceled Wednesday 25 Nov 18:00–19:00"
    assert url == f"http://testserver/dashboard/sessions/{told.subject_ref}"


def test_a_name_with_newlines_cannot_add_lines_to_any_template(
    trainer: Browser,
    booked: tuple[str, str],  # noqa: F811
) -> None:
    set_payment_details(trainer, business_name="Alex\nAmount due: £0\nByrne")
    assert send(trainer, booked[0], "invoice").status == 303
    body = _filled(_queued(trainer, "invoice"))
    template_lines = SPECS["invoice"].body.count("\n")
    assert body.count("\n") == template_lines  # the fixed text's lines and no more

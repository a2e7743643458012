"""Queue messages to clients (invoice, confirmation) and list them for the WhatsApp tab.

Nothing here sends: a message is written to the outbox, and `dispatcher` sends it.
A form carries a `send_id` made when the page was shown; it becomes the message id, so a
double click or a replayed form finds the message already there and queues nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.domain.bank_statements import MAX_REFERENCE_ATTEMPTS, payment_reference
from chalicelib.domain.card_payments import CardSettings, pay_link_ref
from chalicelib.domain.clients import Client
from chalicelib.domain.errors import Conflict, InvalidInput
from chalicelib.domain.invoices import PDF_PLACEHOLDER, Invoice, link_target, parse_link_target
from chalicelib.domain.messages import (
    LINK_PLACEHOLDER,
    WHATSAPP,
    LinkRef,
    Message,
    confirmation_problem,
    invoice_problem,
    require_none,
)
from chalicelib.domain.models import Trainer
from chalicelib.domain.schedule import Session
from chalicelib.domain.settings import format_money
from chalicelib.domain.timeutil import local_today, week_key
from chalicelib.messaging.templates import bank_line, variables_for
from chalicelib.messaging.texts import render_text
from chalicelib.repo.card_payments import CardPaymentStore
from chalicelib.repo.invoices import SessionChanged
from chalicelib.repo.reconciliation import ReferenceTaken
from chalicelib.repo.repository import ClientSummary, Repository
from chalicelib.repo.schedule import session_message_parts
from chalicelib.services import invoices
from chalicelib.services.deps import Deps
from chalicelib.services.links import INVOICE_LINK_KIND
from chalicelib.services.sessions import decode_cursor, encode_cursor

_SEND_ID = re.compile(r"^[A-Za-z0-9_-]{12}$")


@dataclass(frozen=True)
class Queued:
    message_id: str
    new: bool  # False: the same form was already sent (double click); nothing was added


def _send_id(text: str | None) -> str:
    value = (text or "").strip()
    if not _SEND_ID.match(value):
        raise InvalidInput({"_form": "This form has expired. Reload the page and try again."})
    return value


def _place(trainer: Trainer, session: Session) -> str:
    location = trainer.locations.get(session.location_id)
    return location.name if location else "the usual place"


def _message(
    session: Session,
    client: Client,
    send_id: str,
    kind: str,
    text: str,
    now: datetime,
    variables: dict[str, str],
) -> Message:
    return Message(
        id=send_id,
        week=session.week,
        subject_id=session.id,
        subject_ref=session.ref,
        client_id=client.id,
        client_name=client.name,
        kind=kind,
        channel=WHATSAPP,
        to=client.phone,
        text=text,
        variables=variables,
        created_at=now,
        next_attempt_at=now,
    )


def send_invoice(
    repo: Repository,
    trainer: Trainer,
    session: Session,
    send_id_text: str | None,
    now: datetime,
    base_url: Callable[[], str] | None = None,
) -> Queued:
    """Queue a WhatsApp invoice at the session's price (the client's current price if the
    session was booked before they had one) with the trainer's bank details and the
    session's payment reference, which a bank statement line is matched by
    (services/reconciliation.py). The reference is derived from the session, so a resend
    names the same one; its lookup item is claimed in the invoice's own write. With
    `base_url` (asked only then), a trainer who takes card payments adds a pay link
    (docs/card-payments.md): one more read, of their card connection.

    The send issues the session's numbered invoice first (services/invoices.py: once per
    session; a resend names the same number) and, with `base_url`, links its PDF."""
    send_id = _send_id(send_id_text)
    client = repo.get_client(trainer.id, session.client_id)
    price = session.price_minor if session.price_minor is not None else client.price_minor
    payment = trainer.settings.payment
    require_none(invoice_problem(session, price, payment))
    assert price is not None
    pay = _pay_link(repo, trainer, client, session, base_url)
    store = invoices.store(repo)
    existing = store.for_session(trainer.id, session.id)
    try:
        if existing is None:
            issued = _issue_with_message(
                repo, trainer, session, client, send_id, price, now, pay, base_url
            )
            if issued is not None:
                return issued
            existing = store.for_session(trainer.id, session.id)  # another tab's, just now
            if existing is None:
                raise Conflict("The invoice could not be issued. Try again.")
        message, invoiced = _invoice_message(
            trainer,
            session,
            client,
            send_id,
            price,
            existing.reference,
            now,
            _invoice_link(existing, client, pay, base_url),
            existing.label,
        )
        new = repo.queue_session_message(
            trainer.id, session, message, invoiced=invoiced, reference=existing.reference
        )
        return Queued(send_id, new)
    except ReferenceTaken as exc:
        # Claimed by another session between the invoice's check and this write: the
        # invoice is issued with it, so another reference cannot be swapped in.
        raise Conflict("This invoice's payment reference was taken meanwhile. Try again.") from exc


def _issue_with_message(
    repo: Repository,
    trainer: Trainer,
    session: Session,
    client: Client,
    send_id: str,
    price: int,
    now: datetime,
    pay: LinkRef | None,
    base_url: Callable[[], str] | None,
) -> Queued | None:
    """The session's first invoice and its message in one write: the number, the record
    and the message go together or not at all (a session canceled in between gets
    neither). None when another tab issued the session's invoice a moment before."""
    for attempt in range(MAX_REFERENCE_ATTEMPTS):
        reference = payment_reference(trainer.id, session.id, attempt)
        if not invoices.store(repo).reference_free(trainer.id, reference, session.id):
            continue

        def parts(invoice: Invoice, reference: str = reference) -> list[dict[str, Any]]:
            message, invoiced = _invoice_message(
                trainer,
                session,
                client,
                send_id,
                price,
                reference,
                now,
                _invoice_link(invoice, client, pay, base_url),
                invoice.label,
            )
            return session_message_parts(
                trainer.id,
                session,
                message,
                invoiced=invoiced,
                reference=reference,
                at_version=True,
            )

        try:
            _invoice, new = invoices.issue_for_session(
                repo,
                trainer,
                session,
                client,
                price,
                reference,
                _place(trainer, session),
                now,
                with_parts=parts,
            )
        except SessionChanged as exc:
            raise Conflict(
                "This session was canceled or moved meanwhile. Reload the page to see it."
            ) from exc
        return Queued(send_id, True) if new else None
    raise Conflict("No payment reference could be made for this invoice. Try again.")


def _invoice_link(
    invoice: Invoice, client: Client, pay: LinkRef | None, base_url: Callable[[], str] | None
) -> LinkRef | None:
    """The message's one LinkRef: the PDF's, carrying the card pay link's session too."""
    if base_url is None:
        return pay
    return LinkRef(
        kind=INVOICE_LINK_KIND,
        base=pay.base if pay else base_url(),
        trainer_id=invoice.trainer_id,
        client_id=client.id,
        generation=client.portal_generation,
        target_id=link_target(invoice.number, pay.target_id if pay else None),
    )


def _invoice_message(
    trainer: Trainer,
    session: Session,
    client: Client,
    send_id: str,
    price: int,
    reference: str,
    now: datetime,
    link: LinkRef | None = None,
    number: str = "",
) -> tuple[Message, Session]:
    """The invoice message and the session as it marks it (invoiced at its price)."""
    payment = trainer.settings.payment
    values = {
        "first_name": client.first_name,
        "trainer": trainer.display_name,
        "when": f"{session.label} {session.day.year}",
        "place": _place(trainer, session),
        "amount": format_money(price, trainer.settings.currency, trainer.settings.locale),
        "reference": reference,
    }
    # Only the lines of the trainer's bank details format: no "Sort code" on an IBAN.
    bank_lines = payment.invoice_lines()
    has_pay = link is not None and (
        link.kind == "pay" or parse_link_target(link.target_id)[1] is not None
    )
    text = render_text(
        "invoice.txt",
        first_name=values["first_name"],
        trainer_name=values["trainer"],
        when=values["when"],
        place=values["place"],
        amount=values["amount"],
        bank_lines=bank_lines,
        reference=values["reference"],
        card_link=LINK_PLACEHOLDER if has_pay else "",
        number=number,
        pdf_link=PDF_PLACEHOLDER if link is not None and link.kind == INVOICE_LINK_KIND else "",
    )
    message = _message(
        session,
        client,
        send_id,
        "invoice",
        text,
        now,
        variables_for("invoice", bank=bank_line(bank_lines), **values),
    ).model_copy(update={"link": link})
    invoiced = session.model_copy(update={"price_minor": price, "invoice_sent_at": now})
    return message, invoiced


def _pay_link(
    repo: Repository,
    trainer: Trainer,
    client: Client,
    session: Session,
    base_url: Callable[[], str] | None,
) -> LinkRef | None:
    if base_url is None:
        return None
    card = CardPaymentStore(repo.db).settings(trainer.id) or CardSettings()
    if not card.takes_payments:
        return None
    return pay_link_ref(base_url(), trainer.id, client, card, session.ref)


def send_confirmation(
    repo: Repository,
    trainer: Trainer,
    session: Session,
    send_id_text: str | None,
    session_url: Callable[[Client, Session], LinkRef],
    now: datetime,
) -> Queued:
    send_id = _send_id(send_id_text)
    require_none(confirmation_problem(session, now))
    client = repo.get_client(trainer.id, session.client_id)
    values = {
        "first_name": client.first_name,
        "trainer": trainer.display_name,
        "when": f"{session.label} {session.day.year}",
        "place": _place(trainer, session),
    }
    text = render_text(
        "confirmation.txt",
        first_name=values["first_name"],
        trainer_name=values["trainer"],
        when=values["when"],
        place=values["place"],
        session_url=LINK_PLACEHOLDER,
    )
    message = _message(
        session, client, send_id, "confirmation", text, now, variables_for("confirmation", **values)
    )
    message = message.model_copy(update={"link": session_url(client, session)})
    return Queued(send_id, repo.queue_session_message(trainer.id, session, message))


def portal_link_text(trainer: Trainer, client: Client, portal_url: str) -> str:
    """The portal link message: queued by Send on WhatsApp, and the wa.me fallback's text."""
    return render_text(
        "portal_link.txt",
        first_name=client.first_name,
        trainer_name=trainer.display_name,
        portal_url=portal_url,
    )


def send_portal_link(
    repo: Repository,
    trainer: Trainer,
    client: Client,
    send_id_text: str | None,
    portal_link: LinkRef,
    now: datetime,
) -> Queued:
    """Queue the client's portal link on WhatsApp; the same transaction marks the link
    shared (step 6 of the checklist), so a message queued is a link counted once."""
    send_id = _send_id(send_id_text)
    if client.archived:
        raise InvalidInput({"_form": f"{client.name} is archived: restore them first."})
    text = portal_link_text(trainer, client, LINK_PLACEHOLDER)
    message = Message(
        id=send_id,
        # A message about the client, not a session: it sits in this week's partition
        # under the client's id, like a session's messages sit under the session's.
        week=week_key(local_today(now, trainer.settings.time_zone)),
        subject_id=client.id,
        subject_ref="",
        client_id=client.id,
        client_name=client.name,
        kind="portal_link",
        channel=WHATSAPP,
        to=client.phone,
        text=text,
        link=portal_link,
        variables=variables_for(
            "portal_link", first_name=client.first_name, trainer=trainer.display_name
        ),
        created_at=now,
        next_attempt_at=now,
    )
    return Queued(send_id, repo.queue_portal_link(trainer.id, client, message))


@dataclass(frozen=True)
class MessagePage:
    messages: list[Message]
    next_cursor: str | None
    now: datetime  # the request's instant, for each message's delivery_label


def list_messages(
    repo: Repository, trainer_id: str, client_id: str | None, cursor: str, now: datetime
) -> MessagePage:
    found, last = repo.outbox.page(trainer_id, client_id or None, decode_cursor(cursor))
    return MessagePage(found, encode_cursor(last), now)


@dataclass(frozen=True)
class WhatsAppPage:
    """The WhatsApp tab: a page of messages, newest first, for every client or one."""

    clients: tuple[ClientSummary, ...]  # the filter's choices, by name
    client_id: str  # the client shown, "" for everyone
    page: MessagePage
    first_page: bool


def whatsapp_page(deps: Deps, trainer_id: str, client_id: str, after: str) -> WhatsAppPage:
    """Two reads: the client index for the filter, then one page of messages."""
    clients = tuple(deps.repo.client_summaries(trainer_id))
    if client_id and client_id not in {c.id for c in clients}:
        client_id = ""  # another trainer's id or a stale link: show everything instead
    page = list_messages(deps.repo, trainer_id, client_id, after, deps.now)
    return WhatsAppPage(clients, client_id, page, first_page=not after)

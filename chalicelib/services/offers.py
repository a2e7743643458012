"""Last-minute offers: match, offer (lock + WhatsApp through the outbox), withdraw,
accept from the offer link, and the expire_offer_locks job.

Offers are never sent automatically: only the trainer's Send offer button makes one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from chalicelib import observability
from chalicelib.domain.clients import Client
from chalicelib.domain.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    expect_version,
)
from chalicelib.domain.messages import LINK_PLACEHOLDER, WHATSAPP, LinkRef, Message
from chalicelib.domain.models import Trainer
from chalicelib.domain.offers import (
    acceptance_problem,
    accepted_session_id,
    make_offer,
    matching_clients,
    was_accepted,
)
from chalicelib.domain.portal import TOO_CLOSE_NOW
from chalicelib.domain.schedule import Session, Slot, book
from chalicelib.domain.timeutil import zone
from chalicelib.domain.tokens import new_id, token_hash
from chalicelib.messaging.templates import variables_for
from chalicelib.messaging.texts import render_text
from chalicelib.repo.parts import NeighbourTaken
from chalicelib.repo.repository import (
    OFFER_LINK_KIND,
    Account,
    ClientLink,
    ClientSummary,
    ClientUnavailable,
    Repository,
    Week,
)
from chalicelib.services import travel
from chalicelib.services.jobs import OFFER_LOCK, JobReport
from chalicelib.services.links import Links
from chalicelib.services.portal import LinkInactive
from chalicelib.services.sessions import client_action_notices, client_reach, link_for

log = logging.getLogger("pt_bookings.offers")

OFFER_KIND = "offer"


def slot_matches(slot: Slot, account: Account, week: Week) -> list[ClientSummary]:
    """Clients who match this slot (`domain.offers.matching_clients`), as the client index
    has them: from the set-up read and the slot's week (its sessions)."""
    return matching_clients(
        slot, account.clients, account.opted_in, account.setup.template, week.sessions
    )


def matches_for(repo: Repository, trainer_id: str, slot: Slot) -> list[ClientSummary]:
    """Clients who match this slot, read for it alone: the set-up read and its week."""
    account = repo.get_account(trainer_id)
    return slot_matches(slot, account, repo.get_week_with_sessions(trainer_id, slot.week))


def send_offer(
    repo: Repository,
    links: Links,
    trainer: Trainer,
    slot: Slot,
    client_id: str,
    version: str | None,
    base_url: str,
    now: datetime,
    *,
    matches: Sequence[ClientSummary] | None = None,
) -> Slot:
    """Lock the slot for the client and queue the WhatsApp message with the offer link.
    `matches` are the slot's matches as the caller worked them out from its own reads
    (else read here)."""
    expect_version(slot.version, version)
    if matches is None:
        matches = matches_for(repo, trainer.id, slot)
    if client_id not in {c.id for c in matches}:
        raise InvalidInput({"client_id": "Choose one of the clients who match this slot."})
    # The one client the message is for, in full (phone, portal generation): one GetItem.
    client = repo.get_client(trainer.id, client_id)
    offer = make_offer(slot, client, new_id(), trainer.settings.offer_lock_minutes, matches, now)
    token = links.offer(trainer.id, offer.id)
    location = trainer.locations.get(slot.location_id)
    values = {
        "first_name": client.first_name,
        "trainer": trainer.display_name,
        "when": f"{slot.label} {slot.day.year}",
        "place": location.name if location else "the usual place",
    }
    expires = offer.expires_at.astimezone(zone(trainer.settings.time_zone))  # their wall clock
    text = render_text(
        "offer.txt",
        first_name=values["first_name"],
        trainer_name=values["trainer"],
        when=values["when"],
        place=values["place"],
        until=f"{expires:%H:%M}",
        offer_url=LINK_PLACEHOLDER,  # made again from the secret when sent or shown
    )
    # The template stands alone, outside any chat: its deadline names the day too.
    variables = variables_for("offer", until=f"{expires:%a %d %b %H:%M}", **values)
    message = Message(
        id=new_id(),
        week=slot.week,
        subject_id=slot.id,
        subject_ref="",
        client_id=client.id,
        client_name=client.name,
        kind=OFFER_KIND,
        channel=WHATSAPP,
        to=client.phone,
        text=text,
        variables=variables,
        link=LinkRef(
            kind="offer",
            base=base_url,
            trainer_id=trainer.id,
            client_id=client.id,
            generation=client.portal_generation,
            target_id=offer.id,
        ),
        created_at=now,
        next_attempt_at=now,
    )
    note = f"Offered to {client.name}, held until {expires:%H:%M}"
    link = ClientLink(token_hash(token), client.portal_generation)
    return repo.offer_slot(trainer.id, slot, offer, message, link, note, now)


def withdraw(repo: Repository, trainer_id: str, slot: Slot, now: datetime) -> None:
    repo.withdraw_offer(trainer_id, slot, now)


@dataclass(frozen=True)
class OfferView:
    trainer: Trainer
    client: Client
    slot: Slot | None
    offer_id: str
    problem: str | None  # why it cannot be accepted now, or None
    accepted: bool = False  # this client already took the slot through this offer

    @property
    def session_id(self) -> str:
        return accepted_session_id(self.offer_id)

    @property
    def place(self) -> str:
        location = self.trainer.locations.get(self.slot.location_id) if self.slot else None
        return location.name if location else ""

    def seconds_left(self, now: datetime) -> int:
        if self.slot is None or self.slot.offer is None:
            return 0
        return max(0, int((self.slot.offer.expires_at - now).total_seconds()))


def open_offer(repo: Repository, token: str, now: datetime) -> OfferView:
    """The offer page: the token, then client + profile + slot in one BatchGetItem."""
    record = repo.get_token(token_hash(token or ""))
    if record is None or record.kind != OFFER_LINK_KIND:
        raise NotFound("offer")
    data = record.data
    tid, cid = str(data["trainer_id"]), str(data["client_id"])
    client, trainer, slot = repo.slot_with_client(
        tid, cid, str(data["week"]), str(data["start_utc"]), str(data["slot_id"])
    )
    if client.archived or client.portal_generation != data.get("generation"):
        raise LinkInactive("offer")
    offer_id = str(data["offer_id"])
    if was_accepted(slot, offer_id):
        return OfferView(trainer, client, slot, offer_id, None, accepted=True)
    return OfferView(trainer, client, slot, offer_id, acceptance_problem(slot, offer_id, cid, now))


def accept(
    repo: Repository, links: Links, token: str, now: datetime, base_url: str = ""
) -> tuple[OfferView, Session]:
    """One transaction: the lock must be this client's and live; the session is made and
    the lock cleared together, with the client's confirmation, the trainer's word and
    the feed line (`base_url`: where the client's `/s/` link points)."""
    view = open_offer(repo, token, now)
    if view.accepted:
        raise AlreadyAccepted(view)
    if view.problem or view.slot is None:
        raise InvalidInput({"_form": view.problem or "This offer has ended."})
    # Travel time: the offer's week is read only when the trainer set one.
    near = travel.around(repo, view.trainer, view.slot)
    neighbours = travel.check_client_booking(view.trainer, view.slot, near)
    client = view.client
    _, session = book(
        view.slot, view.session_id, client.id, client.name, "manual", now, client.price_minor
    )
    try:
        repo.accept_offer(
            view.trainer.id,
            view.slot,
            view.offer_id,
            session,
            link_for(links, view.trainer.id, client, session),
            now,
            client_action_notices(
                view.trainer, client, client_reach(client), "accepted", session, base_url, now
            ),
            neighbours=neighbours,
        )
    except ClientUnavailable as exc:
        raise NotFound("client") from exc
    except NeighbourTaken as exc:
        raise InvalidInput({"_form": TOO_CLOSE_NOW}) from exc
    except Conflict as exc:
        again = open_offer(repo, token, now)
        if again.accepted:  # a second tab or a double tap won the same offer: still theirs
            raise AlreadyAccepted(again) from exc
        raise InvalidInput({"_form": again.problem or "This offer has ended."}) from exc
    observability.count("Bookings")
    return view, session


class AlreadyAccepted(Exception):
    """The offer's own client has already taken the slot through it."""

    def __init__(self, view: OfferView) -> None:
        super().__init__("already accepted")
        self.view = view


def expire_locks(repo: Repository, now: datetime) -> JobReport:
    """The expire_offer_locks job: release every lock that has run out, once each."""
    report = JobReport(OFFER_LOCK)
    for trainer_id, slot in repo.offer_slots_due(now):
        report.due += 1
        if repo.expire_offer(trainer_id, slot, now):
            report.claimed += 1
    return report

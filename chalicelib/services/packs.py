"""Packs paid up front (docs/packs.md): mark a bundle paid as a whole (or undo it), tie it
to the client's recurring slot, the "2 left" notice job, and the renewal message."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from chalicelib.domain import packs
from chalicelib.domain.clients import Client
from chalicelib.domain.commands import Command, Versioned
from chalicelib.domain.errors import InvalidInput, same_version
from chalicelib.domain.messages import EMAIL, LINK_PLACEHOLDER, WHATSAPP, LinkRef, Message
from chalicelib.domain.models import Trainer
from chalicelib.domain.programs import Bundle
from chalicelib.domain.schedule import PAYMENT_TYPES, Session
from chalicelib.domain.timeutil import local_today, week_key
from chalicelib.messaging.email import client_sender
from chalicelib.messaging.templates import variables_for
from chalicelib.messaging.texts import render_text
from chalicelib.repo.activity import ActivityEntry
from chalicelib.repo.packs import PackWrites
from chalicelib.repo.repository import Repository
from chalicelib.services.deps import Deps
from chalicelib.services.programs import store


def _writes(repo: Repository) -> PackWrites:
    return PackWrites(repo.db)


class PackPaymentForm(Versioned):
    """Mark the pack paid (how) or undo its payment, from the bundle's page."""

    bundle_id: str
    action: Literal["pay", "unpay"]
    payment_type: str = ""


PackRule = Callable[[Sequence[Session]], packs.PackPayment]


def _write(
    repo: Repository,
    trainer: Trainer,
    bundle: Bundle,
    rule: PackRule,
    log_text: str,
    now: datetime,
    also: Sequence[dict[str, Any]] = (),
) -> Bundle:
    """The bundle's sessions read (one BatchGetItem), `rule` applied, and the pack's
    payment written (repo/packs.py); sessions read again there go through `rule` too."""
    payment = rule(store(repo).bundle_sessions(trainer.id, bundle))
    return _writes(repo).write_payment(
        trainer.id,
        bundle,
        payment.bundle,
        payment.sessions,
        lambda fresh: list(rule(fresh).sessions),
        log_text,
        now,
        also=also,
    )


def _paying(bundle: Bundle, payment_type: str, now: datetime) -> PackRule:
    return lambda sessions: packs.pay_pack(bundle, sessions, payment_type, now)


def _undoing(bundle: Bundle) -> PackRule:
    return lambda sessions: packs.undo_pack_payment(bundle, sessions)


def change_pack_payment(deps: Deps, trainer: Trainer, command: PackPaymentForm) -> Bundle:
    """The pack paid as a whole, or its payment undone: the bundle and every session it
    covers, the client's balance and the figures with them."""
    bundle = store(deps.repo).get_bundle(trainer.id, command.bundle_id)
    if command.action == "unpay":
        same_version(bundle.version, command.version)
        return _write(
            deps.repo,
            trainer,
            bundle,
            _undoing(bundle),
            f"The pack “{bundle.title}” marked unpaid",
            deps.now,
        )
    rule = _paying(bundle, command.payment_type, deps.now)
    rule(())  # refused before the version: a second "Mark paid" says how it was paid
    same_version(bundle.version, command.version)
    how = PAYMENT_TYPES[command.payment_type].lower()
    return _write(
        deps.repo, trainer, bundle, rule, f"Paid with the pack “{bundle.title}” ({how})", deps.now
    )


def pay_pack_by_card(
    repo: Repository,
    trainer: Trainer,
    bundle: Bundle,
    now: datetime,
    also: Sequence[dict[str, Any]] = (),
) -> Bundle:
    """A Stripe checkout for the pack completed (services/card_payments.py): the pack
    paid by card, with `also` (the event's once-only record) in the claim's transaction.
    PackAlreadyPaid when it was paid meanwhile (by hand); VersionConflict when the bundle
    moved since read (the caller reads it again)."""
    text = f"Paid with the pack “{bundle.title}” (card, through Stripe)"
    return _write(repo, trainer, bundle, _paying(bundle, "card", now), text, now, also)


def undo_pack_by_refund(
    repo: Repository,
    trainer: Trainer,
    bundle: Bundle,
    now: datetime,
    also: Sequence[dict[str, Any]] = (),
) -> Bundle:
    """Stripe refunded the pack's card payment in full: its sessions are owed again, with
    `also` (the refund's once-only part) in the claim's transaction."""
    text = f"The pack “{bundle.title}”'s card payment was refunded through Stripe: owed again"
    return _write(repo, trainer, bundle, _undoing(bundle), text, now, also)


# The tie to a recurring slot ---------------------------------------------------------------
class TiePack(Versioned):
    bundle_id: str
    template_slot_id: str = ""  # empty: untie


def tie_pack(deps: Deps, trainer: Trainer, command: TiePack) -> Bundle:
    """Tie the pack to one of its client's recurring slots, or untie it."""
    programs = store(deps.repo)
    bundle = programs.get_bundle(trainer.id, command.bundle_id)
    same_version(bundle.version, command.version)
    client = deps.repo.get_client(trainer.id, bundle.client_id)  # its sessions are not needed
    slot_id = command.template_slot_id or None
    if slot_id is not None:
        if client.archived:
            raise InvalidInput({"_form": f"{client.name} is archived: restore them first."})
        choices = dict(packs.tie_choices(deps.repo.get_setup(trainer.id).template, client))
        if slot_id not in choices:
            raise InvalidInput(
                {"template_slot_id": f"Pick one of {client.first_name}'s recurring slots."}
            )
        if bundle.state(deps.now) != "active":
            raise InvalidInput({"template_slot_id": "Only an active pack books recurring weeks."})
    return _writes(deps.repo).write_tie(trainer.id, bundle, client, slot_id)


# The "2 left" notice -----------------------------------------------------------------------
@dataclass(frozen=True)
class NoticeRun:
    looked: int = 0
    noticed: int = 0
    filed: int = 0


def run_notices(repo: Repository, now: datetime, limit: int = 100) -> NoticeRun:
    """The pack job (every 5 minutes, with the reminders): each bundle due has the places
    it used counted into the trainer's running totals, is told to the Activity feed once
    when down to 2 sessions, and is filed under its next session's end. One Query, then
    one write a bundle."""
    writes = _writes(repo)
    due = writes.due(now, limit)
    noticed = filed = 0
    for trainer_id, bundle, due_sk in due:
        used = packs.counted_used(bundle, now)
        notice = (
            ActivityEntry(
                id=f"pack-low-{bundle.id}",
                at=now,
                actor="system",
                client_name=bundle.client_name,
                text=packs.notice_text(bundle, now),
                session_ref="",
                link=f"/dashboard/bundles/{bundle.id}#renewal",
            )
            if packs.notice_due(bundle, now)
            else None
        )
        next_at = packs.next_check(bundle, now)
        if notice is None and used == bundle.used_counted:
            filed += writes.file_notice_check(trainer_id, bundle, due_sk, next_at)
            continue
        wrote = writes.write_check(trainer_id, bundle, due_sk, used, next_at, notice, now)
        noticed += bool(wrote and notice is not None)
        filed += bool(wrote and notice is None)
    return NoticeRun(len(due), noticed, filed)


# The renewal message -----------------------------------------------------------------------
class SendRenewal(Command):
    bundle_id: str


def renewal_message(
    trainer: Trainer, bundle: Bundle, client: Client, portal: LinkRef, now: datetime
) -> Message:
    """By email when the client has a working address, else WhatsApp (a template outside
    the 24-hour window)."""
    left = bundle.left(now)
    values = {
        "first_name": client.first_name,
        "left": f"{left} session{'s' if left != 1 else ''}",
        "program": bundle.title,
        "trainer": trainer.display_name,
    }
    by_email = bool(client.email) and not client.email_bouncing
    channel = EMAIL if by_email else WHATSAPP
    return Message(
        id=f"{bundle.id}-renewal",
        # About the bundle, not a session: this week's partition under the bundle's id.
        week=week_key(local_today(now, trainer.settings.time_zone)),
        subject_id=bundle.id,
        subject_ref="",
        client_id=client.id,
        client_name=client.name,
        kind="pack_renewal",
        channel=channel,
        to=client.email if by_email else client.phone,
        subject=f"Your pack with {trainer.display_name}" if by_email else "",
        **client_sender(trainer, channel),
        text=render_text("pack_renewal.txt", **values, portal_url=LINK_PLACEHOLDER),
        link=portal,
        variables=variables_for("pack_renewal", **values),
        created_at=now,
        next_attempt_at=now,
    )


def send_renewal(
    deps: Deps, trainer: Trainer, command: SendRenewal, portal: Callable[[Client], LinkRef]
) -> Bundle:
    """Queue the renewal message once per pack (a second press, another tab: refused)."""
    programs = store(deps.repo)
    bundle = programs.get_bundle(trainer.id, command.bundle_id)
    if problem := packs.renewal_problem(bundle, deps.now):
        raise InvalidInput({"_form": problem})
    client = deps.repo.get_client(trainer.id, bundle.client_id)  # its sessions are not needed
    if client.archived:
        raise InvalidInput({"_form": f"{client.name} is archived: restore them first."})
    message = renewal_message(trainer, bundle, client, portal(client), deps.now)
    _writes(deps.repo).queue_renewal(trainer.id, bundle, message, deps.now)
    return bundle.model_copy(update={"renewal_sent_at": deps.now})

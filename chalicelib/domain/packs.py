"""Packs paid up front: a bundle paid as a whole, what its client has left, the moment
the trainer hears "2 left", and the Apply template bookings a tied pack takes.

A bundle is paid session by session (as before) or as a pack: marking the pack paid
marks each of its sessions that owes anything paid with the payment type "pack" (they
show "Paid (pack)"), and a session the pack gains later is born paid. The sessions keep
their share of the price, so revenue figures still add up to the pack's price.

"Left" counts what the client has not used yet: a session that took place, or a no-show
or late cancel whose fee stands, uses its place; a free cancel gives it back.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from chalicelib.domain.clients import Client
from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.programs import Bundle
from chalicelib.domain.schedule import PACK_PAYMENT, PAYMENT_TYPES, Session
from chalicelib.domain.template import WeeklyTemplate

# The trainer hears once when a pack is down to this many sessions.
LOW_LEFT: Final = 2


class PackAlreadyPaid(InvalidInput):
    """Marking a pack paid that already is: nothing is marked twice."""


def _paid_words(bundle: Bundle) -> str:
    how = PAYMENT_TYPES.get(bundle.pack_payment_type or "", "").lower()
    when = f"{bundle.pack_paid_at:%-d %b %Y}" if bundle.pack_paid_at else ""
    return f"on {when}" + (f" ({how})" if how else "")


def owing(session: Session) -> bool:
    """A session a pack payment covers: unpaid, and live or charged a fee."""
    return not session.paid and (session.is_live or session.charged)


@dataclass(frozen=True)
class PackPayment:
    """A pack marked paid (or its payment undone): the bundle after, and each session
    that changes as (before, after)."""

    bundle: Bundle
    sessions: tuple[tuple[Session, Session], ...]


def pay_pack(
    bundle: Bundle, sessions: Iterable[Session], payment_type: str, now: datetime
) -> PackPayment:
    """The pack paid as a whole by `payment_type`; refused when it is paid already or was
    never fully created."""
    if bundle.status == "creating":
        raise InvalidInput({"_form": "This bundle was not fully created."})
    if bundle.pack_paid:
        raise PackAlreadyPaid(
            {
                "_form": f"This pack was already marked paid {_paid_words(bundle)}: "
                "nothing was marked twice."
            }
        )
    if payment_type not in PAYMENT_TYPES:
        raise InvalidInput({"payment_type": "Choose how the pack was paid."})
    changes = tuple(
        (s, s.model_copy(update={"paid": True, "payment_type": PACK_PAYMENT}))
        for s in sessions
        if s.bundle_id == bundle.id and owing(s)
    )
    paid = bundle.model_copy(update={"pack_paid_at": now, "pack_payment_type": payment_type})
    return PackPayment(paid, changes)


def undo_pack_payment(bundle: Bundle, sessions: Iterable[Session]) -> PackPayment:
    """The pack's payment undone (marked by mistake, or refunded): its sessions owe again."""
    if not bundle.pack_paid:
        raise InvalidInput({"_form": "This pack is not marked paid."})
    changes = tuple(
        (s, s.model_copy(update={"paid": False, "payment_type": None}))
        for s in sessions
        if s.bundle_id == bundle.id and s.paid and s.payment_type == PACK_PAYMENT
    )
    undone = bundle.model_copy(update={"pack_paid_at": None, "pack_payment_type": None})
    return PackPayment(undone, changes)


def born_paid(bundle: Bundle) -> dict[str, object]:
    """What a new session of this bundle carries: paid (pack) when the pack is paid."""
    return {"paid": True, "payment_type": PACK_PAYMENT} if bundle.pack_paid else {}


def payment_words(bundle: Bundle) -> str:
    """How the bundle is paid, for its page: "Paid as a pack on 1 Dec 2026 (cash)"."""
    if bundle.pack_paid:
        return f"Paid as a pack {_paid_words(bundle)}"
    return "Paid session by session"


# "2 left" ------------------------------------------------------------------------------
def running_low(bundle: Bundle, now: datetime) -> bool:
    """The trainer should hear now: an active pack down to 2 (or fewer) sessions, at
    least one of them used (a 2-session pack is not "running low" when it is sold)."""
    return (
        bundle.state(now) == "active" and bundle.used(now) >= 1 and 0 < bundle.left(now) <= LOW_LEFT
    )


def notice_due(bundle: Bundle, now: datetime) -> bool:
    return bundle.low_noticed_at is None and running_low(bundle, now)


def counted_used(bundle: Bundle, now: datetime) -> int:
    """The places the running totals count as used: every place of a completed pack
    (on its own, or by hand: what is left is given up), else those used so far."""
    if bundle.status == "creating":
        return 0
    if bundle.state(now) == "completed":
        return bundle.sessions_planned
    return min(bundle.used(now), bundle.sessions_planned)


def next_check(bundle: Bundle, now: datetime) -> datetime | None:
    """When the pack job should look at the bundle next: when its next booked session
    ends (a place is used then, and "2 left" may come); None when no booked session is
    ahead (a change to its sessions asks for a look again)."""
    if bundle.state(now) == "completed" or bundle.status == "creating":
        return None
    ends = [e.end_utc for e in bundle.entries if e.status == "booked" and e.end_utc > now]
    return min(ends) if ends else None


def notice_text(bundle: Bundle, now: datetime) -> str:
    """The Activity line (after the client's name)."""
    left = bundle.left(now)
    return (
        f"has {left} session{'s' if left != 1 else ''} left of “{bundle.title}”: "
        "time to offer the next pack"
    )


def renewal_problem(bundle: Bundle, now: datetime) -> str | None:
    """Why the renewal message cannot go now, or None."""
    if bundle.renewal_sent_at is not None:
        return (
            f"The renewal message was already sent on {bundle.renewal_sent_at:%-d %b %Y}: "
            "nothing was sent twice."
        )
    if bundle.status == "creating":
        return "This bundle was not fully created."
    if bundle.left(now) > LOW_LEFT:
        return f"The renewal message is for a pack with {LOW_LEFT} sessions or fewer left."
    return None


# The tie to a recurring slot -------------------------------------------------------------
def tie_choices(template: WeeklyTemplate, client: Client | None) -> list[tuple[str, str]]:
    """The client's recurring slots, as (template slot id, label), for the tie's select."""
    if client is None:
        return []
    return [(t.id, t.label) for t in template.slots if t.id in client.recurring]


# Apply template ------------------------------------------------------------------------
def takes_booking(bundle: Bundle, now: datetime) -> bool:
    """A tied pack books the recurring client's next week while it is active and has a
    place nobody booked yet."""
    return bundle.state(now) == "active" and bundle.places_free() > 0

"""What each session and slot adds to its trainer's figures for its week and its month.

The Reports page (issue 16 item 5) draws revenue, unpaid amounts, sessions, cancels and
utilisation from counters kept per trainer-week and per trainer-month. Every write that
changes sessions or slots adds `after − before` of what they contribute, in the same
transaction (repo/parts.figures_change), so a five-year report reads ~60 month items and
never the history. This module says what one session or slot contributes; a
recomputation from the sessions (`figures_of`) must always equal the kept counters.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from typing import Final

from chalicelib.domain.schedule import PACK_PAYMENT, PAYMENT_TYPES, Session, Slot, unpaid_amount
from chalicelib.domain.timeutil import week_key

# Counter names, as stored on the figure items (one number attribute each).
SESSIONS: Final = "sessions"  # booked sessions (live: past or upcoming)
MINUTES: Final = "minutes"  # their real minutes
UNPAID: Final = "unpaid"  # the price of booked, priced, unpaid sessions (minor units)
CANCELED: Final = "canceled"
VOIDED: Final = "voided"
OFFERED: Final = "offered"  # minutes of slots on the schedule (open or booked)
NO_SHOWS: Final = "no_shows"
LATE_CANCELS: Final = "late_cancels"  # also counted as canceled
PAID_PREFIX: Final = "paid_"  # + payment type: the price of paid sessions, by how


# Revenue by how it was paid: the form's types, and sessions covered by their pack.
PAID_WAYS: Final = (*PAYMENT_TYPES, PACK_PAYMENT)


def paid_field(payment_type: str | None) -> str:
    # A type no form offers (a record from before, say) counts as the form's "Other".
    return PAID_PREFIX + (payment_type if payment_type in PAID_WAYS else "other")


PAID_FIELDS: Final = tuple(paid_field(t) for t in PAID_WAYS)
FIELDS: Final = (
    SESSIONS,
    MINUTES,
    UNPAID,
    CANCELED,
    VOIDED,
    OFFERED,
    NO_SHOWS,
    LATE_CANCELS,
    *PAID_FIELDS,
)

# Packs sold (a bundle once created), by the month and week of the sale: kept beside the
# session counters but not recomputable from sessions, so outside FIELDS.
PACKS_SOLD: Final = "packs_sold"
PACKS_VALUE: Final = "packs_value"  # their prices, minor units
PACK_FIELDS: Final = (PACKS_SOLD, PACKS_VALUE)
# The trainer's running pack totals (one item, `PACKS_PERIOD`): places sold in every pack,
# and places used (taken place, charged, or given up by completing the pack), which the
# pack job moves as sessions end (services/packs.py): left = places − used.
PACKS_PERIOD: Final = "PACKS"
PACK_PLACES: Final = "places"
PACK_USED: Final = "used"

WEEK_PERIOD: Final = "W#"
MONTH_PERIOD: Final = "M#"


def month_key(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def periods_of(day: date) -> tuple[str, str]:
    """The week and the month a local date counts in, as figure period keys."""
    return WEEK_PERIOD + week_key(day), MONTH_PERIOD + month_key(day)


def _minutes(start_end: Session | Slot) -> int:
    return int((start_end.end_utc - start_end.start_utc) / timedelta(minutes=1))


def session_counts(session: Session) -> dict[str, int]:
    """What one session adds to its week and month, by its status now. A moved session
    adds nothing: the session it became counts."""
    if session.status == "no_show":
        return {NO_SHOWS: 1, **_fee(session)}
    if session.status == "canceled" and session.late_cancel:
        return {CANCELED: 1, LATE_CANCELS: 1, **_fee(session)}
    if session.status == "canceled":
        return {CANCELED: 1}
    if session.status == "voided":
        return {VOIDED: 1}
    if not session.is_live:
        return {}
    counts = {SESSIONS: 1, MINUTES: _minutes(session)}
    if session.paid:
        counts[paid_field(session.payment_type)] = session.price_minor or 0
    else:
        counts[UNPAID] = unpaid_amount(session)
    return counts


def _fee(session: Session) -> dict[str, int]:
    """A no-show's or late cancel's fee: revenue like a price, paid or unpaid."""
    if not session.charged:
        return {}
    if session.paid:
        return {paid_field(session.payment_type): session.charge_minor or 0}
    return {UNPAID: unpaid_amount(session)}


def slot_counts(slot: Slot) -> dict[str, int]:
    return {OFFERED: _minutes(slot)}


Deltas = dict[str, dict[str, int]]  # period key -> counter -> change


def change(
    before: Sequence[Session] = (),
    after: Sequence[Session] = (),
    *,
    slots_added: Sequence[Slot] = (),
    slots_dropped: Sequence[Slot] = (),
    packs_sold: Sequence[tuple[date, int]] = (),
) -> Deltas:
    """The counters a write moves: `after − before` of its sessions, plus the minutes of
    the slots it adds or drops and the packs it sells (local day, price), per period;
    zero changes left out."""
    deltas: defaultdict[str, defaultdict[str, int]] = defaultdict(lambda: defaultdict(int))

    def add(day: date, counts: Mapping[str, int], sign: int) -> None:
        for period in periods_of(day):
            for name, value in counts.items():
                deltas[period][name] += sign * value

    for session in before:
        add(session.day, session_counts(session), -1)
    for session in after:
        add(session.day, session_counts(session), 1)
    for slot in slots_added:
        add(slot.day, slot_counts(slot), 1)
    for slot in slots_dropped:
        add(slot.day, slot_counts(slot), -1)
    for day, price in packs_sold:
        add(day, {PACKS_SOLD: 1, PACKS_VALUE: price}, 1)
    return {
        period: {name: value for name, value in counts.items() if value}
        for period, counts in sorted(deltas.items())
        if any(counts.values())
    }


def figures_of(sessions: Iterable[Session], slots: Iterable[Slot] = ()) -> Deltas:
    """The counters recomputed from scratch: what the kept ones must equal."""
    return change((), list(sessions), slots_added=list(slots))

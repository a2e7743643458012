"""No-shows and late cancels (issue 16 item 1): the trainer's policy, the fees, and the
rules of the two marks.

A past session the client did not come to can be marked a no-show; an upcoming one the
trainer cancels for the client inside the cancel deadline can be marked a late cancel.
Each charges 0, 50 or 100 % of the session's price (Settings), which enters the client's
balance like a session's price (`schedule.unpaid_amount`) and is paid the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from chalicelib.domain.clients import MAX_CLIENT_DEADLINE_HOURS, Client
from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.portal import effective_rules
from chalicelib.domain.schedule import Session
from chalicelib.domain.settings import MAX_DEADLINE_HOURS, TrainerSettings

# No deadline reaches further: a session starting later than this cannot be canceled
# late under any rule, so its client's own rules need not be read to know it.
LATE_CANCEL_HORIZON_HOURS = max(MAX_DEADLINE_HOURS, MAX_CLIENT_DEADLINE_HOURS)
LATE_CANCEL_HORIZON = timedelta(hours=LATE_CANCEL_HORIZON_HOURS)


def fee(price_minor: int | None, percent: int) -> int | None:
    """The fee in minor units, half rounded up (a £45 session's half is £22.50; a ¥4,501
    one's ¥2,251); None when nothing is charged."""
    if not percent or not price_minor:
        return None
    return (price_minor * percent + 99) // 100


def policy_text(no_show_percent: int, late_cancel_percent: int, deadline_hours: int) -> str:
    """The portal's words before a client books; "" when both are free."""

    def share(percent: int) -> str:
        return "the full price" if percent == 100 else "half the price"

    parts = []
    if no_show_percent:
        parts.append(f"a missed session (no-show) costs {share(no_show_percent)}")
    if late_cancel_percent:
        parts.append(
            f"a cancel less than {deadline_hours} hours before costs {share(late_cancel_percent)}"
        )
    if not parts:
        return ""
    text = " and ".join(parts)
    return text[0].upper() + text[1:] + "."


def cancel_deadline_hours(settings: TrainerSettings, client: Client) -> int:
    """The deadline a late cancel is judged by: the client's own (their profile's booking
    rules) or the trainer's default, as their portal applies it."""
    return effective_rules(settings, client).cancel_deadline_hours


def late_cancel_possible(session: Session, deadline_hours: int, now: datetime) -> bool:
    """Upcoming, booked and inside the deadline: the cancel may be marked late."""
    return session.is_live and now < session.start_utc < now + timedelta(hours=deadline_hours)


def mark_no_show(session: Session, percent: int, now: datetime) -> Session:
    if not session.is_live:
        raise InvalidInput({"_form": f"This session is {session.status_label.lower()}."})
    if session.start_utc > now:
        raise InvalidInput(
            {
                "_form": "This session has not started yet: a no-show is marked once it has. "
                "Cancel it if the client will not come."
            }
        )
    return session.model_copy(
        update={"status": "no_show", "charge_minor": fee(session.price_minor, percent)}
    )


def mark_late_cancel(
    canceled: Session, percent: int, deadline_hours: int, now: datetime
) -> Session:
    """A cancel (already checked as one) marked late: only inside the deadline."""
    if canceled.start_utc - now >= timedelta(hours=deadline_hours):
        raise InvalidInput(
            {
                "late": f"This session is more than {deadline_hours} hours away, outside "
                "the cancel deadline: cancel it without the late mark."
            }
        )
    return canceled.model_copy(
        update={"late_cancel": True, "charge_minor": fee(canceled.price_minor, percent)}
    )


def charge_words(session: Session, money: Callable[[int], str]) -> str:
    """ "£22.50 charged" for the log, "nothing charged" when the policy is free."""
    if not session.charge_minor:
        return "nothing charged"
    return f"{money(session.charge_minor)} charged"

"""No-shows and late cancels (issue 16 item 1) through the pages: the policy in Settings,
the marks on the session page and their refusals, the fee in the client's balance and
history, its payment, the portal's words before booking, and the report's counts.

The clock is Monday 23 Nov 2026 09:00 UTC (GMT); the cancel deadline is 36 hours.
"""

from __future__ import annotations

import html
import re

import pytest

from chalicelib import runtime
from tests.conftest import Clock
from tests.functional.conftest import Browser
from tests.functional.test_client_notifications import _settings_form
from tests.functional.test_clients_pages import add_client
from tests.functional.test_locations_and_template import add_location
from tests.functional.test_portal_link import portal_path
from tests.functional.test_reports import month_rows
from tests.functional.test_schedule_pages import allocate, new_slot, slots_on
from tests.support.table import unchanged


def text(page) -> str:
    return html.unescape(page.body)


def _version(trainer: Browser, path: str) -> str:
    found = re.search(r'name="version" value="(\d+)"', trainer.get(path).body)
    assert found
    return found.group(1)


def set_policy(trainer: Browser, no_show: str, late: str):
    return trainer.post(
        "/dashboard/settings",
        _settings_form(trainer, no_show_percent=no_show, late_cancel_percent=late),
    )


@pytest.fixture
def scene(trainer: Browser, clock: Clock) -> dict[str, str]:
    """Priya (£45) booked Monday 23 Nov 10:00 and Tuesday 24 Nov 09:00 (inside 36 h),
    Sam Friday 27 Nov 09:00 (outside it)."""
    studio = add_location(trainer, "Studio")
    priya = add_client(trainer, "Priya Shah")
    sam = add_client(trainer, "Sam Lee")
    for day, start in (("2026-11-23", "10:00"), ("2026-11-24", "09:00"), ("2026-11-27", "09:00")):
        end = f"{int(start[:2]) + 1:02d}:00"
        assert new_slot(trainer, day, start, end, studio).status == 303
    booked = {}
    for (week, slot_id), who in zip(
        slots_on(trainer, "2026-W48"), (priya, priya, sam), strict=True
    ):
        page = allocate(trainer, week, slot_id, who)
        assert page.status == 303
        body = trainer.follow(page).body
        when = re.search(r"<h1>([^<]+)</h1>", body)
        assert when
        booked[when.group(1)] = page.location.split("?")[0]
    return {"priya": priya, "sam": sam, **booked}


def test_the_policy_is_free_by_default_and_each_fee_is_saved(trainer: Browser) -> None:
    page = trainer.get("/dashboard/settings").body
    assert '<label for="no_show_percent">No-show fee</label>' in page
    assert set_policy(trainer, "100", "50").status == 303
    page = trainer.get("/dashboard/settings").body
    assert re.search(r'id="no_show_percent".*?<option value="100" selected>', page, re.S)
    assert re.search(r'id="late_cancel_percent".*?<option value="50" selected>', page, re.S)


def test_a_fee_that_is_not_offered_is_refused_with_the_form_kept(trainer: Browser) -> None:
    with unchanged(runtime.repository()):
        page = trainer.post(
            "/dashboard/settings",
            _settings_form(trainer, no_show_percent="75", business_name="Kept Fit"),
        )
    assert page.status == 400
    assert "Choose what a no-show costs: nothing, half or the full price." in text(page)
    assert 'value="Kept Fit"' in page.body


def test_a_no_show_charges_the_fee_into_the_balance_and_it_can_be_paid(
    trainer: Browser, clock: Clock, scene: dict[str, str]
) -> None:
    set_policy(trainer, "100", "50")
    monday = scene["Monday 23 Nov 10:00–11:00"]
    clock.advance(hours=2)  # 11:00: the session is over and Priya never came
    page = text(trainer.get(monday))
    assert "It charges £45.00 (the full price, your no-show policy)" in page
    marked = trainer.post(monday, {"action": "no_show", "version": _version(trainer, monday)})
    assert marked.status == 303 and "saved=no_show" in marked.location
    page = text(trainer.follow(marked))
    assert "No-show fee</dt><dd>£45.00" in page and "Marked no-show (£45.00 charged)" in page
    assert "Mark no-show" not in page  # done once
    profile = text(trainer.get(f"/dashboard/clients/{scene['priya']}"))
    assert "Outstanding balance: £45.00" in profile and "no-show fee, unpaid" in profile
    paid = trainer.post(
        monday,
        {
            "action": "payment",
            "paid": "yes",
            "payment_type": "cash",
            "version": _version(trainer, monday),
        },
    )
    assert paid.status == 303
    assert "Outstanding balance: £0.00" in text(trainer.get(f"/dashboard/clients/{scene['priya']}"))
    report = month_rows(text(trainer.get("/dashboard/reports?from=2026-11&to=2026-11")))
    # Paid (the fee, cash), cash, unpaid (Priya's Tuesday and Sam's Friday), sessions
    # (those two), canceled, no-shows, late cancels.
    assert report["Nov 2026"] == ["£45.00", "£45.00", "£90.00", "2", "0", "1", "0"]


def test_a_no_show_on_an_upcoming_session_is_refused_and_nothing_written(
    trainer: Browser, scene: dict[str, str]
) -> None:
    friday = scene["Friday 27 Nov 09:00–10:00"]
    assert "Mark no-show" not in trainer.get(friday).body  # not offered before it starts
    with unchanged(runtime.repository()):
        refused = trainer.post(friday, {"action": "no_show", "version": _version(trainer, friday)})
    assert refused.status == 400
    assert "This session has not started yet: a no-show is marked once it has." in text(refused)


def test_a_late_cancel_inside_the_deadline_charges_its_fee_and_reopens_the_slot(
    trainer: Browser, scene: dict[str, str]
) -> None:
    set_policy(trainer, "100", "50")
    tuesday = scene["Tuesday 24 Nov 09:00–10:00"]
    confirm = text(trainer.get(f"{tuesday}?confirm=cancel"))
    assert "Late cancel: inside your deadline, it charges £22.50 (half the price" in confirm
    done = trainer.post(
        tuesday,
        {"action": "cancel", "late": "yes", "quiet": "yes", "version": _version(trainer, tuesday)},
    )
    assert done.status == 303
    page = text(trainer.follow(done))
    assert "Late cancel" in page and "Late-cancel fee</dt><dd>£22.50" in page
    assert "Late cancel (£22.50 charged); slot reopened" in page
    profile = text(trainer.get(f"/dashboard/clients/{scene['priya']}"))
    assert "Outstanding balance: £22.50" in profile
    assert slots_on(trainer, "2026-W48")  # the Tuesday slot is open again


def test_a_late_cancel_mark_outside_the_deadline_is_refused_and_nothing_written(
    trainer: Browser, scene: dict[str, str]
) -> None:
    set_policy(trainer, "100", "50")
    friday = scene["Friday 27 Nov 09:00–10:00"]
    assert "Late cancel:" not in trainer.get(f"{friday}?confirm=cancel").body
    with unchanged(runtime.repository()):
        refused = trainer.post(
            friday, {"action": "cancel", "late": "yes", "version": _version(trainer, friday)}
        )
    assert refused.status == 400
    assert "more than 36 hours away, outside the cancel deadline" in text(refused)


def test_the_portal_states_the_policy_before_the_client_books(
    trainer: Browser, chalice_client, scene: dict[str, str]
) -> None:
    from tests.functional.conftest import Browser as Phone

    home = portal_path(trainer, scene["sam"])
    phone = Phone(chalice_client, [])
    assert "Cancel policy" not in phone.get(f"{home}/book").body  # free: nothing to say
    set_policy(trainer, "100", "50")
    book = re.sub(r"<[^>]+>", "", text(phone.get(f"{home}/book")))
    assert (
        "Cancel policy: A missed session (no-show) costs the full price and a cancel less "
        "than 36 hours before costs half the price."
    ) in book

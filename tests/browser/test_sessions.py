"""Sessions in a real browser: pay, invoice, see the message go out, move, cancel."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.test_schedule import apply_template_to_next_week, next_week, set_up_studio

pytestmark = pytest.mark.browser


def add_template_slot(page: Page, weekday: int, start: str) -> None:
    page.goto(f"/dashboard/settings/template/new?weekday={weekday}&start={start}")
    page.get_by_label("Location").select_option(label="Studio")
    page.get_by_role("button", name="Add slot").click()
    expect(page.get_by_text("Slot added.")).to_be_visible()


def add_priya(page: Page) -> None:
    page.goto("/dashboard/clients")
    page.get_by_label("Name", exact=True).fill("Priya Shah")
    page.get_by_label("Phone (WhatsApp)").fill("07400 123456")
    page.get_by_label(re.compile("Session price")).fill("45")
    page.get_by_role("button", name="Add client").click()
    page.get_by_role("checkbox", name="Studio", exact=True).check()
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_text("Profile saved.")).to_be_visible()


def add_payment_details(page: Page) -> None:
    page.goto("/dashboard/settings")
    page.get_by_label("Payee name").fill("Alex Byrne")
    page.get_by_label("Bank name").fill("Monzo")
    page.get_by_label("Account number").fill("12345678")
    page.get_by_label("Sort code").fill("04-00-04")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Settings saved.")).to_be_visible()


def week_grid(page: Page):
    return page.get_by_role("region", name=re.compile("^Schedule for"))


def book_priya(page: Page, times: str) -> None:
    page.goto(f"/dashboard/schedule?week={next_week()}&view=week")
    slot = week_grid(page).locator("a.slot.slot-open", has_text=times)
    slot.scroll_into_view_if_needed()
    slot.click()
    page.get_by_label("Client").select_option(label="Priya Shah")
    page.get_by_role("button", name="Book").click()
    expect(page.get_by_text("Priya Shah is booked.")).to_be_visible()


def wait_for_badge(page: Page, locator: str, text: str, seconds: float = 20) -> None:
    """The local runner's dispatcher fires every few seconds: reload until it has."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if page.locator(locator).first.inner_text().strip() == text:
            return
        time.sleep(1)
        page.reload()
    expect(page.locator(locator).first).to_have_text(text)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP])
def test_a_trainer_is_paid_invoices_moves_and_cancels(
    new_page: Callable[..., Page],
    sign_up: Callable[[Page, str], None],
    screenshot: Callable[..., Any],
    viewport: str,
) -> None:
    page = new_page(viewport)
    sign_up(page, f"sessions-{viewport}@example.com")
    set_up_studio(page, 2, "18:00")  # Wednesday 18:00-19:00
    add_template_slot(page, 3, "12:00")  # Thursday 12:00-13:00
    add_template_slot(page, 4, "07:00")  # Friday 07:00-08:00
    add_priya(page)
    add_payment_details(page)
    apply_template_to_next_week(page)
    book_priya(page, "18:00–19:00")
    book_priya(page, "12:00–13:00")

    # Open the Wednesday session from the Sessions tab, mark it paid by bank transfer.
    page.goto("/dashboard/sessions")
    page.get_by_role("link", name=re.compile("Wednesday .* 18:00–19:00")).click()
    page.get_by_label("Paid", exact=True).check()
    page.get_by_label("Payment type").select_option(label="Bank transfer")
    page.get_by_role("button", name="Save payment").click()
    expect(page.get_by_text("Payment saved.")).to_be_visible()
    expect(page.get_by_text("Paid · Bank transfer")).to_be_visible()

    # Send the invoice: it is queued, then the runner's dispatcher sends it.
    page.get_by_role("button", name="Send invoice").click()
    expect(page.get_by_text("Invoice queued")).to_be_visible()
    expect(page.locator(".log").get_by_text("Invoice by WhatsApp")).to_be_visible()
    screenshot(page, f"sessions-{viewport}-1-invoiced")

    page.get_by_role("link", name="WhatsApp", exact=True).first.click()
    expect(page.get_by_role("heading", name="WhatsApp")).to_be_visible()
    page.get_by_role("list", name="Conversations").get_by_role("link", name="Priya Shah").click()
    message = page.locator(".bubble-out").last  # newest last
    expect(message).to_contain_text("Amount due: £45.00")
    expect(message).to_contain_text("Sort code: 04-00-04")
    link = message.get_by_role("link", name="Send from my phone")
    assert (link.get_attribute("href") or "").startswith("https://wa.me/447400123456?text=")
    wait_for_badge(page, ".bubble-out:last-child .bubble-status .badge", "Logged")  # log provider
    screenshot(page, f"sessions-{viewport}-2-whatsapp-tab")

    # Cancel the Thursday session: its slot is open (green) in the week again.
    page.goto("/dashboard/sessions")
    page.get_by_role("link", name=re.compile("Thursday .* 12:00–13:00")).click()
    page.get_by_role("link", name="Cancel session…").click()
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_contain_text("Don't notify the client")  # told unless ticked
    dialog.get_by_label("Note to Priya Shah (optional)").fill("Sorry, I'm unwell")
    page.get_by_role("button", name="Yes, cancel the session").click()
    expect(page.get_by_text("Session canceled: the slot is open again")).to_be_visible()
    page.goto(f"/dashboard/schedule?week={next_week()}&view=week")
    reopened = week_grid(page).locator("a.slot.slot-open", has_text="12:00–13:00")
    reopened.scroll_into_view_if_needed()
    expect(reopened).to_be_visible()

    # Move the Wednesday session to Friday 07:00 on the schedule.
    page.goto("/dashboard/sessions")
    page.get_by_role("link", name=re.compile("Wednesday .* 18:00–19:00")).click()
    page.get_by_role("button", name="Change on schedule").click()
    expect(page.get_by_text("Changing Priya Shah's session")).to_be_visible()
    changing = week_grid(page).locator("a.slot.slot-changing", has_text="Priya Shah")
    changing.scroll_into_view_if_needed()
    expect(changing).to_be_visible()
    screenshot(page, f"sessions-{viewport}-3-picking", full_page=False)
    friday = week_grid(page).locator("a.slot.slot-open", has_text="07:00–08:00")
    friday.scroll_into_view_if_needed()
    friday.click()
    page.get_by_role("button", name="Move here").click()
    expect(page.get_by_text("Session moved.")).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile("Friday .* 07:00–08:00"))).to_be_visible()
    expect(page.get_by_text("Paid · Bank transfer")).to_be_visible()
    screenshot(page, f"sessions-{viewport}-4-moved")
    page.goto(f"/dashboard/schedule?week={next_week()}&view=week")
    moved = week_grid(page).locator("a.slot.slot-booked", has_text="Priya Shah")
    expect(moved).to_have_count(1)
    expect(moved).to_contain_text("07:00–08:00")
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"page is {width}px wide"  # type: ignore[index]

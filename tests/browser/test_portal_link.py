"""A trainer copies a client's portal link; the client opens it on a phone."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import DESKTOP, PHONE

pytestmark = pytest.mark.browser


def test_the_copied_portal_link_opens_the_clients_page_on_a_phone(
    new_page: Callable[..., Page],
    demo_state: dict[str, Any],
    screenshot: Callable[..., Any],
) -> None:
    trainer = new_page(DESKTOP, storage_state=demo_state)
    trainer.context.grant_permissions(["clipboard-read", "clipboard-write"])
    trainer.goto("/dashboard/clients")
    trainer.get_by_role("link", name="Priya Shah").first.click()
    link = trainer.get_by_role("textbox", name="Portal link").input_value()
    assert re.search(r"/c/[A-Za-z0-9_-]{43}$", link), link
    trainer.get_by_role("button", name="Copy").click()
    expect(trainer.get_by_role("button", name="Copied")).to_be_visible()
    assert trainer.evaluate("() => navigator.clipboard.readText()") == link
    screenshot(trainer, "portal-desktop-1-profile-link")

    client = new_page(PHONE)  # no cookies: the client, from WhatsApp
    client.goto(link)
    expect(client.get_by_role("heading", name="Hi Priya")).to_be_visible()
    expect(client.get_by_text("Bring a towel.")).to_be_visible()
    width = client.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390, f"portal is {width}px wide on a phone"
    screenshot(client, "portal-phone-2-home")
    assert not client.js_errors  # type: ignore[attr-defined]

"""No raw secret is ever stored: after a whole flow through the pages (sign-in, a client,
their portal link, a booking and its session link, an offer sent and accepted, logout),
every attribute of every item in the table is searched for the session cookie, the
sign-in token and each portal, session and offer link token. Each must be there only as
its SHA-256 (a `TOKEN#<hash>` key)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlparse

from chalice.test import Client

from chalicelib import runtime
from chalicelib.domain.tokens import token_hash
from chalicelib.repo import keys
from tests.functional.conftest import Browser, latest_link
from tests.functional.test_clients_pages import add_client, post_profile_with, template_slot_ids
from tests.functional.test_locations_and_template import add_location, add_slot
from tests.functional.test_portal_booking import CHOICE, SESSION_LINK
from tests.functional.test_portal_link import portal_path
from tests.functional.test_schedule_pages import new_slot
from tests.support.table import strings_in, table_items

EMAIL = "coach@example.com"
OFFER_LINK = re.compile(r"(/o/[A-Za-z0-9_-]{43})")
SLOT_PAGE = re.compile(r'href="(/dashboard/schedule/2026-W48/slots/[\w-]+)"')
VERSION = re.compile(r'name="version" value="(\d+)"')


@dataclass
class Secrets:
    """Every raw secret the flow handed out, by what it is."""

    raw: dict[str, str] = field(default_factory=dict)
    hashed: set[str] = field(default_factory=set)  # names that must exist as TOKEN#<hash>

    def add(self, name: str, value: str, *, stored_hashed: bool = True) -> None:
        assert len(value) >= 20, f"{name} looks too short to be a secret: {value!r}"
        self.raw[name] = value
        if stored_hashed:
            self.hashed.add(name)

    def cookies(self, browser: Browser, who: str) -> None:
        for name, value in browser.cookies.items():
            if name.endswith("pt_session"):
                trainer_id, _, secret = value.partition(".")
                assert trainer_id and secret
                self.add(f"{who} session cookie secret", secret)
                self.add(f"{who} session cookie", value, stored_hashed=False)
            elif value:
                self.add(f"{who} cookie {name}", value, stored_hashed=False)


def _path(location: str) -> str:
    return urlparse(location).path


def run_flow(browser: Browser, chalice_client: Client) -> Secrets:
    """The whole flow through the pages; returns what it handed out (the trainer is still
    signed in: the caller logs out)."""
    secrets = Secrets()
    browser.sign_in(EMAIL)
    link = latest_link(browser.outbox, EMAIL)
    secrets.add("sign-in token", parse_qs(urlparse(link).query)["token"][0])
    secrets.cookies(browser, "trainer")

    studio = add_location(browser, "Studio")
    assert add_slot(browser, 2, "18:00", "19:00", studio).status == 303  # Wednesday 18:00
    (wednesday,) = template_slot_ids(browser)
    priya = add_client(browser, "Priya Shah")
    omar = add_client(browser, "Omar Haddad")
    for person, name in ((priya, "Priya Shah"), (omar, "Omar Haddad")):
        assert post_profile_with(browser, person, [studio], name=name).status == 303

    # Priya opens her portal link and books Friday 07:00; her session link opens.
    priya_phone = Browser(chalice_client, [])
    home = portal_path(browser, priya)
    secrets.add("Priya's portal token", home.removeprefix("/c/"))
    assert priya_phone.get(home).status == 200
    assert new_slot(browser, "2026-11-27", "07:00", "08:00", studio).status == 303
    (week, slot_id, _times, _place), *_ = CHOICE.findall(priya_phone.get(f"{home}/book").body)
    booked = priya_phone.post(f"{home}/book", {"week": week, "slot_id": slot_id})
    assert booked.status == 303 and booked.location.startswith("/s/"), booked.body
    session_link = _path(booked.location)
    secrets.add("Priya's session link token", session_link.removeprefix("/s/"))
    assert priya_phone.get(session_link).status == 200
    found = SESSION_LINK.search(priya_phone.get(home).body)
    assert found and found.group(1) == session_link  # the portal shows the same link
    secrets.cookies(priya_phone, "Priya's phone")

    # Omar opts in to Wednesday 18:00; the trainer offers him that open slot; he accepts.
    omar_phone = Browser(chalice_client, [])
    omar_home = portal_path(browser, omar)
    secrets.add("Omar's portal token", omar_home.removeprefix("/c/"))
    ticked = omar_phone.post(f"{omar_home}/optins", {"template_slot_id": wednesday, "on": "yes"})
    assert ticked.status == 303
    assert browser.post("/dashboard/schedule/apply", {"week": "2026-W48", "weeks": "1"}).status
    week_page = browser.get("/dashboard/schedule?week=2026-W48").body
    slot_page = next(
        p for p in SLOT_PAGE.findall(week_page) if "Send offer to Omar" in browser.get(p).body
    )
    version = VERSION.search(browser.get(slot_page).body)
    assert version
    sent = browser.post(
        slot_page, {"action": "offer", "client_id": omar, "version": version.group(1)}
    )
    assert sent.status == 303, sent.body
    offer = OFFER_LINK.search(browser.get("/dashboard/whatsapp/all").body)
    assert offer
    secrets.add("Omar's offer link token", offer.group(1).removeprefix("/o/"))
    assert omar_phone.get(offer.group(1)).status == 200
    accepted = omar_phone.post(offer.group(1), {})
    assert accepted.status == 303 and accepted.location.startswith("/s/"), accepted.body
    secrets.add("Omar's session link token", _path(accepted.location).removeprefix("/s/"))
    assert omar_phone.get(_path(accepted.location)).status == 200
    secrets.cookies(omar_phone, "Omar's phone")
    secrets.cookies(browser, "trainer")
    return secrets


def _is_message_text(item: dict, attribute: str) -> bool:
    return item.get("type") == "message" and attribute == "text"


def raw_secrets_in(items: list[dict], secrets: Secrets, *, skip=lambda item, name: False):
    """(secret name, item key, attribute) for every raw secret found in an item."""
    found = []
    for item in items:
        for attribute, value in item.items():
            if skip(item, attribute):
                continue
            text = "\n".join(strings_in(value)) + "\n" + attribute
            for name, secret in secrets.raw.items():
                if secret in text:
                    found.append((name, item.get(keys.PK), item.get(keys.SK), attribute))
    return found


def _token_keys(items: list[dict]) -> set[str]:
    return {str(i[keys.PK]) for i in items if str(i.get(keys.PK, "")).startswith("TOKEN#")}


def test_no_raw_secret_is_stored_outside_the_outbox_message_texts(
    browser: Browser, chalice_client: Client, clock
) -> None:
    secrets = run_flow(browser, chalice_client)
    repo = runtime.repository()
    signed_in = table_items(repo)
    assert raw_secrets_in(signed_in, secrets, skip=_is_message_text) == []
    # each secret exists, but only as the hash of a TOKEN# item
    stored = _token_keys(signed_in)
    for name in secrets.hashed:
        assert keys.token(token_hash(secrets.raw[name]))[keys.PK] in stored, name

    assert browser.post("/logout", {}).status == 303
    assert not any(name.endswith("pt_session") for name in browser.cookies)
    signed_out = table_items(repo)
    assert raw_secrets_in(signed_out, secrets, skip=_is_message_text) == []
    session_hash = token_hash(secrets.raw["trainer session cookie secret"])
    assert keys.token(session_hash)[keys.PK] not in _token_keys(signed_out)  # logout deleted it


def test_no_raw_link_token_is_stored_in_outbox_message_texts(
    browser: Browser, chalice_client: Client, clock
) -> None:
    secrets = run_flow(browser, chalice_client)
    items = table_items(runtime.repository())
    assert raw_secrets_in(items, secrets) == []

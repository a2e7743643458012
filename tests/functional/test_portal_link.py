"""The client's portal link: shown to the trainer, rotated, and what it opens."""

from __future__ import annotations

import html
import re

import pytest

from chalicelib.domain.tokens import new_token
from tests.functional.conftest import Browser
from tests.functional.test_clients_pages import add_client, post_profile_with, studio_template

LINK = re.compile(r'id="portal_url" value="http://testserver(/c/[A-Za-z0-9_-]{43})"')
PRIVATE = "PRIVATE-injury-note-7731"
SHARED = "Bring a towel & water <b>please</b>"

__all__ = ["studio_template"]


def portal_path(browser: Browser, client_id: str) -> str:
    match = LINK.search(browser.get(f"/dashboard/clients/{client_id}").body)
    assert match, "no portal link on the profile"
    return match.group(1)


def client_version(browser: Browser, client_id: str) -> str:
    body = browser.get(f"/dashboard/clients/{client_id}").body
    found = re.search(r'name="version" value="(\d+)"', body)
    assert found
    return found.group(1)


@pytest.fixture
def priya(trainer: Browser, studio_template, clock) -> tuple[str, str]:
    studio, _park, (wednesday, _thursday) = studio_template
    client = add_client(trainer, "Priya Shah")
    post_profile_with(
        trainer, client, [studio], [wednesday], shared_notes=SHARED, private_notes=PRIVATE
    )
    trainer.post("/dashboard/schedule/apply", {"week": "2026-W48", "weeks": "2"})
    return client, portal_path(trainer, client)


def test_the_link_opens_the_clients_sessions_and_shared_notes_only(
    trainer: Browser, priya, chalice_client
) -> None:
    _client, path = priya
    stranger = Browser(chalice_client, [])  # no cookies: a client opening WhatsApp
    page = stranger.get(path)
    assert page.status == 200
    assert "Hi Priya" in page.body
    assert (
        "Wednesday 25 Nov 18:00–19:00" in page.body and "Wednesday 2 Dec 18:00–19:00" in page.body
    )
    assert html.escape(SHARED) in page.body and "<b>please</b>" not in page.body


def test_private_notes_never_appear_on_any_portal_page(
    trainer: Browser, priya, chalice_client
) -> None:
    from chalicelib.web import portal_views

    _client, path = priya
    stranger = Browser(chalice_client, [])
    portal_routes = (
        [r for r in portal_views.bp._deferred_registrations] if False else ["/c/{token}"]
    )
    for route in portal_routes:  # every portal page there is
        page = stranger.get(route.replace("{token}", path.removeprefix("/c/")))
        assert page.status == 200
        assert PRIVATE not in page.body


def test_portal_pages_keep_the_link_out_of_referrers_caches_and_search(
    trainer: Browser, priya, chalice_client
) -> None:
    _client, path = priya
    page = Browser(chalice_client, []).get(path)
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    assert "noindex" in page.headers["x-robots-tag"]


def test_rotating_kills_the_old_link_at_once(trainer: Browser, priya, chalice_client) -> None:
    client, old = priya
    rotated = trainer.post(
        f"/dashboard/clients/{client}",
        {"action": "rotate", "version": client_version(trainer, client)},
    )
    assert rotated.status == 303
    new = portal_path(trainer, client)
    assert new != old
    stranger = Browser(chalice_client, [])
    gone = stranger.get(old)
    assert gone.status == 410 and "no longer active" in gone.body and "Priya" not in gone.body
    assert stranger.get(new).status == 200


def test_an_archived_clients_link_is_no_longer_active(
    trainer: Browser, priya, chalice_client
) -> None:
    client, path = priya
    trainer.post(
        f"/dashboard/clients/{client}",
        {"action": "archive", "version": client_version(trainer, client)},
    )
    page = Browser(chalice_client, []).get(path)
    assert page.status == 410 and "Priya" not in page.body


@pytest.mark.parametrize("kind", ["forged", "truncated", "padded", "junk"])
def test_forged_or_mangled_links_are_404_with_nothing_leaked(
    trainer: Browser, priya, chalice_client, kind: str
) -> None:
    _client, path = priya
    token = path.removeprefix("/c/")
    bad = {
        "forged": new_token(),
        "truncated": token[:-1],
        "padded": token + "x",
        "junk": "%3Cb%3E",
    }[kind]
    page = Browser(chalice_client, []).get(f"/c/{bad}")
    assert page.status == 404 and "Priya" not in page.body
    assert page.db_calls == 1  # the same single lookup whatever the token looks like


def test_the_portal_home_reads_dynamodb_at_most_five_times(
    trainer: Browser, priya, chalice_client
) -> None:
    # token; client + profile + template; upcoming sessions; opt-ins; bundles
    _client, path = priya
    assert Browser(chalice_client, []).get(path).db_calls == 5


def test_another_trainer_cannot_rotate_my_clients_link(
    trainer: Browser, other_trainer: Browser, priya
) -> None:
    client, path = priya
    page = other_trainer.post(f"/dashboard/clients/{client}", {"action": "rotate", "version": "1"})
    assert page.status == 404
    assert portal_path(trainer, client) == path


def test_a_stale_rotate_form_is_refused(trainer: Browser, priya) -> None:
    client, path = priya
    page = trainer.post(f"/dashboard/clients/{client}", {"action": "rotate", "version": "1"})
    assert page.status == 409
    assert portal_path(trainer, client) == path

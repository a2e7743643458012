"""What changes when deployed: Secure __Host- cookies, HSTS, the /api stage prefix."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from chalice.local import LambdaEventConverter

from chalicelib import runtime
from chalicelib.repo import keys
from tests.functional.conftest import Browser, latest_link

API_HOST = "abc123.execute-api.eu-west-2.amazonaws.com"


@pytest.fixture
def deployed(monkeypatch: pytest.MonkeyPatch) -> None:
    original = runtime.config
    monkeypatch.setattr(
        runtime,
        "config",
        lambda: dataclasses.replace(
            original(), cookie_secure=True, hsts=True, stage="prod", public_base_url=""
        ),
    )
    # Deployed, links are built from API Gateway's own domainName and stage, never Host.
    create_event = LambdaEventConverter.create_lambda_event

    def with_api_gateway_context(self: LambdaEventConverter, *args: Any, **kw: Any) -> Any:
        event = create_event(self, *args, **kw)
        event["requestContext"].update(domainName=API_HOST, stage="api")
        return event

    monkeypatch.setattr(LambdaEventConverter, "create_lambda_event", with_api_gateway_context)


def test_deployed_responses_carry_hsts_and_secure_host_cookies(
    browser: Browser, deployed: None
) -> None:
    page = browser.get("/login", host=API_HOST)
    assert page.headers["strict-transport-security"].startswith("max-age=")
    csrf_cookie = page.headers["set-cookie"][0]
    assert csrf_cookie.startswith("__Host-pt_csrf=") and "Secure" in csrf_cookie
    assert "Path=/" in csrf_cookie and "Domain" not in csrf_cookie

    browser.post("/login", {"email": "coach@example.com"}, csrf=page.csrf(), host=API_HOST)
    link = latest_link(browser.outbox, "coach@example.com")
    # the emailed link is absolute, https, and carries the stage prefix
    assert link.startswith(f"https://{API_HOST}/api/login/confirm?token=")
    token = link.split("token=")[1]
    confirm = browser.get(f"/login/confirm?token={token}", host=API_HOST)
    done = browser.post("/login/confirm", {"token": token}, csrf=confirm.csrf(), host=API_HOST)
    session_cookie = done.headers["set-cookie"][0]
    assert session_cookie.startswith("__Host-pt_session=")
    assert all(flag in session_cookie for flag in ("Secure", "HttpOnly", "SameSite=Lax"))


def test_links_and_redirects_carry_the_stage_prefix_on_execute_api_urls(
    trainer: Browser,
) -> None:
    page = trainer.get("/dashboard/settings/locations", host=API_HOST)
    assert 'action="/api/dashboard/settings/locations"' in page.body
    assert 'href="/api/static/app.css?v=' in page.body
    added = trainer.post("/dashboard/settings/locations", {"name": "Gym"}, host=API_HOST)
    assert added.location.startswith("/api/dashboard/settings/locations")


def test_local_urls_have_no_prefix(trainer: Browser) -> None:
    page = trainer.get("/dashboard/settings/locations")
    assert 'action="/dashboard/settings/locations"' in page.body


def _ask_for_a_sign_in_link(browser: Browser) -> None:
    page = browser.get("/login", host=API_HOST)
    sent = browser.post("/login", {"email": "coach@example.com"}, csrf=page.csrf(), host=API_HOST)
    assert sent.status in (200, 303), sent.body


def test_without_public_base_url_the_jobs_learn_the_url_api_gateway_gave(
    browser: Browser, deployed: None, clock
) -> None:
    # Issue 14 item 12: a stage deployed without PUBLIC_BASE_URL by hand still gets
    # delivery reports, and the reminders job still makes working client links.
    repo = runtime.repository()
    assert repo.stage.public_url() == ""
    _ask_for_a_sign_in_link(browser)
    learned = f"https://{API_HOST}/api"
    assert repo.stage.public_url() == learned
    assert runtime.job_deps().base_url == learned
    assert runtime.message_sender().public_base_url == learned
    # Kept once per container, not once per request: a later request writes nothing.
    kept_at = repo.db.get(keys.stage_public_url())["at"]  # type: ignore[index]
    clock.advance(minutes=5)
    _ask_for_a_sign_in_link(browser)
    assert repo.db.get(keys.stage_public_url())["at"] == kept_at  # type: ignore[index]
    # And the write itself refuses to rewrite the same URL.
    assert not repo.stage.remember_public_url(learned, runtime.now())


def test_a_configured_public_base_url_is_never_overwritten_by_a_request(
    trainer: Browser,
) -> None:
    assert trainer.get("/dashboard", host=API_HOST).status == 200
    assert runtime.repository().stage.public_url() == ""  # configured: nothing learned
    assert runtime.job_deps().base_url == runtime.config().public_base_url


def test_a_dispatcher_run_with_nothing_due_reads_only_the_due_index(
    browser: Browser, deployed: None
) -> None:
    # Where the stage lives is read on the first delivery-report URL, not on every run.
    from chalicelib.web import jobs_entry
    from tests.support.pages import counted

    report, calls = counted(jobs_entry.dispatch_messages)
    assert report["due"] == 0
    assert calls == 1

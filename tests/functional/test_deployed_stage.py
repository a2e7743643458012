"""What changes when deployed: Secure __Host- cookies, HSTS, the /api stage prefix."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from chalice.local import LambdaEventConverter

from chalicelib import runtime
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

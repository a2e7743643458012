"""Magic-link sign-in, sessions, CSRF and the headers every response carries."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from chalice.local import LambdaEventConverter

from chalicelib import runtime
from chalicelib.domain.models import Trainer
from chalicelib.domain.tokens import new_token
from tests.functional.conftest import Browser, latest_link
from tests.functional.test_clients_pages import add_client

SENDER = "PT Bookings <no-reply@ptbookings.example>"


def _link_token(browser: Browser, email: str) -> str:
    return latest_link(browser.outbox, email).split("token=")[1]


def _confirm(browser: Browser, token: str):
    page = browser.get(f"/login/confirm?token={token}")
    csrf = page.csrf() if page.status == 200 else browser.get("/login").csrf()
    return browser.post("/login/confirm", {"token": token}, csrf=csrf)


def _configure(monkeypatch: pytest.MonkeyPatch, **changes: Any) -> None:
    original = runtime.config
    monkeypatch.setattr(runtime, "config", lambda: dataclasses.replace(original(), **changes))


def _from_ip(monkeypatch: pytest.MonkeyPatch, ip: str) -> None:
    """Later requests come from `ip` (the requestContext's identity.sourceIp)."""
    monkeypatch.setattr(LambdaEventConverter, "LOCAL_SOURCE_IP", ip)


def _api_gateway(monkeypatch: pytest.MonkeyPatch, domain: str, stage: str = "api") -> None:
    """Events carry API Gateway's own domainName and stage, as deployed ones do."""
    original = LambdaEventConverter.create_lambda_event

    def create(self: LambdaEventConverter, *args: Any, **kwargs: Any) -> dict[str, Any]:
        event = original(self, *args, **kwargs)
        event["requestContext"].update(domainName=domain, stage=stage)
        return event

    monkeypatch.setattr(LambdaEventConverter, "create_lambda_event", create)


def test_a_new_email_signs_up_and_lands_on_the_dashboard(browser: Browser) -> None:
    dashboard = browser.sign_in("new.coach@example.com")
    assert dashboard.status == 200
    assert "Getting started" in dashboard.body
    assert "0 of 6 done" in dashboard.body
    assert "new.coach@example.com" in dashboard.body


def test_the_session_cookie_is_http_only_and_same_site(browser: Browser) -> None:
    browser.post("/login", {"email": "coach@example.com"})
    token = _link_token(browser, "coach@example.com")
    confirm = browser.get(f"/login/confirm?token={token}")
    done = browser.post("/login/confirm", {"token": token}, csrf=confirm.csrf())
    cookies = done.headers["set-cookie"]
    session_cookie = next(c for c in cookies if c.startswith("pt_session="))
    assert "HttpOnly" in session_cookie and "SameSite=Lax" in session_cookie
    assert "Path=/" in session_cookie
    # The cookie holds the trainer id and a 256-bit secret; only its hash is stored.
    value = session_cookie.split(";")[0].split("=", 1)[1]
    assert len(value.split(".")[1]) == 43


def test_known_and_unknown_emails_get_the_same_answer(browser: Browser) -> None:
    browser.sign_in("known@example.com")
    browser.post("/logout", {})
    known = browser.post("/login", {"email": "known@example.com"})
    unknown = browser.post("/login", {"email": "stranger@example.com"})
    assert known.status == unknown.status == 200
    assert known.body.replace("known@example.com", "X") == unknown.body.replace(
        "stranger@example.com", "X"
    )


def test_invite_only_sends_no_link_to_unknown_emails(
    browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    browser.sign_in("member@example.com")
    browser.post("/logout", {})
    original = runtime.config
    monkeypatch.setattr(
        runtime, "config", lambda: dataclasses.replace(original(), signup_mode="invite")
    )
    known = browser.post("/login", {"email": "member@example.com"})
    unknown = browser.post("/login", {"email": "outsider@example.com"})
    assert known.status == unknown.status == 200
    assert known.body.replace("member@example.com", "X") == unknown.body.replace(
        "outsider@example.com", "X"
    )
    to_outsider = [m for m in browser.outbox if m.to == "outsider@example.com"]
    assert len(to_outsider) == 1 and to_outsider[0].console_line is None
    assert "invitation" in to_outsider[0].text
    assert latest_link(browser.outbox, "member@example.com")


def test_opening_the_link_does_not_consume_it_only_the_confirm_post_does(
    browser: Browser,
) -> None:
    browser.post("/login", {"email": "coach@example.com"})
    token = _link_token(browser, "coach@example.com")
    first = browser.get(f"/login/confirm?token={token}")
    second = browser.get(f"/login/confirm?token={token}")  # e.g. a mail scanner, then you
    assert first.status == second.status == 200
    assert "Continue as" in second.body
    done = browser.post("/login/confirm", {"token": token}, csrf=second.csrf())
    assert done.status == 303 and done.location.endswith("/dashboard")


def test_a_sign_in_link_works_once(browser: Browser) -> None:
    browser.post("/login", {"email": "coach@example.com"})
    token = _link_token(browser, "coach@example.com")
    assert _confirm(browser, token).status == 303
    browser.cookies.pop("pt_session")
    again = _confirm(browser, token)
    assert again.status == 410
    assert "already used" in again.body
    assert "pt_session" not in browser.cookies


def test_an_expired_sign_in_link_is_refused(browser: Browser, clock) -> None:
    browser.post("/login", {"email": "coach@example.com"})
    token = _link_token(browser, "coach@example.com")
    clock.advance(minutes=14, seconds=59)
    assert browser.get(f"/login/confirm?token={token}").status == 200
    clock.advance(seconds=2)
    page = browser.get(f"/login/confirm?token={token}")
    assert page.status == 410 and "expired" in page.body
    assert _confirm(browser, token).status == 410
    assert "pt_session" not in browser.cookies


@pytest.mark.parametrize("kind", ["forged", "truncated", "padded", "empty", "html"])
def test_forged_or_mangled_links_are_refused(browser: Browser, kind: str) -> None:
    browser.post("/login", {"email": "coach@example.com"})
    real = _link_token(browser, "coach@example.com")
    token = {
        "forged": new_token(),
        "truncated": real[:-1],
        "padded": real + "A",
        "empty": "",
        "html": "<script>alert(1)</script>",
    }[kind]
    page = browser.get(f"/login/confirm?token={token}")
    assert page.status == 400
    assert "not valid" in page.body
    assert "<script>alert" not in page.body
    assert _confirm(browser, token).status == 400
    assert "pt_session" not in browser.cookies


def test_a_malformed_email_is_explained_and_kept(browser: Browser) -> None:
    page = browser.post("/login", {"email": "not-an-email<b>"})
    assert page.status == 400
    assert "Enter an email address" in page.body
    assert 'value="not-an-email&lt;b&gt;"' in page.body
    assert browser.outbox == []


def test_emails_per_address_are_capped_without_refusing_or_telling(browser: Browser) -> None:
    pages = [browser.post("/login", {"email": "coach@example.com"}) for _ in range(6)]
    assert [page.status for page in pages] == [200] * 6
    # the same page whether or not this request sent anything: nothing leaks
    assert len({re.sub(r'value="[^"]+"', "", page.body) for page in pages}) == 1
    assert len(browser.outbox) == 3


def test_a_stranger_hammering_login_cannot_lock_the_owner_out(
    browser: Browser, monkeypatch, clock
) -> None:
    browser.sign_in("owner@example.com")
    browser.post("/logout", {})
    clock.advance(minutes=15)  # a fresh window: the sign-in above counted one email
    browser.outbox.clear()
    _from_ip(monkeypatch, "198.51.100.7")
    attacker = [browser.post("/login", {"email": "owner@example.com"}).status for _ in range(10)]
    assert attacker == [200] * 10
    assert len(browser.outbox) == 3  # the owner's inbox is not flooded

    _from_ip(monkeypatch, "203.0.113.5")  # the owner, from their phone
    mine = browser.post("/login", {"email": "owner@example.com"})
    assert mine.status == 200 and "Check your email" in mine.body
    # Nothing new was sent, but every link in the owner's inbox is still valid and unused.
    token = _link_token(browser, "owner@example.com")
    assert _confirm(browser, token).status == 303
    assert "owner@example.com" in browser.get("/dashboard").body


def test_the_address_cap_passes_with_the_window_and_links_stay_valid_until_then(
    browser: Browser, clock
) -> None:
    # the frozen clock starts at 09:00, the start of a 15-minute window
    for _ in range(3):
        browser.post("/login", {"email": "coach@example.com"})
    first_token = browser.outbox[0].console_line.split("token=")[1]
    clock.advance(minutes=14)
    assert browser.post("/login", {"email": "coach@example.com"}).status == 200
    assert len(browser.outbox) == 3
    assert browser.get(f"/login/confirm?token={first_token}").status == 200
    clock.advance(minutes=1)
    assert browser.post("/login", {"email": "coach@example.com"}).status == 200
    assert len(browser.outbox) == 4
    assert _confirm(browser, _link_token(browser, "coach@example.com")).status == 303


def test_sign_in_requests_are_rate_limited_per_ip(browser: Browser) -> None:
    statuses = [
        browser.post("/login", {"email": f"person{i}@example.com"}).status for i in range(31)
    ]
    assert statuses[:30] == [200] * 30
    assert statuses[30] == 429
    assert "Try again in" in browser.post("/login", {"email": "other@example.com"}).body


# Where links in emails point --------------------------------------------------------
SPOOFED = [
    {"host": "evil.example"},
    {"x-forwarded-proto": "javascript"},
    {"host": "evil.example", "x-forwarded-proto": "javascript", "x-forwarded-host": "evil"},
]


@pytest.mark.parametrize("headers", SPOOFED)
def test_request_headers_never_choose_the_emailed_link(
    browser: Browser, monkeypatch, headers: dict[str, str]
) -> None:
    _configure(monkeypatch, public_base_url="")
    _api_gateway(monkeypatch, "abc123.execute-api.eu-west-2.amazonaws.com", stage="api")
    page = browser.post("/login", {"email": "coach@example.com"}, **headers)
    assert page.status == 200
    link = latest_link(browser.outbox, "coach@example.com")
    assert link.startswith("https://abc123.execute-api.eu-west-2.amazonaws.com/api/login/confirm?")


def test_a_custom_domain_from_the_request_context_has_no_stage_prefix(
    browser: Browser, monkeypatch
) -> None:
    _configure(monkeypatch, public_base_url="")
    _api_gateway(monkeypatch, "book.ptbookings.example", stage="prod")
    browser.post("/login", {"email": "coach@example.com"}, host="evil.example")
    link = latest_link(browser.outbox, "coach@example.com")
    assert link.startswith("https://book.ptbookings.example/login/confirm?token=")


@pytest.mark.parametrize("public_base_url", ["", "javascript://evil.example", "evil.example"])
def test_without_a_trusted_base_no_link_is_sent(
    browser: Browser, monkeypatch, public_base_url: str
) -> None:
    _configure(monkeypatch, public_base_url=public_base_url)
    page = browser.post("/login", {"email": "coach@example.com"}, host="evil.example")
    assert page.status == 400
    assert "cannot be sent" in page.body and "PUBLIC_BASE_URL" in page.body
    assert browser.outbox == []
    # nothing was counted: with the base fixed, the same address gets its links at once
    _configure(monkeypatch, public_base_url="http://testserver")
    statuses = [browser.post("/login", {"email": "coach@example.com"}).status for _ in range(3)]
    assert statuses == [200] * 3 and len(browser.outbox) == 3


def test_portal_links_on_the_dashboard_ignore_the_host_header(
    trainer: Browser, monkeypatch
) -> None:
    client_id = add_client(trainer)
    _configure(monkeypatch, public_base_url="")
    _api_gateway(monkeypatch, "abc123.execute-api.eu-west-2.amazonaws.com")
    profile = trainer.get(f"/dashboard/clients/{client_id}", host="evil.example")
    assert profile.status == 200
    assert "evil.example" not in profile.body
    assert "https://abc123.execute-api.eu-west-2.amazonaws.com/api/c/" in profile.body


# Email addresses --------------------------------------------------------------------
@pytest.mark.parametrize(
    "address",
    [
        "a@b.com,evil@c.com",
        "coach\x00@example.com",
        "<script>alert(1)</script>@example.com",
        "coach@example.com<script>",
        "coach@example..com",
    ],
)
def test_anything_but_one_plain_address_is_refused_and_kept(browser: Browser, address: str) -> None:
    page = browser.post("/login", {"email": address})
    assert page.status == 400
    assert "Enter an email address like name@example.com." in page.body
    assert "<script>alert" not in page.body and "<script>@" not in page.body
    assert 'aria-invalid="true"' in page.body and 'value="' in page.body
    assert browser.outbox == []


def test_the_refused_address_is_kept_in_the_form(browser: Browser) -> None:
    page = browser.post("/login", {"email": "a@b.com,evil@c.com"})
    assert 'value="a@b.com,evil@c.com"' in page.body


def test_an_address_is_one_account_whatever_its_case_or_spaces(browser: Browser) -> None:
    browser.sign_in("coach@example.com")
    browser.post("/logout", {})
    sent = browser.post("/login", {"email": "  Coach@EXAMPLE.com "})
    assert sent.status == 200 and "coach@example.com" in sent.body
    token = _link_token(browser, "coach@example.com")
    assert (
        "Continue as <strong>coach@example.com</strong>"
        in browser.get(f"/login/confirm?token={token}").body
    )
    assert "Welcome to PT Bookings" not in browser.outbox[-1].text  # not a second sign-up


# An email that cannot be sent -------------------------------------------------------
def _ses_sent() -> list[Any]:
    from moto.ses.models import ses_backends

    return list(ses_backends["123456789012"]["eu-west-2"].sent_messages)


def test_an_ses_refusal_is_explained_and_blocks_no_retry(browser: Browser, monkeypatch) -> None:
    _configure(monkeypatch, email_provider="ses", email_sender=SENDER)
    # moto's SES, like SES in its sandbox, refuses a sender that is not verified
    for _ in range(5):  # more than the per-address cap: refusals are not counted
        page = browser.post("/login", {"email": "coach@example.com"})
        assert page.status == 400
        assert "could not send the email" in page.body
        assert 'value="coach@example.com"' in page.body
    assert _ses_sent() == []

    boto3.client("sesv2", region_name="eu-west-2").create_email_identity(
        EmailIdentity="no-reply@ptbookings.example"
    )
    page = browser.post("/login", {"email": "coach@example.com"})
    assert page.status == 200 and "Check your email" in page.body
    (message,) = _ses_sent()
    link = re.search(r"http://testserver/login/confirm\?token=([\w-]+)", message.body)
    assert link and _confirm(browser, link.group(1)).status == 303


# Name shown to clients --------------------------------------------------------------
def _name_field(body: str) -> str | None:
    match = re.search(r'name="business_name"[^>]*value="([^"]*)"', body)
    return match.group(1) if match else None


def test_sign_up_asks_for_the_name_shown_to_clients(browser: Browser) -> None:
    browser.post("/login", {"email": "sam.fit+pt@example.com"})
    token = _link_token(browser, "sam.fit+pt@example.com")
    confirm = browser.get(f"/login/confirm?token={token}")
    assert "Name shown to clients" in confirm.body
    assert _name_field(confirm.body) == "Sam Fit"  # a suggestion, not the email's local part
    done = browser.post(
        "/login/confirm", {"token": token, "business_name": " Sam  Strength "}, csrf=confirm.csrf()
    )
    assert done.status == 303 and done.db_calls == 3  # the name rides in the sign-up
    assert "Welcome, Sam Strength" in browser.follow(done).body
    assert 'value="Sam Strength"' in browser.get("/dashboard/settings").body


@pytest.mark.parametrize(("name", "message"), [("   ", "Enter the name"), ("x" * 81, "80")])
def test_a_refused_name_keeps_the_link_and_the_input(
    browser: Browser, name: str, message: str
) -> None:
    browser.post("/login", {"email": "coach@example.com"})
    token = _link_token(browser, "coach@example.com")
    confirm = browser.get(f"/login/confirm?token={token}")
    refused = browser.post(
        "/login/confirm", {"token": token, "business_name": name}, csrf=confirm.csrf()
    )
    assert refused.status == 400 and message in refused.body
    assert _name_field(refused.body) == name
    assert "pt_session" not in browser.cookies
    again = browser.post(
        "/login/confirm", {"token": token, "business_name": "Coach Co"}, csrf=refused.csrf()
    )
    assert again.status == 303
    assert "Welcome, Coach Co" in browser.follow(again).body


def test_an_invited_trainer_is_asked_on_first_sign_in_and_not_after(browser: Browser, repo) -> None:
    repo.create_trainer(
        Trainer(id="t-invited", email="invited@example.com", created_at=datetime.now(UTC))
    )
    browser.post("/login", {"email": "invited@example.com"})
    token = _link_token(browser, "invited@example.com")
    confirm = browser.get(f"/login/confirm?token={token}")
    assert _name_field(confirm.body) == "Invited"
    done = browser.post(
        "/login/confirm", {"token": token, "business_name": "Jo Moves"}, csrf=confirm.csrf()
    )
    assert done.status == 303
    assert repo.get_trainer("t-invited").settings.business_name == "Jo Moves"
    browser.post("/logout", {})
    browser.post("/login", {"email": "invited@example.com"})
    later = browser.get(f"/login/confirm?token={_link_token(browser, 'invited@example.com')}")
    assert later.status == 200 and "Name shown to clients" not in later.body


def test_a_name_set_meanwhile_is_not_overwritten(browser: Browser, repo) -> None:
    repo.create_trainer(
        Trainer(id="t-named", email="named@example.com", created_at=datetime.now(UTC))
    )
    browser.post("/login", {"email": "named@example.com"})
    token = _link_token(browser, "named@example.com")
    confirm = browser.get(f"/login/confirm?token={token}")
    trainer = repo.get_trainer("t-named")
    repo.save_settings(trainer, trainer.settings.model_copy(update={"business_name": "Set"}))
    done = browser.post(
        "/login/confirm", {"token": token, "business_name": "Stale tab"}, csrf=confirm.csrf()
    )
    assert done.status == 303
    assert repo.get_trainer("t-named").settings.business_name == "Set"


def test_dashboard_needs_a_session(browser: Browser) -> None:
    page = browser.get("/dashboard/settings")
    assert page.status == 303 and page.location.endswith("/login")


def test_sign_out_revokes_the_session(trainer: Browser) -> None:
    stolen_cookie = dict(trainer.cookies)
    page = trainer.post("/logout", {})
    assert page.status == 303
    assert "pt_session" not in trainer.cookies
    assert "You are signed out." in trainer.follow(page).body
    trainer.cookies = stolen_cookie  # replaying the old cookie must not work
    assert trainer.get("/dashboard").status == 303


def test_a_session_cookie_for_another_trainer_id_is_ignored(
    trainer: Browser, other_trainer: Browser
) -> None:
    mine = trainer.cookies["pt_session"]
    theirs = other_trainer.cookies["pt_session"]
    trainer.cookies["pt_session"] = theirs.split(".")[0] + "." + mine.split(".")[1]
    assert trainer.get("/dashboard").status == 303


@pytest.mark.parametrize("csrf", [None, "", "wrong-token"])
def test_a_post_without_the_right_csrf_token_is_refused(browser: Browser, csrf) -> None:
    browser.get("/login")
    data = {"email": "coach@example.com"}
    if csrf is not None:
        data["csrf_token"] = csrf
    page = browser.request("POST", "/login", "&".join(f"{k}={v}" for k, v in data.items()))
    assert page.status == 403
    assert browser.outbox == []


def test_a_signed_in_post_with_the_anonymous_csrf_token_is_refused(trainer: Browser) -> None:
    before = trainer.get("/dashboard/settings/locations")
    page = trainer.post(
        "/dashboard/settings/locations", {"name": "Gym"}, csrf=trainer.cookies.get("pt_csrf", "x")
    )
    assert page.status == 403
    assert "Gym" not in trainer.get("/dashboard/settings/locations").body
    assert before.status == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"sec-fetch-site": "cross-site"},
        {"origin": "https://evil.example"},
    ],
)
def test_cross_site_posts_are_refused_even_with_a_token(trainer: Browser, headers) -> None:
    csrf = trainer.get("/dashboard/settings/locations").csrf()
    page = trainer.post("/dashboard/settings/locations", {"name": "Gym"}, csrf=csrf, **headers)
    assert page.status == 403
    assert "Gym" not in trainer.get("/dashboard/settings/locations").body


def test_same_origin_posts_pass_the_origin_check(trainer: Browser) -> None:
    csrf = trainer.get("/dashboard/settings/locations").csrf()
    page = trainer.post(
        "/dashboard/settings/locations",
        {"name": "Gym"},
        csrf=csrf,
        origin="http://testserver",
        **{"sec-fetch-site": "same-origin"},
    )
    assert page.status == 303


@pytest.mark.parametrize(
    "path",
    [
        "/login",
        "/dashboard",
        "/dashboard/settings",
        "/robots.txt",
        "/dashboard/nope",
        "/login/confirm?token=x",
    ],
)
def test_security_headers_are_on_every_response(trainer: Browser, path: str) -> None:
    page = trainer.get(path)
    csp = page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert re.fullmatch(
        r'db;dur=[\d.]+;desc="\d+ calls", app;dur=[\d.]+', page.headers["server-timing"]
    )


def test_html_pages_are_not_cached(trainer: Browser) -> None:
    assert trainer.get("/dashboard").headers["cache-control"] == "no-store"


def test_robots_txt_keeps_crawlers_out_of_private_pages(browser: Browser) -> None:
    body = browser.get("/robots.txt").body
    for path in ("/c/", "/s/", "/dashboard", "/login"):
        assert f"Disallow: {path}" in body


def test_static_files_are_served_and_paths_outside_are_not(browser: Browser) -> None:
    css = browser.get("/static/app.css")
    assert css.status == 200 and css.headers["content-type"].startswith("text/css")
    assert browser.get("/static/..%2F..%2Fapp.py").status == 404
    assert browser.get("/static/nothing.css").status == 404


def test_sign_in_requests_make_a_fixed_number_of_round_trips(browser: Browser) -> None:
    # two rate-limit counters, the email lookup, the link
    assert browser.post("/login", {"email": "coach@example.com"}).db_calls == 4
    token = _link_token(browser, "coach@example.com")
    confirm = browser.get(f"/login/confirm?token={token}")
    assert confirm.db_calls == 2  # the link, and the email lookup (new: ask for a name)
    # read the link, look up the email, one transaction (use link + session + account)
    done = browser.post("/login/confirm", {"token": token}, csrf=confirm.csrf())
    assert done.status == 303 and done.db_calls == 3

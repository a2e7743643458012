"""Magic-link sign-in, sessions, CSRF and the headers every response carries."""

from __future__ import annotations

import dataclasses
import re

import pytest

from chalicelib import runtime
from chalicelib.domain.tokens import new_token
from tests.functional.conftest import Browser, latest_link


def _link_token(browser: Browser, email: str) -> str:
    return latest_link(browser.outbox, email).split("token=")[1]


def _confirm(browser: Browser, token: str):
    page = browser.get(f"/login/confirm?token={token}")
    csrf = page.csrf() if page.status == 200 else browser.get("/login").csrf()
    return browser.post("/login/confirm", {"token": token}, csrf=csrf)


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


def test_sign_in_requests_are_rate_limited_per_email(browser: Browser) -> None:
    statuses = [browser.post("/login", {"email": "coach@example.com"}).status for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    assert len(browser.outbox) == 5
    assert "Try again in" in browser.post("/login", {"email": "coach@example.com"}).body


def test_sign_in_requests_are_rate_limited_per_ip(browser: Browser) -> None:
    statuses = [
        browser.post("/login", {"email": f"person{i}@example.com"}).status for i in range(31)
    ]
    assert statuses[:30] == [200] * 30
    assert statuses[30] == 429


def test_the_rate_limit_window_passes(browser: Browser, clock) -> None:
    for _ in range(5):
        browser.post("/login", {"email": "coach@example.com"})
    assert browser.post("/login", {"email": "coach@example.com"}).status == 429
    clock.advance(minutes=15)
    assert browser.post("/login", {"email": "coach@example.com"}).status == 200


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
    assert confirm.db_calls == 1
    # read the link, look up the email, one transaction (use link + session + account)
    done = browser.post("/login/confirm", {"token": token}, csrf=confirm.csrf())
    assert done.status == 303 and done.db_calls == 3

"""Browser tests: the real `make run` process driven by Debian's Chromium through Playwright.

One runner (`python -m infra.local_run`) serves the whole session on a free port with its
own data directory. Its output is read by a background thread (so the pipe never fills)
and kept for tests: every sign-in link it prints (`Sign in: <url>`) is how a test signs in,
exactly as a developer does locally.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright

from tests.runner import ROOT, Runner, start_runner
from tests.support import chromium

SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

PHONE = "phone"
DESKTOP = "desktop"
VIEWPORTS: dict[str, dict[str, Any]] = {
    PHONE: {
        "viewport": {"width": 390, "height": 844},
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
    },
    DESKTOP: {"viewport": {"width": 1280, "height": 800}},
}


@pytest.fixture(scope="session")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runner]:
    started = start_runner(tmp_path_factory.mktemp("pt-data"))
    yield started
    code = started.stop()
    assert code == 0, f"Runner exited with {code}. Output:\n{started.output}"
    assert "Stopped; data saved." in started.lines, f"No clean stop. Output:\n{started.output}"
    assert "Traceback" not in started.output, f"The runner logged errors:\n{started.output}"


@pytest.fixture(scope="session")
def base_url(runner: Runner) -> str:
    return runner.base_url


@pytest.fixture(scope="session")
def demo_sign_in_url(runner: Runner) -> str:
    """The one-use link for the seeded demo trainer that the runner printed on startup."""
    links = runner.sign_in_links()
    assert links, f"No sign-in link printed. Output:\n{runner.output}"
    assert links[0].startswith(f"{runner.base_url}/login/confirm?token="), links[0]
    return links[0]


# The browser ---------------------------------------------------------------------------
@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    executable = chromium.find()
    if executable is None:
        pytest.fail(chromium.missing_message(), pytrace=False)
    browser = playwright.chromium.launch(
        executable_path=str(executable), headless=True, args=CHROMIUM_ARGS
    )
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture
def screenshot(screenshot_dir: Path) -> Callable[..., Path]:
    """Save a full-page screenshot as test-artifacts/screenshots/<name>.png (kept)."""

    def take(page: Page, name: str, *, full_page: bool = True) -> Path:
        path = screenshot_dir / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page, animations="disabled")
        return path

    return take


@pytest.fixture
def new_page(browser: Browser, base_url: str) -> Iterator[Callable[..., Page]]:
    """Open a page in a fresh browser context for a viewport ("phone" or "desktop")."""
    contexts: list[BrowserContext] = []

    def open_page(viewport: str, storage_state: dict[str, Any] | None = None) -> Page:
        context = browser.new_context(
            base_url=base_url,
            locale="en-GB",
            timezone_id="Europe/London",
            storage_state=storage_state,
            **VIEWPORTS[viewport],
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on(
            "console",
            lambda msg: errors.append(msg.text) if msg.type == "error" else None,
        )
        page.js_errors = errors  # type: ignore[attr-defined]
        return page

    yield open_page
    for context in contexts:
        context.close()


def confirm_sign_in(page: Page, link: str) -> None:
    """Open a printed sign-in link and press the confirm button: lands on the dashboard."""
    page.goto(link)
    expect(page.get_by_role("heading", name="Sign in to PT Bookings")).to_be_visible()
    page.get_by_role("button", name="Continue to my dashboard").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))


@pytest.fixture
def sign_up(runner: Runner) -> Callable[[Page, str], None]:
    """Sign in as a (new) trainer through the /login form and the printed link."""

    def sign_in(page: Page, email: str) -> None:
        page.goto("/login")
        page.get_by_label("Email").fill(email)
        since = runner.mark()
        page.get_by_role("button", name="Email me a sign-in link").click()
        expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
        confirm_sign_in(page, runner.wait_for_sign_in_link(email, since))

    return sign_in


@pytest.fixture(scope="session")
def demo_state(browser: Browser, base_url: str, demo_sign_in_url: str) -> dict[str, Any]:
    """A signed-in session for the seeded demo trainer, from the first printed link.

    The link works once, so the session is shared (as cookies) by every demo test.
    """
    context = browser.new_context(base_url=base_url)
    try:
        page = context.new_page()
        confirm_sign_in(page, demo_sign_in_url)
        expect(page.locator(".account-name")).to_have_text("Sam Carter PT")
        return context.storage_state()
    finally:
        context.close()

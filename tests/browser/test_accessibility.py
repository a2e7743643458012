"""An axe-core audit of every page type, on a phone (390×844) and on a desktop (1280×800).

axe-core comes from npm (package.json pins it; `make browser-deps` runs `npm ci`). It is
served to the page from its own origin through a Playwright route, so the app's strict CSP
(`script-src 'self'`) stays in force during the audit: the pages are judged exactly as
users get them, with nothing the CSP would block quietly applied.

The pages come from the seeded demo trainer (clients, recurring sessions, a bundle), plus
an opt-in, an offer and a wizard draft made once for the module. Every rule axe runs by
default counts, whatever its impact: one violation fails the test, listing each one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect

from chalicelib.domain.timeutil import week_monday
from tests.browser.conftest import DESKTOP, PHONE, VIEWPORTS
from tests.browser.test_schedule import next_week
from tests.runner import ROOT

pytestmark = pytest.mark.browser

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
AXE_PATH = "/__axe__/axe.min.js"  # answered by the test's route, never by the app


@dataclass(frozen=True)
class Audited:
    name: str
    path: str
    signed_in: bool = True
    status: int = 200


def _context(browser: Browser, base_url: str, viewport: str, state: Any = None) -> BrowserContext:
    context = browser.new_context(
        base_url=base_url,
        locale="en-GB",
        timezone_id="Europe/London",
        storage_state=state,
        **VIEWPORTS[viewport],
    )
    context.set_default_timeout(15_000)
    return context


def _path(base_url: str, url: str) -> str:
    assert url.startswith(base_url), url
    return url[len(base_url) :]


def _href(page: Page, selector: str) -> str:
    href = page.locator(selector).first.get_attribute("href")
    assert href, f"no link {selector} on {page.url}"
    return href


@pytest.fixture(scope="module")
def audited_pages(browser: Browser, base_url: str, demo_state: dict[str, Any]) -> list[Audited]:
    """Every page type, as paths: found by clicking through the demo like a trainer."""
    if not AXE.is_file():
        pytest.fail(
            f"{AXE.relative_to(ROOT)} is missing: run `make browser-deps` (npm ci).",
            pytrace=False,
        )
    context = _context(browser, base_url, DESKTOP, demo_state)
    try:
        page = context.new_page()
        week = next_week()
        page.goto(f"/dashboard/schedule?view=week&week={week}")
        open_slot = _href(page, "a.slot.slot-open")
        session = _href(page, "a.slot.slot-recurring")
        first_day = week_monday(week).isoformat()

        page.goto("/dashboard/clients")
        page.get_by_role("link", name="Tom Okafor", exact=True).click()
        profile = _path(base_url, page.url)
        tom_portal = _path(base_url, page.locator("#portal_url").input_value())
        page.goto("/dashboard/clients")
        page.get_by_role("link", name="Ella Morgan", exact=True).click()
        ella_profile = _path(base_url, page.url)
        page.goto("/dashboard/clients")
        page.get_by_role("link", name="Priya Shah", exact=True).click()
        priya_portal = page.locator("#portal_url").input_value()

        # Tom's latest session is days ahead: its change page is open, not past the deadline.
        page.goto(tom_portal)
        portal_session = _path(
            base_url, page.locator("a.session-link").last.evaluate("a => a.href")
        )

        # An offer: Priya opts in to Wednesday 07:00 (open, at her studio), the slot turns
        # amber next week, and the trainer sends her the offer.
        client = _context(browser, base_url, PHONE)
        try:
            priya = client.new_page()
            priya.goto(priya_portal)
            priya.get_by_role("checkbox", name=re.compile("Wednesday 07:00")).check()
            expect(priya.get_by_text("Saved.")).to_be_visible()
        finally:
            client.close()
        page.goto(f"/dashboard/schedule?view=week&week={week}")
        page.locator("section.day").nth(2).locator("a.slot.slot-match").click()
        page.get_by_role("button", name="Send offer to Priya Shah").click()
        expect(page.get_by_text("Offer sent")).to_be_visible()
        page.goto("/dashboard/whatsapp/all")
        offer = re.search(r"/o/[A-Za-z0-9_-]{43}", page.locator(".message-text").first.inner_text())
        assert offer, "no offer link in the WhatsApp tab"

        # A wizard draft for Jamie, started from a template: steps 1 and 2.
        page.goto("/dashboard/programs/new")
        page.get_by_label("Client").select_option(label="Jamie Lee")
        page.get_by_label(re.compile("Start from a template")).select_option(label="Starter pack")
        page.get_by_role("button", name="Continue").click()
        expect(page.get_by_role("button", name="Continue to scheduling")).to_be_visible()
        wizard_offer = _path(base_url, page.url)
        page.get_by_role("button", name="Continue to scheduling").click()
        expect(page.get_by_label("First date")).to_be_visible()
        wizard_schedule = _path(base_url, page.url)

        page.goto("/dashboard/programs")
        bundle = _href(page, "a[href*='/dashboard/bundles/']")
    finally:
        context.close()
    return [
        Audited("sign-in", "/login", signed_in=False),
        Audited("dashboard", "/dashboard"),
        Audited("schedule week", f"/dashboard/schedule?view=week&week={week}"),
        Audited("schedule day", f"/dashboard/schedule?view=day&day={first_day}"),
        Audited("open slot", open_slot),
        Audited("open slot, confirming its removal", f"{open_slot}?confirm=remove"),
        Audited("new slot", f"/dashboard/schedule/new?day={first_day}&start=06:00"),
        Audited("session", session),
        Audited("sessions", "/dashboard/sessions"),
        Audited("clients", "/dashboard/clients"),
        Audited("client profile", profile),
        Audited("client profile with a bundle", ella_profile),
        Audited("whatsapp", "/dashboard/whatsapp"),
        Audited("whatsapp all messages", "/dashboard/whatsapp/all"),
        Audited(
            "whatsapp conversation", profile.replace("/dashboard/clients/", "/dashboard/whatsapp/")
        ),
        Audited("settings", "/dashboard/settings"),
        Audited("locations", "/dashboard/settings/locations"),
        Audited("weekly template", "/dashboard/settings/template"),
        Audited("time off", "/dashboard/settings/time-off"),
        Audited("calendar feed", "/dashboard/settings/calendar"),
        Audited("card payments", "/dashboard/settings/payments/card"),
        Audited("reports", "/dashboard/reports"),
        Audited("reports, a range refused", "/dashboard/reports?from=2030-01", status=400),
        Audited("bank statement upload", "/dashboard/payments/bank"),
        Audited("programs bundles", "/dashboard/programs"),
        Audited("programs models", "/dashboard/programs?tab=models"),
        Audited("wizard start", "/dashboard/programs/new"),
        Audited("wizard offer", wizard_offer),
        Audited("wizard schedule", wizard_schedule),
        Audited("bundle", bundle),
        Audited("portal home", tom_portal, signed_in=False),
        Audited("portal book", f"{tom_portal}/book", signed_in=False),
        Audited("portal session", portal_session, signed_in=False),
        Audited("portal change", f"{portal_session}/change", signed_in=False),
        Audited("offer", offer.group(0), signed_in=False),
        Audited("not found", "/dashboard/no-such-page", status=404),
        Audited("portal not found", "/c/not-a-real-token", signed_in=False, status=404),
    ]


def _serve_axe(route: Route) -> None:
    route.fulfill(path=str(AXE), content_type="application/javascript")


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Inject axe-core (same origin, so the CSP allows it) and run its default rules."""
    page.add_script_tag(url=AXE_PATH)
    return page.evaluate(
        """async () => {
          const results = await axe.run(document, { resultTypes: ["violations"] });
          return results.violations.map(v => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => ({ target: n.target.join(" "), summary: n.failureSummary })),
          }));
        }"""
    )


def describe(found: dict[str, list[dict[str, Any]]]) -> str:
    lines = []
    for name, violations in found.items():
        for v in violations:
            lines.append(f"{name}: [{v['impact']}] {v['id']}: {v['help']}")
            lines.extend(f"    {n['target']}\n      {n['summary']}" for n in v["nodes"][:8])
            if len(v["nodes"]) > 8:
                lines.append(f"    ...and {len(v['nodes']) - 8} more")
    return "\n".join(lines)


@pytest.fixture
def audit_pages(
    browser: Browser, base_url: str, demo_state: dict[str, Any]
) -> Iterator[Callable[[str], tuple[Page, Page]]]:
    """(the demo trainer's page, a visitor's page) for a viewport, both able to load axe."""
    made: list[BrowserContext] = []

    def for_viewport(viewport: str) -> tuple[Page, Page]:
        pages = []
        for state in (demo_state, None):
            context = _context(browser, base_url, viewport, state)
            context.route(f"**{AXE_PATH}", _serve_axe)
            made.append(context)
            pages.append(context.new_page())
        return pages[0], pages[1]

    yield for_viewport
    for context in made:
        context.close()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP])
def test_every_page_type_passes_axe(
    audited_pages: list[Audited],
    audit_pages: Callable[[str], tuple[Page, Page]],
    viewport: str,
) -> None:
    trainer, visitor = audit_pages(viewport)
    found: dict[str, list[dict[str, Any]]] = {}
    for audited in audited_pages:
        page = trainer if audited.signed_in else visitor
        response = page.goto(audited.path)
        assert response is not None and response.status == audited.status, (
            f"{audited.name}: {audited.path} answered {response and response.status}"
        )
        violations = axe_violations(page)
        if violations:
            found[audited.name] = violations
    # The sign-in sent page comes from the form, as a trainer gets it.
    visitor.goto("/login")
    visitor.get_by_label("Email").fill(f"axe-{viewport}@example.com")
    visitor.get_by_role("button", name="Email me a sign-in link").click()
    expect(visitor.get_by_role("heading", name="Check your email")).to_be_visible()
    if violations := axe_violations(visitor):
        found["sign-in sent"] = violations
    assert not found, f"axe found violations at {viewport}:\n{describe(found)}"


# Colours axe cannot judge (WCAG 1.4.11, non-text contrast): the grid's blocks, the legend's
# swatches, the "+" of an empty cell, the focus ring and text fields' borders.
RGB = re.compile(r"rgba?\((\d+), (\d+), (\d+)(?:, ([\d.]+))?\)")
KINDS = ("open", "match", "locked", "recurring", "booked", "changing")


def colours(css: str) -> list[tuple[int, int, int]]:
    """The opaque colours in a computed value (a colour, a gradient or a box-shadow)."""
    return [
        (int(r), int(g), int(b))
        for r, g, b, alpha in RGB.findall(css)
        if alpha in ("", "1") or float(alpha) == 1
    ]


def contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    """WCAG 2 contrast ratio of two sRGB colours."""

    def luminance(rgb: tuple[int, int, int]) -> float:
        linear = [c / 255 / 12.92 if c <= 10 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in rgb]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_the_grid_colours_focus_ring_and_fields_meet_contrast(
    browser: Browser, base_url: str, demo_state: dict[str, Any]
) -> None:
    context = _context(browser, base_url, DESKTOP, demo_state)
    try:
        page = context.new_page()
        page.goto(f"/dashboard/schedule?view=week&week={next_week()}")
        styles = page.evaluate(
            """kinds => {
              const grid = document.querySelector("section.day .day-grid");
              const style = (el) => getComputedStyle(el);
              const blocks = {};
              for (const kind of kinds) {  // every kind, whether this week has one or not
                const a = document.createElement("a");
                a.className = `slot slot-${kind} r1 s2`;
                a.href = "#";
                a.textContent = kind;
                grid.append(a);
                const s = style(a);
                blocks[kind] = { edge: s.borderLeftColor, fill: s.backgroundColor,
                                 stripes: s.backgroundImage, text: s.color };
                a.remove();
              }
              const swatches = Object.fromEntries(
                [...document.querySelectorAll(".legend .swatch")].map((el) =>
                  [el.className, style(el).backgroundColor + style(el).backgroundImage]));
              return {
                blocks, swatches,
                page: style(document.documentElement).backgroundColor,
                card: style(document.querySelector(".week-scroll")).backgroundColor,
                plus: style(document.querySelector(".cell-add")).color,
              };
            }""",
            list(KINDS),
        )
        (page_bg,), (card,) = colours(styles["page"]), colours(styles["card"])
        low: list[str] = []

        def need(what: str, a: tuple[int, int, int], b: tuple[int, int, int], least: float) -> None:
            if (ratio := contrast(a, b)) < least:
                low.append(f"{what}: {ratio:.2f}:1 < {least}:1 ({a} on {b})")

        for kind, block in styles["blocks"].items():
            fills = colours(block["fill"]) or colours(block["stripes"])
            (edge,), (text,) = colours(block["edge"]), colours(block["text"])
            for fill in fills:
                need(f"{kind} text", text, fill, 4.5)
                if kind != "booked":  # the dark block is its own edge
                    need(f"{kind} edge on its fill", edge, fill, 3)
            need(f"{kind} block on the grid", fills[0] if kind == "booked" else edge, card, 3)
        assert len(styles["swatches"]) == len(KINDS)
        for name, value in styles["swatches"].items():
            best = max(contrast(c, page_bg) for c in colours(value))
            if best < 3:
                low.append(f"{name}: {best:.2f}:1 on the page")
        (plus,) = colours(styles["plus"])
        need("the + of an empty cell", plus, card, 3)

        # The focus ring, from the keyboard: on a link on the page, and on a grid cell.
        page.keyboard.press("Tab")
        ring = colours(page.evaluate("getComputedStyle(document.activeElement).boxShadow"))
        assert ring, "a focused link shows no ring"
        need("focus ring on the page", ring[-1], page_bg, 3)
        need("focus ring on a card", ring[-1], card, 3)
        cell = page.locator(".cell-add").first
        cell.focus()
        cell_style = cell.evaluate(
            "el => [getComputedStyle(el).boxShadow, getComputedStyle(el).backgroundColor]"
        )
        (cell_ring, *_), (cell_fill,) = colours(cell_style[0]), colours(cell_style[1])
        need("focus ring in a grid cell", cell_ring, cell_fill, 3)

        # A text field is nothing but its border.
        page.goto("/dashboard/settings")
        field = page.locator("input[type='text'], input:not([type])").first
        (edge,) = colours(field.evaluate("el => getComputedStyle(el).borderTopColor"))
        need("a text field's border", edge, card, 3)
        assert not low, "Too little contrast:\n" + "\n".join(low)
    finally:
        context.close()


def test_recurring_slot_checkboxes_are_told_apart_by_their_names(
    browser: Browser, base_url: str, demo_state: dict[str, Any]
) -> None:
    """Screen readers list a form's checkboxes by name: "12:00–13:00 · Victoria Park" twice
    (Tuesday and Thursday) would be two identical choices."""
    context = _context(browser, base_url, PHONE, demo_state)
    try:
        page = context.new_page()
        page.goto("/dashboard/clients")
        page.get_by_role("link", name="Tom Okafor", exact=True).click()
        boxes = page.locator("input[name='recurring']")
        expect(boxes.first).to_be_attached()
        names = [
            " ".join(name.split())
            for name in boxes.evaluate_all("els => els.map(el => el.labels[0].textContent)")
        ]
        assert len(names) == len(set(names)), f"recurring checkboxes share names: {names}"
        weekday_time_place = re.compile(r"^[A-Z][a-z]+day \d\d:\d\d–\d\d:\d\d · \w")
        assert all(weekday_time_place.match(n) for n in names), names
        expect(
            page.get_by_role("checkbox", name=re.compile("^Tuesday 12:00–13:00 · Victoria Park"))
        ).to_be_checked()
        expect(
            page.get_by_role("checkbox", name=re.compile("^Thursday 12:00–13:00 · Victoria Park"))
        ).to_be_checked()
    finally:
        context.close()

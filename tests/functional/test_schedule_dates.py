"""The schedule speaks in dates: no ISO week code ("2026-W48") is shown or read out on its
pages, while the forms and links still carry the week keys the server expects."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from tests.functional.conftest import Browser
from tests.functional.test_locations_and_template import add_location, add_slot
from tests.functional.test_schedule_pages import new_slot, slots_on

# The frozen clock (tests/conftest.py) is Monday 2026-11-23 09:00 UTC: week 2026-W48.
WEEK_CODE = re.compile(r"\d{4}-W\d{2}|\bW\d{1,2}\b")
READ_ATTRIBUTES = ("aria-label", "title", "alt", "placeholder")


class _Perceivable(HTMLParser):
    """The text a person sees or hears: text nodes and the attributes read out as names.
    URLs and hidden form values are left out: they are for the server, not for people."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        self.texts.extend(value for name, value in attrs if name in READ_ATTRIBUTES and value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.texts.append(data.strip())


def perceivable(body: str) -> list[str]:
    parser = _Perceivable()
    parser.feed(body)
    return parser.texts


def codes_shown(body: str) -> list[str]:
    return [text for text in perceivable(body) if WEEK_CODE.search(text)]


@pytest.fixture
def studio(trainer: Browser, clock) -> str:
    studio = add_location(trainer, "Studio")
    add_slot(trainer, 2, "18:00", "19:00", studio)  # a template, so Apply has work to do
    assert new_slot(trainer, "2026-11-26", "10:00", "10:30", studio).status == 303
    return studio


@pytest.mark.parametrize(
    "path", ["/dashboard/schedule?week=2026-W48", "/dashboard/schedule?view=day&day=2026-11-26"]
)
def test_the_week_and_day_views_show_dates_not_week_codes(
    trainer: Browser, studio: str, path: str
) -> None:
    page = trainer.get(path)
    assert page.status == 200
    assert codes_shown(page.body) == []
    texts = perceivable(page.body)
    assert "Weeks from Monday 23 November 2026" in texts
    assert "1 week: 23 Nov – 29 Nov 2026" in texts
    assert "2 weeks: 23 Nov – 6 Dec 2026" in texts
    # ...while what the form posts and the links carry is unchanged
    assert '<input type="hidden" name="week" value="2026-W48">' in page.body
    assert re.findall(r'<option value="(\d+)"', page.body) == [str(n) for n in range(1, 13)]


def test_the_week_navigation_is_named_by_dates(trainer: Browser, studio: str) -> None:
    texts = perceivable(trainer.get("/dashboard/schedule?week=2026-W48").body)
    assert "23 Nov – 29 Nov 2026" in texts  # the heading
    assert "Previous week: 16 Nov – 22 Nov 2026" in texts
    assert "Next week: 30 Nov – 6 Dec 2026" in texts
    day = perceivable(trainer.get("/dashboard/schedule?view=day&day=2026-11-26").body)
    assert "Previous day: Wednesday 25 November 2026" in day
    assert "Next day: Friday 27 November 2026" in day


def test_the_pages_around_the_schedule_show_no_week_codes(trainer: Browser, studio: str) -> None:
    ((week, slot_id),) = slots_on(trainer, "2026-W48")
    applied = trainer.post("/dashboard/schedule/apply", {"week": "2026-W48", "weeks": "2"})
    assert applied.status == 200
    for page in (
        applied,
        trainer.get(f"/dashboard/schedule/{week}/slots/{slot_id}"),
        trainer.get("/dashboard/schedule/new?day=2026-11-27&start=09:00"),
    ):
        assert codes_shown(page.body) == []


def test_every_block_on_the_grid_says_its_kind(trainer: Browser, studio: str) -> None:
    body = trainer.get("/dashboard/schedule?week=2026-W48").body
    block = re.search(r'<a class="slot slot-open[^"]*"[^>]*>(.*?)</a>', body, re.S)
    assert block, "no open slot on the grid"
    assert '<span class="slot-kind">Open</span>' in block.group(1)
    assert 'title="Open · 10:00–10:30 · Studio"' in block.group(0)

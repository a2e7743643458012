"""Where one week view's CPU goes: `python -m benchmarks.cpu [--items 40 100] [--runs N]`.

For each size it builds one trainer whose week view reads about that many items (slots
and sessions of next week, plus the account partition the amber matches need), through
the app's own services on the benchmark's in-process moto (benchmarks/moto_env.py), signs
in through the app, and then:

- times N requests of `GET /dashboard/schedule?view=week&week=...` through
  `chalice.test.Client` with no profiler: median process CPU minus the CPU spent inside
  moto and the meters (as `benchmarks.pages` does);
- profiles N more requests with cProfile, on a clock that stops while moto answers, and
  prints each layer's cumulative time and share of the app's time, then the top entries
  by cumulative time (or by own time, `--own`).

Profiling slows every Python call down (C code such as json or pydantic-core much less),
so the layer shares are proportions of a profiled request, and the "CPU ms" line, the
unprofiled median, is the number to compare. It is a measurement, not a test: the exit
code is 0 whatever it finds.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Any

from benchmarks.browser import Browser
from benchmarks.moto_env import METER, NOW, ROOT, FrozenClock, moto_table

WEEK = "2026-W49"  # the week after NOW's: every slot is in the future, so it can be booked
CLIENTS = 8
SLOT_HOURS = range(7, 21)  # one-hour slots across the default 07:00-21:00 day
OPEN_EVERY = 5  # one slot in five stays open, so the week has amber candidates

# Layers, each the cumulative time of the functions that enter it (pstats keys are
# (file, line, function); the file is matched by its ending). Nested entries of one
# layer would be counted twice, so each layer names only its entry points.
LAYERS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("botocore: whole API call", (("botocore/client.py", "_make_api_call"),)),
    ("botocore: response parsing", (("botocore/parsers.py", "parse"),)),
    (
        "botocore: request serializing",
        (("botocore/validate.py", "validate"), ("botocore/serialize.py", "serialize_to_request")),
    ),
    ("items: from_attrs", (("chalicelib/repo/dynamo.py", "from_attrs"),)),
    ("models: *_from_item", (("chalicelib/repo/mapping.py", "_from_item"),)),
    (
        "  pydantic validation",
        (("pydantic/main.py", "__init__"), ("pydantic/main.py", "model_validate")),
    ),
    ("  timestamps: parse_utc_iso", (("chalicelib/domain/timeutil.py", "parse_utc_iso"),)),
    ("jinja: render", (("chalicelib/web/render.py", "render"),)),
    ("grid: schedule_grid", (("chalicelib/web/grids.py", "schedule_grid"),)),
    ("whole request (chalice's gateway)", (("chalice/local.py", "handle_request"),)),
)
# The meters' own hooks run inside botocore's calls: their time is taken out of the
# totals (moto's is kept out of the profile's clock altogether, see `_Clock`).
METER_HOOKS = (
    ("benchmarks/moto_env.py", "_after_call"),
    ("benchmarks/moto_env.py", "_before_parameters"),
)


@dataclass
class _Clock:
    """The profiler's clock: wall time that stands still while moto answers, so moto's
    own functions cost nothing and every entry around them (botocore's send, the view,
    the middleware) is the app's own time. Wall, not process CPU: reading a CPU clock is
    a system call per profiled event, which would swamp the small functions measured."""

    paused: float = 0.0  # seconds spent inside moto so far
    since: float | None = None  # when the current moto call started

    def __call__(self) -> float:
        now = time.perf_counter() if self.since is None else self.since
        return now - self.paused

    def stop_inside_moto(self) -> None:
        from moto.core import models as moto_models

        stubber = moto_models.botocore_stubber
        inner = stubber.process_request

        def outside_the_app(request: Any) -> Any:
            self.since = time.perf_counter()
            try:
                return inner(request)
            finally:
                self.paused += time.perf_counter() - self.since
                self.since = None

        stubber.process_request = outside_the_app


APP_CLOCK = _Clock()


@dataclass
class Scene:
    target: int
    path: str
    browser: Browser
    items: int = 0
    calls: int = 0


class WeekFiller:
    """A trainer with two locations, CLIENTS clients and next week's one-hour slots, four
    in five booked, added until the week view reads the items asked for. Made with the
    test suite's builders (the services a trainer's clicks call)."""

    def __init__(self, email: str) -> None:
        from chalicelib import runtime
        from chalicelib.domain.schedule import week_days
        from tests.support import builders

        self.email = email
        self.repo = runtime.repository()
        trainer = builders.make_trainer(self.repo, email)
        trainer, self.studio = builders.add_location(self.repo, trainer, "Studio")
        trainer, self.park = builders.add_location(self.repo, trainer, "Park")
        self.trainer = trainer
        self.people = [
            builders.add_client(self.repo, trainer, f"Client {n:02d} Example", (self.studio,))
            for n in range(CLIENTS)
        ]
        self.free = [(day, hour) for day in week_days(WEEK) for hour in SLOT_HOURS]
        self.added = 0

    def add_slots(self, count: int) -> None:
        from tests.support import builders

        for _ in range(min(count, len(self.free))):
            day, hour = self.free.pop(0)
            slot = builders.add_slot(
                self.repo,
                self.trainer,
                self.studio if self.added % 3 else self.park,
                f"{hour:02d}:00",
                f"{hour + 1:02d}:00",
                day,
            )
            if self.added % OPEN_EVERY != OPEN_EVERY - 1:
                person = self.people[self.added % len(self.people)]
                builders.allocate(self.repo, self.trainer, slot, person)
            self.added += 1

    def fill(self, scene: Scene) -> None:
        """Add slots until the page reads `scene.target` items (or the week is full):
        what the page reads besides the week (session, profile, account set-up) is
        whatever the app reads today, so it is counted, not assumed."""
        while True:
            _warm_up(scene, times=1)
            missing = scene.target - scene.items
            if missing <= 1 or not self.free:
                return
            # A booked slot reads as two items (slot and session), an open one as one.
            self.add_slots(max(1, round(missing / (2 - 1 / OPEN_EVERY))))


def _matches(key: tuple[str, int, str], where: tuple[str, str]) -> bool:
    file, _line, function = key
    suffix, name = where
    return file.replace("\\", "/").endswith(suffix) and (
        function == name or (name.startswith("_") and function.endswith(name))
    )


def _cumulative(stats: dict[Any, Any], wheres: tuple[tuple[str, str], ...]) -> float:
    return sum(entry[3] for key, entry in stats.items() if any(_matches(key, w) for w in wheres))


def _cpu_ms(browser: Browser, path: str, runs: int) -> tuple[float, float]:
    """Median app CPU (ms) of `runs` unprofiled requests, and median moto CPU."""
    app, moto = [], []
    for _ in range(runs):
        METER.reset()
        started = time.process_time()
        page = browser.get(path)
        total = time.process_time() - started
        if page.status != 200:
            raise RuntimeError(f"{path} answered {page.status}")
        app.append(total - METER.moto_cpu - METER.meter_cpu)
        moto.append(METER.moto_cpu)
    return statistics.median(app) * 1000, statistics.median(moto) * 1000


def _profile(browser: Browser, path: str, runs: int) -> pstats.Stats:
    profiler = cProfile.Profile(APP_CLOCK)
    for _ in range(runs):
        profiler.enable()
        browser.get(path)
        profiler.disable()
    return pstats.Stats(profiler)


def _location(key: tuple[str, int, str]) -> str:
    file, line, function = key
    for marker in ("site-packages/", "/work/main/", "lib/python3"):
        if marker in file:
            file = file.split(marker, 1)[1]
            break
    return f"{file}:{line}({function})" if line else function


def report(
    scene: Scene,
    cpu_ms: float,
    moto_ms: float,
    stats: pstats.Stats,
    runs: int,
    top: int,
    own: bool = False,
) -> None:
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = stats.total_tt  # type: ignore[attr-defined]
    hooks = _cumulative(raw, METER_HOOKS)
    ours = max(total - hooks, 1e-9)
    print(f"\n== week view, ~{scene.target} items: {scene.items} items in {scene.calls} calls")
    print(
        f"CPU ms per request (unprofiled median of {runs}, moto excluded): {cpu_ms:.1f}"
        f"   (moto itself: {moto_ms:.1f} ms)"
    )
    print(
        f"profiled: {ours / runs * 1000:.1f} ms per request without moto "
        f"(the meters' hooks: {hooks / runs * 1000:.1f} ms)"
    )
    print(f"  {'layer (cumulative)':34} {'ms/req':>7} {'share':>6}")
    for name, wheres in LAYERS:
        spent = _cumulative(raw, wheres)
        if "_make_api_call" in str(wheres):
            spent -= hooks  # the meters hook into botocore's calls
        print(f"  {name:34} {spent / runs * 1000:7.2f} {spent / ours:6.0%}")
    # A builtin's own time is real work (json, stat, strptime); its cumulative time
    # repeats its caller's, so builtins are listed only by own time.
    entries = sorted(
        (
            (entry[2] if own else entry[3], key)
            for key, entry in raw.items()
            if "moto/" not in key[0] and "benchmarks/" not in key[0] and (own or key[0] != "~")
        ),
        reverse=True,
    )
    kind = "own" if own else "cumulative"
    print(f"  top {top} by {kind} time (moto and the benchmark left out):")
    for spent, key in entries[:top]:
        print(f"  {spent / runs * 1000:7.2f} ms {spent / ours:5.0%}  {_location(key)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, nargs="+", default=[40, 100])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--own", action="store_true", help="rank entries by own time")
    args = parser.parse_args(argv)
    runs = max(1, args.runs)

    from chalice.test import Client

    with moto_table():
        from app import app
        from benchmarks.accounts import sign_in_link
        from chalicelib import runtime

        runtime.set_clock(FrozenClock(NOW))
        try:
            with Client(app, stage_name="test", project_dir=ROOT) as chalice_client:
                scenes = []
                for target in args.items:
                    filler = WeekFiller(f"cpu{target}@example.com")
                    browser = Browser(chalice_client)
                    browser.sign_in_with_link(sign_in_link(filler.email))
                    scene = Scene(target, f"/dashboard/schedule?view=week&week={WEEK}", browser)
                    filler.fill(scene)
                    scenes.append(scene)
                APP_CLOCK.stop_inside_moto()
                gc.collect()
                gc.freeze()  # the table in moto's heap is not the app's garbage
                for scene in scenes:
                    _warm_up(scene)
                    cpu_ms, moto_ms = _cpu_ms(scene.browser, scene.path, runs)
                    stats = _profile(scene.browser, scene.path, runs)
                    report(scene, cpu_ms, moto_ms, stats, runs, args.top, args.own)
        finally:
            runtime.set_clock(None)
    return 0


def _warm_up(scene: Scene, times: int = 3) -> None:
    """Imports, template compilation and caches happen once per process, not per page."""
    for _ in range(times):
        METER.reset()
        page = scene.browser.get(scene.path)
        if page.status != 200:
            raise RuntimeError(f"{scene.path} answered {page.status}: {page.body[:300]}")
    scene.items, scene.calls = METER.items, METER.calls


if __name__ == "__main__":
    sys.exit(main())

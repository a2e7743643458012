"""Per-page cost in a small and a large trainer account: `make bench`.

    python -m benchmarks.pages [--runs N]      (BENCH_RUNS=N works too; default 5)

Builds both accounts in one in-process moto table (benchmarks/accounts.py), signs in as
each trainer through the app's own sign-in link and confirm page, then drives every page
through chalice.test.Client: one warm-up, then N measured runs. For each page it prints

- DynamoDB calls (the app's own Server-Timing count),
- items returned by those calls,
- read units (computed from the items' sizes with DynamoDB's rules: moto's own
  ConsumedCapacity is a constant per call, see the probe line),
- CPU ms: median process CPU of the request minus the CPU spent inside moto (what the
  app, Jinja, botocore and Chalice's local gateway cost; the emulator's cost is not a
  Lambda's),

then a verdict per page: OK if items(large) <= 1.5 x items(small), else GROWS; pages
that list everything they show are marked LIST, paged lists PAGED (with the ratio).
Finally one write, Apply template for 1 week and for 12 weeks (calls, items written,
wall and CPU time). It is a measurement, not a test: the exit code is 0 whatever it
finds (a crash while building the data is still an error).
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from benchmarks.accounts import THIS_WEEK, Built, build, sign_in_link
from benchmarks.browser import Browser
from benchmarks.moto_env import METER, NOW, ROOT, FrozenClock, moto_table, probe_capacity

GROWTH_LIMIT = 1.5
READS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan"})


@dataclass(frozen=True)
class PageSpec:
    name: str
    path: Callable[[Built], str]
    kind: str = ""  # "" (bounded), "list" (shows all it reads) or "paged"
    note: str = ""


PAGES = (
    PageSpec("dashboard", lambda b: "/dashboard"),
    PageSpec("week view", lambda b: f"/dashboard/schedule?view=week&week={THIS_WEEK}"),
    PageSpec("day view", lambda b: "/dashboard/schedule?view=day&day=2026-11-25"),
    PageSpec("open-slot page", lambda b: b.open_slot_path),
    PageSpec("clients list", lambda b: "/dashboard/clients", "list", "every client"),
    PageSpec("client profile (5-year client)", lambda b: f"/dashboard/clients/{b.profiled_client}"),
    PageSpec("sessions tab: upcoming", lambda b: "/dashboard/sessions?list=upcoming", "paged"),
    PageSpec("sessions tab: past", lambda b: "/dashboard/sessions?list=past", "paged"),
    PageSpec("session page", lambda b: f"/dashboard/sessions/{b.past_session_ref}"),
    PageSpec("WhatsApp tab", lambda b: "/dashboard/whatsapp", "paged"),
    PageSpec("settings", lambda b: "/dashboard/settings"),
    PageSpec("programs hub", lambda b: "/dashboard/programs", "paged"),
    PageSpec("bundle page (6 sessions)", lambda b: f"/dashboard/bundles/{b.bundle_id}"),
    PageSpec(
        "wizard step 2 (12 dates)",
        lambda b: f"/dashboard/programs/wizard/{b.draft_id}/schedule",
    ),
    PageSpec("portal home /c/", lambda b: f"/c/{b.portal_token}"),
    PageSpec("portal session /s/", lambda b: f"/s/{b.upcoming_session_token}"),
    PageSpec("portal book page", lambda b: f"/c/{b.portal_token}/book"),
    PageSpec("offer page /o/", lambda b: f"/o/{b.offer_token}"),
)


@dataclass
class Result:
    status: int = 0
    calls: int | None = None
    meter_calls: int = 0
    items: int = 0
    read_units: float = 0.0
    cpu_ms: float = 0.0  # median, excluding moto
    moto_ms: float = 0.0  # median CPU inside moto
    wall_ms: float = 0.0
    written: int = 0
    reads: list[tuple[str, int]] = field(default_factory=list)  # what each call read
    problems: list[str] = field(default_factory=list)


def measure(browser: Browser, path: str, runs: int) -> Result:
    browser.get(path)  # warm-up: imports, template compilation, caches
    result = Result()
    cpu, moto, wall, seen = [], [], [], set()
    for _ in range(runs):
        METER.reset()
        started_cpu, started_wall = time.process_time(), time.perf_counter()
        page = browser.get(path)
        wall.append(time.perf_counter() - started_wall)
        total = time.process_time() - started_cpu
        cpu.append(total - METER.moto_cpu - METER.meter_cpu)
        moto.append(METER.moto_cpu)
        seen.add((page.status, page.db_calls, METER.items, METER.read_units))
        result.status, result.calls = page.status, page.db_calls
        result.meter_calls, result.items, result.read_units = (
            METER.calls,
            METER.items,
            METER.read_units,
        )
        result.reads = list(METER.reads)
        writes = [op for op in METER.operations if op not in READS]
        if writes:
            result.problems.append(f"GET wrote: {', '.join(sorted(set(writes)))}")
    if len(seen) > 1:
        result.problems.append(f"runs differ: {sorted(seen)}")
    if result.calls is not None and result.calls != result.meter_calls:
        result.problems.append(f"meter saw {result.meter_calls} calls")
    result.cpu_ms = statistics.median(cpu) * 1000
    result.moto_ms = statistics.median(moto) * 1000
    result.wall_ms = statistics.median(wall) * 1000
    return result


def apply_template(browser: Browser, week: str, weeks: int) -> Result:
    csrf = browser.get("/dashboard").csrf()
    METER.reset()
    started_cpu, started_wall = time.process_time(), time.perf_counter()
    page = browser.post(
        "/dashboard/schedule/apply", {"csrf_token": csrf, "week": week, "weeks": str(weeks)}
    )
    wall = time.perf_counter() - started_wall
    total = time.process_time() - started_cpu
    return Result(
        status=page.status,
        calls=page.db_calls,
        meter_calls=METER.calls,
        items=METER.items,
        read_units=METER.read_units,
        cpu_ms=(total - METER.moto_cpu - METER.meter_cpu) * 1000,
        moto_ms=METER.moto_cpu * 1000,
        wall_ms=wall * 1000,
        written=METER.written,
    )


def verdict(spec: PageSpec, small: Result, large: Result) -> str:
    if small.status != 200 or large.status != 200:
        return f"HTTP {small.status}/{large.status}"
    ratio = large.items / small.items if small.items else float("inf")
    grows = large.items > GROWTH_LIMIT * small.items
    mechanical = f"{'GROWS' if grows else 'OK'} x{ratio:.1f}"
    if spec.kind == "list":
        return f"LIST x{ratio:.1f} ({spec.note})"
    if spec.kind == "paged":
        return f"PAGED ({mechanical})"
    return mechanical


def breakdown(reads: list[tuple[str, int]]) -> str:
    """Calls grouped by what they read: "Query T#<t>: 624; Query T#<t>#W#<week>: 20, 20"."""
    grouped: dict[str, list[int]] = {}
    for what, items in reads:
        grouped.setdefault(what, []).append(items)
    return "; ".join(f"{what}: {', '.join(map(str, n))}" for what, n in grouped.items())


def _units(value: float) -> str:
    return f"{value:g}"


def print_report(
    accounts: dict[str, Built],
    results: dict[str, dict[str, Result]],
    writes: dict[str, dict[str, Result]],
    runs: int,
    probe: str,
    elapsed: float,
) -> None:
    small, large = accounts["small"], accounts["large"]
    print()
    print(f"PT Bookings page benchmark (median of {runs} runs after a warm-up)")
    print(f"  code: {code_version()}")
    for built in (small, large):
        c = built.counts
        print(
            f"  {built.name}: {c['clients']} clients, {c['sessions']} sessions "
            f"({c['profiled_past']} past for the profiled client), {c['messages']} messages, "
            f"{c['bundles']} bundle{'' if c['bundles'] == 1 else 's'}; "
            f"{c['table_items']} items in its partitions "
            f"(built in {sum(built.seconds.values()):.1f} s)"
        )
    print(f"  one table: {small.counts['all_items']} items with the tokens and emails")
    print()
    header = (
        "| page | calls S | calls L | items S | items L | RCU S | RCU L "
        "| CPU ms S | CPU ms L | verdict |"
    )
    print(header)
    print("|" + "---|" * 10)
    for spec in PAGES:
        s, big = results["small"][spec.name], results["large"][spec.name]
        print(
            f"| {spec.name} | {s.calls} | {big.calls} | {s.items} | {big.items} "
            f"| {_units(s.read_units)} | {_units(big.read_units)} "
            f"| {s.cpu_ms:.0f} | {big.cpu_ms:.0f} | {verdict(spec, s, big)} |"
        )
    print()
    print(
        "| write | calls S | calls L | items written S | items written L "
        "| wall ms S | wall ms L | CPU ms S | CPU ms L |"
    )
    print("|" + "---|" * 9)
    for label in ("Apply template, 1 week", "Apply template, 12 weeks"):
        s, big = writes["small"][label], writes["large"][label]
        print(
            f"| {label} | {s.calls} | {big.calls} | {s.written} | {big.written} "
            f"| {s.wall_ms:.0f} | {big.wall_ms:.0f} | {s.cpu_ms:.0f} | {big.cpu_ms:.0f} |"
        )
    print()
    print("Verdicts (items returned, small -> large):")
    for spec in PAGES:
        s, big = results["small"][spec.name], results["large"][spec.name]
        print(f"  {spec.name}: {s.items} -> {big.items}: {verdict(spec, s, big)}")
    print()
    print("Where the items come from (each call: what it read, items), pages that grow:")
    for spec in PAGES:
        s, big = results["small"][spec.name], results["large"][spec.name]
        if verdict(spec, s, big).startswith("OK") or "(OK" in verdict(spec, s, big):
            continue
        print(f"  {spec.name}")
        for label, result in (("small", s), ("large", big)):
            print(f"    {label}: {breakdown(result.reads)}")
    problems = [
        f"  {name} / {spec.name}: {'; '.join(results[name][spec.name].problems)}"
        for name in ("small", "large")
        for spec in PAGES
        if results[name][spec.name].problems
    ]
    problems += [
        f"  {name} / {label}: HTTP {r.status}"
        for name in ("small", "large")
        for label, r in writes[name].items()
        if r.status != 200
    ]
    if problems:
        print("Problems:")
        print("\n".join(problems))
    print()
    print(
        "CPU ms = process CPU of the request minus CPU inside moto (the emulator); "
        "RCU = read units from the items' sizes (4 KB units; strongly consistent reads "
        "1 unit, GSI and other eventually consistent reads half; a Query rounds its total "
        "once, GetItem/BatchGetItem each item)."
    )
    print(probe)
    print(f"Total run: {elapsed:.0f} s.")


def code_version() -> str:
    """The commit measured, and whether the tree differs from it (read-only git)."""
    import subprocess

    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", "-C", ROOT, *args], capture_output=True, text=True, check=False
        )

    try:
        head = git("rev-parse", "--short", "HEAD")
        if head.returncode != 0:
            return "unknown (not a git checkout)"
        dirty = git("diff-index", "--quiet", "HEAD", "--").returncode != 0
    except OSError:
        return "unknown (no git)"
    return head.stdout.strip() + (" + uncommitted changes" if dirty else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", "5")))
    args = parser.parse_args(argv)
    runs = max(1, args.runs)
    started = time.perf_counter()

    from chalice.test import Client

    with moto_table() as client:
        from app import app
        from chalicelib import runtime

        runtime.set_clock(FrozenClock(NOW))
        accounts: dict[str, Built] = {}
        for name, seed in (("small", 1), ("large", 2)):
            print(f"Building the {name} account...", file=sys.stderr, flush=True)
            accounts[name] = build(name, seed)
        table_stats(client, accounts)
        reported, computed, items = probe_capacity(client, f"T#{accounts['large'].trainer_id}")
        probe = (
            f"Probe: a consistent Query of the large account partition ({items} items) asked "
            f"with ReturnConsumedCapacity=TOTAL: moto says {reported}, the items' sizes say "
            f"{computed:g} read units."
        )
        # moto's table lives in this process's heap: every full garbage collection during
        # a request would walk its ~25,000 items, a cost no Lambda has. Frozen, they are
        # left out of collections (the app's own garbage is still collected).
        gc.collect()
        gc.freeze()
        results: dict[str, dict[str, Result]] = {}
        writes: dict[str, dict[str, Result]] = {}
        with Client(app, stage_name="test", project_dir=ROOT) as chalice_client:
            for name, built in accounts.items():
                print(f"Measuring the {name} account...", file=sys.stderr, flush=True)
                browser = Browser(chalice_client)
                browser.sign_in_with_link(sign_in_link(built.email))
                results[name] = {
                    spec.name: measure(browser, spec.path(built), runs) for spec in PAGES
                }
                writes[name] = {
                    "Apply template, 1 week": apply_template(browser, "2026-W50", 1),
                    "Apply template, 12 weeks": apply_template(browser, "2026-W51", 12),
                }
        runtime.set_clock(None)
    print_report(accounts, results, writes, runs, probe, time.perf_counter() - started)
    return 0


def table_stats(client: object, accounts: dict[str, Built]) -> None:
    """What each account holds, counted from the table itself (one Scan)."""
    from benchmarks.moto_env import TABLE

    owners = {f"T#{built.trainer_id}": built for built in accounts.values()}
    for built in accounts.values():
        built.counts.update(clients=0, sessions=0, messages=0, bundles=0, table_items=0)
    total = 0
    paginator = client.get_paginator("scan")  # type: ignore[attr-defined]
    for page in paginator.paginate(TableName=TABLE, ProjectionExpression="PK, SK"):
        for item in page["Items"]:
            total += 1
            pk, sk = item["PK"]["S"], item["SK"]["S"]
            built = owners.get(pk) or owners.get("#".join(pk.split("#")[:2]))
            if built is None:
                continue  # tokens, emails, rate limits: keyed by their own hash
            counts = built.counts
            counts["table_items"] += 1
            counts["sessions"] += sk.startswith("SESSION#")
            counts["messages"] += sk.startswith("LOG#") and "#M#" in sk
            counts["clients"] += pk.count("#") == 1 and sk.startswith("CLIENT#")
            counts["bundles"] += pk.endswith("#PROG") and sk.startswith("BUNDLE#")
    for built in accounts.values():
        built.counts["all_items"] = total


if __name__ == "__main__":
    sys.exit(main())

"""Cold start: the Lambda zips' sizes and what `import app` costs over its dependencies.

    python -m benchmarks.coldstart [--runs N] [--keep DIR]

Builds the staged app (infra.bundle, cached), has Chalice package it as a deploy would
(`chalice package --stage prod`: the function's zip and the layer's), unzips both as
Lambda does (/var/task, /opt) and imports from there with only those directories and the
runtime's boto3 on sys.path (infra.bundle.runtime_sdk_dir), in fresh interpreters. It
prints:

- each zip's size and its largest top-level entries (compressed);
- `import app` against importing only the third-party modules app's import graph loads
  (found by importing app once: sys.modules minus the standard library minus ours), as
  the median of N runs, wall and CPU time, and the ratio (target <= 1.1: our own code
  adds at most 10 % to its dependencies);
- the resident memory after `import app`;
- what a cold start imports before it answers: `import app` plus the modules the first
  request (middleware and the route's view module, then its page's template) or the first
  job run loads, for a few typical cold starts, against everything of ours (what `import
  app` loaded before routes were registered lazily);
- when the ratio is above target, the chalicelib modules that cost most at import
  (`-X importtime`, self time).

docs/cold-start.md records the results and what they decided.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Final

from infra import bundle

ROOT: Final = Path(__file__).resolve().parents[1]
BENCH_APP: Final = ROOT / "build" / "bench-app"
ZIP_TARGET_MB: Final = 5.0
RATIO_TARGET: Final = 1.1
OURS: Final = frozenset({"app", "chalicelib"})

# Runs in the fresh interpreter: sys.path is exactly the task root and the runtime's SDK.
# (-I has already dropped the working directory and the user's site-packages.)
_PRELUDE = """
import sys
sys.path[:] = [p for p in sys.path if "site-packages" not in p] + {paths!r}
"""

_DISCOVER = (
    _PRELUDE
    + """
import json
import app
ours = {ours!r}
stdlib = sys.stdlib_module_names
names = [n for n in sys.modules
         if n.split(".")[0] not in stdlib and n.split(".")[0] not in ours
         and not n.startswith("_")]
print(json.dumps(names))
"""
)

_MEASURE = (
    _PRELUDE
    + """
import importlib, json, resource, time
names = {names!r}
failed = []
wall, cpu = time.perf_counter(), time.process_time()
if names is None:
    import app
else:
    for name in names:
        try:
            if name.startswith("template:"):  # the page the first request draws
                from chalicelib.web import render
                render.environment().get_template(name.removeprefix("template:"))
            else:
                importlib.import_module(name)
        except Exception:
            failed.append(name)
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"wall": wall, "cpu": cpu, "rss_kb": rss, "failed": failed}}))
"""
)


# The modules a cold start's first request or run imports after app: the middleware and
# the route's view module (from the route table), or a job's entry and its service (the
# deferred imports in chalicelib/web/jobs_entry.py).
FIRST_REQUESTS: Final = (
    ("client link  GET /c/{token}", ("/c/{token}", "GET"), "portal/home.html"),
    ("sign-in page GET /login", ("/login", "GET"), "auth/login.html"),
    ("dashboard    GET /dashboard", ("/dashboard", "GET"), "dashboard/home.html"),
)
JOB_SERVICES: Final = {
    "expire_offer_locks": ("offers",),
    "dispatch_messages": ("dispatcher",),
    "queue_reminders": ("reminders", "packs"),
    "apply_templates": ("auto_apply",),
}


def cold_starts() -> list[tuple[str, list[str]]]:
    """(label, modules imported in order) for each cold start measured, the last one being
    every module of ours that any request or job can load."""
    from chalicelib.web.route_table import ROUTES

    view_of = {(path, method): module for path, method, _types, module, _fn in ROUTES}
    starts = [
        (
            label,
            [
                "app",
                "chalicelib.web.middleware",
                f"chalicelib.web.{view_of[route]}",
                f"template:{template}",  # its page's template loaded (or compiled)
            ],
        )
        for label, route, template in FIRST_REQUESTS
    ]
    for job in ("expire_offer_locks", "dispatch_messages"):
        services = [f"chalicelib.services.{name}" for name in JOB_SERVICES[job]]
        starts.append((f"job          {job}", ["app", "chalicelib.web.jobs_entry", *services]))
    everything = ["app", "chalicelib.web.middleware", "chalicelib.web.jobs_entry"]
    everything += sorted({f"chalicelib.web.{module}" for module in view_of.values()})
    everything += sorted(
        f"chalicelib.services.{name}" for names in JOB_SERVICES.values() for name in names
    )
    starts.append(("all of ours (import app before this change)", everything))
    return starts


def _python(code: str, *flags: str, env: dict[str, str] | None = None, stderr: bool = False) -> str:
    # -I: no user site, no PYTHON* variables; -B: never write bytecode, so every run
    # sees what Lambda's read-only /var/task gives it (the shipped pycs, nothing more).
    result = subprocess.run(
        [sys.executable, "-I", "-B", *flags, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    if result.returncode != 0:
        raise SystemExit(f"subprocess failed:\n{result.stderr}")
    return result.stderr if stderr else result.stdout


def zip_report(zip_path: Path) -> tuple[float, list[tuple[str, float]]]:
    """Size in MB and the largest top-level entries (a package, with its .dist-info)."""
    sizes: dict[str, int] = {}
    with zipfile.ZipFile(zip_path) as archive:
        for info in archive.infolist():
            top = info.filename.removeprefix(bundle.LAYER_SITE_PACKAGES + "/").split("/")[0]
            top = top.split("-")[0] if top.endswith(".dist-info") else top
            sizes[top] = sizes.get(top, 0) + info.compress_size
    top10 = sorted(sizes.items(), key=lambda item: -item[1])[:10]
    return zip_path.stat().st_size / 1e6, [(name, size / 1e6) for name, size in top10]


def third_party_modules(paths: list[str]) -> list[str]:
    code = _DISCOVER.format(paths=paths, ours=sorted(OURS))
    return json.loads(_python(code))


def measure(paths: list[str], names: list[str] | None, env: dict[str, str]) -> dict:
    return json.loads(_python(_MEASURE.format(paths=paths, names=names), env=env))


def expensive_modules(
    paths: list[str], env: dict[str, str], runs: int = 5, top: int = 12
) -> list[tuple[float, str]]:
    """Our modules by import self time in ms, the median of `runs` -X importtime runs (one
    run is at the mercy of the scheduler on a shared machine)."""
    samples: dict[str, list[int]] = {}
    for _ in range(runs):
        report = _python(
            _PRELUDE.format(paths=paths) + "import app\n", "-X", "importtime", env=env, stderr=True
        )
        for line in report.splitlines():
            if not line.startswith("import time:") or "|" not in line:
                continue
            self_us, _cumulative, name = (part.strip() for part in line[12:].split("|"))
            if self_us.isdigit() and name.split(".")[0] in OURS:
                samples.setdefault(name, []).append(int(self_us))
    medians = [(statistics.median(us) / 1000, name) for name, us in samples.items()]
    return sorted(medians, reverse=True)[:top]


def lambda_env() -> dict[str, str]:
    # What app.py's import sees in Lambda: a stage's variables, no local shortcuts.
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR", "TZ")}
    env.update(AWS_DEFAULT_REGION="eu-west-2", AWS_REGION="eu-west-2", APP_STAGE="prod")
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.coldstart")
    parser.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", "7")))
    parser.add_argument("--keep", type=Path, help="leave the package and task root here")
    args = parser.parse_args(argv)

    staged = bundle.build(BENCH_APP)
    with tempfile.TemporaryDirectory(prefix="coldstart-") as scratch:
        work = args.keep or Path(scratch)
        packages = bundle.chalice_package(staged, work / "package")
        function_mb, function_top = zip_report(packages.function_zip)
        layer_mb, layer_top = zip_report(packages.layer_zip)
        print(f"function zip: {function_mb:.2f} MB (target <= {ZIP_TARGET_MB})")
        for name, mb in function_top[:3]:
            print(f"  {mb:6.2f} MB  {name}")
        print(f"layer zip:    {layer_mb:.2f} MB (together {function_mb + layer_mb:.2f} MB)")
        for name, mb in layer_top:
            print(f"  {mb:6.2f} MB  {name}")

        task_root, opt = work / "var-task", work / "opt"
        for zip_path, where in ((packages.function_zip, task_root), (packages.layer_zip, opt)):
            with zipfile.ZipFile(zip_path) as archive:
                archive.extractall(where)
        # Lambda's order: the function, the layer's two Python directories, the runtime.
        paths = [str(task_root), str(opt / bundle.LAYER_SITE_PACKAGES), str(opt / "python")]
        paths.append(str(bundle.runtime_sdk_dir()))
        env = lambda_env()
        names = third_party_modules(paths)
        app_runs, deps_runs = [], []
        for _ in range(args.runs):  # interleaved, so load on the machine hits both alike
            app_runs.append(measure(paths, None, env))
            deps_runs.append(measure(paths, names, env))
        failed = deps_runs[0]["failed"]
        costly = expensive_modules(paths, env)
        first_runs: dict[str, list[dict]] = {}
        for _ in range(args.runs):
            for label, modules in cold_starts():
                first_runs.setdefault(label, []).append(measure(paths, modules, env))

    def median(runs: list[dict], key: str) -> float:
        return statistics.median(run[key] for run in runs)

    app_wall, deps_wall = median(app_runs, "wall"), median(deps_runs, "wall")
    app_cpu, deps_cpu = median(app_runs, "cpu"), median(deps_runs, "cpu")
    print(f"\nimport, median of {args.runs} fresh interpreters ({len(names)} third-party modules):")
    print(f"  import app        wall {app_wall * 1000:7.0f} ms   cpu {app_cpu * 1000:7.0f} ms")
    print(f"  dependencies only wall {deps_wall * 1000:7.0f} ms   cpu {deps_cpu * 1000:7.0f} ms")
    ratio_wall, ratio_cpu = app_wall / deps_wall, app_cpu / deps_cpu
    print(f"  ratio app / deps  wall {ratio_wall:.2f}   cpu {ratio_cpu:.2f}", end="")
    print(f"   (target <= {RATIO_TARGET})")
    print(f"  max RSS after import app: {median(app_runs, 'rss_kb') / 1024:.0f} MB")
    if failed:
        print(f"  (not importable on their own, left out: {', '.join(failed)})")
    print(f"\nimports before a cold start answers, median of {args.runs}:")
    for label, runs in first_runs.items():
        if runs[0]["failed"]:
            raise SystemExit(f"{label}: could not import {runs[0]['failed']}")
        wall, cpu = median(runs, "wall"), median(runs, "cpu")
        print(f"  {label:44s} wall {wall * 1000:5.0f} ms   cpu {cpu * 1000:5.0f} ms")
    if ratio_cpu > RATIO_TARGET:
        print("\nour modules by import self time (-X importtime, median of 5 runs):")
        for millis, name in costly:
            print(f"  {millis:7.1f} ms  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The Lambda bundle: a staged Chalice project that `chalice deploy` packages as it is.

`python -m infra.bundle [--out DIR]` (default build/app) writes app.py, chalicelib/ with
its bytecode, .chalice/ (config and policies), an empty requirements.txt and vendor/: the
runtime dependencies installed for Lambda (manylinux x86_64, CPython 3.11), pruned and
compiled. Chalice installs nothing itself and, with `automatic_layer` on in config.json,
packages the staged project as two zips: the function's (app.py, chalicelib/ and its own
two runtime files) and a layer holding vendor/ under python/lib/python3.11/site-packages/,
which Lambda unpacks into /opt. Why and how much: docs/cold-start.md.

The installed vendor/ is cached under build/bundle-cache/, keyed by everything that
changes it, so staging again (new chalicelib code) takes seconds.
"""

from __future__ import annotations

import argparse
import compileall
import fcntl
import hashlib
import importlib.metadata
import json
import os
import py_compile
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final, NamedTuple

ROOT: Final = Path(__file__).resolve().parents[1]
DEFAULT_OUT: Final = ROOT / "build" / "app"
CACHE_DIR: Final = ROOT / "build" / "bundle-cache"

# The Lambda runtime the functions run on (Chalice's default architecture, x86_64).
PLATFORM: Final = "manylinux2014_x86_64"
IMPLEMENTATION: Final = "cp"
PYTHON_VERSION: Final = "3.11"

# The runtime provides the AWS SDK; bundling it would be most of the zip.
PROVIDED_BY_RUNTIME: Final = frozenset({"boto3", "botocore", "s3transfer"})

# Where Lambda unpacks the function's zip (our code, the compiled templates' paths), and
# the layer's site directory in /opt, where it unpacks vendor/: the prefix its sourceless
# bytecode records for tracebacks (a .pyc without its .py cannot be re-pointed at load
# time).
TASK_ROOT: Final = "/var/task"
LAYER_SITE_PACKAGES: Final = f"python/lib/python{PYTHON_VERSION}/site-packages"
LAYER_ROOT: Final = f"/opt/{LAYER_SITE_PACKAGES}"

# Locales read beyond the trainer's: bank.py names countries in English (Locale "en").
EXTRA_LOCALES: Final = frozenset({"en"})

# Vendor bytecode: "sourceless" ships legacy foo.pyc in place of foo.py (smaller zip,
# no compile at cold start); "beside-source" keeps foo.py plus __pycache__.
# docs/cold-start.md has the measurement that chose it.
VENDOR_BYTECODE: Final = "sourceless"

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_EMPTY_REQUIREMENTS = (
    "# Empty on purpose: the runtime dependencies are already installed in vendor/ by\n"
    "# `python -m infra.bundle` (for Lambda's platform, pruned, compiled). With nothing\n"
    "# here Chalice installs nothing and zips vendor/ as it is (docs/cold-start.md).\n"
)


def canonical_name(name: str) -> str:
    """A distribution name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_requirements(text: str) -> list[str]:
    """The requirement lines of requirements.txt that go into the bundle."""
    left_out = {canonical_name(n) for n in PROVIDED_BY_RUNTIME}
    lines = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        match = _NAME.match(line)
        if match and canonical_name(match.group(1)) not in left_out:
            lines.append(line)
    return lines


def tested_versions(requirements: Iterable[str]) -> list[str]:
    """Constraints pinning every transitive dependency to the version this virtualenv has.

    requirements.txt pins only our direct dependencies; without this, a fresh install
    would take the newest python-dateutil (4.x), which the runtime's botocore (<3) cannot
    share a sys.path with, and which the tests never ran against.
    """
    direct = {canonical_name(m.group(1)) for r in requirements if (m := _NAME.match(r))}
    pins = {}
    for dist in importlib.metadata.distributions():
        name = canonical_name(dist.metadata["Name"] or "")
        if name and name not in direct:
            pins[name] = f"{name}=={dist.version}"
    return sorted(pins.values())


def wanted_locales() -> frozenset[str]:
    """Every locale the app formats or reads money in."""
    from chalicelib.domain.money import COUNTRY_LOCALES, DEFAULT_LOCALE

    return frozenset({DEFAULT_LOCALE, *COUNTRY_LOCALES.values(), *EXTRA_LOCALES})


def _check_interpreter() -> None:
    # Bytecode is only valid for the interpreter that wrote it: a .pyc from another
    # version is silently ignored in Lambda (and a sourceless one cannot be imported).
    if sys.version_info[:2] != tuple(int(p) for p in PYTHON_VERSION.split(".")):
        raise SystemExit(
            f"infra.bundle needs Python {PYTHON_VERSION} (Lambda's), not {sys.version}"
        )


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    # Test workers and a deploy may build at once; one installs, the others wait and reuse.
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def vendor_key(requirements: list[str], constraints: list[str], locales: Iterable[str]) -> str:
    digest = hashlib.sha256()
    for part in (
        PLATFORM,
        IMPLEMENTATION,
        PYTHON_VERSION,
        VENDOR_BYTECODE,
        *requirements,
        *constraints,
        *sorted(locales),
    ):
        digest.update(part.encode() + b"\0")
    # This file decides what is pruned and how it is compiled.
    digest.update(Path(__file__).read_bytes())
    return digest.hexdigest()[:16]


def cached_vendor(requirements_file: Path = ROOT / "requirements.txt") -> Path:
    """The pruned, compiled vendor/ for requirements_file, installed once per key."""
    _check_interpreter()
    requirements = runtime_requirements(requirements_file.read_text())
    constraints = tested_versions(requirements)
    locales = wanted_locales()
    final = CACHE_DIR / f"vendor-{vendor_key(requirements, constraints, locales)}"
    with _locked(CACHE_DIR / ".lock"):
        if final.is_dir():
            return final
        work = Path(tempfile.mkdtemp(prefix="installing-", dir=CACHE_DIR))
        try:
            vendor = work / "vendor"
            install(vendor, requirements, constraints, work)
            prune(vendor, locales)
            compile_vendor(vendor)
            vendor.rename(final)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        # A few older ones stay: a session that started before requirements changed may
        # still be copying one.
        older = sorted(CACHE_DIR.glob("vendor-*"), key=lambda p: p.stat().st_mtime)[:-3]
        for stale in older:
            shutil.rmtree(stale, ignore_errors=True)
    return final


def install(target: Path, requirements: list[str], constraints: list[str], work: Path) -> None:
    """pip install for Lambda's platform: wheels only (no build for the wrong OS), no
    bytecode yet (compiled after pruning, for the right paths)."""
    requirements_file = work / "requirements.txt"
    requirements_file.write_text("\n".join(requirements) + "\n")
    constraints_file = work / "constraints.txt"
    constraints_file.write_text("\n".join(constraints) + "\n")
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-warn-conflicts",  # it compares with this virtualenv, not with the target
        "--target",
        str(target),
        "--platform",
        PLATFORM,
        "--implementation",
        IMPLEMENTATION,
        "--python-version",
        PYTHON_VERSION,
        "--only-binary=:all:",
        "--no-compile",
        "-r",
        str(requirements_file),
        "-c",
        str(constraints_file),
    ]
    subprocess.run(command, check=True)
    unwanted = {canonical_name(n) for n in PROVIDED_BY_RUNTIME}
    installed = {canonical_name(p.name.split("-")[0]) for p in target.glob("*.dist-info")}
    if installed & unwanted:
        # A dependency pulled the SDK in: it would shadow the runtime's and add 17 MB.
        raise SystemExit(f"vendor/ would hold {sorted(installed & unwanted)}: find who needs it")


# --- pruning: only what provably never runs in Lambda; tests/infra/test_bundle.py runs
# what the app does with each pruned library from the zip itself. --------------------

# Trees nobody imports at run time (test suites) and stray bytecode caches; type stubs.
_NEVER_IMPORTED_DIRS: Final = frozenset({"tests", "test", "__pycache__"})
_NEVER_READ_SUFFIXES: Final = frozenset({".pyi"})
# Of a .dist-info, importlib.metadata reads METADATA (schwifty and pycountry ask for their
# own version at import, pydantic for email-validator's) and entry_points.txt (pydantic
# looks for plugins); the rest (RECORD, licences, WHEEL) is for installers.
_DIST_INFO_KEPT: Final = frozenset({"METADATA", "entry_points.txt"})
_UNUSED_PATHS: Final = (
    "bin",  # console scripts (pybabel, ...)
    # schwifty reads only pycountry.countries (iso3166-1); we never show translated
    # country names, so neither the other databases nor the gettext catalogues.
    "pycountry/locales",
    # schwifty's bank registry serves IBAN.bic / bank_name / BIC.from_bank_code, which we
    # do not call: parsing an IBAN or a BIC uses the IBAN registry and country codes only.
    "schwifty/bank_registry",
    # pydantic's v1 compatibility copy and its mypy plugin: never imported by v2 code.
    "pydantic/v1",
    "pydantic/mypy.py",
    # Babel's message-catalogue tooling (pybabel extract/compile); we format numbers only.
    "babel/messages",
    # dnspython serves email-validator's deliverability check (MX look-ups), which we turn
    # off (check_deliverability=False in domain/email_address.py; pydantic's EmailStr too).
    "dns",
    "dnspython-*.dist-info",
)
_PYCOUNTRY_DATABASES_KEPT: Final = frozenset({"iso3166-1.json"})


def prune(vendor: Path, locales: Iterable[str]) -> None:
    for path in sorted(vendor.rglob("*"), reverse=True):
        if not path.exists():
            continue
        if path.is_dir() and path.name in _NEVER_IMPORTED_DIRS:
            shutil.rmtree(path)
        elif path.is_file() and path.suffix in _NEVER_READ_SUFFIXES:
            path.unlink()
    for dist_info in vendor.glob("*.dist-info"):
        for item in dist_info.iterdir():
            if item.name not in _DIST_INFO_KEPT:
                shutil.rmtree(item) if item.is_dir() else item.unlink()
    for pattern in _UNUSED_PATHS:
        for path in vendor.glob(pattern):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    for database in (vendor / "pycountry" / "databases").glob("*.json"):
        if database.name not in _PYCOUNTRY_DATABASES_KEPT:
            database.unlink()
    prune_babel_locales(vendor, locales)


# Run with the vendored Babel: records every locale file its own inheritance rules
# (parent exceptions, likely subtags, root) open for the wanted locales.
_BABEL_CLOSURE = """
import json, os, sys
sys.path.insert(0, sys.argv[1])
from babel import Locale, localedata
opened = set()
resolve = localedata.resolve_locale_filename
def recording(name):
    path = resolve(name)
    opened.add(os.path.basename(path))
    return path
localedata.resolve_locale_filename = recording
for name in sys.argv[2:]:
    locale = Locale.parse(name)
    locale.number_symbols, locale.currency_formats, locale.territories
print(json.dumps(sorted(opened)))
"""


def babel_locale_files(vendor: Path, locales: Iterable[str]) -> set[str]:
    """The locale-data files (e.g. en_GB.dat, en_001.dat, en.dat, root.dat) Babel loads."""
    result = subprocess.run(
        [sys.executable, "-I", "-B", "-c", _BABEL_CLOSURE, str(vendor), *sorted(locales)],
        check=True,
        capture_output=True,
        text=True,
    )
    return set(json.loads(result.stdout))


def prune_babel_locales(vendor: Path, locales: Iterable[str]) -> None:
    keep = babel_locale_files(vendor, locales)
    if "root.dat" not in keep:  # the recording broke: prune nothing rather than too much
        raise SystemExit(f"Babel's locale closure looks wrong: {sorted(keep)}")
    for data in (vendor / "babel" / "locale-data").glob("*.dat"):
        if data.name not in keep:
            data.unlink()


# --- bytecode -----------------------------------------------------------------------


def compile_vendor(vendor: Path) -> None:
    if VENDOR_BYTECODE == "sourceless":
        # legacy=True writes foo.pyc beside foo.py, which imports without the source.
        ok = compileall.compile_dir(
            vendor, quiet=1, legacy=True, ddir=LAYER_ROOT, workers=1, optimize=0
        )
        if not ok:
            raise SystemExit("compileall failed on vendor/")
        for source in vendor.rglob("*.py"):
            source.unlink()
    else:
        _compile_with_source(vendor, py_compile.PycInvalidationMode.UNCHECKED_HASH)


def _compile_with_source(tree: Path, mode: py_compile.PycInvalidationMode) -> None:
    # Hash-based, not timestamp, pycs: the zip's mtimes do not survive Lambda's unpacking
    # reliably, and /var/task is read-only, so a mismatch would mean compiling on every
    # cold start. Unchecked: the source beside them is the one they were compiled from.
    if not compileall.compile_dir(tree, quiet=1, invalidation_mode=mode, workers=1):
        raise SystemExit(f"compileall failed on {tree}")


# --- what Lambda's Python runtime adds ----------------------------------------------

# Besides the standard library, the runtime ships boto3 and what boto3 imports. Tests and
# the benchmark put these (this virtualenv's copies) after the bundle on sys.path, as
# Lambda does, and nothing else: a module the bundle lacks then fails there, not in AWS.
RUNTIME_MODULES: Final = (
    "boto3",
    "botocore",
    "s3transfer",
    "jmespath",
    "dateutil",
    "six",
    "urllib3",
)


def runtime_sdk_dir() -> Path:
    """A directory holding only RUNTIME_MODULES (links into this virtualenv)."""
    import importlib.util

    sdk = CACHE_DIR / "runtime-sdk"
    with _locked(CACHE_DIR / ".lock"):
        sdk.mkdir(parents=True, exist_ok=True)
        for name in RUNTIME_MODULES:
            spec = importlib.util.find_spec(name)
            if spec is None or spec.origin is None:
                raise SystemExit(f"{name} is not installed here: run `make venv`")
            origin = Path(spec.origin)
            source = origin.parent if origin.name == "__init__.py" else origin
            link = sdk / source.name
            if not link.is_symlink() or link.resolve() != source.resolve():
                link.unlink(missing_ok=True)
                link.symlink_to(source)
    return sdk


# --- the staged project -------------------------------------------------------------

# Kept across rebuilds of out_dir: Chalice's record of what it deployed (infra.deploy
# fetches and stores it) and its packaging cache.
_PRESERVED: Final = (".chalice/deployed", ".chalice/deployments")


# Marks a directory this module staged: only such a directory is ever emptied, so a
# mistyped --out (the repository, a home directory) is refused instead of wiped.
_MARKER: Final = ".staged-by-infra-bundle"


def _clear(out_dir: Path) -> None:
    if not out_dir.exists():
        return
    if any(out_dir.iterdir()) and not (out_dir / _MARKER).exists():
        raise SystemExit(
            f"{out_dir} is not empty and was not staged by infra.bundle: not touching it"
        )
    for item in out_dir.iterdir():
        if item.name == ".chalice":
            for inner in item.iterdir():
                if f".chalice/{inner.name}" not in _PRESERVED:
                    shutil.rmtree(inner) if inner.is_dir() else inner.unlink()
        else:
            shutil.rmtree(item) if item.is_dir() and not item.is_symlink() else item.unlink()


def _ignore_for_lambda(directory: str, names: list[str]) -> set[str]:
    return {n for n in names if n in _NEVER_IMPORTED_DIRS or n.endswith(".pyc")}


def stage(out_dir: Path, vendor: Path) -> Path:
    out_dir = out_dir.resolve()
    _clear(out_dir)
    (out_dir / ".chalice").mkdir(parents=True, exist_ok=True)
    (out_dir / _MARKER).write_text("python -m infra.bundle empties and refills this directory\n")
    shutil.copy2(ROOT / "app.py", out_dir / "app.py")
    shutil.copytree(ROOT / "chalicelib", out_dir / "chalicelib", ignore=_ignore_for_lambda)
    # config.json and every policy file it names (policy-<stage>.json).
    for settings in (ROOT / ".chalice").glob("*.json"):
        shutil.copy2(settings, out_dir / ".chalice" / settings.name)
    (out_dir / "requirements.txt").write_text(_EMPTY_REQUIREMENTS)
    shutil.copytree(vendor, out_dir / "vendor")
    # app.py and the packager's chalice/app.py and chalice/__init__.py ship as source only:
    # the function's zip takes those three files alone, never a __pycache__ beside them
    # (docs/cold-start.md, "Bytecode").
    _compile_with_source(out_dir / "chalicelib", py_compile.PycInvalidationMode.UNCHECKED_HASH)
    compile_templates(out_dir / "chalicelib" / "templates")
    return out_dir


def compile_templates(staged_templates: Path) -> dict[str, int]:
    """Every page and message template compiled, by the app's own two environments, into
    the staged `templates/.compiled/<html|text>/` (chalicelib/compiled_templates.py): a
    cold start then renders its first page without compiling. Returns how many of each.
    The code records /var/task paths, where Lambda has the templates, for tracebacks."""
    from chalicelib import compiled_templates
    from chalicelib.messaging import texts
    from chalicelib.web import render

    cache = staged_templates / compiled_templates.CACHE.name
    made: dict[str, int] = {}
    for kind, make, root in (
        ("html", render.make_environment, staged_templates),
        ("text", texts.make_environment, staged_templates / "messages"),
    ):
        env = make(compiled_templates.writing(cache / kind))
        env.loader = _loader_at_task_root(root, staged_templates.parent.parent)
        names = [n for n in env.list_templates() if kind == "text" or n.endswith(".html")]
        for name in names:
            env.get_template(name)
        made[kind] = len(names)
    return made


def _loader_at_task_root(root: Path, staged_project: Path) -> Any:
    """A FileSystemLoader over the staged templates that names each file where Lambda
    will have it (/var/task/...), so compiled code points tracebacks there. Made here
    rather than at import: infra.bundle imports no jinja2 unless it compiles."""
    from jinja2 import FileSystemLoader

    class AtTaskRoot(FileSystemLoader):
        def get_source(self, environment: Any, template: str) -> tuple[str, str, Any]:
            source, filename, uptodate = super().get_source(environment, template)
            inside = Path(filename).resolve().relative_to(staged_project.resolve())
            return source, f"{TASK_ROOT}/{inside.as_posix()}", uptodate

    return AtTaskRoot(str(root))


class Packages(NamedTuple):
    """The two zips Lambda gets: every function's code, and the layer all of them use."""

    function_zip: Path
    layer_zip: Path


def chalice_package(staged: Path, out: Path, stage_name: str = "prod") -> Packages:
    """`chalice package` of the staged project, as CloudFormation deploys would get it
    (`chalice deploy` uploads the same packagers' output)."""
    chalice = Path(sys.executable).parent / "chalice"
    env = {**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "eu-west-2")}
    command = [
        str(chalice),
        "--project-dir",
        str(staged),
        "package",
        "--stage",
        stage_name,
        "--merge-template",
        str(ROOT / "infra" / "chalice-merge.yaml"),
        str(out),
    ]
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        raise SystemExit(f"chalice package failed:\n{result.stdout}\n{result.stderr}")
    return Packages(out / "deployment.zip", out / "layer-deployment.zip")


def deployment_packages(staged: Path) -> Packages:
    """The zips Chalice's own packagers make of the staged project with `automatic_layer`
    on (what `chalice deploy` uploads), without loading the app or reading the config."""
    import io

    from chalice.constants import DEFAULT_LAMBDA_ARCHITECTURE
    from chalice.deploy.packager import (
        AppOnlyDeploymentPackager,
        DependencyBuilder,
        LayerDeploymentPackager,
    )
    from chalice.utils import UI, OSUtils

    osutils = OSUtils()
    zips = [
        packager(
            osutils=osutils,
            dependency_builder=DependencyBuilder(osutils),
            ui=UI(out=io.StringIO()),
            architecture=DEFAULT_LAMBDA_ARCHITECTURE,
        ).create_deployment_package(str(staged), f"python{PYTHON_VERSION}")
        for packager in (AppOnlyDeploymentPackager, LayerDeploymentPackager)
    ]
    return Packages(Path(zips[0]), Path(zips[1]))


def build(out_dir: Path = DEFAULT_OUT) -> Path:
    """Stage the Chalice project Lambda gets; returns its directory."""
    return stage(out_dir, cached_vendor())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.bundle", description=__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="staged project dir")
    args = parser.parse_args(argv)
    out_dir = build(args.out)
    print(f"staged {out_dir} (deploy with: chalice deploy --project-dir {out_dir})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

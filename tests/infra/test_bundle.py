"""The Lambda zips (infra/bundle.py): what they hold, and that the app works from them alone.

The zips are the ones Chalice's packagers make of the staged project with
`automatic_layer` on: the function's code, and a layer holding the dependencies (session
fixtures in conftest.py; benchmarks/coldstart.py runs the whole `chalice package`). Every
prune in infra.bundle is covered by the probe below, which runs what the app does with
each pruned library inside a fresh interpreter whose sys.path is what Lambda's is (the
unpacked function zip, the layer's directories in /opt, the runtime's boto3), and
compares the answers with this virtualenv's: a locale, database or module pruned too far
makes them differ.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from chalicelib.domain.money import COUNTRY_LOCALES
from infra import bundle

ROOT = Path(__file__).resolve().parents[2]
MB = 1_000_000
# The function's zip: the 5 MB. Function and layer together: what one execution
# environment downloads; this ceiling catches a dependency that pulls in a large package
# or a prune that stopped matching (docs/cold-start.md has the figures).
FUNCTION_ZIP_LIMIT_MB = 5.0
BOTH_ZIPS_CEILING_MB = 9.0
SITE = bundle.LAYER_SITE_PACKAGES + "/"
CACHE_TAG = sys.implementation.cache_tag  # cpython-311
# PEP 552 flags word of a .pyc: bit 0 set = hash-based, bit 1 = check the source's hash.
UNCHECKED_HASH = 0b01


def _names(zip_path: Path) -> list[str]:
    with zipfile.ZipFile(zip_path) as archive:
        return archive.namelist()


def _pyc_flags_and_hash(data: bytes) -> tuple[int, bytes]:
    return int.from_bytes(data[4:8], "little"), data[8:16]


# --- what the zips hold ---------------------------------------------------------------


def test_neither_zip_holds_the_aws_sdk_the_lambda_runtime_provides(
    lambda_zip: Path, layer_zip: Path
):
    tops = {name.split("/")[0] for name in _names(lambda_zip)}
    tops |= {name.removeprefix(SITE).split("/")[0] for name in _names(layer_zip)}
    sdk = {t for t in tops if re.match(r"(boto3|botocore|s3transfer)([-.].*)?$", t)}
    assert sdk == set()


def test_the_function_zip_holds_our_code_and_chalices_runtime_only(lambda_zip: Path):
    tops = {name.split("/")[0] for name in _names(lambda_zip)}
    assert tops == {"app.py", "chalice", "chalicelib"}
    assert sorted(n for n in _names(lambda_zip) if n.startswith("chalice/")) == [
        "chalice/__init__.py",
        "chalice/app.py",
    ]


def test_every_dependency_is_in_the_layers_python_site_directory(layer_zip: Path):
    names = _names(layer_zip)
    assert names and all(name.startswith(SITE) for name in names)


def test_the_function_zip_is_within_the_target_and_both_under_the_ceiling(
    lambda_zip: Path, layer_zip: Path
):
    function_size, layer_size = lambda_zip.stat().st_size, layer_zip.stat().st_size
    assert function_size <= FUNCTION_ZIP_LIMIT_MB * MB
    assert function_size + layer_size <= BOTH_ZIPS_CEILING_MB * MB


def test_chalicelib_ships_unchecked_hash_bytecode_of_the_shipped_source(lambda_zip: Path):
    with zipfile.ZipFile(lambda_zip) as archive:
        names = set(archive.namelist())
        sources = [n for n in names if n.endswith(".py") and n.startswith("chalicelib/")]
        assert len(sources) > 50
        for source in sources:
            folder, _, file = source.rpartition("/")
            pyc = f"{folder}/__pycache__/{file[:-3]}.{CACHE_TAG}.pyc"
            assert pyc in names, f"{source} has no bytecode in the zip"
            flags, source_hash = _pyc_flags_and_hash(archive.read(pyc))
            assert flags == UNCHECKED_HASH, f"{pyc} is not an unchecked-hash pyc"
            assert source_hash == importlib.util.source_hash(archive.read(source)), pyc


def test_vendored_libraries_ship_as_bytecode_only(layer_zip: Path):
    names = _names(layer_zip)
    assert [n for n in names if n.endswith(".py")] == []
    for module in ("pydantic/__init__.pyc", "jinja2/environment.pyc", "babel/numbers.pyc"):
        assert SITE + module in names


def test_vendored_bytecode_names_the_layers_path_in_tracebacks(unpacked):
    # A sourceless pyc keeps the path it was compiled with: /opt/..., where Lambda has it.
    import marshal

    data = (unpacked.opt / bundle.LAYER_SITE_PACKAGES / "jinja2" / "environment.pyc").read_bytes()
    assert marshal.loads(data[16:]).co_filename == f"{bundle.LAYER_ROOT}/jinja2/environment.py"


def test_vendored_versions_are_the_ones_the_tests_ran_against(layer_zip: Path):
    # The runtime's botocore needs python-dateutil < 3; a newer one in the layer could be
    # imported in its place (one sys.path holds both). Pinning every transitive
    # dependency to this virtualenv's version keeps the layer to what the suite has run.
    shipped = {}
    for name in _names(layer_zip):
        top = name.removeprefix(SITE).split("/")[0]
        if top.endswith(".dist-info"):
            dist, version = top[: -len(".dist-info")].rsplit("-", 1)
            shipped[bundle.canonical_name(dist)] = version
    assert {"pydantic", "babel", "python-dateutil", "pydantic-core"} <= set(shipped)
    local = {n: importlib.metadata.version(n) for n in shipped}
    assert shipped == local


def test_babel_keeps_only_the_locales_the_app_can_reach_and_their_parents(unpacked):
    locale_data = unpacked.opt / bundle.LAYER_SITE_PACKAGES / "babel" / "locale-data"
    kept = {p.stem for p in locale_data.glob("*.dat")}
    # The parent chain comes from Babel's own rules: en_GB inherits from en_001, then en.
    assert {"root", "en", "en_001", "en_GB", "de", "de_CH", "nb", "ja_JP"} <= kept
    assert set(COUNTRY_LOCALES.values()) <= kept
    assert len(kept) < 60  # of about 1,000 shipped with Babel


def test_the_staged_project_lets_chalice_install_nothing(staged_app: Path):
    lines = (staged_app / "requirements.txt").read_text().splitlines()
    assert lines and all(line.startswith("#") for line in lines)
    for settings in (ROOT / ".chalice").glob("*.json"):
        assert (staged_app / ".chalice" / settings.name).read_bytes() == settings.read_bytes()


# --- the app works from the zip alone -------------------------------------------------

# Run in a fresh interpreter; prints JSON. Errors are part of the answer (both sides must
# give the same message), so a prune that turns a refusal into a crash shows too.
PROBE = r"""
import json, sys, zoneinfo
from datetime import UTC, date, datetime, timedelta

# Time zones from the tzdata package only: this machine's /usr/share/zoneinfo would hide a
# tzdata pruned too far, and Lambda's image need not have one.
zoneinfo.reset_tzpath([])
import app
from chalicelib.domain import bank, bank_statements, calendar, email_address, money, phone
from chalicelib.domain import timeutil
from chalicelib.messaging.texts import render_text

def attempt(function, *args):
    try:
        return function(*args)
    except Exception as error:
        return f"{type(error).__name__}: {error}"

out = {}
for locale in sorted(set(money.COUNTRY_LOCALES.values()) | {money.DEFAULT_LOCALE}):
    # Every offered currency's symbol in the locale, then the number conventions with
    # two decimals and none (the locale data is per locale, not per currency).
    out[f"{locale} choices"] = money.currency_choices(locale)
    for currency in ("EUR", "JPY"):
        typed = money.format_money_input(123456, currency, locale)
        out[f"{locale} {currency}"] = [
            money.format_money(123456, currency, locale),
            typed,
            attempt(money.parse_money, typed, currency, locale),
        ]
    out[f"{locale} refusals"] = [
        attempt(money.parse_money, "1.500", "GBP", locale),
        attempt(bank_statements.parse_amount, "-1.234,50", "EUR", locale),
    ]
out["iban"] = [
    attempt(bank.parse_iban, raw)
    for raw in ("DE89 3704 0044 0532 0130 00", "DE89370400440532013001",
                "DE8937040044053201300", "XX89370400440532013000", "GB82WEST12345698765432")
]
out["bic"] = [attempt(bank.parse_bic, raw) for raw in ("COBADEFFXXX", "COBAXXFFXXX")]
out["phone"] = [
    attempt(phone.parse_phone, "07400 123456", "GB"),
    attempt(phone.parse_phone, "030 12345678", "DE"),
    attempt(phone.parse_phone, "12", "US"),
    phone.format_phone("+4915112345678"),
]
out["email"] = [
    attempt(email_address.normalise_email_address, raw)
    for raw in ("Coach@Example.com", "not an address")
]
out["zones"] = [
    len(timeutil.all_time_zones()),
    str(timeutil.to_utc(date(2026, 10, 25), 90, "Europe/London")),
]
start = datetime(2026, 3, 30, 8, tzinfo=UTC)
event = calendar.FeedEvent(
    uid="u1", sequence=0, start_utc=start, end_utc=start + timedelta(hours=1),
    cancelled=False, summary="Session", location="Park", description="d", stamp=start,
)
out["ical"] = calendar.build_calendar("PT", "Sessions", "Europe/Berlin", [event]).decode()
out["text"] = render_text("sign_in.txt", new_account=True, url="https://example.test/l")
request = {
    "resource": "/login", "path": "/login", "httpMethod": "GET", "body": None,
    "headers": {"Host": "abc123.execute-api.eu-west-2.amazonaws.com", "Accept": "text/html"},
    "multiValueHeaders": {}, "queryStringParameters": None,
    "multiValueQueryStringParameters": None, "pathParameters": None,
    "stageVariables": None, "isBase64Encoded": False,
    "requestContext": {
        "resourcePath": "/login", "httpMethod": "GET", "stage": "api", "path": "/api/login",
        "domainName": "abc123.execute-api.eu-west-2.amazonaws.com", "requestId": "r1",
        "identity": {"sourceIp": "192.0.2.1"},
    },
}
class Context:
    aws_request_id = "r1"
    function_name = "pt-bookings-prod"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:eu-west-2:123456789012:function:pt-bookings-prod"
    log_group_name = "/aws/lambda/pt-bookings-prod"
    log_stream_name = "stream"
page = app.app(request, Context())
out["login page"] = [page["statusCode"], "<form" in page["body"]]
print(json.dumps(out, ensure_ascii=False, sort_keys=True))
"""


def _start_probe(sys_path: list[str], cwd: Path) -> subprocess.Popen[str]:
    code = (
        "import sys\n"
        f"sys.path[:] = [p for p in sys.path if 'site-packages' not in p] + {sys_path!r}\n" + PROBE
    )
    # As a deployed stage sees it: no table endpoint, fake credentials, nothing of ours.
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_DEFAULT_REGION": "eu-west-2",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "APP_STAGE": "prod",
        "TABLE_NAME": "pt-bookings-prod",
        "LINK_SECRET": "probe-only",
    }
    return subprocess.Popen(
        [sys.executable, "-I", "-B", "-c", code],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _answer(probe: subprocess.Popen[str]) -> dict:
    stdout, stderr = probe.communicate(timeout=60)
    assert probe.returncode == 0, stderr
    return json.loads(stdout)


def test_the_app_works_from_the_zips_alone_exactly_as_in_the_virtualenv(unpacked):
    # Side by side: each is a cold interpreter importing the whole app.
    in_zip = _start_probe([*unpacked.sys_path, str(bundle.runtime_sdk_dir())], unpacked.task_root)
    in_venv = _start_probe([str(ROOT), *(p for p in sys.path if "site-packages" in p)], ROOT)
    from_the_zip, from_the_virtualenv = _answer(in_zip), _answer(in_venv)

    assert from_the_zip["login page"] == [200, True]
    assert from_the_zip["iban"][0] == "DE89370400440532013000"
    assert from_the_zip["phone"][0] == "+447400123456"
    assert from_the_zip["zones"][0] > 300
    assert "BEGIN:VTIMEZONE" in from_the_zip["ical"]
    differing = sorted(
        k for k in from_the_virtualenv if from_the_zip.get(k) != from_the_virtualenv[k]
    )
    assert differing == [], {k: (from_the_zip.get(k), from_the_virtualenv[k]) for k in differing}


# Every template loaded from the unpacked zips with compiling forbidden: each comes from
# the bundle's compiled cache, or this fails naming it.
TEMPLATES_PRECOMPILED = r"""
import json, sys
import jinja2
def refuse(self, source, name=None, filename=None, *args, **kwargs):
    raise AssertionError(f"compiled at cold start: {name}")
jinja2.Environment.compile = refuse
import app
from chalicelib.messaging import texts
from chalicelib.web import render
loaded = {}
for kind, env in (("html", render.environment()), ("text", texts._environment())):
    names = [n for n in env.list_templates() if kind == "text" or n.endswith(".html")]
    code = [env.get_template(n) for n in names]
    loaded[kind] = [len(code), code[0].filename]
print(json.dumps(loaded))
"""


def test_a_cold_start_compiles_no_template(unpacked):
    code = (
        "import sys\n"
        f"sys.path[:] = [p for p in sys.path if 'site-packages' not in p]"
        f" + {[*unpacked.sys_path, str(bundle.runtime_sdk_dir())]!r}\n" + TEMPLATES_PRECOMPILED
    )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "APP_STAGE": "prod",
        "AWS_DEFAULT_REGION": "eu-west-2",
    }
    result = subprocess.run(
        [sys.executable, "-I", "-B", "-c", code],
        cwd=unpacked.task_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert loaded["html"][0] > 40 and loaded["text"][0] > 10
    # Loaded from the compiled code, which names the file where Lambda has it (tracebacks).
    assert loaded["html"][1].startswith("/var/task/chalicelib/templates/")


# --- the parts of infra.bundle that need no build -------------------------------------


def test_runtime_requirements_leave_out_the_sdk_and_comments():
    text = "# why\nboto3==1.0\npydantic==2.14.3  # models\nBotoCore==1\n\nJinja2==3.1.6\n"

    assert bundle.runtime_requirements(text) == ["pydantic==2.14.3", "Jinja2==3.1.6"]


def test_a_second_build_reuses_the_cached_vendor_without_installing(
    staged_app: Path, monkeypatch: pytest.MonkeyPatch
):
    def no_install(*args: object) -> None:
        raise AssertionError("pip ran although the vendor/ for these requirements is cached")

    monkeypatch.setattr(bundle, "install", no_install)

    cached = bundle.cached_vendor()
    assert cached.is_dir()
    assert {p.name for p in cached.iterdir()} <= {p.name for p in (staged_app / "vendor").iterdir()}


def test_staging_refuses_to_empty_a_directory_it_did_not_stage(tmp_path: Path):
    (tmp_path / "precious.txt").write_text("not a build")

    with pytest.raises(SystemExit, match=r"not staged by infra\.bundle"):
        bundle.stage(tmp_path, tmp_path / "no-vendor-needed")
    assert (tmp_path / "precious.txt").read_text() == "not a build"

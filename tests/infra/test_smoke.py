"""The smoke test (infra/smoke.py): green against the app as `make run` serves it, and red
for each thing it exists to catch."""

from __future__ import annotations

from collections.abc import Iterator
from email.message import Message

import pytest

from infra import smoke
from tests.runner import Runner, start_runner


@pytest.fixture(scope="module")
def local_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runner]:
    started = start_runner(tmp_path_factory.mktemp("smoke-data"), job_interval="3600")
    yield started
    started.stop()


def test_every_check_passes_against_the_app_running_locally(
    local_app: Runner, capsys: pytest.CaptureFixture[str]
) -> None:
    assert smoke.main_for(local_app.base_url) == 0
    out = capsys.readouterr().out
    assert "FAIL" not in out
    assert out.count("ok   ") == 4


def test_make_smoke_runs_it_through_the_deploy_command(
    local_app: Runner, capsys: pytest.CaptureFixture[str]
) -> None:
    from infra import deploy

    assert deploy.main(["smoke", "--stage", "prod", "--url", local_app.base_url + "/"]) == 0
    assert f"Smoke test of {local_app.base_url} (read-only)" in capsys.readouterr().out


def test_the_smoke_test_only_reads(local_app: Runner) -> None:
    seen: list[str] = []

    def get(url: str) -> smoke.Answer:
        seen.append(url)
        return smoke.fetch(url)

    results = smoke.run(local_app.base_url, get)
    assert all(result.ok for result in results), results
    # fetch() can only GET: the checks are handed nothing that could send a form.
    assert [url.removeprefix(local_app.base_url).split("/")[1] for url in seen] == [
        "login",
        "static",
        "c",
        "dashboard",
    ]


def _answer(status: int, body: str = "", **headers: str) -> smoke.Answer:
    message = Message()
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    return smoke.Answer(status, message, body)


GOOD_HEADERS = {
    "Content_Security_Policy": "default-src 'self'; frame-ancestors 'none'",
    "X_Content_Type_Options": "nosniff",
    "Strict_Transport_Security": "max-age=63072000",
    "Cache_Control": "no-store",
}


def _site(**overrides: smoke.Answer) -> dict[str, smoke.Answer]:
    site = {
        "/login": _answer(200, '<link href="/api/static/app.css?v=1">', **GOOD_HEADERS),
        "/static/app.css": _answer(200, "body{}", Content_Type="text/css"),
        "/c/": _answer(404),
        "/dashboard": _answer(302, Location="/api/login"),
    }
    site.update(overrides)
    return site


def _failures(site: dict[str, smoke.Answer], base: str = "https://x.example/api") -> list[str]:
    def get(url: str) -> smoke.Answer:
        path = url.removeprefix(base).removeprefix("https://x.example/api")
        for prefix, answer in site.items():
            if path.startswith(prefix):
                return answer
        raise AssertionError(f"unexpected GET {url}")

    return [result.name for result in smoke.run(base, get) if not result.ok]


def test_a_healthy_site_passes() -> None:
    assert _failures(_site()) == []


@pytest.mark.parametrize(
    ("change", "failing"),
    [
        ({"/c/": _answer(500)}, "forged portal link"),
        ({"/dashboard": _answer(200)}, "/dashboard"),
        ({"/dashboard": _answer(302, Location="/elsewhere")}, "/dashboard"),
        ({"/static/app.css": _answer(404)}, "static"),
        ({"/login": _answer(500, **GOOD_HEADERS)}, "/login"),
    ],
)
def test_each_broken_behaviour_fails_its_check(change: dict, failing: str) -> None:
    failures = _failures(_site(**change))
    assert len(failures) >= 1 and all(failing in name for name in failures[:1]), failures


@pytest.mark.parametrize(
    "missing", ["Content_Security_Policy", "X_Content_Type_Options", "Strict_Transport_Security"]
)
def test_a_missing_security_header_fails_the_login_check(missing: str) -> None:
    headers = {k: v for k, v in GOOD_HEADERS.items() if k != missing}
    site = _site(**{"/login": _answer(200, '<link href="/api/static/app.css">', **headers)})
    assert _failures(site) == ["GET /login: 200 with the security headers"]


def test_hsts_is_required_only_over_https() -> None:
    headers = {k: v for k, v in GOOD_HEADERS.items() if k != "Strict_Transport_Security"}
    site = _site(**{"/login": _answer(200, '<link href="/api/static/app.css">', **headers)})
    assert _failures(site, base="http://x.example/api") == []


def test_an_unreachable_url_is_one_failing_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert smoke.main_for("http://127.0.0.1:9") == 1
    assert "could not reach" in capsys.readouterr().out

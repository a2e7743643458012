"""The route table app.py registers without importing the views (docs/cold-start.md).

The views' `@bp.route` lines are the truth; chalicelib/web/route_table.py is their
generated copy. These tests fail when the two differ, when app.py registers something
else, and when importing app starts loading our views, services or stores again."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from infra import routes

ROOT = Path(__file__).resolve().parents[2]


def test_the_table_is_what_the_views_declare() -> None:
    declared = routes.declared_routes()
    assert routes.TABLE.read_text() == routes.render(declared), (
        "chalicelib/web/route_table.py is out of date: run `make routes`"
    )
    assert len(declared) > 90  # every view module was found, not an empty glob


def test_check_mode_fails_on_a_stale_table(tmp_path: Path, monkeypatch, capsys) -> None:
    stale = tmp_path / "route_table.py"
    stale.write_text(routes.TABLE.read_text().replace('"/login", "GET"', '"/log-in", "GET"'))
    monkeypatch.setattr(routes, "TABLE", stale)
    monkeypatch.setattr(routes, "ROOT", tmp_path)
    assert routes.main(["--check"]) == 1
    assert "run `make routes`" in capsys.readouterr().err
    assert routes.main([]) == 0
    assert routes.main(["--check"]) == 0


def test_app_registers_every_route_of_the_table_and_nothing_else() -> None:
    from app import app
    from chalicelib.web.route_table import ROUTES

    registered = {
        (path, method, tuple(entry.content_types), entry.view_name)
        for path, methods in app.routes.items()
        for method, entry in methods.items()
    }
    assert registered == {
        (path, method, content_types, f"{module}.{function}")
        for path, method, content_types, module, function in ROUTES
    }


def test_a_registered_route_calls_the_views_own_function(monkeypatch) -> None:
    from app import app
    from chalicelib.web import auth_views

    seen: list[dict] = []
    monkeypatch.setattr(auth_views, "login_form", lambda **params: seen.append(params) or "page")
    assert app.routes["/login"]["GET"].view_function() == "page"
    assert seen == [{}]


def test_a_decorator_above_the_route_is_refused() -> None:
    def wrapped() -> None: ...

    wrapped.__module__ = "chalicelib.web.auth_views"
    wrapped.__name__ = "login_form"  # the module's login_form is another function
    entry = SimpleNamespace(
        view_function=wrapped, cors=None, authorizer=None, api_key_required=None, content_types=[]
    )
    with pytest.raises(routes.RouteTableError, match=r"put @bp\.route outermost"):
        routes._route("/login", "GET", entry)


IMPORTED_BY_APP = """
import json, sys
import app
print(json.dumps(sorted(n for n in sys.modules if n.split(".")[0] == "chalicelib")))
"""


def test_importing_app_loads_none_of_our_views_services_or_stores() -> None:
    # A fresh interpreter: this process has imported everything already.
    result = subprocess.run(
        [sys.executable, "-c", IMPORTED_BY_APP], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [
        "chalicelib",
        "chalicelib.observability",
        "chalicelib.web",
        "chalicelib.web.route_table",
    ]

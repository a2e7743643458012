"""Views parse, make one service call and render (issue 13, item 2): no view touches the
repository or its models. Read with `ast`, so a deferred import or a `deps.repo` passed
along counts as much as a direct call."""

from __future__ import annotations

import ast
from pathlib import Path

WEB = Path(__file__).resolve().parents[2] / "chalicelib" / "web"
VIEWS = sorted(WEB.glob("*_views.py"))


def repository_uses(source: str) -> list[str]:
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in ("repo", "repository", "outbox"):
            found.append(f"line {node.lineno}: .{node.attr}")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("chalicelib.repo"):
            found.append(f"line {node.lineno}: from {node.module} import …")
        elif isinstance(node, ast.Name) and node.id in ("Repository", "store"):
            found.append(f"line {node.lineno}: {node.id}")
    return found


def test_there_are_views_to_check() -> None:
    assert len(VIEWS) >= 8


def test_no_view_touches_the_repository() -> None:
    offenders = {
        path.name: uses for path in VIEWS if (uses := repository_uses(path.read_text("utf-8")))
    }
    assert offenders == {}


def test_the_check_sees_each_way_a_view_could_reach_the_table() -> None:
    source = (
        "from chalicelib.repo.repository import Repository\n"
        "def view(deps):\n"
        "    deps.repo.get_week('t', 'w')\n"
        "    store(x)\n"
    )
    assert len(repository_uses(source)) == 3

"""The browser tests find Chromium where the platform keeps it, and CHROMIUM overrides."""

from __future__ import annotations

from pathlib import Path

from tests.support import chromium


def _runnable(path: Path) -> Path:
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_chromium_set_in_the_environment_wins(tmp_path: Path) -> None:
    mine = _runnable(tmp_path / "my-chromium")
    assert chromium.find({"CHROMIUM": str(mine), "PATH": ""}) == mine


def test_a_chromium_set_but_not_runnable_is_not_replaced_by_another(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "chromium"
    env = {"CHROMIUM": str(missing), "PATH": ""}
    assert chromium.find(env) is None
    assert chromium.missing_message(env).startswith(f"CHROMIUM={missing} is not a runnable file")


def test_without_the_variable_it_is_found_on_the_path(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(chromium, "CANDIDATES", ())
    found = _runnable(tmp_path / "chromium-browser")
    assert chromium.find({"PATH": str(tmp_path)}) == found
    assert chromium.find({"PATH": str(tmp_path / "empty")}) is None
    assert "apt-get install chromium" in chromium.missing_message({})

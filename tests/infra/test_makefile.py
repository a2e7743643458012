"""The Makefile cannot trap a newcomer: a Python older than 3.11 is refused in one line
before anything is installed, and a venv made by another Python is rebuilt, not reused.
Each test runs the real Makefile in a scratch directory, never against the repo's .venv."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FILES = ("Makefile", "requirements.txt", "requirements-run.txt", "requirements-dev.txt")

# Answers the Makefile's two questions as a Python 3.10 would; anything else (making a
# venv, pip) leaves a mark, so a test can prove nothing was attempted.
FAKE_PYTHON_310 = """#!/bin/sh
case "$*" in
  *">= (3, 11)"*) echo 0 ;;
  *version_info*) echo 3.10 ;;
  -V|--version) echo "Python 3.10.12" ;;
  *) echo "$*" >> "{marks}"; exit 1 ;;
esac
"""


def _scratch(tmp_path: Path) -> Path:
    work = tmp_path / "repo"
    work.mkdir()
    for name in FILES:
        shutil.copy(ROOT / name, work / name)
    return work


def _fake_bin(tmp_path: Path, marks: Path) -> Path:
    fake = tmp_path / "bin"
    fake.mkdir()
    for name in ("python3", "python3.11", "python3.12", "python3.13"):
        script = fake / name
        script.write_text(FAKE_PYTHON_310.format(marks=marks))
        script.chmod(0o755)
    return fake


def _make(work: Path, *args: str, path: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHON", "MAKEFLAGS", "MFLAGS")}
    env["PATH"] = path
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("goal", ["run", "test", "venv"])
def test_python_310_is_refused_in_one_line_before_anything_is_installed(
    tmp_path: Path, goal: str
) -> None:
    work, marks = _scratch(tmp_path), tmp_path / "marks"
    fake = _fake_bin(tmp_path, marks)

    done = _make(work, goal, path=f"{fake}:{os.environ['PATH']}")

    assert done.returncode != 0
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert lines == [
        f"PT Bookings needs Python 3.11 or newer, but {fake}/python3.11 is 3.10: install "
        f"python3.11, or run: make PYTHON=/path/to/python3.11 {goal}"
    ]
    assert not (work / ".venv").exists()
    assert not marks.exists(), f"the fake Python was asked to do more: {marks.read_text()}"


def test_a_venv_made_by_another_python_is_rebuilt_not_reused(tmp_path: Path) -> None:
    work, marks = _scratch(tmp_path), tmp_path / "marks"
    fake = _fake_bin(tmp_path, marks)
    old_venv_python = work / ".venv" / "bin" / "python"
    old_venv_python.parent.mkdir(parents=True)
    shutil.copy(fake / "python3", old_venv_python)
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"

    # Only the step that judges the venv: the installs after it need the package index.
    done = _make(
        work, f".venv/.python-{version}", f"PYTHON={sys.executable}", path=os.environ["PATH"]
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Rebuilding .venv for Python {version}" in done.stdout
    rebuilt = subprocess.run(
        [str(old_venv_python), "-c", "import sys; print(sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert rebuilt.stdout.strip() == str(tuple(sys.version_info[:2]))


def test_a_venv_made_by_this_python_is_kept(tmp_path: Path) -> None:
    work = _scratch(tmp_path)
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(work / ".venv")], check=True)
    keep = work / ".venv" / "kept"
    keep.write_text("")

    done = _make(
        work, f".venv/.python-{version}", f"PYTHON={sys.executable}", path=os.environ["PATH"]
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "Rebuilding" not in done.stdout and keep.exists()

"""Where the browser tests (and the browser benchmark) find Chromium: `CHROMIUM` if set,
else where each platform's package keeps it. Playwright's own download does not work on
these machines, so it is always launched through `executable_path`."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

ENV: str = "CHROMIUM"
# Debian/Ubuntu packages, Fedora/Arch, snap, Homebrew casks and the macOS app bundle.
CANDIDATES: tuple[str, ...] = (
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "/usr/lib/chromium/chromium",
    "/snap/bin/chromium",
    "/opt/homebrew/bin/chromium",
    "/Applications/Chromium.app/Contents/MacOS/Chromium",
)
NAMES: tuple[str, ...] = ("chromium", "chromium-browser")


def _runnable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find(environ: dict[str, str] | None = None) -> Path | None:
    """The Chromium to launch, or None. A `CHROMIUM` that is set but not runnable is an
    answer too (None): the person who set it meant that one, not another found by chance."""
    env = os.environ if environ is None else environ
    chosen = (env.get(ENV) or "").strip()
    if chosen:
        path = Path(chosen).expanduser()
        return path if _runnable(path) else None
    for candidate in CANDIDATES:
        if _runnable(Path(candidate)):
            return Path(candidate)
    for name in NAMES:
        found = shutil.which(name, path=env.get("PATH"))
        if found:
            return Path(found)
    return None


def missing_message(environ: dict[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    chosen = (env.get(ENV) or "").strip()
    if chosen:
        return f"CHROMIUM={chosen} is not a runnable file: point it at Chromium, or unset it."
    return (
        "Chromium is missing: the browser tests need it (`sudo apt-get install chromium` on "
        "Debian/Ubuntu, or set CHROMIUM=/path/to/chromium). Playwright's own browser "
        "download is not used."
    )

"""The Lambda bundle, built once per test session.

infra.bundle caches the installed, pruned vendor/ under build/bundle-cache/ by a hash of
the runtime requirements, the platform and the pins, so only the first session after a
requirements change downloads anything; staging app.py and chalicelib/ again (they change
with every edit) and packaging take a few seconds.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from infra import bundle


@pytest.fixture(scope="session")
def staged_app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The staged Chalice project (infra.bundle.build), in a directory of this session's
    own so parallel workers and a staged deploy in build/app never share one."""
    return bundle.build(tmp_path_factory.mktemp("bundle") / "app")


@pytest.fixture(scope="session")
def lambda_zip(staged_app: Path) -> Path:
    """The zip Chalice's packager makes of the staged project (benchmarks/coldstart.py
    runs the whole `chalice package`; the packaging step is the same code)."""
    return bundle.deployment_zip(staged_app)


@pytest.fixture(scope="session")
def lambda_task_root(lambda_zip: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The zip unpacked as Lambda unpacks it into /var/task."""
    root = tmp_path_factory.mktemp("task")
    with zipfile.ZipFile(lambda_zip) as archive:
        archive.extractall(root)
    return root

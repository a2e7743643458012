"""The Lambda bundle, built once per test session.

infra.bundle caches the installed, pruned vendor/ under build/bundle-cache/ by a hash of
the runtime requirements, the platform and the pins, so only the first session after a
requirements change downloads anything; staging app.py and chalicelib/ again (they change
with every edit) and packaging take a few seconds.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import NamedTuple

import pytest

from infra import bundle


@pytest.fixture(scope="session")
def staged_app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The staged Chalice project (infra.bundle.build), in a directory of this session's
    own so parallel workers and a staged deploy in build/app never share one."""
    return bundle.build(tmp_path_factory.mktemp("bundle") / "app")


@pytest.fixture(scope="session")
def packages(staged_app: Path) -> bundle.Packages:
    """The zips Chalice's packagers make of the staged project (benchmarks/coldstart.py
    runs the whole `chalice package`; the packaging steps are the same code)."""
    return bundle.deployment_packages(staged_app)


@pytest.fixture(scope="session")
def lambda_zip(packages: bundle.Packages) -> Path:
    """The function's zip: our code, the same for all five functions."""
    return packages.function_zip


@pytest.fixture(scope="session")
def layer_zip(packages: bundle.Packages) -> Path:
    """The layer's zip: the runtime dependencies, under python/lib/python3.11/site-packages."""
    return packages.layer_zip


class Unpacked(NamedTuple):
    task_root: Path  # /var/task
    opt: Path  # /opt

    @property
    def sys_path(self) -> list[str]:
        """What Lambda's Python runtime puts first on sys.path: the function's code, then
        the layer's two Python directories (the runtime's boto3 comes after them)."""
        return [
            str(self.task_root),
            str(self.opt / bundle.LAYER_SITE_PACKAGES),
            str(self.opt / "python"),
        ]


@pytest.fixture(scope="session")
def unpacked(
    lambda_zip: Path, layer_zip: Path, tmp_path_factory: pytest.TempPathFactory
) -> Unpacked:
    """Both zips unpacked as Lambda unpacks them: the function's into /var/task, the
    layer's into /opt."""
    root = tmp_path_factory.mktemp("lambda")
    target = Unpacked(root / "var-task", root / "opt")
    for archive_path, where in ((lambda_zip, target.task_root), (layer_zip, target.opt)):
        with zipfile.ZipFile(archive_path) as archive:
            archive.extractall(where)
    return target

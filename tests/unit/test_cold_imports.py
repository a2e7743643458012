"""What a cold start's first request imports (docs/cold-start.md): libraries that cost
much to import and that few requests use are imported where they are used, so loading
every view and job module still leaves them out."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

EVERY_MODULE_A_REQUEST_OR_RUN_LOADS_FIRST = """
import importlib, json, sys
import app
from chalicelib.web.route_table import ROUTES
for module in sorted({route[3] for route in ROUTES} | {"middleware", "jobs_entry"}):
    importlib.import_module("chalicelib.web." + module)
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""

# Each costs tens of milliseconds at import and is needed by a few actions only: an
# address typed (email-validator), a calendar feed built (icalendar), a PDF drawn (ours).
DEFERRED = {"email_validator", "icalendar"}


def test_loading_every_view_and_job_leaves_the_costly_rarely_used_libraries_out() -> None:
    result = subprocess.run(
        [sys.executable, "-c", EVERY_MODULE_A_REQUEST_OR_RUN_LOADS_FIRST],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    loaded = set(json.loads(result.stdout))
    assert "chalicelib" in loaded and "pydantic" in loaded  # the probe did load the views
    assert loaded & DEFERRED == set()

"""What one request's (or one job run's) use cases may touch, made once by the
composition root (`chalicelib.runtime`) and handed down: nothing below the web layer
reaches for a global to find the table, the clock or the link secret."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from chalicelib.config import Config
from chalicelib.repo.files import FileStore
from chalicelib.repo.repository import Repository
from chalicelib.services.links import Links

NO_FILES = FileStore(lambda: None, "")


@dataclass(frozen=True)
class Deps:
    repo: Repository
    links: Links
    config: Config
    now: datetime  # one instant for the whole request: every rule it checks agrees
    # Where links sent out of band (messages, emails, provider callbacks) point, stage
    # prefix included: PUBLIC_BASE_URL, else the domain API Gateway routed the request by
    # (or, for a scheduled run, the one the web function last learned). "" when neither
    # is known: whoever needs it refuses in words rather than sending a broken link.
    base_url: str = ""
    # The documents bucket (uploads and the links that show them); off without a bucket.
    files: FileStore = NO_FILES

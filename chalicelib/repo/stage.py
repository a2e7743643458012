"""Facts about the deployed stage that only a request can tell (its public URL), kept for
the scheduled functions."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from chalicelib.domain.timeutil import utc_iso
from chalicelib.repo import keys
from chalicelib.repo.dynamo import Condition, ConditionFailed, Db

_ITEM_TYPE: Final = "stage"


class StageStore:
    def __init__(self, db: Db) -> None:
        self.db = db

    def public_url(self) -> str:
        """The URL last learned from API Gateway, "" before any request reached the stage."""
        item = self.db.get(keys.stage_public_url(), consistent=False)
        return str((item or {}).get("url") or "")

    def remember_public_url(self, url: str, at: datetime) -> bool:
        """Keep `url` unless it is already the one kept (one write per new URL, not per
        request); False when nothing was written."""
        try:
            self.db.put(
                {**keys.stage_public_url(), "type": _ITEM_TYPE, "url": url, "at": utc_iso(at)},
                Condition(
                    "attribute_not_exists(#url) OR #url <> :url",
                    names={"#url": "url"},
                    values={":url": url},
                ),
            )
        except ConditionFailed:
            return False
        return True

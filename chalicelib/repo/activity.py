"""The Activity feed: one line per thing a client did (booked, moved, canceled, took an
offer), written in the same transaction as what it reports, read newest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.domain.timeutil import parse_utc_iso, utc_iso
from chalicelib.repo import keys
from chalicelib.repo.dynamo import Db

FEED_SIZE = 20


@dataclass(frozen=True)
class ActivityEntry:
    # Derived from the session and the action, so a second write of one action (a replayed
    # form) is refused by `attribute_not_exists` rather than listed twice.
    id: str
    at: datetime
    actor: str  # "client" or "trainer"
    client_name: str
    text: str  # what happened, in words, without the client's name ("booked Wed 25 Nov …")
    session_ref: str  # the session's URL id, for the link to its page
    link: str = ""  # or a dashboard path (a pack's "2 left" links to its bundle)


def activity_to_item(trainer_id: str, entry: ActivityEntry) -> dict[str, Any]:
    return {
        **keys.activity_entry(trainer_id, utc_iso(entry.at), entry.id),
        "type": "activity",
        "id": entry.id,
        "at": utc_iso(entry.at),
        "actor": entry.actor,
        "client_name": entry.client_name,
        "text": entry.text,
        "session_ref": entry.session_ref,
        "link": entry.link or None,
    }


def activity_from_item(item: dict[str, Any]) -> ActivityEntry:
    return ActivityEntry(
        id=item["id"],
        at=parse_utc_iso(item["at"]),
        actor=item["actor"],
        client_name=item["client_name"],
        text=item["text"],
        session_ref=item["session_ref"],
        link=item.get("link") or "",
    )


class ActivityStore:
    def __init__(self, db: Db) -> None:
        self.db = db

    def feed(self, trainer_id: str, limit: int = FEED_SIZE) -> list[ActivityEntry]:
        """The newest `limit` entries, newest first: one Query."""
        items = self.db.query(keys.activity_feed(trainer_id), forward=False, limit=limit)
        return [activity_from_item(i) for i in items]

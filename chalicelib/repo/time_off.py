"""The trainer's time off: one `CFG#TIMEOFF` item holding every upcoming period.

One item with a version, like the weekly template: "no two periods overlap" is then a
single conditional write, and a form drawn before another tab saved is refused by that
write itself (not by a read before it). The item sorts under `CFG#`, so the set-up read
returns it with the template (`account_with_time_off`): Apply template reads nothing more.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.errors import VersionConflict
from chalicelib.domain.time_off import TimeOff, TimeOffPeriod
from chalicelib.domain.timeutil import parse_utc_iso, utc_iso
from chalicelib.repo import keys
from chalicelib.repo.accounts import AccountStore
from chalicelib.repo.dynamo import ConditionFailed, Db, Item, at_version
from chalicelib.repo.mapping import Account


def _period_to_map(period: TimeOffPeriod) -> dict[str, Any]:
    return {
        "id": period.id,
        "first_day": period.first_day.isoformat(),
        "last_day": period.last_day.isoformat(),
        "start": period.start,
        "end": period.end,
        "start_utc": utc_iso(period.start_utc),
        "end_utc": utc_iso(period.end_utc),
        "note": period.note,
    }


def _period_from_map(data: dict[str, Any]) -> TimeOffPeriod:
    return TimeOffPeriod(
        id=data["id"],
        first_day=data["first_day"],
        last_day=data["last_day"],
        start=None if data.get("start") is None else int(data["start"]),
        end=None if data.get("end") is None else int(data["end"]),
        start_utc=parse_utc_iso(data["start_utc"]),
        end_utc=parse_utc_iso(data["end_utc"]),
        note=data.get("note") or "",
    )


def time_off_from_item(item: Item | None) -> TimeOff:
    if item is None:
        return TimeOff()
    return TimeOff(
        periods=tuple(_period_from_map(p) for p in item.get("periods") or ()),
        version=int(item.get("version") or 0),
    )


def time_off_from_items(items: Sequence[Item]) -> TimeOff:
    """The time off among the items of a set-up read (absent: none yet)."""
    return time_off_from_item(next((i for i in items if i[keys.SK] == keys.TIME_OFF_SK), None))


@dataclass(frozen=True)
class TimeOffStore:
    db: Db

    def get_time_off(self, trainer_id: str) -> TimeOff:
        return time_off_from_item(self.db.get(keys.time_off(trainer_id)))

    def account_with_time_off(self, trainer_id: str) -> tuple[Account, TimeOff]:
        """The set-up read (pattern 17) and the time off it already holds: one Query."""
        items = self.db.query(keys.trainer_pk(trainer_id), sk_prefix=keys.CFG_PREFIX)
        return AccountStore._account_from(items), time_off_from_items(items)

    def save_time_off(
        self, trainer_id: str, seen: TimeOff, periods: Sequence[TimeOffPeriod]
    ) -> TimeOff:
        """Replace the periods if the item is still at the version the form was drawn
        from (absent for the first period): otherwise VersionConflict, nothing written."""
        saved = TimeOff(periods=tuple(periods), version=seen.version + 1)
        try:
            self.db.put(
                {
                    **keys.time_off(trainer_id),
                    "type": "time_off",
                    "periods": [_period_to_map(p) for p in saved.periods],
                    "version": saved.version,
                },
                at_version(seen.version),
            )
        except ConditionFailed as exc:
            raise VersionConflict() from exc
        return saved

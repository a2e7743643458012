"""The trainer's time off: one `CFG#TIMEOFF` item holding every upcoming period.

One item with a version, like the weekly template: "no two periods overlap" is then a
single conditional write, and a form drawn before another tab saved is refused by that
write itself (not by a read before it). The item sorts under `CFG#`, so the set-up read
returns it with the template (`account_with_time_off`): Apply template reads nothing more.

Every save also copies the list onto the trainer's profile (`time_off`), in the same
transaction: the profile comes with the session on every dashboard request, so the week
view draws its time-off band without a read of its own. It stays small because the list
does: only periods not yet over are written, at most `domain.time_off.MAX_PERIODS`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from chalicelib.domain.errors import VersionConflict
from chalicelib.domain.time_off import TimeOff, TimeOffPeriod
from chalicelib.repo import keys
from chalicelib.repo.accounts import AccountStore
from chalicelib.repo.dynamo import (
    Condition,
    Db,
    Item,
    TransactionFailed,
    at_version,
    tx_check,
    tx_put,
    tx_update,
)
from chalicelib.repo.mapping import (
    Account,
    time_off_mirror,
    time_off_period_from_map,
    time_off_period_to_map,
)

TIME_OFF_AT_VERSION: Final = "time off at version"
MIRROR_TIME_OFF: Final = "mirror time off on the profile"


def time_off_from_item(item: Item | None) -> TimeOff:
    if item is None:
        return TimeOff()
    return TimeOff(
        periods=tuple(time_off_period_from_map(p) for p in item.get("periods") or ()),
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
        from (absent for the first period): otherwise VersionConflict, nothing written.

        The profile's copy (`Trainer.time_off`, read with the session on every request)
        is written in the same transaction, so the two never disagree: the item's own
        condition decides for both."""
        saved = TimeOff(periods=tuple(periods), version=seen.version + 1)
        try:
            self.db.transact(
                [
                    tx_put(
                        {
                            **keys.time_off(trainer_id),
                            "type": "time_off",
                            "periods": [time_off_period_to_map(p) for p in saved.periods],
                            "version": saved.version,
                        },
                        at_version(seen.version),
                        part=TIME_OFF_AT_VERSION,
                    ),
                    _mirror_on_profile(trainer_id, saved),
                ]
            )
        except TransactionFailed as exc:
            raise VersionConflict() from exc
        return saved

    def copy_to_profile(self, trainer_id: str) -> bool:
        """Give a profile written before the copy existed its copy of the item (the
        backfill, `python -m infra.manage time-off-copy`). Written only onto a profile
        with no copy yet and while the item is still at the version read: a save
        meanwhile wrote its own copy, which stands. False when nothing was written, so a
        second run writes nothing."""
        current = self.get_time_off(trainer_id)
        try:
            self.db.transact(
                [
                    tx_check(
                        keys.time_off(trainer_id),
                        at_version(current.version),
                        part=TIME_OFF_AT_VERSION,
                    ),
                    _mirror_on_profile(trainer_id, current, only_if_absent=True),
                ]
            )
        except TransactionFailed:
            return False
        return True


def _mirror_on_profile(
    trainer_id: str, saved: TimeOff, *, only_if_absent: bool = False
) -> dict[str, Any]:
    """Transaction part: the profile's copy of the list as saved. No version of its own
    and no bump of the profile's (a settings form open in another tab stays good); the
    profile must exist, so a save for an unknown trainer never makes a stray item."""
    condition = "attribute_exists(#pk)"
    if only_if_absent:
        condition += " AND attribute_not_exists(#time_off)"
    return tx_update(
        keys.profile(trainer_id),
        Condition(
            "SET #time_off = :mirror",
            {"#time_off": "time_off"},
            {":mirror": time_off_mirror(saved)},
        ),
        Condition(condition, {"#pk": keys.PK, "#time_off": "time_off"}),
        part=MIRROR_TIME_OFF,
    )

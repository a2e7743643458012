"""The point-in-time restore drill (docs/operations.md, "Restoring data"), run under the
stage's operator role:

    python -m infra.restore restore --stage prod --at 2026-11-30T09:00:00Z
        # -> pt-bookings-prod-restored-20261130T0900Z, waited for until ACTIVE
    python -m infra.restore copy-back --stage prod \\
        --from pt-bookings-prod-restored-20261130T0900Z --prefix 'T#<trainer id>' --dry-run
        # the diff: what would be put back (keys and attribute names, never values)
    python -m infra.restore copy-back ... (without --dry-run: the diff, a confirmation, the puts)
    python -m infra.restore drop --stage prod --table pt-bookings-prod-restored-...

The app is never pointed at a restored table: it is outside the data stack, with no
deletion protection or PITR. Chosen items are copied back into the live table with
conditional puts: an item missing from the live table is put only while still missing; an
item that differs is replaced only while the live one is still as the diff read it (a write
the app made since wins). Items only in the live table (written after the restore point)
are reported and kept.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

Item = dict[str, Any]  # low-level values ({"S": ...}), as Scan and GetItem return them
KEY = ("PK", "SK")


def restored_name(live: str, at: datetime) -> str:
    return f"{live}-restored-{at.astimezone(UTC):%Y%m%dT%H%MZ}"


def parse_instant(text: str) -> datetime:
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise SystemExit(
            f"Give the time as ISO 8601 with a zone, like 2026-11-30T09:00:00Z: {text!r}"
        ) from None
    if at.tzinfo is None:
        raise SystemExit("Give the time with its zone (Z for UTC): a bare time is ambiguous.")
    return at


def start_restore(client: Any, live: str, at: datetime, wait: bool = True) -> str:
    """Restore `live` as it was at `at` into a new table; returns the new table's name."""
    target = restored_name(live, at)
    client.restore_table_to_point_in_time(
        SourceTableName=live, TargetTableName=target, RestoreDateTime=at
    )
    print(f"Restoring {live} as of {at.isoformat()} into {target} ...", flush=True)
    if wait:
        # A restore takes from minutes to hours, depending on the table's size.
        client.get_waiter("table_exists").wait(
            TableName=target, WaiterConfig={"Delay": 20, "MaxAttempts": 1080}
        )
        print(f"{target} is ACTIVE.", flush=True)
    return target


def items_with_prefix(client: Any, table: str, prefix: str) -> Iterator[Item]:
    """Every item of the partition `prefix` and of the partitions under it, `prefix#…` (a
    Scan: one trainer's items span many partitions, T#<tid>, T#<tid>#W…, T#<tid>#SESSIONS…).
    A prefix ending in "#" takes only those under it. Never a bare string prefix: T#ab is
    not under T#a."""
    under = prefix if prefix.endswith("#") else prefix + "#"
    params: dict[str, Any] = {
        "TableName": table,
        "FilterExpression": "PK = :partition OR begins_with(PK, :under)",
        "ExpressionAttributeValues": {":partition": {"S": prefix}, ":under": {"S": under}},
        "ConsistentRead": True,
    }
    while True:
        page = client.scan(**params)
        yield from page.get("Items", [])
        if not page.get("LastEvaluatedKey"):
            return
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]


@dataclass(frozen=True)
class Change:
    key: dict[str, Any]
    kind: str  # "missing" (put back), "differs" (replaced), "only live" (kept)
    restored: Item | None
    live: Item | None

    def describe(self) -> str:
        where = f"{self.key['PK']['S']} / {self.key['SK']['S']}"
        if self.kind == "differs":
            assert self.restored is not None and self.live is not None
            names = sorted(
                n
                for n in set(self.restored) | set(self.live)
                if self.restored.get(n) != self.live.get(n)
            )
            return f"  differs  {where}: {', '.join(names)}"
        return f"  {self.kind:<8} {where}"


def diff(client: Any, restored: str, live: str, prefix: str) -> list[Change]:
    """What copying `prefix` back would change, in key order."""
    before = {_key_of(i): i for i in items_with_prefix(client, restored, prefix)}
    now = {_key_of(i): i for i in items_with_prefix(client, live, prefix)}
    changes = []
    for key in sorted(set(before) | set(now)):
        old, current = before.get(key), now.get(key)
        if current is None:
            kind = "missing"
        elif old is None:
            kind = "only live"
        elif old != current:
            kind = "differs"
        else:
            continue
        changes.append(Change({"PK": {"S": key[0]}, "SK": {"S": key[1]}}, kind, old, current))
    return changes


def _key_of(item: Item) -> tuple[str, str]:
    return item["PK"]["S"], item["SK"]["S"]


def _unchanged_condition(live: Item) -> tuple[str, dict[str, str], dict[str, Any]]:
    """The live item is still as read: by its version when it has one, else every
    attribute equal (and the item there)."""
    names, values, parts = {"#pk": "PK"}, {}, ["attribute_exists(#pk)"]
    compared = ["version"] if "version" in live else [n for n in live if n not in KEY]
    for index, name in enumerate(compared):
        names[f"#a{index}"] = name
        values[f":a{index}"] = live[name]
        parts.append(f"#a{index} = :a{index}")
    return " AND ".join(parts), names, values


def copy_back(client: Any, live: str, changes: list[Change]) -> dict[str, int]:
    counts = {"put back": 0, "replaced": 0, "newer item kept": 0, "only live, kept": 0}
    for change in changes:
        if change.kind == "only live":
            counts["only live, kept"] += 1
            continue
        assert change.restored is not None
        if change.kind == "missing":
            condition, names, values = "attribute_not_exists(#pk)", {"#pk": "PK"}, {}
        else:
            assert change.live is not None
            condition, names, values = _unchanged_condition(change.live)
        params: dict[str, Any] = {
            "TableName": live,
            "Item": change.restored,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
        }
        if values:
            params["ExpressionAttributeValues"] = values
        try:
            client.put_item(**params)
        except client.exceptions.ConditionalCheckFailedException:
            counts["newer item kept"] += 1
            continue
        counts["put back" if change.kind == "missing" else "replaced"] += 1
    return counts


def _client(stage: str, role_arn: str | None) -> Any:
    from infra.manage import operator_session

    return operator_session(stage, role_arn).client("dynamodb")


def _live_table(stage: str) -> str:
    from infra.deploy import stage_settings

    return stage_settings(stage)["TABLE_NAME"]


def main(argv: list[str] | None = None, confirm: Callable[[str], str] = input) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.restore")
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("restore", "copy-back", "drop"):
        sub = commands.add_parser(name)
        sub.add_argument("--stage", required=True, choices=("dev", "prod"))
        sub.add_argument(
            "--role-arn",
            default=None,
            help="default: the stage's operator role; '' to use your own credentials",
        )
    commands.choices["restore"].add_argument("--at", required=True, help="ISO time with zone")
    commands.choices["restore"].add_argument("--no-wait", action="store_true")
    back = commands.choices["copy-back"]
    back.add_argument("--from", dest="restored", required=True, help="the restored table")
    back.add_argument(
        "--prefix", required=True, help="a partition and those under it, e.g. 'T#<tid>'"
    )
    back.add_argument("--dry-run", action="store_true", help="show the diff, write nothing")
    back.add_argument("--yes", action="store_true", help="no confirmation prompt")
    commands.choices["drop"].add_argument("--table", required=True)
    args = parser.parse_args(argv)
    live = _live_table(args.stage)
    client = _client(args.stage, args.role_arn)
    if args.command == "restore":
        start_restore(client, live, parse_instant(args.at), wait=not args.no_wait)
        return 0
    if args.command == "drop":
        if not args.table.startswith(f"{live}-restored-"):
            raise SystemExit(f"Only a restored copy ({live}-restored-…) is dropped here.")
        client.delete_table(TableName=args.table)
        print(f"Deleting {args.table}.")
        return 0
    if not args.restored.startswith(f"{live}-restored-"):
        raise SystemExit(f"--from must be a restored copy of {live} ({live}-restored-…).")
    if len(args.prefix) < 3:
        raise SystemExit("Give a prefix that names something, like 'T#<trainer id>'.")
    changes = diff(client, args.restored, live, args.prefix)
    print(f"Copy back {args.prefix}* from {args.restored} into {live}:")
    for change in changes:
        print(change.describe())
    writes = sum(1 for c in changes if c.kind != "only live")
    print(f"{writes} item(s) to write; items only in the live table are kept.")
    if args.dry_run or not writes:
        return 0
    if not args.yes and confirm(f"Type the live table's name ({live}) to write: ").strip() != live:
        print("Nothing written.")
        return 1
    for what, count in copy_back(client, live, changes).items():
        print(f"  {what}: {count}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Operator commands.

    TABLE_NAME=pt-bookings-prod AWS_PROFILE=... python -m infra.manage invite coach@example.com

`invite` creates the trainer account (email claimed uniquely); they then sign in at /login
with that address and receive a link. `index-bundles` and `index-clients` bring data
written by an older version to the current keys (each safe to run twice):

    python -m infra.manage index-clients <trainer id> ...

`index-clients` must run for every trainer before the version with the client index
serves them (its pages read only the new keys), and once more right after the deploy for
anything the old version wrote in between.

`reminder-keys <trainer id> ...` gives upcoming booked sessions written before automatic
reminders the keys the reminder job finds them by (run it once after the deploy).

`feed-keys <trainer id> ...` gives canceled and moved sessions written before the
trainer's calendar feed showed them the TrainerTimeline keys it reads them by, so a cancel
from before shows as cancelled too (run it once after the deploy; safe to run twice).

`figures-recount <first month> <last month> <trainer id> ...` rebuilds the report
counters of those months (YYYY-MM) from the sessions and slots themselves, and the running
pack totals from the bundles: for accounts older than the counters, or as a repair. Run it
at a quiet hour (a booking made while it runs can be missed); running it again converges.

`time-off-copy <trainer id> ...` gives profiles written before the week view drew its
time-off band from the profile their copy of the time off (until then, or until their next
time-off save, the week view reads the time-off item itself; safe to run twice).

`backfill <name> --stage prod [--dry-run]` runs a one-off job over the whole table: a
parallel, paginated, rate-limited Scan, resumable from its checkpoint file, under the
stage's operator role (infra/operator.yaml: the app's roles cannot Scan). `count-items`
only reads; the others run the per-trainer command of that name for every trainer the Scan
finds (docs/operations.md, "Backfills"). `portal-links` is the second half of rotating the
link secret: a new portal link for every active client whose link the old secret made
(docs/operations.md, "Rotating the link secret").
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chalicelib import runtime
from chalicelib.domain.email_address import InvalidEmailAddress, normalise_email_address
from chalicelib.domain.errors import Conflict
from chalicelib.domain.models import Trainer
from chalicelib.domain.tokens import new_id


def invite(email: str) -> str:
    try:
        address = normalise_email_address(email)
    except InvalidEmailAddress as exc:
        raise SystemExit(str(exc)) from exc
    trainer = Trainer(id=new_id(), email=address, created_at=datetime.now(UTC))
    try:
        runtime.repository().create_trainer(trainer)
    except Conflict:
        raise SystemExit(f"{address} already has an account.") from None
    return trainer.id


def index_bundles(trainer_ids: list[str]) -> int:
    """Give bundles written before the programs hub was paged their hub keys (once per
    bundle; running it again changes nothing)."""
    from chalicelib.services import programs

    repo = runtime.repository()
    store = programs.store(repo)
    return sum(store.index_bundles(tid, datetime.now(UTC)) for tid in trainer_ids)


def index_clients(trainer_ids: list[str]) -> dict[str, int]:
    """Build the client index of accounts written before it, and move their opt-ins,
    recurring claims and link shares to the set-up keys (see repo/client_index.py)."""
    repo = runtime.repository()
    totals: dict[str, int] = {}
    for trainer_id in trainer_ids:
        for kind, count in repo.index_clients(trainer_id).items():
            totals[kind] = totals.get(kind, 0) + count
    return totals


def reminder_keys(trainer_ids: list[str]) -> int:
    """Give upcoming booked sessions written before reminders their reminder keys (see
    repo/reminders.py); running it again writes nothing."""
    from chalicelib.repo.reminders import ReminderStore

    store = ReminderStore(runtime.repository().db)
    now = runtime.now()  # the composition root's clock: a test can freeze it
    return sum(store.backfill(tid, now) for tid in trainer_ids)


def feed_keys(trainer_ids: list[str]) -> int:
    """Give canceled and moved sessions written before the trainer's feed showed them
    their keys in its gone partition (see repo/tokens.py); running it again writes
    nothing."""
    repo = runtime.repository()
    return sum(repo.backfill_gone_sessions(tid) for tid in trainer_ids)


def time_off_copy(trainer_ids: list[str]) -> int:
    """Copy the time off onto profiles written before the copy existed (see
    repo/time_off.py); running it again writes nothing."""
    store = runtime.repository().time_off
    return sum(store.copy_to_profile(tid) for tid in trainer_ids)


def portal_links(trainer_ids: list[str], dry_run: bool = False) -> Counter[str]:
    """After the link secret was rotated: give each active client whose portal link was
    made from the old secret a new one, as "Make a new portal link" on the client's page
    does. That retires their old portal, session and offer links (the generation moves
    on) and stores the new link's hash, so the links the app draws from then on (Copy
    buttons, queued messages, reminders) open again.

    A client whose current link is stored under the current secret is left as it is, so
    running it again (or on a stage whose secret never changed) rotates nothing. Archived
    clients are left too: their links are closed already, and restoring one rotates it."""
    from chalicelib.domain.errors import VersionConflict
    from chalicelib.services.clients import rotate_portal_link
    from chalicelib.services.portal import PORTAL_KIND

    repo, links = runtime.repository(), runtime.links()
    done: Counter[str] = Counter()
    for trainer_id in trainer_ids:
        for client in repo.list_clients(trainer_id):
            if client.archived:
                done["archived clients left"] += 1
                continue
            record = repo.get_token(links.portal_hash(trainer_id, client))
            if record and record.kind == PORTAL_KIND and not record.data.get("revoked_at"):
                done["clients already on the current secret"] += 1
                continue
            if dry_run:
                done["clients to rotate"] += 1
                continue
            for _attempt in range(3):
                try:
                    rotate_portal_link(
                        repo, links, trainer_id, client, client.version, runtime.now()
                    )
                    done["clients rotated"] += 1
                    break
                except VersionConflict:  # changed since it was read: read it again
                    client = repo.get_client(trainer_id, client.id)
            else:
                done["clients changing while read: run again"] += 1
    return done


def _portal_links_page(client: Any, table: str, items: list[Item], dry_run: bool) -> Counter[str]:
    """Unlike the other per-trainer backfills, its dry run reads on: it counts the
    clients that a real run would rotate."""
    trainer_ids = _trainer_ids(items)
    done = portal_links(trainer_ids, dry_run) if trainer_ids else Counter()
    done.update(_trainers_seen(trainer_ids, dry_run))  # update, not +: keeps a 0
    return done


def figures_recount(first: str, last: str, trainer_ids: list[str]) -> tuple[int, int]:
    """(figure items written, trainers) for the months `first`..`last` (YYYY-MM)."""
    from chalicelib.repo.recount import Recount

    try:
        first_month = datetime.strptime(first, "%Y-%m").date()
        last_month = datetime.strptime(last, "%Y-%m").date()
    except ValueError:
        raise SystemExit("Give the months as YYYY-MM, like 2025-01 2026-11.") from None
    if last_month < first_month:
        raise SystemExit("The last month comes before the first.")
    recount = Recount(runtime.repository().db)
    written = 0
    for trainer_id in trainer_ids:
        written += recount.figures(trainer_id, first_month, last_month)
        recount.pack_totals(trainer_id)
    return written, len(trainer_ids)


# Backfills ------------------------------------------------------------------------------
ROOT = Path(__file__).resolve().parent.parent
CHECKPOINTS = ROOT / "build" / "backfill"


class RateLimit:
    """At most `per_second` takes a second across every segment's thread (a token bucket:
    a backfill must never take the capacity the live app needs)."""

    def __init__(self, per_second: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_second = per_second
        self._clock = clock
        self._tokens = per_second
        self._at = clock()
        self._lock = threading.Lock()

    def take(self, count: float = 1.0) -> None:
        while True:
            with self._lock:
                now = self._clock()
                self._tokens = min(
                    self.per_second, self._tokens + (now - self._at) * self.per_second
                )
                self._at = now
                if self._tokens >= count or self._tokens >= self.per_second:
                    self._tokens -= count
                    return
                wait = (count - self._tokens) / self.per_second
            time.sleep(wait)


@dataclass
class Checkpoint:
    """Where each Scan segment got to, saved after every page the backfill finished, so a
    run stopped anywhere resumes after its last finished page (a page is at worst done
    twice: every backfill must be safe to run twice)."""

    path: Path
    name: str
    table: str
    segments: int
    positions: dict[str, Any] = field(default_factory=dict)  # segment -> next key | "done"
    counts: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def open(cls, path: Path, name: str, table: str, segments: int) -> Checkpoint:
        if not path.exists():
            return cls(path, name, table, segments)
        saved = json.loads(path.read_text(encoding="utf-8"))
        if (saved["name"], saved["table"], saved["segments"]) != (name, table, segments):
            raise SystemExit(
                f"{path} is a checkpoint of {saved['name']} on {saved['table']} in "
                f"{saved['segments']} segments: resume with those, or delete it to start over."
            )
        return cls(path, name, table, segments, saved["positions"], Counter(saved["counts"]))

    def start(self, segment: int) -> dict[str, Any] | str | None:
        return self.positions.get(str(segment))

    def finished_page(
        self, segment: int, next_key: dict[str, Any] | None, done: Counter[str]
    ) -> None:
        with self._lock:
            self.positions[str(segment)] = next_key or "done"
            self.counts.update(done)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_suffix(".tmp")
            temporary.write_text(
                json.dumps(
                    {
                        "name": self.name,
                        "table": self.table,
                        "segments": self.segments,
                        "positions": self.positions,
                        "counts": dict(self.counts),
                    }
                ),
                encoding="utf-8",
            )
            temporary.replace(self.path)  # a stop mid-write never leaves half a checkpoint

    def count(self, done: Counter[str]) -> None:
        with self._lock:
            self.counts.update(done)

    @property
    def complete(self) -> bool:
        return all(self.positions.get(str(s)) == "done" for s in range(self.segments))


Item = dict[str, Any]  # as the low-level client returns it ({"S": ...} values)


@dataclass(frozen=True)
class Backfill:
    """One backfill: which items it reads (`filter`, applied by DynamoDB after reading:
    the Scan still reads, and is rate-limited by, every item) and what it does with a
    page of them; `run_page` returns counts to report and must be safe to run twice."""

    name: str
    help: str
    run_page: Callable[[Any, str, list[Item], bool], Counter[str]]
    filter: dict[str, Any] = field(default_factory=dict)


def scan_pages(
    client: Any,
    table: str,
    backfill: Backfill,
    checkpoint: Checkpoint,
    segment: int,
    page_size: int,
    limit: RateLimit,
) -> Iterator[tuple[list[Item], dict[str, Any] | None]]:
    start = checkpoint.start(segment)
    if start == "done":
        return
    params: dict[str, Any] = {
        "TableName": table,
        "Segment": segment,
        "TotalSegments": checkpoint.segments,
        "Limit": page_size,
        "ConsistentRead": True,  # a conditional write then starts from the current item
        **backfill.filter,
    }
    if isinstance(start, dict):
        params["ExclusiveStartKey"] = start
    while True:
        limit.take(page_size)  # a page reads up to page_size items
        page = client.scan(**params)
        next_key = page.get("LastEvaluatedKey")
        yield page.get("Items", []), next_key
        if not next_key:
            return
        params["ExclusiveStartKey"] = next_key


def run_backfill(
    client: Any,
    table: str,
    backfill: Backfill,
    checkpoint: Checkpoint,
    dry_run: bool,
    page_size: int = 100,
    items_per_second: float = 200.0,
) -> Counter[str]:
    """Every segment in its own thread; returns the counts of the whole run so far
    (including what an earlier, interrupted run did)."""
    limit = RateLimit(items_per_second)
    errors: list[BaseException] = []

    def segment_worker(segment: int) -> None:
        try:
            for items, next_key in scan_pages(
                client, table, backfill, checkpoint, segment, page_size, limit
            ):
                done = backfill.run_page(client, table, items, dry_run)
                done["items read"] += len(items)
                if dry_run:
                    checkpoint.count(done)  # a dry run keeps no position
                else:
                    checkpoint.finished_page(segment, next_key, done)
        except BaseException as exc:  # reported once every thread stopped
            errors.append(exc)

    threads = [
        threading.Thread(target=segment_worker, args=(s,), name=f"segment-{s}")
        for s in range(checkpoint.segments)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return checkpoint.counts


def conditional_update(
    client: Any, table: str, item: Item, changes: dict[str, Any], dry_run: bool
) -> str:
    """Set `changes` (low-level values) on `item` only if it is still as the Scan read it
    (the whole item: a backfill that writes scans without a projection): its `version`
    when it has one, else every attribute it had. A write the app made in between wins;
    the backfill counts it and leaves the item alone. Returns "written", "would write",
    "unchanged" or "newer item kept"."""
    wanted = {k: v for k, v in changes.items() if item.get(k) != v}
    if not wanted:
        return "unchanged"
    if dry_run:
        return "would write"
    names: dict[str, str] = {"#pk": "PK"}
    values: dict[str, Any] = {}
    sets, guards = [], ["attribute_exists(#pk)"]
    for index, (attribute, value) in enumerate(sorted(wanted.items())):
        names[f"#n{index}"] = attribute
        values[f":n{index}"] = value
        sets.append(f"#n{index} = :n{index}")
    read_as = ["version"] if "version" in item else [a for a in item if a not in ("PK", "SK")]
    for index, attribute in enumerate(read_as):
        names[f"#o{index}"] = attribute
        values[f":o{index}"] = item[attribute]
        guards.append(f"#o{index} = :o{index}")
    for attribute in sorted(set(wanted) - set(item)):
        # Absent when read: still absent, or someone else set it first.
        index = sorted(wanted).index(attribute)
        guards.append(f"attribute_not_exists(#n{index})")
    try:
        client.update_item(
            TableName=table,
            Key={"PK": item["PK"], "SK": item["SK"]},
            UpdateExpression="SET " + ", ".join(sets),
            ConditionExpression=" AND ".join(guards),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
    except client.exceptions.ConditionalCheckFailedException:
        return "newer item kept"
    return "written"


def _count_items(client: Any, table: str, items: list[Item], dry_run: bool) -> Counter[str]:
    """Items by kind (their `type`, else the first part of their SK): the restore drill's
    before-and-after check, and the framework's read-only demonstration."""
    found: Counter[str] = Counter()
    for item in items:
        kind = item.get("type", {}).get("S") or item["SK"]["S"].split("#", 1)[0]
        found[f"kind {kind}"] += 1
    return found


def _trainer_ids(profiles: list[Item]) -> list[str]:
    return [item["PK"]["S"].removeprefix("T#") for item in profiles]


def _trainers_seen(trainer_ids: list[str], dry_run: bool) -> Counter[str]:
    return Counter({"trainers" + (" found" if dry_run else " done"): len(trainer_ids)})


def _every_trainer(command: Callable[[list[str]], object]) -> Callable[..., Counter[str]]:
    def run_page(client: Any, table: str, items: list[Item], dry_run: bool) -> Counter[str]:
        trainer_ids = _trainer_ids(items)
        if trainer_ids and not dry_run:
            command(trainer_ids)
        return _trainers_seen(trainer_ids, dry_run)

    return run_page


# A trainer's profile item is the one item every trainer has exactly once.
_PROFILES = {
    "FilterExpression": "SK = :profile AND begins_with(PK, :trainer)",
    "ExpressionAttributeValues": {":profile": {"S": "PROFILE"}, ":trainer": {"S": "T#"}},
    "ProjectionExpression": "PK",
}

BACKFILLS: dict[str, Backfill] = {
    "count-items": Backfill("count-items", "count items by kind (reads only)", _count_items),
    **{
        name: Backfill(
            name,
            f"run `{name}` for every trainer in the table",
            _every_trainer(command),
            _PROFILES,
        )
        for name, command in {
            "index-clients": lambda ids: index_clients(ids),
            "index-bundles": lambda ids: index_bundles(ids),
            "reminder-keys": lambda ids: reminder_keys(ids),
            "feed-keys": lambda ids: feed_keys(ids),
            "time-off-copy": lambda ids: time_off_copy(ids),
        }.items()
    },
    "portal-links": Backfill(
        "portal-links",
        "after a link-secret rotation: a new portal link for every active client whose "
        "link was made from the old secret (--dry-run counts them)",
        _portal_links_page,
        _PROFILES,
    ),
}


def operator_session(stage: str, role_arn: str | None) -> Any:
    """A boto3 session under the stage's operator role (or the caller's own credentials
    when `role_arn` is "" : already running as it)."""
    import boto3

    base = boto3.session.Session()
    if role_arn == "":
        return base
    if role_arn is None:
        account = base.client("sts").get_caller_identity()["Account"]
        role_arn = f"arn:aws:iam::{account}:role/pt-bookings-{stage}-operator"
    granted = base.client("sts").assume_role(
        RoleArn=role_arn, RoleSessionName=f"backfill-{stage}-{int(time.time())}"
    )["Credentials"]
    return boto3.session.Session(
        aws_access_key_id=granted["AccessKeyId"],
        aws_secret_access_key=granted["SecretAccessKey"],
        aws_session_token=granted["SessionToken"],
        region_name=base.region_name,
    )


def _use_session_for_runtime(session: Any, table: str) -> None:
    """The per-trainer commands build their clients through chalicelib.runtime, which
    reads the environment: point it at the operator role's credentials and the table."""
    credentials = session.get_credentials().get_frozen_credentials()
    os.environ["AWS_ACCESS_KEY_ID"] = credentials.access_key
    os.environ["AWS_SECRET_ACCESS_KEY"] = credentials.secret_key
    if credentials.token:
        os.environ["AWS_SESSION_TOKEN"] = credentials.token
    os.environ["TABLE_NAME"] = table
    runtime.reset()


def _use_stage_link_secret(stage: str) -> None:
    """`portal-links` derives links as the app does, from the stage's secret in SSM (the
    operator role may read that one parameter)."""
    from infra.deploy import stage_settings

    os.environ["LINK_SECRET_PARAM"] = stage_settings(stage)["LINK_SECRET_PARAM"]
    os.environ.pop("LINK_SECRET", None)
    runtime.reset()


def backfill(
    name: str,
    stage: str,
    dry_run: bool,
    segments: int = 4,
    page_size: int = 100,
    items_per_second: float = 200.0,
    role_arn: str | None = None,
    checkpoint_path: Path | None = None,
) -> Counter[str]:
    from infra.deploy import stage_settings

    table = stage_settings(stage)["TABLE_NAME"]
    session = operator_session(stage, role_arn)
    _use_session_for_runtime(session, table)
    if name == "portal-links":
        _use_stage_link_secret(stage)
    client = session.client("dynamodb")
    path = checkpoint_path or CHECKPOINTS / f"{stage}-{name}.json"
    if dry_run:
        checkpoint = Checkpoint(path, name, table, segments)  # never resumes nor saves
    else:
        checkpoint = Checkpoint.open(path, name, table, segments)
    counts = run_backfill(
        client, table, BACKFILLS[name], checkpoint, dry_run, page_size, items_per_second
    )
    if not dry_run and checkpoint.complete:
        path.rename(path.with_suffix(f".done-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"))
    return counts


ID_COMMANDS = ("index-bundles", "index-clients", "reminder-keys", "feed-keys", "time-off-copy")


def _ids_as_values(argv: list[str]) -> list[str]:
    """Ids are URL-safe base64, so one in 32 starts with "-", which argparse would take for
    an option: after an id command, everything but a help flag is an id."""
    if argv and argv[0] in ID_COMMANDS and not {"-h", "--help", "--"} & set(argv[1:]):
        return [argv[0], "--", *argv[1:]]
    if argv and argv[0] == "figures-recount" and not {"-h", "--help", "--"} & set(argv[1:]):
        return [argv[0], "--", *argv[1:]]
    return argv


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.manage")
    commands = parser.add_subparsers(dest="command", required=True)
    invite_parser = commands.add_parser("invite", help="create a trainer account for an email")
    invite_parser.add_argument("email")
    index_parser = commands.add_parser(
        "index-bundles", help="backfill the programs hub's keys for these trainers' bundles"
    )
    index_parser.add_argument("trainer_ids", nargs="+")
    clients_parser = commands.add_parser(
        "index-clients",
        help="build these trainers' client index; move opt-ins, claims and shares to it",
    )
    clients_parser.add_argument("trainer_ids", nargs="+")
    reminders_parser = commands.add_parser(
        "reminder-keys",
        help="give these trainers' upcoming sessions from before reminders their reminder keys",
    )
    reminders_parser.add_argument("trainer_ids", nargs="+")
    feed_parser = commands.add_parser(
        "feed-keys",
        help="give these trainers' canceled and moved sessions from before the calendar "
        "feed showed them their feed keys",
    )
    feed_parser.add_argument("trainer_ids", nargs="+")
    time_off_parser = commands.add_parser(
        "time-off-copy", help="copy these trainers' time off onto their profiles"
    )
    time_off_parser.add_argument("trainer_ids", nargs="+")
    recount_parser = commands.add_parser(
        "figures-recount",
        help="rebuild these trainers' report counters for a range of months from their sessions",
    )
    recount_parser.add_argument("first_month")
    recount_parser.add_argument("last_month")
    recount_parser.add_argument("trainer_ids", nargs="+")
    backfill_parser = commands.add_parser(
        "backfill",
        help="a one-off job over the whole table (Scan) under the stage's operator role",
        description="\n".join(f"{b.name}: {b.help}" for b in BACKFILLS.values()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    backfill_parser.add_argument("name", choices=sorted(BACKFILLS))
    backfill_parser.add_argument("--stage", required=True, choices=("dev", "prod"))
    backfill_parser.add_argument("--dry-run", action="store_true", help="read, write nothing")
    backfill_parser.add_argument("--segments", type=int, default=4)
    backfill_parser.add_argument("--page-size", type=int, default=100)
    backfill_parser.add_argument(
        "--items-per-second", type=float, default=200.0, help="read rate across segments"
    )
    backfill_parser.add_argument(
        "--role-arn",
        default=None,
        help="the role to assume (default: pt-bookings-<stage>-operator; '' to use your "
        "own credentials, when you already run as it)",
    )
    backfill_parser.add_argument("--checkpoint", type=Path, default=None)
    args = parser.parse_args(_ids_as_values(sys.argv[1:] if argv is None else argv))
    if args.command == "backfill":
        counts = backfill(
            args.name,
            args.stage,
            args.dry_run,
            args.segments,
            args.page_size,
            args.items_per_second,
            args.role_arn,
            args.checkpoint,
        )
        mode = " (dry run: nothing written)" if args.dry_run else ""
        print(f"Backfill {args.name} on {args.stage}{mode}:")
        for what, count in sorted(counts.items()):
            print(f"  {what}: {count}")
    if args.command == "index-bundles":
        print(f"Indexed {index_bundles(args.trainer_ids)} bundle(s).")
    if args.command == "index-clients":
        done = index_clients(args.trainer_ids)
        print("Wrote " + ", ".join(f"{count} {kind}" for kind, count in done.items()) + ".")
    if args.command == "reminder-keys":
        print(f"Gave {reminder_keys(args.trainer_ids)} upcoming session(s) their reminder keys.")
    if args.command == "feed-keys":
        print(f"Gave {feed_keys(args.trainer_ids)} canceled or moved session(s) feed keys.")
    if args.command == "time-off-copy":
        print(f"Copied the time off onto {time_off_copy(args.trainer_ids)} profile(s).")
    if args.command == "figures-recount":
        written, trainers = figures_recount(args.first_month, args.last_month, args.trainer_ids)
        print(f"Recounted {written} figure item(s) for {trainers} trainer(s).")
    if args.command == "invite":
        trainer_id = invite(args.email)
        address = normalise_email_address(args.email)
        print(f"Invited {address} (trainer {trainer_id}). They sign in at /login.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

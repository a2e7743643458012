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
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

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
    args = parser.parse_args(_ids_as_values(sys.argv[1:] if argv is None else argv))
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

"""Replay the failed runs of the scheduled functions.

    python -m infra.replay --stage prod [--dry-run] [--max N]

Lambda records a scheduled run that failed for good (infra/ops.yaml: the on-failure
destination of each job) as one message in `pt-bookings-<stage>-job-failures`: which
function, when, why, and the event it was invoked with. This prints each one, invokes the
function again with that same event (asynchronously, as EventBridge did), and deletes the
message only once Lambda has accepted the new invocation: a refused one stays for the next
try. `--dry-run` only prints, and leaves every message as it found it.

Replaying is safe because each job works from what is due in the table when it runs, and
claims each item with a conditional write (docs/monitoring.md, "Replaying a failed run").
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, Final

from botocore.exceptions import BotoCoreError, ClientError

STAGES: Final = ("dev", "prod")
# The @app.schedule names in app.py: only these are ever re-invoked.
JOBS: Final = ("expire_offer_locks", "dispatch_messages", "queue_reminders", "apply_templates")
# How long a message stays hidden once read: longer than one invoke takes, so a run
# reads each message once (a crashed run's messages come back after this long).
VISIBILITY_SECONDS: Final = 120
# Long polling asks every SQS server, so a short queue is not reported empty by chance.
WAIT_SECONDS: Final = 2
ERROR_SHOWN_CHARS: Final = 300

# Invokes `function` asynchronously with `payload`; True when Lambda accepted it.
Invoker = Callable[[str, bytes], bool]


def queue_name(stage: str) -> str:
    return f"pt-bookings-{stage}-job-failures"


def job_function_names(stage: str) -> set[str]:
    return {f"pt-bookings-{stage}-{job}" for job in JOBS}


@dataclass(frozen=True)
class FailedRun:
    """One Lambda destination record, as the operator needs to see it."""

    function: str  # the function's name, without a qualifier
    failed_at: str  # the record's timestamp (UTC, ISO 8601)
    condition: str  # RetriesExhausted or EventAgeExceeded
    error: str  # "ErrorType: message", or "" when Lambda gave none (a throttle)
    payload: Any  # the event the failed run was invoked with (None: not in the record)


def parse_record(body: str) -> FailedRun | None:
    """A Lambda on-failure record, or None for a message that is not one."""
    try:
        record = json.loads(body)
    except ValueError:
        return None
    if not isinstance(record, dict):
        return None
    context = record.get("requestContext")
    if not isinstance(context, dict) or not isinstance(context.get("functionArn"), str):
        return None
    # arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]
    arn_parts = context["functionArn"].split(":")
    if len(arn_parts) < 7 or arn_parts[5] != "function":
        return None
    response = record.get("responsePayload")
    error = ""
    if isinstance(response, dict) and (response.get("errorType") or response.get("errorMessage")):
        error = f"{response.get('errorType', 'Error')}: {response.get('errorMessage', '')}"
    return FailedRun(
        function=arn_parts[6],
        failed_at=str(record.get("timestamp", "")),
        condition=str(context.get("condition", "")),
        error=error[:ERROR_SHOWN_CHARS],
        payload=record.get("requestPayload"),
    )


@dataclass
class ReplayReport:
    replayed: int = 0
    would_replay: int = 0  # dry run
    left: list[str] = field(default_factory=list)  # message ids still in the queue

    @property
    def ok(self) -> bool:
        return not self.left


def lambda_invoker(client: Any) -> Invoker:
    """The real invoker: an asynchronous invoke, accepted when Lambda answers 202."""

    def invoke(function: str, payload: bytes) -> bool:
        response = client.invoke(FunctionName=function, InvocationType="Event", Payload=payload)
        return response.get("StatusCode") == 202

    return invoke


def replay(
    sqs: Any,
    queue_url: str,
    invoke: Invoker,
    stage: str,
    *,
    dry_run: bool = False,
    max_messages: int | None = None,
    wait_seconds: int = WAIT_SECONDS,
    out: IO[str] = sys.stdout,
) -> ReplayReport:
    """Go through the queue once: each message is read at most once per call."""
    report = ReplayReport()
    jobs = job_function_names(stage)
    seen: set[str] = set()
    # A message read is hidden while the run goes on (so it is read once), and one the
    # run did not delete is shown again at the end, ready for the next try.
    to_show_again: list[str] = []
    try:
        while max_messages is None or len(seen) < max_messages:
            wanted = 10 if max_messages is None else min(10, max_messages - len(seen))
            response = sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=wanted,
                VisibilityTimeout=VISIBILITY_SECONDS,
                WaitTimeSeconds=wait_seconds,
            )
            messages = [m for m in response.get("Messages", []) if m["MessageId"] not in seen]
            if not messages:
                break
            for message in messages:
                seen.add(message["MessageId"])
                if not _handle(sqs, queue_url, invoke, jobs, message, dry_run, report, out):
                    to_show_again.append(message["ReceiptHandle"])
    finally:
        for receipt in to_show_again:
            sqs.change_message_visibility(
                QueueUrl=queue_url, ReceiptHandle=receipt, VisibilityTimeout=0
            )
    return report


def _handle(
    sqs: Any,
    queue_url: str,
    invoke: Invoker,
    jobs: set[str],
    message: dict[str, Any],
    dry_run: bool,
    report: ReplayReport,
    out: IO[str],
) -> bool:
    """Show one message and replay it; True when it was replayed and deleted."""
    message_id = message["MessageId"]
    run = parse_record(message.get("Body", ""))
    if run is None:
        print(f"{message_id}: not a Lambda failure record, left in the queue", file=out)
        report.left.append(message_id)
        return False
    print(
        f"{run.failed_at}  {run.function}  {run.condition}  {run.error or '(no error)'}", file=out
    )
    if run.function not in jobs:
        # Only this stage's jobs: the queue's name says which stage it is for.
        print("    not a scheduled function of this stage: left in the queue", file=out)
        report.left.append(message_id)
        return False
    if run.payload is None:
        print("    no request payload in the record: left in the queue", file=out)
        report.left.append(message_id)
        return False
    if dry_run:
        print("    would replay (dry run)", file=out)
        report.would_replay += 1
        return False
    try:
        accepted = invoke(run.function, json.dumps(run.payload).encode())
        reason = "Lambda did not accept the invocation"
    except (ClientError, BotoCoreError) as exc:
        accepted = False
        reason = str(exc)
    if not accepted:
        print(f"    not replayed ({reason}): left in the queue", file=out)
        report.left.append(message_id)
        return False
    # Only now: a crash before this line leaves the message, so nothing is ever lost
    # (at worst a job runs twice, which it is built to survive).
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    print("    replayed", file=out)
    report.replayed += 1
    return True


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.replay", description="Replay the failed scheduled runs."
    )
    parser.add_argument("--stage", required=True, choices=STAGES)
    parser.add_argument("--dry-run", action="store_true", help="only print what would be done")
    parser.add_argument("--max", type=int, default=None, metavar="N", help="at most N messages")
    args = parser.parse_args(argv)
    if args.max is not None and args.max < 1:
        parser.error("--max must be at least 1")

    import boto3  # deferred: --help needs no AWS SDK

    sqs = boto3.client("sqs")
    queue_url = sqs.get_queue_url(QueueName=queue_name(args.stage))["QueueUrl"]
    report = replay(
        sqs,
        queue_url,
        lambda_invoker(boto3.client("lambda")),
        args.stage,
        dry_run=args.dry_run,
        max_messages=args.max,
        wait_seconds=WAIT_SECONDS,
    )
    verb = "would replay" if args.dry_run else "replayed"
    count = report.would_replay if args.dry_run else report.replayed
    print(f"{verb} {count}, left in the queue {len(report.left)}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())

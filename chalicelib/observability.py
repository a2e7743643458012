"""Structured logs and CloudWatch metrics, with the standard library only (docs/observability.md).

- Logs: one JSON object per line when deployed (`JsonFormatter`), carrying the request or
  job run it belongs to (`begin`) and the signed-in trainer once known. Local runs and
  tests keep Python's readable text unless LOG_FORMAT=json asks otherwise.
- Metrics: CloudWatch Embedded Metric Format (`put_metrics`, `count`): a JSON line on
  stdout that CloudWatch Logs turns into metrics, so no PutMetricData call, no client and
  no IAM permission. Namespace `PTBookings`, one dimension (`Stage`): never a trainer or
  any other id, each distinct value of a dimension being a metric of its own.

Imported on every cold start by both entry points, so it imports nothing of ours and only
modules Python has loaded by then anyway; the patterns are compiled on first use.

Its own layer: everything may import it, it imports nothing of ours.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from functools import cache
from typing import IO, Any, Final

NAMESPACE: Final = "PTBookings"
COUNT: Final = "Count"
SECONDS: Final = "Seconds"

# Stages whose log may show message texts, client links and addresses (printed emails,
# the WhatsApp log provider). Anything else, an unset APP_STAGE included, is treated as
# deployed: the safe way to be wrong.
LOCAL_STAGES: Final = frozenset({"local", "test"})
# Stages that publish metrics: a local run or a test would only add noise to stdout.
DEPLOYED_STAGES: Final = frozenset({"dev", "prod"})

# `extra={...}` keys a log call may add to its JSON line. A whitelist, so a call site
# cannot put a whole object (a client, a message) into the log by accident.
EXTRA_FIELDS: Final = (
    "job",
    "message_id",
    "route",
    "kind",
    "status",
    "provider",
    "count",
    "duration_ms",
)


def stage() -> str:
    """APP_STAGE, read when asked: Chalice's test client sets it only while a request runs."""
    return os.environ.get("APP_STAGE", "")


def shows_content() -> bool:
    """Whether this stage's log may carry what clients were sent (local and test only)."""
    return stage() in LOCAL_STAGES


# --- Context: which request or job run a line belongs to ---------------------------------


class LogContext:
    """Which request or job run the lines being written belong to. A plain class, not a
    dataclass: this module is imported on every cold start, and a dataclass is built at
    import (a millisecond on Lambda's share of a CPU)."""

    __slots__ = ("api_request_id", "job", "request_id", "trainer")

    def __init__(
        self,
        request_id: str = "",
        api_request_id: str = "",
        job: str = "",
        trainer: Callable[[], str | None] | None = None,
    ) -> None:
        self.request_id = request_id  # Lambda's aws_request_id, else API Gateway's
        self.api_request_id = api_request_id  # API Gateway's, as its access log writes it
        self.job = job
        # Called when a line is written: the trainer is known only once the session
        # cookie has been read, inside the view, after the context was set.
        self.trainer = trainer

    @property
    def trainer_id(self) -> str | None:
        return self.trainer() if self.trainer is not None else None


_NO_CONTEXT: Final = LogContext()
_context: ContextVar[LogContext | None] = ContextVar("pt_log_context", default=None)


def begin(
    request_id: str = "",
    *,
    api_request_id: str = "",
    job: str = "",
    trainer: Callable[[], str | None] | None = None,
) -> LogContext:
    """Start a request's or a job run's context (replacing the last one: a warm container
    runs one invocation after another). Without an id from AWS (a local run) one is made,
    so the lines of one request still belong together."""
    request_id = request_id or api_request_id or "local-" + os.urandom(8).hex()
    context = LogContext(request_id, api_request_id, job, trainer)
    _context.set(context)
    return context


def with_trainer(trainer_id: str) -> None:
    """Name the trainer for the rest of this request or run (a fixed id, once known)."""
    now = current()
    _context.set(LogContext(now.request_id, now.api_request_id, now.job, lambda: trainer_id))


def current() -> LogContext:
    return _context.get() or _NO_CONTEXT


# --- Redaction: a second line of defence ---------------------------------------------------
# The fix is not logging client data at all (no call site passes a number, an address,
# a text or a link); this catches what a future call site, or an exception's words, lets
# slip. Only on the JSON (deployed) path: local text logs are for the developer.


@cache
def _redactions() -> tuple[tuple[re.Pattern[str], str], ...]:
    return (
        # Capability links: the segment after the path that makes a link a key.
        (re.compile(r"(/(?:c|s|o|i|pay|feeds/[tc])/)[^/\s?#\"'<>]+"), r"\1[redacted]"),
        (re.compile(r"(token=)[^&\s\"'<>]+"), r"\1[redacted]"),
        # 256-bit tokens and MACs (43 URL-safe characters) and anything as long.
        (re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{40,}(?![A-Za-z0-9_-])"), "[redacted]"),
        (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"), "[email]"),
        # E.164 (as stored and sent) and a bare international number (wa.me's form).
        (re.compile(r"\+\d[\d ().-]{5,}\d"), "[phone]"),
        # Not between colons: an ARN's 12-digit account id is not a phone number.
        (re.compile(r"(?<![\d.:])\d{10,15}(?![\d.:])"), "[phone]"),
    )


def redact(text: str) -> str:
    for pattern, replacement in _redactions():
        text = pattern.sub(replacement, text)
    return text


# --- Logs ----------------------------------------------------------------------------------


def _iso_utc(created: float) -> str:
    seconds = time.gmtime(created)
    millis = int(created * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", seconds) + f".{millis:03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (CloudWatch Logs Insights reads its fields)."""

    def format(self, record: logging.LogRecord) -> str:
        context = current()
        entry: dict[str, Any] = {
            "time": _iso_utc(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
            # Lambda's runtime stamps each record with the invocation's id: the fallback
            # for a line written before (or outside) a request's or a run's context.
            "request_id": context.request_id or str(getattr(record, "aws_request_id", "")),
        }
        if context.api_request_id:
            entry["api_request_id"] = context.api_request_id
        function = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        if function:
            entry["function"] = function
        entry["stage"] = stage()
        if context.job:
            entry["job"] = context.job
        trainer_id = context.trainer_id
        if trainer_id:
            entry["trainer_id"] = trainer_id
        for name in EXTRA_FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                entry[name] = redact(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


_LEVELS: Final = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}


def log_level(env: Mapping[str, str]) -> int | None:
    """LOG_LEVEL's level (None when unset or not a level name)."""
    name = env.get("LOG_LEVEL", "").strip().upper()
    return logging.getLevelName(name) if name in _LEVELS else None


def wants_json(env: Mapping[str, str]) -> bool:
    """JSON in Lambda (AWS sets AWS_LAMBDA_FUNCTION_NAME) or when LOG_FORMAT=json asks."""
    chosen = env.get("LOG_FORMAT", "").strip().lower()
    if chosen:
        return chosen == "json"
    return bool(env.get("AWS_LAMBDA_FUNCTION_NAME"))


def configure_logging(
    env: Mapping[str, str] | None = None,
    root: logging.Logger | None = None,
    stream: IO[str] | None = None,
) -> None:
    """Set the level and, deployed, the JSON format. Safe to call again.

    Lambda's Python runtime has already put a handler on the root logger (it writes to
    the function's log and stamps the request id): its formatter is replaced rather than
    a second handler added, which would write every line twice. Without one (a local run
    asking for JSON) a stdout handler is added, once."""
    env = os.environ if env is None else env
    root = root or logging.getLogger()
    level = log_level(env)
    if not wants_json(env):
        if level is not None:
            set_level(root, level)
        return
    if not root.handlers:
        root.addHandler(logging.StreamHandler(stream or sys.stdout))
    for handler in root.handlers:
        if not isinstance(handler.formatter, JsonFormatter):
            handler.setFormatter(JsonFormatter())
    # Python's default (WARNING) is why INFO lines never reached CloudWatch.
    set_level(root, logging.INFO if level is None else level)


APP_LOGGER: Final = "pt_bookings"


def set_level(root: logging.Logger, level: int) -> None:
    """`level` for our loggers; never below INFO for everyone else's. botocore at DEBUG
    writes whole requests and responses (items with clients' numbers and addresses, and
    signed headers) into the log: LOG_LEVEL=DEBUG is for our own lines only."""
    root.setLevel(max(level, logging.INFO))
    app = (
        logging.getLogger(APP_LOGGER) if root is logging.getLogger() else root.getChild(APP_LOGGER)
    )
    app.setLevel(level)


# --- Metrics (Embedded Metric Format) ------------------------------------------------------

# None: decided by the stage; a test sets True or False (`publish_metrics`).
_metrics_forced: bool | None = None


def publish_metrics(on: bool | None) -> None:
    """Tests: emit metrics whatever the stage (True), never (False), or as the stage says."""
    global _metrics_forced
    _metrics_forced = on


def metrics_enabled() -> bool:
    return _metrics_forced if _metrics_forced is not None else stage() in DEPLOYED_STAGES


def emf_document(
    metrics: Mapping[str, tuple[float, str]],
    stage_name: str,
    timestamp_ms: int,
    properties: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The EMF document for `metrics` ({name: (value, unit)}) under the Stage dimension.

    Per AWS's specification: `_aws.Timestamp` in epoch milliseconds, one MetricDirective
    naming the namespace, the dimension sets (lists of root member names) and each
    metric's name and unit; the dimension and metric values as root members. Properties
    (the request id) ride along as plain members, searchable but not metrics."""
    document: dict[str, Any] = {
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [["Stage"]],
                    "Metrics": [
                        {"Name": name, "Unit": unit} for name, (_v, unit) in metrics.items()
                    ],
                }
            ],
        },
        "Stage": stage_name,
    }
    document.update(properties or {})
    document.update({name: value for name, (value, _) in metrics.items()})
    return document


def put_metrics(metrics: Mapping[str, tuple[float, str]], stream: IO[str] | None = None) -> None:
    """Emit `metrics` ({name: (value, unit)}) as one EMF line on stdout, deployed only."""
    if not metrics or not metrics_enabled():
        return
    context = current()
    properties = {"request_id": context.request_id} if context.request_id else {}
    if context.job:
        properties["job"] = context.job
    document = emf_document(metrics, stage(), int(time.time() * 1000), properties)
    out = stream or sys.stdout
    # One write of one line: CloudWatch Logs takes each stdout line as its own event.
    out.write(json.dumps(document, separators=(",", ":")) + "\n")
    out.flush()


def count(name: str, value: int = 1) -> None:
    """A Count metric (Bookings, SignIns...)."""
    put_metrics({name: (value, COUNT)})

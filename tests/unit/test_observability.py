"""Structured logs and EMF metrics (chalicelib/observability.py, docs/observability.md).

No AWS and no table: loggers of their own (never the root logger pytest captures with),
streams in memory, and a fake outbox for the dispatcher's per-run metrics."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib import observability
from chalicelib.domain.messages import Message
from chalicelib.messaging.delivery import SendError, SendResult
from chalicelib.services import dispatcher

TOKEN = "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWo"  # 43 URL-safe characters


@pytest.fixture(autouse=True)
def _fresh_context() -> Iterator[None]:
    observability.begin("before-each")
    observability.publish_metrics(None)
    yield
    observability.publish_metrics(None)


class LambdaLikeHandler(logging.Handler):
    """What Lambda's Python runtime puts on the root logger: it stamps the invocation's
    request id on each record and writes formatted lines to the function's log."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("[%(levelname)s] %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        record.aws_request_id = "lambda-stamped-id"
        self.lines.append(self.format(record))


def lambda_root() -> tuple[logging.Logger, LambdaLikeHandler]:
    root = logging.Logger("lambda-root")  # outside the logging tree: nothing propagates
    handler = LambdaLikeHandler()
    root.addHandler(handler)
    return root, handler


LAMBDA_ENV = {"AWS_LAMBDA_FUNCTION_NAME": "pt-bookings-prod", "APP_STAGE": "prod"}


def json_lines(handler: LambdaLikeHandler) -> list[dict[str, Any]]:
    return [json.loads(line) for line in handler.lines]


# --- The formatter --------------------------------------------------------------------------


def test_a_line_is_one_json_object_with_time_level_logger_and_context(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in LAMBDA_ENV.items():
        monkeypatch.setenv(name, value)
    root, handler = lambda_root()
    observability.configure_logging(LAMBDA_ENV, root)
    observability.begin("req-1", api_request_id="api-1", trainer=lambda: "coach1")
    root.warning("%s things", 3, extra={"route": "email"})
    (line,) = handler.lines
    assert "\n" not in line
    entry = json.loads(line)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry.pop("time"))
    assert entry == {
        "level": "WARNING",
        "logger": "lambda-root",
        "message": "3 things",
        "request_id": "req-1",
        "api_request_id": "api-1",
        "function": "pt-bookings-prod",
        "stage": "prod",
        "trainer_id": "coach1",
        "route": "email",
    }


def test_the_trainer_appears_once_the_session_is_known_and_never_before() -> None:
    root, handler = lambda_root()
    observability.configure_logging(LAMBDA_ENV, root)
    session: dict[str, str] = {}
    observability.begin("req-2", trainer=lambda: session.get("trainer"))
    root.info("before the cookie was read")
    session["trainer"] = "coach2"
    root.info("after")
    before, after = json_lines(handler)
    assert "trainer_id" not in before and after["trainer_id"] == "coach2"


def test_a_job_line_names_the_job_and_a_fixed_trainer() -> None:
    root, handler = lambda_root()
    observability.configure_logging(LAMBDA_ENV, root)
    observability.begin("run-1", job="dispatch_messages")
    observability.with_trainer("coach3")
    root.info("x")
    (entry,) = json_lines(handler)
    assert (entry["request_id"], entry["job"], entry["trainer_id"]) == (
        "run-1",
        "dispatch_messages",
        "coach3",
    )


def test_without_a_context_id_the_runtimes_stamp_is_the_request_id() -> None:
    root, handler = lambda_root()
    observability.configure_logging(LAMBDA_ENV, root)
    observability._context.set(None)  # a line logged at import, before any invocation
    root.info("cold start")
    assert json_lines(handler)[0]["request_id"] == "lambda-stamped-id"


def test_a_local_context_gets_an_id_of_its_own() -> None:
    first = observability.begin().request_id
    second = observability.begin().request_id
    assert first.startswith("local-") and second.startswith("local-") and first != second


def test_only_whitelisted_extras_are_written() -> None:
    root, handler = lambda_root()
    observability.configure_logging(LAMBDA_ENV, root)
    root.info("x", extra={"message_id": "m1", "client": {"phone": "+447400123456"}})
    (entry,) = json_lines(handler)
    assert entry["message_id"] == "m1" and "client" not in entry
    assert "447400123456" not in handler.lines[0]


def test_an_exception_is_one_field_of_the_same_line_and_redacted() -> None:
    root, handler = lambda_root()
    observability.configure_logging(LAMBDA_ENV, root)
    try:
        raise ValueError("bad number +44 7400 123456 for priya@example.com")
    except ValueError:
        root.exception("sending failed")
    (line,) = handler.lines
    entry = json.loads(line)
    assert entry["level"] == "ERROR" and "ValueError" in entry["exception"]
    assert "7400" not in line and "priya@" not in line


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        (f"GET /c/{TOKEN}/book", "GET /c/[redacted]/book"),
        ("GET /s/short-but-secret", "GET /s/[redacted]"),
        ("/pay/t1.c1.1.all.mac", "/pay/[redacted]"),
        ("/feeds/c/t1.c1.1.mac", "/feeds/c/[redacted]"),
        (f"/login/confirm?token={TOKEN}&x=1", "/login/confirm?token=[redacted]&x=1"),
        (f"cookie {TOKEN} seen", "cookie [redacted] seen"),
        ("to +447400123456 now", "to [phone] now"),
        ("to +44 (0)7400 123-456.", "to [phone]."),
        ("wa.me/447400123456?text=", "wa.me/[phone]?text="),
        ("for Priya.Shah+pt@example.co.uk.", "for [email]."),
        # What must survive: ids, session refs, times, counts.
        ("message msg-0001 of 2026-W48.20261125T090000Z.s1", None),
        ("at 2026-11-23 09:00, 3 due", None),
        ("request c6af9ac6-7b61-11e6-9a41-93e8deadbeef", None),
        ("topic arn:aws:sns:eu-west-2:123456789012:pt-bookings-prod-ses-events", None),
    ],
)
def test_redaction_catches_links_tokens_numbers_and_addresses(raw: str, kept: str | None) -> None:
    assert observability.redact(raw) == (raw if kept is None else kept)


def test_the_middleware_names_lambdas_and_api_gateways_ids_and_the_checked_trainer() -> None:
    from types import SimpleNamespace

    from chalicelib.web import middleware

    event = SimpleNamespace(
        lambda_context=SimpleNamespace(aws_request_id="lambda-1"),
        context={"requestId": "api-1", "resourcePath": "/s/{token}"},
    )
    state = SimpleNamespace(session=None)
    middleware._begin_log_context(event, state)  # type: ignore[arg-type]
    context = observability.current()
    assert (context.request_id, context.api_request_id) == ("lambda-1", "api-1")
    assert context.trainer_id is None  # the cookie is not read yet: no trainer named
    state.session = SimpleNamespace(trainer=SimpleNamespace(id="coach7"))
    assert observability.current().trainer_id == "coach7"
    # Chalice's local server has neither id: the request still gets one of its own.
    middleware._begin_log_context(SimpleNamespace(context={}), state)  # type: ignore[arg-type]
    assert observability.current().request_id.startswith("local-")


# --- Configuration --------------------------------------------------------------------------


def test_lambdas_handler_gets_our_formatter_once_and_no_second_handler() -> None:
    root, handler = lambda_root()
    for _ in range(3):  # asked again (a second import, a test): still one handler
        observability.configure_logging(LAMBDA_ENV, root)
    assert root.handlers == [handler]
    assert isinstance(handler.formatter, observability.JsonFormatter)
    root.info("once")
    assert len(handler.lines) == 1


def test_asked_for_json_with_no_handler_one_stdout_handler_is_added_once() -> None:
    root = logging.Logger("bare-root")
    stream = io.StringIO()
    for _ in range(2):
        observability.configure_logging({"LOG_FORMAT": "json"}, root, stream)
    assert len(root.handlers) == 1
    root.info("hello")
    assert json.loads(stream.getvalue())["message"] == "hello"


@pytest.mark.parametrize(
    ("env", "level"),
    [
        ({}, logging.INFO),  # Python's WARNING would hide every INFO line
        ({"LOG_LEVEL": "debug"}, logging.DEBUG),
        ({"LOG_LEVEL": " ERROR "}, logging.ERROR),
        ({"LOG_LEVEL": "verbose"}, logging.INFO),  # not a level: the default
    ],
)
def test_the_level_comes_from_log_level(env: dict[str, str], level: int) -> None:
    root, _handler = lambda_root()
    observability.configure_logging({**LAMBDA_ENV, **env}, root)
    assert root.getChild("pt_bookings").level == level
    # Everyone else's loggers never below INFO: botocore's DEBUG dumps whole requests.
    assert root.level == max(level, logging.INFO)


def test_debug_opens_our_lines_and_keeps_botocores_wire_dumps_out() -> None:
    root = logging.getLogger()
    app_logger = logging.getLogger("pt_bookings")
    saved = root.level, app_logger.level
    try:
        observability.set_level(root, logging.DEBUG)
        assert logging.getLogger("pt_bookings.dispatcher").isEnabledFor(logging.DEBUG)
        assert not logging.getLogger("botocore.endpoint").isEnabledFor(logging.DEBUG)
    finally:
        root.setLevel(saved[0])
        app_logger.setLevel(saved[1])


def test_local_runs_keep_their_text_logs_unless_asked() -> None:
    root, handler = lambda_root()
    root.setLevel(logging.WARNING)
    observability.configure_logging({"APP_STAGE": "local"}, root)
    assert not isinstance(handler.formatter, observability.JsonFormatter)
    assert root.level == logging.WARNING
    observability.configure_logging({"APP_STAGE": "local", "LOG_LEVEL": "DEBUG"}, root)
    assert root.getChild("pt_bookings").level == logging.DEBUG
    assert not isinstance(handler.formatter, observability.JsonFormatter)
    observability.configure_logging({"AWS_LAMBDA_FUNCTION_NAME": "f", "LOG_FORMAT": "text"}, root)
    assert not isinstance(handler.formatter, observability.JsonFormatter)


# --- EMF ------------------------------------------------------------------------------------


def test_the_emf_document_has_the_shape_aws_specifies() -> None:
    document = observability.emf_document(
        {"MessagesFailed": (2, "Count"), "OldestQueuedMessageAgeSeconds": (61.5, "Seconds")},
        "prod",
        1764582000123,
        {"request_id": "run-1"},
    )
    assert document == {
        "_aws": {
            "Timestamp": 1764582000123,
            "CloudWatchMetrics": [
                {
                    "Namespace": "PTBookings",
                    "Dimensions": [["Stage"]],
                    "Metrics": [
                        {"Name": "MessagesFailed", "Unit": "Count"},
                        {"Name": "OldestQueuedMessageAgeSeconds", "Unit": "Seconds"},
                    ],
                }
            ],
        },
        "Stage": "prod",
        "request_id": "run-1",
        "MessagesFailed": 2,
        "OldestQueuedMessageAgeSeconds": 61.5,
    }


def _emitted(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


@pytest.mark.parametrize(("stage", "published"), [("prod", True), ("dev", True), ("test", False)])
def test_metrics_are_one_stdout_line_on_deployed_stages_only(
    stage: str, published: bool, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APP_STAGE", stage)
    observability.begin("req-9", trainer=lambda: "coach9")
    observability.count("Bookings", 2)
    emitted = _emitted(capsys)
    if not published:
        assert emitted == []
        return
    (document,) = emitted
    directive = document["_aws"]["CloudWatchMetrics"][0]
    assert directive["Dimensions"] == [["Stage"]] and document["Stage"] == stage
    assert document["Bookings"] == 2 and document["request_id"] == "req-9"
    assert abs(document["_aws"]["Timestamp"] / 1000 - datetime.now(UTC).timestamp()) < 60
    # A trainer is never a dimension, nor anywhere in a metric line.
    assert "coach9" not in json.dumps(document)


def test_a_test_can_ask_for_metrics_on_a_local_stage(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APP_STAGE", "test")
    observability.publish_metrics(True)
    observability.count("SignIns")
    assert _emitted(capsys)[0]["SignIns"] == 1


# --- The dispatcher's metrics, every run ----------------------------------------------------

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def message(message_id: str, **fields: Any) -> Message:
    return Message.model_validate(
        {
            "id": message_id,
            "week": "2026-W48",
            "subject_id": "s1",
            "subject_ref": "2026-W48.20261125T090000Z.s1",
            "client_id": "c1",
            "client_name": "Priya Shah",
            "kind": "confirmation",
            "channel": "whatsapp",
            "to": "+447400123456",
            "text": "Hi",
            "created_at": NOW - timedelta(minutes=30),
            **fields,
        }
    )


class FakeOutbox:
    def __init__(self, due: list[Message]) -> None:
        self._due = due

    def due(self, now: datetime) -> list[tuple[str, Message]]:
        return [("coach", m) for m in self._due]

    def claim(self, trainer_id: str, m: Message, now: datetime, lease: datetime) -> Message:
        return m.model_copy(update={"status": "sending", "attempts": m.attempts + 1})

    def mark_sent(self, *args: Any) -> None: ...

    def mark_failed(self, *args: Any, **kwargs: Any) -> bool:
        return True

    def retry_later(self, *args: Any) -> None: ...


class FakeRepo:
    def __init__(self, due: list[Message]) -> None:
        self.outbox = FakeOutbox(due)


def sender(_trainer_id: str, m: Message) -> SendResult:
    if m.id == "bad-number":
        raise SendError("not a WhatsApp number", retryable=False)
    return SendResult("log", "log-1")


def test_each_dispatch_run_emits_sent_failed_queued_and_the_oldest_wait(
    capsys: pytest.CaptureFixture[str],
) -> None:
    observability.publish_metrics(True)
    due = [
        # Due again 20 minutes ago after a retry: it has waited 20, not 30 (its age).
        message("oldest", attempts=1, next_attempt_at=NOW - timedelta(minutes=20)),
        message("fresh", created_at=NOW - timedelta(seconds=5)),
        message("bad-number"),
        # A claim whose lease ran out: failed as interrupted, never counted as queued.
        message("held", status="sending", next_attempt_at=NOW - timedelta(hours=1)),
    ]
    report = dispatcher.dispatch(FakeRepo(due), NOW, sender)  # type: ignore[arg-type]
    assert (report.sent, sorted(report.failed)) == (2, ["bad-number", "held"])
    (document,) = _emitted(capsys)
    assert {k: document[k] for k in ("MessagesSent", "MessagesFailed", "MessagesQueued")} == {
        "MessagesSent": 2,
        "MessagesFailed": 2,
        "MessagesQueued": 3,
    }
    assert document["OldestQueuedMessageAgeSeconds"] == 1800.0  # bad-number: 30 min due
    units = {m["Name"]: m["Unit"] for m in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert units["OldestQueuedMessageAgeSeconds"] == "Seconds"
    assert units["MessagesFailed"] == "Count"


def test_a_run_with_nothing_due_still_reports_zeros(capsys: pytest.CaptureFixture[str]) -> None:
    observability.publish_metrics(True)
    dispatcher.dispatch(FakeRepo([]), NOW, sender)  # type: ignore[arg-type]
    (document,) = _emitted(capsys)
    assert [document[k] for k in ("MessagesSent", "MessagesFailed", "MessagesQueued")] == [0, 0, 0]
    assert document["OldestQueuedMessageAgeSeconds"] == 0


def test_the_oldest_wait_is_measured_from_when_a_message_became_due() -> None:
    due = [
        ("t", message("a", created_at=NOW - timedelta(minutes=3))),
        ("t", message("b", created_at=NOW - timedelta(minutes=50), next_attempt_at=NOW)),
        ("t", message("c", status="sending", created_at=NOW - timedelta(days=1))),
    ]
    assert dispatcher.queued_age_seconds(due, NOW) == 180.0
    # A message due a moment from now (clock skew between runs) waits 0, never less.
    later = [("t", message("d", created_at=NOW + timedelta(seconds=2)))]
    assert dispatcher.queued_age_seconds(later, NOW) == 0.0

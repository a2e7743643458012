"""Dispatcher throughput against fake WhatsApp providers: `make bench-dispatch`.

    python -m benchmarks.dispatch [--messages N] [--trainers T] [--provider twilio|meta|both]
                                  [--latency-ms MS [MS ...]] [--bundles B]

On the benchmark's in-process moto (benchmarks/moto_env.py) it builds T trainers with
recurring clients and booked sessions through the app's own services
(benchmarks/accounts.py). Then, for each provider and each provider latency asked for
(default: both providers, 0 and 50 ms):

- serves a fake of the provider's HTTP API on 127.0.0.1 in a thread (Twilio: 201 with a
  `sid`; Meta's Graph API: 200 with `messages[0].id`), checking what each request carries,
  answering after the fixed latency;
- points the stage at it the way a deployed stage is configured (WHATSAPP_PROVIDER, the
  provider's account settings and API base URL, WHATSAPP_TEMPLATES for every kind, so the
  24-hour window is checked as deployed: one GetItem per WhatsApp message);
- queues N WhatsApp messages (a confirmation and an invoice per session, spread over the
  trainers) and a round of confirmations of B bundles, which go by email (6 each: the
  bundle's client has an email address);
- runs the scheduled `dispatch_messages` job (web/jobs_entry: the composition root's
  StageSender, one `now` per run) until a run finds nothing due; that last run is what
  an idle minute costs.

It prints, per provider and latency: the runs it took (a run takes at most
`Outbox.due`'s 50 messages), messages sent, wall time, messages per second (of the whole
drain and of its first full run), DynamoDB calls per message by operation, CPU per message
outside moto and the fake, and the fake's request count. The fake's count must equal the
WhatsApp messages sent and every queued message must be "sent" in the table afterwards:
a check that fails stops the script with an error, since its figures would be wrong.
Otherwise it is a measurement, not a test: the exit code is 0 whatever it finds.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import io
import json
import os
import random
import secrets
import sys
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final

from benchmarks.moto_env import METER, NOW, FrozenClock, moto_table

PROVIDERS: Final = ("twilio", "meta")
FIRST_WEEK: Final = "2026-W49"  # the week after NOW's: every session can still be confirmed
TEMPLATE_SLOTS: Final = 10  # benchmarks.accounts.TEMPLATE: one recurring client per slot

# The fake accounts the stage is pointed at (shapes the app's settings checks accept).
TWILIO_ACCOUNT_SID: Final = "AC" + "0123456789abcdef" * 2
TWILIO_AUTH_TOKEN: Final = "bench-twilio-token"
TWILIO_FROM: Final = "+14155238886"
META_PHONE_NUMBER_ID: Final = "106540352242922"
META_ACCESS_TOKEN: Final = "bench-meta-token"
META_GRAPH_VERSION: Final = "v23.0"
PUBLIC_BASE_URL: Final = "http://testserver"  # the test stage's, as benchmarks.accounts links

# Settings this script sets for a provider; all removed before the next one is set.
PROVIDER_SETTINGS: Final = (
    "WHATSAPP_PROVIDER",
    "WHATSAPP_TEMPLATES",
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "TWILIO_WHATSAPP_FROM",
    "TWILIO_API_BASE",
    "META_PHONE_NUMBER_ID",
    "META_ACCESS_TOKEN",
    "META_GRAPH_VERSION",
    "META_API_BASE",
)
# A proxy from the shell would swallow requests meant for 127.0.0.1 (urllib honours these).
PROXY_SETTINGS: Final = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


# The fake provider ---------------------------------------------------------------------
@dataclass
class FakeProvider:
    """What the fake was asked: accepted sends, split by payload, and anything it refused
    (a request the real API would refuse too, which the checks then report)."""

    provider: str
    latency: float  # seconds before each answer
    url: str = ""
    accepted: int = 0
    templates: int = 0
    texts: int = 0
    refused: list[str] = field(default_factory=list)
    cpu: float = 0.0  # seconds of CPU in the handler threads (left out of the app's CPU)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def requests(self) -> int:
        return self.accepted + len(self.refused)

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        """(status, body) the real API would give a well-formed request, else a 400."""
        if self.provider == "twilio":
            problem, template = _twilio_problem(path, headers, body)
            reply: dict[str, Any] = {"sid": "SM" + secrets.token_hex(16), "status": "queued"}
            status = 201
        else:
            problem, template = _meta_problem(path, headers, body)
            reply = {
                "messaging_product": "whatsapp",
                "messages": [{"id": "wamid." + secrets.token_urlsafe(24)}],
            }
            status = 200
        with self.lock:
            if problem:
                self.refused.append(problem)
            else:
                self.accepted += 1
                self.templates += template
                self.texts += not template
        if problem:
            return 400, json.dumps({"message": problem}).encode()
        return status, json.dumps(reply).encode()


def _twilio_problem(path: str, headers: dict[str, str], body: bytes) -> tuple[str, bool]:
    """What is wrong with a Messages API request ("" if nothing), and whether it sends a
    template (ContentSid) rather than free-form text (Body)."""
    if path != f"/2010-04-01/Accounts/{TWILIO_ACCOUNT_SID}/Messages.json":
        return f"unexpected path {path}", False
    if not headers.get("authorization", "").startswith("Basic "):
        return "no Basic authorization", False
    form = dict(urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    if form.get("From") != f"whatsapp:{TWILIO_FROM}" or not form.get("To", "").startswith(
        "whatsapp:+"
    ):
        return "From or To is not a WhatsApp address", False
    if "ContentSid" in form:
        return ("" if json.loads(form.get("ContentVariables", "")) else "no variables"), True
    return ("" if form.get("Body") else "neither Body nor ContentSid"), False


def _meta_problem(path: str, headers: dict[str, str], body: bytes) -> tuple[str, bool]:
    if path != f"/{META_GRAPH_VERSION}/{META_PHONE_NUMBER_ID}/messages":
        return f"unexpected path {path}", False
    if headers.get("authorization") != f"Bearer {META_ACCESS_TOKEN}":
        return "wrong bearer token", False
    payload = json.loads(body)
    if payload.get("messaging_product") != "whatsapp" or not payload.get("to"):
        return "not a WhatsApp message", False
    if payload.get("type") == "template":
        parameters = payload["template"]["components"][0]["parameters"]
        return ("" if parameters else "a template without parameters"), True
    return ("" if payload.get("text", {}).get("body") else "neither text nor template"), False


@contextlib.contextmanager
def serve(fake: FakeProvider) -> Iterator[FakeProvider]:
    """The fake on 127.0.0.1, a thread per request (as the real API serves us: one
    connection per send, urllib keeps none open)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            started = time.thread_time()
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            # The request line, not self.path: the handler collapses a leading "//".
            status, body = fake.answer(self.requestline.split()[1], headers, raw)
            fake_cpu = time.thread_time() - started
            if fake.latency:
                time.sleep(fake.latency)
            started = time.thread_time()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            with fake.lock:
                fake.cpu += fake_cpu + time.thread_time() - started

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the report is the output, not an access log

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def provider_settings(provider: str, api_base: str) -> dict[str, str]:
    """A deployed stage's settings for `provider`, its API at `api_base`, with a
    template for every kind (the window check runs only on a stage with templates)."""
    from chalicelib.messaging import templates

    if provider == "twilio":
        bindings = {
            kind: {"content_sid": "HX" + f"{n:032x}"} for n, kind in enumerate(templates.SPECS)
        }
        return {
            "WHATSAPP_PROVIDER": "twilio",
            "WHATSAPP_TEMPLATES": json.dumps(bindings),
            "TWILIO_ACCOUNT_SID": TWILIO_ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": TWILIO_AUTH_TOKEN,
            "TWILIO_WHATSAPP_FROM": TWILIO_FROM,
            "TWILIO_API_BASE": api_base,
        }
    bindings = {
        kind: {"name": spec.name, "language": spec.language}
        for kind, spec in templates.SPECS.items()
    }
    return {
        "WHATSAPP_PROVIDER": "meta",
        "WHATSAPP_TEMPLATES": json.dumps(bindings),
        "META_PHONE_NUMBER_ID": META_PHONE_NUMBER_ID,
        "META_ACCESS_TOKEN": META_ACCESS_TOKEN,
        "META_GRAPH_VERSION": META_GRAPH_VERSION,
        "META_API_BASE": api_base,
    }


@contextlib.contextmanager
def stage_settings(settings: dict[str, str]) -> Iterator[None]:
    for name in PROVIDER_SETTINGS:
        os.environ.pop(name, None)
    os.environ.update(settings)
    try:
        yield
    finally:
        for name in PROVIDER_SETTINGS:
            os.environ.pop(name, None)


# The trainers ----------------------------------------------------------------------------
@dataclass
class Fleet:
    """T trainers, each with one recurring client per template slot and their booked
    sessions; the first B also sold a 6-session bundle to a client with an email address
    (its confirmations go by email)."""

    coaches: list[Any]
    sessions: dict[str, list[Any]]  # trainer id -> booked sessions
    bundles: dict[str, str]  # trainer id -> bundle id
    seconds: float = 0.0


def build_fleet(trainers: int, sessions_each: int, bundles: int) -> Fleet:
    from benchmarks.accounts import _Trainer
    from chalicelib import runtime
    from chalicelib.domain.timeutil import week_monday

    started = time.perf_counter()
    rng = random.Random(14)
    weeks = -(-sessions_each // TEMPLATE_SLOTS)
    fleet = Fleet([], {}, {})
    for n in range(trainers):
        coach = _Trainer(runtime.repository(), rng)
        at = NOW - timedelta(days=30)
        coach.create(f"coach{n}@example.com", f"Coach {n} PT", at)
        # benchmarks.accounts gives every third client an email: the first one has one.
        made = [coach.add_client(slot, at) for slot in range(TEMPLATE_SLOTS)]
        for slot, client in enumerate(made):
            coach.hold(client.id, (slot,))
        applied = coach.apply(FIRST_WEEK, weeks, NOW - timedelta(hours=1))
        booked = [s for week in applied for s in week.booked][:sessions_each]
        if len(booked) < sessions_each:
            raise RuntimeError(f"Apply template booked {len(booked)} of {sessions_each} sessions")
        if n < bundles:
            # Sundays 10:00, clear of the weekly template.
            sunday = week_monday(FIRST_WEEK) + timedelta(days=6)
            made_bundle = coach.bundle(made[0].id, sunday.isoformat(), "10:00", NOW)
            fleet.bundles[coach.tid] = made_bundle.id
        fleet.coaches.append(coach)
        fleet.sessions[coach.tid] = booked
    fleet.seconds = time.perf_counter() - started
    return fleet


def queue_whatsapp(fleet: Fleet, count: int) -> list[tuple[str, str]]:
    """`count` messages, trainer by trainer in turn: a confirmation, then an invoice, of
    each session, as the session page's buttons queue them. Each batch has new ids, so
    one session can be in several batches."""
    from chalicelib.domain.tokens import new_id
    from chalicelib.services import messages, sessions

    queued: list[tuple[str, str]] = []
    for n in range(count):
        coach = fleet.coaches[n % len(fleet.coaches)]
        mine = n // len(fleet.coaches)  # this trainer's n-th message of the batch
        booked = fleet.sessions[coach.tid]
        session = booked[(mine // 2) % len(booked)]
        if mine % 2 == 0:
            link = sessions.session_link_ref(PUBLIC_BASE_URL, coach.tid)
            made = messages.send_confirmation(
                coach.repo, coach.trainer, session, new_id(), link, NOW
            )
        else:
            made = messages.send_invoice(coach.repo, coach.trainer, session, new_id(), NOW)
        queued.append((coach.tid, made.message_id))
    return queued


def queue_emails(fleet: Fleet) -> list[tuple[str, str]]:
    """The next round of each bundle's confirmations (Send confirmations, or Resend),
    one email per upcoming session."""
    from chalicelib.services import programs, sessions

    queued: list[tuple[str, str]] = []
    for coach in fleet.coaches:
        bundle_id = fleet.bundles.get(coach.tid)
        if bundle_id is None:
            continue
        bundle = programs.store(coach.repo).get_bundle(coach.tid, bundle_id)
        command = programs.SendConfirmations.model_validate(
            {"bundle_id": bundle_id, "round": str(bundle.confirmations_round)}
        )
        link = sessions.session_link_ref(PUBLIC_BASE_URL, coach.tid)
        programs.send_confirmations(coach.deps(NOW), coach.trainer, command, link)
        # Their ids are the bundle's and the round's: read back, outside the measurement.
        prefix = f"{bundle_id}-r{bundle.confirmations_round + 1}-"
        found, _ = coach.repo.outbox.page(coach.tid, None, None, limit=10_000)
        queued += [(coach.tid, m.id) for m in found if m.id.startswith(prefix)]
        if not all(m.channel == "email" for m in found if m.id.startswith(prefix)):
            raise RuntimeError("the bundle's confirmations did not go by email")
    return queued


# Where a run's time goes ----------------------------------------------------------------
@dataclass
class Clocks:
    """Wall time inside DynamoDB calls (botocore's, moto answering in-process) and
    inside provider HTTP calls (urllib to the fake), so a run's wall time can be split."""

    dynamodb: float = 0.0
    http: float = 0.0

    def reset(self) -> None:
        self.dynamodb = self.http = 0.0


CLOCKS = Clocks()


def install_clocks() -> None:
    """Hooks on boto3's default session (the app's client, made later, inherits them)
    and a timer around the one function every provider posts through."""
    import boto3

    from chalicelib.messaging import http_post

    def before(context: dict[str, Any], **_: Any) -> None:
        context["bench_wall"] = time.perf_counter()

    def after(context: dict[str, Any], **_: Any) -> None:
        started = context.pop("bench_wall", None)
        if started is not None:
            CLOCKS.dynamodb += time.perf_counter() - started

    events = boto3._get_default_session().events
    events.register("before-call.dynamodb", before)
    events.register("after-call.dynamodb", after)
    events.register("after-call-error.dynamodb", after)

    post = http_post.post

    def timed_post(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return post(*args, **kwargs)
        finally:
            CLOCKS.http += time.perf_counter() - started

    http_post.post = timed_post


# The runs --------------------------------------------------------------------------------
@dataclass
class Run:
    due: int
    sent: int
    wall: float  # seconds
    cpu: float  # seconds of process CPU outside moto, the meters and the fake
    moto_cpu: float
    dynamodb: float  # wall seconds inside DynamoDB calls
    http: float  # wall seconds inside provider calls
    operations: Counter[str]

    @property
    def calls(self) -> int:
        return sum(self.operations.values())


def run_limit() -> int:
    """What one dispatcher run takes at most: `Outbox.due`'s page, read from the code so
    the report stays true if it changes."""
    from chalicelib.repo.outbox import Outbox

    return int(inspect.signature(Outbox.due).parameters["limit"].default)


def one_run(fake: FakeProvider) -> Run:
    """The `dispatch_messages` job once, as the schedule fires it (console emails kept off
    the report's output)."""
    from chalicelib.web import jobs_entry

    METER.reset()
    CLOCKS.reset()
    fake_cpu = fake.cpu
    cpu, started = time.process_time(), time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        report = jobs_entry.dispatch_messages()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    if report["failed"] or report["retried"] or report["paused"] or report["deferred"]:
        raise RuntimeError(f"the run did not send everything it claimed: {report}")
    outside = METER.moto_cpu + METER.meter_cpu + (fake.cpu - fake_cpu)
    return Run(
        report["due"],
        report["claimed"],
        wall,
        cpu - outside,
        METER.moto_cpu,
        CLOCKS.dynamodb - METER.meter_cpu,  # the meters' hooks run inside those calls
        CLOCKS.http,
        Counter(METER.operations),
    )


@dataclass
class Scenario:
    provider: str
    latency_ms: int
    whatsapp: int = 0
    emails: int = 0
    runs: list[Run] = field(default_factory=list)
    idle: Run | None = None
    fake: FakeProvider | None = None

    @property
    def sent(self) -> int:
        return sum(r.sent for r in self.runs)

    @property
    def wall(self) -> float:
        return sum(r.wall for r in self.runs)

    @property
    def operations(self) -> Counter[str]:
        return sum((r.operations for r in self.runs), Counter())


def measure(fleet: Fleet, scenario: Scenario, *, emails: bool = True) -> None:
    fake = FakeProvider(scenario.provider, scenario.latency_ms / 1000)
    scenario.fake = fake
    with serve(fake), stage_settings(provider_settings(scenario.provider, fake.url)):
        queued = queue_whatsapp(fleet, scenario.whatsapp)
        if emails:
            by_email = queue_emails(fleet)
            scenario.emails = len(by_email)
            queued += by_email
        limit = len(queued) // run_limit() + 2  # a drain that never ends is a bug here
        while len(scenario.runs) < limit:
            run = one_run(fake)
            if not run.due:
                scenario.idle = run
                break
            scenario.runs.append(run)
        check(fleet, scenario, queued)


def check(fleet: Fleet, scenario: Scenario, queued: list[tuple[str, str]]) -> None:
    """Every message sent once: the fake saw one well-formed request per WhatsApp
    message, and the table says each queued message is sent, by the right provider."""
    fake = scenario.fake
    assert fake is not None
    problems: list[str] = []
    if scenario.idle is None:
        problems.append("messages were still due after the runs")
    if fake.refused:
        problems.append(f"the fake refused {len(fake.refused)} requests: {fake.refused[0]}")
    if fake.accepted != scenario.whatsapp:
        problems.append(f"the fake took {fake.accepted} sends for {scenario.whatsapp} messages")
    if scenario.sent != len(queued):
        problems.append(f"{scenario.sent} messages sent of {len(queued)} queued")
    wanted: dict[str, set[str]] = {}
    for trainer_id, message_id in queued:
        wanted.setdefault(trainer_id, set()).add(message_id)
    for coach in fleet.coaches:
        # The WhatsApp tab's list (every message of the trainer, newest first).
        found, _ = coach.repo.outbox.page(coach.tid, None, None, limit=10_000)
        mine = {m.id: m for m in found if m.id in wanted.get(coach.tid, set())}
        missing = wanted.get(coach.tid, set()) - set(mine)
        if missing:
            problems.append(f"{len(missing)} queued messages not found")
        for message in mine.values():
            expected = "console" if message.channel == "email" else scenario.provider
            if message.status != "sent" or message.provider != expected:
                problems.append(f"message {message.id} is {message.status} by {message.provider}")
                break
    if problems:
        raise RuntimeError(
            f"{scenario.provider} at {scenario.latency_ms} ms: " + "; ".join(problems)
        )


def idle_without_public_url() -> Run:
    """A run with nothing due on a stage without PUBLIC_BASE_URL (deployed stages as
    shipped): the sender is made before the run looks for work."""
    saved = os.environ.pop("PUBLIC_BASE_URL", None)
    try:
        return one_run(FakeProvider("twilio", 0))
    finally:
        if saved is not None:
            os.environ["PUBLIC_BASE_URL"] = saved


# The report ------------------------------------------------------------------------------
OPERATIONS: Final = ("Query", "GetItem", "UpdateItem", "TransactWriteItems")


def per_message(operations: Counter[str], sent: int) -> str:
    shown = [f"{operations[name] / sent:.2f} {name}" for name in OPERATIONS if operations[name]]
    others = sum(n for name, n in operations.items() if name not in OPERATIONS)
    if others:
        shown.append(
            f"{others / sent:.2f} other ({', '.join(sorted(set(operations) - set(OPERATIONS)))})"
        )
    return ", ".join(shown)


def _ms_per(seconds: float, sent: int) -> str:
    return f"{seconds * 1000 / sent:.1f}"


def print_report(
    fleet: Fleet, scenarios: list[Scenario], bare_idle: Run, seconds: float, args: Any
) -> None:
    fakes = [s.fake for s in scenarios if s.fake is not None]
    templates, texts = sum(f.templates for f in fakes), sum(f.texts for f in fakes)
    print()
    print(
        f"Dispatcher throughput: {len(fleet.coaches)} trainers; per provider and latency "
        f"{args.messages} WhatsApp messages (confirmations and invoices; the fakes took "
        f"{templates} templates and {texts} free-form texts) and {scenarios[0].emails} "
        f"emails (bundle confirmations); a run "
        f"takes at most {run_limit()} (Outbox.due). Trainers built in {fleet.seconds:.1f} s."
    )
    print()
    header = (
        f"{'provider':<8} {'latency':>7} {'runs':>4} {'sent':>5} {'wall s':>7} "
        f"{'msg/s':>6} {'1st run':>8} {'calls/msg':>9} {'fake req':>8}"
    )
    print(header)
    print("-" * len(header))
    for s in scenarios:
        first = s.runs[0]
        assert s.fake is not None
        print(
            f"{s.provider:<8} {s.latency_ms:>4} ms {len(s.runs):>4} {s.sent:>5} {s.wall:>7.2f} "
            f"{s.sent / s.wall:>6.1f} {first.sent / first.wall:>8.1f} "
            f"{sum(s.operations.values()) / s.sent:>9.2f} {s.fake.requests:>8}"
        )
    print()
    print("Where a message's wall time goes (ms per message, whole drain):")
    header = (
        f"{'provider':<8} {'latency':>7} {'wall':>6} {'DynamoDB':>9} {'provider':>9} "
        f"{'rest':>6} {'app CPU':>8} {'moto CPU':>9}"
    )
    print(header)
    print("-" * len(header))
    for s in scenarios:
        dynamodb = sum(r.dynamodb for r in s.runs)
        http = sum(r.http for r in s.runs)
        print(
            f"{s.provider:<8} {s.latency_ms:>4} ms {_ms_per(s.wall, s.sent):>6} "
            f"{_ms_per(dynamodb, s.sent):>9} {_ms_per(http, s.sent):>9} "
            f"{_ms_per(s.wall - dynamodb - http, s.sent):>6} "
            f"{_ms_per(sum(r.cpu for r in s.runs), s.sent):>8} "
            f"{_ms_per(sum(r.moto_cpu for r in s.runs), s.sent):>9}"
        )
    print()
    print("DynamoDB calls per message, by operation (whole drain, emails included):")
    for s in scenarios:
        print(f"  {s.provider} {s.latency_ms} ms: {per_message(s.operations, s.sent)}")
    print()
    print("A run with nothing due:")
    idle = scenarios[0].idle
    assert idle is not None
    print(f"  PUBLIC_BASE_URL set:     {idle.calls} call(s) {dict(idle.operations)}")
    print(f"  PUBLIC_BASE_URL not set: {bare_idle.calls} call(s) {dict(bare_idle.operations)}")
    print()
    print(
        "msg/s: messages sent / wall time of the runs that sent them (1st run: the first, "
        "full run alone). DynamoDB: wall time inside botocore's calls to the in-process moto; "
        "provider: inside the HTTP POST to the fake (its latency included); app CPU: process "
        "CPU outside moto, the meters and the fake's threads."
    )
    load = ", ".join(f"{n:.1f}" for n in os.getloadavg())
    print(f"Total {seconds:.1f} s on {os.cpu_count()} cores, load average {load} at the end.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=200, help="WhatsApp messages per run")
    parser.add_argument("--trainers", type=int, default=5)
    parser.add_argument("--provider", choices=(*PROVIDERS, "both"), default="both")
    parser.add_argument(
        "--latency-ms", type=int, nargs="+", default=[0, 50], help="the fake's answer delay"
    )
    parser.add_argument(
        "--bundles", type=int, default=1, help="trainers whose bundle confirmations go by email"
    )
    args = parser.parse_args(argv)
    args.trainers = max(1, args.trainers)
    args.messages = max(1, args.messages)
    args.bundles = max(0, min(args.bundles, args.trainers))
    started = time.perf_counter()
    providers = PROVIDERS if args.provider == "both" else (args.provider,)

    for name in PROXY_SETTINGS:
        os.environ.pop(name, None)
    with moto_table():
        from chalicelib import runtime

        install_clocks()
        # What a stage sets besides its provider: the test stage's public URL (Twilio's
        # delivery callback), and emails printed rather than sent through SES.
        os.environ["PUBLIC_BASE_URL"] = PUBLIC_BASE_URL
        os.environ["EMAIL_PROVIDER"] = "console"
        runtime.set_clock(FrozenClock(NOW))
        per_trainer = -(-args.messages // args.trainers)
        print(f"Building {args.trainers} trainers...", file=sys.stderr, flush=True)
        fleet = build_fleet(args.trainers, -(-per_trainer // 2), args.bundles)
        # Untimed: the first run of a process pays for imports and first connections.
        measure(fleet, Scenario(providers[0], 0, min(5, args.messages)), emails=False)
        scenarios: list[Scenario] = []
        for provider in providers:
            for latency in args.latency_ms:
                print(f"Measuring {provider} at {latency} ms...", file=sys.stderr, flush=True)
                scenario = Scenario(provider, max(0, latency), args.messages)
                measure(fleet, scenario)
                scenarios.append(scenario)
        bare_idle = idle_without_public_url()
        runtime.set_clock(None)
    print_report(fleet, scenarios, bare_idle, time.perf_counter() - started, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""One provider's failure never stops the others (issue 14, item 9), on the outbox on moto:
a missing setting or an unreadable secret fails (or retries) each WhatsApp message on its
own, in words, while email still goes; a provider that keeps failing is paused for the
rest of the run and its messages wait, queued, for the next; a run stops taking work
when its time runs low."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from botocore.exceptions import ClientError

from chalicelib import runtime
from chalicelib.domain.messages import EMAIL, WHATSAPP, Message
from chalicelib.messaging import whatsapp
from chalicelib.messaging.payloads import OutgoingWhatsApp
from chalicelib.repo.repository import Repository
from chalicelib.services import dispatcher
from tests.support.builders import NOW, add_client, add_location, add_slot, allocate, make_trainer
from tests.support.providers import no_provider_stage

TRAINER = "coach"


@pytest.fixture(autouse=True)
def _stage(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    no_provider_stage(monkeypatch)
    # A local stage: the console mailer prints the emails a test below looks for.
    monkeypatch.setenv("APP_STAGE", "test")
    yield
    whatsapp.forget_secrets()


def queue(repo: Repository, whatsapp_count: int, *, email: bool = True) -> list[str]:
    """`whatsapp_count` WhatsApp messages (ids w01, w02…) then one email (z-email), all due
    now; the due index gives them in id order."""
    trainer = make_trainer(repo)
    trainer, studio = add_location(repo, trainer)
    client = add_client(repo, trainer)
    booking = allocate(repo, trainer, add_slot(repo, trainer, studio), client)
    ids = [f"w{n:02d}" for n in range(1, whatsapp_count + 1)] + (["z-email"] if email else [])
    for message_id in ids:
        by_email = message_id == "z-email"
        message = Message(
            id=message_id,
            week=booking.week,
            subject_id=booking.id,
            subject_ref=booking.ref,
            client_id=client.id,
            client_name=client.name,
            kind="confirmation",
            channel=EMAIL if by_email else WHATSAPP,
            to="priya@example.com" if by_email else client.phone,
            subject="Your session" if by_email else "",
            text="See you on Wednesday.",
            created_at=NOW,
            next_attempt_at=NOW,
        )
        assert repo.queue_session_message(trainer.id, booking, message)
    return ids


def stored(repo: Repository) -> dict[str, Message]:
    return {m.id: m for m in repo.outbox.page(TRAINER, None, None, limit=100)[0]}


def twilio_env(monkeypatch: pytest.MonkeyPatch, **overrides: str) -> None:
    monkeypatch.setenv("WHATSAPP_PROVIDER", "twilio")
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC123")
    monkeypatch.setenv("TWILIO_WHATSAPP_FROM", "+14155238886")
    for name, value in overrides.items():
        monkeypatch.setenv(name, value)


# --- Set-up failures: each message, in words; email unaffected ------------------------------


def test_a_missing_setting_fails_each_whatsapp_message_in_words_and_email_goes(
    repo: Repository, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    twilio_env(monkeypatch)  # no TWILIO_AUTH_TOKEN(_PARAM)
    queue(repo, 3)

    report = dispatcher.dispatch(repo, NOW, runtime.message_sender())

    assert sorted(report.failed) == ["w01", "w02", "w03"] and not report.retried
    after = stored(repo)
    for message_id in ("w01", "w02", "w03"):
        assert after[message_id].status == "failed"
        assert after[message_id].error == (
            "WhatsApp is not configured: TWILIO_AUTH_TOKEN (or TWILIO_AUTH_TOKEN_PARAM) is "
            "missing (WHATSAPP_PROVIDER=twilio)"
        )
    assert after["z-email"].status == "sent" and after["z-email"].provider == "console"
    assert "email to priya@example.com" in capsys.readouterr().out
    assert report.paused == []  # a missing setting is about messages, not an outage


def test_an_unknown_provider_is_named_on_each_message(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WHATSAPP_PROVIDER", "carrier-pigeon")
    queue(repo, 1)
    dispatcher.dispatch(repo, NOW, runtime.message_sender())
    after = stored(repo)
    assert after["w01"].error is not None
    assert after["w01"].error.startswith("WhatsApp is not configured: Unknown WHATSAPP_PROVIDER")
    assert after["z-email"].status == "sent"


def test_an_unreadable_ssm_token_retries_each_message_and_is_read_once_per_run(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    twilio_env(monkeypatch, TWILIO_AUTH_TOKEN_PARAM="/pt/twilio")
    reads: list[str] = []

    def unreadable(name: str) -> str:
        reads.append(name)
        error = {"Error": {"Code": "ParameterNotFound", "Message": "no"}}
        raise ClientError(error, "GetParameter")  # type: ignore[arg-type]

    monkeypatch.setattr(whatsapp, "_read_secret", unreadable)
    queue(repo, 3)

    report = dispatcher.dispatch(repo, NOW, runtime.message_sender())

    assert sorted(report.retried) == ["w01", "w02", "w03"] and not report.failed
    assert reads == ["/pt/twilio"]  # not once per message
    after = stored(repo)
    assert {after[m].status for m in ("w01", "w02", "w03")} == {"queued"}
    assert after["w01"].error == (
        "WhatsApp is not configured: could not read TWILIO_AUTH_TOKEN_PARAM (/pt/twilio) "
        "from SSM: ParameterNotFound"
    )
    assert after["z-email"].status == "sent"


def test_a_broken_templates_setting_names_the_kind(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    twilio_env(monkeypatch, TWILIO_AUTH_TOKEN="tok", WHATSAPP_TEMPLATES='{"offer": {}}')
    queue(repo, 1)
    dispatcher.dispatch(repo, NOW, runtime.message_sender())
    after = stored(repo)
    assert after["w01"].error == (
        "WhatsApp is not configured: WHATSAPP_TEMPLATES: 'offer' needs content_sid (its "
        "Twilio Content SID (HX…)) for WHATSAPP_PROVIDER=twilio"
    )
    assert after["z-email"].status == "sent"


# --- The circuit breaker --------------------------------------------------------------------


def test_a_provider_that_cannot_be_reached_is_paused_after_five_and_the_rest_wait(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing listens on port 9: every connection is refused, a real network error.
    twilio_env(monkeypatch, TWILIO_AUTH_TOKEN="tok", TWILIO_API_BASE="http://127.0.0.1:9")
    queue(repo, 8)

    report = dispatcher.dispatch(repo, NOW, runtime.message_sender())

    assert report.retried == ["w01", "w02", "w03", "w04", "w05"]
    assert report.deferred == ["w06", "w07", "w08"] and report.paused == ["whatsapp"]
    assert not report.failed
    after = stored(repo)
    for message_id in ("w06", "w07", "w08"):
        # Untouched: no attempt used, no error shown, still due for the next run.
        assert after[message_id].status == "queued" and after[message_id].attempts == 0
        assert after[message_id].error is None
    assert after["z-email"].status == "sent"
    assert {m.id for _, m in repo.outbox.due(NOW)} == {"w06", "w07", "w08"}


class Scripted:
    """A provider that answers each send with the next outcome (an exception to raise,
    or None for success)."""

    name = "twilio"

    def __init__(self, outcomes: list[Exception | None]) -> None:
        self.outcomes = outcomes
        self.sent: list[str] = []

    def send(self, message: OutgoingWhatsApp) -> whatsapp.SendResult:
        outcome = self.outcomes.pop(0) if self.outcomes else None
        self.sent.append(message.message_id)
        if outcome is not None:
            raise outcome
        return whatsapp.SendResult("twilio", f"SM-{message.message_id}")


def sender(provider: Scripted) -> dispatcher.StageSender:
    return dispatcher.StageSender(
        runtime.links(),
        "",
        local=False,
        whatsapp_provider=lambda _local: provider,
        stage_templates=lambda _name: None,
    )


def down(words: str = "Meta 190: token expired") -> whatsapp.SendError:
    return whatsapp.SendError(words, retryable=True, provider_down=True)


def busy() -> whatsapp.SendError:
    return whatsapp.SendError("Twilio HTTP 503: Service Unavailable", retryable=True)


def test_an_error_saying_the_provider_is_down_pauses_it_at_once(repo: Repository) -> None:
    queue(repo, 4)
    provider = Scripted([down()])
    report = dispatcher.dispatch(repo, NOW, sender(provider))
    assert provider.sent == ["w01"]
    assert report.retried == ["w01"] and report.deferred == ["w02", "w03", "w04"]
    assert stored(repo)["w01"].error == "Meta 190: token expired"


def test_a_success_in_between_resets_the_count(repo: Repository) -> None:
    queue(repo, 9, email=False)
    provider = Scripted([busy(), busy(), busy(), busy(), None, busy(), busy(), busy(), busy()])
    report = dispatcher.dispatch(repo, NOW, sender(provider))
    assert len(provider.sent) == 9 and report.paused == [] and report.deferred == []
    assert len(report.retried) == 8


def test_errors_about_one_message_never_pause_the_provider(repo: Repository) -> None:
    queue(repo, 7, email=False)
    refused = [whatsapp.SendError("Twilio 21211: bad number", retryable=False)] * 7
    report = dispatcher.dispatch(repo, NOW, sender(Scripted(list(refused))))
    assert len(report.failed) == 7 and report.paused == []


def test_unexpected_exceptions_count_towards_the_pause(repo: Repository) -> None:
    queue(repo, 6, email=False)
    provider = Scripted([RuntimeError("boom")] * 6)
    report = dispatcher.dispatch(repo, NOW, sender(provider))
    assert len(provider.sent) == 5 and report.deferred == ["w06"]
    assert stored(repo)["w01"].error == "Unexpected error: boom"


def test_a_plain_function_sender_is_paused_by_channel(repo: Repository) -> None:
    queue(repo, 6)
    calls: list[str] = []

    def broken_whatsapp(_tid: str, message: Message) -> whatsapp.SendResult:
        calls.append(message.id)
        if message.channel == WHATSAPP:
            raise busy()
        return whatsapp.SendResult("console", "c-1")

    report = dispatcher.dispatch(repo, NOW, broken_whatsapp)
    assert calls == ["w01", "w02", "w03", "w04", "w05", "z-email"]
    assert report.paused == ["whatsapp"] and report.deferred == ["w06"]


# --- The run's time -------------------------------------------------------------------------


def countdown(*values: float) -> Callable[[], float]:
    remaining = list(values)
    return lambda: remaining.pop(0) if len(remaining) > 1 else remaining[0]


def test_a_run_stops_taking_work_when_its_time_runs_low(repo: Repository) -> None:
    queue(repo, 4, email=False)
    provider = Scripted([])
    report = dispatcher.dispatch(
        repo, NOW, sender(provider), time_left=countdown(50_000, 30_000, 7_000)
    )
    assert provider.sent == ["w01", "w02"] and report.stopped_early
    after = stored(repo)
    assert after["w03"].status == "queued" and after["w03"].attempts == 0
    assert {m.id for _, m in repo.outbox.due(NOW)} == {"w03", "w04"}


def test_a_run_with_too_little_time_claims_nothing(repo: Repository) -> None:
    queue(repo, 2)
    report = dispatcher.dispatch(repo, NOW, sender(Scripted([])), time_left=lambda: 2_000)
    assert report.stopped_early and report.claimed == 0 and report.due == 3


def test_the_reserve_covers_one_send_and_fits_the_lambdas_minute() -> None:
    assert whatsapp.TwilioProvider("AC", "t", "+1").timeout * 1000 < dispatcher.RESERVE_MS
    assert dispatcher.RESERVE_MS < 60_000 // 4

"""A trainer's own WhatsApp sender (issue 14 item 4) on moto (DynamoDB and SSM): one
trainer per number by the write itself (race and stale tests), tokens only in SSM, and the
dispatcher's route per trainer: a trainer whose token is missing gets their messages
failed in words while other trainers' messages and email still go; settings read once per
trainer per run, the token once; sending through a local fake Twilio."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator

import boto3
import pytest

from chalicelib import runtime
from chalicelib.domain.errors import Conflict, InvalidInput, VersionConflict
from chalicelib.domain.messages import EMAIL, WHATSAPP, LinkRef, Message
from chalicelib.domain.models import Trainer
from chalicelib.domain.settings import SaveSettings, WhatsAppSender
from chalicelib.messaging import whatsapp
from chalicelib.repo import keys
from chalicelib.repo.repository import Repository
from chalicelib.repo.senders import SenderStore, SenderTaken
from chalicelib.services import account, dispatcher, webhooks
from chalicelib.services import links as links_module
from chalicelib.services.deps import Deps
from tests.integration.test_meta_provider import FakeGraph, graph  # noqa: F401
from tests.integration.test_whatsapp_providers import FakeTwilio, fake_twilio  # noqa: F401
from tests.support.builders import (
    NOW,
    add_client,
    add_location,
    add_slot,
    allocate,
    make_trainer,
    trainer_of,
)
from tests.support.pages import counted
from tests.support.providers import no_provider_stage
from tests.support.race import race
from tests.support.table import table_items, unchanged

BASE = "https://book.example.com"
NUMBER = "+14155550100"
SID = "AC" + "0123456789abcdef" * 2
TOKEN = "0123456789abcdefABCDEF0123456789"
PREFIX = "/pt-bookings/test/trainers"


@pytest.fixture(autouse=True)
def _own_senders_stage(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    no_provider_stage(monkeypatch)
    monkeypatch.setenv("WHATSAPP_OWN_SENDERS", "on")
    monkeypatch.setenv("APP_STAGE", "test")
    yield
    whatsapp.forget_secrets()


def _deps(repo: Repository) -> Deps:
    return Deps(repo, links_module.fixed(b"stage-secret"), runtime.config(), NOW, BASE)


def _form(trainer: Trainer, **fields: str) -> SaveSettings:
    """The trainer's settings form as it stands, with the sender fields typed."""
    current = {
        "version": str(trainer.version),
        "time_zone": "Europe/London",
        "country": "GB",
        "day_start": "07:00",
        "day_end": "21:00",
        "default_view": "week",
        "booking_window": "2",
        "cancel_deadline_hours": "36",
        "offer_lock_minutes": "60",
        "currency": "GBP",
    }
    return SaveSettings.model_validate({**current, **fields})


def _twilio_form(trainer: Trainer, number: str = NUMBER, token: str = TOKEN) -> SaveSettings:
    return _form(
        trainer,
        whatsapp_sender="twilio",
        twilio_number=number,
        twilio_account_sid=SID,
        twilio_auth_token=token,
    )


def _ssm() -> object:
    return boto3.client("ssm", region_name="eu-west-2")


def _stored_secrets() -> dict[str, str]:
    pages = _ssm().get_paginator("get_parameters_by_path")  # type: ignore[attr-defined]
    found: dict[str, str] = {}
    for page in pages.paginate(Path=PREFIX, Recursive=True, WithDecryption=True):
        found.update({p["Name"]: p["Value"] for p in page["Parameters"]})
    return found


def _claim_owner(repo: Repository, number: str = NUMBER) -> str | None:
    claim = SenderStore(repo.db).claim("twilio", number)
    return claim.trainer_id if claim else None


# --- Settings: one trainer per number, the token only in SSM ---------------------------------


def test_an_own_twilio_sender_claims_its_number_and_its_token_lives_only_in_ssm(
    repo: Repository,
) -> None:
    trainer = make_trainer(repo)
    saved = account.save_settings(_deps(repo), trainer, _twilio_form(trainer))
    sender = trainer_of(repo, trainer.id).settings.whatsapp_sender
    assert sender == saved.settings.whatsapp_sender
    assert (sender.kind, sender.number, sender.account_sid) == ("twilio", NUMBER, SID)
    assert sender.token_ref
    assert _stored_secrets() == {f"{PREFIX}/coach/whatsapp-token-{sender.token_ref}": TOKEN}
    parameter = _ssm().get_parameter(Name=f"{PREFIX}/coach/whatsapp-token-{sender.token_ref}")  # type: ignore[attr-defined]
    assert parameter["Parameter"]["Type"] == "SecureString"
    assert _claim_owner(repo) == "coach"
    assert TOKEN not in repr(table_items(repo))


def test_two_trainers_claiming_one_number_at_once_one_wins_the_others_are_told(
    repo: Repository,
) -> None:
    trainers = [make_trainer(repo, f"coach{n}@example.com") for n in range(6)]

    def claim(n: int) -> Trainer:
        return account.save_settings(_deps(repo), trainers[n], _twilio_form(trainers[n]))

    outcomes = race(6, claim, timeout=60)
    winners = [o for o in outcomes if isinstance(o, Trainer)]
    losers = [o for o in outcomes if isinstance(o, InvalidInput)]
    assert len(winners) == 1 and len(losers) == 5, outcomes
    for refused in losers:
        assert refused.errors == {
            "twilio_number": "This number is already connected to another PT Bookings "
            "account. Check the number, or ask us to release it."
        }
    assert _claim_owner(repo) == winners[0].id
    for trainer in trainers:
        kind = trainer_of(repo, trainer.id).settings.whatsapp_sender.kind
        assert kind == ("twilio" if trainer.id == winners[0].id else "shared")
    # The losers' tokens went into SSM before their transaction: removed again.
    assert [name.split("/")[4] for name in _stored_secrets()] == [winners[0].id]


def test_a_stale_trainer_writes_neither_settings_nor_claim(repo: Repository) -> None:
    trainer = make_trainer(repo)
    fresh = repo.save_settings(trainer, trainer.settings)  # another tab saved meanwhile
    assert fresh.version == trainer.version + 1
    settings = trainer.settings.model_copy(
        update={"whatsapp_sender": WhatsAppSender(kind="twilio", number=NUMBER, token_ref="t")}
    )
    with unchanged(repo), pytest.raises(VersionConflict):
        SenderStore(repo.db).save_settings(trainer, settings)  # the write itself refuses


def test_a_claim_made_after_the_form_was_read_is_refused_by_the_write(repo: Repository) -> None:
    coach, rival = make_trainer(repo), make_trainer(repo, "rival@example.com")
    # Both read a free number; the rival's save lands first.
    wanted = WhatsAppSender(kind="twilio", number=NUMBER, account_sid=SID, token_ref="r")
    SenderStore(repo.db).save_settings(
        rival, rival.settings.model_copy(update={"whatsapp_sender": wanted})
    )
    mine = coach.settings.model_copy(update={"whatsapp_sender": wanted})
    with unchanged(repo), pytest.raises(SenderTaken):
        SenderStore(repo.db).save_settings(coach, mine)
    assert _claim_owner(repo) == "rival"


def test_changing_the_number_moves_the_claim_and_the_shared_number_releases_it(
    repo: Repository,
) -> None:
    trainer = make_trainer(repo)
    trainer = account.save_settings(_deps(repo), trainer, _twilio_form(trainer))
    token_ref = trainer.settings.whatsapp_sender.token_ref
    # Same account, new number, token left blank: kept, under the same name.
    trainer = account.save_settings(
        _deps(repo), trainer, _twilio_form(trainer, number="+14155550199", token="")
    )
    assert trainer.settings.whatsapp_sender.token_ref == token_ref
    assert _claim_owner(repo) is None and _claim_owner(repo, "+14155550199") == "coach"
    # A new token is a new parameter; the old one is deleted once the save commits.
    trainer = account.save_settings(
        _deps(repo), trainer, _twilio_form(trainer, number="+14155550199", token="9" * 32)
    )
    new_ref = trainer.settings.whatsapp_sender.token_ref
    assert new_ref != token_ref
    assert _stored_secrets() == {f"{PREFIX}/coach/whatsapp-token-{new_ref}": "9" * 32}
    trainer = account.save_settings(_deps(repo), trainer, _form(trainer, whatsapp_sender="shared"))
    assert trainer.settings.whatsapp_sender == WhatsAppSender()
    assert _claim_owner(repo, "+14155550199") is None
    assert _stored_secrets() == {}


def test_releasing_a_number_never_deletes_another_trainers_claim(repo: Repository) -> None:
    coach = make_trainer(repo)
    coach = account.save_settings(_deps(repo), coach, _twilio_form(coach))
    # Damage done outside the app: the claim now names someone else.
    repo.db.put({**keys.sender("twilio", NUMBER), "trainer_id": "rival", "token_ref": "x"})
    with unchanged(repo), pytest.raises(Conflict, match="changed meanwhile"):
        SenderStore(repo.db).save_settings(
            coach, coach.settings.model_copy(update={"whatsapp_sender": WhatsAppSender()})
        )


def test_an_own_sender_is_refused_on_a_stage_that_does_not_offer_it(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WHATSAPP_OWN_SENDERS")
    trainer = make_trainer(repo)
    with unchanged(repo), pytest.raises(InvalidInput) as refused:
        account.save_settings(_deps(repo), trainer, _twilio_form(trainer))
    assert refused.value.errors == {
        "whatsapp_sender": "Your own WhatsApp sender is not available here yet: use the "
        "PT Bookings number."
    }
    assert _stored_secrets() == {}


def test_the_stages_shared_number_cannot_be_claimed(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWILIO_WHATSAPP_FROM", f"whatsapp:{NUMBER}")
    trainer = make_trainer(repo)
    with unchanged(repo), pytest.raises(InvalidInput) as refused:
        account.save_settings(_deps(repo), trainer, _twilio_form(trainer))
    assert "PT Bookings shared number" in refused.value.errors["twilio_number"]


# --- The dispatcher: a route per trainer -----------------------------------------------------


def _queue(
    repo: Repository, trainer: Trainer, ids: list[str], variables: dict[str, str] | None = None
) -> None:
    """Messages due now for one client of `trainer`; an id starting with "e" is an email.
    `variables`: the confirmation template's, for a send outside the window."""
    trainer, studio = add_location(repo, trainer)
    client = add_client(repo, trainer)
    booking = allocate(repo, trainer, add_slot(repo, trainer, studio), client)
    for message_id in ids:
        by_email = message_id.startswith("e")
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
            variables=variables or {},
            created_at=NOW,
            next_attempt_at=NOW,
        )
        assert repo.queue_session_message(trainer.id, booking, message)


def _stored(repo: Repository, trainer_id: str) -> dict[str, Message]:
    return {m.id: m for m in repo.outbox.page(trainer_id, None, None, limit=100)[0]}


def _own_twilio(repo: Repository, trainer: Trainer, token_ref: str) -> Trainer:
    sender = WhatsAppSender(kind="twilio", number=NUMBER, account_sid=SID, token_ref=token_ref)
    return SenderStore(repo.db).save_settings(
        trainer, trainer.settings.model_copy(update={"whatsapp_sender": sender})
    )


class Counting:
    """Counts calls to a lookup (settings reads, SSM reads)."""

    def __init__(self, inner: Callable[[str], object]) -> None:
        self.inner = inner
        self.calls: list[str] = []

    def __call__(self, key: str) -> object:
        self.calls.append(key)
        return self.inner(key)


def test_a_trainer_whose_token_is_missing_gets_words_while_others_and_email_still_go(
    repo: Repository, capsys: pytest.CaptureFixture[str]
) -> None:
    coach = _own_twilio(repo, make_trainer(repo), token_ref="gone")  # no such parameter
    _queue(repo, coach, ["c1", "c2", "c3", "e-coach"])
    other = make_trainer(repo, "other@example.com")
    _queue(repo, other, ["o1", "o2"])
    settings_reads = Counting(dispatcher.settings_sender(repo))
    sender = dispatcher.StageSender(
        links_module.fixed(b"stage-secret"),
        BASE,
        local=True,
        trainer_sender=settings_reads,  # type: ignore[arg-type]
    )

    report = dispatcher.dispatch(repo, NOW, sender)

    coach_messages = _stored(repo, "coach")
    for message_id in ("c1", "c2", "c3"):
        assert coach_messages[message_id].status == "failed"
        assert coach_messages[message_id].error == (
            "Your WhatsApp sender is not set up: the auth token is missing. "
            "Enter it again in Settings."
        )
    assert coach_messages["e-coach"].status == "sent"
    assert {m.status for m in _stored(repo, "other").values()} == {"sent"}
    assert {m.provider for m in _stored(repo, "other").values()} == {"log"}
    assert sorted(report.failed) == ["c1", "c2", "c3"] and report.paused == []
    # Each trainer's settings once for the run, however many messages they have.
    assert sorted(settings_reads.calls) == ["coach", "other"]
    assert "email to priya@example.com" in capsys.readouterr().out


def test_the_composition_root_routes_own_senders_only_where_the_stage_offers_them(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    coach = _own_twilio(repo, make_trainer(repo), token_ref="gone")
    message = Message(
        id="m",
        week="2026-W48",
        subject_id="s",
        subject_ref="2026-W48.s",
        client_id="c",
        client_name="Priya",
        kind="confirmation",
        channel=WHATSAPP,
        to="+447400123456",
        text="Hi",
        created_at=NOW,
        next_attempt_at=NOW,
    )
    assert runtime.message_sender().route(coach.id, message) == "whatsapp:coach"
    monkeypatch.delenv("WHATSAPP_OWN_SENDERS")
    assert runtime.message_sender().route(coach.id, message) == "whatsapp"


def test_an_own_twilio_sender_sends_from_the_trainers_account_with_one_token_read(
    repo: Repository,
    fake_twilio: FakeTwilio,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TWILIO_API_BASE", fake_twilio.url)
    coach = make_trainer(repo)
    coach = account.save_settings(_deps(repo), coach, _twilio_form(coach))
    _queue(repo, coach, ["c1", "c2", "c3"])
    whatsapp.forget_secrets()  # a new container: the token is read from SSM again
    reads = Counting(runtime.ssm_secret)
    sender = dispatcher.StageSender(
        links_module.fixed(b"stage-secret"),
        BASE,
        local=True,
        trainer_sender=dispatcher.settings_sender(repo),
        secrets=whatsapp.TrainerSecrets("/pt-bookings/test", read_secret=reads),  # type: ignore[arg-type]
        window_open=lambda _trainer, _message: True,  # free-form: inside the client's window
    )

    report = dispatcher.dispatch(repo, NOW, sender)

    assert report.claimed == 3 and not report.failed
    assert len(reads.calls) == 1
    assert {m.provider for m in _stored(repo, "coach").values()} == {"twilio"}
    request = fake_twilio.requests[0]
    assert request.path == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert request.headers["authorization"] == (
        "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
    )
    assert request.form["From"] == f"whatsapp:{NUMBER}"
    message = _stored(repo, "coach")["c1"]
    assert request.form["StatusCallback"] == (
        f"{BASE}/webhooks/twilio/status?m=~coach.{message.ref}"
    )


def test_outside_the_window_an_own_twilio_sender_uses_the_trainers_content_sids(
    repo: Repository,
    fake_twilio: FakeTwilio,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The stage's Content SIDs belong to the stage's account: the trainer's own go out,
    # and a kind they have none for fails in words instead of going free-form (63016).
    monkeypatch.setenv("TWILIO_API_BASE", fake_twilio.url)
    own_sid = "HX" + "ab" * 16
    coach = make_trainer(repo)
    form = _twilio_form(coach).model_copy(update={"twilio_content_sids": f"confirmation {own_sid}"})
    coach = account.save_settings(_deps(repo), coach, form)
    assert coach.settings.whatsapp_sender.content_sids == {"confirmation": own_sid}
    values = {"first_name": "Priya", "trainer": "Coach", "when": "Wed 09:00", "place": "Studio"}
    _queue(repo, coach, ["c1"], variables=values)
    sender = dispatcher.StageSender(
        links_module.fixed(b"stage-secret"),
        BASE,
        local=True,
        trainer_sender=dispatcher.settings_sender(repo),
        secrets=whatsapp.TrainerSecrets("/pt-bookings/test", read_secret=runtime.ssm_secret),
    )
    stored = _stored(repo, "coach")["c1"]
    with_link = stored.model_copy(
        update={
            "link": LinkRef(
                kind="session",
                base=BASE,
                trainer_id="coach",
                client_id=stored.client_id,
                target_id=stored.subject_id,
            )
        }
    )

    sent = sender("coach", with_link)
    assert sent.provider == "twilio"
    (request,) = fake_twilio.requests
    assert request.form["ContentSid"] == own_sid and "Body" not in request.form

    reminder = with_link.model_copy(update={"kind": "reminder"})
    with pytest.raises(whatsapp.SendError) as refused:
        sender("coach", reminder)
    assert "add 'reminder' in Settings, WhatsApp sender, Content SIDs" in refused.value.message
    assert len(fake_twilio.requests) == 1  # nothing sent free-form to be refused


def test_an_own_meta_sender_sends_from_the_trainers_number_with_their_token(
    repo: Repository,
    graph: FakeGraph,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("META_API_BASE", graph.url)
    coach = make_trainer(repo)
    form = _form(
        coach,
        whatsapp_sender="meta",
        meta_phone_number_id="106540352242999",
        meta_access_token="EAAG" + "Zq9" * 30,
        meta_app_secret="5ec4e7" + "0" * 26,
    )
    coach = account.save_settings(_deps(repo), coach, form)
    _queue(repo, coach, ["c1"])
    sender = runtime.message_sender()  # the composition root's, on this stage

    report = dispatcher.dispatch(repo, NOW, sender)

    assert report.claimed == 1 and not report.failed
    (request,) = graph.requests
    assert request.path == "/v23.0/106540352242999/messages"
    assert request.headers["authorization"] == "Bearer EAAG" + "Zq9" * 30
    message = _stored(repo, "coach")["c1"]
    assert message.provider == "meta"
    assert request.body["biz_opaque_callback_data"] == f"coach.{message.ref}"


class FailingSsm:
    """An SSM that refuses every write, as with a missing IAM permission."""

    def put_parameter(self, **_request: object) -> None:
        raise RuntimeError("AccessDeniedException")

    def delete_parameter(self, **_request: object) -> None:
        raise RuntimeError("AccessDeniedException")


def test_a_token_ssm_would_not_store_refuses_the_save_in_words(repo: Repository) -> None:
    trainer = make_trainer(repo)
    secrets = whatsapp.TrainerSecrets("/pt-bookings/test", client=FailingSsm)
    with unchanged(repo), pytest.raises(InvalidInput) as refused:
        account.save_settings(_deps(repo), trainer, _twilio_form(trainer), secrets)
    assert refused.value.errors == {
        "twilio_auth_token": "We could not store the token just now, so nothing was saved. "
        "Try again in a minute."
    }
    assert TOKEN not in str(refused.value)


# --- Webhooks, at the service: what each case costs -----------------------------------------


def _inbound_form(to: str = NUMBER) -> dict[str, str]:
    return {
        "MessageSid": "SM" + "1" * 32,
        "From": "whatsapp:+447400123456",
        "To": f"whatsapp:{to}",
        "Body": "Hi",
        "NumMedia": "0",
    }


def test_a_trainers_webhook_whose_token_ssm_cannot_give_is_answered_503(
    repo: Repository,
) -> None:
    _own_twilio(repo, make_trainer(repo), token_ref="gone")
    form = _inbound_form()
    signed = whatsapp.twilio_signature(TOKEN, BASE + "/webhooks/twilio/inbound", form)
    with unchanged(repo):
        result = webhooks.twilio_inbound_report(_deps(repo), form, signed)
    assert result.status == 503  # Twilio retries; nothing recorded meanwhile


def test_on_a_shared_twilio_stage_a_forged_post_to_the_shared_number_costs_no_read(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WHATSAPP_PROVIDER", "twilio")
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "shared-token")
    monkeypatch.setenv("TWILIO_WHATSAPP_FROM", "+14155238886")
    form = _inbound_form(to="+14155238886")
    forged = whatsapp.twilio_signature("wrong", BASE + "/webhooks/twilio/inbound", form)
    result, calls = counted(lambda: webhooks.twilio_inbound_report(_deps(repo), form, forged))
    assert result.status == 403 and calls == 0
    # Signed with the shared token it is the shared sender's, exactly as without own senders.
    signed = whatsapp.twilio_signature("shared-token", BASE + "/webhooks/twilio/inbound", form)
    result, calls = counted(lambda: webhooks.twilio_inbound_report(_deps(repo), form, signed))
    assert result.status == 204 and calls == 2  # who has the number, the message

"""Program bundles on moto: creation in one transaction or in chunks with a full
rollback, a template deleted under the wizard, confirmations sent once even under a
double click or a cancel at the same moment, and the bundle's entries kept in step with
its sessions."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from chalicelib import runtime
from chalicelib.domain import figures
from chalicelib.domain.clients import AddClient, Client, SaveProfile
from chalicelib.domain.errors import Conflict, InvalidInput, NotFound, VersionConflict
from chalicelib.domain.messages import EMAIL, WHATSAPP, LinkRef, Message
from chalicelib.domain.models import Trainer
from chalicelib.domain.programs import Bundle, BundleEntry, Draft, check_cards, split_price
from chalicelib.domain.schedule import AddSlot, Document, Offer, Session, Slot, make_slot
from chalicelib.domain.timeutil import utc_iso, week_key
from chalicelib.domain.tokens import new_id
from chalicelib.repo import keys
from chalicelib.repo.dynamo import Condition, Item, from_attrs
from chalicelib.repo.programs import (
    AlreadyCreated,
    ProgramRepository,
    SlotTaken,
    TemplateGone,
    bundle_to_item,
)
from chalicelib.repo.repository import SESSION_LINK_KIND, Repository
from chalicelib.services import account, clients, programs, schedule, sessions
from chalicelib.services.deps import Deps
from tests.integration.test_repository import make_trainer, race
from tests.support.figures import kept_figures

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
FIRST_DAY = date(2026, 12, 1)  # a Tuesday; the bundles below run weekly from it at 10:00
AFTER_ALL = datetime(2028, 1, 1, tzinfo=UTC)  # later than every session of every bundle
VIDEO = "https://meet.example.com/coach"
PLAN_DOC = Document(name="Training plan", url="https://docs.example.com/plan.pdf")


# Set-up --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Studio:
    trainer: Trainer  # re-read after adding the location, so `locations` is filled
    location: str
    client: Client


def add_person(
    repo: Repository, trainer: Trainer, location: str, name: str, email: str = ""
) -> Client:
    contact = {"name": name, "phone": "07400 123456", "price": "40", "email": email}
    person = clients.add_client(
        repo, runtime.links(), trainer, AddClient.model_validate(contact), NOW
    )
    return clients.save_profile(
        repo,
        trainer,
        repo.get_account(trainer.id),
        person,
        SaveProfile.model_validate(
            {
                **contact,
                "version": str(person.version),
                "client_id": person.id,
                "location_ids": [location],
                "recurring": [],
            }
        ),
    )


def at(repo: Repository, now: datetime = NOW) -> Deps:
    """What a request at `now` hands the use cases."""
    return Deps(repo, runtime.links(), runtime.config(), now)


@pytest.fixture
def studio(repo: Repository) -> Studio:
    trainer = make_trainer(repo)
    location = account.add_location(repo, trainer.id, "Studio")
    refreshed = repo.get_trainer(trainer.id)
    assert refreshed is not None and location.id in refreshed.locations
    return Studio(refreshed, location.id, add_person(repo, refreshed, location.id, "Priya Shah"))


def offer_form(location: str, count: int = 12, price: str = "540") -> dict[str, str]:
    return {
        "title": f"{count}-session coaching",
        "sessions": str(count),
        "price": price,
        "location_id": location,
        "length": "60",
        "video_link": VIDEO,
        "doc_name_0": PLAN_DOC.name,
        "doc_url_0": PLAN_DOC.url,
    }


def generate(repo: Repository, trainer: Trainer, draft: Draft) -> Draft:
    saved, action = programs.save_schedule(
        at(repo),
        trainer,
        programs.SaveSchedule.model_validate(
            {
                "version": str(draft.version),
                "action": "generate",
                "first_day": FIRST_DAY.isoformat(),
                "first_time": "10:00",
                "every_weeks": "1",
                "draft_id": draft.id,
            }
        ),
    )
    assert action == "generate"
    return saved


def open_wizard(
    repo: Repository, studio: Studio, count: int = 12, price: str = "540", client_id: str = ""
) -> Draft:
    """Steps 1 and 2 of the wizard: the offer, then weekly dates from FIRST_DAY at 10:00."""
    trainer = studio.trainer
    draft = programs.start_draft(
        at(repo),
        trainer,
        programs.StartDraft(client_id=client_id or studio.client.id, template_id=""),
    )
    draft = programs.save_offer(
        at(repo),
        trainer,
        programs.SaveOffer.model_validate(
            {
                "version": str(draft.version),
                "action": "next",
                **offer_form(studio.location, count, price),
                "draft_id": draft.id,
            }
        ),
    )
    return generate(repo, trainer, draft)


def validate(repo: Repository, trainer: Trainer, draft_id: str, version: str) -> Bundle:
    """Step 3's Create bundle, from a page drawn at `version`."""
    command = programs.CreateBundle(draft_id=draft_id, version=version)
    return programs.create_bundle(at(repo), trainer, command)


def new_bundle(
    repo: Repository, studio: Studio, count: int = 12, price: str = "540", client_id: str = ""
) -> Bundle:
    draft = open_wizard(repo, studio, count, price, client_id)
    return validate(repo, studio.trainer, draft.id, str(draft.version))


# Reading the table -----------------------------------------------------------------------
def nth_day(index: int) -> date:
    return FIRST_DAY + timedelta(weeks=index)


def bundle_weeks(count: int) -> list[str]:
    return sorted({week_key(nth_day(i)) for i in range(count)})


def week_items(repo: Repository, trainer_id: str, week: str) -> list[Item]:
    """Everything in a trainer-week partition: slots, guards, sessions, log lines."""
    return repo.db.query(keys.week_pk(trainer_id, week))


def bundle_sessions_in_weeks(
    repo: Repository, trainer_id: str, bundle_id: str, weeks: list[str]
) -> list[Session]:
    """Every session item of the bundle (any status) found in those week partitions."""
    found = []
    for week in weeks:
        found += [
            s
            for s in repo.get_week_with_sessions(trainer_id, week).sessions
            if s.bundle_id == bundle_id
        ]
    return sorted(found, key=lambda s: (s.bundle_index or 0, s.created_at, s.start_utc))


def scan(repo: Repository) -> list[Item]:
    """The whole table (tests only: the app never scans)."""
    items: list[Item] = []
    for page in repo.db.client.get_paginator("scan").paginate(TableName=repo.db.table):
        items += [from_attrs(i) for i in page["Items"]]
    return items


def messages_of(repo: Repository, trainer_id: str) -> list[Message]:
    """The WhatsApp tab's list (TrainerTimeline `T#<tid>#MSG`), every page."""
    found: list[Message] = []
    after = None
    while True:
        page, after = repo.outbox.page(trainer_id, None, after, limit=100)
        found += page
        if after is None:
            return found


def stored_bundle(repo: Repository, trainer_id: str, bundle_id: str) -> Bundle:
    return programs.store(repo).get_bundle(trainer_id, bundle_id)


@dataclass
class Transactions:
    """TransactWriteItems calls as sent, in commit order, and whether each went through.
    A lock around each call makes the recorded order the order DynamoDB applied them."""

    calls: list[tuple[list[dict[str, Any]], bool]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def committed_since(self, start: int) -> list[list[dict[str, Any]]]:
        return [items for items, ok in self.calls[start:] if ok]


@pytest.fixture
def transactions(repo: Repository, monkeypatch: pytest.MonkeyPatch) -> Iterator[Transactions]:
    record = Transactions()
    original = repo.db.client.transact_write_items

    def recorded(**params: Any) -> Any:
        with record.lock:
            try:
                response = original(**params)
            except Exception:
                record.calls.append((params["TransactItems"], False))
                raise
            record.calls.append((params["TransactItems"], True))
            return response

    monkeypatch.setattr(repo.db.client, "transact_write_items", recorded)
    yield record


def _put_types(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(type, status) of each Put of a transaction, as plain strings."""
    found = []
    for op in items:
        if "Put" in op:
            item = from_attrs(op["Put"]["Item"])
            found.append((str(item.get("type")), str(item.get("status"))))
    return found


# 1. Creating a bundle ------------------------------------------------------------------
def test_a_twelve_session_bundle_is_one_transaction_of_the_bundle_and_all_its_sessions(
    repo: Repository, studio: Studio, transactions: Transactions
) -> None:
    trainer, client = studio.trainer, studio.client
    draft = open_wizard(repo, studio, 12, "540")
    before = len(transactions.calls)

    bundle = validate(repo, trainer, draft.id, str(draft.version))

    assert len(transactions.calls) - before == 1  # one TransactWriteItems, all or nothing
    stored = stored_bundle(repo, trainer.id, bundle.id)
    assert stored.id == draft.id and stored.status == "active" == bundle.status
    assert (stored.sessions_planned, stored.price_minor, stored.client_id) == (12, 54000, client.id)
    assert len(stored.entries) == 12 and {e.status for e in stored.entries} == {"booked"}
    assert [b.id for b in programs.store(repo).list_bundles(trainer.id)] == [bundle.id]
    assert [b.id for b in programs.store(repo).client_bundles(trainer.id, client.id)] == [bundle.id]

    found = bundle_sessions_in_weeks(repo, trainer.id, bundle.id, bundle_weeks(12))
    assert [s.bundle_index for s in found] == list(range(12))
    for index, session in enumerate(found):
        assert session.kind == "program" and session.status == "booked"
        assert session.client_id == client.id
        assert (session.day, session.start, session.end) == (nth_day(index), 600, 660)
        assert session.location_id == studio.location
        assert session.bundle_title == "12-session coaching"
        assert session.video_link == VIDEO
        assert session.documents == (PLAN_DOC,)
        assert stored.entries[index].ref == session.ref
        assert stored.entries[index].end_utc == session.end_utc
        week = repo.get_week_with_sessions(trainer.id, session.week)
        (slot,) = [s for s in week.slots if s.id == session.slot_id]
        assert slot.session_id == session.id
        assert [s.id for s in week.sessions] == [session.id]
        # its client link and its log line were written with it
        token = runtime.links().session_hash(
            trainer.id, client.id, client.portal_generation, session.id
        )
        record = repo.get_token(token)
        assert record is not None
        log = repo.log_of(trainer.id, session.week, session.id)
        assert [e.text for e in log] == ["Booked for the bundle “12-session coaching”"]
    prices = [s.price_minor or 0 for s in found]
    assert prices == [4500] * 12 and sum(prices) == 54000
    assert [s.id for s in programs.store(repo).bundle_sessions(trainer.id, stored)] == [
        s.id for s in found
    ]
    with pytest.raises(NotFound):  # the draft went with the bundle's commit
        programs.store(repo).get_draft(trainer.id, draft.id)


def test_validating_the_same_wizard_again_creates_nothing_more(
    repo: Repository, studio: Studio, transactions: Transactions
) -> None:
    trainer = studio.trainer
    draft = open_wizard(repo, studio, 3, "90")
    bundle = validate(repo, trainer, draft.id, str(draft.version))
    before = len(transactions.calls)

    with pytest.raises(AlreadyCreated):
        validate(repo, trainer, draft.id, str(draft.version))
    with pytest.raises(AlreadyCreated):  # another tab's form, whatever its version
        validate(repo, trainer, draft.id, "1")

    assert len(transactions.calls) == before  # nothing was even tried
    assert [b.id for b in programs.store(repo).list_bundles(trainer.id)] == [bundle.id]
    assert len(bundle_sessions_in_weeks(repo, trainer.id, bundle.id, bundle_weeks(3))) == 3
    assert sum(1 for i in scan(repo) if i.get("type") == "session") == 3
    with pytest.raises(NotFound):  # an id that never was a wizard is not "already created"
        validate(repo, trainer, "no-such-draft", "1")


def test_the_price_is_split_over_the_sessions_and_sums_exactly_to_the_total(
    repo: Repository, studio: Studio
) -> None:
    bundle = new_bundle(repo, studio, 3, "100")
    found = bundle_sessions_in_weeks(repo, studio.trainer.id, bundle.id, bundle_weeks(3))
    prices = [s.price_minor for s in found]
    assert prices == [3334, 3333, 3333] == split_price(10000, 3)
    assert sum(p or 0 for p in prices) == 10000 == bundle.price_minor


# 2. An open slot already on the schedule ------------------------------------------------
def test_a_session_takes_the_open_slot_already_at_that_exact_time(
    repo: Repository, studio: Studio
) -> None:
    trainer = studio.trainer
    day = nth_day(1)
    existing = schedule.add_slot(
        repo,
        trainer,
        AddSlot(day=day.isoformat(), start="10:00", end="11:00", location_id=studio.location),
        NOW,
    )
    draft = open_wizard(repo, studio, 3, "90")
    checked = programs.plan(repo, trainer, draft.id, NOW)
    assert checked.ready
    assert [c.existing for c in checked.checks] == [False, True, False]

    bundle = validate(repo, trainer, draft.id, str(draft.version))

    week = repo.get_week_with_sessions(trainer.id, existing.week)
    (slot,) = week.slots  # no second slot at that time
    (session,) = week.sessions
    assert slot.id == existing.id and slot.session_id == session.id
    assert slot.version == existing.version + 1
    assert (session.slot_id, session.bundle_id, session.bundle_index) == (existing.id, bundle.id, 1)
    guards = repo.db.query(keys.week_pk(trainer.id, existing.week), sk_prefix=keys.GUARD_PREFIX)
    assert len(guards) == 2 and {g["slot_id"] for g in guards} == {existing.id}


# 3. A bundle too big for one transaction --------------------------------------------------
def test_a_forty_session_bundle_is_written_in_chunks_and_ends_active(
    repo: Repository, studio: Studio, transactions: Transactions
) -> None:
    trainer = studio.trainer
    draft = open_wizard(repo, studio, 40, "1600")
    before = len(transactions.calls)

    bundle = validate(repo, trainer, draft.id, str(draft.version))

    calls = transactions.calls[before:]
    assert len(calls) >= 3 and all(ok for _items, ok in calls)  # 40 x 6 items > 100
    assert all(len(items) <= 100 for items, _ok in calls)
    # the bundle is first written as "creating", switched to "active" by the last chunk
    assert _put_types(calls[0][0])[0] == ("bundle", "creating")
    assert "Update" in calls[-1][0][0]
    stored = stored_bundle(repo, trainer.id, bundle.id)
    assert stored.status == "active" and len(stored.entries) == 40
    found = bundle_sessions_in_weeks(repo, trainer.id, bundle.id, bundle_weeks(40))
    assert [s.bundle_index for s in found] == list(range(40))
    assert [e.ref for e in stored.entries] == [s.ref for s in found]
    assert sum(s.price_minor or 0 for s in found) == 160000
    assert programs.store(repo).client_bundles(trainer.id, studio.client.id)[0].status == "active"
    with pytest.raises(NotFound):
        programs.store(repo).get_draft(trainer.id, draft.id)


# 4. Rollback ---------------------------------------------------------------------------
def _slot_form(day: date, start: str, end: str, location: str) -> AddSlot:
    return AddSlot(day=day.isoformat(), start=start, end=end, location_id=location)


def test_a_date_taken_during_a_chunked_creation_leaves_nothing_of_the_bundle(
    repo: Repository, studio: Studio, monkeypatch: pytest.MonkeyPatch
) -> None:
    trainer = studio.trainer
    weeks = bundle_weeks(40)
    # Week 3 already has an open slot at exactly that time: the bundle takes it (early chunk).
    existing = schedule.add_slot(
        repo, trainer, _slot_form(nth_day(2), "10:00", "11:00", studio.location), NOW
    )
    draft = open_wizard(repo, studio, 40, "1600")
    assert programs.plan(repo, trainer, draft.id, NOW).ready
    before = {(i[keys.PK], i[keys.SK]) for i in scan(repo)}
    intruders: list[Slot] = []
    original = ProgramRepository.create_bundle

    def taken_meanwhile(self: ProgramRepository, *args: Any, **kwargs: Any) -> Bundle:
        # Between the plan and the write, the 35th date is half taken by another slot.
        intruders.append(
            schedule.add_slot(
                repo, trainer, _slot_form(nth_day(34), "10:30", "11:30", studio.location), NOW
            )
        )
        return original(self, *args, **kwargs)

    with monkeypatch.context() as patched, pytest.raises(Conflict) as refused:
        patched.setattr(ProgramRepository, "create_bundle", taken_meanwhile)
        validate(repo, trainer, draft.id, str(draft.version))

    assert isinstance(refused.value.__cause__, SlotTaken)
    assert "27 Jul 10:00–11:00 was taken" in str(refused.value)
    (intruder,) = intruders
    with pytest.raises(NotFound):
        stored_bundle(repo, trainer.id, draft.id)
    assert programs.store(repo).list_bundles(trainer.id) == []
    assert programs.store(repo).client_bundles(trainer.id, studio.client.id) == []
    for week in weeks:
        items = week_items(repo, trainer.id, week)
        mine = {existing.id} if week == existing.week else set()
        mine |= {intruder.id} if week == intruder.week else set()
        assert {i["type"] for i in items} <= {"slot", "guard"}, (week, items)
        assert {i["id"] for i in items if i["type"] == "slot"} == mine, week
        assert {i["slot_id"] for i in items if i["type"] == "guard"} == mine, week
    (kept,) = repo.get_week(trainer.id, existing.week)
    assert kept.id == existing.id and kept.session_id is None  # taken, then freed again
    everything = scan(repo)
    assert not [i for i in everything if i.get("type") in ("session", "bundle", "log")]
    assert not [i for i in everything if i.get("kind") == SESSION_LINK_KIND]
    assert not [i for i in everything if i.get("bundle_id")]
    # The client's kept unpaid total went up with the first chunk and back down with the
    # rollback: the item may remain, at zero.
    balance = repo.client_balance(trainer.id, studio.client.id)
    assert (balance.unpaid_minor, balance.unpaid_count) == (0, 0)
    balance_key = keys.client_balance(trainer.id, studio.client.id)
    # So did the report counters: only the two slots left on the schedule count.
    assert kept_figures(repo, trainer.id) == figures.figures_of([], [existing, intruder])
    after = {
        (i[keys.PK], i[keys.SK]) for i in everything if i[keys.PK] != keys.figures_pk(trainer.id)
    } - {(balance_key[keys.PK], balance_key[keys.SK])}
    assert after - before == {
        (keys.week_pk(trainer.id, intruder.week), i[keys.SK])
        for i in week_items(repo, trainer.id, intruder.week)
    }
    # The wizard is still there: once the date is free again, the same draft goes through.
    draft_now = programs.store(repo).get_draft(trainer.id, draft.id)
    schedule.remove_slot(repo, trainer.id, intruder, str(intruder.version), NOW)
    bundle = validate(repo, trainer, draft.id, str(draft_now.version))
    assert stored_bundle(repo, trainer.id, bundle.id).status == "active"
    assert len(bundle_sessions_in_weeks(repo, trainer.id, bundle.id, weeks)) == 40


# 5. Template deleted while the wizard was open -------------------------------------------
def _template_wizard(repo: Repository, studio: Studio, count: int) -> tuple[str, Draft]:
    trainer = studio.trainer
    template = programs.save_template(
        at(repo),
        trainer,
        programs.SaveTemplate.model_validate(
            {**offer_form(studio.location, count, "540"), "template_id": None}
        ),
    )
    draft = programs.start_draft(
        at(repo), trainer, programs.StartDraft(client_id=studio.client.id, template_id=template.id)
    )
    assert draft.template_id == template.id and draft.offer.title == template.title
    draft = programs.save_offer(
        at(repo),
        trainer,
        programs.SaveOffer.model_validate(
            {
                **draft.offer.typed(),
                "version": str(draft.version),
                "action": "next",
                "draft_id": draft.id,
            }
        ),
    )
    return template.id, generate(repo, trainer, draft)


def test_a_template_deleted_while_the_wizard_was_open_creates_nothing_and_keeps_the_entries(
    repo: Repository, studio: Studio
) -> None:
    trainer = studio.trainer
    template_id, draft = _template_wizard(repo, studio, 12)
    template = programs.store(repo).get_template(trainer.id, template_id)
    programs.delete_template(
        at(repo),
        trainer.id,
        programs.DeleteTemplate(template_id=template_id, version=str(template.version)),
    )

    with pytest.raises(TemplateGone):
        validate(repo, trainer, draft.id, str(draft.version))

    with pytest.raises(NotFound):
        stored_bundle(repo, trainer.id, draft.id)
    assert not [i for i in scan(repo) if i.get("type") in ("session", "slot", "bundle")]
    kept = programs.store(repo).get_draft(trainer.id, draft.id)
    assert kept.template_id is None
    assert (kept.cards, kept.offer, kept.quick) == (draft.cards, draft.offer, draft.quick)
    assert len(kept.cards) == 12

    bundle = validate(repo, trainer, draft.id, str(kept.version))
    assert bundle.template_id is None and bundle.status == "active"
    assert len(bundle_sessions_in_weeks(repo, trainer.id, bundle.id, bundle_weeks(12))) == 12


def test_a_template_deleted_during_a_chunked_creation_rolls_everything_back(
    repo: Repository, studio: Studio, monkeypatch: pytest.MonkeyPatch
) -> None:
    trainer = studio.trainer
    template_id, draft = _template_wizard(repo, studio, 40)
    original = ProgramRepository.create_bundle

    def deleted_meanwhile(self: ProgramRepository, *args: Any, **kwargs: Any) -> Bundle:
        template = programs.store(repo).get_template(trainer.id, template_id)
        programs.delete_template(
            at(repo),
            trainer.id,
            programs.DeleteTemplate(template_id=template_id, version=str(template.version)),
        )
        return original(self, *args, **kwargs)

    with monkeypatch.context() as patched, pytest.raises(TemplateGone):
        patched.setattr(ProgramRepository, "create_bundle", deleted_meanwhile)
        validate(repo, trainer, draft.id, str(draft.version))

    everything = scan(repo)
    assert not [i for i in everything if i.get("type") in ("session", "slot", "guard", "log")]
    assert not [i for i in everything if i.get("type") == "bundle"]
    assert not [i for i in everything if i.get("kind") == SESSION_LINK_KIND]
    kept = programs.store(repo).get_draft(trainer.id, draft.id)
    assert kept.template_id is None and len(kept.cards) == 40
    bundle = validate(repo, trainer, draft.id, str(kept.version))
    assert stored_bundle(repo, trainer.id, bundle.id).status == "active"


# 6. Send confirmations ------------------------------------------------------------------
def session_url(client: Client, session: Session) -> LinkRef:
    """The session link a confirmation carries (made again from the secret when sent)."""
    return LinkRef(
        kind="session",
        base="https://x",
        trainer_id="coach",
        client_id=client.id,
        generation=client.portal_generation,
        target_id=session.id,
    )


def confirm(repo: Repository, trainer: Trainer, bundle_id: str, round_seen: str) -> int:
    """Send confirmations, pressed on a page drawn for `round_seen`."""
    command = programs.SendConfirmations.model_validate(
        {"bundle_id": bundle_id, "round": round_seen}
    )
    return programs.send_confirmations(at(repo), trainer, command, session_url)


def test_send_confirmations_pressed_eight_times_at_once_queues_one_round(
    repo: Repository, studio: Studio
) -> None:
    trainer = studio.trainer
    person = add_person(repo, trainer, studio.location, "Ana Lima", "ana@example.com")
    assert person.email == "ana@example.com"
    bundle = new_bundle(repo, studio, 12, "540", client_id=person.id)

    def send(round_seen: str) -> Callable[[int], Any]:
        return lambda _i: confirm(repo, trainer, bundle.id, round_seen)

    outcomes = race(8, send("0"))

    assert [o for o in outcomes if not isinstance(o, Exception)] == [12], outcomes
    assert all(isinstance(o, Conflict) for o in outcomes if isinstance(o, Exception)), outcomes
    queued = messages_of(repo, trainer.id)
    assert len(queued) == 12
    raw = repo.db.query(keys.trainer_messages(trainer.id), index=keys.TRAINER_INDEX)
    assert len(raw) == 12
    found = bundle_sessions_in_weeks(repo, trainer.id, bundle.id, bundle_weeks(12))
    assert sorted(m.subject_id for m in queued) == sorted(s.id for s in found)
    assert {(m.kind, m.channel, m.to, m.client_id) for m in queued} == {
        ("confirmation", EMAIL, "ana@example.com", person.id)
    }
    assert all(m.subject.startswith("Confirmed: ") for m in queued)
    # the table holds a placeholder; the link is made again from the secret to send
    assert all("https://x/s/" not in m.text and VIDEO in m.text for m in queued)
    assert all(
        f"https://x/s/{runtime.links().session('coach', person.id, 1, m.subject_id)}"
        in runtime.links().message_text(m)
        for m in queued
    )
    stored = stored_bundle(repo, trainer.id, bundle.id)
    assert stored.confirmations_round == 1 and stored.confirmations_sent_at == NOW

    with pytest.raises(Conflict):  # the same form again: nothing twice
        confirm(repo, trainer, bundle.id, "0")
    assert confirm(repo, trainer, bundle.id, "1") == 12
    assert len(messages_of(repo, trainer.id)) == 24
    assert stored_bundle(repo, trainer.id, bundle.id).confirmations_round == 2


def test_confirmations_go_by_whatsapp_to_a_client_without_email(
    repo: Repository, studio: Studio
) -> None:
    trainer, client = studio.trainer, studio.client
    assert client.email == "" and client.phone
    bundle = new_bundle(repo, studio, 3, "90")

    assert confirm(repo, trainer, bundle.id, "0") == 3

    queued = messages_of(repo, trainer.id)
    assert {(m.channel, m.to, m.subject) for m in queued} == {(WHATSAPP, client.phone, "")}
    assert len(queued) == 3


# 7. A cancel at the same moment as Send confirmations ------------------------------------
def test_a_session_canceled_between_read_and_write_gets_no_confirmation(
    repo: Repository, studio: Studio, monkeypatch: pytest.MonkeyPatch
) -> None:
    trainer = studio.trainer
    bundle = new_bundle(repo, studio, 12, "540")
    found = bundle_sessions_in_weeks(repo, trainer.id, bundle.id, bundle_weeks(12))
    victim = found[4]
    original = ProgramRepository.queue_confirmations

    def canceled_meanwhile(self: ProgramRepository, *args: Any, **kwargs: Any) -> int:
        sessions.cancel(repo, trainer.id, victim, str(victim.version), NOW)
        return original(self, *args, **kwargs)

    with monkeypatch.context() as patched:
        patched.setattr(ProgramRepository, "queue_confirmations", canceled_meanwhile)
        sent = confirm(repo, trainer, bundle.id, "0")

    # The canceled session's message is dropped; the eleven others go, in one round.
    assert sent == 11
    queued = messages_of(repo, trainer.id)
    assert len(queued) == 11 and victim.id not in {m.subject_id for m in queued}
    assert stored_bundle(repo, trainer.id, bundle.id).confirmations_round == 1


def test_a_cancel_during_a_large_send_never_stops_it_half_way(
    repo: Repository, studio: Studio, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over 49 sessions the messages take several transactions; a session canceled in a
    later one is dropped from it, and the rest still go: no partial send to repeat."""
    trainer = studio.trainer
    bundle = new_bundle(repo, studio, 60, "600")
    found = bundle_sessions_in_weeks(repo, trainer.id, bundle.id, bundle_weeks(60))
    victim = found[54]
    original = ProgramRepository.queue_confirmations

    def canceled_meanwhile(self: ProgramRepository, *args: Any, **kwargs: Any) -> int:
        sessions.cancel(repo, trainer.id, victim, str(victim.version), NOW)
        return original(self, *args, **kwargs)

    with monkeypatch.context() as patched:
        patched.setattr(ProgramRepository, "queue_confirmations", canceled_meanwhile)
        sent = confirm(repo, trainer, bundle.id, "0")

    queued = messages_of(repo, trainer.id)
    assert sent == 59 and len(queued) == 59
    assert victim.id not in {m.subject_id for m in queued}
    assert len({m.subject_id for m in queued}) == 59  # each once
    assert stored_bundle(repo, trainer.id, bundle.id).confirmations_round == 1


CANCEL_DELAYS = (0.0, 0.002, 0.005, 0.01, 0.02, 0.04, 0.08)


def test_a_cancel_racing_send_confirmations_never_confirms_a_canceled_session(
    repo: Repository, studio: Studio, transactions: Transactions
) -> None:
    trainer = studio.trainer
    bundle = new_bundle(repo, studio, 12, "540")
    found = bundle_sessions_in_weeks(repo, trainer.id, bundle.id, bundle_weeks(12))

    # The cancel is held back a little more each time, so the runs cover it landing
    # before the send's read, between its read and its write, and after its write.
    for attempt, delay in enumerate(CANCEL_DELAYS):
        victim = found[attempt]
        round_seen = stored_bundle(repo, trainer.id, bundle.id).confirmations_round
        live = 12 - attempt
        start = len(transactions.calls)

        def act(
            i: int, victim: Session = victim, round_seen: int = round_seen, delay: float = delay
        ) -> Any:
            if i == 0:
                return confirm(repo, trainer, bundle.id, str(round_seen))
            time.sleep(delay)
            return sessions.cancel(repo, trainer.id, victim, str(victim.version), NOW)

        sent, canceled = race(2, act)

        assert isinstance(canceled, Session) and canceled.status == "canceled", canceled
        prefix = f"{bundle.id}-r{round_seen + 1}-"
        this_round = [m for m in messages_of(repo, trainer.id) if m.id.startswith(prefix)]
        confirmed = {m.subject_id for m in this_round}
        if isinstance(sent, Exception):
            assert isinstance(sent, Conflict), sent
            assert this_round == []
            continue
        assert sent == len(this_round) and sent in (live, live - 1), (sent, live)
        # Commit order of the two writes: a confirmation of the victim only if the
        # messages were written while it was still booked.
        order = [
            "queue" if ("message", "queued") in puts else "cancel"
            for puts in (_put_types(items) for items in transactions.committed_since(start))
            if ("message", "queued") in puts or ("session", "canceled") in puts
        ]
        assert sorted(order) == ["cancel", "queue"], order
        if victim.id in confirmed:
            assert sent == live and order == ["queue", "cancel"], (sent, order)
        else:
            assert sent == live - 1 and order == ["cancel", "queue"], (sent, order)
        assert confirmed <= {s.id for s in found[attempt:]}


# 8. The bundle's entries follow its sessions ---------------------------------------------
def test_cancel_void_and_move_keep_the_bundle_entries_in_step(
    repo: Repository, studio: Studio
) -> None:
    trainer = studio.trainer
    bundle = new_bundle(repo, studio, 12, "540")
    first, second, third = bundle_sessions_in_weeks(repo, trainer.id, bundle.id, bundle_weeks(12))[
        :3
    ]

    sessions.cancel(repo, trainer.id, first, str(first.version), NOW)
    later = second.end_utc + timedelta(days=1)
    sessions.void(repo, trainer.id, second, str(second.version), later)
    target = schedule.add_slot(
        repo,
        trainer,
        _slot_form(nth_day(2) + timedelta(days=1), "14:00", "15:00", studio.location),
        NOW,
    )
    third = sessions.start_changing(repo, trainer.id, third, str(third.version), NOW)
    replacement = sessions.move_to(
        repo, runtime.links(), trainer.id, third, target, str(third.version), NOW
    )

    stored = stored_bundle(repo, trainer.id, bundle.id)
    assert [e.status for e in stored.entries[:3]] == ["canceled", "voided", "booked"]
    assert stored.entries[0].ref == first.ref and stored.entries[1].ref == second.ref
    assert stored.entries[2].ref == replacement.ref != third.ref
    assert stored.entries[2].end_utc == replacement.end_utc
    assert len(stored.entries) == 12
    week = repo.get_week_with_sessions(trainer.id, replacement.week)
    moved = {s.id: s for s in week.sessions}
    assert moved[third.id].status == "moved" and moved[third.id].moved_to == replacement.ref
    new = moved[replacement.id]
    assert (new.kind, new.bundle_id, new.bundle_index) == ("program", bundle.id, 2)
    assert (new.bundle_title, new.video_link, new.documents) == (
        "12-session coaching",
        VIDEO,
        (PLAN_DOC,),
    )
    assert new.price_minor == third.price_minor and new.slot_id == target.id
    assert stored.attended(AFTER_ALL) == 10 and stored.live_count() == 10
    assert stored.state(AFTER_ALL) == "active"  # 10 of 12 took place
    assert stored.attended(NOW) == 0

    # The entry now follows the replacement: canceling it updates the same entry.
    sessions.cancel(repo, trainer.id, new, str(new.version), NOW)
    stored = stored_bundle(repo, trainer.id, bundle.id)
    assert stored.entries[2].status == "canceled" and stored.entries[2].ref == replacement.ref
    assert stored.attended(AFTER_ALL) == 9


# 9. One more session for a bundle --------------------------------------------------------
def _add_form(bundle: Bundle, day: date, start: str = "10:00") -> programs.AddBundleSession:
    """The bundle page's Add a session, drawn from `bundle` as read."""
    return programs.AddBundleSession.model_validate(
        {
            "bundle_id": bundle.id,
            "version": str(bundle.version),
            "day": day.isoformat(),
            "start": start,
        }
    )


def set_status(
    repo: Repository, trainer_id: str, bundle_id: str, action: str, version: str, now: datetime
) -> Bundle:
    """The bundle page's Pause / Resume / Mark completed / Reopen."""
    command = programs.ChangeBundleStatus.model_validate(
        {"bundle_id": bundle_id, "action": action, "version": version}
    )
    return programs.change_status(at(repo, now), trainer_id, command)


def test_add_session_is_refused_while_paused_or_full_and_appends_an_entry_otherwise(
    repo: Repository, studio: Studio
) -> None:
    trainer = studio.trainer
    bundle = new_bundle(repo, studio, 12, "100")
    extra_day = nth_day(14)

    with pytest.raises(InvalidInput) as full:
        programs.add_session(at(repo), trainer, _add_form(bundle, extra_day))
    assert "All 12 sessions are scheduled" in full.value.errors["_form"]

    first = bundle_sessions_in_weeks(repo, trainer.id, bundle.id, bundle_weeks(12))[0]
    sessions.cancel(repo, trainer.id, first, str(first.version), NOW)
    paused = set_status(repo, trainer.id, bundle.id, "pause", str(bundle.version), NOW)
    assert paused.status == "paused"
    with pytest.raises(InvalidInput) as refused:
        programs.add_session(at(repo), trainer, _add_form(paused, extra_day))
    assert "paused" in refused.value.errors["_form"]
    assert week_items(repo, trainer.id, week_key(extra_day)) == []

    resumed = set_status(repo, trainer.id, bundle.id, "resume", str(paused.version), NOW)
    added = programs.add_session(at(repo), trainer, _add_form(resumed, extra_day))

    stored = stored_bundle(repo, trainer.id, bundle.id)
    assert len(stored.entries) == 13 and stored.version == resumed.version + 1
    assert stored.entries[12].ref == added.ref and stored.entries[12].status == "booked"
    assert stored.live_count() == 12
    assert (added.kind, added.bundle_id, added.bundle_index) == ("program", bundle.id, 12)
    assert added.price_minor == stored.share(12) == 833  # the smallest share of £100 / 12
    week = repo.get_week_with_sessions(trainer.id, added.week)
    assert [s.id for s in week.sessions] == [added.id]
    assert [s.session_id for s in week.slots] == [added.id]
    with pytest.raises(InvalidInput):  # full again
        programs.add_session(at(repo), trainer, _add_form(stored, nth_day(15)))


def test_two_add_sessions_at_once_for_one_free_place_leave_exactly_one(
    repo: Repository, studio: Studio
) -> None:
    trainer = studio.trainer
    bundle = new_bundle(repo, studio, 12, "540")
    first = bundle_sessions_in_weeks(repo, trainer.id, bundle.id, bundle_weeks(12))[0]
    sessions.cancel(repo, trainer.id, first, str(first.version), NOW)
    days = [nth_day(14), nth_day(14) + timedelta(days=1)]

    def add(i: int) -> Session:
        seen = stored_bundle(repo, trainer.id, bundle.id)  # each tab's own fresh page
        return programs.add_session(at(repo), trainer, _add_form(seen, days[i]))

    outcomes = race(2, add)

    winners = [o for o in outcomes if isinstance(o, Session)]
    assert len(winners) == 1, outcomes
    (loser,) = [o for o in outcomes if isinstance(o, Exception)]
    assert isinstance(loser, (VersionConflict, InvalidInput, Conflict)), loser
    stored = stored_bundle(repo, trainer.id, bundle.id)
    assert len(stored.entries) == 13 and stored.entries[12].ref == winners[0].ref
    assert len({e.ref for e in stored.entries}) == 13
    everything = bundle_sessions_in_weeks(
        repo, trainer.id, bundle.id, [*bundle_weeks(12), week_key(days[0])]
    )
    indexes = [s.bundle_index for s in everything]
    assert sorted(indexes) == list(range(13)), indexes  # never two at one index
    lost_day = days[outcomes.index(loser)]
    week = repo.get_week_with_sessions(trainer.id, week_key(lost_day))
    assert not [s for s in week.slots if s.day == lost_day]
    assert not [s for s in week.sessions if s.day == lost_day]


def test_add_sessions_at_once_from_one_stale_page_leave_exactly_one(
    repo: Repository, studio: Studio
) -> None:
    trainer = studio.trainer
    bundle = new_bundle(repo, studio, 12, "540")
    found = bundle_sessions_in_weeks(repo, trainer.id, bundle.id, bundle_weeks(12))
    for session in found[:2]:  # two free places: only the version stops a second add
        sessions.cancel(repo, trainer.id, session, str(session.version), NOW)
    seen = stored_bundle(repo, trainer.id, bundle.id)
    days = [nth_day(14), nth_day(14) + timedelta(days=1)]

    outcomes = race(
        2,
        lambda i: programs.add_session(at(repo), trainer, _add_form(seen, days[i])),
    )

    winners = [o for o in outcomes if isinstance(o, Session)]
    assert len(winners) == 1, outcomes
    assert [type(o) for o in outcomes if isinstance(o, Exception)] == [VersionConflict]
    stored = stored_bundle(repo, trainer.id, bundle.id)
    assert len(stored.entries) == 13 and stored.entries[12].ref == winners[0].ref
    assert winners[0].bundle_index == 12


@pytest.mark.parametrize("count", [3, 40])
def test_validate_pressed_twice_at_once_makes_one_bundle(
    repo: Repository, studio: Studio, count: int
) -> None:
    trainer = studio.trainer
    draft = open_wizard(repo, studio, count, "100")

    outcomes = race(
        2,
        lambda _i: validate(repo, trainer, draft.id, str(draft.version)),
    )

    winners = [o for o in outcomes if isinstance(o, Bundle)]
    assert len(winners) == 1, outcomes
    (loser,) = [o for o in outcomes if isinstance(o, Exception)]
    assert isinstance(loser, (Conflict, InvalidInput, VersionConflict)), loser
    assert [b.id for b in programs.store(repo).list_bundles(trainer.id)] == [draft.id]
    stored = stored_bundle(repo, trainer.id, draft.id)
    assert stored.status == "active" and len(stored.entries) == count
    everything = scan(repo)
    assert sum(1 for i in everything if i.get("type") == "session") == count
    assert sum(1 for i in everything if i.get("type") == "slot") == count
    assert sum(1 for i in everything if i.get("kind") == SESSION_LINK_KIND) == count


# 10. The hub: every bundle in one index, sorted by when it is over ---------------------------
def hub_key(repo: Repository, trainer_id: str, bundle_id: str) -> tuple[str, str]:
    item = repo.db.get(keys.bundle(trainer_id, bundle_id))
    assert item is not None
    return item[keys.TRAINER_PK], item[keys.TRAINER_SK]


def test_the_hub_index_follows_every_write_of_the_bundle(repo: Repository, studio: Studio) -> None:
    trainer = studio.trainer
    bundle = new_bundle(repo, studio, 3, "90")
    last_end = "20261215T110000Z"  # the third Tuesday's session ends at 11:00 UTC
    assert hub_key(repo, trainer.id, bundle.id) == (
        keys.trainer_bundles(trainer.id),
        f"{last_end}#{bundle.id}",
    )
    paused = set_status(repo, trainer.id, bundle.id, "pause", "1", NOW)
    assert hub_key(repo, trainer.id, bundle.id)[1] == f"~#20261123T090000Z#{bundle.id}"
    set_status(repo, trainer.id, bundle.id, "resume", str(paused.version), NOW)
    assert hub_key(repo, trainer.id, bundle.id)[1] == f"{last_end}#{bundle.id}"
    later = NOW + timedelta(days=2)
    done = set_status(repo, trainer.id, bundle.id, "complete", "3", later)
    assert hub_key(repo, trainer.id, bundle.id)[1] == f"20261125T090000Z#{bundle.id}"
    set_status(repo, trainer.id, bundle.id, "reopen", str(done.version), later)
    assert hub_key(repo, trainer.id, bundle.id)[1] == f"{last_end}#{bundle.id}"

    # A canceled session leaves the key as it was (pattern 63 does not touch it); adding
    # a session writes it again: with 3 of 3 booked, when the new last one ends.
    (*_, third) = bundle_sessions_in_weeks(repo, trainer.id, bundle.id, bundle_weeks(3))
    sessions.cancel(repo, trainer.id, third, str(third.version), NOW)
    assert hub_key(repo, trainer.id, bundle.id)[1] == f"{last_end}#{bundle.id}"
    stored = stored_bundle(repo, trainer.id, bundle.id)
    programs.add_session(at(repo), trainer, _add_form(stored, nth_day(5)))
    assert hub_key(repo, trainer.id, bundle.id)[1] == f"20270105T110000Z#{bundle.id}"


def test_a_chunked_bundle_is_open_ended_while_created_then_sorted_by_its_last_session(
    repo: Repository, studio: Studio, transactions: Transactions
) -> None:
    bundle = new_bundle(repo, studio, 40, "400")
    first_put = next(
        from_attrs(op["Put"]["Item"])
        for items, ok in transactions.calls
        if ok
        for op in items
        if "Put" in op and from_attrs(op["Put"]["Item"]).get("type") == "bundle"
    )
    assert first_put["status"] == "creating" and first_put[keys.TRAINER_SK].startswith("~#")
    last = max(e.end_utc for e in stored_bundle(repo, studio.trainer.id, bundle.id).entries)
    expected = f"{keys.timeline_point(utc_iso(last))}#{bundle.id}"
    assert hub_key(repo, studio.trainer.id, bundle.id)[1] == expected


def _sold(repo: Repository, studio: Studio, n: int, ends: list[datetime], **changes: Any) -> Bundle:
    """A bundle written straight to the table: the hub reads only the bundle items."""
    bundle = Bundle(
        id=f"b{n:03d}",
        client_id=studio.client.id,
        client_name=studio.client.name,
        title=f"Pack {n}",
        sessions_planned=len(ends),
        price_minor=1000,
        location_id=studio.location,
        entries=tuple(
            BundleEntry(ref=f"2026-W01.20260101T000000Z.s{n}-{i}", end_utc=end)
            for i, end in enumerate(ends)
        ),
        created_at=NOW - timedelta(days=400 - n),
        **changes,
    )
    repo.db.put(bundle_to_item(studio.trainer.id, bundle))
    return bundle


def test_the_hub_reads_twenty_bundles_a_page_not_over_first_then_most_recently_over(
    repo: Repository, studio: Studio
) -> None:
    trainer_id = studio.trainer.id
    ahead = [_sold(repo, studio, n, [NOW + timedelta(days=n)]) for n in range(3)]
    paused = _sold(repo, studio, 3, [NOW - timedelta(days=30)], status="paused")
    over = [_sold(repo, studio, 10 + n, [NOW - timedelta(days=1 + n)]) for n in range(30)]
    store = programs.store(repo)

    page, cursor = store.hub_page(trainer_id, None)
    assert len(page) == 20 and cursor is not None
    assert page[0].id == paused.id  # open-ended first
    assert [b.id for b in page[1:4]] == [b.id for b in reversed(ahead)]  # the furthest first
    assert [b.id for b in page[4:]] == [b.id for b in over[:16]]  # most recently over first
    rest, end = store.hub_page(trainer_id, cursor)
    assert [b.id for b in rest] == [b.id for b in over[16:]] and end is None

    # A cursor this Query could not have returned starts from the top again.
    other = {**cursor, keys.TRAINER_PK: keys.trainer_bundles("someone-else")}
    assert store.hub_page(trainer_id, other)[0][0].id == paused.id
    assert store.hub_page("someone-else", cursor) == ([], None)


# 11. The wizard's dates against the schedule, without reading their weeks -----------------
@pytest.fixture
def reads(repo: Repository, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The read operations sent to DynamoDB, in order."""
    sent: list[str] = []
    for name in ("get_item", "batch_get_item", "query"):
        original = getattr(repo.db.client, name)

        def counted(*args: Any, _original: Any = original, _name: str = name, **kw: Any) -> Any:
            sent.append(_name)
            return _original(*args, **kw)

        monkeypatch.setattr(repo.db.client, name, counted)
    return sent


def _slot_at(
    repo: Repository, studio: Studio, day: date, start: str, end: str, location: str = ""
) -> Slot:
    return schedule.add_slot(
        repo, studio.trainer, _slot_form(day, start, end, location or studio.location), NOW
    )


def _cards(repo: Repository, studio: Studio, cards: list[tuple[date, str]]) -> Draft:
    draft = open_wizard(repo, studio, len(cards), "100")
    # Back saves the cards as they are; Continue would also refuse the ones in the way.
    form = {"version": str(draft.version), "action": "back", "cards": str(len(cards))}
    for i, (day, start) in enumerate(cards):
        form[f"card_day_{i}"], form[f"card_start_{i}"] = day.isoformat(), start
    saved, _ = programs.save_schedule(
        at(repo),
        studio.trainer,
        programs.SaveSchedule.model_validate({**form, "draft_id": draft.id}),
    )
    return saved


def _the_old_way(repo: Repository, trainer: Trainer, draft: Draft) -> list[tuple[bool, str | None]]:
    """What the check said when it read every week the dates fall in."""
    offer = programs.draft_offer(trainer, draft)
    zone_name = trainer.settings.time_zone
    weeks = {
        c.slot.week
        for c in check_cards(draft.cards, offer, zone_name, NOW, [], [], new_id)
        if c.slot is not None
    }
    slots, found = [], []
    for week in sorted(weeks):
        data = repo.get_week_with_sessions(trainer.id, week)
        slots += data.slots
        found += data.sessions
    return [
        (c.existing, c.problem)
        for c in check_cards(draft.cards, offer, zone_name, NOW, slots, found, new_id)
    ]


def test_every_date_is_checked_at_once_with_every_message_the_weeks_would_give(
    repo: Repository, studio: Studio, reads: list[str]
) -> None:
    park = account.add_location(repo, studio.trainer.id, "Park")
    trainer = repo.get_trainer(studio.trainer.id)
    assert trainer is not None
    studio = Studio(trainer, studio.location, studio.client)
    sam = add_person(repo, trainer, studio.location, "Sam Lee")
    days = [nth_day(i) for i in range(12)]
    exact = _slot_at(repo, studio, days[1], "10:00", "11:00")
    _slot_at(repo, studio, days[2], "10:30", "11:30")  # begins inside the date
    _slot_at(repo, studio, days[3], "08:30", "10:30")  # began before it
    for day, start, end in ((days[4], "10:00", "11:00"), (days[5], "07:00", "12:00")):
        slot = _slot_at(repo, studio, day, start, end)
        schedule.allocate(repo, runtime.links(), trainer, slot, sam.id, str(slot.version), NOW)
    _slot_at(repo, studio, days[6], "10:00", "11:00", park.id)
    for day, until in ((days[7], NOW + timedelta(hours=1)), (days[8], NOW)):
        held = make_slot(new_id(), day, 600, 660, studio.location, trainer.settings.time_zone)
        offer = Offer(id=new_id(), client_id=sam.id, client_name="Sam Lee", expires_at=until)
        repo.add_slot(trainer.id, held.model_copy(update={"offer": offer}))
    _slot_at(repo, studio, days[9], "09:00", "10:00")  # ends as the date begins
    _slot_at(repo, studio, days[10], "11:00", "12:00")  # begins as it ends
    draft = _cards(repo, studio, [(day, "10:00") for day in days])

    del reads[:]
    checked = programs.plan(repo, trainer, draft.id, NOW)

    assert reads == ["get_item", "batch_get_item", "batch_get_item", "batch_get_item"]
    assert checked.client.id == studio.client.id
    assert [(c.existing, c.problem) for c in checked.checks] == [
        (False, None),
        (True, None),
        (False, "Overlaps your open slot Tuesday 15 Dec 10:30–11:30."),
        (False, "Overlaps your open slot Tuesday 22 Dec 08:30–10:30."),
        (False, "Clashes with Sam Lee's session Tuesday 29 Dec 10:00–11:00."),
        (False, "Clashes with Sam Lee's session Tuesday 5 Jan 07:00–12:00."),
        (False, "Your open slot Tuesday 12 Jan 10:00–11:00 is at another location."),
        (False, "Your open slot Tuesday 19 Jan 10:00–11:00 is offered to Sam Lee."),
        (True, None),  # its offer ran out: the slot is open again
        (False, None),
        (False, None),
        (False, None),
    ]
    assert checked.checks[1].slot == exact
    assert [(c.existing, c.problem) for c in checked.checks] == _the_old_way(repo, trainer, draft)


def test_dates_without_anything_in_the_way_cost_one_batch_read(
    repo: Repository, studio: Studio, reads: list[str]
) -> None:
    draft = _cards(repo, studio, [(nth_day(i), "10:00") for i in range(12)])
    del reads[:]
    checked = programs.plan(repo, studio.trainer, draft.id, NOW)
    assert reads == ["get_item", "batch_get_item"]  # the draft; the client and 36 guards
    assert checked.ready and not any(c.existing for c in checked.checks)


def test_more_than_a_hundred_guards_take_one_more_call_per_hundred(
    repo: Repository, studio: Studio, reads: list[str]
) -> None:
    # 40 one-hour dates: the client, 40 × (2 half hours + the one before) = 121 keys.
    draft = _cards(repo, studio, [(nth_day(i), "10:00") for i in range(40)])
    del reads[:]
    assert programs.plan(repo, studio.trainer, draft.id, NOW).ready
    assert reads == ["get_item", "batch_get_item", "batch_get_item"]


def test_a_slot_from_before_a_time_zone_change_is_still_found_by_reading_its_week(
    repo: Repository, studio: Studio, reads: list[str]
) -> None:
    # Made while the trainer was in New York: Tuesday 1 Dec 17:00–23:00 there, which is
    # 22:00 on Tuesday to 04:00 on Wednesday in London, where the trainer is now.
    trainer = studio.trainer
    old = make_slot(new_id(), nth_day(0), 17 * 60, 23 * 60, studio.location, "America/New_York")
    repo.add_slot(trainer.id, old)
    draft = _cards(repo, studio, [(nth_day(0) + timedelta(days=1), "02:00")])
    del reads[:]
    checked = programs.plan(repo, trainer, draft.id, NOW)
    assert [c.problem for c in checked.checks] == [
        "Overlaps your open slot Tuesday 1 Dec 17:00–23:00."
    ]
    assert reads == ["get_item", "batch_get_item", "batch_get_item", "query"]


def test_validate_still_refuses_a_half_hour_taken_after_the_check(
    repo: Repository, studio: Studio, monkeypatch: pytest.MonkeyPatch
) -> None:
    trainer = studio.trainer
    draft = _cards(repo, studio, [(nth_day(0), "10:00"), (nth_day(1), "10:00")])
    original = ProgramRepository.create_bundle

    def taken_meanwhile(self: ProgramRepository, *args: Any, **kwargs: Any) -> Bundle:
        _slot_at(repo, studio, nth_day(1), "10:30", "11:30")  # another tab, just before
        return original(self, *args, **kwargs)

    monkeypatch.setattr(ProgramRepository, "create_bundle", taken_meanwhile)
    with pytest.raises(Conflict, match="Tuesday 8 Dec 10:00–11:00 was taken"):
        validate(repo, trainer, draft.id, str(draft.version))
    assert programs.store(repo).list_bundles(trainer.id) == []
    assert bundle_sessions_in_weeks(repo, trainer.id, draft.id, bundle_weeks(2)) == []


def test_bundles_from_before_the_hub_index_are_keyed_once_by_the_backfill(
    repo: Repository, studio: Studio
) -> None:
    trainer_id = studio.trainer.id
    ahead = [NOW - timedelta(days=3), NOW + timedelta(days=3)]
    over = [NOW - timedelta(days=5), NOW - timedelta(days=3)]
    for n, (ends, changes) in enumerate(
        ((ahead, {}), (over, {"status": "completed"}), (ahead, {"status": "paused"}))
    ):
        _sold(repo, studio, n, ends, **changes)
        repo.db.update(
            keys.bundle(trainer_id, f"b{n:03d}"),
            Condition("REMOVE #tpk, #tsk", {"#tpk": keys.TRAINER_PK, "#tsk": keys.TRAINER_SK}),
        )
    store = programs.store(repo)
    assert store.hub_page(trainer_id, None) == ([], None)

    assert store.index_bundles(trainer_id, NOW) == 3
    assert store.index_bundles(trainer_id, NOW) == 0  # once
    page, _ = store.hub_page(trainer_id, None)
    assert [b.id for b in page] == ["b002", "b000", "b001"]  # paused, active, completed
    assert hub_key(repo, trainer_id, "b001")[1] == "20261120T090000Z#b001"  # its last end

"""The two trainer accounts the benchmark measures, written by the app's own code.

- small: 5 clients, 1 week of history, a weekly template of 10 slots, a few opt-ins,
  a bundle, a few messages;
- large: 300 clients, 5 years (260 weeks) of history: two clients every week for the whole
  five years, six template slots held in turn by ~65 recurring clients, ~950 drop-in
  sessions of ~225 occasional clients, cancellations, voids, payments, invoices,
  confirmations and their messages (sent by the real dispatcher), past bundles.

Both share the same weekly template and the same "present" (this week and next applied,
opt-ins, an offer, a bundle, a wizard draft), so a page bounded by what it shows reads the
same in both, and a difference is the account's size and age.

History is written in memory (`memory_dynamodb`) through the services and repository
methods a trainer's clicks would call, with "now" at each step; the items are then
batch-written into moto. The present is made through the same services on moto itself.
Everything is seeded: two runs build the same data (ids and tokens differ).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from botocore.config import Config

from benchmarks.memory_dynamodb import MemoryDynamoDB
from benchmarks.moto_env import NOW, REGION, TABLE
from chalicelib import runtime
from chalicelib.domain.clients import AddClient, Client
from chalicelib.domain.messages import LinkRef, Message
from chalicelib.domain.models import Trainer
from chalicelib.domain.schedule import AddSlot, Session, Slot, parse_session_ref, shift_week
from chalicelib.domain.settings import PaymentDetails, TrainerSettings
from chalicelib.domain.template import SaveSlot
from chalicelib.domain.timeutil import week_monday
from chalicelib.domain.tokens import new_id
from chalicelib.messaging.delivery import SendResult
from chalicelib.repo.dynamo import Db
from chalicelib.repo.repository import Repository
from chalicelib.services import (
    account,
    auth,
    clients,
    dispatcher,
    messages,
    offers,
    programs,
    schedule,
    sessions,
)
from chalicelib.services.deps import Deps
from chalicelib.web import forms

BASE_URL = "http://testserver"  # the test stage's PUBLIC_BASE_URL
THIS_WEEK = "2026-W48"  # NOW's week
HISTORY_WEEKS_LARGE = 260
BLOCK_WEEKS = 4  # the large trainer applies the template four weeks at a time

LOCATIONS = ("Riverside Studio", "Victoria Park")
# (weekday, start, end, location index): T0..T9. T8 and T9 have no recurring client.
TEMPLATE = (
    (0, "07:00", "08:00", 0),
    (0, "18:00", "19:00", 0),
    (1, "12:00", "13:00", 1),
    (2, "07:00", "08:00", 0),
    (2, "18:00", "19:00", 0),
    (3, "12:00", "13:00", 1),
    (4, "07:00", "08:00", 0),
    (4, "17:00", "18:00", 1),
    (5, "09:00", "10:00", 1),
    (5, "10:00", "11:00", 1),
)
OPEN_TEMPLATE_SLOTS = (8, 9)
# One-off slots the large trainer adds for drop-in clients (never overlapping the
# template): (weekday, start, end, location index).
EXTRA_TIMES = (
    (0, "12:00", "13:00", 1),
    (1, "18:00", "19:00", 0),
    (3, "18:00", "19:00", 0),
    (5, "11:00", "12:00", 1),
)
PROGRAMS = (
    ("12-session coaching", "12", "540", 0),
    ("Starter pack", "6", "250", 1),
)
PAYMENT_TYPES = ("cash", "bank_transfer", "card")
FIRST_NAMES = (
    *("Priya", "Tom", "Ella", "Jamie", "Omar", "Aisha", "Ben", "Chloe", "Daniel", "Erin"),
    *("Farah", "George", "Hannah", "Isaac", "Jade", "Kofi", "Laura", "Mohammed", "Nina"),
    *("Oscar", "Poppy", "Quinn", "Rosa", "Sam", "Tara", "Umar", "Vera", "Will", "Yasmin", "Zac"),
)
LAST_NAMES = (
    *("Shah", "Okafor", "Morgan", "Lee", "Haddad", "Khan", "Walker", "Price", "Evans"),
    *("Hughes", "Reid", "Murphy", "Patel", "Clarke", "Novak", "Ahmed", "Doyle", "Fraser"),
    *("Grant", "Byrne"),
)


@dataclass
class Built:
    """What the pages need to find in one account, and how big it came out."""

    name: str
    email: str
    trainer_id: str = ""
    profiled_client: str = ""  # the client of the profile and portal pages
    past_session_ref: str = ""  # a past session with a log and messages
    upcoming_session_token: str = ""  # the client's /s/ link to an upcoming session
    portal_token: str = ""
    open_slot_path: str = ""
    bundle_id: str = ""
    draft_id: str = ""
    offer_token: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


# The build ---------------------------------------------------------------------------
class _Trainer:
    """One trainer's build on one repository (in memory for history, moto for the
    present): the services called as the trainer's clicks would call them."""

    def __init__(self, repo: Repository, rng: random.Random) -> None:
        self.repo = repo
        self.rng = rng
        self.trainer: Trainer
        self.location_ids: list[str] = []
        self.template_ids: list[str] = []
        self.program_ids: list[str] = []
        self.clients: dict[str, Client] = {}

    @property
    def tid(self) -> str:
        return self.trainer.id

    def deps(self, at: datetime) -> Deps:
        """What a click's use case is handed: this build's repository, the stage's links
        and config, and `at` as the request's one instant."""
        return Deps(self.repo, runtime.links(), runtime.config(), at)

    def refresh(self) -> None:
        found = self.repo.get_trainer(self.tid)
        assert found is not None
        self.trainer = found

    def create(self, email: str, business: str, at: datetime) -> None:
        self.trainer = Trainer(
            id=new_id(),
            email=email,
            created_at=at,
            settings=TrainerSettings(
                business_name=business,
                payment=PaymentDetails(
                    scheme="uk",
                    payee_name=business,
                    bank_name="Monzo",
                    account_number="12345678",
                    sort_code="04-00-04",
                ),
            ),
        )
        self.repo.create_trainer(self.trainer)
        self.location_ids = [account.add_location(self.repo, self.tid, n).id for n in LOCATIONS]
        for weekday, start, end, location in TEMPLATE:
            version = self.repo.get_setup(self.tid).template.version
            made = account.save_template_slot(
                self.deps(at),
                self.tid,
                SaveSlot(
                    weekday=str(weekday),
                    start=start,
                    end=end,
                    location_id=self.location_ids[location],
                    version=version,
                ),
            )
            self.template_ids.append(made.id)
        self.refresh()
        for title, count, price, location in PROGRAMS:
            form = {
                "title": title,
                "sessions": count,
                "price": price,
                "location_id": self.location_ids[location],
                "length": "60",
                "video_link": "https://meet.example.com/coach",
                "doc_name_0": "Training plan",
                "doc_url_0": "https://docs.example.com/plan.pdf",
            }
            command = forms.command(programs.SaveTemplate, form)
            self.program_ids.append(programs.save_template(self.deps(at), self.trainer, command).id)

    # Clients ---------------------------------------------------------------------------
    def add_client(self, index: int, at: datetime) -> Client:
        name = (
            f"{FIRST_NAMES[index % len(FIRST_NAMES)]} "
            f"{LAST_NAMES[(index // len(FIRST_NAMES)) % len(LAST_NAMES)]}"
        )
        form = {
            "name": name,
            "phone": f"07400 {100000 + index}",
            "email": f"client{index}@example.com" if index % 3 == 0 else "",
            "price": str(40 + 5 * (index % 3)),
        }
        typed = AddClient.model_validate(form)
        made = clients.add_client(self.repo, runtime.links(), self.trainer, typed, at)
        # The profile form: both locations enabled (recurring slots come with stints).
        made = self.repo.save_client(self.tid, made, location_ids=tuple(self.location_ids))
        self.clients[made.id] = made
        return made

    def hold(self, client_id: str, template_indexes: tuple[int, ...]) -> None:
        """The profile form's recurring slots (the repository claims them atomically)."""
        recurring = tuple(self.template_ids[i] for i in template_indexes)
        client = self.repo.get_client(self.tid, client_id)
        self.clients[client_id] = self.repo.save_client(self.tid, client, recurring=recurring)

    def archive(self, client_id: str) -> None:
        client = self.repo.get_client(self.tid, client_id)
        self.clients[client_id] = clients.archive(self.repo, self.tid, client, client.version)

    # Schedule --------------------------------------------------------------------------
    def apply(self, first_week: str, weeks: int, at: datetime) -> list[Any]:
        results = schedule.apply_template(
            self.repo, runtime.links(), self.trainer, first_week, weeks, at
        )
        if self.trainer.template_applied_at is None:
            self.refresh()
        return results

    def one_off(self, week: str, extra: tuple[int, str, str, int], at: datetime) -> Slot:
        weekday, start, end, location = extra
        day = week_monday(week) + timedelta(days=weekday)
        form = {
            "day": day.isoformat(),
            "start": start,
            "end": end,
            "location_id": self.location_ids[location],
        }
        return schedule.add_slot(self.repo, self.trainer, AddSlot(**form), at)

    def allocate(self, slot: Slot, client_id: str, at: datetime) -> Session:
        return schedule.allocate(
            self.repo, runtime.links(), self.trainer, slot, client_id, str(slot.version), at
        )

    def session(self, ref: str) -> Session:
        parsed = parse_session_ref(ref)
        assert parsed is not None
        return self.repo.get_session(self.tid, parsed)

    # What happens around a session -----------------------------------------------------
    def _session_url(self, client: Client, session: Session) -> LinkRef:
        return LinkRef(
            kind="session",
            base=BASE_URL,
            trainer_id=self.tid,
            client_id=client.id,
            generation=client.portal_generation,
            target_id=session.id,
        )

    def confirm(self, session: Session, at: datetime) -> None:
        messages.send_confirmation(
            self.repo, self.trainer, session, new_id(), self._session_url, at
        )

    def invoice(self, session: Session, at: datetime) -> None:
        messages.send_invoice(self.repo, self.trainer, session, new_id(), at)

    def pay(self, ref: str, at: datetime) -> None:
        current = self.session(ref)
        form = {
            "version": str(current.version),
            "paid": "yes",
            "payment_type": self.rng.choice(PAYMENT_TYPES),
        }
        payment = forms.command(sessions.SetPayment, form)
        sessions.set_payment(self.repo, self.tid, current, payment, at)

    def cancel(self, ref: str, at: datetime, tell: bool) -> None:
        current = self.session(ref)
        notice = (
            sessions.change_notice(
                sessions.ChangeNotice(self.trainer, "", BASE_URL),
                self.repo.get_client(self.tid, current.client_id),
                "cancel_notice",
                current,
                at,
            )
            if tell
            else None
        )
        sessions.cancel(self.repo, self.tid, current, str(current.version), at, notice=notice)

    def void(self, ref: str, at: datetime) -> None:
        current = self.session(ref)
        sessions.void(self.repo, self.tid, current, str(current.version), at)

    def life_of(self, session: Session, forced: bool = False) -> None:
        """Confirmation, cancel, invoice, payment or void, with a trainer's frequencies;
        `forced`: confirmed, invoiced and paid (the session page's session). Nothing
        happens later than an hour before the benchmark's "now"."""
        rng, end = self.rng, min(session.end_utc, NOW - timedelta(hours=4))
        program = session.bundle_id is not None
        if forced or rng.random() < 0.10:
            self.confirm(session, session.created_at + timedelta(minutes=30))
        if not forced and not program and rng.random() < 0.04:
            self.cancel(session.ref, session.start_utc - timedelta(days=2), rng.random() < 0.5)
            return
        if not forced and not program and rng.random() < 0.01:
            self.void(session.ref, min(end + timedelta(days=1), NOW - timedelta(hours=1)))
            return
        if forced or rng.random() < 0.25:
            self.invoice(session, end + timedelta(hours=2))
        if forced or rng.random() < 0.92:
            paid_at = end + timedelta(days=rng.randint(0, 4))
            self.pay(session.ref, min(paid_at, NOW - timedelta(hours=1)))

    def dispatch(self, at: datetime) -> None:
        """The dispatch_messages job until nothing is due (the `log` provider's result)."""

        def sender(_trainer_id: str, message: Message) -> SendResult:
            return SendResult("log", f"log-{message.id}")

        for _run in range(1000):
            if not dispatcher.dispatch(self.repo, at, sender).due:
                return
        raise RuntimeError("messages stay due after 1000 dispatcher runs")

    # Programs --------------------------------------------------------------------------
    def draft(self, client_id: str, program: int, first_day: str, time_: str, at: datetime) -> str:
        deps = self.deps(at)
        chosen = {"client_id": client_id, "template_id": self.program_ids[program]}
        made = programs.start_draft(deps, self.trainer, forms.command(programs.StartDraft, chosen))
        offer = {**made.offer.model_dump(), "version": str(made.version), "action": "next"}
        made = programs.save_offer(
            deps, self.trainer, forms.command(programs.SaveOffer, offer, draft_id=made.id)
        )
        quick = {
            "version": str(made.version),
            "action": "generate",
            "first_day": first_day,
            "first_time": time_,
            "every_weeks": "1",
        }
        made, _ = programs.save_schedule(
            deps, self.trainer, forms.command(programs.SaveSchedule, quick, draft_id=made.id)
        )
        return made.id

    def bundle(self, client_id: str, first_day: str, time_: str, at: datetime) -> Any:
        """A Starter pack (6 weekly sessions) through the 3-step wizard and Validate."""
        draft_id = self.draft(client_id, 1, first_day, time_, at)
        version = programs.store(self.repo).get_draft(self.tid, draft_id).version
        command = forms.command(programs.CreateBundle, {"version": str(version)}, draft_id=draft_id)
        return programs.create_bundle(self.deps(at), self.trainer, command)


# History ------------------------------------------------------------------------------
def _apply_time(week: str) -> datetime:
    """The trainer applies the template on the Monday morning a week before."""
    monday = week_monday(week) - timedelta(days=7)
    return datetime(monday.year, monday.month, monday.day, 8, 0, tzinfo=NOW.tzinfo)


def _week(offset: int) -> str:
    return shift_week(THIS_WEEK, offset)


def _life_of_booked(
    coach: _Trainer, results: list[Any], forced: Callable[[Session], bool]
) -> list[Session]:
    booked = [s for week in results for s in week.booked]
    for session in booked:
        coach.life_of(session, forced(session))
    return booked


def small_history(coach: _Trainer) -> dict[str, str]:
    """5 clients; last week applied, lived and paid."""
    start = _apply_time(_week(-1)) - timedelta(days=7)
    coach.create("small@example.com", "Sam Carter PT", start)
    made = [coach.add_client(i, start + timedelta(hours=i)) for i in range(5)]
    # Priya T0; Tom T1+T2; Ella T3-T5; Jamie T6+T7; Omar: opt-ins only.
    for client, held in zip(made, ((0,), (1, 2), (3, 4, 5), (6, 7)), strict=False):
        coach.hold(client.id, held)
    priya = made[0].id
    results = coach.apply(_week(-1), 1, _apply_time(_week(-1)))
    _life_of_booked(coach, results, lambda s: s.client_id == priya)
    coach.dispatch(NOW - timedelta(minutes=30))
    return {"profiled": priya, "bundle_client": made[2].id, "optins": ""}


def large_history(coach: _Trainer) -> dict[str, str]:
    """300 clients, 260 weeks, applied four weeks at a time."""
    rng = coach.rng
    weeks = HISTORY_WEEKS_LARGE
    blocks = weeks // BLOCK_WEEKS
    first = _week(-weeks)
    start = _apply_time(first) - timedelta(days=14)
    coach.create("large@example.com", "Sam Carter PT", start)
    index = 0

    def new_client(at: datetime) -> Client:
        nonlocal index
        made = coach.add_client(index, at)
        index += 1
        return made

    priya, tom = new_client(start), new_client(start)
    coach.hold(priya.id, (0,))
    coach.hold(tom.id, (1,))

    # Stints of the rotating template slots T2..T7, in blocks: (slot, first block, end).
    stints: list[tuple[int, int, int]] = []
    for slot in range(2, 8):
        block = 0
        while block < blocks:
            block += rng.choice((0, 0, 0, 1))
            length = rng.randint(2, 8)
            if block >= blocks:
                break
            stints.append((slot, block, block + length if block + length < blocks else 10**6))
            block += length
        if stints[-1][2] != 10**6:  # someone holds every rotating slot today
            stints.append((slot, stints[-1][2], 10**6))
    # Drop-in clients: an arrival week and a few sessions over the next half year.
    dropins = 300 - 2 - len(stints) * 85 // 100  # ~15% of stints are a client's return
    wanted: dict[int, list[int]] = {}
    for n in range(dropins):
        arrival = rng.randrange(weeks)
        for offset in sorted(rng.sample(range(26), rng.randint(1, 8))):
            if arrival + offset < weeks:
                wanted.setdefault(arrival + offset, []).append(n)
    dropin_ids: dict[int, str] = {}
    holders: dict[int, str] = {}  # template slot -> client id
    released: list[str] = []  # former recurring clients, not archived: may come back
    last_session: dict[str, datetime] = {}

    for block in range(blocks):
        block_first = _week(-weeks + block * BLOCK_WEEKS)
        at = _apply_time(block_first)
        for slot, _first_block, end_block in stints:
            if end_block == block and slot in holders:
                leaving = holders.pop(slot)
                coach.hold(leaving, ())
                if rng.random() < 0.4:
                    coach.archive(leaving)
                else:
                    released.append(leaving)
        for slot, first_block, _end in stints:
            if first_block == block:
                if released and rng.random() < 0.15:
                    client_id = released.pop(rng.randrange(len(released)))
                else:
                    client_id = new_client(at - timedelta(days=1)).id
                holders[slot] = client_id
                coach.hold(client_id, (slot,))
        results = coach.apply(block_first, BLOCK_WEEKS, at)
        booked = _life_of_booked(
            coach, results, lambda s: s.client_id == priya.id and s.week == _week(-1)
        )
        for s in booked:
            last_session[s.client_id] = s.end_utc
        open_template = {
            (slot.week, slot.template_slot_id): slot
            for week in results
            for slot in week.added
            if slot.session_id is None and slot.template_slot_id
        }
        for offset in range(BLOCK_WEEKS):
            week_index = block * BLOCK_WEEKS + offset
            week = _week(-weeks + week_index)
            places: list[Slot | tuple[int, str, str, int]] = [
                *EXTRA_TIMES,
                *(
                    open_template[(week, coach.template_ids[i])]
                    for i in OPEN_TEMPLATE_SLOTS
                    if (week, coach.template_ids[i]) in open_template
                ),
            ]
            for n, place in zip(wanted.get(week_index, []), places, strict=False):
                book_at = datetime.combine(
                    week_monday(week) - timedelta(days=3), datetime.min.time(), NOW.tzinfo
                )
                if n not in dropin_ids:  # a new client, unless the 300 are all there
                    dropin_ids[n] = (
                        new_client(book_at - timedelta(hours=1)).id
                        if index < 300
                        else rng.choice(sorted(dropin_ids.values()))
                    )
                slot = place if isinstance(place, Slot) else coach.one_off(week, place, book_at)
                session = coach.allocate(slot, dropin_ids[n], book_at)
                last_session[session.client_id] = session.end_utc
                coach.life_of(session)
        if block in (10, 24, 38, 52):  # a bundle now and then, Sundays 10:00
            client_id = holders.get(2) or priya.id
            sunday = week_monday(block_first) + timedelta(days=6 + 7)
            made = coach.bundle(client_id, sunday.isoformat(), "10:00", at)
            for entry in made.entries:  # completed on its own once all have taken place
                coach.life_of(coach.session(entry.ref))
        coach.dispatch(_apply_time(_week(-weeks + (block + 1) * BLOCK_WEEKS)))

    coach.dispatch(NOW - timedelta(minutes=30))
    while index < 300:  # enquiries: clients added who never booked
        new_client(start + timedelta(days=rng.randrange(weeks * 7)))
    # Drop-ins gone for half a year are archived now and then.
    for client_id in dropin_ids.values():
        seen = last_session.get(client_id)
        if seen and seen < NOW - timedelta(weeks=26) and rng.random() < 0.3:
            coach.archive(client_id)
    optins = [c for c in dropin_ids.values() if not coach.clients[c].archived][-6:]
    return {
        "profiled": priya.id,
        "bundle_client": holders.get(3) or tom.id,
        "optins": ",".join([holders.get(2, tom.id), holders.get(3, tom.id), *optins]),
    }


# Into moto, then the present -----------------------------------------------------------
def load(memory: MemoryDynamoDB) -> int:
    """Batch-write everything the history made into moto (25 items a call; the items
    are the app's own, so botocore's parameter validation is skipped for speed)."""
    from boto3 import client as boto3_client

    writer = boto3_client("dynamodb", region_name=REGION, config=Config(parameter_validation=False))
    batch: list[dict[str, Any]] = []
    count = 0
    for attrs in memory.all_items():
        batch.append({"PutRequest": {"Item": attrs}})
        if len(batch) == 25:
            _write(writer, batch)
            count += len(batch)
            batch = []
    if batch:
        _write(writer, batch)
        count += len(batch)
    return count


def _write(writer: Any, batch: list[dict[str, Any]]) -> None:
    request = {TABLE: batch}
    while request:
        response = writer.batch_write_item(RequestItems=request)
        request = response.get("UnprocessedItems") or {}


def present(coach: _Trainer, built: Built, roles: dict[str, str]) -> None:
    """This week and next applied, opt-ins, an offer, a bundle and a wizard draft: the
    same in both accounts, made through the services on moto."""
    coach.refresh()
    profiled = roles["profiled"]
    coach.apply(THIS_WEEK, 1, _apply_time(THIS_WEEK))
    results = coach.apply(_week(1), 1, NOW - timedelta(hours=1))
    upcoming = next(s for w in results for s in w.booked if s.client_id == profiled)
    client = coach.repo.get_client(coach.tid, profiled)
    built.upcoming_session_token = runtime.links().session(
        coach.tid, client.id, client.portal_generation, upcoming.id
    )
    built.portal_token = runtime.links().portal(coach.tid, client)

    # Opt-ins for the Saturday template slots (T8, T9), the offer's and amber's source.
    small_optins = [c for c in coach.clients.values() if c.name.startswith(("Omar", "Ella"))]
    optin_ids = roles["optins"].split(",") if roles["optins"] else [c.id for c in small_optins]
    for n, client_id in enumerate(optin_ids):
        for slot in OPEN_TEMPLATE_SLOTS[: 1 + n % 2]:
            coach.repo.set_optin(coach.tid, client_id, coach.template_ids[slot], True)
    week = coach.repo.get_week_with_sessions(coach.tid, THIS_WEEK)
    by_template = {s.template_slot_id: s for s in week.slots}
    amber = by_template[coach.template_ids[8]]
    built.open_slot_path = f"/dashboard/schedule/{THIS_WEEK}/slots/{amber.id}"

    offered = by_template[coach.template_ids[9]]
    matches = offers.matches_for(coach.repo, coach.tid, offered)
    target = matches[0]
    offers.send_offer(
        coach.repo,
        runtime.links(),
        coach.trainer,
        offered,
        target.id,
        str(offered.version),
        BASE_URL,
        NOW,
    )
    page, _ = coach.repo.outbox.page(coach.tid, target.id, None, limit=1)
    built.offer_token = runtime.links().message_text(page[0]).split("/o/", 1)[1].split()[0]

    thursday = week_monday(_week(1)) + timedelta(days=3)
    bundle = coach.bundle(
        roles["bundle_client"], thursday.isoformat(), "09:00", NOW - timedelta(hours=2)
    )
    built.bundle_id = bundle.id
    tuesday = week_monday(_week(1)) + timedelta(days=1)
    built.draft_id = coach.draft(profiled, 0, tuesday.isoformat(), "18:00", NOW)

    # The session page's session: the profiled client's last past one (invoiced, paid).
    _upcoming, past = coach.repo.client_sessions(coach.tid, profiled, NOW)
    built.past_session_ref = next(s.ref for s in past if s.week == _week(-1))
    built.counts["profiled_past"] = len(past)
    built.profiled_client = profiled
    built.trainer_id = coach.tid


def build(name: str, seed: int) -> Built:
    """One account: history in memory, loaded into moto, then the present on moto."""
    from infra.table_schema import create_table_kwargs

    built = Built(name=name, email=f"{name}@example.com")
    rng = random.Random(seed)
    started = time.perf_counter()
    memory = MemoryDynamoDB(create_table_kwargs(TABLE))
    history = _Trainer(Repository(Db(memory, TABLE)), rng)
    roles = (small_history if name == "small" else large_history)(history)
    built.seconds["history"] = time.perf_counter() - started
    started = time.perf_counter()
    built.counts["items_loaded"] = load(memory)
    built.seconds["load"] = time.perf_counter() - started

    started = time.perf_counter()
    coach = _Trainer(runtime.repository(), rng)
    coach.trainer = history.trainer
    coach.location_ids, coach.template_ids = history.location_ids, history.template_ids
    coach.program_ids, coach.clients = history.program_ids, history.clients
    present(coach, built, roles)
    built.seconds["present"] = time.perf_counter() - started
    built.counts["history_calls"] = memory.calls  # what is in the table: pages.table_stats
    return built


def sign_in_link(email: str) -> str:
    return auth.issue_sign_in_link(runtime.repository(), email, BASE_URL, NOW)

"""Slots in trainer-weeks on moto: guards against overlap, races, removal, moves."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from chalicelib.domain.clients import AddClient, SaveProfile
from chalicelib.domain.errors import Conflict, VersionConflict
from chalicelib.domain.models import Trainer
from chalicelib.domain.schedule import AddSlot, make_slot
from chalicelib.domain.template import SlotDraft
from chalicelib.repo import keys
from chalicelib.repo.repository import Repository
from chalicelib.services import account, clients, links, schedule
from tests.integration.test_repository import make_trainer, race

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SECRET = b"test-secret"
DAY = date(2026, 11, 25)


@pytest.fixture
def coach(repo: Repository) -> tuple[Trainer, str]:
    trainer = make_trainer(repo)
    studio = account.add_location(repo, trainer.id, "Studio")
    refreshed = repo.get_trainer(trainer.id)
    assert refreshed is not None
    return refreshed, studio.id


def slot_form(start: str, end: str, location_id: str, day: date = DAY) -> AddSlot:
    """The `+ Add` form as the view parses it."""
    return AddSlot(day=day.isoformat(), start=start, end=end, location_id=location_id)


def test_overlapping_slots_added_at_once_leave_exactly_one(repo: Repository, coach) -> None:
    trainer, studio = coach
    # every pair overlaps: all of them hold 09:30-10:00
    times = [("09:00", "10:00"), ("09:30", "10:30"), ("09:30", "10:00"), ("08:30", "10:30")] * 3
    outcomes = race(
        len(times), lambda i: schedule.add_slot(repo, trainer, slot_form(*times[i], studio), NOW)
    )
    winners = [o for o in outcomes if not isinstance(o, Exception)]
    assert len(winners) == 1
    losers = [o for o in outcomes if isinstance(o, Exception)]
    assert all(type(o).__name__ in ("Conflict", "InvalidInput") for o in losers), losers
    week = repo.get_week(trainer.id, "2026-W48")
    assert len(week) == 1
    guards = repo.db.query(keys.week_pk(trainer.id, "2026-W48"), sk_prefix=keys.GUARD_PREFIX)
    assert {g["slot_id"] for g in guards} == {winners[0].id}


def test_the_guards_refuse_an_overlap_even_without_the_friendly_read(
    repo: Repository, coach
) -> None:
    trainer, studio = coach
    repo.add_slot(trainer.id, make_slot("a", DAY, 540, 600, studio, "Europe/London"))
    with pytest.raises(Conflict):
        repo.add_slot(trainer.id, make_slot("b", DAY, 570, 630, studio, "Europe/London"))
    assert [s.id for s in repo.get_week(trainer.id, "2026-W48")] == ["a"]


def test_removing_a_slot_frees_its_time(repo: Repository, coach) -> None:
    trainer, studio = coach
    slot = schedule.add_slot(repo, trainer, slot_form("09:00", "10:00", studio), NOW)
    schedule.remove_slot(repo, trainer.id, slot, str(slot.version), NOW)
    assert repo.get_week(trainer.id, "2026-W48") == []
    again = schedule.add_slot(repo, trainer, slot_form("09:30", "10:30", studio), NOW)
    assert repo.get_week(trainer.id, "2026-W48") == [again]


def test_a_stale_slot_cannot_be_removed_or_moved(repo: Repository, coach) -> None:
    trainer, studio = coach
    park = account.add_location(repo, trainer.id, "Park")
    trainer = repo.get_trainer(trainer.id)
    slot = schedule.add_slot(repo, trainer, slot_form("09:00", "10:00", studio), NOW)
    moved = schedule.move_slot(repo, trainer, slot, park.id, "1", NOW)
    assert moved.location_id == park.id
    with pytest.raises(VersionConflict):
        schedule.move_slot(repo, trainer, slot, studio, "1", NOW)
    with pytest.raises(VersionConflict):
        repo.remove_slot(trainer.id, slot, NOW)
    assert repo.get_week(trainer.id, "2026-W48")[0].location_id == park.id


def test_a_slot_cannot_move_to_a_location_archived_meanwhile(repo: Repository, coach) -> None:
    trainer, studio = coach
    park = account.add_location(repo, trainer.id, "Park")
    trainer = repo.get_trainer(trainer.id)  # the page showed Park as active
    slot = schedule.add_slot(repo, trainer, slot_form("09:00", "10:00", studio), NOW)
    repo.update_location(trainer.id, park, archived=True)
    with pytest.raises(Conflict):
        repo.move_slot_location(trainer.id, slot, park.id)


def test_apply_template_twice_at_once_adds_each_slot_once(repo: Repository, coach) -> None:
    trainer, studio = coach
    setup = repo.get_setup(trainer.id)
    template = setup.template
    for i, weekday in enumerate((2, 3, 4)):
        draft = SlotDraft(weekday=weekday, start=540, end=600, location_id=studio)
        new_template = template.with_slot(f"t{i}", draft, setup.locations)
        template = repo.save_template(trainer.id, template, new_template, studio)
    outcomes = race(
        4,
        lambda _i: schedule.apply_template(repo, links.fixed(SECRET), trainer, "2026-W48", 2, NOW),
    )
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    for week in ("2026-W48", "2026-W49"):
        slots = repo.get_week(trainer.id, week)
        assert len(slots) == 3
        assert len({(s.day, s.start) for s in slots}) == 3
    assert sum(len(r.added) for o in outcomes for r in o) == 6
    stored = repo.get_trainer(trainer.id)
    assert stored is not None and stored.template_applied_at == NOW


def test_a_week_query_reads_only_its_own_partition(repo: Repository, coach) -> None:
    trainer, studio = coach
    for weeks_ago in range(1, 53):  # a year of history in other partitions
        day = DAY - timedelta(weeks=weeks_ago)
        repo.add_slot(
            trainer.id, make_slot(f"h{weeks_ago}", day, 540, 600, studio, "Europe/London")
        )
    repo.add_slot(trainer.id, make_slot("now", DAY, 540, 600, studio, "Europe/London"))
    from chalicelib.repo import metrics

    recorded = metrics.begin()
    assert [s.id for s in repo.get_week(trainer.id, "2026-W48")] == ["now"]
    assert recorded.operations == ["Query"]


def test_twenty_bookings_of_one_slot_at_once_make_exactly_one_session(
    repo: Repository, coach
) -> None:
    trainer, studio = coach
    slot = schedule.add_slot(repo, trainer, slot_form("09:00", "10:00", studio), NOW)
    people = [
        clients.add_client(
            repo,
            links.fixed(SECRET),
            trainer,
            AddClient.model_validate({"name": f"Client {i}", "phone": "07400 123456"}),
            NOW,
        )
        for i in range(20)
    ]
    outcomes = race(
        20,
        lambda i: schedule.allocate(
            repo, links.fixed(SECRET), trainer, slot, people[i].id, "1", NOW
        ),
    )
    sessions = [o for o in outcomes if not isinstance(o, Exception)]
    assert len(sessions) == 1
    assert all(isinstance(o, Conflict) for o in outcomes if isinstance(o, Exception))
    week = repo.get_week_with_sessions(trainer.id, "2026-W48")
    assert len(week.sessions) == 1
    assert week.slots[0].session_id == sessions[0].id


def test_a_booked_slot_cannot_be_removed_or_moved(repo: Repository, coach) -> None:
    trainer, studio = coach
    slot = schedule.add_slot(repo, trainer, slot_form("09:00", "10:00", studio), NOW)
    person = clients.add_client(
        repo,
        links.fixed(SECRET),
        trainer,
        AddClient.model_validate({"name": "P", "phone": "07400 123456"}),
        NOW,
    )
    schedule.allocate(repo, links.fixed(SECRET), trainer, slot, person.id, "1", NOW)
    with pytest.raises(VersionConflict):
        repo.remove_slot(trainer.id, slot, NOW)  # the form's copy still looks open
    with pytest.raises(VersionConflict):
        repo.move_slot_location(trainer.id, slot, studio)
    assert len(repo.get_week_with_sessions(trainer.id, "2026-W48").sessions) == 1


def test_an_archived_client_cannot_be_booked_even_if_archived_meanwhile(
    repo: Repository, coach
) -> None:
    trainer, studio = coach
    slot = schedule.add_slot(repo, trainer, slot_form("09:00", "10:00", studio), NOW)
    person = clients.add_client(
        repo,
        links.fixed(SECRET),
        trainer,
        AddClient.model_validate({"name": "P", "phone": "07400 123456"}),
        NOW,
    )
    from chalicelib.domain.schedule import book

    repo.save_client(trainer.id, person, archived=True)
    _slot, session = book(slot, "sess", person.id, person.name, "manual", NOW)
    with pytest.raises(Conflict, match="archived"):
        repo.book_slot(trainer.id, slot, session)
    assert repo.get_week_with_sessions(trainer.id, "2026-W48").sessions == []


def test_two_clients_saving_the_same_recurring_slot_at_once_leave_one_holder(
    repo: Repository, coach
) -> None:
    trainer, studio = coach
    setup = repo.get_setup(trainer.id)
    draft = SlotDraft(weekday=2, start=1080, end=1140, location_id=studio)
    template = repo.save_template(
        trainer.id, setup.template, setup.template.with_slot("wed", draft, setup.locations), studio
    )
    people = [
        clients.add_client(
            repo,
            links.fixed(SECRET),
            trainer,
            AddClient.model_validate({"name": f"Client {i}", "phone": "07400 123456"}),
            NOW,
        )
        for i in range(6)
    ]
    account = repo.get_account(trainer.id)  # every form was rendered with the slot free
    forms_read = [repo.get_client(trainer.id, p.id) for p in people]
    assert template.slots[0].id == "wed"

    def save(i: int):
        form = {"name": people[i].name, "phone": "07400 123456", "version": "1"}
        return clients.save_profile(
            repo,
            trainer,
            account,
            forms_read[i],
            SaveProfile.model_validate(
                {
                    **form,
                    "client_id": forms_read[i].id,
                    "location_ids": [studio],
                    "recurring": ["wed"],
                }
            ),
        )

    outcomes = race(6, save)
    winners = [o for o in outcomes if not isinstance(o, Exception)]
    assert len(winners) == 1
    assert all(isinstance(o, Conflict) for o in outcomes if isinstance(o, Exception)), outcomes
    holders = repo.get_account(trainer.id).recurring_holders()
    assert holders == {"wed": winners[0].id}


def test_giving_up_a_recurring_slot_frees_it_for_another_client(repo: Repository, coach) -> None:
    trainer, studio = coach
    setup = repo.get_setup(trainer.id)
    draft = SlotDraft(weekday=2, start=1080, end=1140, location_id=studio)
    repo.save_template(
        trainer.id, setup.template, setup.template.with_slot("wed", draft, setup.locations), studio
    )
    a = clients.add_client(
        repo,
        links.fixed(SECRET),
        trainer,
        AddClient.model_validate({"name": "A", "phone": "07400 123456"}),
        NOW,
    )
    b = clients.add_client(
        repo,
        links.fixed(SECRET),
        trainer,
        AddClient.model_validate({"name": "B", "phone": "07400 123456"}),
        NOW,
    )
    form = {"name": "A", "phone": "07400 123456", "version": "1"}
    a = clients.save_profile(
        repo,
        trainer,
        repo.get_account(trainer.id),
        a,
        SaveProfile.model_validate(
            {**form, "client_id": a.id, "location_ids": [studio], "recurring": ["wed"]}
        ),
    )
    form = {"name": "A", "phone": "07400 123456", "version": "2"}
    clients.save_profile(
        repo,
        trainer,
        repo.get_account(trainer.id),
        a,
        SaveProfile.model_validate(
            {**form, "client_id": a.id, "location_ids": [studio], "recurring": []}
        ),
    )
    form = {"name": "B", "phone": "07400 123456", "version": "1"}
    clients.save_profile(
        repo,
        trainer,
        repo.get_account(trainer.id),
        b,
        SaveProfile.model_validate(
            {**form, "client_id": b.id, "location_ids": [studio], "recurring": ["wed"]}
        ),
    )
    assert repo.get_account(trainer.id).recurring_holders() == {"wed": b.id}


def test_two_rotations_at_once_leave_one_live_link(repo: Repository, coach) -> None:
    from chalicelib.domain.tokens import token_hash

    trainer, _studio = coach
    person = clients.add_client(
        repo,
        links.fixed(SECRET),
        trainer,
        AddClient.model_validate({"name": "P", "phone": "07400 123456"}),
        NOW,
    )
    outcomes = race(
        4,
        lambda _i: clients.rotate_portal_link(
            repo, links.fixed(SECRET), trainer.id, person, 1, NOW
        ),
    )
    assert len([o for o in outcomes if not isinstance(o, Exception)]) == 1
    stored = repo.get_client(trainer.id, person.id)
    assert stored.portal_generation == 2
    live = repo.get_token(token_hash(links.fixed(SECRET).portal(trainer.id, stored)))
    old = repo.get_token(token_hash(links.fixed(SECRET).portal(trainer.id, person)))
    assert live is not None and not live.data.get("revoked_at")
    assert old is not None and old.data.get("revoked_at")


def test_cancel_racing_a_payment_change_leaves_one_outcome_and_one_log_line_each(
    repo: Repository, coach
) -> None:
    from chalicelib.domain.schedule import parse_session_ref
    from chalicelib.services import sessions

    trainer, studio = coach
    slot = schedule.add_slot(repo, trainer, slot_form("09:00", "10:00", studio), NOW)
    person = clients.add_client(
        repo,
        links.fixed(SECRET),
        trainer,
        AddClient.model_validate({"name": "P", "phone": "07400 123456"}),
        NOW,
    )
    booked = schedule.allocate(repo, links.fixed(SECRET), trainer, slot, person.id, "1", NOW)

    def act(i: int):
        if i % 2:
            return sessions.cancel(repo, trainer.id, booked, "1", NOW)
        form = {"paid": "yes", "payment_type": "cash", "version": "1"}
        return sessions.set_payment(repo, trainer.id, booked, sessions.SetPayment(**form), NOW)

    outcomes = race(6, act)
    winners = [o for o in outcomes if not isinstance(o, Exception)]
    assert len(winners) == 1
    assert all(isinstance(o, VersionConflict) for o in outcomes if isinstance(o, Exception))
    ref = parse_session_ref(booked.ref)
    assert ref is not None
    stored, log = repo.get_session_with_log(trainer.id, ref)
    assert stored.version == 2
    texts = sorted(entry.text for entry in log)  # same frozen instant: order not defined
    assert len(texts) == 2 and "Booked by the trainer" in texts  # booking + the one winner
    slot_now = repo.get_week(trainer.id, "2026-W48")[0]
    assert (slot_now.session_id is None) == (stored.status == "canceled")


def test_apply_template_reads_only_the_clients_who_hold_its_slots(repo: Repository, coach) -> None:
    from chalicelib.repo import metrics

    trainer, studio = coach
    setup = repo.get_setup(trainer.id)
    template = setup.template
    for slot_id, weekday in (("wed", 2), ("thu", 3)):
        draft = SlotDraft(weekday=weekday, start=1080, end=1140, location_id=studio)
        template = repo.save_template(
            trainer.id, template, template.with_slot(slot_id, draft, setup.locations), studio
        )
    people = [
        clients.add_client(
            repo,
            links.fixed(SECRET),
            trainer,
            AddClient.model_validate({"name": f"C{i}", "phone": "07400 123456"}),
            NOW,
        )
        for i in range(5)
    ]
    form = {"name": "C0", "phone": "07400 123456", "version": "1"}
    holder = clients.save_profile(
        repo,
        trainer,
        repo.get_account(trainer.id),
        people[0],
        SaveProfile.model_validate(
            {**form, "client_id": people[0].id, "location_ids": [studio], "recurring": ["wed"]}
        ),
    )
    recorded = metrics.begin()
    (week,) = schedule.apply_template(repo, links.fixed(SECRET), trainer, "2026-W49", 1, NOW)
    # the set-up read (claims), the holder alone, the week, its transaction, step 5's mark
    assert recorded.operations == [
        "Query",
        "BatchGetItem",
        "Query",
        "TransactWriteItems",
        "UpdateItem",
    ]
    assert [(s.client_id, s.template_slot_id) for s in week.booked] == [(holder.id, "wed")]
    assert len(week.added) == 2

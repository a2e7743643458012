"""The Programs page queries on moto: what each returns for its template, and the reads
each makes (the functional tests pin the same counts, plus the session's BatchGetItem)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from chalicelib import runtime
from chalicelib.domain.errors import InvalidInput, NotFound
from chalicelib.domain.programs import Bundle, DateCard, Draft, QuickInput
from chalicelib.repo.repository import Repository
from chalicelib.services import programs
from chalicelib.services.deps import Deps
from tests.support.builders import (
    NOW,
    World,
    add_client,
    add_slot,
    allocate,
    archive_client,
    make_world,
)
from tests.support.moto_tables import table_per_test

FIRST_DAY = date(2026, 12, 1)  # a Tuesday: three weekly dates at 10:00 from it
OFFER = {
    "title": "3-session kick-off",
    "sessions": "3",
    "price": "100",
    "location_id": "",
    "length": "60",
    "video_link": "",
}

moto_client, repo = table_per_test()


@pytest.fixture
def world(repo: Repository) -> World:
    return make_world(repo)


def at(repo: Repository, now: datetime = NOW) -> Deps:
    """What a request at `now` hands the use cases."""
    return Deps(repo, runtime.links(), runtime.config(), now)


@pytest.fixture
def reads(repo: Repository, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The read operations sent to DynamoDB from here on, in order."""
    sent: list[str] = []
    for name in ("get_item", "batch_get_item", "query"):
        original = getattr(repo.db.client, name)

        def counted(*args: Any, _original: Any = original, _name: str = name, **kw: Any) -> Any:
            sent.append(_name)
            return _original(*args, **kw)

        monkeypatch.setattr(repo.db.client, name, counted)
    yield sent


def offer(world: World, **changes: str) -> dict[str, str]:
    return {**OFFER, "location_id": world.studio, **changes}


def template(repo: Repository, world: World, title: str = "Kick-off") -> Any:
    command = programs.SaveTemplate.model_validate(offer(world, title=title))
    return programs.save_template(at(repo), world.trainer, command)


def wizard(repo: Repository, world: World) -> Draft:
    """Steps 1 and 2: the offer, then three weekly dates from FIRST_DAY at 10:00."""
    start = programs.StartDraft(client_id=world.priya.id)
    draft = programs.start_draft(at(repo), world.trainer, start)
    step1 = programs.SaveOffer.model_validate(
        {**offer(world), "draft_id": draft.id, "version": draft.version}
    )
    draft = programs.save_offer(at(repo), world.trainer, step1)
    step2 = programs.SaveSchedule.model_validate(
        {
            "draft_id": draft.id,
            "version": draft.version,
            "action": "generate",
            "first_day": FIRST_DAY.isoformat(),
            "first_time": "10:00",
            "every_weeks": "1",
        }
    )
    saved, _ = programs.save_schedule(at(repo), world.trainer, step2)
    return saved


def refused_offer(repo: Repository, world: World, **changes: str) -> Draft:
    """Step 1 with an offer the rules refuse: saved as typed all the same."""
    start = programs.StartDraft(client_id=world.priya.id)
    draft = programs.start_draft(at(repo), world.trainer, start)
    step1 = programs.SaveOffer.model_validate(
        {**offer(world, **changes), "draft_id": draft.id, "version": draft.version}
    )
    with pytest.raises(InvalidInput):
        programs.save_offer(at(repo), world.trainer, step1)
    return programs.store(repo).get_draft(world.trainer.id, draft.id)


def bundle_of(repo: Repository, world: World) -> Bundle:
    draft = wizard(repo, world)
    validate = programs.CreateBundle(draft_id=draft.id, version=draft.version)
    return programs.create_bundle(at(repo), world.trainer, validate)


# The hub -----------------------------------------------------------------------------------
def test_the_models_tab_is_the_templates_in_one_query(
    repo: Repository, world: World, reads: list[str]
) -> None:
    template(repo, world, "Zumba pack")
    template(repo, world, "abs pack")
    del reads[:]
    page = programs.hub_page(at(repo), world.trainer.id, "models", "")
    assert reads == ["query"]
    assert page.which == "models" and page.page is None
    assert [t.title for t in page.templates] == ["abs pack", "Zumba pack"]


def test_the_bundles_tab_is_one_page_of_the_index(
    repo: Repository, world: World, reads: list[str]
) -> None:
    made = bundle_of(repo, world)
    del reads[:]
    page = programs.hub_page(at(repo), world.trainer.id, "bundles", "")
    assert reads == ["query"]
    assert page.which == "bundles" and page.templates == ()
    assert page.page is not None and page.page.first and page.page.next_cursor is None
    assert [b.id for b in page.page.current] == [made.id] and page.page.past == []
    later = programs.hub_page(at(repo, NOW + timedelta(days=60)), world.trainer.id, "bundles", "")
    assert later.page is not None and [b.id for b in later.page.past] == [made.id]


# Templates ---------------------------------------------------------------------------------
def test_the_template_page_is_blank_the_template_or_the_form_as_typed(
    repo: Repository, world: World, reads: list[str]
) -> None:
    del reads[:]
    blank = programs.template_page(at(repo), world.trainer, None)
    assert reads == [] and blank.program is None
    assert blank.form == {"sessions": "", "length": "60"}

    saved = template(repo, world)
    del reads[:]
    edit = programs.template_page(at(repo), world.trainer, saved.id)
    assert reads == ["get_item"] and edit.program == saved
    assert edit.form["price"] == "100.00" and edit.form["version"] == str(saved.version)
    assert edit.form["title"] == "Kick-off"

    typed = {"title": "Half typed", "price": "ten", "version": "1"}
    again = programs.template_page(at(repo), world.trainer, saved.id, typed)
    assert again.program == saved and again.form == typed


def test_another_trainers_template_is_not_found(repo: Repository, world: World) -> None:
    saved = template(repo, world)
    with pytest.raises(NotFound):
        programs.template_page(at(repo), world.trainer.model_copy(update={"id": "x"}), saved.id)


# Starting the wizard -----------------------------------------------------------------------
def test_the_start_page_lists_active_clients_and_templates_with_the_choice_made(
    repo: Repository, world: World
) -> None:
    saved = template(repo, world)
    archive_client(repo, world.trainer.id, add_client(repo, world.trainer, "Gone Away"))
    chosen = programs.StartDraft(client_id=world.omar.id, template_id=saved.id)

    page = programs.start_page(at(repo), world.trainer.id, chosen)

    assert {c.name for c in page.clients} == {"Priya Shah", "Omar Haddad"}
    assert [t.id for t in page.templates] == [saved.id]
    assert page.form == {"client_id": world.omar.id, "template_id": saved.id}
    typed = {"client_id": "nobody", "template_id": ""}
    assert programs.start_page(at(repo), world.trainer.id, chosen, typed).form == typed


def test_the_start_page_reads_the_client_index_not_every_client(
    repo: Repository, world: World, reads: list[str]
) -> None:
    for n in range(30):
        add_client(repo, world.trainer, f"Client {n:02d}")
    reads.clear()

    page = programs.start_page(at(repo), world.trainer.id, programs.StartDraft())

    assert len(page.clients) == 32  # Priya, Omar and the thirty
    assert [c.name for c in page.clients][:2] == ["Client 00", "Client 01"]  # by name
    # The index's one item and the templates' Query, however many clients there are.
    assert sorted(reads) == ["get_item", "query"]


# Step 1 ------------------------------------------------------------------------------------
def test_the_offer_page_is_the_draft_as_typed_its_client_and_the_templates(
    repo: Repository, world: World, reads: list[str]
) -> None:
    saved = template(repo, world)
    draft = refused_offer(repo, world, sessions="-2")
    del reads[:]
    page = programs.offer_page(at(repo), world.trainer.id, draft.id)
    assert reads == ["get_item", "get_item", "query"]  # the draft, its client, templates
    assert page.step == 1 and page.draft == draft and page.client.id == world.priya.id
    assert page.form["sessions"] == "-2" and page.form["title"] == OFFER["title"]
    assert [t.id for t in page.templates] == [saved.id]


# Step 2 ------------------------------------------------------------------------------------
def test_the_schedule_page_checks_the_cards_in_two_reads(
    repo: Repository, world: World, reads: list[str]
) -> None:
    draft = wizard(repo, world)
    del reads[:]
    page = programs.schedule_page(at(repo), world.trainer, draft.id)
    assert reads == ["get_item", "batch_get_item"]  # the draft; its client and the guards
    assert page.step == 2 and page.max_every == 8
    assert page.client.id == world.priya.id and page.draft == draft
    assert page.plan.ready and len(page.plan.checks) == 3
    assert page.quick == {"first_day": "2026-12-01", "first_time": "10:00", "every_weeks": "1"}


def test_a_booked_clash_costs_the_slot_and_its_session(
    repo: Repository, world: World, reads: list[str]
) -> None:
    """Two reads more: the slot a guard names, then the session in it for the client's
    name on the card (the functional test pins the page at 5 with the session's read)."""
    draft = wizard(repo, world)
    slot = add_slot(repo, world.trainer, world.studio, "10:00", "11:00", FIRST_DAY)
    allocate(repo, world.trainer, slot, world.omar)
    del reads[:]
    page = programs.schedule_page(at(repo), world.trainer, draft.id)
    assert reads == ["get_item", "batch_get_item", "batch_get_item", "batch_get_item"]
    assert page.plan.checks[0].problem == (
        "Clashes with Omar Haddad's session Tuesday 1 Dec 10:00–11:00."
    )


def test_quick_scheduling_repeats_weekly_unless_typed_otherwise(
    repo: Repository, world: World
) -> None:
    draft = wizard(repo, world)
    store = programs.store(repo)
    blank = store.save_draft(
        world.trainer.id, draft.model_copy(update={"quick": QuickInput()}), draft.version
    )
    page = programs.schedule_page(at(repo), world.trainer, blank.id)
    assert page.quick == {"first_day": "", "first_time": "", "every_weeks": "1"}


def test_steps_two_and_three_send_an_incomplete_offer_back_to_step_one(
    repo: Repository, world: World
) -> None:
    draft = refused_offer(repo, world, title="")
    for page in (programs.schedule_page, programs.confirm_page):
        with pytest.raises(InvalidInput) as caught:
            page(at(repo), world.trainer, draft.id)
        assert caught.value.errors == {"_form": "Step 1 is not complete: check the offer first."}


def test_continue_saves_the_cards_then_refuses_the_ones_in_the_way(
    repo: Repository, world: World
) -> None:
    draft = wizard(repo, world)
    add_slot(repo, world.trainer, world.studio, "09:30", "10:30", FIRST_DAY)
    cards = {"cards": "2", "card_day_0": "2026-12-01", "card_start_0": "10:00"}
    cards |= {"card_day_1": "2026-12-08", "card_start_1": "10:00"}
    onward = programs.SaveSchedule.model_validate(
        {**cards, "draft_id": draft.id, "version": draft.version, "action": "next"}
    )
    with pytest.raises(InvalidInput) as caught:
        programs.save_schedule(at(repo), world.trainer, onward)
    assert caught.value.errors == {
        "_form": "Some dates cannot be booked: change or remove the flagged ones."
    }
    kept = programs.store(repo).get_draft(world.trainer.id, draft.id)
    assert kept.cards == (
        DateCard(day="2026-12-01", start="10:00"),
        DateCard(day="2026-12-08", start="10:00"),
    )


# Step 3 ------------------------------------------------------------------------------------
def test_the_confirm_page_is_the_plan_and_how_the_price_is_shared(
    repo: Repository, world: World, reads: list[str]
) -> None:
    draft = wizard(repo, world)
    del reads[:]
    page = programs.confirm_page(at(repo), world.trainer, draft.id)
    assert reads == ["get_item", "batch_get_item"]
    assert page.step == 3 and page.plan.ready and page.plan.shares == [3334, 3333, 3333]
    assert page.price_text == "£33.34 for the first 1, £33.33 for the other 2"
    assert page.client.id == world.priya.id


# The bundle page -------------------------------------------------------------------------
def test_the_bundle_page_is_the_bundle_its_sessions_and_what_may_be_done(
    repo: Repository, world: World, reads: list[str]
) -> None:
    made = bundle_of(repo, world)
    del reads[:]
    page = programs.bundle_page(at(repo), world.trainer, made.id)
    assert reads == ["get_item", "batch_get_item"]  # the bundle; its sessions and client
    assert page.bundle.id == made.id and page.client is not None
    assert [s.bundle_index for s in page.sessions] == [0, 1, 2]
    assert (page.attended, page.bundle_state) == (0, "active")
    assert page.scheduling_problem == "All 3 sessions are scheduled."
    assert page.confirmable == page.sessions
    assert page.shares == "£33.34 for the first 1, £33.33 for the other 2"

    over = programs.bundle_page(at(repo, NOW + timedelta(days=60)), world.trainer, made.id)
    assert (over.attended, over.bundle_state, over.confirmable) == (3, "completed", [])
    assert over.scheduling_problem == "This bundle is completed: reopen it to schedule sessions."


def test_a_clients_bundles_are_one_query(repo: Repository, world: World, reads: list[str]) -> None:
    made = bundle_of(repo, world)
    del reads[:]
    assert [b.id for b in programs.client_bundles(repo, world.trainer.id, world.priya.id)] == [
        made.id
    ]
    assert programs.client_bundles(repo, world.trainer.id, world.omar.id) == []
    assert reads == ["query", "query"]

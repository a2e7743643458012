"""The demo data of `make run` goes through the same rules as the pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib.repo.repository import Repository
from chalicelib.services import programs
from infra.seed import seed_demo

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def test_the_demo_has_program_templates_and_a_bundle_for_ella(repo: Repository) -> None:
    trainer_id = seed_demo(repo, NOW)
    assert trainer_id is not None
    store = programs.store(repo)
    assert [t.title for t in store.list_templates(trainer_id)] == [
        "12-session coaching",
        "Starter pack",
    ]
    (bundle,) = store.list_bundles(trainer_id)
    assert bundle.client_name == "Ella Morgan" and bundle.status == "active"
    sessions = store.bundle_sessions(trainer_id, bundle)
    assert len(sessions) == 6 and all(s.kind == "program" for s in sessions)
    assert sessions[0].label.startswith("Thursday 3 Dec 09:00")
    assert sum(s.price_minor or 0 for s in sessions) == 25000
    assert seed_demo(repo, NOW) is None  # once only


def test_the_demo_has_a_conversation_with_an_unread_reply(repo: Repository) -> None:
    trainer_id = seed_demo(repo, NOW)
    assert trainer_id is not None
    priya = next(c for c in repo.list_clients(trainer_id) if c.name == "Priya Shah")
    (confirmation,), _ = repo.outbox.page(trainer_id, priya.id, None)
    assert confirmation.kind == "confirmation" and confirmation.variables
    assert repo.conversations.unread(trainer_id, priya.id) == 1
    last = repo.conversations.last_inbound_at(trainer_id, priya.id)
    assert last is not None and NOW - last < timedelta(hours=24)  # the window is open

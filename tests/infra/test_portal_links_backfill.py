"""`infra.manage backfill portal-links`: the second half of rotating the link secret.

After a rotation, links already sent still open (found by their stored hash) while the
links the app draws again do not (no hash of them is stored). The backfill rotates every
active client whose link the old secret made; these tests open real links through the
portal's own lookup before and after."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from chalicelib import runtime
from chalicelib.domain.clients import AddClient
from chalicelib.domain.errors import NotFound
from chalicelib.services import clients, portal
from infra import manage
from tests.infra.test_manage_ops import dynamodb  # noqa: F401 - the fixture, used below

REGION = "eu-west-2"
OLD, NEW = "the-leaked-secret-0123456789", "the-new-secret-9876543210"
NOW = datetime(2026, 12, 2, 9, tzinfo=UTC)


@pytest.fixture
def table(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:  # noqa: F811
    """The live table on moto (test_manage_ops' fixture), links made from the old secret."""
    monkeypatch.setenv("LINK_SECRET", OLD)
    runtime.reset()
    yield dynamodb
    runtime.reset()


def _use_secret(monkeypatch: pytest.MonkeyPatch, secret: str) -> None:
    monkeypatch.setenv("LINK_SECRET", secret)
    runtime.reset()


def _opens(token: str) -> bool:
    try:
        portal.open_client(runtime.repository(), runtime.links(), token)
    except (NotFound, portal.LinkInactive):
        return False
    return True


def _account(names: list[str], archived: str | None = None) -> tuple[str, list[Any]]:
    trainer_id = manage.invite(f"coach-{len(names)}@example.com")
    repo, links = runtime.repository(), runtime.links()
    trainer = repo.get_trainer(trainer_id)
    made = [
        clients.add_client(
            repo, links, trainer, AddClient(name=name, phone=f"07400 12345{n}", price="40"), NOW
        )
        for n, name in enumerate(names)
    ]
    if archived:
        gone = next(c for c in made if c.name == archived)
        repo.save_client(trainer_id, gone, archived=True)
    return trainer_id, made


def _current_link(trainer_id: str, client_id: str) -> str:
    """The link the app draws for the client now (a Copy button, a queued message)."""
    return runtime.links().portal(
        trainer_id, runtime.repository().get_client(trainer_id, client_id)
    )


def test_after_a_rotation_the_backfill_retires_old_links_and_opens_the_ones_drawn_now(
    table, monkeypatch
) -> None:
    trainer_id, (priya, omar) = _account(["Priya", "Omar"])
    sent = {c.id: runtime.links().portal(trainer_id, c) for c in (priya, omar)}
    assert all(_opens(link) for link in sent.values())

    _use_secret(monkeypatch, NEW)  # the secret leaked and was rotated
    assert all(_opens(link) for link in sent.values())  # the problem: sent links still open
    assert not _opens(_current_link(trainer_id, priya.id))  # and new ones do not

    assert manage.portal_links([trainer_id], dry_run=True) == {"clients to rotate": 2}
    assert all(_opens(link) for link in sent.values())  # a dry run changed nothing

    assert manage.portal_links([trainer_id]) == {"clients rotated": 2}
    assert not any(_opens(link) for link in sent.values())
    assert _opens(_current_link(trainer_id, priya.id))
    assert _opens(_current_link(trainer_id, omar.id))


def test_running_it_again_or_without_a_rotation_rotates_nothing(table, monkeypatch) -> None:
    trainer_id, (priya,) = _account(["Priya"])
    untouched = runtime.links().portal(trainer_id, priya)
    assert manage.portal_links([trainer_id]) == {"clients already on the current secret": 1}
    assert _opens(untouched)

    _use_secret(monkeypatch, NEW)
    assert manage.portal_links([trainer_id]) == {"clients rotated": 1}
    drawn = _current_link(trainer_id, priya.id)
    assert manage.portal_links([trainer_id]) == {"clients already on the current secret": 1}
    assert _opens(drawn)


def test_archived_clients_are_left_closed(table, monkeypatch) -> None:
    trainer_id, (_priya, omar) = _account(["Priya", "Omar"], archived="Omar")
    _use_secret(monkeypatch, NEW)
    done = manage.portal_links([trainer_id])
    assert done == {"clients rotated": 1, "archived clients left": 1}
    assert runtime.repository().get_client(trainer_id, omar.id).portal_generation == 1


def test_a_client_changed_while_the_backfill_runs_is_read_again_and_rotated(
    table, monkeypatch
) -> None:
    trainer_id, (priya,) = _account(["Priya"])
    _use_secret(monkeypatch, NEW)
    real = runtime.Repository.list_clients

    def read_then_someone_edits(self: Any, tid: str) -> list[Any]:
        listed = real(self, tid)
        self.save_client(tid, listed[0], private_notes="edited meanwhile")  # the read is now stale
        return listed

    monkeypatch.setattr(runtime.Repository, "list_clients", read_then_someone_edits)
    assert manage.portal_links([trainer_id]) == {"clients rotated": 1}
    after = runtime.repository().get_client(trainer_id, priya.id)
    assert after.portal_generation == 2 and after.private_notes == "edited meanwhile"
    assert _opens(_current_link(trainer_id, priya.id))


def test_the_backfill_command_runs_it_for_every_trainer_the_scan_finds(
    table, monkeypatch, tmp_path, capsys
) -> None:
    first, _ = _account(["Priya"])
    second, _ = _account(["Omar", "Ana"])
    _use_secret(monkeypatch, NEW)
    # Under the operator role, the stage's secret comes from SSM as in the app.
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name="/pt-bookings/prod/link-secret", Value=NEW, Type="SecureString"
    )
    args = ["backfill", "portal-links", "--stage", "prod", "--checkpoint", str(tmp_path / "p")]
    manage.main([*args, "--dry-run"])
    out = capsys.readouterr().out
    assert "clients to rotate: 3" in out and "trainers found: 2" in out
    manage.main(args)
    out = capsys.readouterr().out
    assert "clients rotated: 3" in out and "trainers done: 2" in out
    for trainer_id in (first, second):
        for client in runtime.repository().list_clients(trainer_id):
            assert _opens(runtime.links().portal(trainer_id, client))

"""The operator's tools on moto: `infra.manage backfill` (parallel, paginated, resumable,
rate-limited, conditional) and `infra.restore` (the PITR drill's copy-back)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chalicelib import runtime
from infra import manage, restore
from infra.local_dynamodb import make_moto_atomic
from infra.table_schema import create_table

REGION = "eu-west-2"
LIVE = "pt-bookings-prod"


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    make_moto_atomic()
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        create_table(client, LIVE)
        monkeypatch.setenv("TABLE_NAME", LIVE)
        runtime.reset()
        yield client


def _put(client: Any, pk: str, sk: str, **attributes: Any) -> None:
    item = {"PK": {"S": pk}, "SK": {"S": sk}}
    for name, value in attributes.items():
        item[name] = {"N": str(value)} if isinstance(value, int) else {"S": value}
    client.put_item(TableName=LIVE, Item=item)


def _fill(client: Any, count: int) -> None:
    for n in range(count):
        _put(client, f"T#t{n % 3}#W2026-W{n:02d}", f"SLOT#{n}", type="slot")


# backfill ------------------------------------------------------------------------------
def test_count_items_reads_every_item_once_across_segments_and_pages(
    dynamodb, tmp_path: Path, capsys
) -> None:
    _fill(dynamodb, 23)
    _put(dynamodb, "T#t0", "PROFILE", type="trainer")
    checkpoint = tmp_path / "count.json"
    code = manage.main(
        [
            *("backfill", "count-items", "--stage", "prod"),
            *("--segments", "3", "--page-size", "4", "--checkpoint", str(checkpoint)),
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "items read: 24" in out
    assert "kind slot: 23" in out and "kind trainer: 1" in out
    # A finished run's checkpoint is kept aside, so the next run starts afresh.
    assert not checkpoint.exists()
    assert len(list(tmp_path.glob("count.done-*.json"))) == 1


def test_a_stopped_backfill_resumes_after_its_last_finished_page(dynamodb, tmp_path) -> None:
    _fill(dynamodb, 30)
    seen: Counter[str] = Counter()
    pages = {"left": 3}

    def run_page(client, table, items, dry_run) -> Counter[str]:
        if pages["left"] == 0:
            raise RuntimeError("stopped")
        pages["left"] -= 1
        seen.update(i["SK"]["S"] for i in items)
        return Counter({"pages": 1})

    job = manage.Backfill("test-job", "test", run_page)
    path = tmp_path / "job.json"
    checkpoint = manage.Checkpoint.open(path, "test-job", LIVE, 1)
    with pytest.raises(RuntimeError, match="stopped"):
        manage.run_backfill(dynamodb, LIVE, job, checkpoint, False, page_size=5)
    saved = json.loads(path.read_text())
    assert saved["counts"] == {"pages": 3, "items read": 15}
    assert isinstance(saved["positions"]["0"], dict)  # the key after the third page

    pages["left"] = 100
    resumed = manage.Checkpoint.open(path, "test-job", LIVE, 1)
    counts = manage.run_backfill(dynamodb, LIVE, job, resumed, False, page_size=5)
    assert counts["items read"] == 30
    assert resumed.complete
    assert len(seen) == 30 and set(seen.values()) == {1}  # none skipped, none redone
    with pytest.raises(SystemExit, match="segments"):
        manage.Checkpoint.open(path, "test-job", LIVE, 4)


def test_conditional_update_never_overwrites_a_newer_item(dynamodb) -> None:
    _put(dynamodb, "T#a", "CLIENT#1", version=3, name="Ann")
    _put(dynamodb, "T#a", "CLIENT#2", name="Bo")
    read = {i["SK"]["S"]: i for i in dynamodb.scan(TableName=LIVE, ConsistentRead=True)["Items"]}
    change = {"flag": {"S": "yes"}}
    # The app writes both after the Scan read them.
    _put(dynamodb, "T#a", "CLIENT#1", version=4, name="Ann")
    _put(dynamodb, "T#a", "CLIENT#2", name="Bob")
    for sk in ("CLIENT#1", "CLIENT#2"):
        outcome = manage.conditional_update(dynamodb, LIVE, read[sk], change, dry_run=False)
        assert outcome == "newer item kept"
    fresh = {i["SK"]["S"]: i for i in dynamodb.scan(TableName=LIVE, ConsistentRead=True)["Items"]}
    assert "flag" not in fresh["CLIENT#1"] and fresh["CLIENT#2"]["name"] == {"S": "Bob"}
    assert manage.conditional_update(dynamodb, LIVE, fresh["CLIENT#1"], change, True) == (
        "would write"
    )
    assert manage.conditional_update(dynamodb, LIVE, fresh["CLIENT#1"], change, False) == (
        "written"
    )
    again = dynamodb.get_item(TableName=LIVE, Key={"PK": {"S": "T#a"}, "SK": {"S": "CLIENT#1"}})
    assert again["Item"]["flag"] == {"S": "yes"}
    assert manage.conditional_update(dynamodb, LIVE, again["Item"], change, False) == "unchanged"


def test_a_per_trainer_backfill_runs_its_command_for_every_trainer_found(
    dynamodb, monkeypatch, tmp_path, capsys
) -> None:
    trainers = {manage.invite(f"coach{n}@example.com") for n in range(5)}
    _fill(dynamodb, 10)  # other items: read, never taken for trainers
    ran: list[str] = []
    monkeypatch.setattr(manage, "feed_keys", lambda ids: ran.extend(ids) or len(ids))
    args = ["backfill", "feed-keys", "--stage", "prod", "--segments", "2", "--page-size", "3"]
    manage.main([*args, "--dry-run", "--checkpoint", str(tmp_path / "f.json")])
    assert "trainers found: 5" in capsys.readouterr().out
    assert ran == [] and not (tmp_path / "f.json").exists()  # a dry run writes nothing
    manage.main([*args, "--checkpoint", str(tmp_path / "f.json")])
    assert "trainers done: 5" in capsys.readouterr().out
    assert sorted(ran) == sorted(trainers)


def test_the_backfill_runs_under_the_operator_role(dynamodb, monkeypatch, tmp_path) -> None:
    assumed: list[str] = []
    real = manage.operator_session

    def recording(stage: str, role_arn: str | None):
        session = real(stage, role_arn)
        assumed.append(session.client("sts").get_caller_identity()["Arn"])
        return session

    monkeypatch.setattr(manage, "operator_session", recording)
    manage.backfill("count-items", "prod", dry_run=True, checkpoint_path=tmp_path / "c.json")
    assert ":assumed-role/pt-bookings-prod-operator/backfill-prod-" in assumed[0]


def test_the_rate_limit_spreads_reads_over_time(monkeypatch) -> None:
    now = [0.0]
    monkeypatch.setattr(manage.time, "sleep", lambda seconds: now.__setitem__(0, now[0] + seconds))
    limit = manage.RateLimit(per_second=10, clock=lambda: now[0])
    for _ in range(5):
        limit.take(10)  # five pages of ten at ten a second: four seconds of waiting
    assert 3.9 <= now[0] <= 4.1


# restore -------------------------------------------------------------------------------
def _item(client: Any, table: str, pk: str, sk: str) -> dict | None:
    return client.get_item(TableName=table, Key={"PK": {"S": pk}, "SK": {"S": sk}}).get("Item")


@pytest.fixture
def restored(dynamodb) -> str:
    dynamodb.update_continuous_backups(
        TableName=LIVE,
        PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
    )
    _put(dynamodb, "T#a", "CLIENT#1", version=1, phone="+447700900001")
    _put(dynamodb, "T#a#W2026-W48", "SESSION#s1", version=2, state="booked")
    _put(dynamodb, "T#ab", "PROFILE", name="another trainer, same prefix + b")
    _put(dynamodb, "T#b", "CLIENT#9", version=1)
    at = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    name = restore.start_restore(dynamodb, LIVE, at)
    assert name == "pt-bookings-prod-restored-20261130T0900Z"
    # The incident: T#a's client deleted, its session overwritten, T#b's client changed;
    # meanwhile a new session was booked (after the restore point).
    dynamodb.delete_item(TableName=LIVE, Key={"PK": {"S": "T#a"}, "SK": {"S": "CLIENT#1"}})
    _put(dynamodb, "T#a#W2026-W48", "SESSION#s1", version=3, state="voided")
    _put(dynamodb, "T#a#W2026-W49", "SESSION#s2", version=1, state="booked")
    _put(dynamodb, "T#b", "CLIENT#9", version=2)
    _put(dynamodb, "T#ab", "PROFILE", name="renamed since")
    return name


def test_copy_back_puts_back_one_trainers_items_and_keeps_newer_ones(dynamodb, restored) -> None:
    kinds = {(c.key["PK"]["S"], c.kind) for c in restore.diff(dynamodb, restored, LIVE, "T#a")}
    assert kinds == {
        ("T#a", "missing"),
        ("T#a#W2026-W48", "differs"),
        ("T#a#W2026-W49", "only live"),
    }
    counts = restore.copy_back(dynamodb, LIVE, restore.diff(dynamodb, restored, LIVE, "T#a"))
    assert counts == {"put back": 1, "replaced": 1, "newer item kept": 0, "only live, kept": 1}
    assert _item(dynamodb, LIVE, "T#a", "CLIENT#1")["phone"] == {"S": "+447700900001"}
    assert _item(dynamodb, LIVE, "T#a#W2026-W48", "SESSION#s1")["state"] == {"S": "booked"}
    assert _item(dynamodb, LIVE, "T#a#W2026-W49", "SESSION#s2") is not None
    assert _item(dynamodb, LIVE, "T#b", "CLIENT#9")["version"] == {"N": "2"}  # not chosen
    assert _item(dynamodb, LIVE, "T#ab", "PROFILE")["name"] == {"S": "renamed since"}


def test_copy_back_leaves_an_item_the_app_changed_after_the_diff(dynamodb, restored) -> None:
    changes = restore.diff(dynamodb, restored, LIVE, "T#a#W2026-W48")
    _put(dynamodb, "T#a#W2026-W48", "SESSION#s1", version=4, state="moved")
    counts = restore.copy_back(dynamodb, LIVE, changes)
    assert counts["newer item kept"] == 1 and counts["replaced"] == 0
    assert _item(dynamodb, LIVE, "T#a#W2026-W48", "SESSION#s1")["state"] == {"S": "moved"}


def test_copy_back_cli_shows_the_diff_without_values_and_asks_first(
    dynamodb, restored, capsys
) -> None:
    args = ["copy-back", "--stage", "prod", "--from", restored, "--prefix", "T#a", "--role-arn", ""]
    assert restore.main([*args, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "missing  T#a / CLIENT#1" in out
    assert "differs  T#a#W2026-W48 / SESSION#s1: state, version" in out
    assert "+447700900001" not in out and "voided" not in out  # keys and names, not values
    assert _item(dynamodb, LIVE, "T#a", "CLIENT#1") is None
    assert restore.main(args, confirm=lambda _: "no") == 1
    assert _item(dynamodb, LIVE, "T#a", "CLIENT#1") is None
    assert restore.main(args, confirm=lambda _: LIVE) == 0
    assert _item(dynamodb, LIVE, "T#a", "CLIENT#1") is not None


def test_only_a_restored_copy_is_read_from_or_dropped(dynamodb, restored) -> None:
    with pytest.raises(SystemExit, match="restored copy"):
        restore.main(["copy-back", "--stage", "prod", "--from", "other", "--prefix", "T#a"])
    with pytest.raises(SystemExit, match="restored copy"):
        restore.main(["drop", "--stage", "prod", "--table", LIVE, "--role-arn", ""])
    assert restore.main(["drop", "--stage", "prod", "--table", restored, "--role-arn", ""]) == 0

"""The scheduled functions, invoked the way Lambda would invoke them."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from chalice.test import Client

from chalicelib import runtime
from chalicelib.repo import keys
from chalicelib.services import jobs


@pytest.mark.parametrize(("function", "kind"), [("expire_offer_locks", jobs.OFFER_LOCK)])
def test_generic_due_work_is_claimed_once(
    chalice_client: Client, clock, monkeypatch: pytest.MonkeyPatch, function: str, kind: str
) -> None:
    # dispatch_messages has its own claim (tests/functional/test_messages.py).
    repo = runtime.repository()
    due_at = (clock.now - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    repo.db.put(
        {
            keys.PK: keys.week_pk("t", "2026-W48"),
            keys.SK: "ITEM#1",
            keys.DUE_PK: keys.due_work(kind),
            keys.DUE_SK: f"{due_at}#1",
        }
    )
    seen: list[str] = []
    monkeypatch.setitem(jobs.HANDLERS, kind, lambda _r, item, _n: seen.append(item[keys.SK]))

    event = chalice_client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
    )
    first = chalice_client.lambda_.invoke(function, event)
    second = chalice_client.lambda_.invoke(function, event)

    assert json.loads(json.dumps(first.payload))["claimed"] == 1
    assert second.payload["claimed"] == 0  # taken out of the index: never twice
    assert seen == ["ITEM#1"]


def test_scheduled_functions_with_nothing_due_do_nothing(chalice_client: Client) -> None:
    event = chalice_client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
    )
    for function in ("expire_offer_locks", "dispatch_messages"):
        payload = chalice_client.lambda_.invoke(function, event).payload
        assert payload["due"] == 0 and payload["claimed"] == 0

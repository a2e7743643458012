"""The scheduled functions, invoked the way Lambda would invoke them."""

from __future__ import annotations

from chalice.test import Client


def test_scheduled_functions_with_nothing_due_do_nothing(chalice_client: Client) -> None:
    event = chalice_client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
    )
    for function in ("expire_offer_locks", "dispatch_messages"):
        payload = chalice_client.lambda_.invoke(function, event).payload
        assert payload["due"] == 0 and payload["claimed"] == 0

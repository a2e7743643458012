"""The getting-started checklist: the six steps of the spec, each ticked when done."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain.models import Location, Trainer
from chalicelib.domain.template import WeeklyTemplate


@dataclass(frozen=True)
class Step:
    number: int
    title: str
    detail: str
    done: bool
    href: str


@dataclass(frozen=True)
class ClientSetup:
    """What the checklist needs to know about clients (the Clients tab provides it)."""

    clients: int = 0
    configured: int = 0
    shared: int = 0  # active clients whose current portal link was copied or sent


def getting_started(
    trainer: Trainer,
    locations: list[Location],
    template: WeeklyTemplate,
    clients: ClientSetup,
) -> list[Step]:
    active_locations = [loc for loc in locations if not loc.archived]
    return [
        Step(
            1,
            "Set up your locations",
            "Add every place you train. Every slot needs a location.",
            bool(active_locations),
            "/dashboard/settings/locations",
        ),
        Step(
            2,
            "Build your weekly template",
            "Lay out the slots you offer in a typical week, on 30-minute steps.",
            bool(template.slots),
            "/dashboard/settings/template",
        ),
        Step(
            3,
            "Add your first clients",
            "Name, phone and session price for each client.",
            clients.clients > 0,
            "/dashboard/clients",
        ),
        Step(
            4,
            "Configure each client",
            "Enable their locations, set recurring slots and notes.",
            clients.clients > 0 and clients.configured == clients.clients,
            "/dashboard/clients",
        ),
        Step(
            5,
            "Apply the template to upcoming weeks",
            "Generate each week's slots and book your recurring clients.",
            trainer.template_applied_at is not None,
            "/dashboard/schedule",
        ),
        Step(
            6,
            "Share portal links and go live",
            "Send each client their portal link (Copy, or Send on WhatsApp, on their profile)"
            + (f": {clients.shared} of {clients.clients} shared." if clients.clients else "."),
            clients.clients > 0 and clients.shared >= clients.clients,
            "/dashboard/clients",
        ),
    ]

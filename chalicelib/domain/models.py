"""Trainer account and location models."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.settings import TrainerSettings
from chalicelib.domain.time_off_periods import TimeOff

MAX_LOCATION_NAME = 60


class LocationName(BaseModel):
    """The profile's copy of a location: enough to label slots without reading locations."""

    model_config = ConfigDict(frozen=True)

    name: str
    archived: bool = False


class Trainer(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    email: str
    settings: TrainerSettings = TrainerSettings()
    locations: dict[str, LocationName] = {}
    version: int = 1
    created_at: datetime
    # Set by the features that complete getting-started steps 5 and 6 (Schedule, Clients).
    template_applied_at: datetime | None = None
    portal_link_shared_at: datetime | None = None
    # The time off as its own item (`CFG#TIMEOFF`) holds it, copied in the same transaction
    # as every save of that item, so the week view draws its band with no read of its own.
    # None: a profile written before the copy existed (the week view then reads the item).
    time_off: TimeOff | None = TimeOff()
    # Card payments are on (the profile's Stripe connection, repo/card_payments.py): the
    # pages that offer a pay link know it from the session's read of the profile.
    takes_card_payments: bool = False

    @property
    def display_name(self) -> str:
        return self.settings.business_name or self.email.split("@")[0]


class Location(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    archived: bool = False
    version: int = 1


def clean_location_name(raw: str, others: Iterable[Location]) -> str:
    name = " ".join((raw or "").split())
    if not name:
        raise InvalidInput({"name": "Give the location a name, for example “Studio” or “Park”."})
    if len(name) > MAX_LOCATION_NAME:
        raise InvalidInput({"name": f"Keep the name to {MAX_LOCATION_NAME} characters or fewer."})
    if any(other.name.casefold() == name.casefold() for other in others):
        raise InvalidInput({"name": f"You already have a location called “{name}”."})
    return name

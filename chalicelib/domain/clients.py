"""Clients of a trainer: contact details, price, allowed locations, notes, archive."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from chalicelib.domain.commands import Command, Versioned
from chalicelib.domain.email_address import InvalidEmailAddress, normalise_email_address
from chalicelib.domain.errors import InvalidInput, NotFound
from chalicelib.domain.models import Location
from chalicelib.domain.money import (
    DEFAULT_LOCALE,
    MAX_AMOUNT_MAJOR,
    format_money_input,
    locale_for_country,
    parse_money,
)
from chalicelib.domain.phone import format_phone as format_phone  # re-exported: older callers
from chalicelib.domain.phone import parse_phone
from chalicelib.domain.settings import MAX_BOOKING_WINDOW_WEEKS
from chalicelib.domain.skips import ClientSkips
from chalicelib.domain.template import WeeklyTemplate

MAX_CLIENT_NAME = 80
MAX_NOTES = 2000
MAX_PRICE_MAJOR = MAX_AMOUNT_MAJOR
# A client's own booking rules (issue 15): the window within the trainer's own bounds, the
# deadline within a week (the trainer's default may reach two weeks; one client's need not).
MIN_CLIENT_WINDOW_WEEKS, MAX_CLIENT_WINDOW_WEEKS = 1, MAX_BOOKING_WINDOW_WEEKS
MIN_CLIENT_DEADLINE_HOURS, MAX_CLIENT_DEADLINE_HOURS = 0, 7 * 24


class Client(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    phone: str  # E.164, e.g. +447400123456
    email: str = ""
    price_minor: int | None = None  # per session, in the trainer's currency's minor units
    location_ids: tuple[str, ...] = ()
    recurring: tuple[str, ...] = ()  # template slot ids booked for them by Apply template
    # Template slot id -> the bundle (a pack) Apply template books that slot's weeks into
    # while it has places left (domain/packs.py); kept with the bundle's `tied_slot_id`.
    pack_ties: tuple[tuple[str, str], ...] = ()
    shared_notes: str = ""  # shown on the client's portal
    private_notes: str = ""  # never shown to the client
    archived: bool = False
    # The client asked for no reminders or notifications (STOP, or the portal's toggle);
    # messages they asked for (an invoice, an offer) still go.
    messages_opt_out: bool = False
    # The trainer's choice on the profile: no automatic reminders for this client.
    reminders_off: bool = False
    # The email address bounced or drew a complaint (SES): not mailed again until edited.
    email_bouncing: bool = False
    # This client's own portal rules; None follows the trainer's default, even after the
    # trainer changes it. What the portal applies: domain.portal.effective_rules.
    booking_window_weeks: int | None = None
    cancel_deadline_hours: int | None = None
    # Skip a week / pause (domain.skips): upcoming only, Apply template books none of them.
    skips: ClientSkips = ClientSkips()
    # Moves with every change of `skips`: Apply template's write holds it, so a skip
    # saved between its read and its write is never booked over.
    skips_rev: int = 0
    portal_generation: int = 1  # bumped by "rotate link": the old link dies at once
    version: int = 1
    created_at: datetime

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name.split() else self.name

    def pack_for(self, template_slot_id: str) -> str | None:
        """The bundle tied to this recurring slot, if any."""
        return dict(self.pack_ties).get(template_slot_id)

    def ties_with(
        self, bundle_id: str, template_slot_id: str | None
    ) -> tuple[tuple[str, str], ...]:
        """The ties once `bundle_id` is tied to this recurring slot (None: untied): a pack
        books one slot, and a slot books into one pack (a new tie replaces the old)."""
        ties = {s: b for s, b in self.pack_ties if b != bundle_id and s != template_slot_id}
        if template_slot_id is not None:
            ties[template_slot_id] = bundle_id
        return tuple(sorted(ties.items()))

    @property
    def configured(self) -> bool:
        """Getting-started step 4: a client can only book once a location is enabled."""
        return bool(self.location_ids)


def email_still_bouncing(client: Client, email: str) -> bool:
    """A bouncing address stays marked until the trainer saves a different one (saving
    the same address again proves nothing about it)."""
    return client.email_bouncing and email == client.email


def email_bounced_text(client: Client) -> str:
    return f"{client.first_name}'s email bounced: fix it on their profile."


class ContactDetails(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    phone: str
    email: str
    price_minor: int | None


def parse_price(raw: str, currency: str, locale: str = DEFAULT_LOCALE) -> int | None:
    """A price typed by a person ("45", "45,50", "£45") as integer minor units, read in the
    trainer's locale (see money.parse_money); blank = no price."""
    if not (raw or "").strip():
        return None
    return parse_money(raw, currency, locale, max_major=MAX_PRICE_MAJOR)


def format_price_input(price_minor: int | None, currency: str, locale: str = DEFAULT_LOCALE) -> str:
    """A price to prefill the form with, in the trainer's locale ("45.50", "45,50")."""
    if price_minor is None:
        return ""
    return format_money_input(price_minor, currency, locale)


class AddClient(Command):
    """A new client as typed into the Clients tab: contact details and price, still text
    (`parse_contact` reads them in the trainer's country and currency)."""

    name: str = ""
    phone: str = ""
    email: str = ""
    price: str = ""


class SaveProfile(AddClient, Versioned):
    """The profile form: contact details, the locations ticked, the recurring slots
    ticked, the two notes, the reminders switch and the booking rules, over the client
    as the page showed them."""

    client_id: str
    location_ids: tuple[str, ...] = ()
    recurring: tuple[str, ...] = ()
    shared_notes: str = ""
    private_notes: str = ""
    # "No reminders for this client": a checkbox, so absent (unticked) is False.
    reminders_off: bool = False
    # "Booking rules": as typed, empty for the trainer's default (`parse_rules` reads them).
    booking_window_weeks: str = ""
    cancel_deadline_hours: str = ""


class ClientRules(BaseModel):
    """A client's own booking window and cancel/change deadline; None = the default."""

    model_config = ConfigDict(frozen=True)

    booking_window_weeks: int | None = None
    cancel_deadline_hours: int | None = None


def _override(
    raw: str, field: str, label: str, unit: str, low: int, high: int, errors: dict[str, str]
) -> int | None:
    """A whole number from `low` to `high`, or None for an empty box (the default)."""
    if not raw:
        return None
    bounds = f"a whole number of {unit} from {low} to {high}, or leave it empty for your default"
    if re.fullmatch(r"[-−]\s*[0-9]+", raw):
        # "-1" is a whole number: saying it is not would send people looking for a typo.
        errors[field] = f"{label} cannot be negative: use {bounds}."
        return None
    if not re.fullmatch(r"[0-9]{1,6}", raw):
        errors[field] = f"{label} must be {bounds}."
        return None
    value = int(raw)
    if not low <= value <= high:
        errors[field] = (
            f"{label} must be between {low} and {high} {unit}, or empty for your default."
        )
        return None
    return value


def parse_rules(typed: SaveProfile) -> ClientRules:
    """The profile's "Booking rules" card, or InvalidInput naming each box that is wrong."""
    errors: dict[str, str] = {}
    window = _override(
        typed.booking_window_weeks,
        "booking_window_weeks",
        "The booking window",
        "weeks",
        MIN_CLIENT_WINDOW_WEEKS,
        MAX_CLIENT_WINDOW_WEEKS,
        errors,
    )
    deadline = _override(
        typed.cancel_deadline_hours,
        "cancel_deadline_hours",
        "The cancel/change deadline",
        "hours",
        MIN_CLIENT_DEADLINE_HOURS,
        MAX_CLIENT_DEADLINE_HOURS,
        errors,
    )
    if errors:
        raise InvalidInput(errors)
    return ClientRules(booking_window_weeks=window, cancel_deadline_hours=deadline)


def format_rule_input(value: int | None) -> str:
    """An override to prefill its box with: empty when the client follows the default."""
    return "" if value is None else str(value)


def parse_contact(typed: AddClient, default_country: str, currency: str) -> ContactDetails:
    errors: dict[str, str] = {}
    name = " ".join(typed.name.split())
    if not name:
        errors["name"] = "Enter the client's name."
    elif len(name) > MAX_CLIENT_NAME:
        errors["name"] = f"Keep the name to {MAX_CLIENT_NAME} characters or fewer."
    phone = ""
    try:
        phone = parse_phone(typed.phone, default_country)
    except ValueError as exc:
        errors["phone"] = str(exc)
    email = ""
    if typed.email:  # optional: many clients only use WhatsApp
        try:
            email = normalise_email_address(typed.email)
        except InvalidEmailAddress as exc:
            errors["email"] = (
                f"Enter an email address like name@example.com, or leave it empty. {exc}"
            )
    price: int | None = None
    try:
        price = parse_price(typed.price, currency, locale_for_country(default_country))
    except ValueError as exc:
        errors["price"] = str(exc)
    if errors:
        raise InvalidInput(errors)
    return ContactDetails(name=name, phone=phone, email=email, price_minor=price)


def parse_profile(
    typed: SaveProfile, default_country: str, currency: str, locations: Iterable[Location]
) -> tuple[ContactDetails, tuple[str, ...], str, str]:
    """The profile form: contact details, enabled locations and the two notes."""
    errors: dict[str, str] = {}
    contact: ContactDetails | None = None
    try:
        contact = parse_contact(typed, default_country, currency)
    except InvalidInput as exc:
        errors.update(exc.errors)
    known = {loc.id: loc for loc in locations}
    chosen = tuple(dict.fromkeys(typed.location_ids))
    unknown = [lid for lid in chosen if lid not in known]
    if unknown:
        errors["location_ids"] = "One of the chosen locations does not exist any more."
    shared, private = typed.shared_notes, typed.private_notes
    for field, text in (("shared_notes", shared), ("private_notes", private)):
        if len(text) > MAX_NOTES:
            errors[field] = f"Keep notes to {MAX_NOTES} characters or fewer."
    if errors:
        raise InvalidInput(errors)
    assert contact is not None
    return contact, chosen, shared, private


def search(clients: Iterable[Client], query: str) -> list[Client]:
    """Clients whose name contains every word of the query (any case), by name."""
    words = query.casefold().split()
    found = [c for c in clients if all(w in c.name.casefold() for w in words)]
    return sorted(found, key=lambda c: (c.archived, c.name.casefold()))


def recurring_problem(
    template_slot_id: str,
    template: WeeklyTemplate,
    enabled: Iterable[str],
    holders: Mapping[str, str],
    client_id: str,
    location_names: Mapping[str, str],
    client_names: Mapping[str, str],
) -> str | None:
    """Why a template slot cannot be one of this client's recurring slots, or None."""
    try:
        slot = template.slot(template_slot_id)
    except NotFound:
        return "This slot is no longer in the weekly template: untick it."
    if slot.location_id not in set(enabled):
        place = location_names.get(slot.location_id, "its location")
        return f"{slot.label} is at {place}, which is not enabled for this client."
    holder = holders.get(template_slot_id)
    if holder is not None and holder != client_id:
        return f"{slot.label} is {client_names.get(holder, 'another client')}'s recurring slot."
    return None


def check_recurring(
    chosen: Iterable[str],
    template: WeeklyTemplate,
    enabled: Iterable[str],
    holders: Mapping[str, str],
    client_id: str,
    location_names: Mapping[str, str],
    client_names: Mapping[str, str],
) -> tuple[str, ...]:
    """The chosen recurring slots, or InvalidInput naming the first that cannot be kept."""
    picked = tuple(dict.fromkeys(chosen))
    enabled = tuple(enabled)
    for template_slot_id in picked:
        problem = recurring_problem(
            template_slot_id, template, enabled, holders, client_id, location_names, client_names
        )
        if problem:
            raise InvalidInput({"recurring": problem})
    return picked

"""A client's own booking window and cancel/change deadline (issue 15 item 5): how the
profile's boxes are read, which rule the portal applies (`effective_rules`), the words
the client reads, and how the overrides are stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.clients import Client, ClientRules, SaveProfile, parse_rules
from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.portal import (
    PortalClient,
    allowed_weeks,
    client_cancellation,
    deadline_message,
    default_rules,
    effective_rules,
    inside_deadline,
)
from chalicelib.domain.schedule import book, make_slot
from chalicelib.domain.settings import TrainerSettings
from chalicelib.repo.mapping import client_from_item, client_to_item

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # Monday of 2026-W48 in London
SETTINGS = TrainerSettings(booking_window_weeks=2, cancel_deadline_hours=36)
PRIYA = Client(id="priya", name="Priya Shah", phone="+447400123456", created_at=NOW)


def _typed(window: str = "", deadline: str = "") -> SaveProfile:
    return SaveProfile(
        client_id="priya",
        name="Priya Shah",
        phone="07400 123456",
        booking_window_weeks=window,
        cancel_deadline_hours=deadline,
    )


def _session_at(start_utc: datetime):
    day = start_utc.date()
    minutes = start_utc.hour * 60 + start_utc.minute
    slot = make_slot("s", day, minutes, minutes + 60, "studio", "Europe/London")
    _, session = book(slot, "x", PRIYA.id, PRIYA.name, "manual", NOW - timedelta(days=7))
    return session


# Which rule applies ----------------------------------------------------------------------
def test_a_client_without_overrides_follows_the_trainers_defaults() -> None:
    rules = effective_rules(SETTINGS, PRIYA)
    assert rules == default_rules(SETTINGS)
    assert (rules.booking_window_weeks, rules.cancel_deadline_hours) == (2, 36)
    assert rules.window_is_default and rules.deadline_is_default
    assert rules.time_zone == SETTINGS.time_zone


def test_a_clients_own_window_and_deadline_replace_the_defaults_one_by_one() -> None:
    wider = PRIYA.model_copy(update={"booking_window_weeks": 4})
    rules = effective_rules(SETTINGS, wider)
    assert (rules.booking_window_weeks, rules.cancel_deadline_hours) == (4, 36)
    assert not rules.window_is_default and rules.deadline_is_default
    stricter = PRIYA.model_copy(update={"cancel_deadline_hours": 72})
    rules = effective_rules(SETTINGS, stricter)
    assert (rules.booking_window_weeks, rules.cancel_deadline_hours) == (2, 72)
    assert rules.window_is_default and not rules.deadline_is_default


def test_a_zero_hour_deadline_is_the_clients_own_rule_not_the_default() -> None:
    # 0 is falsy: a rule written `client.x or default` would silently give 36 h back.
    rules = effective_rules(SETTINGS, PRIYA.model_copy(update={"cancel_deadline_hours": 0}))
    assert rules.cancel_deadline_hours == 0 and not rules.deadline_is_default
    start = NOW + timedelta(hours=5)
    assert not inside_deadline(_session_at(start), rules, start - timedelta(minutes=1))
    canceled = client_cancellation(_session_at(start), rules, "Sam", start - timedelta(minutes=1))
    assert canceled.status == "canceled"


def test_a_client_on_the_default_follows_the_trainer_when_the_default_changes() -> None:
    own = PRIYA.model_copy(update={"booking_window_weeks": 3})
    later = SETTINGS.model_copy(update={"booking_window_weeks": 6})
    assert effective_rules(later, PRIYA).booking_window_weeks == 6
    assert effective_rules(later, own).booking_window_weeks == 3


def test_the_portal_client_carries_the_overrides_and_gives_the_same_rules() -> None:
    own = PRIYA.model_copy(
        update={"booking_window_weeks": 4, "cancel_deadline_hours": 12, "private_notes": "knee"}
    )
    portal = PortalClient.of(own)
    assert (portal.booking_window_weeks, portal.cancel_deadline_hours) == (4, 12)
    assert effective_rules(SETTINGS, portal) == effective_rules(SETTINGS, own)
    assert "knee" not in repr(portal)


def test_a_wider_window_opens_later_calendar_weeks_and_a_narrower_one_closes_them() -> None:
    wider = effective_rules(SETTINGS, PRIYA.model_copy(update={"booking_window_weeks": 4}))
    assert allowed_weeks(wider, NOW) == ["2026-W48", "2026-W49", "2026-W50", "2026-W51"]
    narrower = effective_rules(SETTINGS, PRIYA.model_copy(update={"booking_window_weeks": 1}))
    assert allowed_weeks(narrower, NOW) == ["2026-W48"]
    assert allowed_weeks(effective_rules(SETTINGS, PRIYA), NOW) == ["2026-W48", "2026-W49"]


def test_the_clients_deadline_decides_to_the_minute() -> None:
    start = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
    rules = effective_rules(SETTINGS, PRIYA.model_copy(update={"cancel_deadline_hours": 12}))
    assert not inside_deadline(_session_at(start), rules, start - timedelta(hours=12))
    assert inside_deadline(
        _session_at(start), rules, start - timedelta(hours=12) + timedelta(minutes=1)
    )
    # Under the trainer's 36 h the same instant is long past the deadline.
    assert inside_deadline(_session_at(start), default_rules(SETTINGS), start - timedelta(hours=12))


# What the client reads ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("weeks", "text"),
    [
        (1, "You can book sessions in this calendar week."),
        (2, "You can book sessions this week and up to 1 week ahead."),
        (4, "You can book sessions this week and up to 3 weeks ahead."),
    ],
)
def test_the_window_is_told_in_calendar_weeks(weeks: int, text: str) -> None:
    client = PRIYA.model_copy(update={"booking_window_weeks": weeks})
    assert effective_rules(SETTINGS, client).window_text == text


@pytest.mark.parametrize(
    ("hours", "text", "refusal"),
    [
        (0, "You can change or cancel online until the session starts.", None),
        (1, "You can change or cancel up to 1 hour before the start.", "less than 1 hour "),
        (36, "You can change or cancel up to 36 hours before the start.", "less than 36 hours"),
    ],
)
def test_the_deadline_is_told_in_the_clients_hours(
    hours: int, text: str, refusal: str | None
) -> None:
    rules = effective_rules(SETTINGS, PRIYA.model_copy(update={"cancel_deadline_hours": hours}))
    assert rules.change_text == text
    if refusal:
        assert refusal in deadline_message(rules, "Sam Fit")


# The profile's boxes --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("window", "deadline", "expected"),
    [
        ("", "", ClientRules()),
        ("1", "0", ClientRules(booking_window_weeks=1, cancel_deadline_hours=0)),
        ("12", "168", ClientRules(booking_window_weeks=12, cancel_deadline_hours=168)),
        (" 04 ", "12", ClientRules(booking_window_weeks=4, cancel_deadline_hours=12)),
    ],
)
def test_the_booking_rules_boxes_read_whole_numbers_within_bounds_or_empty(
    window: str, deadline: str, expected: ClientRules
) -> None:
    assert parse_rules(_typed(window, deadline)) == expected


WINDOW_BOUNDS = "The booking window must be between 1 and 12 weeks, or empty for your default."
WINDOW_NUMBER = (
    "The booking window must be a whole number of weeks from 1 to 12, "
    "or leave it empty for your default."
)
DEADLINE_BOUNDS = (
    "The cancel/change deadline must be between 0 and 168 hours, or empty for your default."
)
DEADLINE_NUMBER = (
    "The cancel/change deadline must be a whole number of hours from 0 to 168, "
    "or leave it empty for your default."
)


@pytest.mark.parametrize(
    ("window", "deadline", "errors"),
    [
        ("0", "", {"booking_window_weeks": WINDOW_BOUNDS}),
        ("13", "", {"booking_window_weeks": WINDOW_BOUNDS}),
        (
            "-1",
            "",
            {
                "booking_window_weeks": "The booking window cannot be negative: use a whole "
                "number of weeks from 1 to 12, or leave it empty for your default."
            },
        ),
        ("abc", "", {"booking_window_weeks": WINDOW_NUMBER}),
        ("2.5", "", {"booking_window_weeks": WINDOW_NUMBER}),
        ("①", "", {"booking_window_weeks": WINDOW_NUMBER}),
        ("", "169", {"cancel_deadline_hours": DEADLINE_BOUNDS}),
        (
            "",
            "-1",
            {
                "cancel_deadline_hours": "The cancel/change deadline cannot be negative: use a "
                "whole number of hours from 0 to 168, or leave it empty for your default."
            },
        ),
        ("", "abc", {"cancel_deadline_hours": DEADLINE_NUMBER}),
        ("", "1.5", {"cancel_deadline_hours": DEADLINE_NUMBER}),
        ("", "9999999", {"cancel_deadline_hours": DEADLINE_NUMBER}),
        (
            "13",
            "169",
            {"booking_window_weeks": WINDOW_BOUNDS, "cancel_deadline_hours": DEADLINE_BOUNDS},
        ),
    ],
)
def test_an_override_wider_than_allowed_or_not_a_whole_number_is_named(
    window: str, deadline: str, errors: dict[str, str]
) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_rules(_typed(window, deadline))
    assert refused.value.errors == errors


# Stored on the client item ----------------------------------------------------------------
def test_overrides_round_trip_through_the_client_item_and_zero_is_kept() -> None:
    own = PRIYA.model_copy(update={"booking_window_weeks": 4, "cancel_deadline_hours": 0})
    item = client_to_item("coach", own)
    assert (item["booking_window_weeks"], item["cancel_deadline_hours"]) == (4, 0)
    assert client_from_item(item) == own


def test_a_client_item_from_before_the_overrides_follows_the_defaults() -> None:
    item = {k: v for k, v in client_to_item("coach", PRIYA).items() if v is not None}
    assert "booking_window_weeks" not in item and "cancel_deadline_hours" not in item
    read = client_from_item(item)
    assert (read.booking_window_weeks, read.cancel_deadline_hours) == (None, None)
    assert effective_rules(SETTINGS, read) == default_rules(SETTINGS)


def test_dynamodb_numbers_come_back_as_plain_ints() -> None:
    from decimal import Decimal

    item = client_to_item("coach", PRIYA)
    item.update(booking_window_weeks=Decimal(4), cancel_deadline_hours=Decimal(12))
    read = client_from_item(item)
    assert type(read.booking_window_weeks) is int and read.cancel_deadline_hours == 12

"""Programs: price split, date generation, the wizard's forms, date checks, bundle state."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.models import LocationName
from chalicelib.domain.programs import (
    Bundle,
    BundleEntry,
    CardCheck,
    DateCard,
    OfferInput,
    ProgramOffer,
    QuickInput,
    QuickSchedule,
    card_count_problem,
    check_cards,
    confirmable,
    generate_days,
    offer_form_values,
    parse_offer,
    parse_offer_form,
    parse_quick,
    price_summary,
    scheduling_problem,
    split_price,
    transition,
)
from chalicelib.domain.schedule import Document, Offer, Session, Slot, book, make_slot

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
ZONE = "Europe/London"
THURSDAY = date(2026, 11, 26)
LOCATIONS = {
    "loc1": LocationName(name="Studio", archived=False),
    "loc2": LocationName(name="Park", archived=False),
    "old": LocationName(name="Old gym", archived=True),
}
OFFER = ProgramOffer(
    title="12-session coaching", sessions=12, price_minor=54000, location_id="loc1"
)


# Helpers ------------------------------------------------------------------------------------
def valid_form(**overrides: str) -> dict[str, str]:
    form = {
        "title": "12-session coaching",
        "sessions": "12",
        "price": "540",
        "location_id": "loc1",
        "length": "60",
        "video_link": "https://video.example.com/room/abc",
        "doc_name_0": "Training plan",
        "doc_url_0": "https://docs.example.com/plan.pdf",
    }
    form.update(overrides)
    return form


def offer_errors(form: dict[str, str]) -> dict[str, str]:
    """The offer's errors by the form field each is shown beside."""
    with pytest.raises(InvalidInput) as caught:
        parse_offer(OfferInput.model_validate(form), LOCATIONS, "GBP")
    return {OfferInput.form_name(field): message for field, message in caught.value.errors.items()}


def parse_quick_form(form: dict[str, str]) -> QuickSchedule:
    return parse_quick(QuickInput.model_validate(form))


def quick_errors(form: dict[str, str]) -> dict[str, str]:
    with pytest.raises(InvalidInput) as caught:
        parse_quick_form(form)
    return caught.value.errors


def slot_at(
    slot_id: str,
    day: date = THURSDAY,
    start: int = 10 * 60,
    length: int = 60,
    location_id: str = "loc1",
) -> Slot:
    return make_slot(slot_id, day, start, start + length, location_id, ZONE)


def ids() -> Callable[[], str]:
    counter: Iterator[int] = iter(range(1, 1000))
    return lambda: f"new{next(counter)}"


def check(
    cards: list[DateCard],
    existing: list[Slot] | None = None,
    sessions: list[Session] | None = None,
    offer: ProgramOffer = OFFER,
) -> list[CardCheck]:
    return check_cards(cards, offer, ZONE, NOW, existing or [], sessions or [], ids())


def card(day: str = "2026-11-26", start: str = "10:00") -> DateCard:
    return DateCard(day=day, start=start)


def bundle(
    sessions_planned: int = 3,
    price_minor: int = 10000,
    status: str = "active",
    entries: tuple[BundleEntry, ...] = (),
) -> Bundle:
    return Bundle(
        id="b1",
        client_id="ana",
        client_name="Ana",
        title="Coaching",
        sessions_planned=sessions_planned,
        price_minor=price_minor,
        location_id="loc1",
        status=status,
        entries=entries,
        created_at=NOW - timedelta(days=60),
    )


def entry(ref: str, days_from_now: float, status: str = "booked") -> BundleEntry:
    return BundleEntry(ref=ref, end_utc=NOW + timedelta(days=days_from_now), status=status)


def past_entries(count: int) -> tuple[BundleEntry, ...]:
    return tuple(entry(f"p{i}", -(i + 1)) for i in range(count))


def session_on(
    slot: Slot, session_id: str, client_name: str = "Ana", status: str = "booked"
) -> tuple[Slot, Session]:
    booked_slot, session = book(slot, session_id, "ana", client_name, "program", NOW)
    return booked_slot, session.model_copy(update={"status": status})


# split_price / price_summary ----------------------------------------------------------------
@given(total=st.integers(min_value=0, max_value=10_000_000), count=st.integers(1, 100))
def test_price_shares_always_sum_to_the_total(total: int, count: int) -> None:
    shares = split_price(total, count)
    assert sum(shares) == total
    assert len(shares) == count
    assert max(shares) - min(shares) <= 1
    assert shares == sorted(shares, reverse=True)  # the larger shares come first


def test_an_even_price_splits_into_equal_shares() -> None:
    assert split_price(54000, 12) == [4500] * 12


def test_an_uneven_price_puts_the_extra_penny_on_the_first_sessions() -> None:
    assert split_price(10000, 3) == [3334, 3333, 3333]
    assert split_price(10001, 3) == [3334, 3334, 3333]


def test_a_free_bundle_costs_nothing_per_session() -> None:
    assert split_price(0, 4) == [0, 0, 0, 0]


@pytest.mark.parametrize("count", [0, -1])
def test_splitting_over_no_sessions_is_refused(count: int) -> None:
    with pytest.raises(ValueError, match="count"):
        split_price(1000, count)


def test_splitting_a_negative_total_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        split_price(-1, 3)


def test_price_summary_of_an_even_split_is_one_amount_a_session() -> None:
    assert price_summary(54000, 12, "GBP") == "£45.00 a session"


def test_price_summary_of_an_uneven_split_names_both_amounts() -> None:
    assert price_summary(10000, 3, "GBP") == "£33.34 for the first 1, £33.33 for the other 2"
    assert price_summary(10001, 3, "GBP") == "£33.34 for the first 2, £33.33 for the other 1"


# generate_days ------------------------------------------------------------------------------
def test_weekly_dates_are_seven_days_apart() -> None:
    assert generate_days(date(2026, 12, 1), 3, 1) == [
        date(2026, 12, 1),
        date(2026, 12, 8),
        date(2026, 12, 15),
    ]


def test_fortnightly_dates_cross_the_year_end() -> None:
    assert generate_days(date(2026, 12, 15), 3, 2) == [
        date(2026, 12, 15),
        date(2026, 12, 29),
        date(2027, 1, 12),
    ]


def test_no_dates_are_generated_for_a_count_of_zero() -> None:
    assert generate_days(date(2026, 12, 1), 0, 1) == []


@given(
    first=st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)),
    count=st.integers(1, 100),
    every=st.integers(1, 8),
)
def test_generated_dates_start_on_the_first_and_repeat_every_n_weeks(
    first: date, count: int, every: int
) -> None:
    days = generate_days(first, count, every)
    assert len(days) == count
    assert days[0] == first
    assert all(b - a == timedelta(days=7 * every) for a, b in pairwise(days))
    assert {d.weekday() for d in days} == {first.weekday()}


def test_generated_sessions_keep_their_wall_clock_time_across_the_clock_change() -> None:
    days = generate_days(date(2026, 3, 22), 3, 1)
    slots = [make_slot(f"s{i}", d, 600, 660, "loc1", ZONE) for i, d in enumerate(days)]
    assert [s.start for s in slots] == [600, 600, 600]
    assert [s.start_utc.hour for s in slots] == [10, 9, 9]  # GMT, then BST from 29 March
    assert slots[0].start_utc == datetime(2026, 3, 22, 10, 0, tzinfo=UTC)
    assert slots[1].start_utc == datetime(2026, 3, 29, 9, 0, tzinfo=UTC)


# parse_quick ---------------------------------------------------------------------------------
def test_quick_form_gives_first_date_start_minutes_and_repeat() -> None:
    quick = parse_quick_form({"first_day": "2026-12-01", "first_time": "18:30", "every_weeks": "2"})
    assert quick == QuickSchedule(first=date(2026, 12, 1), start=18 * 60 + 30, every_weeks=2)


def test_quick_form_trims_the_repeat() -> None:
    form = {"first_day": " 2026-12-01 ", "first_time": "07:00", "every_weeks": " 8 "}
    assert parse_quick_form(form) == QuickSchedule(date(2026, 12, 1), 7 * 60, 8)


@pytest.mark.parametrize("day", ["", "2026-13-01", "2026-02-30", "01/12/2026", "tomorrow"])
def test_quick_form_refuses_a_missing_or_invalid_first_date(day: str) -> None:
    errors = quick_errors({"first_day": day, "first_time": "10:00", "every_weeks": "1"})
    assert set(errors) == {"first_day"}


@pytest.mark.parametrize("time", ["10:15", "10:45", "09:01"])
def test_quick_form_refuses_a_time_off_the_half_hour_grid(time: str) -> None:
    errors = quick_errors({"first_day": "2026-12-01", "first_time": time, "every_weeks": "1"})
    assert errors == {"first_time": "Use a time on the 30-minute grid (:00 or :30)."}


@pytest.mark.parametrize("time", ["", "ten", "25:00", "24:00"])
def test_quick_form_refuses_a_missing_or_invalid_time(time: str) -> None:
    errors = quick_errors({"first_day": "2026-12-01", "first_time": time, "every_weeks": "1"})
    assert set(errors) == {"first_time"}


@pytest.mark.parametrize("every", ["0", "9", "x", "", "-1", "1.5"])
def test_quick_form_refuses_a_repeat_outside_one_to_eight_weeks(every: str) -> None:
    errors = quick_errors({"first_day": "2026-12-01", "first_time": "10:00", "every_weeks": every})
    assert errors == {"every_weeks": "Repeat every 1 to 8 weeks."}


def test_quick_form_refuses_a_superscript_digit_repeat_as_a_field_error() -> None:
    # "²".isdigit() is True but int("²") raises: it must be a field error, not a crash.
    errors = quick_errors({"first_day": "2026-12-01", "first_time": "10:00", "every_weeks": "²"})
    assert errors == {"every_weeks": "Repeat every 1 to 8 weeks."}


def test_quick_form_reports_every_bad_field_at_once() -> None:
    errors = quick_errors({"first_day": "nope", "first_time": "10:15", "every_weeks": "0"})
    assert set(errors) == {"first_day", "first_time", "every_weeks"}


# parse_offer_form ---------------------------------------------------------------------------
def test_a_valid_offer_form_becomes_an_offer_with_its_documents() -> None:
    offer = parse_offer_form(valid_form(), LOCATIONS, "GBP")
    assert offer == ProgramOffer(
        title="12-session coaching",
        sessions=12,
        price_minor=54000,
        location_id="loc1",
        length=60,
        video_link="https://video.example.com/room/abc",
        documents=(Document(name="Training plan", url="https://docs.example.com/plan.pdf"),),
    )


def test_offer_form_accepts_pence_and_the_currency_symbol() -> None:
    offer = parse_offer_form(valid_form(price="£45.50"), LOCATIONS, "GBP")
    assert offer.price_minor == 4550


def test_offer_form_accepts_a_free_bundle() -> None:
    assert parse_offer_form(valid_form(price="0"), LOCATIONS, "GBP").price_minor == 0


def test_offer_form_defaults_the_length_to_an_hour_and_links_to_none() -> None:
    form = valid_form(length="", video_link="", doc_name_0="", doc_url_0="")
    offer = parse_offer_form(form, LOCATIONS, "GBP")
    assert (offer.length, offer.video_link, offer.documents) == (60, "", ())


@pytest.mark.parametrize(
    ("sessions", "message"),
    [
        ("0", "A bundle has at least 1 session."),
        ("-3", "A bundle has at least 1 session."),
        ("101", "A bundle has at most 100 sessions."),
        ("abc", "Enter the number of sessions, like 12."),
        ("", "Enter the number of sessions, like 12."),
        ("1.5", "Enter the number of sessions, like 12."),
    ],
)
def test_offer_form_refuses_a_session_count_outside_one_to_a_hundred(
    sessions: str, message: str
) -> None:
    assert offer_errors(valid_form(sessions=sessions)) == {"sessions": message}


def test_offer_form_accepts_exactly_a_hundred_sessions() -> None:
    assert parse_offer_form(valid_form(sessions="100"), LOCATIONS, "GBP").sessions == 100


def test_offer_form_refuses_a_missing_price() -> None:
    errors = offer_errors(valid_form(price=""))
    assert errors == {"price": "Enter the total price of the bundle (0 if it is free)."}


def test_offer_form_refuses_a_negative_price() -> None:
    assert offer_errors(valid_form(price="-5")) == {"price": "A price cannot be negative."}


@pytest.mark.parametrize("location_id", ["old", "nowhere", ""])
def test_offer_form_refuses_an_archived_or_unknown_location(location_id: str) -> None:
    errors = offer_errors(valid_form(location_id=location_id))
    assert errors == {"location_id": "Pick one of your active locations."}


@pytest.mark.parametrize("length", ["45", "0", "270", "sixty"])
def test_offer_form_refuses_a_length_off_the_grid(length: str) -> None:
    assert set(offer_errors(valid_form(length=length))) == {"length"}


@pytest.mark.parametrize("length", ["30", "90", "240"])
def test_offer_form_accepts_lengths_on_the_grid(length: str) -> None:
    assert parse_offer_form(valid_form(length=length), LOCATIONS, "GBP").length == int(length)


@pytest.mark.parametrize(
    "link",
    [
        "javascript:alert(1)",
        "ftp://x",
        "not a url",
        "https://",
        "https://example.com/a b",
        'https://example.com/"onmouseover="x',
        "https://example.com/<script>",
    ],
)
def test_offer_form_refuses_a_video_link_that_is_not_a_web_address(link: str) -> None:
    errors = offer_errors(valid_form(video_link=link))
    assert errors == {"video_link": "Enter a full link starting with https://"}


def test_offer_form_refuses_a_very_long_video_link() -> None:
    link = "https://example.com/" + "a" * 500
    errors = offer_errors(valid_form(video_link=link))
    assert errors == {"video_link": "That link is too long (500 characters at most)."}


def test_offer_form_refuses_a_document_with_a_name_but_no_link() -> None:
    errors = offer_errors(valid_form(doc_name_1="Meal plan", doc_url_1=""))
    assert errors == {"doc_url_1": "Add the document's link."}


def test_offer_form_refuses_a_document_with_a_link_but_no_name() -> None:
    errors = offer_errors(valid_form(doc_name_2="", doc_url_2="https://docs.example.com/x"))
    assert errors == {"doc_name_2": "Give this document a name."}


def test_offer_form_refuses_a_document_link_that_is_not_a_web_address() -> None:
    errors = offer_errors(valid_form(doc_url_0="javascript:alert(1)"))
    assert errors == {"doc_url_0": "Enter a full link starting with https://"}


def test_offer_form_ignores_blank_document_rows_and_keeps_the_order() -> None:
    form = valid_form(
        doc_name_1="  ",
        doc_url_1="",
        doc_name_2="Meal plan",
        doc_url_2=" https://docs.example.com/meals ",
    )
    offer = parse_offer_form(form, LOCATIONS, "GBP")
    assert offer.documents == (
        Document(name="Training plan", url="https://docs.example.com/plan.pdf"),
        Document(name="Meal plan", url="https://docs.example.com/meals"),
    )


def test_offer_form_keeps_html_in_the_title_as_text_and_collapses_whitespace() -> None:
    form = valid_form(title="  <b>Summer</b>\n\t  <script>x</script>  ")
    offer = parse_offer_form(form, LOCATIONS, "GBP")
    assert offer.title == "<b>Summer</b> <script>x</script>"


def test_offer_form_refuses_a_blank_or_too_long_title() -> None:
    assert set(offer_errors(valid_form(title="   "))) == {"title"}
    assert set(offer_errors(valid_form(title="x" * 81))) == {"title"}
    assert parse_offer_form(valid_form(title="x" * 80), LOCATIONS, "GBP").title == "x" * 80


def test_offer_form_reports_every_bad_field_at_once() -> None:
    form = valid_form(
        title="",
        sessions="0",
        price="-5",
        location_id="old",
        length="45",
        video_link="ftp://x",
        doc_name_0="Plan",
        doc_url_0="",
        doc_name_1="",
        doc_url_1="https://docs.example.com/x",
    )
    assert set(offer_errors(form)) == {
        "title",
        "sessions",
        "price",
        "location_id",
        "length",
        "video_link",
        "doc_url_0",
        "doc_name_1",
    }


# offer_form_values --------------------------------------------------------------------------
def test_a_saved_offer_fills_the_form_that_would_produce_it() -> None:
    offer = ProgramOffer(
        title="Summer <b>bootcamp</b>",
        sessions=7,
        price_minor=10001,
        location_id="loc2",
        length=90,
        video_link="https://video.example.com/x",
        documents=(
            Document(name="Plan", url="https://docs.example.com/plan"),
            Document(name="Meals", url="https://docs.example.com/meals"),
        ),
    )
    values = offer_form_values(offer, "GBP")
    assert values["price"] == "100.01"
    assert values["sessions"] == "7"
    assert values["doc_name_1"] == "Meals"
    assert parse_offer_form(values, LOCATIONS, "GBP") == offer


_words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz<>&'\"0123456789-", min_size=1, max_size=8)
_titles = st.lists(_words, min_size=1, max_size=8).map(" ".join).filter(lambda t: len(t) <= 80)
_urls = st.from_regex(r"\Ahttps://[a-z]{1,10}\.example\.com/[a-z0-9/._-]{0,20}\Z")
_documents = st.lists(st.builds(Document, name=_titles, url=_urls), max_size=5).map(tuple)


@given(
    title=_titles,
    sessions=st.integers(1, 100),
    price=st.integers(0, 1_000_000),
    location_id=st.sampled_from(["loc1", "loc2"]),
    length=st.sampled_from(range(30, 241, 30)),
    video_link=st.one_of(st.just(""), _urls),
    documents=_documents,
)
def test_any_valid_offer_survives_the_form_round_trip(
    title: str,
    sessions: int,
    price: int,
    location_id: str,
    length: int,
    video_link: str,
    documents: tuple[Document, ...],
) -> None:
    offer = ProgramOffer(
        title=title,
        sessions=sessions,
        price_minor=price,
        location_id=location_id,
        length=length,
        video_link=video_link,
        documents=documents,
    )
    assert parse_offer_form(offer_form_values(offer, "GBP"), LOCATIONS, "GBP") == offer


# check_cards --------------------------------------------------------------------------------
def test_a_free_future_date_is_ok_with_a_new_slot() -> None:
    [result] = check([card("2026-11-26", "10:00")])
    assert result.ok
    assert result.existing is False
    assert result.problem is None
    assert result.slot is not None
    assert result.slot.id == "new1"
    assert (result.slot.day, result.slot.start, result.slot.end) == (THURSDAY, 600, 660)
    assert result.slot.location_id == "loc1"
    assert result.slot.start_utc == datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    assert result.label == "Thursday 26 Nov 10:00–11:00"


def test_the_slot_takes_the_offer_length() -> None:
    offer = OFFER.model_copy(update={"length": 90})
    [result] = check([card("2026-11-26", "10:00")], offer=offer)
    assert result.slot is not None
    assert result.slot.end == 11 * 60 + 30


@pytest.mark.parametrize(("day", "start"), [("2026-11-20", "10:00"), ("2026-11-23", "09:00")])
def test_a_date_in_the_past_is_refused(day: str, start: str) -> None:
    [result] = check([card(day, start)])
    assert not result.ok
    assert result.problem == "This date is in the past."


def test_a_date_starting_just_after_now_is_ok() -> None:
    [result] = check([card("2026-11-23", "09:30")])
    assert result.ok


@pytest.mark.parametrize(("day", "weekday"), [("2026-03-29", "Sunday"), ("2027-03-28", "Sunday")])
def test_a_time_in_the_spring_forward_gap_is_refused_without_a_slot(day: str, weekday: str) -> None:
    [result] = check([card(day, "01:00")])
    assert result.slot is None
    assert not result.ok
    assert result.problem is not None
    assert "the clocks go forward" in result.problem
    assert result.problem.startswith(f"01:00 does not exist on {weekday}")


def test_a_session_ending_in_the_spring_forward_gap_names_the_missing_end_time() -> None:
    # 00:30 exists on 28 March 2027; it is the 01:30 end of a 60-minute session that does
    # not (the clocks jump from 01:00 to 02:00). The problem must not claim 00:30 is missing.
    [result] = check([card("2027-03-28", "00:30")])
    assert result.slot is None
    assert result.problem is not None
    assert "00:30 does not exist" not in result.problem
    assert "01:30" in result.problem


@pytest.mark.parametrize(
    ("day", "start"),
    [("", "10:00"), ("26/11/2026", "10:00"), ("2026-11-26", ""), ("2026-11-26", "25:00")],
)
def test_a_malformed_date_or_time_is_a_problem(day: str, start: str) -> None:
    [result] = check([card(day, start)])
    assert result.slot is None
    assert not result.ok
    assert result.problem
    assert (result.day_text, result.start_text) == (day, start)


def test_a_time_off_the_grid_is_a_problem() -> None:
    [result] = check([card("2026-11-26", "10:15")])
    assert result.slot is None
    assert result.problem == "Start 10:15 is not on the 30-minute grid: use :00 or :30."


def test_a_session_running_past_midnight_is_refused() -> None:
    [result] = check([card("2026-11-26", "23:30")])
    assert result.slot is None
    assert result.problem == "The session would run past midnight: start earlier."


def test_a_session_ending_exactly_at_midnight_is_ok() -> None:
    [result] = check([card("2026-11-26", "23:00")])
    assert result.ok
    assert result.slot is not None
    assert result.slot.end == 24 * 60


def test_a_card_overlapping_an_earlier_card_is_flagged() -> None:
    first, second = check([card("2026-11-26", "10:00"), card("2026-11-26", "10:30")])
    assert first.ok
    assert not second.ok
    assert second.problem == "Overlaps Thursday 26 Nov 10:00–11:00 above."


def test_back_to_back_cards_do_not_overlap() -> None:
    first, second = check([card("2026-11-26", "10:00"), card("2026-11-26", "11:00")])
    assert first.ok and second.ok


def test_card_input_is_trimmed() -> None:
    [result] = check([card(" 2026-11-26 ", " 10:00 ")])
    assert result.ok
    assert (result.day_text, result.start_text) == ("2026-11-26", "10:00")


def test_an_exact_open_slot_at_the_same_location_is_taken_as_it_is() -> None:
    open_slot = slot_at("open1")
    [result] = check([card()], existing=[open_slot])
    assert result.ok
    assert result.existing is True
    assert result.slot is open_slot
    assert result.slot.id == "open1"


def test_an_open_slot_taken_by_one_card_is_not_taken_again_by_another() -> None:
    open_slot = slot_at("open1")
    first, second = check([card(), card()], existing=[open_slot])
    assert first.existing and first.slot is open_slot
    assert second.problem == "Overlaps Thursday 26 Nov 10:00–11:00 above."


def test_an_open_slot_at_the_same_time_at_another_location_is_a_problem() -> None:
    [result] = check([card()], existing=[slot_at("open1", location_id="loc2")])
    assert not result.ok
    assert result.existing is False
    assert result.problem == "Your open slot Thursday 26 Nov 10:00–11:00 is at another location."


def test_an_open_slot_held_by_a_live_offer_is_a_problem_naming_the_client() -> None:
    offer = Offer(id="o1", client_id="ben", client_name="Ben", expires_at=NOW + timedelta(hours=1))
    held = slot_at("open1").model_copy(update={"offer": offer})
    [result] = check([card()], existing=[held])
    assert not result.ok
    assert result.problem == "Your open slot Thursday 26 Nov 10:00–11:00 is offered to Ben."


def test_an_open_slot_with_an_expired_offer_can_be_used() -> None:
    offer = Offer(id="o1", client_id="ben", client_name="Ben", expires_at=NOW)
    stale = slot_at("open1").model_copy(update={"offer": offer})
    [result] = check([card()], existing=[stale])
    assert result.ok
    assert result.existing is True
    assert result.slot is stale


def test_an_overlapping_booked_slot_is_a_problem_naming_the_client() -> None:
    booked_slot, session = session_on(slot_at("b1", start=9 * 60 + 30), "sess1", "Cleo")
    [result] = check([card()], existing=[booked_slot], sessions=[session])
    assert not result.ok
    assert result.problem == "Clashes with Cleo's session Thursday 26 Nov 09:30–10:30."


def test_an_exactly_booked_slot_is_a_problem_naming_the_client() -> None:
    booked_slot, session = session_on(slot_at("b1"), "sess1", "Cleo")
    [result] = check([card()], existing=[booked_slot], sessions=[session])
    assert result.existing is False
    assert result.problem == "Clashes with Cleo's session Thursday 26 Nov 10:00–11:00."


def test_a_canceled_session_is_not_named_as_the_clash() -> None:
    booked_slot, session = session_on(slot_at("b1"), "sess1", "Cleo", status="canceled")
    [result] = check([card()], existing=[booked_slot], sessions=[session])
    assert not result.ok
    assert result.problem is not None
    assert "Cleo" not in result.problem
    assert result.problem.startswith("Overlaps")


def test_a_partially_overlapping_open_slot_is_a_problem() -> None:
    [result] = check([card()], existing=[slot_at("open1", start=10 * 60 + 30)])
    assert not result.ok
    assert result.existing is False
    assert result.problem == "Overlaps your open slot Thursday 26 Nov 10:30–11:30."


def test_an_open_slot_on_another_day_does_not_clash() -> None:
    [result] = check([card()], existing=[slot_at("open1", day=THURSDAY + timedelta(days=1))])
    assert result.ok
    assert result.existing is False
    assert result.slot is not None and result.slot.id == "new1"


def test_each_card_is_checked_on_its_own() -> None:
    results = check(
        [card("2026-11-20"), card("2026-11-26"), card("nope"), card("2026-12-03")],
        existing=[slot_at("open1")],
    )
    assert [r.ok for r in results] == [False, True, False, True]
    assert [r.existing for r in results] == [False, True, False, False]


# card_count_problem -------------------------------------------------------------------------
def test_no_cards_is_a_problem() -> None:
    assert card_count_problem(0, 12) == "Add at least one date: generate them or add one."


def test_more_cards_than_planned_sessions_is_a_problem() -> None:
    assert card_count_problem(14, 12) == "This bundle has 12 sessions: remove 2 date(s)."


@pytest.mark.parametrize("count", [1, 11, 12])
def test_as_many_or_fewer_cards_than_planned_is_fine(count: int) -> None:
    assert card_count_problem(count, 12) is None


# Bundle / BundleEntry -----------------------------------------------------------------------
def test_an_entry_is_attended_only_once_it_has_ended_and_if_still_booked() -> None:
    assert entry("a", -1).attended(NOW)
    assert BundleEntry(ref="a", end_utc=NOW).attended(NOW)  # ended exactly now
    assert not entry("a", 1).attended(NOW)
    assert not entry("a", -1, "canceled").attended(NOW)
    assert not entry("a", -1, "voided").attended(NOW)
    assert not entry("a", -1, "moved").attended(NOW)


def test_bundle_progress_counts_only_past_booked_sessions() -> None:
    entries = (
        entry("a", -7),
        entry("b", -1),
        entry("c", -3, "canceled"),
        entry("d", -2, "voided"),
        entry("e", 7),
    )
    assert bundle(sessions_planned=5, entries=entries).attended(NOW) == 2


def test_bundle_completes_on_its_own_once_every_session_took_place() -> None:
    done = bundle(sessions_planned=3, entries=past_entries(3))
    assert done.state(NOW) == "completed"
    assert done.state_label(NOW) == "Completed"
    assert done.is_past(NOW)


def test_bundle_stays_active_while_sessions_remain() -> None:
    ongoing = bundle(sessions_planned=3, entries=(*past_entries(2), entry("f", 7)))
    assert ongoing.state(NOW) == "active"
    assert ongoing.state_label(NOW) == "Active"
    assert not ongoing.is_past(NOW)


def test_a_canceled_past_session_does_not_complete_the_bundle() -> None:
    entries = (*past_entries(2), entry("c", -1, "canceled"))
    assert bundle(sessions_planned=3, entries=entries).state(NOW) == "active"


def test_a_paused_bundle_stays_paused_even_when_every_session_took_place() -> None:
    paused = bundle(sessions_planned=2, status="paused", entries=past_entries(2))
    assert paused.state(NOW) == "paused"
    assert paused.state_label(NOW) == "Paused"


def test_a_bundle_completed_by_hand_is_completed() -> None:
    assert bundle(status="completed").state(NOW) == "completed"


def test_bundle_shares_follow_the_price_split() -> None:
    b = bundle(sessions_planned=3, price_minor=10000)
    assert [b.share(i) for i in range(3)] == split_price(10000, 3) == [3334, 3333, 3333]


def test_a_session_beyond_the_plan_takes_the_smallest_share() -> None:
    b = bundle(sessions_planned=3, price_minor=10000)
    assert b.share(3) == 3333
    assert b.share(50) == 3333


def test_live_count_counts_booked_entries_past_or_future() -> None:
    entries = (entry("a", -1), entry("b", 3), entry("c", 5, "canceled"), entry("d", -2, "voided"))
    assert bundle(entries=entries).live_count() == 2


def test_next_start_ref_is_the_earliest_upcoming_booked_session() -> None:
    entries = (entry("past", -1), entry("later", 9), entry("gone", 2, "canceled"), entry("s", 4))
    assert bundle(entries=entries).next_start_ref(NOW) == "s"
    assert bundle(entries=past_entries(2)).next_start_ref(NOW) is None


# transition ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "action", "result"),
    [
        ("active", "pause", "paused"),
        ("paused", "resume", "active"),
        ("active", "complete", "completed"),
        ("paused", "complete", "completed"),
        ("completed", "reopen", "active"),
    ],
)
def test_allowed_transitions_give_the_new_status(status: str, action: str, result: str) -> None:
    assert transition(bundle(status=status), action, NOW) == result


@pytest.mark.parametrize(
    ("status", "action", "message"),
    [
        ("active", "resume", "This bundle is active."),
        ("paused", "pause", "This bundle is paused."),
        ("completed", "pause", "This bundle is completed."),
        ("active", "reopen", "This bundle is active."),
        ("completed", "complete", "This bundle is already completed."),
    ],
)
def test_refused_transitions_explain_the_current_state(
    status: str, action: str, message: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        transition(bundle(status=status), action, NOW)
    assert caught.value.errors == {"_form": message}


def test_an_unknown_action_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        transition(bundle(), "delete", NOW)
    assert caught.value.errors == {"_form": "Unknown action."}


def test_a_bundle_completed_on_its_own_cannot_be_completed_or_paused() -> None:
    done = bundle(sessions_planned=2, entries=past_entries(2))
    for action in ("complete", "pause"):
        with pytest.raises(InvalidInput):
            transition(done, action, NOW)


@pytest.mark.parametrize("status", ["active", "completed"])
def test_reopening_is_refused_when_every_session_took_place(status: str) -> None:
    done = bundle(sessions_planned=2, status=status, entries=past_entries(2))
    with pytest.raises(InvalidInput) as caught:
        transition(done, "reopen", NOW)
    assert caught.value.errors == {"_form": "Every session has taken place: it stays completed."}


def test_a_bundle_completed_by_hand_with_sessions_left_can_be_reopened() -> None:
    early = bundle(sessions_planned=3, status="completed", entries=past_entries(1))
    assert transition(early, "reopen", NOW) == "active"


# scheduling_problem -------------------------------------------------------------------------
def test_a_paused_bundle_cannot_be_scheduled() -> None:
    problem = scheduling_problem(bundle(status="paused"), NOW)
    assert problem == "This bundle is paused: resume it to schedule sessions."


def test_a_completed_bundle_must_be_reopened_to_schedule() -> None:
    problem = scheduling_problem(bundle(status="completed"), NOW)
    assert problem == "This bundle is completed: reopen it to schedule sessions."
    auto = bundle(sessions_planned=2, entries=past_entries(2))
    assert scheduling_problem(auto, NOW) == (
        "This bundle is completed: reopen it to schedule sessions."
    )


def test_a_fully_scheduled_bundle_has_no_room() -> None:
    full = bundle(sessions_planned=2, entries=(entry("a", 3), entry("b", 10)))
    assert scheduling_problem(full, NOW) == "All 2 sessions are scheduled."


def test_an_active_bundle_with_room_can_be_scheduled() -> None:
    assert scheduling_problem(bundle(sessions_planned=3), NOW) is None
    freed = (entry("a", 3), entry("b", 10), entry("c", 5, "canceled"))
    assert scheduling_problem(bundle(sessions_planned=3, entries=freed), NOW) is None


# confirmable --------------------------------------------------------------------------------
def test_confirmations_cover_live_upcoming_sessions_in_start_order() -> None:
    def at(session_id: str, days: int, status: str = "booked") -> Session:
        day = THURSDAY + timedelta(days=days)
        return session_on(slot_at(session_id, day=day), session_id, status=status)[1]

    later, sooner = at("later", 14), at("sooner", 7)
    canceled, moved = at("canceled", 3, "canceled"), at("moved", 4, "moved")
    past = session_on(slot_at("past", day=date(2026, 11, 20)), "past")[1]
    started = session_on(slot_at("started", day=date(2026, 11, 23), start=9 * 60), "started")[1]
    result = confirmable([later, canceled, past, sooner, started, moved], NOW)
    assert [s.id for s in result] == ["sooner", "later"]


def test_nothing_to_confirm_without_upcoming_sessions() -> None:
    assert confirmable([], NOW) == []


# An uploaded file's row (hidden fields, checked again on every save) -----------------------
FILES = "trainers/t1/files/"


def _file_row(key: str, content_type: str = "application/pdf", size: str = "1234"):
    row = {"doc_name_1": "Plan", "doc_key_1": key, "doc_content_type_1": content_type}
    return OfferInput.model_validate(valid_form(**row, doc_size_1=size))


def test_a_checked_files_row_is_kept_with_its_key_type_and_size() -> None:
    offer = parse_offer(
        _file_row(FILES + "1795424400-abcdefghijkl/plan.pdf"), LOCATIONS, "GBP", files_prefix=FILES
    )
    assert offer.documents[1] == Document(
        name="Plan",
        key=FILES + "1795424400-abcdefghijkl/plan.pdf",
        content_type="application/pdf",
        size=1234,
    )


@pytest.mark.parametrize(
    ("key", "content_type", "size", "message"),
    [
        # an upload that was never checked (the app copies what it checked to files/)
        (
            "uploads/t1/1795424400-abcdefghijkl/plan.pdf",
            "application/pdf",
            "9",
            "not one of yours",
        ),
        (
            "trainers/t2/files/1795424400-abcdefghijkl/plan.pdf",
            "application/pdf",
            "9",
            "not one of yours",
        ),
        (FILES + "../../t2/files/x/plan.pdf", "application/pdf", "9", "not one of yours"),
        (FILES + "x/plan.pdf", "application/zip", "9", "damaged"),
        (FILES + "x/plan.pdf", "application/pdf", "-9", "damaged"),
        (FILES + "x/photo.png", "application/pdf", "9", "damaged"),  # altered type
    ],
)
def test_a_files_row_that_was_altered_is_refused(
    key: str, content_type: str, size: str, message: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_offer(_file_row(key, content_type, size), LOCATIONS, "GBP", files_prefix=FILES)
    assert message in caught.value.errors["documents.1.name"]

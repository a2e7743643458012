"""The Programs forms as commands: what each form parses into, the message of each field
that does not parse, extra fields and the CSRF token left out, and the rules' errors
(named for the command's fields) mapped back to the form's inputs."""

from __future__ import annotations

import pytest

from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.programs import (
    MAX_CARDS,
    DateCard,
    DocumentInput,
    OfferInput,
    QuickInput,
)
from chalicelib.services.programs import (
    AddBundleSession,
    ChangeBundleStatus,
    CreateBundle,
    DeleteTemplate,
    SaveOffer,
    SaveSchedule,
    SaveTemplate,
    SendConfirmations,
    StartDraft,
)
from chalicelib.web import forms

OFFER = {
    "title": "12-session coaching",
    "sessions": "12",
    "price": "540",
    "location_id": "loc1",
    "length": "60",
    "video_link": "https://meet.example.com/coach",
    "doc_name_0": "Training plan",
    "doc_url_0": "https://docs.example.com/plan.pdf",
}
NOISE = {"csrf_token": "secret-token", "utm_source": "newsletter"}
BLANK_ROW = DocumentInput()


def refused(model: type, form: dict[str, str], **context: object) -> dict[str, str]:
    with pytest.raises(InvalidInput) as caught:
        forms.command(model, form, **context)
    return caught.value.errors


def leaves_out_the_noise(command: object) -> None:
    dumped = command.model_dump()  # type: ignore[attr-defined]
    assert "csrf_token" not in dumped and "utm_source" not in dumped


# The offer (template form, wizard step 1) --------------------------------------------------
def test_the_offer_form_is_kept_as_typed_with_its_document_rows() -> None:
    typed = forms.command(OfferInput, {**OFFER, "title": "  Spaced  out ", **NOISE})
    assert typed.title == "Spaced  out"  # trimmed; the rule collapses the inside
    assert typed.sessions == "12" and typed.length == "60"
    assert typed.documents == (
        DocumentInput(name="Training plan", url="https://docs.example.com/plan.pdf"),
        BLANK_ROW,
        BLANK_ROW,
        BLANK_ROW,
        BLANK_ROW,
    )
    leaves_out_the_noise(typed)


def test_the_offer_goes_back_to_the_forms_names_for_a_draft() -> None:
    typed = OfferInput.model_validate(OFFER)
    assert typed.typed() == {
        **OFFER,
        **{f"doc_{part}_{i}": "" for i in range(1, 5) for part in ("name", "url")},
    }
    assert OfferInput.model_validate(typed.typed()) == typed


def test_a_draft_keeps_at_most_five_hundred_characters_of_a_value_but_the_check_sees_all() -> None:
    typed = OfferInput.model_validate({**OFFER, "video_link": "https://x.example/" + "a" * 600})
    assert len(typed.video_link) == 618
    assert len(typed.typed()["video_link"]) == 500


def test_the_rules_errors_on_documents_go_back_to_their_inputs() -> None:
    assert OfferInput.form_name("documents.3.url") == "doc_url_3"
    assert OfferInput.form_name("documents.0.name") == "doc_name_0"
    assert OfferInput.form_name("price") == "price"
    errors = InvalidInput({"documents.1.name": "Give this document a name.", "title": "T"})
    assert forms.errors(SaveTemplate, errors) == {
        "doc_name_1": "Give this document a name.",
        "title": "T",
    }


# Templates -----------------------------------------------------------------------------
def test_save_template_is_the_offer_its_version_and_the_template_from_the_url() -> None:
    command = forms.command(SaveTemplate, {**OFFER, "version": "3", **NOISE}, template_id="t1")
    assert (command.template_id, command.version, command.title) == ("t1", 3, OFFER["title"])
    assert command.offer_only() == OfferInput.model_validate(OFFER)
    leaves_out_the_noise(command)


def test_a_new_template_has_no_version_and_no_id() -> None:
    command = forms.command(SaveTemplate, {**OFFER, "version": ""})
    assert (command.template_id, command.version) == (None, None)


def test_a_template_version_that_is_not_a_number_reads_as_a_stale_page() -> None:
    assert (
        forms.command(SaveTemplate, {**OFFER, "version": "two"}).version is None
    )  # a stale page: refused as changed elsewhere


def test_delete_template_takes_the_version_and_the_template_from_the_url() -> None:
    command = forms.command(
        DeleteTemplate, {"action": "delete", "version": "2", **NOISE}, template_id="t1"
    )
    assert (command.template_id, command.version) == ("t1", 2)
    leaves_out_the_noise(command)
    assert (
        forms.command(DeleteTemplate, {"version": "x"}, template_id="t1").version is None
    )  # a stale page: refused as changed elsewhere


# Starting the wizard -------------------------------------------------------------------
def test_start_draft_takes_the_client_and_maybe_a_template() -> None:
    command = forms.command(StartDraft, {"client_id": " c1 ", "template_id": "", **NOISE})
    assert (command.client_id, command.template_id) == ("c1", "")
    leaves_out_the_noise(command)
    assert forms.command(StartDraft, {}) == StartDraft(client_id="", template_id="")


def test_start_draft_errors_stay_on_their_inputs() -> None:
    errors = InvalidInput({"client_id": "Choose a client."})
    assert forms.errors(StartDraft, errors) == {"client_id": "Choose a client."}


# Step 1 ----------------------------------------------------------------------------------
def test_save_offer_is_the_offer_the_button_and_the_draft_from_the_url() -> None:
    form = {**OFFER, "version": "4", "action": "next", **NOISE}
    command = forms.command(SaveOffer, form, draft_id="d1")
    assert (command.draft_id, command.version, command.action) == ("d1", 4, "next")
    assert command.offer_only() == OfferInput.model_validate(OFFER)
    leaves_out_the_noise(command)
    picked = forms.command(
        SaveOffer, {"version": "4", "action": "use_template", "template_id": "t9"}, draft_id="d1"
    )
    assert (picked.action, picked.template_id) == ("use_template", "t9")


def test_save_offer_refuses_an_unknown_button_for_the_whole_form() -> None:
    assert refused(SaveOffer, {"version": "1", "action": "publish"}, draft_id="d1") == {
        "_form": "Unknown action."
    }
    assert (
        forms.command(SaveOffer, {"version": "v1"}, draft_id="d1").version is None
    )  # a stale page: refused as changed elsewhere


# Step 2 ----------------------------------------------------------------------------------
def _cards_form(*cards: tuple[str, str], **extra: str) -> dict[str, str]:
    form = {"version": "5", "cards": str(len(cards)), **extra}
    for i, (day, start) in enumerate(cards):
        form[f"card_day_{i}"], form[f"card_start_{i}"] = day, start
    return form


def test_save_schedule_gathers_quick_scheduling_and_the_cards() -> None:
    form = _cards_form(
        ("2026-12-01", "10:00"),
        (" 2026-12-08 ", "10:30"),
        action="generate",
        first_day="2026-12-01",
        first_time="10:00",
        every_weeks=" 2 ",
        **NOISE,
    )
    command = forms.command(SaveSchedule, form, draft_id="d1")
    assert (command.draft_id, command.version, command.action) == ("d1", 5, "generate")
    assert command.quick == QuickInput(first_day="2026-12-01", first_time="10:00", every_weeks="2")
    assert command.cards == (
        DateCard(day="2026-12-01", start="10:00"),
        DateCard(day="2026-12-08", start="10:30"),
    )
    assert command.removed_card is None
    leaves_out_the_noise(command)


def test_save_schedule_reads_as_many_cards_as_the_form_says_within_limits() -> None:
    missing = forms.command(
        SaveSchedule, {"version": "1", "action": "add", "cards": "2"}, draft_id="d"
    )
    assert missing.cards == (DateCard(), DateCard())  # inputs left out are blank cards
    for count in ("", "two", "-3"):
        form = {"version": "1", "action": "add", "cards": count}
        assert forms.command(SaveSchedule, form, draft_id="d").cards == ()
    many = forms.command(
        SaveSchedule, {"version": "1", "action": "add", "cards": "9999"}, draft_id="d"
    )
    assert len(many.cards) == MAX_CARDS
    long = _cards_form(("2026-12-01" + "x" * 50, "10:00" + "y" * 50), action="next")
    (card,) = forms.command(SaveSchedule, long, draft_id="d").cards
    assert (card.day, card.start) == ("2026-12-01" + "x" * 10, "10:00" + "y" * 5)


@pytest.mark.parametrize(
    ("action", "removed"),
    [("remove_1", 1), ("remove_2", None), ("remove_x", None), ("remove_²", None)],
)
def test_remove_names_one_of_the_cards_or_none(action: str, removed: int | None) -> None:
    form = _cards_form(("2026-12-01", "10:00"), ("2026-12-08", "10:00"), action=action)
    assert forms.command(SaveSchedule, form, draft_id="d").removed_card == removed


@pytest.mark.parametrize("action", ["", "publish", "Generate"])
def test_save_schedule_refuses_an_unknown_button_for_the_whole_form(action: str) -> None:
    assert refused(SaveSchedule, _cards_form(action=action), draft_id="d") == {
        "_form": "Unknown action."
    }


def test_save_schedule_quick_errors_stay_on_their_inputs() -> None:
    errors = InvalidInput({"first_time": "Use a time on the 30-minute grid (:00 or :30)."})
    assert forms.errors(SaveSchedule, errors) == errors.errors
    assert (
        forms.command(SaveSchedule, _cards_form(action="next", version="x"), draft_id="d").version
        is None
    )  # a stale page: refused as changed elsewhere


# Step 3 ----------------------------------------------------------------------------------
def test_create_bundle_is_validate_or_back() -> None:
    command = forms.command(
        CreateBundle, {"version": "7", "action": "create", **NOISE}, draft_id="d"
    )
    assert (command.draft_id, command.version, command.action) == ("d", 7, "create")
    leaves_out_the_noise(command)
    assert forms.command(CreateBundle, {"action": "back"}, draft_id="d").action == "back"
    assert refused(CreateBundle, {"version": "7", "action": "delete"}, draft_id="d") == {
        "_form": "Unknown action."
    }
    assert (
        forms.command(CreateBundle, {"version": "seven"}, draft_id="d").version is None
    )  # a stale page: refused as changed elsewhere


# The bundle page -------------------------------------------------------------------------
@pytest.mark.parametrize("action", ["pause", "resume", "complete", "reopen"])
def test_change_bundle_status_takes_the_button_and_the_version(action: str) -> None:
    form = {"version": "2", "action": action, **NOISE}
    command = forms.command(ChangeBundleStatus, form, bundle_id="b1")
    assert (command.bundle_id, command.version, command.action) == ("b1", 2, action)
    leaves_out_the_noise(command)


@pytest.mark.parametrize("form", [{"version": "2", "action": "delete"}, {"version": "2"}])
def test_change_bundle_status_refuses_an_unknown_button(form: dict[str, str]) -> None:
    assert refused(ChangeBundleStatus, form, bundle_id="b1") == {"_form": "Unknown action."}


def test_add_bundle_session_takes_the_date_as_typed() -> None:
    form = {"version": "3", "action": "add", "day": " 2027-03-02 ", "start": "10:00", **NOISE}
    command = forms.command(AddBundleSession, form, bundle_id="b1")
    assert (command.bundle_id, command.version, command.day, command.start) == (
        "b1",
        3,
        "2027-03-02",
        "10:00",
    )
    leaves_out_the_noise(command)
    assert (
        forms.command(AddBundleSession, {"version": "3.5"}, bundle_id="b1").version is None
    )  # a stale page: refused as changed elsewhere
    errors = InvalidInput({"day": "This date is in the past."})
    assert forms.errors(AddBundleSession, errors) == {"day": "This date is in the past."}


@pytest.mark.parametrize(
    ("sent", "seen"), [("0", 0), (" 2 ", 2), ("", None), ("one", None), ("-1", None), ("1.0", None)]
)
def test_send_confirmations_reads_the_round_of_the_page(sent: str, seen: int | None) -> None:
    form = {"action": "confirm", "round": sent, **NOISE}
    command = forms.command(SendConfirmations, form, bundle_id="b1")
    assert (command.bundle_id, command.round_seen) == ("b1", seen)
    leaves_out_the_noise(command)
    assert forms.command(SendConfirmations, {}, bundle_id="b1").round_seen is None
    assert SendConfirmations.form_name("round_seen") == "round"

"""WhatsApp templates (messaging/templates.py): each kind's text as submitted for approval,
variables made safe so user text cannot forge the template's lines, the stage's
WHATSAPP_TEMPLATES checked with errors that name the kind, and the choice between a
template and free-form text."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chalicelib.domain.messages import Message
from chalicelib.messaging import templates
from chalicelib.messaging.delivery import NotConfigured, SendError
from chalicelib.messaging.templates import LINK, SPECS, choose, clean, parse, variables_for

DOCS = Path(__file__).resolve().parents[2] / "docs" / "whatsapp-templates.md"
PLACEHOLDER = re.compile(r"\{\{([0-9]+)\}\}")
BUSINESS_INITIATED = {
    "offer",
    "invoice",
    "confirmation",
    "program_confirmation",
    "reminder",
    "portal_link",
    "cancel_notice",
    "move_notice",
    "canceled",
    "pack_renewal",
    "notification",
}
SID = "HX" + "0123456789abcdef" * 2
LINK_URL = "https://book.example.com/s/q3V9xYJ2mQ7bL0aR4tWc8"


def data_for(kind: str, **overrides: str) -> dict[str, str]:
    """Every variable of `kind` but the link, at its sample value."""
    values = {v.name: v.example for v in SPECS[kind].variables if v.name != LINK}
    return {**values, **overrides}


# --- The templates as submitted -------------------------------------------------------------


def test_every_business_initiated_kind_has_a_utility_template() -> None:
    assert set(SPECS) == BUSINESS_INITIATED
    for spec in SPECS.values():
        assert spec.category == "UTILITY"
        assert spec.language == "en_GB"
        assert re.fullmatch(r"[a-z0-9_]{1,512}", spec.name), spec.name
    assert len({spec.name for spec in SPECS.values()}) == len(SPECS)


@pytest.mark.parametrize("kind", sorted(BUSINESS_INITIATED))
def test_placeholders_are_numbered_in_order_once_each(kind: str) -> None:
    spec = SPECS[kind]
    numbers = [int(n) for n in PLACEHOLDER.findall(spec.body)]
    assert numbers == list(range(1, len(spec.variables) + 1))
    assert len({v.name for v in spec.variables}) == len(spec.variables)


@pytest.mark.parametrize("kind", sorted(BUSINESS_INITIATED))
def test_bodies_follow_whatsapps_placement_rules(kind: str) -> None:
    # WhatsApp rejects a template that starts or ends with a variable, or has two side
    # by side; every variable needs fixed text around it.
    body = SPECS[kind].body
    assert not body.lstrip().startswith("{{")
    assert not body.rstrip().endswith("}}")
    assert not re.search(r"\}\}\s*\{\{", body)
    assert "\t" not in body and "     " not in body


@pytest.mark.parametrize("kind", sorted(BUSINESS_INITIATED))
def test_a_body_with_every_variable_at_its_limit_fits_whatsapps_1024(kind: str) -> None:
    spec = SPECS[kind]
    longest = tuple("x" * v.limit for v in spec.variables)
    assert len(templates.fill(spec.body, longest)) <= templates.MAX_BODY_CHARS


@pytest.mark.parametrize("kind", sorted(BUSINESS_INITIATED))
def test_the_docs_give_each_template_exactly_as_sent(kind: str) -> None:
    docs = DOCS.read_text(encoding="utf-8")
    spec = SPECS[kind]
    assert spec.body in docs
    assert spec.example() in docs
    assert f"`{spec.name}`" in docs
    for position, variable in enumerate(spec.variables, start=1):
        assert f"| `{{{{{position}}}}}` | `{variable.name}` |" in docs


def test_a_link_in_a_variable_is_the_whole_variable_not_spliced_into_fixed_text() -> None:
    for spec in SPECS.values():
        assert "http" not in spec.body
        # An invoice carries no link; the trainer's notification links to the dashboard
        # (a plain URL the trainer signs in to, not a capability link).
        assert spec.needs_link == (spec.kind not in {"invoice", "notification"})


# --- Variables made safe --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Priya\nShah", "Priya Shah"),
        ("Priya\r\n\r\nAmount due: £0", "Priya Amount due: £0"),
        ("a\tb", "a b"),
        ("a      b", "a b"),  # WhatsApp refuses more than 4 spaces in a row
        ("a\u2028b\u2029c", "a b c"),  # Unicode line and paragraph separators
        ("a\x0bb\x0cc\x85d", "a b c d"),
        ("zero\u200bwidth", "zero width"),
        ("  padded  ", "padded"),
        ("{{1}} injected", "{ {1} } injected"),
        ("", "-"),
        ("\n\t ", "-"),
        ("Zoë 💪", "Zoë 💪"),
    ],
)
def test_clean_makes_one_safe_line(raw: str, expected: str) -> None:
    assert clean(raw, 100) == expected


def test_clean_cuts_long_values_with_an_ellipsis() -> None:
    assert clean("abcdefghij", 5) == "abcd…"
    assert len(clean("word " * 100, 40)) == 40


def test_a_name_with_newlines_and_a_url_cannot_forge_lines_of_a_template() -> None:
    forged = "Priya\n\nAmount due: £0.00\nPay to: https://evil.example/pay"
    variables = variables_for("invoice", **data_for("invoice", first_name=forged))
    (body,) = [templates.fill(SPECS["invoice"].body, tuple(variables.values()))]
    assert body.count("\n") == SPECS["invoice"].body.count("\n")
    assert "\nAmount due: £0.00" not in body
    # One line, cut to the name's 40 characters: the invoice's own lines are untouched.
    assert body.splitlines()[0].startswith("Hi Priya Amount due: £0.00 Pay to: https:/…, here")


def test_variables_for_gives_the_named_safe_values_without_the_link() -> None:
    got = variables_for(
        "confirmation",
        first_name="Priya\nX",
        trainer="Sam Carter PT",
        when="Wed 25 Nov 09:00–10:00 2026",
        place="Studio\t1",
    )
    assert got == {
        "first_name": "Priya X",
        "trainer": "Sam Carter PT",
        "when": "Wed 25 Nov 09:00–10:00 2026",
        "place": "Studio 1",
    }


def test_variables_for_refuses_missing_or_unknown_names() -> None:
    with pytest.raises(ValueError, match=r"missing \['place'\]"):
        variables_for("confirmation", first_name="P", trainer="S", when="W")
    with pytest.raises(ValueError, match=r"unknown \['link'\]"):
        variables_for("confirmation", **data_for("confirmation"), link="https://x.example")
    with pytest.raises(ValueError, match="No WhatsApp template"):
        variables_for("sign_in", first_name="P")


def test_an_empty_note_gets_its_fallback_not_an_empty_parameter() -> None:
    got = variables_for("cancel_notice", **data_for("cancel_notice", note="  "))
    assert got["note"] == "none"


def test_bank_details_go_on_one_line() -> None:
    line = templates.bank_line([("Payee", "A Smith"), ("Sort code", "04-00-04")])
    assert line == "Payee: A Smith; Sort code: 04-00-04"


# --- The stage's templates (WHATSAPP_TEMPLATES) --------------------------------------------


def test_a_twilio_config_maps_kinds_to_content_sids() -> None:
    stage = parse(json.dumps({"confirmation": {"content_sid": SID}}), "twilio")
    sent = stage.send("confirmation", ("a", "b"))
    assert sent.content_sid == SID and sent.parameters == ("a", "b")


def test_a_meta_config_takes_the_specs_language_unless_given() -> None:
    raw = {
        "confirmation": {"name": "pt_confirmation_v1"},
        "invoice": {"name": "pt_invoice_v2", "language": "en"},
    }
    stage = parse(json.dumps(raw), "meta")
    assert stage.send("confirmation", ()).language == "en_GB"
    assert stage.send("invoice", ()).language == "en"
    assert stage.send("invoice", ()).name == "pt_invoice_v2"


@pytest.mark.parametrize(
    ("raw", "provider", "words"),
    [
        ("{not json", "twilio", "WHATSAPP_TEMPLATES is not valid JSON"),
        ("[]", "twilio", "must be a JSON object"),
        ('{"newsletter": {"content_sid": "' + SID + '"}}', "twilio", "unknown kind 'newsletter'"),
        ('{"offer": {"name": "pt_offer_v1"}}', "twilio", "'offer' needs content_sid"),
        ('{"offer": {"content_sid": "' + SID + '"}}', "meta", "'offer' needs name"),
        ('{"offer": {"content_sid": "HX12"}}', "twilio", "'offer' content_sid must be a Twilio"),
        ('{"offer": {"name": "Offer V1"}}', "meta", "'offer' name must be a Meta template name"),
        ('{"offer": {"name": "o", "language": "english"}}', "meta", "'offer' language must be"),
        ('{"offer": {"sid": "x"}}', "twilio", "'offer' has 'sid', which is not a template"),
        ('{"offer": "HX00"}', "twilio", "'offer' must be an object"),
    ],
)
def test_a_wrong_config_is_named_by_kind_and_problem(raw: str, provider: str, words: str) -> None:
    with pytest.raises(NotConfigured, match=re.escape(words)):
        parse(raw, provider)


def test_no_config_means_no_templates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WHATSAPP_TEMPLATES", raising=False)
    assert templates.from_env("twilio") is None
    monkeypatch.setenv("WHATSAPP_TEMPLATES", json.dumps({"offer": {"content_sid": SID}}))
    assert templates.from_env("log") is None  # nothing to send them with
    found = templates.from_env("twilio")
    assert found is not None and set(found.bindings) == {"offer"}


# --- Template or free-form ------------------------------------------------------------------

STAGE = parse(json.dumps({"confirmation": {"content_sid": SID}}), "twilio")


def test_inside_the_window_the_text_goes_free_form() -> None:
    variables = variables_for("confirmation", **data_for("confirmation"))
    assert choose("confirmation", variables, LINK_URL, STAGE, window_open=True) is None


def test_a_stage_without_templates_sends_free_form_as_before() -> None:
    assert choose("confirmation", {}, LINK_URL, None, window_open=False) is None


def test_outside_the_window_the_kinds_template_goes_with_the_link_filled_in() -> None:
    variables = variables_for("confirmation", **data_for("confirmation"))
    sent = choose("confirmation", variables, LINK_URL, STAGE, window_open=False)
    assert sent is not None
    assert sent.content_sid == SID
    assert sent.parameters == (
        "Priya",
        "Sam Carter PT",
        "Wed 25 Nov 09:00–10:00 2026",
        "Riverside Studio",
        LINK_URL,
    )


def test_stored_values_are_made_safe_again_when_sent() -> None:
    variables = {**variables_for("confirmation", **data_for("confirmation")), "place": "A\nB"}
    sent = choose("confirmation", variables, LINK_URL, STAGE, window_open=False)
    assert sent is not None and sent.parameters[3] == "A B"


def test_a_kind_without_a_configured_template_fails_in_words() -> None:
    variables = variables_for("reminder", **data_for("reminder"))
    with pytest.raises(SendError) as caught:
        choose("reminder", variables, LINK_URL, STAGE, window_open=False)
    assert not caught.value.retryable
    assert "No WhatsApp template is set up for reminder messages" in caught.value.message
    assert "send it from your phone" in caught.value.message


def test_a_free_form_kind_outside_the_window_is_not_sent() -> None:
    with pytest.raises(SendError) as caught:
        choose("reply", {}, None, STAGE, window_open=False)
    assert "outside the 24-hour window" in caught.value.message and not caught.value.retryable


def test_a_message_queued_without_variables_says_so() -> None:
    with pytest.raises(SendError, match="queued before WhatsApp templates were set up"):
        choose("confirmation", {}, LINK_URL, STAGE, window_open=False)


@pytest.mark.parametrize(
    ("link", "words"),
    [
        (None, "needs the client's link"),
        ("", "needs the client's link"),
        ("/s/relative", "not one WhatsApp can carry"),
        ("https://x.example/s/a b", "not one WhatsApp can carry"),
        ("https://x.example/" + "a" * 200, "not one WhatsApp can carry"),
    ],
)
def test_a_missing_or_odd_link_is_refused_never_cut(link: str | None, words: str) -> None:
    variables = variables_for("confirmation", **data_for("confirmation"))
    with pytest.raises(SendError, match=words):
        choose("confirmation", variables, link, STAGE, window_open=False)


# --- Message ------------------------------------------------------------------------------


def test_messages_built_as_before_have_no_variables_and_their_kinds_template() -> None:
    message = Message(
        id="m1",
        week="2026-W48",
        subject_id="s1",
        subject_ref="",
        client_id="c1",
        client_name="Priya Shah",
        kind="confirmation",
        channel="whatsapp",
        to="+447400123456",
        text="Hi",
        created_at=datetime(2026, 11, 23, tzinfo=UTC),
    )
    assert message.variables == {} and message.template_kind == "confirmation"
    program = message.model_copy(update={"template": "program_confirmation"})
    assert program.template_kind == "program_confirmation"
    assert program.kind_label == "Confirmation"


# --- The invoice with its card link (pt_invoice_v2, bound as `invoice_card`) ----------------

CARD_SID = "HX" + "fedcba9876543210" * 2
PAY_URL = "https://book.example.com/pay/t1.c1.1.2026-W48~20261125T090000Z~s1.hmac"
INVOICE_V1_AND_V2 = parse(
    json.dumps({"invoice": {"content_sid": SID}, "invoice_card": {"content_sid": CARD_SID}}),
    "twilio",
)


def test_the_card_invoice_is_a_second_template_of_the_invoice() -> None:
    spec = templates.WITH_LINK["invoice"]
    assert (spec.kind, spec.name, spec.category, spec.language) == (
        "invoice_card",
        "pt_invoice_v2",
        "UTILITY",
        "en_GB",
    )
    numbers = [int(n) for n in PLACEHOLDER.findall(spec.body)]
    assert numbers == list(range(1, len(spec.variables) + 1))
    assert not spec.body.lstrip().startswith("{{") and not spec.body.rstrip().endswith("}}")
    assert not re.search(r"\}\}\s*\{\{", spec.body) and "http" not in spec.body
    assert len(templates.fill(spec.body, tuple("x" * v.limit for v in spec.variables))) <= 1024
    # v1's variables and the link: what an invoice stores serves both.
    assert {v.name for v in spec.variables} == {v.name for v in SPECS["invoice"].variables} | {LINK}
    assert spec.name not in {s.name for s in SPECS.values()}


def test_the_docs_give_the_card_invoice_exactly_as_sent() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    spec = templates.WITH_LINK["invoice"]
    assert spec.body in docs and spec.example() in docs and f"`{spec.name}`" in docs
    for position, variable in enumerate(spec.variables, start=1):
        assert f"| `{{{{{position}}}}}` | `{variable.name}` |" in docs


def test_an_invoice_with_a_card_link_goes_on_v2_when_the_stage_binds_it() -> None:
    variables = variables_for("invoice", **data_for("invoice"))
    sent = choose("invoice", variables, PAY_URL, INVOICE_V1_AND_V2, window_open=False)
    assert sent is not None
    assert (sent.kind, sent.content_sid) == ("invoice_card", CARD_SID)
    assert sent.parameters == (
        "Priya",
        "Sam Carter PT",
        "Wed 25 Nov 09:00–10:00 2026",
        "Riverside Studio",
        "£40.00",
        PAY_URL,
        "Payee: Sam Carter; Bank: Monzo; Account number: 12345678; Sort code: 04-00-04",
        "PT-7KQ4XM",
    )


@pytest.mark.parametrize(
    ("stage", "link"),
    [
        # A stage configured before v2: every invoice on v1, as before.
        (parse(json.dumps({"invoice": {"content_sid": SID}}), "twilio"), PAY_URL),
        # No card payments: no link, v1 even where v2 is bound.
        (INVOICE_V1_AND_V2, None),
        # A link no template can carry whole: v1, never an unsent invoice.
        (INVOICE_V1_AND_V2, "https://book.example.com/pay/" + "a" * 200),
    ],
)
def test_otherwise_the_invoice_goes_on_v1_with_the_bank_details_alone(
    stage: templates.TemplateSet, link: str | None
) -> None:
    variables = variables_for("invoice", **data_for("invoice"))
    sent = choose("invoice", variables, link, stage, window_open=False)
    assert sent is not None and (sent.kind, sent.content_sid) == ("invoice", SID)
    assert len(sent.parameters) == 7 and PAY_URL not in sent.parameters


def test_v2_alone_sends_card_invoices_and_names_v1_for_the_rest() -> None:
    stage = parse(json.dumps({"invoice_card": {"name": "pt_invoice_v2"}}), "meta")
    variables = variables_for("invoice", **data_for("invoice"))
    sent = choose("invoice", variables, PAY_URL, stage, window_open=False)
    assert sent is not None and (sent.name, sent.language) == ("pt_invoice_v2", "en_GB")
    with pytest.raises(SendError, match="No WhatsApp template is set up for invoice messages"):
        choose("invoice", variables, None, stage, window_open=False)


def test_inside_the_window_a_card_invoice_goes_free_form() -> None:
    variables = variables_for("invoice", **data_for("invoice"))
    assert choose("invoice", variables, PAY_URL, INVOICE_V1_AND_V2, window_open=True) is None

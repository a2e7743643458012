"""WhatsApp templates for business-initiated messages, and the choice between a template
and free-form text.

Outside the client's 24-hour window (24 hours after they last wrote) WhatsApp delivers
only approved templates: fixed text with numbered variables ({{1}}, {{2}}, …). Each kind
of message we start has one here (`SPECS`): its text as submitted for approval
(docs/whatsapp-templates.md), its category and language, and its variables in order.

The variables are filled from the message's data (`variables_for`, when it is queued)
and made safe (`clean`): WhatsApp refuses a parameter holding a newline, a tab or more
than four spaces in a row, and a client name or note must never be able to add lines to
the template's fixed text. The client link is never stored: it fills its variable when
the message is sent, made again from the stage secret.

Per stage, WHATSAPP_TEMPLATES (JSON) says what each kind is called at the provider:
    {"confirmation": {"content_sid": "HX…"}}                    Twilio
    {"confirmation": {"name": "pt_confirmation_v2", "language": "en_GB"}}   Meta
Pure apart from reading that one setting.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chalicelib.messaging.delivery import NotConfigured, SendError
from chalicelib.messaging.payloads import WINDOW_CLOSED, TemplateSend

TEMPLATES_ENV: Final = "WHATSAPP_TEMPLATES"
LINK: Final = "link"
# Meta's limit for a template's body once its variables are filled in.
MAX_BODY_CHARS: Final = 1024
# A link is never shortened (half a link opens nothing): longer than this is refused.
MAX_LINK_CHARS: Final = 200


@dataclass(frozen=True)
class Variable:
    name: str  # what the message's data calls it, e.g. "first_name"
    limit: int  # longer values are cut (with "…"), so the body stays under Meta's limit
    example: str  # the sample submitted with the template for approval
    # Stands in for a blank value: providers refuse empty parameters.
    fallback: str = "-"


@dataclass(frozen=True)
class TemplateSpec:
    kind: str
    name: str  # the name to register it under (Meta: lowercase, digits, underscores)
    description: str
    body: str  # the exact text submitted, with {{1}}… where the variables go
    variables: tuple[Variable, ...]
    category: str = "UTILITY"
    language: str = "en_GB"

    @property
    def needs_link(self) -> bool:
        return any(v.name == LINK for v in self.variables)

    def example(self) -> str:
        """The body filled with the sample values (the docs show it)."""
        return fill(self.body, tuple(v.example for v in self.variables))


def fill(body: str, parameters: tuple[str, ...]) -> str:
    """`body` with {{n}} replaced by the n-th parameter, in one pass (a value holding
    "{{2}}" stays as typed)."""
    return re.sub(r"\{\{([0-9]+)\}\}", lambda m: parameters[int(m.group(1)) - 1], body)


_FIRST_NAME = Variable("first_name", 40, "Priya")
_TRAINER = Variable("trainer", 60, "Sam Carter PT")
_WHEN = Variable("when", 60, "Wed 25 Nov 09:00–10:00 2026")
_PLACE = Variable("place", 60, "Riverside Studio")


def _link(kind: str, token: str = "q3V9xYJ2mQ7bL0aR4tWc8") -> Variable:
    """The client link: a session's (/s/), their portal (/c/), an offer's (/o/) or a card
    payment's (/pay/)."""
    return Variable(LINK, MAX_LINK_CHARS, f"https://book.example.com/{kind}/{token}")


# Who, with whom, when and where: how every message about one session opens.
_SESSION: Final = (_FIRST_NAME, _TRAINER, _WHEN, _PLACE)

_NOTE = Variable("note", 200, "The studio is closed for repairs.", fallback="none")

_AMOUNT = Variable("amount", 30, "£40.00")
_BANK = Variable(
    "bank", 240, "Payee: Sam Carter; Bank: Monzo; Account number: 12345678; Sort code: 04-00-04"
)
_REFERENCE = Variable("reference", 40, "PT-7KQ4XM")

SPECS: Final[dict[str, TemplateSpec]] = {
    spec.kind: spec
    for spec in (
        TemplateSpec(
            kind="offer",
            name="pt_offer_v1",
            description="A last-minute opening offered to a client who asked for such times "
            "on their portal; held for them until a deadline.",
            body=(
                "Hi {{1}}, you asked to hear when a time opens with {{2}}: "
                "{{3}} at {{4}} is free now.\n\n"
                "It is held for you until {{5}}. To take it, open your link: {{6}}\n\n"
                "If it does not suit you, there is nothing to do."
            ),
            variables=(
                *_SESSION,
                Variable("until", 40, "Tue 24 Nov 18:30"),
                _link("o"),
            ),
        ),
        TemplateSpec(
            kind="invoice",
            name="pt_invoice_v1",
            description="The invoice for one session, with the trainer's bank details.",
            body=(
                "Hi {{1}}, here is the invoice for your session with {{2}} on {{3}} at {{4}}.\n\n"
                "Amount due: {{5}}\n"
                "Please pay by bank transfer to {{6}}, with the reference {{7}}.\n\n"
                "Thank you!"
            ),
            variables=(*_SESSION, _AMOUNT, _BANK, _REFERENCE),
        ),
        TemplateSpec(
            kind="confirmation",
            # v2: says the link also adds it to a calendar (its page's "Add to calendar").
            name="pt_confirmation_v2",
            description="A booked session confirmed, with the link to change or cancel it "
            "or add it to a calendar.",
            body=(
                "Hi {{1}}, your session with {{2}} is confirmed: {{3}} at {{4}}.\n\n"
                "Change or cancel it, or add it to your calendar, here: {{5}}\n\n"
                "See you there!"
            ),
            variables=(*_SESSION, _link("s")),
        ),
        TemplateSpec(
            kind="program_confirmation",
            # v2: says the link also adds it to a calendar (its page's "Add to calendar").
            name="pt_program_confirmation_v2",
            description="One session of a program (bundle) confirmed: which one of how many.",
            body=(
                "Hi {{1}}, your session with {{2}} is confirmed: {{3}} at {{4}}.\n"
                "Program {{5}}: session {{6}} of {{7}}.\n\n"
                "Change or cancel it, add it to your calendar, and find its video link and "
                "documents, here: {{8}}\n\n"
                "See you there!"
            ),
            variables=(
                *_SESSION,
                Variable("program", 60, "Spring strength"),
                Variable("number", 4, "3"),
                Variable("total", 4, "12"),
                _link("s"),
            ),
        ),
        TemplateSpec(
            kind="reminder",
            name="pt_reminder_v1",
            description="A reminder sent before a session (24 h or 2 h, the trainer's choice).",
            body=(
                "Hi {{1}}, a reminder of your session with {{2}}: {{3}} at {{4}}.\n\n"
                "If you need to change or cancel it, use your link: {{5}}\n\n"
                "See you soon!"
            ),
            variables=(*_SESSION, _link("s")),
        ),
        TemplateSpec(
            kind="portal_link",
            name="pt_portal_link_v1",
            description="The client's personal portal link, to see, book, change or cancel.",
            body=(
                "Hi {{1}}, this is your personal link for your sessions with {{2}}: {{3}}\n\n"
                "Open it to see your sessions, book, change or cancel them. Keep it to "
                "yourself: anyone with the link can see your sessions."
            ),
            variables=(_FIRST_NAME, _TRAINER, _link("c")),
        ),
        TemplateSpec(
            kind="cancel_notice",
            name="pt_cancel_notice_v1",
            description="The trainer canceled the client's session (with their optional note).",
            body=(
                "Hi {{1}}, {{2}} has had to cancel your session on {{3}} at {{4}}. "
                "Their note: {{5}}\n\n"
                "See your sessions or book another time: {{6}}\n\n"
                "Sorry for the change."
            ),
            variables=(*_SESSION, _NOTE, _link("c")),
        ),
        TemplateSpec(
            kind="canceled",
            name="pt_canceled_v1",
            description="The client canceled their own session on their portal: the receipt.",
            body=(
                "Hi {{1}}, your session with {{2}} on {{3}} at {{4}} is canceled, as you "
                "asked.\n\n"
                "See your sessions or book another time: {{5}}\n\n"
                "Hope to see you soon!"
            ),
            variables=(*_SESSION, _link("c")),
        ),
        TemplateSpec(
            kind="notification",
            name="pt_client_activity_v1",
            description="To the trainer: what a client just did on their portal (booked, "
            "moved, canceled, took an offer). The trainer never writes to the business "
            "number, so this always goes as a template.",
            body=(
                "PT Bookings: {{1}}.\n\nSee the session: {{2}}\n\nNothing to do unless you want to."
            ),
            variables=(
                Variable("what", 200, "Priya Shah booked Wed 25 Nov 09:00–10:00"),
                Variable(
                    "url", MAX_LINK_CHARS, "https://book.example.com/dashboard/sessions/2026-W48.x7"
                ),
            ),
        ),
        TemplateSpec(
            kind="pack_renewal",
            name="pt_pack_renewal_v1",
            description="The trainer's renewal message: the client's pack is nearly used up.",
            body=(
                "Hi {{1}}, you have {{2}} left of your pack “{{3}}” with {{4}}.\n\n"
                "Want to keep going? Reply here to set up your next pack. "
                "Your sessions: {{5}}\n\nSee you soon!"
            ),
            variables=(
                _FIRST_NAME,
                Variable("left", 20, "2 sessions"),
                Variable("program", 80, "12-session coaching"),
                _TRAINER,
                _link("c"),
            ),
        ),
        TemplateSpec(
            kind="move_notice",
            name="pt_move_notice_v1",
            description="The trainer moved the client's session (with their optional note).",
            body=(
                "Hi {{1}}, {{2}} has moved your session from {{3}} to {{4}} at {{5}}. "
                "Their note: {{6}}\n\n"
                "Check it, change or cancel it here: {{7}}\n\n"
                "Sorry for the change."
            ),
            variables=(
                _FIRST_NAME,
                _TRAINER,
                Variable("old_when", 60, "Wed 25 Nov 09:00–10:00 2026"),
                Variable("when", 60, "Thu 26 Nov 18:00–19:00 2026"),
                _PLACE,
                _NOTE,
                _link("s"),
            ),
        ),
    )
}


# A kind's second template, for a message that carries a link its own template has no
# place for. An approved template's variables cannot change, so the card link is not
# added to `pt_invoice_v1`: it is a template of its own, bound under its own key, sent
# only for an invoice that has a pay link. A stage bound to v1 alone sends every invoice
# on v1 as before (bank details only); an invoice without a card link (a trainer without
# card payments) always goes on v1, so both stay bound. Same stored variables, the link
# aside, so an invoice queued before v2 was bound is sent on it too.
WITH_LINK: Final[dict[str, TemplateSpec]] = {
    "invoice": TemplateSpec(
        kind="invoice_card",
        name="pt_invoice_v2",
        description="The invoice for one session, with a link to pay it by card and the "
        "trainer's bank details.",
        body=(
            "Hi {{1}}, here is the invoice for your session with {{2}} on {{3}} at {{4}}.\n\n"
            "Amount due: {{5}}\n"
            "Pay by card: {{6}}\n"
            "Or by bank transfer to {{7}}, with the reference {{8}}.\n\n"
            "Thank you!"
        ),
        variables=(
            *_SESSION,
            _AMOUNT,
            _link("pay", "u7Gx2k.Pq4Rz9a.1.2026-W48~20261125T090000Z~Bk3mW8.hT5yQe2LrN0vXc"),
            _BANK,
            _REFERENCE,
        ),
    ),
}


def spec_for(kind: str) -> TemplateSpec | None:
    """The template bound under `kind` in WHATSAPP_TEMPLATES: a kind's own, or a second
    one of `WITH_LINK`."""
    return SPECS.get(kind) or next((s for s in WITH_LINK.values() if s.kind == kind), None)


# --- Making variables safe ------------------------------------------------------------------

# {{ and }} inside a value could read as a placeholder to a reviewer's eye or a provider.
_BRACES: Final = re.compile(r"\{\{|\}\}")


def clean(value: str, limit: int, fallback: str = "-") -> str:
    """One line of plain text: every control or separator character (newline, tab,
    U+2028…) becomes a space, runs of spaces become one, and it is cut to `limit`."""
    text = "".join(ch if ch.isprintable() else " " for ch in str(value))
    text = " ".join(text.split())
    text = _BRACES.sub(lambda m: m.group(0)[0] + " " + m.group(0)[1], text)
    if len(text) > limit:
        text = text[: max(1, limit - 1)].rstrip() + "…"
    return text or fallback


def bank_line(lines: Iterable[tuple[str, str]]) -> str:
    """Bank details on one line ("Payee: A; Sort code: 04-00-04"): a template variable
    cannot hold the invoice's one-per-line layout."""
    return "; ".join(f"{label}: {value}" for label, value in lines)


def variables_for(kind: str, **values: str) -> dict[str, str]:
    """A template's variables from a message's data, made safe, ready to store on the
    message (`Message.variables`). Exactly the template's variables, the link aside
    (made when sent): a missing or unknown one is a bug, so it raises ValueError."""
    spec = SPECS.get(kind)
    if spec is None:
        raise ValueError(f"No WhatsApp template for {kind!r}")
    wanted = {v.name for v in spec.variables if v.name != LINK}
    missing, unknown = wanted - set(values), set(values) - wanted
    if missing or unknown:
        raise ValueError(
            f"The {kind} template takes {sorted(wanted)}: missing {sorted(missing)}, "
            f"unknown {sorted(unknown)}"
        )
    return {
        v.name: clean(values[v.name], v.limit, v.fallback) for v in spec.variables if v.name != LINK
    }


def parameters(
    spec: TemplateSpec, variables: Mapping[str, str], link: str | None
) -> tuple[str, ...]:
    """{{1}}, {{2}}, … for a send. Stored values are made safe again: the table may hold
    a message queued by older code, or edited by hand."""
    found: list[str] = []
    for variable in spec.variables:
        if variable.name == LINK:
            found.append(_checked_link(spec.kind, link))
        elif variable.name in variables:
            found.append(clean(variables[variable.name], variable.limit, variable.fallback))
        else:
            raise SendError(
                f"This message is missing the {variable.name.replace('_', ' ')} its WhatsApp "
                "template needs: send it again.",
                retryable=False,
            )
    return tuple(found)


_LINK_SHAPE: Final = re.compile(r"^https?://[^\s{}]+$")


def _fits(link: str | None) -> bool:
    """A link a template can carry whole. The card link is an extra: one that does not
    fit leaves the invoice on its template without it, rather than unsent."""
    return bool(link) and len(link or "") <= MAX_LINK_CHARS and bool(_LINK_SHAPE.match(link or ""))


def _checked_link(kind: str, link: str | None) -> str:
    if not link:
        raise SendError(
            f"The {kind.replace('_', ' ')} template needs the client's link, and this "
            "message has none: send it again.",
            retryable=False,
        )
    if len(link) > MAX_LINK_CHARS or not _LINK_SHAPE.match(link):
        raise SendError(
            "The client's link is not one WhatsApp can carry in a template "
            "(check PUBLIC_BASE_URL).",
            retryable=False,
        )
    return link


# --- The stage's templates ------------------------------------------------------------------


class Binding(BaseModel):
    """What one kind's template is called at the provider."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    content_sid: str | None = Field(default=None, pattern=r"^HX[0-9a-fA-F]{32}$")
    name: str | None = Field(default=None, pattern=r"^[a-z0-9_]{1,512}$")
    language: str | None = Field(default=None, pattern=r"^[a-z]{2,3}(_[A-Z]{2})?$")


_FIELD_HELP: Final = {
    "content_sid": "a Twilio Content SID: HX followed by 32 hex digits",
    "name": "a Meta template name: lowercase letters, digits and underscores",
    "language": "a language code such as en or en_GB",
}
_NEEDS: Final = {
    "twilio": ("content_sid", "its Twilio Content SID (HX…)"),
    "meta": ("name", "its approved template name in WhatsApp Manager"),
}


@dataclass(frozen=True)
class TemplateSet:
    """The stage's templates, by kind, for one provider."""

    provider: str
    bindings: Mapping[str, Binding]
    # Where a missing kind is added, for the failure's words: the stage's setting, or a
    # trainer's own Settings for their own Twilio account.
    set_up_in: str = TEMPLATES_ENV

    @classmethod
    def own_twilio(cls, content_sids: Mapping[str, str]) -> TemplateSet:
        """A trainer's own Twilio account's templates (their Settings): maybe none yet,
        which still means "templates outside the window", never free-form there."""
        return cls(
            "twilio",
            {kind: Binding(content_sid=sid) for kind, sid in content_sids.items()},
            set_up_in="Settings, WhatsApp sender, Content SIDs",
        )

    def send(self, kind: str, parameters: tuple[str, ...]) -> TemplateSend:
        binding = self.bindings[kind]
        return TemplateSend(
            kind=kind,
            parameters=parameters,
            content_sid=binding.content_sid,
            name=binding.name,
            language=binding.language or _language(kind),
        )


def _language(kind: str) -> str:
    spec = spec_for(kind)
    return spec.language if spec else "en_GB"


def parse(raw: str, provider: str) -> TemplateSet:
    """WHATSAPP_TEMPLATES' value for `provider`, checked. Raises NotConfigured naming the
    kind and what is wrong with it."""
    try:
        document = json.loads(raw)
    except ValueError as exc:
        raise NotConfigured(f"{TEMPLATES_ENV} is not valid JSON ({exc})") from exc
    if not isinstance(document, dict):
        raise NotConfigured(f"{TEMPLATES_ENV} must be a JSON object of kind -> template")
    bindings: dict[str, Binding] = {}
    for kind, entry in document.items():
        if spec_for(kind) is None:
            expected = [*SPECS, *(spec.kind for spec in WITH_LINK.values())]
            raise NotConfigured(
                f"{TEMPLATES_ENV}: unknown kind {kind!r} (expected one of {', '.join(expected)})"
            )
        try:
            binding = Binding.model_validate(entry)
        except ValidationError as exc:
            raise NotConfigured(f"{TEMPLATES_ENV}: {kind!r} {_first_problem(exc)}") from exc
        needed = _NEEDS.get(provider)
        if needed and not getattr(binding, needed[0]):
            raise NotConfigured(
                f"{TEMPLATES_ENV}: {kind!r} needs {needed[0]} ({needed[1]}) "
                f"for WHATSAPP_PROVIDER={provider}"
            )
        bindings[kind] = binding
    return TemplateSet(provider, bindings)


def _first_problem(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error.get("loc", ()))
    if error.get("type") == "extra_forbidden":
        return f"has {where!r}, which is not a template setting"
    if error.get("type") == "model_type":
        return 'must be an object such as {"content_sid": "HX…"}'
    return f"{where} must be {_FIELD_HELP.get(where, 'valid')}"


def from_env(provider: str) -> TemplateSet | None:
    """The stage's templates, or None when it has none (every message goes free-form,
    as on a sandbox number whose testers keep their window open)."""
    raw = os.environ.get(TEMPLATES_ENV, "").strip()
    if not raw or provider == "log":
        return None
    return parse(raw, provider)


# --- Template or free-form ------------------------------------------------------------------


def choose(
    kind: str,
    variables: Mapping[str, str],
    link: str | None,
    templates: TemplateSet | None,
    *,
    window_open: bool,
) -> TemplateSend | None:
    """The template to send for a message of `kind`, or None for free-form text.

    Free-form inside the client's window, or on a stage without templates; otherwise the
    kind's template (its `WITH_LINK` one when the stage binds it and the message carries
    a link it can hold: an invoice with its card link), or a SendError in words when
    there is none to send."""
    if window_open or templates is None:
        return None
    spec = SPECS.get(kind)
    if spec is None:
        # A free-form kind (a reply) outside the window: WhatsApp would refuse it.
        raise SendError(f"Not sent: {WINDOW_CLOSED}.", retryable=False, code="window")
    second = WITH_LINK.get(kind)
    if second is not None and second.kind in templates.bindings and variables and _fits(link):
        return templates.send(second.kind, parameters(second, variables, link))
    if kind not in templates.bindings:
        raise SendError(
            f"No WhatsApp template is set up for {kind.replace('_', ' ')} messages "
            f"(add {kind!r} in {templates.set_up_in}); send it from your phone.",
            retryable=False,
        )
    if not variables:
        raise SendError(
            "This message was queued before WhatsApp templates were set up, so it can only "
            "go inside the client's 24-hour window: send it again, or from your phone.",
            retryable=False,
        )
    return templates.send(kind, parameters(spec, variables, link))

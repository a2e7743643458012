"""Bank transfer reconciliation (issue 16 item 4): a statement CSV read against the
invoices it names, and the lines the trainer ticks confirmed in one go.

Upload reads nothing but what the statement names: one BatchGetItem of the references
(with the fingerprints of lines confirmed before), one of their sessions (and one more
per hop for a session moved since its invoice). The review travels to the confirm as a
signed payload in the page (HMAC of the stage secret, with the trainer and the instant it
was made), so nothing is stored between the two and a payload altered, from another
account or over a day old is refused. Each confirmed line marks its session paid by bank
transfer through `repo.change_session`, at the version the review read, with the line's
fingerprint item created in the same transaction: an upload repeated, a confirm sent
twice or two confirms at once mark each session once.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any, ClassVar, Final

from pydantic import Field

from chalicelib.domain.bank_statements import (
    MAX_REFERENCE_TEXT,
    PRESET_CHOICES,
    ColumnMapping,
    LineProblem,
    Matches,
    SetApart,
    StatementLine,
    match,
    parse_statement,
)
from chalicelib.domain.commands import Command
from chalicelib.domain.errors import InvalidInput, VersionConflict
from chalicelib.domain.models import Trainer
from chalicelib.domain.money import format_money
from chalicelib.domain.schedule import Session, SessionRef, parse_session_ref, payment_change
from chalicelib.domain.timeutil import parse_utc_iso, utc_iso
from chalicelib.domain.tokens import derive_token
from chalicelib.repo.dynamo import TransactionFailed
from chalicelib.repo.parts import SESSION_AT_VERSION
from chalicelib.repo.reconciliation import STATEMENT_LINE, ReconciliationStore, confirmed_line
from chalicelib.repo.repository import Repository
from chalicelib.services.deps import Deps
from chalicelib.services.links import Links

REVIEW_LIFETIME: Final = timedelta(days=1)
MAX_MOVE_HOPS: Final = 3  # a session moved, then moved again: followed this far
MAX_UNMATCHED_SHOWN: Final = 200
BANK_TRANSFER: Final = "bank_transfer"
_PURPOSE: Final = "bank-review"

STALE_REVIEW: Final = (
    "This review could not be read: it was changed, belongs to another account or is "
    "more than a day old. Upload the statement again; nothing was marked."
)


@dataclass(frozen=True)
class Upload:
    filename: str
    content: bytes


@dataclass(frozen=True)
class UploadPage:
    presets: tuple[tuple[str, str], ...]
    currency: str


def upload_page(trainer: Trainer) -> UploadPage:
    """The upload form: nothing to read (the trainer came with the request)."""
    return UploadPage(PRESET_CHOICES, trainer.settings.currency)


@dataclass(frozen=True)
class LineView:
    """One statement line as a review shows it."""

    position: int
    day: str
    amount: str
    text: str
    why: str = ""
    reference: str = ""
    client_name: str = ""
    session_label: str = ""
    session_ref: str = ""


@dataclass(frozen=True)
class Review:
    filename: str
    proposed: tuple[LineView, ...]
    apart: tuple[LineView, ...]
    unmatched: tuple[LineView, ...]  # the first MAX_UNMATCHED_SHOWN
    unmatched_count: int
    problems: tuple[LineProblem, ...]
    money_out: int
    payload: str  # the signed proposals the confirm form carries


@dataclass(frozen=True)
class _Claim:
    """A proposed line as the payload carries it to the confirm."""

    position: int
    day: str  # ISO date
    amount_minor: int
    text: str
    reference: str
    session_ref: str
    version: int
    fingerprint: str
    client_name: str
    session_label: str

    def packed(self) -> list[Any]:
        return [
            self.position,
            self.day,
            self.amount_minor,
            self.text,
            self.reference,
            self.session_ref,
            self.version,
            self.fingerprint,
            self.client_name,
            self.session_label,
        ]


def _day_label(day: date) -> str:
    return f"{day.day} {day:%b %Y}"


def _view(
    trainer: Trainer, line: StatementLine, why: str = "", session: Session | None = None
) -> LineView:
    money = format_money(line.amount_minor, trainer.settings.currency, trainer.settings.locale)
    return LineView(
        position=line.position,
        day=_day_label(line.day),
        amount=money,
        text=line.text[:MAX_REFERENCE_TEXT],
        why=why,
        client_name=session.client_name if session else "",
        session_label=f"{session.label} {session.day.year}" if session else "",
        session_ref=session.ref if session else "",
    )


def review_statement(
    deps: Deps, trainer: Trainer, mapping: ColumnMapping, upload: Upload
) -> Review:
    """The statement's payments in, matched to the invoices their references name.
    InvalidInput (by form field) for a file or a mapping that cannot be read; nothing is
    written."""
    columns = mapping.columns()
    if not upload.filename and not upload.content:
        raise InvalidInput({"statement": "Choose the statement file (CSV) to upload."})
    settings = trainer.settings
    statement = parse_statement(upload.content, columns, settings.currency, settings.locale)
    named = [line for line in statement.lines if line.references]
    store = ReconciliationStore(deps.repo.db)
    lookup = store.lookup(
        trainer.id,
        (r for line in named for r in line.references),
        (line.fingerprint for line in named),
    )
    invoices = _invoices(store, trainer.id, lookup.sessions)
    found = match(statement.lines, invoices, lookup.confirmed, settings.currency, settings.locale)
    return Review(
        filename=upload.filename,
        proposed=tuple(
            replace(_view(trainer, p.line, session=p.session), reference=p.reference)
            for p in found.proposed
        ),
        apart=tuple(_apart_view(trainer, a) for a in found.apart),
        unmatched=tuple(_apart_view(trainer, u) for u in found.unmatched[:MAX_UNMATCHED_SHOWN]),
        unmatched_count=len(found.unmatched),
        problems=statement.problems,
        money_out=statement.money_out,
        payload=_sign(deps.links, trainer.id, _claims(found), deps.now),
    )


def _apart_view(trainer: Trainer, item: SetApart) -> LineView:
    return _view(trainer, item.line, item.why, item.session)


def _invoices(
    store: ReconciliationStore, trainer_id: str, by_reference: dict[str, SessionRef]
) -> dict[str, Session]:
    """Session by reference, a moved session followed to the one that replaced it (its
    payment and invoice moved with it)."""
    sessions = store.sessions(trainer_id, by_reference.values())
    current = {ref: sessions[s.id] for ref, s in by_reference.items() if s.id in sessions}
    for _ in range(MAX_MOVE_HOPS):
        moved = {
            ref: target
            for ref, session in current.items()
            if session.status == "moved"
            and session.moved_to
            and (target := parse_session_ref(session.moved_to)) is not None
        }
        if not moved:
            break
        landed = store.sessions(trainer_id, moved.values())
        for ref, target in moved.items():
            if target.id in landed:
                current[ref] = landed[target.id]
    return current


def _claims(found: Matches) -> list[_Claim]:
    return [
        _Claim(
            position=p.line.position,
            day=p.line.day.isoformat(),
            amount_minor=p.line.amount_minor,
            text=p.line.text[:MAX_REFERENCE_TEXT],
            reference=p.reference,
            session_ref=p.session.ref,
            version=p.session.version,
            fingerprint=p.line.fingerprint,
            client_name=p.session.client_name,
            session_label=f"{p.session.label} {p.session.day.year}",
        )
        for p in found.proposed
    ]


# The signed payload ----------------------------------------------------------------------
def _sign(links: Links, trainer_id: str, claims: Sequence[_Claim], now: datetime) -> str:
    document = {"at": utc_iso(now), "c": [c.packed() for c in claims]}
    raw = zlib.compress(json.dumps(document, separators=(",", ":")).encode(), 9)
    body = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return f"{body}.{derive_token(links.secret, _PURPOSE, trainer_id, body)}"


def _read(links: Links, trainer_id: str, payload: str, now: datetime) -> list[_Claim]:
    body, _, mac = (payload or "").strip().partition(".")
    expected = derive_token(links.secret, _PURPOSE, trainer_id, body)
    if not body or not hmac.compare_digest(expected, mac):
        raise InvalidInput({"_form": STALE_REVIEW})
    try:
        raw = zlib.decompress(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        document = json.loads(raw)
        made = parse_utc_iso(document["at"])
        claims = [_Claim(*packed) for packed in document["c"]]
    except (binascii.Error, zlib.error, ValueError, KeyError, TypeError):
        raise InvalidInput({"_form": STALE_REVIEW}) from None
    if not (now - REVIEW_LIFETIME <= made <= now + timedelta(minutes=5)):
        raise InvalidInput({"_form": STALE_REVIEW})
    return claims


def _claim_view(claim: _Claim, why: str = "") -> LineView:
    return LineView(
        position=claim.position,
        day=_day_label(date.fromisoformat(claim.day)),
        amount="",
        text=claim.text,
        why=why,
        reference=claim.reference,
        client_name=claim.client_name,
        session_label=claim.session_label,
        session_ref=claim.session_ref,
    )


def review_again(deps: Deps, trainer: Trainer, payload: str) -> Review:
    """The proposals of a review as its payload carries them (a confirm refused for its
    ticks draws them again without the file): no read."""
    claims = _read(deps.links, trainer.id, payload, deps.now)
    settings = trainer.settings
    views = tuple(
        replace(
            _claim_view(c),
            amount=format_money(c.amount_minor, settings.currency, settings.locale),
        )
        for c in claims
    )
    return Review("", views, (), (), 0, (), 0, payload)


# Confirming ------------------------------------------------------------------------------
class ConfirmLines(Command):
    """The review's confirm form: its signed payload and the lines ticked (by position)."""

    review: str = ""
    lines: list[int] = Field(default_factory=list, alias="line")

    messages: ClassVar[dict[str, str]] = {
        "lines": "Tick the lines to confirm from the list.",
    }


@dataclass(frozen=True)
class Outcome:
    line: LineView
    marked: bool
    why: str = ""


@dataclass(frozen=True)
class Confirmed:
    outcomes: tuple[Outcome, ...]

    @property
    def marked(self) -> int:
        return sum(1 for o in self.outcomes if o.marked)


CHANGED_SINCE: Final = (
    "The session changed since the upload (marked by hand, canceled, moved or invoiced "
    "again): nothing was written for it."
)
CHANGED_MEANWHILE: Final = (
    "The session changed while this was confirmed (another tab or a second press): "
    "nothing more was written for it."
)
USED_BEFORE: Final = "This statement line was already confirmed: nothing was written for it."


def confirm(deps: Deps, trainer: Trainer, command: ConfirmLines) -> Confirmed:
    """Mark the ticked lines' sessions paid by bank transfer: one read of the sessions,
    then one transaction per line (the session at the version the review read, its log
    line, the line's fingerprint item; the balance and the report counters follow
    inside `change_session`). A line that cannot be marked says why; the others are."""
    claims = _read(deps.links, trainer.id, command.review, deps.now)
    by_position = {c.position: c for c in claims}
    ticked = list(dict.fromkeys(command.lines))
    if any(p not in by_position for p in ticked):
        raise InvalidInput({"_form": STALE_REVIEW})
    if not ticked:
        raise InvalidInput({"lines": "Tick at least one line to confirm."})
    chosen = [by_position[p] for p in ticked]
    refs = [r for c in chosen if (r := parse_session_ref(c.session_ref)) is not None]
    store = ReconciliationStore(deps.repo.db)
    sessions = store.sessions(trainer.id, refs)
    return Confirmed(tuple(_mark(deps.repo, trainer, c, sessions, deps.now) for c in chosen))


def _mark(
    repo: Repository,
    trainer: Trainer,
    claim: _Claim,
    sessions: dict[str, Session],
    now: datetime,
) -> Outcome:
    settings = trainer.settings
    view = replace(
        _claim_view(claim),
        amount=format_money(claim.amount_minor, settings.currency, settings.locale),
    )
    ref = parse_session_ref(claim.session_ref)
    session = sessions.get(ref.id) if ref is not None else None
    if session is None:
        return Outcome(view, False, "That session is not there any more.")
    if session.version != claim.version:
        return Outcome(view, False, CHANGED_SINCE)
    try:
        updated, text = payment_change(session, True, BANK_TRANSFER, now)
    except InvalidInput as exc:
        return Outcome(view, False, "; ".join(exc.errors.values()))
    text += f": statement line {claim.position} of {view.day}, {claim.reference}"
    try:
        repo.change_session(
            trainer.id,
            session,
            updated,
            "trainer",
            text,
            now,
            also=[confirmed_line(trainer.id, claim.fingerprint, session, claim.reference, now)],
        )
    except VersionConflict as exc:
        cause = exc.__cause__
        if (
            isinstance(cause, TransactionFailed)
            and cause.refused(STATEMENT_LINE)
            and not cause.refused(SESSION_AT_VERSION)
        ):
            return Outcome(view, False, USED_BEFORE)
        return Outcome(view, False, CHANGED_MEANWHILE)
    return Outcome(view, True)

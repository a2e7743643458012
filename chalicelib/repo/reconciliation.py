"""Bank reconciliation's items: the payment reference of each invoice and the statement
lines already confirmed (docs/bank-reconciliation.md, access patterns 118–121).

The reference item is written by the invoice's own transaction
(`ScheduleStore.queue_session_message`); the line item by the transaction that marks its
session paid (`ScheduleStore.change_session(..., also=[confirmed_line(...)])`), so the
session write and the line's single use stand or fall together.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from chalicelib.domain.errors import Conflict
from chalicelib.domain.schedule import Session, SessionRef, parse_session_ref
from chalicelib.domain.timeutil import utc_iso
from chalicelib.repo import keys
from chalicelib.repo.dynamo import Condition, Db, Item, new_item, tx_put
from chalicelib.repo.mapping import session_from_item

PAYMENT_REFERENCE: Final = "payment reference"
STATEMENT_LINE: Final = "statement line"
BATCH: Final = 100  # BatchGetItem's most keys per call


class ReferenceTaken(Conflict):
    """The reference derived for an invoice belongs to another session: the caller tries
    the next candidate."""

    def __init__(self) -> None:
        super().__init__("That payment reference is taken. Try again.")


def reference_claim(trainer_id: str, reference: str, session: Session) -> dict[str, Any]:
    """The lookup item reference -> session, created by the first invoice of the session;
    a resend finds it already the session's and writes it again unchanged in meaning."""
    return tx_put(
        {
            **keys.payment_reference(trainer_id, reference),
            "type": "payment-reference",
            "reference": reference,
            "session_ref": session.ref,
            "session_id": session.id,
            "client_id": session.client_id,
        },
        Condition(
            "attribute_not_exists(#pk) OR #sid = :sid",
            {"#pk": keys.PK, "#sid": "session_id"},
            {":sid": session.id},
        ),
        part=PAYMENT_REFERENCE,
    )


def confirmed_line(
    trainer_id: str, fingerprint: str, session: Session, reference: str, now: datetime
) -> dict[str, Any]:
    """A statement line used once: refused when any confirm already used it."""
    return tx_put(
        {
            **keys.statement_line(trainer_id, fingerprint),
            "type": "statement-line",
            "fingerprint": fingerprint,
            "session_ref": session.ref,
            "reference": reference,
            "confirmed_at": utc_iso(now),
        },
        new_item(),
        part=STATEMENT_LINE,
    )


@dataclass(frozen=True)
class Lookup:
    sessions: dict[str, SessionRef]  # reference -> the session it was issued for
    confirmed: dict[str, str]  # fingerprint -> when that line was confirmed (UTC ISO)


def _chunks(key_list: Sequence[dict[str, str]]) -> Iterable[Sequence[dict[str, str]]]:
    for start in range(0, len(key_list), BATCH):
        yield key_list[start : start + BATCH]


class ReconciliationStore:
    def __init__(self, db: Db) -> None:
        self.db = db

    def _batch(self, key_list: Sequence[dict[str, str]]) -> list[Item]:
        items: list[Item] = []
        for chunk in _chunks(key_list):
            items += self.db.batch_get(chunk)
        return items

    def lookup(
        self, trainer_id: str, references: Iterable[str], fingerprints: Iterable[str]
    ) -> Lookup:
        """The references' sessions and the lines confirmed before, together: one
        BatchGetItem per 100 keys (a statement's lines that name a reference only)."""
        wanted = [keys.payment_reference(trainer_id, r) for r in dict.fromkeys(references)]
        wanted += [keys.statement_line(trainer_id, f) for f in dict.fromkeys(fingerprints)]
        sessions: dict[str, SessionRef] = {}
        confirmed: dict[str, str] = {}
        for item in self._batch(wanted):
            if item.get("type") == "payment-reference":
                ref = parse_session_ref(str(item.get("session_ref", "")))
                if ref is not None:
                    sessions[str(item["reference"])] = ref
            elif item.get("type") == "statement-line":
                confirmed[str(item["fingerprint"])] = str(item.get("confirmed_at", ""))
        return Lookup(sessions, confirmed)

    def sessions(self, trainer_id: str, refs: Iterable[SessionRef]) -> dict[str, Session]:
        """Sessions by id, one BatchGetItem per 100 (a session gone is simply absent)."""
        wanted = [
            keys.session(trainer_id, r.week, utc_iso(r.start_utc), r.id)
            for r in {r.id: r for r in refs}.values()
        ]
        found = (session_from_item(i) for i in self._batch(wanted))
        return {s.id: s for s in found}

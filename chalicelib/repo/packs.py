"""Writing a pack's payment, its "2 left" notice, its renewal message and its tie to a
recurring slot (domain/packs.py; docs/packs.md).

A pack payment marks up to 100 sessions, each with its week's and month's figures: more
than one transaction holds. The first carries the bundle's claim (its version as read,
so a second "Mark paid" of the same page, or two at once, finds it moved and marks
nothing); the sessions go in as many as needed, each at its version as read. A session
changed between the read and its chunk's write (paid by hand, canceled) is read again
and marked as it now is: the claim stands, and once it is written every session the
pack gains is born paid.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Final

from chalicelib.domain import figures
from chalicelib.domain.clients import Client
from chalicelib.domain.errors import Conflict, VersionConflict
from chalicelib.domain.messages import Message
from chalicelib.domain.programs import Bundle
from chalicelib.domain.schedule import Document, Session
from chalicelib.domain.timeutil import utc_iso
from chalicelib.repo import keys
from chalicelib.repo.activity import ActivityEntry
from chalicelib.repo.clients import client_at_version
from chalicelib.repo.dynamo import (
    Condition,
    ConditionFailed,
    Db,
    TransactionFailed,
    at_version,
    tagged,
    tx_update,
)
from chalicelib.repo.mapping import session_from_item
from chalicelib.repo.outbox import due_items
from chalicelib.repo.parts import (
    SESSION_AT_VERSION,
    due_next,
    log_line,
    message_parts,
    new_activity,
    pack_totals_change,
    session_at_version,
    session_change_parts,
)
from chalicelib.repo.program_items import MAX_TRANSACTION, PACK_DUE_KIND, bundle_from_item

PACK_AS_READ: Final = "pack as read"
CHECK_AS_READ: Final = "pack check as read"
RENEWAL_ONCE: Final = "pack renewal once"
TIE_AS_READ: Final = "pack tie as read"
RETRIES: Final = 3


def _session_key(trainer_id: str, session: Session) -> dict[str, str]:
    return keys.session(trainer_id, session.week, utc_iso(session.start_utc), session.id)


def _pack_claim(trainer_id: str, before: Bundle, after: Bundle) -> dict[str, Any]:
    """The bundle's payment as `after` says, only at the version read."""
    names = {"#paid_at": "pack_paid_at", "#paid_type": "pack_payment_type", "#version": "version"}
    if after.pack_paid_at is None:
        action = Condition(
            "REMOVE #paid_at, #paid_type SET #version = :next", names, {":next": before.version + 1}
        )
    else:
        action = Condition(
            "SET #paid_at = :paid_at, #paid_type = :paid_type, #version = :next",
            names,
            {
                ":paid_at": utc_iso(after.pack_paid_at),
                ":paid_type": after.pack_payment_type,
                ":next": before.version + 1,
            },
        )
    return tx_update(
        keys.bundle(trainer_id, before.id), action, at_version(before.version), part=PACK_AS_READ
    )


def _chunks(sessions: Sequence[Session], head: int) -> list[list[int]]:
    """Indexes of the sessions per transaction: each takes its save and log line, plus
    the figure items (a week's, a month's) no earlier session of its chunk took."""
    room = MAX_TRANSACTION - head - 1  # 1: the client's balance
    chunks: list[list[int]] = [[]]
    used = 0
    periods: set[str] = set()
    for index, session in enumerate(sessions):
        fresh = set(figures.periods_of(session.day)) - periods
        if used + 2 + len(fresh) > room and chunks[-1]:
            chunks.append([])
            used, periods = 0, set()
            fresh = set(figures.periods_of(session.day))
            room = MAX_TRANSACTION - 1
        chunks[-1].append(index)
        used += 2 + len(fresh)
        periods |= fresh
    return chunks


Remake = Callable[[list[Session]], list[tuple[Session, Session]]]


class PackWrites:
    def __init__(self, db: Db) -> None:
        self.db = db

    # The payment ---------------------------------------------------------------------------
    def write_payment(
        self,
        trainer_id: str,
        before: Bundle,
        after: Bundle,
        pairs: Sequence[tuple[Session, Session]],
        remake: Remake,
        log_text: str,
        now: datetime,
        also: Sequence[dict[str, Any]] = (),
    ) -> Bundle:
        """The pack's payment (or its undoing) and each session it changes (see the module
        docstring); `remake` turns sessions read again into their (before, after);
        `also`: parts another aggregate adds to the claim's transaction (a card payment's
        event, once). VersionConflict when the bundle changed since read: nothing written."""
        saved = after.model_copy(update={"version": before.version + 1})
        return self._with_sessions(
            trainer_id,
            saved,
            [_pack_claim(trainer_id, before, saved), *also],
            pairs,
            remake,
            log_text,
            now,
            "The pack is marked, but some of its sessions kept changing meanwhile: reload "
            "the bundle and mark what is left by hand.",
        )

    def write_documents(
        self,
        trainer_id: str,
        before: Bundle,
        documents: Sequence[Document],
        pairs: Sequence[tuple[Session, Session]],
        remake: Remake,
        log_text: str,
        now: datetime,
    ) -> Bundle:
        """The bundle's documents, and its upcoming sessions' with them (a document added
        to a bundle reaches them), written as a pack payment is: the bundle claimed at
        its version with the first chunk, each session at its own."""
        saved = before.model_copy(
            update={"documents": tuple(documents), "version": before.version + 1}
        )
        claim = tx_update(
            keys.bundle(trainer_id, before.id),
            Condition(
                "SET #documents = :documents, #version = :next",
                {"#documents": "documents", "#version": "version"},
                {
                    ":documents": [d.model_dump(exclude_defaults=True) for d in documents],
                    ":next": before.version + 1,
                },
            ),
            at_version(before.version),
            part=PACK_AS_READ,
        )
        return self._with_sessions(
            trainer_id,
            saved,
            [claim],
            pairs,
            remake,
            log_text,
            now,
            "The bundle's documents are saved, but some of its sessions kept changing "
            "meanwhile: reload the bundle and check them.",
        )

    def _with_sessions(
        self,
        trainer_id: str,
        saved: Bundle,
        claim: list[dict[str, Any]],
        pairs: Sequence[tuple[Session, Session]],
        remake: Remake,
        log_text: str,
        now: datetime,
        stuck: str,
    ) -> Bundle:
        """The bundle's claim and its sessions' changes, in chunks (module docstring)."""
        pending = list(pairs)
        for _attempt in range(RETRIES + 1):
            left = self._write_chunks(trainer_id, saved.client_id, pending, claim, log_text, now)
            if left is None:
                return saved
            if left == "claim":
                raise VersionConflict()
            fresh = self.db.batch_get([_session_key(trainer_id, old) for old, _ in left])
            pending = remake([session_from_item(i) for i in fresh])
        if claim:
            raise VersionConflict()
        raise Conflict(stuck)

    def _write_chunks(
        self,
        trainer_id: str,
        client_id: str,
        pairs: list[tuple[Session, Session]],
        claim: list[dict[str, Any]],
        log_text: str,
        now: datetime,
    ) -> list[tuple[Session, Session]] | str | None:
        """Writes the chunks in order, the claim (while not yet written) with the first,
        and clears `claim` once it is. None when all went in; "claim" when the claim
        refused; else the pairs not written (the refusing chunk and those after it)."""
        chunks = _chunks([new for _, new in pairs], len(claim))
        for number, chunk in enumerate(chunks):
            chosen = [pairs[i] for i in chunk]
            operations = [
                *(claim if number == 0 else []),
                *(
                    op
                    for n, (old, new) in enumerate(chosen)
                    for op in tagged(
                        [
                            session_at_version(
                                trainer_id,
                                old,
                                new.model_copy(update={"version": old.version + 1}),
                            ),
                            log_line(trainer_id, old, "trainer", log_text, now),
                        ],
                        n,
                    )
                ),
                *session_change_parts(
                    trainer_id, client_id, [old for old, _ in chosen], [new for _, new in chosen]
                ),
            ]
            try:
                self.db.transact(operations)
            except TransactionFailed as exc:
                if number == 0 and claim and exc.refused(PACK_AS_READ):
                    return "claim"
                if not exc.refused(SESSION_AT_VERSION):
                    raise
                return [pairs[i] for rest in chunks[number:] for i in rest]
            claim.clear()
        return None

    # The "2 left" notice -------------------------------------------------------------------
    def due(self, now: datetime, limit: int = 100) -> list[tuple[str, Bundle, str]]:
        """(trainer id, bundle, DueSK as read) of the bundles the notice job should look
        at by `now`, oldest first: one Query of the sparse DueWork index."""
        found = []
        for item in due_items(self.db, PACK_DUE_KIND, now, limit):
            trainer_id = keys.trainer_of_programs_pk(item[keys.PK])
            if trainer_id is not None:
                found.append((trainer_id, bundle_from_item(item), item[keys.DUE_SK]))
        return found

    def file_notice_check(
        self, trainer_id: str, bundle: Bundle, due_sk: str, at: datetime | None
    ) -> bool:
        """The bundle filed under its next check (`at`), or out of the job's index (None),
        if nothing moved it since the job read it. False when something did."""
        action = due_next(bundle.id, at)
        try:
            self.db.update(
                keys.bundle(trainer_id, bundle.id),
                action,
                Condition("#due_sk = :seen", {"#due_sk": keys.DUE_SK}, {":seen": due_sk}),
            )
        except ConditionFailed:
            return False
        return True

    def write_check(
        self,
        trainer_id: str,
        bundle: Bundle,
        due_sk: str,
        used: int,
        next_at: datetime | None,
        notice: ActivityEntry | None,
        now: datetime,
    ) -> bool:
        """What the pack job found, once: the places the pack has used (the running totals
        moved by the difference), the "2 left" Activity line if `notice`, and the next
        look (`next_at`, or none). Only if the bundle is as the job read it (its due key
        and its counted places; not yet noticed when noticing): False otherwise, and the
        next run looks again."""
        names: dict[str, str] = {"#used": "used_counted", "#due_sk": keys.DUE_SK}
        values: dict[str, Any] = {":used": used, ":seen": due_sk, ":was": bundle.used_counted}
        sets = ["#used = :used"]
        removes = []
        if next_at is None:
            names["#due_pk"] = keys.DUE_PK
            removes = ["#due_pk", "#due_sk"]
        else:
            sets.append("#due_sk = :next")
            values[":next"] = keys.due_sk(utc_iso(next_at), bundle.id)
        if notice is not None:
            names["#noticed"] = "low_noticed_at"
            sets.append("#noticed = :now")
            values[":now"] = utc_iso(now)
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        # Items from before the count was kept have none: that is 0 counted.
        was = "#used = :was" + (
            " OR attribute_not_exists(#used)" if bundle.used_counted == 0 else ""
        )
        condition = f"#due_sk = :seen AND ({was})"
        if notice is not None:
            condition += " AND attribute_not_exists(#noticed)"
        try:
            self.db.transact(
                [
                    tx_update(
                        keys.bundle(trainer_id, bundle.id),
                        Condition(expression, names, values),
                        Condition(condition, {}, {}),
                        part=CHECK_AS_READ,
                    ),
                    *pack_totals_change(trainer_id, used=used - bundle.used_counted),
                    *([new_activity(trainer_id, notice)] if notice is not None else []),
                ]
            )
        except TransactionFailed:
            return False
        return True

    # The renewal message -------------------------------------------------------------------
    def queue_renewal(
        self, trainer_id: str, bundle: Bundle, message: Message, now: datetime
    ) -> None:
        """The renewal message queued and the bundle marked renewed, once: Conflict when it
        was already sent (another tab, a double click)."""
        try:
            self.db.transact(
                [
                    tx_update(
                        keys.bundle(trainer_id, bundle.id),
                        Condition(
                            "SET #renewed = :now",
                            {"#renewed": "renewal_sent_at"},
                            {":now": utc_iso(now)},
                        ),
                        Condition(
                            "attribute_not_exists(#renewed)", {"#renewed": "renewal_sent_at"}
                        ),
                        part=RENEWAL_ONCE,
                    ),
                    *message_parts(trainer_id, [message]),
                ]
            )
        except TransactionFailed as exc:
            raise Conflict("The renewal message was already sent: nothing was sent twice.") from exc

    # The tie to a recurring slot -----------------------------------------------------------
    def write_tie(
        self, trainer_id: str, bundle: Bundle, client: Client, template_slot_id: str | None
    ) -> Bundle:
        """Tie the pack to the client's recurring slot (None: untie), on the bundle and the
        client together, both as read."""
        updated, client_ops = client_at_version(
            trainer_id, client, pack_ties=client.ties_with(bundle.id, template_slot_id)
        )
        names = {"#tied": "tied_slot_id", "#version": "version"}
        if template_slot_id is None:
            action = Condition(
                "REMOVE #tied SET #version = :next", names, {":next": bundle.version + 1}
            )
        else:
            action = Condition(
                "SET #tied = :slot, #version = :next",
                names,
                {":slot": template_slot_id, ":next": bundle.version + 1},
            )
        try:
            self.db.transact(
                [
                    tx_update(
                        keys.bundle(trainer_id, bundle.id),
                        action,
                        at_version(bundle.version),
                        part=TIE_AS_READ,
                    ),
                    *client_ops,
                ]
            )
        except TransactionFailed as exc:
            raise VersionConflict() from exc
        del updated
        return bundle.model_copy(
            update={"tied_slot_id": template_slot_id, "version": bundle.version + 1}
        )

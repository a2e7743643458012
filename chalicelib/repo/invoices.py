"""Numbered invoices and credit notes (docs/invoices.md, access patterns in
docs/access-patterns.md "Invoices").

A number is claimed by a conditional update of the trainer's counter in the same
transaction that puts the document under that number (`attribute_not_exists`): of two
invoices issued at once one commits, the other finds the counter moved, reads it again and
takes the next number. A refused transaction writes nothing, so the sequence has no gap;
the document's own condition means it has no duplicate even if the counter were edited by
hand. Documents are never updated or deleted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from chalicelib.domain.clients import Client
from chalicelib.domain.errors import Conflict
from chalicelib.domain.invoices import MAX_NUMBER, Invoice
from chalicelib.domain.programs import Bundle
from chalicelib.domain.schedule import Session
from chalicelib.domain.timeutil import utc_iso
from chalicelib.repo import keys
from chalicelib.repo.dynamo import (
    Condition,
    Db,
    Item,
    TransactionFailed,
    new_item,
    tx_check,
    tx_delete,
    tx_put,
    tx_update,
)
from chalicelib.repo.mapping import client_from_item
from chalicelib.repo.outbox import SESSION_STILL_BOOKED
from chalicelib.repo.parts import CLIENT_ACTIVE, client_is_active
from chalicelib.repo.program_items import bundle_from_item
from chalicelib.repo.reconciliation import PAYMENT_REFERENCE, ReferenceTaken

# The parts of an issue, as a refusal names them.
NUMBER_CLAIM: Final = "invoice number claim"
NEW_INVOICE: Final = "new invoice"
SESSION_INVOICE: Final = "one invoice per session"
SESSION_AS_READ: Final = "session as read"
ONE_CREDIT_NOTE: Final = "one credit note per invoice"
BUNDLE_INVOICE: Final = "one invoice per pack"
PACK_AS_READ: Final = "pack as read for its invoice"
PACK_NUMBER_GOES: Final = "pack's invoice number removed"
PACK_NOT_INVOICED: Final = "the session's pack has no invoice of its own"
PACK_SESSION_CREDITED: Final = "the session's pack counts one invoiced session less"
# The bundle item's copy of its current invoice number, so the client's portal (which
# reads the bundles anyway) links the PDF with no read of its own.
BUNDLE_NUMBER: Final = "invoice_number"
# The bundle item's count of its sessions invoiced one by one (Bundle.sessions_invoiced).
SESSIONS_INVOICED: Final = "sessions_invoiced"
# Two trainers' clicks rarely race more than a few deep; past this the page asks again.
ISSUE_ATTEMPTS: Final = 25


class SessionChanged(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "This session was changed meanwhile (canceled, moved or edited). Reload the page "
            "to see it: no invoice was issued."
        )


class PackChanged(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "This pack was changed meanwhile (paid, a session added, paused or completed). "
            "Reload the page to see it: no invoice was issued."
        )


class PackInvoiced(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "This session is part of a pack that has its own invoice, so it is billed "
            "already. To invoice its sessions one by one, issue the pack's credit note first. "
            "No invoice was issued."
        )


def sessions_invoiced_problem(count: int) -> str:
    """Why a pack with `count` sessions invoiced on their own gets no invoice of its own."""
    sessions = "1 of its sessions has" if count == 1 else f"{count} of its sessions have"
    return (
        f"{sessions} an invoice of its own, so invoicing the pack as a whole would bill "
        "them twice. Issue those credit notes first (on each session's page). "
        "No invoice was issued."
    )


class SessionsInvoiced(Conflict):
    def __init__(self, count: int) -> None:
        super().__init__(sessions_invoiced_problem(count))
        self.count = count


class ClientArchived(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "This client is archived: restore them on their profile to invoice the pack. "
            "No invoice was issued."
        )


class AlreadyCredited(Conflict):
    def __init__(self) -> None:
        super().__init__("This invoice already has its credit note.")


def _document_item(trainer_id: str, invoice: Invoice) -> dict[str, Any]:
    return {
        **keys.invoice(trainer_id, invoice.number),
        "type": "invoice",
        "number": invoice.number,
        "document": invoice.model_dump(mode="json"),
    }


def _number_claim(trainer_id: str, number: int) -> dict[str, Any]:
    """The counter moved from `number` to the next: refused if another issue took it."""
    condition = (
        Condition("attribute_not_exists(#pk)", {"#pk": keys.PK})
        if number == 1
        else Condition("#next = :seen", {"#next": "next"}, {":seen": number})
    )
    return tx_update(
        keys.invoice_counter(trainer_id),
        Condition(
            "SET #next = :following, #type = :type",
            {"#next": "next", "#type": "type"},
            {":following": number + 1, ":type": "invoice-counter"},
        ),
        condition,
        part=NUMBER_CLAIM,
    )


class InvoiceStore:
    def __init__(self, db: Db) -> None:
        self.db = db

    # Reads ---------------------------------------------------------------------------------
    def next_number(self, trainer_id: str) -> int:
        item = self.db.get(keys.invoice_counter(trainer_id))
        return int(item["next"]) if item else 1

    def get(self, trainer_id: str, number: int) -> Invoice | None:
        item = self.db.get(keys.invoice(trainer_id, number))
        return _document(item)

    def for_session(self, trainer_id: str, session_id: str) -> Invoice | None:
        """The session's invoice (its pointer holds a copy of the document: one GetItem)."""
        return _document(self.db.get(keys.session_invoice(trainer_id, session_id)))

    def for_bundle(self, trainer_id: str, bundle_id: str) -> Invoice | None:
        """The pack's current invoice (its pointer holds a copy: one GetItem)."""
        return _document(self.db.get(keys.bundle_invoice(trainer_id, bundle_id)))

    def bundle_with_invoice(
        self, trainer_id: str, bundle_id: str
    ) -> tuple[Bundle | None, Invoice | None]:
        """The bundle and its current invoice, in one BatchGetItem (None: no such bundle
        of this trainer's; no invoice issued, or credited since)."""
        found = self.db.batch_get(
            [keys.bundle(trainer_id, bundle_id), keys.bundle_invoice(trainer_id, bundle_id)]
        )
        bundle = next((bundle_from_item(i) for i in found if i.get("type") == "bundle"), None)
        invoice = next((_document(i) for i in found if i.get("type") == "invoice"), None)
        return bundle, invoice

    def reference_free(self, trainer_id: str, reference: str, session_id: str) -> bool:
        """No other session's invoice holds this payment reference (repo/reconciliation)."""
        item = self.db.get(keys.payment_reference(trainer_id, reference))
        return item is None or item.get("session_id") == session_id

    def with_client(
        self, trainer_id: str, number: int, client_id: str
    ) -> tuple[Invoice | None, Client | None]:
        """A client link's one read: the document and its client, in one BatchGetItem."""
        found = self.db.batch_get(
            [keys.invoice(trainer_id, number), keys.client(trainer_id, client_id)]
        )
        invoice = next((_document(i) for i in found if i[keys.SK].startswith("N#")), None)
        client = next((client_from_item(i) for i in found if not i[keys.SK].startswith("N#")), None)
        return invoice, client

    # Writes --------------------------------------------------------------------------------
    def issue_for_session(
        self,
        trainer_id: str,
        session: Session,
        make: Callable[[int], Invoice],
        with_parts: Callable[[Invoice], list[dict[str, Any]]] | None = None,
    ) -> tuple[Invoice, bool]:
        """The session's invoice, issued under the next number (True), or the one another
        tab issued first (False: its pointer is there). The caller looks for an existing
        one first (`for_session`); this write is what makes "one per session" hold. The
        session must still be booked at the version read, so the document copies the
        session as it is. `with_parts`: the invoice message's parts, made from the invoice
        (its number is in the text), written in the same transaction: the number, the
        record and the message go together or not at all. They carry the session's own
        check (booked at the version read), in place of this write's."""
        session_key = keys.session(trainer_id, session.week, utc_iso(session.start_utc), session.id)
        unchanged = Condition(
            "#status = :booked AND #version = :version",
            {"#status": "status", "#version": "version"},
            {":booked": "booked", ":version": session.version},
        )

        def parts(invoice: Invoice, document: Item) -> list[dict[str, Any]]:
            return [
                tx_put(
                    {**document, **keys.session_invoice(trainer_id, session.id)},
                    new_item(),
                    part=SESSION_INVOICE,
                ),
                *(
                    with_parts(invoice)
                    if with_parts is not None
                    else [tx_check(session_key, unchanged, part=SESSION_AS_READ)]
                ),
                *_counted_on_its_pack(trainer_id, session),
            ]

        def refused(exc: TransactionFailed) -> Invoice | None:
            if exc.refused(SESSION_INVOICE):
                issued = self.for_session(trainer_id, session.id)
                if issued is not None:
                    return issued
            if exc.refused(SESSION_AS_READ, SESSION_STILL_BOOKED):
                raise SessionChanged() from exc
            if exc.refused(PAYMENT_REFERENCE):
                raise ReferenceTaken() from exc
            if exc.refused(PACK_NOT_INVOICED):
                raise PackInvoiced() from exc
            return None

        return self._under_next_number(trainer_id, make, parts, refused)

    def issue_for_bundle(
        self, trainer_id: str, bundle: Bundle, make: Callable[[int], Invoice]
    ) -> tuple[Invoice, bool]:
        """The pack's invoice under the next number (True), or the one another tab issued
        first (False), as `issue_for_session`. One transaction: the number, the record,
        the pack's pointer (`attribute_not_exists`: one invoice per pack), the number
        copied onto the bundle at the version read (a pack changed meanwhile refuses:
        PackChanged, nothing written) and the client still active (ClientArchived)."""

        def parts(invoice: Invoice, document: Item) -> list[dict[str, Any]]:
            return [
                tx_put(
                    {**document, **keys.bundle_invoice(trainer_id, bundle.id)},
                    new_item(),
                    part=BUNDLE_INVOICE,
                ),
                tx_update(
                    keys.bundle(trainer_id, bundle.id),
                    Condition(
                        "SET #number = :number, #version = :next",
                        {"#number": BUNDLE_NUMBER, "#version": "version"},
                        {":number": invoice.number, ":next": bundle.version + 1},
                    ),
                    # Its version as read: the record copies the pack's title, price and
                    # client as the page showed them. And none of its sessions invoiced
                    # on its own (that count moves without the version: a session's
                    # invoice does not make the bundle page stale).
                    Condition(
                        "#version = :seen AND #status <> :creating"
                        " AND (attribute_not_exists(#invoiced) OR #invoiced = :none)",
                        {
                            "#version": "version",
                            "#status": "status",
                            "#invoiced": SESSIONS_INVOICED,
                        },
                        {":seen": bundle.version, ":creating": "creating", ":none": 0},
                    ),
                    part=PACK_AS_READ,
                ),
                client_is_active(trainer_id, bundle.client_id),
            ]

        def refused(exc: TransactionFailed) -> Invoice | None:
            if exc.refused(BUNDLE_INVOICE):
                issued = self.for_bundle(trainer_id, bundle.id)
                if issued is not None:
                    return issued
            if exc.refused(PACK_AS_READ):
                now = self.db.get(keys.bundle(trainer_id, bundle.id))
                counted = int((now or {}).get(SESSIONS_INVOICED, 0))
                if now is not None and now["version"] == bundle.version and counted:
                    raise SessionsInvoiced(counted) from exc
                raise PackChanged() from exc
            if exc.refused(CLIENT_ACTIVE):
                raise ClientArchived() from exc
            return None

        return self._under_next_number(trainer_id, make, parts, refused)

    def issue_credit_note(
        self, trainer_id: str, invoice: Invoice, make: Callable[[int], Invoice]
    ) -> Invoice:
        """A credit note under the next number, once per invoice. The session's (or the
        pack's) pointer is removed in the same write, so the session's next Send invoice
        (the pack's next Issue) issues a new one."""

        def parts(note: Invoice, document: Item) -> list[dict[str, Any]]:
            return [
                tx_put(
                    {
                        **keys.invoice_credit(trainer_id, invoice.number),
                        "type": "invoice-credit",
                        "credit_note": note.number,
                    },
                    new_item(),
                    part=ONE_CREDIT_NOTE,
                ),
                *_pointer_goes(trainer_id, invoice),
            ]

        def refused(exc: TransactionFailed) -> Invoice | None:
            if exc.refused(ONE_CREDIT_NOTE):
                raise AlreadyCredited() from exc
            if exc.refused(PACK_SESSION_CREDITED):
                raise Conflict("This session's pack is gone: no credit note was issued.") from exc
            if exc.refused(PACK_NUMBER_GOES):
                # The bundle no longer holds this number: only a credit note removes it,
                # so this invoice was credited already (or the bundle is gone).
                raise AlreadyCredited() from exc
            return None

        note, _new = self._under_next_number(trainer_id, make, parts, refused)
        return note

    def _under_next_number(
        self,
        trainer_id: str,
        make: Callable[[int], Invoice],
        parts: Callable[[Invoice, Item], list[dict[str, Any]]],
        refused: Callable[[TransactionFailed], Invoice | None],
    ) -> tuple[Invoice, bool]:
        """`make(n)` issued under the counter's next number n, with the caller's `parts`
        in the same transaction: the counter moves from n only if it still says n, and the
        record `N#n` is new, so numbers have no gaps and no twins. (invoice, True); or
        (the one `refused` found already issued, False). `refused` turns a refusal of the
        caller's parts into that, or into its own error; a number another write took
        first is read again and the next one taken."""
        for _attempt in range(ISSUE_ATTEMPTS):
            invoice = make(self.next_number(trainer_id))
            self._check_room(invoice.number)
            document = _document_item(trainer_id, invoice)
            try:
                self.db.transact(
                    [
                        _number_claim(trainer_id, invoice.number),
                        tx_put(document, new_item(), part=NEW_INVOICE),
                        *parts(invoice, document),
                    ]
                )
                return invoice, True
            except TransactionFailed as exc:
                issued = refused(exc)
                if issued is not None:
                    return issued, False
                if not exc.refused(NUMBER_CLAIM, NEW_INVOICE):
                    raise
        raise Conflict("Many invoices are being issued at once: try again in a moment.")

    def credit_note_of(self, trainer_id: str, number: int) -> int | None:
        item = self.db.get(keys.invoice_credit(trainer_id, number))
        return int(item["credit_note"]) if item else None

    @staticmethod
    def _check_room(number: int) -> None:
        if number > MAX_NUMBER:
            raise Conflict("Your invoice numbers have run out: contact support.")


def _pointer_goes(trainer_id: str, invoice: Invoice) -> list[dict[str, Any]]:
    """What a credit note removes so its session or pack may be invoiced again: the
    pointer (if still this invoice's) and, for a pack, the number copied on the bundle
    (its version moves: a page read before the credit is stale)."""
    still_this = Condition(
        "attribute_not_exists(#pk) OR #number = :number",
        {"#pk": keys.PK, "#number": "number"},
        {":number": invoice.number},
    )
    if not invoice.is_pack:
        return [
            tx_delete(keys.session_invoice(trainer_id, invoice.session_id), still_this),
            *_uncounted_on_its_pack(trainer_id, invoice),
        ]
    return [
        tx_delete(keys.bundle_invoice(trainer_id, invoice.bundle_id), still_this),
        tx_update(
            keys.bundle(trainer_id, invoice.bundle_id),
            Condition(
                "REMOVE #number SET #version = #version + :one",
                {"#number": BUNDLE_NUMBER, "#version": "version"},
                {":one": 1},
            ),
            # Never an Update that would make a bundle item out of nothing.
            Condition("#number = :number", {"#number": BUNDLE_NUMBER}, {":number": invoice.number}),
            part=PACK_NUMBER_GOES,
        ),
    ]


def _counted_on_its_pack(trainer_id: str, session: Session) -> list[dict[str, Any]]:
    """A pack's session invoiced on its own: the pack must have no invoice of its own, and
    counts one more invoiced session (so the pack cannot be invoiced as a whole until
    that invoice is credited). The count moves, not the version: the bundle page stays
    current."""
    if not session.bundle_id:
        return []
    return [
        tx_update(
            keys.bundle(trainer_id, session.bundle_id),
            Condition("ADD #invoiced :one", {"#invoiced": SESSIONS_INVOICED}, {":one": 1}),
            # Never an Update that would make a bundle item out of nothing.
            Condition(
                "attribute_exists(#pk) AND attribute_not_exists(#number)",
                {"#pk": keys.PK, "#number": BUNDLE_NUMBER},
            ),
            part=PACK_NOT_INVOICED,
        )
    ]


def _uncounted_on_its_pack(trainer_id: str, invoice: Invoice) -> list[dict[str, Any]]:
    """A credited session invoice of a pack's session: one invoiced session less. Once
    per invoice (a credit note is), as the issue counted it once."""
    if not invoice.session_pack_id:
        return []  # not a pack's session, or issued before packs counted them
    return [
        tx_update(
            keys.bundle(trainer_id, invoice.session_pack_id),
            Condition("ADD #invoiced :less", {"#invoiced": SESSIONS_INVOICED}, {":less": -1}),
            Condition("attribute_exists(#pk)", {"#pk": keys.PK}),
            part=PACK_SESSION_CREDITED,
        )
    ]


def _document(item: Item | None) -> Invoice | None:
    return Invoice.model_validate(item["document"]) if item else None

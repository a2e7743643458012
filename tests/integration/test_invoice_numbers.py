"""Invoice numbers under races and stale reads (moto, made atomic like DynamoDB): invoices
sent at the same moment take consecutive numbers, one session gets one invoice however
many presses race, and a write from a stale read is refused by the write itself."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta

import pytest

from chalicelib.domain.errors import Conflict, NotFound
from chalicelib.domain.invoices import Invoice, credit_note_for
from chalicelib.domain.models import Trainer
from chalicelib.domain.programs import Bundle
from chalicelib.domain.schedule import Session, parse_session_ref
from chalicelib.domain.settings import PaymentDetails
from chalicelib.domain.tokens import new_id
from chalicelib.repo import keys
from chalicelib.repo.dynamo import TransactionFailed
from chalicelib.repo.invoices import (
    NUMBER_CLAIM,
    AlreadyCredited,
    ClientArchived,
    InvoiceStore,
    PackChanged,
    SessionChanged,
    _number_claim,
)
from chalicelib.repo.repository import Repository
from chalicelib.services import account, invoices, messages, packs, programs, sessions
from tests.integration import test_program_bundles as program_bundles
from tests.integration.test_program_bundles import Studio, add_person, at, new_bundle, stored_bundle
from tests.support.builders import (
    NOW,
    WEDNESDAY,
    add_client,
    add_location,
    add_slot,
    allocate,
    archive_client,
)
from tests.support.builders import make_trainer as new_trainer
from tests.support.interleave import just_before
from tests.support.race import race

WORKERS = 8


@pytest.fixture
def coach(repo: Repository) -> Trainer:
    trainer, _studio = add_location(repo, new_trainer(repo))
    payment = PaymentDetails(
        payee_name="Alex Byrne", bank_name="Monzo", account_number="12345678", sort_code="040004"
    )
    return trainer.model_copy(
        update={"settings": trainer.settings.model_copy(update={"payment": payment})}
    )


def _sessions(repo: Repository, trainer: Trainer, count: int) -> list[Session]:
    """`count` booked sessions on different days, each its own client's."""
    studio = next(iter(trainer.locations))
    booked = []
    for index in range(count):
        client = add_client(repo, trainer, f"Client {index}")
        slot = add_slot(repo, trainer, studio, day=WEDNESDAY + timedelta(days=index))
        booked.append(allocate(repo, trainer, slot, client))
    return booked


def _store(repo: Repository) -> InvoiceStore:
    return InvoiceStore(repo.db)


def test_invoices_sent_at_the_same_moment_take_consecutive_numbers(
    repo: Repository, coach: Trainer
) -> None:
    booked = _sessions(repo, coach, WORKERS)
    outcomes = race(WORKERS, lambda i: messages.send_invoice(repo, coach, booked[i], new_id(), NOW))
    assert all(not isinstance(o, Exception) for o in outcomes), outcomes
    numbers = sorted(
        invoice.number
        for invoice in (_store(repo).for_session(coach.id, s.id) for s in booked)
        if invoice is not None
    )
    assert numbers == list(range(1, WORKERS + 1))  # no gap, no duplicate
    assert _store(repo).next_number(coach.id) == WORKERS + 1
    for number in numbers:  # each number's document exists once, for one session
        assert _store(repo).get(coach.id, number) is not None
    assert len({_store(repo).get(coach.id, n).session_id for n in numbers}) == WORKERS  # type: ignore[union-attr]


def test_one_session_pressed_from_many_tabs_gets_one_invoice(
    repo: Repository, coach: Trainer
) -> None:
    (booking,) = _sessions(repo, coach, 1)
    outcomes = race(6, lambda _i: messages.send_invoice(repo, coach, booking, new_id(), NOW))
    assert all(not isinstance(o, Exception) for o in outcomes), outcomes
    assert _store(repo).next_number(coach.id) == 2  # one number taken
    invoice = _store(repo).for_session(coach.id, booking.id)
    assert invoice is not None and invoice.number == 1
    texts = [m.text for m in repo.outbox.page(coach.id, None, None)[0]]
    assert len(texts) == 6 and all("Invoice INV-000001" in t for t in texts)


def test_a_session_changed_since_it_was_read_is_refused_by_the_issue_itself(
    repo: Repository, coach: Trainer
) -> None:
    (booking,) = _sessions(repo, coach, 1)
    # Paid meanwhile (another tab): the page's copy of the session is stale.
    sessions.set_payment(
        repo,
        coach.id,
        booking,
        sessions.SetPayment(paid=True, payment_type="cash", version=booking.version),
        NOW,
    )
    client = repo.get_client(coach.id, booking.client_id)
    with pytest.raises(SessionChanged):
        invoices.issue_for_session(repo, coach, booking, client, 4000, "PT-AAAAAA", "Studio", NOW)
    assert _store(repo).for_session(coach.id, booking.id) is None
    assert _store(repo).next_number(coach.id) == 1  # nothing claimed
    assert repo.db.get(keys.invoice(coach.id, 1)) is None


def test_a_claim_from_a_stale_counter_read_is_refused_by_the_write(
    repo: Repository, coach: Trainer
) -> None:
    first, second = _sessions(repo, coach, 2)
    store = _store(repo)
    seen = store.next_number(coach.id)  # 1, read before another issue commits
    client = repo.get_client(coach.id, first.client_id)
    invoices.issue_for_session(repo, coach, first, client, 4000, "PT-AAAAAA", "Studio", NOW)
    stale = store.next_number
    # The second issue reads the counter as it was (1): its claim must not commit.
    calls: list[int] = []

    def reads_stale(trainer_id: str) -> int:
        if not calls:
            calls.append(seen)
            return seen
        return stale(trainer_id)

    store.next_number = reads_stale  # type: ignore[method-assign]
    other = repo.get_client(coach.id, second.client_id)
    invoice, new = store.issue_for_session(
        coach.id, second, _maker(coach, second, other.id, other.name)
    )
    assert new and invoice.number == 2  # refused at 1, then the next number after a re-read
    assert calls == [1]
    with pytest.raises(TransactionFailed) as refused:
        repo.db.transact([_number_claim(coach.id, 2)])  # the counter is at 3 now
    assert refused.value.refused(NUMBER_CLAIM)


def _maker(
    trainer: Trainer, session: Session, client_id: str, name: str
) -> Callable[[int], Invoice]:
    def make(number: int) -> Invoice:
        return Invoice(
            number=number,
            issued_on=date(2026, 11, 23),
            issued_at=NOW,
            trainer_id=trainer.id,
            business_name="Alex Fit",
            payment_lines=(),
            client_id=client_id,
            client_name=name,
            session_id=session.id,
            session_ref=session.ref,
            lines=(),
            currency="GBP",
            locale="en_GB",
            net_minor=0,
            vat_minor=0,
            gross_minor=0,
        )

    return make


def test_credit_notes_racing_for_one_invoice_issue_one(repo: Repository, coach: Trainer) -> None:
    (booking,) = _sessions(repo, coach, 1)
    messages.send_invoice(repo, coach, booking, new_id(), NOW)
    invoice = _store(repo).for_session(coach.id, booking.id)
    assert invoice is not None
    outcomes = race(
        5,
        lambda _i: _store(repo).issue_credit_note(
            coach.id, invoice, lambda n: credit_note_for(invoice, n, NOW, invoice.issued_on)
        ),
    )
    notes = [o for o in outcomes if isinstance(o, Invoice)]
    assert len(notes) == 1 and notes[0].number == 2 and notes[0].credits == 1
    assert all(isinstance(o, Conflict) for o in outcomes if not isinstance(o, Invoice))
    assert _store(repo).next_number(coach.id) == 3  # the losers took no number
    assert notes[0].gross_minor == -invoice.gross_minor


def test_invoices_and_credit_notes_share_one_gapless_sequence(
    repo: Repository, coach: Trainer
) -> None:
    booked = _sessions(repo, coach, 3)
    messages.send_invoice(repo, coach, booked[0], new_id(), NOW)
    first = _store(repo).for_session(coach.id, booked[0].id)
    assert first is not None

    def act(i: int) -> object:
        if i == 0:
            return _store(repo).issue_credit_note(
                coach.id, first, lambda n: credit_note_for(first, n, NOW, first.issued_on)
            )
        return messages.send_invoice(repo, coach, booked[i], new_id(), NOW)

    outcomes = race(3, act)
    assert all(not isinstance(o, Exception) for o in outcomes), outcomes
    issued = [_store(repo).get(coach.id, n) for n in range(1, 5)]
    assert all(issued) and _store(repo).get(coach.id, 5) is None
    assert sorted(i.kind for i in issued if i) == ["credit_note", "invoice", "invoice", "invoice"]


def test_a_session_canceled_before_the_invoice_write_gets_neither_number_nor_message(
    repo: Repository, coach: Trainer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The number, the record and the message are one write: a session canceled between
    the send's reads and that write leaves the counter, the records and the outbox as
    they were (the write itself refuses)."""
    (session,) = _sessions(repo, coach, 1)

    def cancel_it() -> None:
        current = repo.get_session(coach.id, parse_session_ref(session.ref))  # type: ignore[arg-type]
        sessions.cancel(repo, coach.id, current, str(current.version), NOW)

    record = just_before(monkeypatch, repo, InvoiceStore, "issue_for_session", cancel_it)
    with pytest.raises(Conflict):
        messages.send_invoice(repo, coach, session, new_id(), NOW)
    assert record.called
    assert _store(repo).next_number(coach.id) == 1
    assert _store(repo).for_session(coach.id, session.id) is None
    assert not [m for m in repo.outbox.page(coach.id, None, None)[0] if m.kind == "invoice"]


def test_a_first_invoice_and_its_message_are_one_transaction(
    repo: Repository, coach: Trainer, monkeypatch: pytest.MonkeyPatch
) -> None:
    (session,) = _sessions(repo, coach, 1)
    written: list[list[dict]] = []
    original = repo.db.transact

    def recorded(operations, *args, **kwargs):  # type: ignore[no-untyped-def]
        written.append(list(operations))
        return original(operations, *args, **kwargs)

    monkeypatch.setattr(repo.db, "transact", recorded)
    queued = messages.send_invoice(repo, coach, session, new_id(), NOW)
    assert queued.new
    (transaction,) = written  # the number, the record, the pointer and the message
    keys_written = [
        next(iter(op.values()))["Key" if "Update" in op else "Item"] for op in transaction
    ]
    sort_keys = {k["SK"]["S"] for k in keys_written if "SK" in k}
    assert {"SEQ", "N#000001", f"S#{session.id}"} <= sort_keys
    assert any(sk.startswith("LOG#") and "#M#" in sk for sk in sort_keys)  # the message


# A pack's invoice ---------------------------------------------------------------------------
@pytest.fixture
def studio(repo: Repository) -> Studio:
    """A trainer, their Studio and Priya, as tests/integration/test_program_bundles."""
    trainer = new_trainer(repo)
    location = account.add_location(repo, trainer.id, "Studio")
    refreshed = repo.get_trainer(trainer.id)
    assert refreshed is not None
    payment = PaymentDetails(
        payee_name="Alex Byrne", bank_name="Monzo", account_number="12345678", sort_code="040004"
    )
    refreshed = refreshed.model_copy(
        update={"settings": refreshed.settings.model_copy(update={"payment": payment})}
    )
    return Studio(refreshed, location.id, add_person(repo, refreshed, location.id, "Priya Shah"))


def _bundle_a_day_later(
    repo: Repository,
    studio: Studio,
    monkeypatch: pytest.MonkeyPatch,
    days: int,
    price: str,
    client_id: str = "",
) -> Bundle:
    """A one-session pack `days` after the first bundles' day, so their times never clash."""
    with monkeypatch.context() as patched:
        later = program_bundles.FIRST_DAY + timedelta(days=days)
        patched.setattr(program_bundles, "FIRST_DAY", later)
        return new_bundle(repo, studio, count=1, price=price, client_id=client_id)


def _issue_pack(repo: Repository, studio: Studio, bundle: Bundle) -> tuple[Invoice, bool]:
    command = invoices.IssuePackInvoice(bundle_id=bundle.id, version=bundle.version)
    return invoices.issue_for_bundle(at(repo), studio.trainer, command)


def _bundle_item(repo: Repository, studio: Studio, bundle: Bundle) -> dict:
    item = repo.db.get(keys.bundle(studio.trainer.id, bundle.id))
    assert item is not None
    return item


def test_one_pack_pressed_from_many_tabs_gets_one_invoice(repo: Repository, studio: Studio) -> None:
    bundle = new_bundle(repo, studio, count=2, price="100")
    outcomes = race(6, lambda _i: _issue_pack(repo, studio, bundle))
    assert all(not isinstance(o, Exception) for o in outcomes), outcomes
    assert {o[0].number for o in outcomes} == {1}
    assert sum(1 for o in outcomes if o[1]) == 1  # one issued it, the others found it
    assert _store(repo).next_number(studio.trainer.id) == 2  # one number taken
    item = _bundle_item(repo, studio, bundle)
    assert item["invoice_number"] == 1 and item["version"] == bundle.version + 1
    issued = _store(repo).for_bundle(studio.trainer.id, bundle.id)
    assert issued is not None and issued.bundle_id == bundle.id and issued.gross_minor == 10000


def test_packs_and_sessions_invoiced_at_the_same_moment_take_consecutive_numbers(
    repo: Repository, studio: Studio, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = add_person(repo, studio.trainer, studio.location, "Omar Haddad")
    packs_sold = [
        new_bundle(repo, studio, count=1, price="50"),
        _bundle_a_day_later(repo, studio, monkeypatch, 1, "60", other.id),
    ]
    booked = _sessions(repo, studio.trainer, 2)

    def act(i: int) -> object:
        if i < 2:
            return _issue_pack(repo, studio, packs_sold[i])
        return messages.send_invoice(repo, studio.trainer, booked[i - 2], new_id(), NOW)

    outcomes = race(4, act)
    assert all(not isinstance(o, Exception) for o in outcomes), outcomes
    issued = [_store(repo).get(studio.trainer.id, n) for n in range(1, 5)]
    assert all(issued) and _store(repo).get(studio.trainer.id, 5) is None  # no gap, no twin
    assert sorted(i.bundle_id for i in issued if i and i.is_pack) == sorted(
        b.id for b in packs_sold
    )
    assert len([i for i in issued if i and not i.is_pack]) == 2


def test_a_pack_changed_since_it_was_read_is_refused_by_the_issue_itself(
    repo: Repository, studio: Studio, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = new_bundle(repo, studio, count=2, price="100")

    def pay_it() -> None:  # another tab marks the pack paid between the read and the write
        command = packs.PackPaymentForm(
            bundle_id=bundle.id, action="pay", payment_type="cash", version=bundle.version
        )
        packs.change_pack_payment(at(repo), studio.trainer, command)

    record = just_before(monkeypatch, repo, InvoiceStore, "issue_for_bundle", pay_it)
    with pytest.raises(PackChanged):
        _issue_pack(repo, studio, bundle)
    record.assert_refused_unchanged(PackChanged)
    assert _store(repo).next_number(studio.trainer.id) == 1
    assert _store(repo).for_bundle(studio.trainer.id, bundle.id) is None
    assert "invoice_number" not in _bundle_item(repo, studio, bundle)


def test_a_page_older_than_the_pack_is_refused_before_any_write(
    repo: Repository, studio: Studio
) -> None:
    bundle = new_bundle(repo, studio, count=2, price="100")
    stale = invoices.IssuePackInvoice(bundle_id=bundle.id, version=bundle.version - 1)
    with pytest.raises(PackChanged, match="changed meanwhile"):
        invoices.issue_for_bundle(at(repo), studio.trainer, stale)
    assert _store(repo).next_number(studio.trainer.id) == 1


def test_a_free_pack_no_bank_details_or_an_archived_client_get_no_invoice(
    repo: Repository, studio: Studio, monkeypatch: pytest.MonkeyPatch
) -> None:
    free = new_bundle(repo, studio, count=1, price="0")
    with pytest.raises(Conflict, match="free"):
        _issue_pack(repo, studio, free)
    bundle = _bundle_a_day_later(repo, studio, monkeypatch, 1, "40")
    no_details = studio.trainer.settings.model_copy(update={"payment": PaymentDetails()})
    without = replace(studio, trainer=studio.trainer.model_copy(update={"settings": no_details}))
    with pytest.raises(Conflict, match="payment details are incomplete"):
        _issue_pack(repo, without, bundle)
    archive_client(repo, studio.trainer.id, repo.get_client(studio.trainer.id, studio.client.id))
    with pytest.raises(Conflict, match="archived"):
        _issue_pack(repo, studio, bundle)
    assert _store(repo).next_number(studio.trainer.id) == 1  # nothing claimed


def test_a_client_archived_before_the_write_is_refused_by_it(
    repo: Repository, studio: Studio, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = new_bundle(repo, studio, count=1, price="40")
    client = repo.get_client(studio.trainer.id, studio.client.id)
    record = just_before(
        monkeypatch,
        repo,
        InvoiceStore,
        "issue_for_bundle",
        lambda: archive_client(repo, studio.trainer.id, client),
    )
    with pytest.raises(ClientArchived):
        _issue_pack(repo, studio, bundle)
    record.assert_refused_unchanged(ClientArchived)


def test_another_trainers_bundle_is_not_found(repo: Repository, studio: Studio) -> None:
    bundle = new_bundle(repo, studio, count=1, price="40")
    other = new_trainer(repo, "other@example.com")
    command = invoices.IssuePackInvoice(bundle_id=bundle.id, version=bundle.version)
    with pytest.raises(NotFound):
        invoices.issue_for_bundle(at(repo), other, command)
    with pytest.raises(NotFound):
        invoices.pack_invoice_page(at(repo), other, bundle.id)


def test_a_credit_note_frees_the_pack_and_every_bundle_writer_still_works(
    repo: Repository, studio: Studio
) -> None:
    bundle = new_bundle(repo, studio, count=2, price="100")
    invoice, _new = _issue_pack(repo, studio, bundle)
    # Every later writer holds the bundle as read again (its version moved) and keeps
    # the number: they update attributes, never put the item whole.
    fresh = stored_bundle(repo, studio.trainer.id, bundle.id)
    paid = packs.change_pack_payment(
        at(repo),
        studio.trainer,
        packs.PackPaymentForm(
            bundle_id=bundle.id, action="pay", payment_type="card", version=fresh.version
        ),
    )
    paused = programs.change_status(
        at(repo),
        studio.trainer.id,
        programs.ChangeBundleStatus(bundle_id=bundle.id, action="pause", version=paid.version),
    )
    assert paused.status == "paused"
    assert _bundle_item(repo, studio, bundle)["invoice_number"] == invoice.number
    (listed,) = programs.store(repo).client_bundles(studio.trainer.id, studio.client.id)
    assert listed.invoice_number == invoice.number == 1
    note = invoices.credit_bundle_invoice(at(repo), studio.trainer, bundle.id)
    assert (note.number, note.credits, note.gross_minor) == (2, 1, -10000)
    assert note.bundle_id == bundle.id
    item = _bundle_item(repo, studio, bundle)
    assert "invoice_number" not in item and item["version"] == paused.version + 1
    assert stored_bundle(repo, studio.trainer.id, bundle.id).invoice_number is None
    assert _store(repo).for_bundle(studio.trainer.id, bundle.id) is None
    with pytest.raises(NotFound):  # credited already: nothing issued twice
        invoices.credit_bundle_invoice(at(repo), studio.trainer, bundle.id)
    again, new = _issue_pack(repo, studio, stored_bundle(repo, studio.trainer.id, bundle.id))
    assert new and again.number == 3
    assert _store(repo).get(studio.trainer.id, 1) == invoice  # the first stays as issued


def test_credit_notes_racing_for_one_pack_invoice_issue_one(
    repo: Repository, studio: Studio
) -> None:
    bundle = new_bundle(repo, studio, count=1, price="40")
    invoice, _new = _issue_pack(repo, studio, bundle)
    outcomes = race(
        4,
        lambda _i: _store(repo).issue_credit_note(
            studio.trainer.id,
            invoice,
            lambda n: credit_note_for(invoice, n, NOW, invoice.issued_on),
        ),
    )
    notes = [o for o in outcomes if isinstance(o, Invoice)]
    assert len(notes) == 1 and all(
        isinstance(o, AlreadyCredited) for o in outcomes if o not in notes
    )
    assert _store(repo).next_number(studio.trainer.id) == 3

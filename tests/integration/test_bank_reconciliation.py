"""Bank reconciliation on moto (issue 16 item 4): the invoice's reference claimed in its
own write, confirms racing each other, an upload repeated, and the writes refusing stale
objects by their own conditions."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from chalicelib import runtime
from chalicelib.domain.bank_statements import ColumnMapping, payment_reference
from chalicelib.domain.errors import VersionConflict
from chalicelib.domain.models import Trainer
from chalicelib.domain.schedule import Session, SessionRef, parse_session_ref, payment_change
from chalicelib.domain.timeutil import utc_iso
from chalicelib.domain.tokens import new_id
from chalicelib.repo import keys
from chalicelib.repo.reconciliation import (
    ReconciliationStore,
    ReferenceTaken,
    confirmed_line,
)
from chalicelib.repo.repository import Repository
from chalicelib.services import messages, reconciliation, sessions
from chalicelib.services.reconciliation import ConfirmLines, Review, Upload
from tests.support.builders import (
    NOW,
    THURSDAY,
    add_slot,
    allocate,
    make_world,
    message_for,
    session_now,
)
from tests.support.moto_tables import table_per_test
from tests.support.pages import counted, deps_for, holds_no_service_objects
from tests.support.race import race
from tests.support.table import table_items, unchanged

moto_client, repo = table_per_test()


@dataclass(frozen=True)
class Scene:
    trainer: Trainer
    session: Session  # invoiced, as stored now
    reference: str


def _with_bank_details(trainer: Trainer) -> Trainer:
    payment = trainer.settings.payment.model_copy(
        update={
            "payee_name": "Alex Byrne",
            "bank_name": "Monzo",
            "account_number": "12345678",
            "sort_code": "04-00-04",
        }
    )
    settings = trainer.settings.model_copy(update={"payment": payment})
    return trainer.model_copy(update={"settings": settings})


def _invoice(repo: Repository, trainer: Trainer, session: Session) -> str:
    messages.send_invoice(repo, trainer, session, new_id(), NOW)
    message = repo.outbox.page(trainer.id, None, None, limit=100)[0][0]
    return message.variables["reference"]


@pytest.fixture
def scene(repo: Repository) -> Scene:
    world = make_world(repo)
    trainer = _with_bank_details(world.trainer)
    slot = add_slot(repo, trainer, world.studio, day=THURSDAY)
    booked = allocate(repo, trainer, slot, world.priya)
    reference = _invoice(repo, trainer, booked)
    return Scene(trainer, session_now(repo, trainer.id, booked), reference)


def _statement(reference: str, amount: str = "40.00") -> bytes:
    return (
        "Date,Counter Party,Reference,Type,Amount (GBP),Balance (GBP)\n"
        f"26/11/2026,PRIYA SHAH,{reference},FASTER PAYMENT,{amount},1000.00\n"
    ).encode()


def _review(repo: Repository, scene: Scene, amount: str = "40.00") -> Review:
    return reconciliation.review_statement(
        deps_for(repo),
        scene.trainer,
        ColumnMapping(preset="starling"),
        Upload("statement.csv", _statement(scene.reference, amount)),
    )


def _confirm(repo: Repository, scene: Scene, review: Review) -> reconciliation.Confirmed:
    command = ConfirmLines(review=review.payload, lines=[p.position for p in review.proposed])
    return reconciliation.confirm(deps_for(repo), scene.trainer, command)


def _of_type(repo: Repository, kind: str) -> list[dict]:
    return [i for i in table_items(repo) if i.get("type") == kind]


# The reference ----------------------------------------------------------------------------
def test_an_invoice_claims_its_reference_and_keeps_it_on_the_session(
    repo: Repository, scene: Scene
) -> None:
    assert scene.reference == payment_reference(scene.trainer.id, scene.session.id)
    (claim,) = _of_type(repo, "payment-reference")
    assert claim["session_ref"] == scene.session.ref
    session = scene.session
    item = repo.db.get(
        keys.session(scene.trainer.id, session.week, utc_iso(session.start_utc), session.id)
    )
    assert item is not None and item["payment_reference"] == scene.reference
    # A resend: the same reference, the claim unchanged.
    assert _invoice(repo, scene.trainer, session_now(repo, scene.trainer.id, scene.session)) == (
        scene.reference
    )
    assert _of_type(repo, "payment-reference") == [claim]


def test_a_reference_held_by_another_session_is_refused_by_the_write(
    repo: Repository, scene: Scene
) -> None:
    session = session_now(repo, scene.trainer.id, scene.session)
    taken = payment_reference(scene.trainer.id, "someone-else")
    repo.db.put(
        {
            **keys.payment_reference(scene.trainer.id, taken),
            "type": "payment-reference",
            "reference": taken,
            "session_ref": "x",
            "session_id": "someone-else",
        }
    )
    message = repo.outbox.page(scene.trainer.id, None, None, limit=10)[0][0]
    again = message.model_copy(update={"id": new_id()})
    invoiced = session.model_copy(update={"invoice_sent_at": NOW})
    with unchanged(repo), pytest.raises(ReferenceTaken):
        repo.queue_session_message(
            scene.trainer.id, session, again, invoiced=invoiced, reference=taken
        )


def test_a_reference_taken_first_moves_the_invoice_to_its_next_candidate(
    repo: Repository,
) -> None:
    world = make_world(repo)
    trainer = _with_bank_details(world.trainer)
    booked = allocate(
        repo, trainer, add_slot(repo, trainer, world.studio, day=THURSDAY), world.priya
    )
    first = payment_reference(trainer.id, booked.id)
    repo.db.put(
        {
            **keys.payment_reference(trainer.id, first),
            "type": "payment-reference",
            "reference": first,
            "session_ref": "x",
            "session_id": "another-session",
        }
    )
    reference = _invoice(repo, trainer, booked)
    assert reference == payment_reference(trainer.id, booked.id, 1)
    # A resend finds the first candidate still taken and lands on the same second one.
    resent = _invoice(repo, trainer, session_now(repo, trainer.id, booked))
    assert resent == reference


# Upload and confirm ------------------------------------------------------------------------
def test_an_upload_reads_the_references_then_their_sessions_and_writes_nothing(
    repo: Repository, scene: Scene
) -> None:
    with unchanged(repo):
        review, calls = counted(lambda: _review(repo, scene))
    assert calls == 2
    assert [p.session_ref for p in review.proposed] == [scene.session.ref]
    holds_no_service_objects(review)
    holds_no_service_objects(review.proposed[0])


def test_confirms_racing_mark_the_session_once(repo: Repository, scene: Scene) -> None:
    reviews = [_review(repo, scene) for _ in range(3)]  # the same statement, three tabs
    outcomes = race(6, lambda i: _confirm(repo, scene, reviews[i % 3]))
    assert all(not isinstance(o, Exception) for o in outcomes), outcomes
    assert sum(o.marked for o in outcomes) == 1
    after, log = repo.get_session_with_log(scene.trainer.id, reconciliation_ref(scene))
    assert after.paid and after.payment_type == "bank_transfer"
    assert after.version == scene.session.version + 1
    assert [e.text for e in log if "Marked paid" in getattr(e, "text", "")] == [
        f"Marked paid (bank transfer): statement line 2 of 26 Nov 2026, {scene.reference}"
    ]
    assert len(_of_type(repo, "statement-line")) == 1
    balance = repo.db.get(keys.client_balance(scene.trainer.id, scene.session.client_id))
    assert balance is not None and balance["unpaid_minor"] == 0


def reconciliation_ref(scene: Scene) -> SessionRef:
    ref = parse_session_ref(scene.session.ref)
    assert ref is not None
    return ref


def test_an_upload_repeated_marks_nothing_twice(repo: Repository, scene: Scene) -> None:
    early = _review(repo, scene)  # drawn before the first confirm
    assert _confirm(repo, scene, _review(repo, scene)).marked == 1
    repeat = _review(repo, scene)
    assert repeat.proposed == ()
    assert [a.why for a in repeat.apart] == [
        f"This line was confirmed before ({NOW.date().isoformat()})."
    ]
    with unchanged(repo):
        late = _confirm(repo, scene, early)
    assert late.marked == 0
    assert late.outcomes[0].why == reconciliation.CHANGED_SINCE


def test_a_moved_session_is_followed_to_where_it_went(repo: Repository, scene: Scene) -> None:
    target = add_slot(repo, scene.trainer, scene.session.location_id, "11:00", "12:00", THURSDAY)
    changing = sessions.start_changing(
        repo, scene.trainer.id, scene.session, str(scene.session.version), NOW
    )
    moved = sessions.move_to(
        repo, runtime.links(), scene.trainer.id, changing, target, str(changing.version), NOW
    )
    review = _review(repo, scene)
    assert [p.session_ref for p in review.proposed] == [moved.ref]
    assert _confirm(repo, scene, review).marked == 1
    assert session_now(repo, scene.trainer.id, moved).paid


# Stale objects: the writes themselves refuse ------------------------------------------------
def test_marking_a_session_changed_since_it_was_read_is_refused_by_the_write(
    repo: Repository, scene: Scene
) -> None:
    stale = scene.session
    by_hand = sessions.SetPayment(paid=True, payment_type="cash", version=stale.version)
    sessions.set_payment(repo, scene.trainer.id, stale, by_hand, NOW)
    updated, text = payment_change(stale, True, "bank_transfer", NOW)
    line = confirmed_line(scene.trainer.id, "f" * 32, stale, scene.reference, NOW)
    with unchanged(repo), pytest.raises(VersionConflict):
        repo.change_session(scene.trainer.id, stale, updated, "trainer", text, NOW, also=[line])


def test_a_statement_line_used_before_is_refused_by_the_write(
    repo: Repository, scene: Scene
) -> None:
    fresh = session_now(repo, scene.trainer.id, scene.session)
    fingerprint = "a" * 32
    repo.db.put(
        {
            **keys.statement_line(scene.trainer.id, fingerprint),
            "type": "statement-line",
            "fingerprint": fingerprint,
            "session_ref": "elsewhere",
            "reference": "PT-AAAAAA",
            "confirmed_at": "2026-11-20T10:00:00Z",
        }
    )
    updated, text = payment_change(fresh, True, "bank_transfer", NOW)
    line = confirmed_line(scene.trainer.id, fingerprint, fresh, scene.reference, NOW)
    with unchanged(repo), pytest.raises(VersionConflict) as refused:
        repo.change_session(scene.trainer.id, fresh, updated, "trainer", text, NOW, also=[line])
    assert refused.value.__cause__ is not None
    assert "statement line" in refused.value.__cause__.refused_parts  # type: ignore[attr-defined]


def test_the_store_reads_a_hundred_and_more_keys_in_batches(repo: Repository, scene: Scene) -> None:
    store = ReconciliationStore(repo.db)
    references = [scene.reference, *(f"PT-{i:06d}" for i in range(150))]
    lookup, calls = counted(lambda: store.lookup(scene.trainer.id, references, ["b" * 32]))
    assert calls == 2 and set(lookup.sessions) == {scene.reference}


def test_the_reference_stays_on_the_session_through_later_writes_of_it(
    repo: Repository, clock
) -> None:
    """The invoice's write sets it; a later full write of the session (paid, say) keeps it."""
    world = make_world(repo)
    slot = add_slot(repo, world.trainer, world.studio, "09:00", "10:00")
    session = allocate(repo, world.trainer, slot, world.priya)
    ref = SessionRef(session.week, session.start_utc, session.id)
    repo.queue_session_message(
        world.trainer.id,
        session,
        message_for(world.priya, session.week, session.id, kind="invoice"),
        invoiced=session.model_copy(update={"price_minor": 4000}),
        reference="PT-7KQ4XM",
    )
    invoiced = repo.get_session(world.trainer.id, ref)
    assert invoiced.payment_reference == "PT-7KQ4XM"
    paid = sessions.set_payment(
        repo,
        world.trainer.id,
        invoiced,
        sessions.SetPayment(paid=True, payment_type="cash", version=invoiced.version),
        NOW,
    )
    assert repo.get_session(world.trainer.id, ref).payment_reference == "PT-7KQ4XM"
    assert paid.paid

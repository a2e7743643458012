"""Packs paid up front on moto: each invariant is the write's own condition.

- A pack is marked paid once: two marks racing give one claim, one set of session
  writes and one balance change; a write handed the bundle read before another mark
  refuses by itself and leaves the table as it was.
- A pack payment over more sessions and periods than one transaction holds goes in
  chunks and leaves the balance and figures equal to a recomputation.
- A session added from a page read before the pack was paid is refused by the add's
  own write (it would be an unpaid session in a paid pack).
- The "2 left" notice and the renewal message are each written once, however many
  runs or presses race.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.domain import packs as pack_rules
from chalicelib.domain.errors import Conflict, InvalidInput, VersionConflict
from chalicelib.domain.programs import Bundle
from chalicelib.repo.activity import ActivityEntry
from chalicelib.repo.packs import PackWrites
from chalicelib.repo.repository import Repository
from chalicelib.services import account, packs, programs
from chalicelib.services.sessions import portal_link_ref
from tests.integration.test_program_bundles import (
    NOW,
    Studio,
    add_person,
    at,
    bundle_weeks,
    messages_of,
    new_bundle,
    stored_bundle,
)
from tests.integration.test_repository import make_trainer
from tests.support.figures import kept_figures, recomputed
from tests.support.interleave import just_before
from tests.support.race import race
from tests.support.table import table_items


@pytest.fixture
def studio(repo: Repository) -> Studio:
    """A trainer, their Studio and Priya (£40), as tests/integration/test_program_bundles."""
    trainer = make_trainer(repo)
    location = account.add_location(repo, trainer.id, "Studio")
    refreshed = repo.get_trainer(trainer.id)
    assert refreshed is not None
    return Studio(refreshed, location.id, add_person(repo, refreshed, location.id, "Priya Shah"))


def _pay(repo: Repository, studio: Studio, bundle: Bundle, payment_type: str = "cash") -> Bundle:
    command = packs.PackPaymentForm(
        bundle_id=bundle.id, action="pay", payment_type=payment_type, version=bundle.version
    )
    return packs.change_pack_payment(at(repo), studio.trainer, command)


def _balance(repo: Repository, studio: Studio) -> int:
    return repo.client_balance(studio.trainer.id, studio.client.id).unpaid_minor


def _sessions(repo: Repository, studio: Studio, bundle: Bundle):
    return programs.store(repo).bundle_sessions(
        studio.trainer.id, stored_bundle(repo, studio.trainer.id, bundle.id)
    )


def test_two_pack_payments_racing_mark_it_once(repo: Repository, studio: Studio) -> None:
    bundle = new_bundle(repo, studio, count=12, price="540")
    assert _balance(repo, studio) == 54000
    results = race(2, lambda i: _pay(repo, studio, bundle, ("cash", "card")[i]))
    won = [r for r in results if isinstance(r, Bundle)]
    lost = [r for r in results if not isinstance(r, Bundle)]
    assert len(won) == 1 and len(lost) == 1, results
    assert isinstance(lost[0], (VersionConflict, InvalidInput))
    stored = stored_bundle(repo, studio.trainer.id, bundle.id)
    assert stored.pack_payment_type == won[0].pack_payment_type
    sessions = _sessions(repo, studio, bundle)
    assert all(s.paid and s.payment_type == "pack" for s in sessions)
    assert all(s.version == 2 for s in sessions)  # each written once
    assert _balance(repo, studio) == 0
    weeks = bundle_weeks(12)
    assert kept_figures(repo, studio.trainer.id) == recomputed(repo, studio.trainer.id, weeks)


def test_a_payment_handed_a_stale_bundle_refuses_by_itself(
    repo: Repository, studio: Studio, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = new_bundle(repo, studio, count=4, price="200")
    sessions = _sessions(repo, studio, bundle)
    payment = pack_rules.pay_pack(bundle, sessions, "cash", NOW)
    writes = PackWrites(repo.db)
    record = just_before(
        monkeypatch, repo, PackWrites, "write_payment", lambda: _pay(repo, studio, bundle, "card")
    )
    with pytest.raises(VersionConflict):
        writes.write_payment(
            studio.trainer.id,
            bundle,  # read before the other mark
            payment.bundle,
            payment.sessions,
            lambda fresh: list(pack_rules.pay_pack(bundle, fresh, "cash", NOW).sessions),
            "Paid with the pack",
            NOW,
        )
    record.assert_refused_unchanged(VersionConflict)
    assert stored_bundle(repo, studio.trainer.id, bundle.id).pack_payment_type == "card"


def test_a_session_changed_before_its_chunk_is_read_again_and_marked_as_it_now_is(
    repo: Repository, studio: Studio, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = new_bundle(repo, studio, count=4, price="200")
    first = _sessions(repo, studio, bundle)[0]

    # Paid by hand (bank transfer) between the pack page's read and the pack's write:
    # that session keeps its own payment, the other three become Paid (pack).
    def paid_by_hand() -> None:
        from chalicelib.services import sessions as session_service

        session_service.set_payment(
            repo,
            studio.trainer.id,
            first,
            session_service.SetPayment(
                paid=True, payment_type="bank_transfer", version=first.version
            ),
            NOW,
        )

    just_before(monkeypatch, repo, PackWrites, "_write_chunks", paid_by_hand)
    _pay(repo, studio, bundle)
    found = _sessions(repo, studio, bundle)
    assert [s.payment_type for s in found] == ["bank_transfer", "pack", "pack", "pack"]
    assert _balance(repo, studio) == 0
    assert kept_figures(repo, studio.trainer.id) == recomputed(
        repo, studio.trainer.id, bundle_weeks(4)
    )


def test_a_hundred_session_pack_is_paid_in_chunks_and_the_figures_still_add_up(
    repo: Repository, studio: Studio
) -> None:
    bundle = new_bundle(repo, studio, count=60, price="1800")
    _pay(repo, studio, bundle)
    sessions = _sessions(repo, studio, bundle)
    assert len(sessions) == 60 and all(s.payment_type == "pack" for s in sessions)
    assert _balance(repo, studio) == 0
    assert kept_figures(repo, studio.trainer.id) == recomputed(
        repo, studio.trainer.id, bundle_weeks(60)
    )


def test_an_add_from_a_page_read_before_the_pack_was_paid_is_refused_by_its_write(
    repo: Repository, studio: Studio, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = new_bundle(repo, studio, count=4, price="200")
    last = _sessions(repo, studio, bundle)[-1]
    from chalicelib.services import sessions as session_service

    session_service.cancel(repo, studio.trainer.id, last, str(last.version), NOW)
    bundle = stored_bundle(repo, studio.trainer.id, bundle.id)
    record = just_before(
        monkeypatch,
        repo,
        programs.ProgramRepository,
        "add_session",
        lambda: _pay(repo, studio, bundle),
    )
    command = programs.AddBundleSession(
        bundle_id=bundle.id, day="2027-03-02", start="10:00", version=bundle.version
    )
    with pytest.raises(VersionConflict):
        programs.add_session(at(repo), studio.trainer, command)
    record.assert_refused_unchanged(VersionConflict)


def _low_bundle(repo: Repository, studio: Studio) -> Bundle:
    """A 4-session pack whose first two sessions (1 and 8 Dec) are over."""
    return new_bundle(repo, studio, count=4, price="200")


def test_two_notice_runs_racing_tell_the_trainer_once(repo: Repository, studio: Studio) -> None:
    bundle = _low_bundle(repo, studio)
    later = NOW + timedelta(days=16)
    results = race(2, lambda i: packs.run_notices(repo, later))
    assert sum(r.noticed for r in results) == 1, results
    feed = repo.activity.feed(studio.trainer.id)
    assert [a.id for a in feed] == [f"pack-low-{bundle.id}"]
    assert stored_bundle(repo, studio.trainer.id, bundle.id).low_noticed_at == later


def test_a_notice_write_handed_a_stale_due_key_refuses_by_itself(
    repo: Repository, studio: Studio
) -> None:
    _low_bundle(repo, studio)
    later = NOW + timedelta(days=16)
    writes = PackWrites(repo.db)
    (due,) = writes.due(later)
    assert due[1].low_noticed_at is None
    packs.run_notices(repo, later)  # another run got there first
    before = table_items(repo)
    entry = ActivityEntry(
        id="pack-low-again", at=later, actor="system", client_name="x", text="y", session_ref=""
    )
    trainer_id, stale, due_sk = due
    assert writes.write_check(trainer_id, stale, due_sk, 2, None, entry, later) is False
    assert table_items(repo) == before


def test_two_renewals_racing_queue_one_message(repo: Repository, studio: Studio) -> None:
    bundle = _low_bundle(repo, studio)
    later = NOW + timedelta(days=16)
    link = portal_link_ref("https://book.example.com", studio.trainer.id)

    def send(_: int) -> object:
        return packs.send_renewal(
            at(repo, later), studio.trainer, packs.SendRenewal(bundle_id=bundle.id), link
        )

    results = race(2, send)
    assert sum(isinstance(r, Bundle) for r in results) == 1, results
    assert all(isinstance(r, (Bundle, Conflict, InvalidInput)) for r in results)
    renewals = [m for m in messages_of(repo, studio.trainer.id) if m.kind == "pack_renewal"]
    assert len(renewals) == 1


def test_the_renewal_write_handed_a_bundle_read_before_a_send_refuses(
    repo: Repository, studio: Studio
) -> None:
    bundle = _low_bundle(repo, studio)
    later = NOW + timedelta(days=16)
    client = studio.client
    link = portal_link_ref("https://book.example.com", studio.trainer.id)
    stale = stored_bundle(repo, studio.trainer.id, bundle.id)
    packs.send_renewal(
        at(repo, later), studio.trainer, packs.SendRenewal(bundle_id=bundle.id), link
    )
    before = table_items(repo)
    message = packs.renewal_message(studio.trainer, stale, client, link(client), later)
    with pytest.raises(Conflict):
        PackWrites(repo.db).queue_renewal(studio.trainer.id, stale, message, later)
    assert table_items(repo) == before


def _bundle_at_noon(repo: Repository, studio: Studio, count: int) -> Bundle:
    """A second pack for Priya, weekly from FIRST_DAY at 12:00 (clear of the 10:00 one)."""
    from tests.integration.test_program_bundles import FIRST_DAY, offer_form, validate

    trainer = studio.trainer
    draft = programs.start_draft(
        at(repo), trainer, programs.StartDraft(client_id=studio.client.id, template_id="")
    )
    draft = programs.save_offer(
        at(repo),
        trainer,
        programs.SaveOffer.model_validate(
            {
                "version": str(draft.version),
                "action": "next",
                **offer_form(studio.location, count, "150"),
                "draft_id": draft.id,
            }
        ),
    )
    draft, _ = programs.save_schedule(
        at(repo),
        trainer,
        programs.SaveSchedule.model_validate(
            {
                "version": str(draft.version),
                "action": "generate",
                "first_day": FIRST_DAY.isoformat(),
                "first_time": "12:00",
                "every_weeks": "1",
                "draft_id": draft.id,
            }
        ),
    )
    return validate(repo, trainer, draft.id, str(draft.version))


def test_the_running_pack_totals_follow_every_pack_as_time_passes_and_packs_complete(
    repo: Repository, studio: Studio
) -> None:
    four = new_bundle(repo, studio, count=4, price="200")
    three = _bundle_at_noon(repo, studio, count=3)
    tid = studio.trainer.id

    def expected(now) -> tuple[int, int]:
        bundles = [stored_bundle(repo, tid, b.id) for b in (four, three)]
        return 7, sum(pack_rules.counted_used(b, now) for b in bundles)

    for days in (0, 9, 16, 30):
        now = NOW + timedelta(days=days)
        packs.run_notices(repo, now)
        assert repo.figures.pack_totals(tid) == expected(now), days
    now = NOW + timedelta(days=30)
    current = stored_bundle(repo, tid, four.id)
    programs.store(repo).set_status(tid, current, "completed", now)  # by hand: gives up none
    packs.run_notices(repo, now)
    assert repo.figures.pack_totals(tid) == expected(now)
    reopened = stored_bundle(repo, tid, three.id)
    programs.store(repo).set_status(tid, reopened, "paused", now)
    packs.run_notices(repo, now)
    assert repo.figures.pack_totals(tid) == expected(now)


def test_a_bundle_documents_write_handed_a_stale_bundle_refuses_by_itself(
    repo: Repository, studio: Studio, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.domain.programs import sessions_gaining
    from chalicelib.domain.schedule import Document

    bundle = new_bundle(repo, studio, count=4, price="200")
    sheet = Document(name="Sheet", url="https://docs.example.com/sheet.pdf")
    sessions = _sessions(repo, studio, bundle)
    record = just_before(
        monkeypatch, repo, PackWrites, "write_documents", lambda: _pay(repo, studio, bundle)
    )
    with pytest.raises(VersionConflict):
        PackWrites(repo.db).write_documents(
            studio.trainer.id,
            bundle,  # read before the pack was paid
            (*bundle.documents, sheet),
            sessions_gaining(sessions, sheet, NOW),
            lambda fresh: sessions_gaining(fresh, sheet, NOW),
            "Document added to the bundle: Sheet",
            NOW,
        )
    record.assert_refused_unchanged(VersionConflict)

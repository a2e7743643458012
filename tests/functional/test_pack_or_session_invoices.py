"""A pack is invoiced as a whole or session by session, never both (docs/invoices.md,
"A pack's invoice"): otherwise the client would be billed twice for the same sessions.
Through the real app: each way round refused in words with no number used, and allowed
again once the other invoice is credited."""

from __future__ import annotations

import html

import pytest

from chalicelib import runtime
from chalicelib.repo.invoices import InvoiceStore, PackInvoiced, SessionsInvoiced
from tests.functional.conftest import Browser
from tests.functional.test_invoice_pdfs import download, pdf_text, trainer_id
from tests.functional.test_messages import send
from tests.functional.test_pack_invoices import counter, issue
from tests.functional.test_pack_invoices import pack as pack
from tests.functional.test_programs import SESSION_LINK, version_of
from tests.support.builders import NOW
from tests.support.race import race


def _first_session(trainer: Browser, pack: dict[str, str]) -> str:
    return SESSION_LINK.findall(trainer.get(pack["path"]).body)[0]


def test_a_session_of_a_pack_with_its_own_invoice_is_not_invoiced_again(
    trainer: Browser,
    pack: dict[str, str],
) -> None:
    assert issue(trainer, pack["invoice"]).status == 303  # INV-000001, the whole pack
    session_url = _first_session(trainer, pack)

    refused = send(trainer, session_url, "invoice")

    assert refused.status == 409, refused.body
    assert "part of a pack that has its own invoice" in html.unescape(refused.body)
    assert counter(trainer) == 2  # no number used
    assert download(trainer, session_url)[0] == 404  # the session has no invoice

    # Once the pack's invoice is credited, its sessions may be invoiced one by one.
    asked = trainer.get(pack["invoice"] + "?confirm=credit_note")
    credited = trainer.post(pack["invoice"], {"action": "credit_note"}, csrf=asked.csrf())
    assert credited.status == 303, credited.body
    assert send(trainer, session_url, "invoice").status == 303
    assert "INV-000003" in pdf_text(download(trainer, session_url)[2])


def test_a_pack_with_a_session_invoiced_is_not_invoiced_as_a_whole(
    trainer: Browser,
    pack: dict[str, str],
) -> None:
    session_url = _first_session(trainer, pack)
    assert send(trainer, session_url, "invoice").status == 303  # INV-000001, one session

    page = html.unescape(trainer.get(pack["invoice"]).body)
    assert "1 of its sessions has an invoice of its own" in page
    assert "Issue the invoice" not in page  # the page offers no Issue
    # A page drawn before that session's invoice still posts Issue: refused in words.
    refused = issue(trainer, pack["invoice"], version=version_of(trainer.get(pack["path"]).body))
    assert refused.status in (400, 409), refused.body
    assert "1 of its sessions has an invoice of its own" in html.unescape(refused.body)
    assert counter(trainer) == 2

    # Crediting the session's invoice lets the pack be invoiced as a whole.
    asked = trainer.get(session_url + "?confirm=credit_note")
    assert trainer.post(session_url + "/credit-note", {}, csrf=asked.csrf()).status == 303
    assert "has an invoice of its own" not in trainer.get(pack["invoice"]).body
    done = issue(trainer, pack["invoice"])
    assert done.status == 303 and done.location.endswith("saved=issued"), done.body


# The writes themselves ----------------------------------------------------------------------
def _issuers(trainer: Browser, pack: dict[str, str]):
    """(issue the pack's invoice, issue its first session's invoice), each with the
    objects read now, straight to the store's writes (no service check in front)."""
    from chalicelib.domain.invoices import pack_line
    from chalicelib.services import invoices as invoice_service
    from chalicelib.services.programs import store as programs_store

    repo = runtime.repository()
    tid = trainer_id(trainer)
    owner = repo.get_trainer(tid)
    bundle = programs_store(repo).get_bundle(tid, pack["bundle"])
    client = repo.get_client(tid, bundle.client_id)
    [session, *_] = programs_store(repo).bundle_sessions(tid, bundle)
    invoices = InvoiceStore(repo.db)
    line = pack_line(bundle.title, bundle.sessions_planned, bundle.price_minor)
    pack_invoice = invoice_service._invoice_maker(owner, client, line, NOW, bundle_id=bundle.id)

    def issue_pack() -> object:
        return invoices.issue_for_bundle(tid, bundle, pack_invoice)

    def issue_session() -> object:
        return invoice_service.issue_for_session(
            repo, owner, session, client, 27000, "PT-AAAAAA", "Studio", NOW
        )

    return issue_pack, issue_session


def test_the_pack_write_refuses_a_bundle_read_before_a_session_was_invoiced(
    trainer: Browser,
    pack: dict[str, str],
) -> None:
    issue_pack, _ = _issuers(trainer, pack)  # the bundle as read now: no session invoiced
    assert send(trainer, _first_session(trainer, pack), "invoice").status == 303

    with pytest.raises(SessionsInvoiced):
        issue_pack()  # the stale bundle object says 0 sessions invoiced; the item says 1
    assert counter(trainer) == 2 and "No invoice issued" in trainer.get(pack["invoice"]).body


def test_the_session_write_refuses_once_the_pack_has_its_own_invoice(
    trainer: Browser,
    pack: dict[str, str],
) -> None:
    _, issue_session = _issuers(trainer, pack)  # the session as read before
    assert issue(trainer, pack["invoice"]).status == 303

    with pytest.raises(PackInvoiced):
        issue_session()
    assert counter(trainer) == 2


def test_a_pack_invoice_and_a_session_invoice_racing_issue_one_of_them(
    trainer: Browser,
    pack: dict[str, str],
) -> None:
    issue_pack, issue_session = _issuers(trainer, pack)

    outcomes = race(2, lambda i: (issue_pack, issue_session)[i]())

    issued = [o for o in outcomes if isinstance(o, tuple)]
    refused = [o for o in outcomes if isinstance(o, PackInvoiced | SessionsInvoiced)]
    assert len(issued) == 1 and len(refused) == 1, outcomes
    assert counter(trainer) == 2  # one number used, no gap

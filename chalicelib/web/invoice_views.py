"""Invoice, receipt and credit note PDFs (docs/invoices.md): the trainer's downloads from
the session page, the credit note button, the client's link from the invoice message, and
a pack's invoice page (issue, download, the client's link, credit note).
"""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.domain.errors import Conflict, NotFound
from chalicelib.domain.invoices import parse_number_label
from chalicelib.services import invoices
from chalicelib.services.auth import CurrentSession
from chalicelib.web import forms, request_state
from chalicelib.web.render import redirect, render
from chalicelib.web.views import FORM, error_page, trainer

bp = Blueprint(__name__)

PDF = "application/pdf"
# One person's document, reached by a capability link: never kept by a cache (the same
# link turns from invoice to receipt once paid) nor indexed.
CACHE = "private, no-store"


def _pdf(document: invoices.Pdf) -> Response:
    return Response(
        body=document.body,
        status_code=200,
        headers={
            "Content-Type": PDF,
            # Shown in the browser's PDF viewer, saved under its own number.
            "Content-Disposition": f'inline; filename="{document.filename}"',
            "Cache-Control": CACHE,
            "X-Robots-Tag": "noindex",
        },
    )


def _no_invoice() -> Response:
    return error_page(
        404,
        "No numbered invoice",
        "This session has no numbered invoice: it was sent before invoices were numbered, "
        "or canceled by a credit note. Send the invoice to issue one.",
    )


@bp.route("/dashboard/sessions/{ref}/invoice.pdf", methods=["GET"])
@trainer
def session_invoice(session: CurrentSession, ref: str) -> Response:
    try:
        return _pdf(invoices.trainer_pdf(request_state.deps(), session.trainer, ref))
    except NotFound:
        return _no_invoice()


@bp.route("/dashboard/sessions/{ref}/credit-note", methods=["POST"], content_types=FORM)
@trainer
def credit_note(session: CurrentSession, ref: str) -> Response:
    try:
        note = invoices.credit_session_invoice(request_state.deps(), session.trainer, ref)
    except NotFound:
        return _no_invoice()
    return redirect(f"/dashboard/invoices/{note.label}.pdf")


@bp.route("/dashboard/invoices/{name}", methods=["GET"])
@trainer
def document(session: CurrentSession, name: str) -> Response:
    number = parse_number_label(name.removesuffix(".pdf")) if name.endswith(".pdf") else None
    if number is None:
        raise NotFound(name)
    return _pdf(invoices.trainer_document_pdf(request_state.deps(), session.trainer, number))


@bp.route("/i/{name}", methods=["GET"])
def client_invoice(name: str) -> Response:
    """The client's link: no sign-in, no cookie; the token is the capability."""
    try:
        return _pdf(invoices.client_pdf(request_state.deps(), name))
    except NotFound:
        return render("portal/gone.html", status=404, title="This link is not valid")
    except invoices.InvoiceLinkGone:
        return render(
            "portal/gone.html",
            status=410,
            title="This invoice link is no longer active",
            message="Ask your trainer for the invoice again.",
        )


# A pack's invoice (docs/invoices.md "Packs"): its page from the bundle page's Payment card.
def _pack_path(bundle_id: str) -> str:
    return f"/dashboard/bundles/{bundle_id}/invoice"


PACK_SAVED = {
    "issued": "Invoice issued.",
    "already": "This pack already had its invoice: nothing was issued twice.",
}


def _pack_page(
    session: CurrentSession, bundle_id: str, status: int = 200, **context: object
) -> Response:
    state = request_state.current()
    page = invoices.pack_invoice_page(request_state.deps(), session.trainer, bundle_id)
    saved = state.query("saved")
    return render(
        "invoices/pack.html",
        status=status,
        page=page,
        tab="programs",
        confirming=state.query("confirm"),
        saved=PACK_SAVED.get(saved or ""),
        **context,
    )


@bp.route("/dashboard/bundles/{bundle_id}/invoice", methods=["GET"])
@trainer
def pack_invoice(session: CurrentSession, bundle_id: str) -> Response:
    return _pack_page(session, bundle_id)


@bp.route("/dashboard/bundles/{bundle_id}/invoice", methods=["POST"], content_types=FORM)
@trainer
def pack_invoice_change(session: CurrentSession, bundle_id: str) -> Response:
    form, deps = request_state.current().form(), request_state.deps()
    if form.get("action") == "credit_note":
        try:
            note = invoices.credit_bundle_invoice(deps, session.trainer, bundle_id)
        except NotFound:
            return _pack_page(
                session, bundle_id, 404, errors={"_form": "This pack has no invoice to credit."}
            )
        return redirect(f"/dashboard/invoices/{note.label}.pdf")
    command = forms.command(invoices.IssuePackInvoice, form, bundle_id=bundle_id)
    try:
        _invoice, new = invoices.issue_for_bundle(deps, session.trainer, command)
    except Conflict as exc:
        # The page as it is now, with why: a reload shows what changed.
        return _pack_page(session, bundle_id, 409, errors={"_form": exc.user_message})
    return redirect(_pack_path(bundle_id), saved="issued" if new else "already")


@bp.route("/dashboard/bundles/{bundle_id}/invoice.pdf", methods=["GET"])
@trainer
def pack_invoice_pdf(session: CurrentSession, bundle_id: str) -> Response:
    try:
        return _pdf(invoices.trainer_pack_pdf(request_state.deps(), session.trainer, bundle_id))
    except NotFound:
        return error_page(
            404,
            "No invoice for this pack",
            "This pack has no invoice: none was issued, or it was canceled by a credit "
            "note. Issue one from the pack's invoice page.",
        )

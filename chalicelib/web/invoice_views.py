"""Invoice, receipt and credit note PDFs (docs/invoices.md): the trainer's downloads from
the session page, the credit note button, and the client's link from the invoice message.
"""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.domain.errors import NotFound
from chalicelib.domain.invoices import parse_number_label
from chalicelib.services import invoices
from chalicelib.services.auth import CurrentSession
from chalicelib.web import request_state
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

"""PT Bookings: registers the blueprints, the middleware and the scheduled functions."""

from chalice import Chalice, Rate

from chalicelib.web import (
    auth_views,
    bank_views,
    card_views,
    client_views,
    dashboard_views,
    document_views,
    feed_views,
    invoice_views,
    jobs_entry,
    message_views,
    portal_views,
    program_views,
    reports_views,
    schedule_views,
    session_views,
    time_off_views,
    webhook_views,
)
from chalicelib.web.middleware import http_middleware

# Chalice's own log handler would write its "Caught exception for path …" lines as plain
# text, outside the JSON formatter and its redaction (a path can hold a client's token):
# chalicelib/observability.py configures the one handler instead.
app = Chalice(app_name="pt-bookings", configure_logs=False)
# The bank statement upload: API Gateway hands a multipart body over byte for byte.
app.api.binary_types.append("multipart/form-data")
# Invoice and receipt PDFs (web/invoice_views.py) leave as bytes.
app.api.binary_types.append("application/pdf")
app.register_middleware(http_middleware, "http")
app.register_blueprint(auth_views.bp)
app.register_blueprint(dashboard_views.bp)
app.register_blueprint(client_views.bp)
app.register_blueprint(schedule_views.bp)
app.register_blueprint(session_views.bp)
app.register_blueprint(portal_views.bp)
app.register_blueprint(message_views.bp)
app.register_blueprint(program_views.bp)
app.register_blueprint(time_off_views.bp)
app.register_blueprint(webhook_views.bp)
app.register_blueprint(feed_views.bp)
app.register_blueprint(reports_views.bp)
app.register_blueprint(bank_views.bp)
app.register_blueprint(card_views.bp)
app.register_blueprint(invoice_views.bp)
app.register_blueprint(document_views.bp)


@app.schedule(Rate(1, unit=Rate.MINUTES), name="expire_offer_locks")
def expire_offer_locks(event: object) -> dict:
    return jobs_entry.expire_offer_locks(getattr(event, "context", None))


@app.schedule(Rate(1, unit=Rate.MINUTES), name="dispatch_messages")
def dispatch_messages(event: object) -> dict:
    return jobs_entry.dispatch_messages(getattr(event, "context", None))


@app.schedule(Rate(5, unit=Rate.MINUTES), name="queue_reminders")
def queue_reminders(event: object) -> dict:
    return jobs_entry.queue_reminders(getattr(event, "context", None))


@app.schedule(Rate(1, unit=Rate.HOURS), name="apply_templates")
def apply_templates(event: object) -> dict:
    return jobs_entry.apply_templates(getattr(event, "context", None))

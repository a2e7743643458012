"""PT Bookings' Lambda entry points: the web app's routes and the four scheduled jobs.

Importing this module is the init phase of every cold start, in all five functions. It
loads the libraries they all use and none of our views, services or stores: a route's
view module is imported by the first request that reaches it, a job's code by its first
run. So a client opening their link loads the portal's code, not the dashboard's, and the
offer-expiry job never loads a page (docs/cold-start.md, "What a cold start imports").

The routes themselves are declared on the views (`@bp.route`); chalicelib/web/route_table.py
is their generated copy (`make routes`), which this module registers without importing them.
"""

from collections.abc import Callable
from importlib import import_module
from typing import Any

# Every function reads the table through boto3 and validates with pydantic, and the web
# function and the message jobs render with jinja2. Importing them here puts that work in
# Lambda's init phase, before the first request, which would import them anyway.
import boto3  # noqa: F401
import jinja2  # noqa: F401
import pydantic  # noqa: F401
from chalice import Chalice, Rate

from chalicelib import observability
from chalicelib.web.route_table import ROUTES

# Once per container, before anything logs: every function enters through this module.
observability.configure_logging()

# Chalice's own log handler would write its "Caught exception for path …" lines as plain
# text, outside the JSON formatter and its redaction (a path can hold a client's token):
# chalicelib/observability.py configures the one handler instead.
app = Chalice(app_name="pt-bookings", configure_logs=False)
# The bank statement upload: API Gateway hands a multipart body over byte for byte.
app.api.binary_types.append("multipart/form-data")
# Invoice and receipt PDFs (web/invoice_views.py) leave as bytes.
app.api.binary_types.append("application/pdf")


def _view(module: str, function: str) -> Callable[..., Any]:
    """The route's view function, looked up in its module at each call (the module is
    imported by the first call; after that the lookup is a dictionary read)."""
    qualified = f"chalicelib.web.{module}"

    def view(**path_params: str) -> Any:
        return getattr(import_module(qualified), function)(**path_params)

    view.__name__ = view.__qualname__ = function
    return view


for _path, _method, _content_types, _module, _function in ROUTES:
    app.route(
        _path,
        methods=[_method],
        content_types=list(_content_types),
        name=f"{_module}.{_function}",
    )(_view(_module, _function))


@app.middleware("http")
def http_middleware(event: Any, get_response: Callable[[Any], Any]) -> Any:
    from chalicelib.web import middleware  # deferred: see the module docstring

    return middleware.http_middleware(event, get_response)


@app.schedule(Rate(1, unit=Rate.MINUTES), name="expire_offer_locks")
def expire_offer_locks(event: object) -> dict:
    from chalicelib.web import jobs_entry

    return jobs_entry.expire_offer_locks(getattr(event, "context", None))


@app.schedule(Rate(1, unit=Rate.MINUTES), name="dispatch_messages")
def dispatch_messages(event: object) -> dict:
    from chalicelib.web import jobs_entry

    return jobs_entry.dispatch_messages(getattr(event, "context", None))


@app.schedule(Rate(5, unit=Rate.MINUTES), name="queue_reminders")
def queue_reminders(event: object) -> dict:
    from chalicelib.web import jobs_entry

    return jobs_entry.queue_reminders(getattr(event, "context", None))


@app.schedule(Rate(1, unit=Rate.HOURS), name="apply_templates")
def apply_templates(event: object) -> dict:
    from chalicelib.web import jobs_entry

    return jobs_entry.apply_templates(getattr(event, "context", None))

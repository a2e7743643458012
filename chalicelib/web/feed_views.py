"""Calendar feeds (.ics): the trainer's and each client's subscription, one session's
"Add to calendar", and the pages that show the feed links (Settings, the portal).

Feeds are fetched by calendar apps, without cookies: they load no session, and answer
with an ETag so an unchanged feed costs its reads but no body (304).
"""

from __future__ import annotations

import hashlib
from typing import Any

from chalice import Blueprint, Response

from chalicelib.domain.errors import NotFound
from chalicelib.services import calendar_feeds
from chalicelib.services.auth import CurrentSession
from chalicelib.services.portal import LinkInactive
from chalicelib.web import forms, request_state
from chalicelib.web.portal_views import capability
from chalicelib.web.render import redirect, render
from chalicelib.web.views import FORM, trainer

bp = Blueprint(__name__)

CALENDAR = "text/calendar; charset=utf-8"
# Private: a feed is one person's; five minutes spares a phone's eager refreshes.
CACHE = "private, max-age=300"


def _etag(body: str) -> str:
    return '"' + hashlib.sha256(body.encode()).hexdigest()[:32] + '"'


def _matches(if_none_match: str, etag: str) -> bool:
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag in tags


def _calendar(body: str, attachment: str | None = None) -> Response:
    etag = _etag(body)
    headers = {"Content-Type": CALENDAR, "ETag": etag, "Cache-Control": CACHE}
    if attachment:
        headers["Content-Disposition"] = f'attachment; filename="{attachment}"'
    sent = request_state.current().request.headers.get("if-none-match", "")
    if sent and _matches(sent, etag):
        return Response(body="", status_code=304, headers=headers)
    return Response(body=body, status_code=200, headers=headers)


def _feed(make: Any, name: str) -> Response:
    """A feed by its file name (`<token>.ics`): 404 for a forged or unknown one, 410 for
    one rotated or whose client is archived."""
    token = name.removesuffix(calendar_feeds.SUFFIX)
    try:
        if token == name:
            raise NotFound("feed")
        return _calendar(make(request_state.deps(), token))
    except NotFound:
        return render("portal/gone.html", status=404, title="This link is not valid")
    except LinkInactive:
        return render(
            "portal/gone.html",
            status=410,
            title="This calendar link is no longer active",
            message="Ask for the current link and subscribe to it instead.",
        )


@bp.route("/feeds/t/{name}", methods=["GET"])
def trainer_feed(name: str) -> Response:
    return _feed(calendar_feeds.trainer_feed, name)


@bp.route("/feeds/c/{name}", methods=["GET"])
def client_feed(name: str) -> Response:
    return _feed(calendar_feeds.client_feed, name)


# One session: "Add to calendar" ---------------------------------------------------------
@bp.route("/s/{token}/calendar.ics", methods=["GET"])
@capability
def session_ics(token: str) -> Response:
    body = calendar_feeds.session_ics(request_state.deps(), token)
    return _calendar(body, attachment="session.ics")


# The portal's page for the client's feed --------------------------------------------------
@bp.route("/c/{token}/calendar", methods=["GET"])
@capability
def client_feed_page(token: str) -> Response:
    page = calendar_feeds.client_feed_page(request_state.deps(), token)
    return render("portal/calendar.html", page=page)


# Settings → Calendar feed -------------------------------------------------------------------
SAVED = {"rotated": "New link made. The old one no longer works: subscribe to this one."}


@bp.route("/dashboard/settings/calendar", methods=["GET"])
@trainer
def feed_settings(session: CurrentSession) -> Response:
    page = calendar_feeds.feed_settings_page(request_state.deps(), session.trainer.id)
    return render(
        "settings/calendar.html",
        tab="settings",
        subtab="calendar",
        page=page,
        saved=SAVED.get(request_state.current().query("saved")),
    )


@bp.route("/dashboard/settings/calendar", methods=["POST"], content_types=FORM)
@trainer
def feed_rotate(session: CurrentSession) -> Response:
    command = forms.command(calendar_feeds.RotateFeed, request_state.current().form())
    calendar_feeds.rotate_trainer_feed(request_state.deps(), session.trainer.id, command)
    return redirect("/dashboard/settings/calendar", saved="rotated")

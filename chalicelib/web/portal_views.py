"""Client portal pages, opened from personal links (no password)."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib import runtime
from chalicelib.domain.errors import NotFound
from chalicelib.services import portal
from chalicelib.web.render import render

bp = Blueprint(__name__)


@bp.route("/c/{token}", methods=["GET"])
def portal_home(token: str) -> Response:
    try:
        home = portal.open_portal(runtime.repository(), token, runtime.now())
    except NotFound:
        return render("portal/gone.html", status=404, title="This link is not valid")
    except portal.LinkInactive:
        return render("portal/gone.html", status=410, title="This link is no longer active")
    return render(
        "portal/home.html",
        home=home,
        places={lid: loc.name for lid, loc in home.trainer.locations.items()},
    )

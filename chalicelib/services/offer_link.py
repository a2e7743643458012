"""The offer link (`/o/<token>`): the page a client opens from a last-minute offer, and
Accept.

The lock rules stay in `services.offers`; this module turns what they return into the
page's view model and the link a client lands on. It is not in `services.portal` only
because `services.offers` imports the portal's `LinkInactive`, so the portal cannot
import offers without a cycle.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain.schedule import Slot
from chalicelib.services import offers
from chalicelib.services.deps import Deps
from chalicelib.services.links import Links


@dataclass(frozen=True)
class OfferPage:
    trainer_name: str
    time_zone: str  # the trainer's: "until 18:30" is read on the trainer's clock
    slot: Slot | None
    place: str
    problem: str | None  # why it cannot be accepted now (withdrawn, taken, over)
    accepted: bool  # the client already took the slot through this offer
    minutes_left: int  # the countdown's fallback without JavaScript
    session_link: str | None  # "/s/<token>" of the session the offer became

    @property
    def status(self) -> int:
        return 410 if self.problem else 200


def _session_link(links: Links, view: offers.OfferView, session_id: str) -> str:
    client = view.client
    return "/s/" + links.session(view.trainer.id, client.id, client.portal_generation, session_id)


def offer_page(deps: Deps, token: str) -> OfferPage:
    """The offer page: the token, then client + profile + slot in one BatchGetItem."""
    view = offers.open_offer(deps.repo, token, deps.now)
    return OfferPage(
        trainer_name=view.trainer.display_name,
        time_zone=view.trainer.settings.time_zone,
        slot=view.slot,
        place=view.place,
        problem=view.problem,
        accepted=view.accepted,
        # Rounded up: "1 min" while any seconds are left, never "0 min" on a live offer.
        minutes_left=(view.seconds_left(deps.now) + 59) // 60,
        session_link=_session_link(deps.links, view, view.session_id) if view.accepted else None,
    )


def accept_offer(deps: Deps, token: str) -> str:
    """Accept: the path of the client's session ("/s/<token>"), also when this client
    had already accepted (a second tab, a double tap). InvalidInput when it cannot be."""
    try:
        view, session = offers.accept(deps.repo, deps.links, token, deps.now, deps.base_url)
    except offers.AlreadyAccepted as done:
        return _session_link(deps.links, done.view, done.view.session_id)
    return _session_link(deps.links, view, session.id)

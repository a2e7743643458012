"""Calendar feeds: the trainer's and each client's subscription, and one session's .ics.

Feed links are capability links like the portal's, but derived rather than stored:
`<ids>.<generation>.<HMAC of the stage secret>`. A forged or altered link (another
trainer's id, another client's) fails the HMAC before any read; a real one costs one read
to learn whether it is still current:
- the trainer's feed: the profile and the feed's generation (one BatchGetItem), then two
  Queries of TrainerTimeline over the window (live sessions; canceled and moved ones).
  Rotating it (Settings) raises the generation with one conditional write.
- a client's feed: the client, profile and template (the portal's BatchGetItem), then one
  Query of ClientTimeline. It carries the client's portal generation, so rotating the
  portal link (or archiving the client) retires the feed with it, with no write of its own.
Reads are bounded by `domain.calendar.feed_window`, never all history.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import field_validator

from chalicelib.domain.calendar import (
    TRAINER_FEED_LIMIT,
    WINDOW_TEXT,
    build_calendar,
    client_event,
    feed_window,
    parse_client_feed,
    parse_trainer_feed,
    trainer_events,
)
from chalicelib.domain.commands import Command
from chalicelib.domain.errors import NotFound, VersionConflict
from chalicelib.services import portal
from chalicelib.services.deps import Deps

FEED_PATH_TRAINER = "/feeds/t/"
FEED_PATH_CLIENT = "/feeds/c/"
SUFFIX = ".ics"


class FeedRetired(portal.LinkInactive):
    """A real feed link that was rotated, or whose client is archived: 410."""


def _webcal(url: str) -> str:
    # Calendar apps subscribe (rather than import once) when the link says webcal://.
    scheme, sep, rest = url.partition("://")
    return f"webcal://{rest}" if sep and scheme in ("http", "https") else url


# The trainer's feed -------------------------------------------------------------------
def trainer_feed(deps: Deps, token: str) -> str:
    """The trainer's feed: every session in the window with each client's name and the
    location; booked ones confirmed, canceled, moved and voided ones as cancelled (with
    SEQUENCE raised by the change), as the client's feed shows them."""
    parsed = parse_trainer_feed(token)
    if parsed is None or not deps.links.is_trainer_feed(
        parsed.trainer_id, parsed.generation, parsed.mac
    ):
        raise NotFound("feed")
    trainer, generation = deps.repo.calendar_feed_view(parsed.trainer_id)
    if trainer is None:
        raise NotFound("feed")
    if parsed.generation != generation:
        raise FeedRetired("rotated")
    since, until = feed_window(deps.now)
    sessions = deps.repo.trainer_feed_sessions(trainer.id, since, until, TRAINER_FEED_LIMIT)
    places = {lid: loc.name for lid, loc in trainer.locations.items()}
    return build_calendar(
        f"{trainer.display_name} · PT Bookings",
        f"Your sessions with clients. {WINDOW_TEXT}",
        trainer.settings.time_zone,
        trainer_events(sessions, places),
    ).decode()


@dataclass(frozen=True)
class FeedSettingsPage:
    """Settings → Calendar feed: the link to subscribe to, and what a rotation needs."""

    feed_url: str
    subscribe_url: str  # the same as webcal://, which calendar apps subscribe to
    generation: int
    window: str


def feed_settings_page(deps: Deps, trainer_id: str) -> FeedSettingsPage:
    """One read: the feed's generation (the profile came with the session)."""
    generation = deps.repo.calendar_feed_generation(trainer_id)
    url = (
        f"{deps.base_url}{FEED_PATH_TRAINER}"
        f"{deps.links.trainer_feed(trainer_id, generation)}{SUFFIX}"
    )
    return FeedSettingsPage(url, _webcal(url), generation, WINDOW_TEXT)


class RotateFeed(Command):
    """Rotate: the generation the page showed, so a stale page rotates nothing."""

    generation: int = -1

    @field_validator("generation", mode="before")
    @classmethod
    def _unreadable_is_stale(cls, value: Any) -> Any:
        # A missing or garbled hidden field is a stale or tampered page, not a typo.
        text = str(value if value is not None else "").strip()
        return int(text) if text.isascii() and text.isdigit() else -1


def rotate_trainer_feed(deps: Deps, trainer_id: str, command: RotateFeed) -> int:
    """Retire the shown link and make the next one: one conditional write (a stale page
    or a second click at once is refused by the write itself)."""
    if command.generation < 0:  # the hidden field was missing or garbled: a stale page
        raise VersionConflict()
    return deps.repo.rotate_calendar_feed(trainer_id, command.generation)


# A client's feed ------------------------------------------------------------------------
def client_feed(deps: Deps, token: str) -> str:
    """One client's sessions in the window, in every status: canceled, moved and voided
    ones as STATUS:CANCELLED, so the client's calendar shows the change."""
    parsed = parse_client_feed(token)
    if parsed is None or not deps.links.is_client_feed(
        parsed.trainer_id, parsed.client_id, parsed.generation, parsed.mac
    ):
        raise NotFound("feed")
    client, trainer, _template, _, _ = deps.repo.portal_view(parsed.trainer_id, parsed.client_id)
    if client.archived or client.portal_generation != parsed.generation:
        raise FeedRetired("rotated")
    since, until = feed_window(deps.now)
    places = {lid: loc.name for lid, loc in trainer.locations.items()}
    links = deps.links
    events = [
        client_event(
            session,
            trainer.display_name,
            places.get(session.location_id, ""),
            f"{deps.base_url}/s/"
            + links.session(trainer.id, client.id, client.portal_generation, session.id),
        )
        for session in deps.repo.client_feed_sessions(trainer.id, client.id, since, until)
    ]
    return build_calendar(
        f"Sessions with {trainer.display_name}",
        f"Your sessions with {trainer.display_name}. {WINDOW_TEXT}",
        trainer.settings.time_zone,
        events,
    ).decode()


@dataclass(frozen=True)
class ClientFeedPage:
    """The portal's "Add to my calendar" page."""

    trainer_name: str
    home_token: str
    feed_url: str
    subscribe_url: str
    window: str


def client_feed_page(deps: Deps, portal_token: str) -> ClientFeedPage:
    """The portal link's two reads; the feed link itself is made, not read."""
    context = portal.open_client(deps.repo, deps.links, portal_token)
    token = deps.links.client_feed(context.trainer.id, context.client)
    url = f"{deps.base_url}{FEED_PATH_CLIENT}{token}{SUFFIX}"
    return ClientFeedPage(
        context.trainer.display_name, portal_token, url, _webcal(url), WINDOW_TEXT
    )


# One session: "Add to calendar" -------------------------------------------------------------
def session_ics(deps: Deps, token: str) -> str:
    """One session's event, from its /s/ link: the same two reads as the page."""
    view = portal.open_session_link(deps.repo, deps.links, token)
    context, session = view.context, view.session
    event = client_event(
        session,
        context.trainer.display_name,
        context.places.get(session.location_id, ""),
        f"{deps.base_url}/s/{token}",
    )
    return build_calendar(
        f"Session with {context.trainer.display_name}",
        f"Your session with {context.trainer.display_name}.",
        context.trainer.settings.time_zone,
        [event],
    ).decode()

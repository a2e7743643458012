"""Tokens (sign-in links, session cookies, capability links) and rate-limit windows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.domain.errors import VersionConflict
from chalicelib.domain.models import Trainer
from chalicelib.domain.schedule import Session
from chalicelib.domain.timeutil import parse_utc_iso, utc_iso
from chalicelib.repo import keys
from chalicelib.repo.dynamo import (
    Condition,
    ConditionFailed,
    Db,
    Item,
    new_item,
    tx_put,
    tx_update,
)
from chalicelib.repo.mapping import (
    GONE_STATUSES,
    TokenRecord,
    session_from_item,
    trainer_from_item,
    trainer_timeline_keys,
)
from chalicelib.repo.outbox import Outbox
from chalicelib.repo.parts import epoch

USE_TOKEN = "use single-use token"
NEW_SESSION_COOKIE = "new session cookie"


class TokenStore:
    db: Db
    outbox: Outbox

    # Tokens (sign-in links, session cookies) -----------------------------------------
    def put_token(
        self, token_hash: str, kind: str, expires_at: datetime, data: dict[str, Any]
    ) -> None:
        self.db.put(
            {
                **keys.token(token_hash),
                "type": "token",
                "kind": kind,
                "expires_at": utc_iso(expires_at),
                # TTL only tidies up (a day late is fine): validity is decided in code
                # and in write conditions against "now".
                keys.TTL: epoch(expires_at) + 86400,
                **data,
            },
            new_item(),
        )

    def get_token(self, token_hash: str) -> TokenRecord | None:
        item = self.db.get(keys.token(token_hash))
        return self._token_record(item) if item else None

    @staticmethod
    def _token_record(item: Item) -> TokenRecord:
        reserved = {keys.PK, keys.SK, "type", "kind", "expires_at", "used_at", keys.TTL}
        # revoked_at stays in data: portal links are revoked rather than used
        return TokenRecord(
            kind=item["kind"],
            expires_at=parse_utc_iso(item["expires_at"]),
            used_at=parse_utc_iso(item["used_at"]) if item.get("used_at") else None,
            data={k: v for k, v in item.items() if k not in reserved},
        )

    def use_token_op(self, token_hash: str, kind: str, now: datetime) -> dict[str, Any]:
        """Transaction part that marks a single-use token used, if valid at `now`."""
        return tx_update(
            keys.token(token_hash),
            Condition("SET #used_at = :now", {"#used_at": "used_at"}, {":now": utc_iso(now)}),
            Condition(
                "attribute_exists(#pk) AND #kind = :kind AND attribute_not_exists(#used_at)"
                " AND #expires_at > :now",
                {
                    "#pk": keys.PK,
                    "#kind": "kind",
                    "#expires_at": "expires_at",
                    "#used_at": "used_at",
                },
                {":kind": kind, ":now": utc_iso(now)},
            ),
            part=USE_TOKEN,
        )

    def session_op(self, token_hash: str, trainer_id: str, csrf: str, expires_at: datetime) -> Any:
        return tx_put(
            {
                **keys.token(token_hash),
                "type": "token",
                "kind": "session",
                "trainer_id": trainer_id,
                "csrf": csrf,
                "expires_at": utc_iso(expires_at),
                keys.TTL: epoch(expires_at) + 86400,
            },
            new_item(),
            part=NEW_SESSION_COOKIE,
        )

    def transact(self, operations: list[dict[str, Any]]) -> None:
        self.db.transact(operations)

    def delete_token(self, token_hash: str) -> None:
        self.db.delete(keys.token(token_hash))

    def session_with_profile(
        self, token_hash: str, trainer_id: str
    ) -> tuple[TokenRecord | None, Trainer | None]:
        """The session and the trainer's profile in one round trip (BatchGetItem)."""
        items = self.db.batch_get([keys.token(token_hash), keys.profile(trainer_id)])
        token = profile = None
        for item in items:
            if item[keys.SK] == "TOKEN":
                token = self._token_record(item)
            else:
                profile = trainer_from_item(item)
        return token, profile

    # Rate limits ---------------------------------------------------------------------
    def count_attempt(
        self, scope: str, subject_hash: str, window_start: int, window_seconds: int, limit: int
    ) -> bool:
        """Count one attempt in a fixed window; False once the window's limit is reached."""
        try:
            self.db.update(
                keys.rate_window(scope, subject_hash, window_start),
                Condition(
                    "ADD #n :one SET #ttl = :ttl",
                    {"#n": "attempts", "#ttl": keys.TTL},
                    {":one": 1, ":ttl": window_start + 2 * window_seconds},
                ),
                Condition(
                    "attribute_not_exists(#n) OR #n < :limit", {"#n": "attempts"}, {":limit": limit}
                ),
            )
        except ConditionFailed:
            return False
        return True

    def release_attempt(self, scope: str, subject_hash: str, window_start: int) -> None:
        """Give back an attempt that did not happen after all (e.g. the email bounced)."""
        try:
            self.db.update(
                keys.rate_window(scope, subject_hash, window_start),
                Condition("ADD #n :minus_one", {"#n": "attempts"}, {":minus_one": -1}),
                Condition("#n > :zero", {"#n": "attempts"}, {":zero": 0}),
            )
        except ConditionFailed:
            return  # the window has passed or was never counted: nothing to give back

    # Calendar feeds (issue 15 item 4) -------------------------------------------------
    # Feed links are derived (HMAC of the stage secret), never stored: what the table keeps
    # is the trainer feed's generation, so a rotation is one conditional write.
    def calendar_feed_view(self, trainer_id: str) -> tuple[Trainer | None, int]:
        """The trainer's profile and their feed's generation in one BatchGetItem."""
        found = {
            item[keys.SK]: item
            for item in self.db.batch_get(
                [keys.profile(trainer_id), keys.trainer_calendar_feed(trainer_id)]
            )
        }
        profile = found.get(keys.PROFILE_SK)
        feed = found.get(keys.trainer_calendar_feed(trainer_id)[keys.SK])
        return (
            trainer_from_item(profile) if profile else None,
            int(feed["generation"]) if feed else 0,
        )

    def calendar_feed_generation(self, trainer_id: str) -> int:
        item = self.db.get(keys.trainer_calendar_feed(trainer_id))
        return int(item["generation"]) if item else 0

    def rotate_calendar_feed(self, trainer_id: str, seen: int) -> int:
        """Retire the feed link the page showed (generation `seen`) for the next one. The
        write itself checks `seen`: a stale page or a second click at once is refused
        rather than rotating twice."""
        condition = (
            Condition("attribute_not_exists(#g)", {"#g": "generation"})
            if seen == 0
            else Condition("#g = :seen", {"#g": "generation"}, {":seen": seen})
        )
        try:
            self.db.update(
                keys.trainer_calendar_feed(trainer_id),
                Condition(
                    "SET #g = :next, #type = :type",
                    {"#g": "generation", "#type": "type"},
                    {":next": seen + 1, ":type": "calendar-feed"},
                ),
                condition,
            )
        except ConditionFailed as exc:
            raise VersionConflict() from exc
        return seen + 1

    def trainer_feed_sessions(
        self, trainer_id: str, since: datetime, until: datetime, limit: int
    ) -> list[Session]:
        """The trainer's sessions starting in [since, until), soonest first: two Queries
        of TrainerTimeline over the window, each at most `limit` sessions: the live
        partition (booked and voided, what the Sessions tab reads) and the gone one
        (canceled and moved). Nothing outside the window is read however old the account.

        The index is eventually consistent and the two Queries are two moments: a session
        canceled between them may come from both, so the one with the higher version (the
        later write) is kept."""
        window = (keys.timeline_point(utc_iso(since)), keys.timeline_point(utc_iso(until)))
        found: dict[str, Session] = {}
        for partition in (
            keys.trainer_timeline(trainer_id),
            keys.trainer_gone_timeline(trainer_id),
        ):
            for item in self.db.query(
                partition, index=keys.TRAINER_INDEX, sk_range=window, limit=limit
            ):
                session = session_from_item(item)
                seen = found.get(session.id)
                if seen is None or session.version > seen.version:
                    found[session.id] = session
        return sorted(found.values(), key=lambda s: (s.start_utc, s.id))

    def client_feed_sessions(
        self, trainer_id: str, client_id: str, since: datetime, until: datetime
    ) -> list[Session]:
        """Every session of one client starting in [since, until), in any status (the
        ClientTimeline keeps canceled and moved ones), soonest first."""
        items = self.db.query(
            keys.client_timeline(trainer_id, client_id),
            index=keys.CLIENT_INDEX,
            sk_range=(keys.timeline_point(utc_iso(since)), keys.timeline_point(utc_iso(until))),
        )
        return [session_from_item(i) for i in items]

    # Sessions canceled or moved before the feed showed them: `infra.manage feed-keys` ----
    def backfill_gone_sessions(self, trainer_id: str) -> int:
        """Give a trainer's canceled and moved sessions written before the gone partition
        existed (no TrainerTimeline keys at all) the keys a write of them would now set.
        Never a Scan: one paged Query of the trainer's clients (archived ones too), then
        one paged Query of each client's ClientTimeline, which keeps every session in any
        status; one conditional UpdateItem per session found. Running it again, or two at
        once, writes each session once."""
        written = 0
        for client_item in self.db.iter_query(
            keys.trainer_pk(trainer_id), sk_prefix=keys.CLIENT_PREFIX
        ):
            client_id = keys.client_id_from_sk(client_item[keys.SK])
            for item in self.db.iter_query(
                keys.client_timeline(trainer_id, client_id),
                index=keys.CLIENT_INDEX,
                sk_range=("0", "~"),  # the whole history: a one-off, and cheap per client
            ):
                if (
                    item.get("type") != "session"
                    or item.get("status") not in GONE_STATUSES
                    or keys.TRAINER_PK in item
                ):
                    continue
                written += self.give_gone_keys(trainer_id, session_from_item(item))
        return written

    def give_gone_keys(self, trainer_id: str, session: Session) -> bool:
        """One session's gone-partition keys, only over the session as read: same version,
        same status, still without TrainerTimeline keys (a write since has set its own,
        and a second run finds them there). False when refused."""
        timeline = trainer_timeline_keys(trainer_id, session)
        try:
            self.db.update(
                keys.session(trainer_id, session.week, utc_iso(session.start_utc), session.id),
                Condition(
                    "SET #tpk = :tpk, #tsk = :tsk",
                    {"#tpk": keys.TRAINER_PK, "#tsk": keys.TRAINER_SK},
                    {":tpk": timeline[keys.TRAINER_PK], ":tsk": timeline[keys.TRAINER_SK]},
                ),
                Condition(
                    "attribute_not_exists(#tpk) AND #status = :status AND #version = :read",
                    {"#tpk": keys.TRAINER_PK, "#status": "status", "#version": "version"},
                    {":status": session.status, ":read": session.version},
                ),
            )
        except ConditionFailed:
            return False
        return True

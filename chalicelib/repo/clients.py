"""The clients aggregate: clients, their portal links, opt-ins and portal reads.

Every write of a client item also writes the client's entry in the client index
(`client_index.index_entry`) in the same transaction, so the index never drifts from the
client items.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import suppress
from datetime import datetime
from typing import Any, Final

from chalicelib.domain.clients import Client
from chalicelib.domain.conversations import PhoneOwner
from chalicelib.domain.errors import Conflict, NotFound, VersionConflict
from chalicelib.domain.models import Trainer
from chalicelib.domain.schedule import (
    ClientBalance,
    Session,
    SessionRef,
)
from chalicelib.domain.template import WeeklyTemplate
from chalicelib.domain.time_off import TimeOff
from chalicelib.domain.timeutil import utc_iso
from chalicelib.repo import keys
from chalicelib.repo.client_index import index_entry
from chalicelib.repo.dynamo import (
    Condition,
    ConditionFailed,
    Db,
    Item,
    TransactionFailed,
    at_version,
    new_item,
    tx_delete,
    tx_put,
    tx_update,
)
from chalicelib.repo.mapping import (
    balance_from_item,
    client_from_item,
    client_to_item,
    session_from_item,
    template_from_item,
    trainer_from_item,
)
from chalicelib.repo.outbox import Outbox
from chalicelib.repo.parts import (
    client_is_active,
    epoch,
)
from chalicelib.repo.time_off import time_off_from_item

CLIENT_AT_VERSION = "client at version"


def client_at_version(
    trainer_id: str, client: Client, **changes: Any
) -> tuple[Client, list[dict[str, Any]]]:
    """The client with `changes`, saved only if still at the version read, and its index
    entry: the parts for a write that saves a client beside something else (a skip with
    the cancel it makes). A change of `recurring` also needs `save_client`'s claims."""
    if "skips" in changes and changes["skips"] != client.skips:
        changes = {**changes, "skips_rev": client.skips_rev + 1}
    updated = client.model_copy(update={**changes, "version": client.version + 1})
    return updated, [
        tx_put(
            client_to_item(trainer_id, updated), at_version(client.version), part=CLIENT_AT_VERSION
        ),
        index_entry(trainer_id, updated),
    ]


CLAIM_RECURRING = "claim recurring slot"
GIVE_UP_RECURRING = "give up recurring slot"
NEW_CLIENT = "new client"
NEW_BALANCE = "new client balance"
NEW_PORTAL_LINK = "new portal link"
RETIRE_PORTAL_LINK = "retire portal link"
OPT_IN = "opt in"
BATCH_GET_KEYS = 100  # DynamoDB's limit per BatchGetItem


CLIENT_OPT_OUT: Final = "client messages opt-out"


class ClientStore:
    db: Db
    outbox: Outbox

    # Clients -------------------------------------------------------------------------
    def list_clients(self, trainer_id: str) -> list[Client]:
        items = self.db.query(keys.trainer_pk(trainer_id), sk_prefix=keys.CLIENT_PREFIX)
        return [client_from_item(item) for item in items]

    def client_balance(self, trainer_id: str, client_id: str) -> ClientBalance:
        item = self.db.get(keys.client_balance(trainer_id, client_id))
        return ClientBalance() if item is None else balance_from_item(item)

    def count_balance(
        self, trainer_id: str, client_id: str, seen: ClientBalance, counted: ClientBalance
    ) -> bool:
        """Store a balance counted from the client's whole history, once, for a client
        from before balances were kept. Only if no session write moved the kept numbers
        since `seen` was read (a write in between is in the history read, or not: the
        condition makes sure it cannot be counted twice or lost). False if it lost."""
        condition = (
            Condition(
                "attribute_not_exists(#pk) OR (#unpaid = :u AND #count = :c)",
                {"#pk": keys.PK, "#unpaid": "unpaid_minor", "#count": "unpaid_count"},
                {":u": seen.unpaid_minor, ":c": seen.unpaid_count},
            )
            if not seen.unpaid_minor and not seen.unpaid_count
            else Condition(
                "#unpaid = :u AND #count = :c",
                {"#unpaid": "unpaid_minor", "#count": "unpaid_count"},
                {":u": seen.unpaid_minor, ":c": seen.unpaid_count},
            )
        )
        try:
            self.db.update(
                keys.client_balance(trainer_id, client_id),
                Condition(
                    "SET #unpaid = :unpaid, #count = :count, #counted = :yes, #type = :type, "
                    "#client = :client",
                    {
                        "#unpaid": "unpaid_minor",
                        "#count": "unpaid_count",
                        "#counted": "counted",
                        "#type": "type",
                        "#client": "client_id",
                    },
                    {
                        ":unpaid": counted.unpaid_minor,
                        ":count": counted.unpaid_count,
                        ":yes": True,
                        ":type": "balance",
                        ":client": client_id,
                    },
                ),
                condition,
            )
        except ConditionFailed:
            return False
        return True

    def phone_owners(self, e164: str) -> list[PhoneOwner]:
        """Every client, of any trainer, with this number (ClientsByPhone: no Scan). The
        index is eventually consistent: a client added a second ago may not be found yet,
        and their message is kept as "unknown" rather than guessed."""
        return [
            PhoneOwner(
                trainer_id=keys.trainer_id_from_pk(item[keys.PK]),
                client_id=keys.client_id_from_sk(item[keys.SK]),
                archived=bool(item.get("archived", False)),
            )
            for item in self.db.iter_query(keys.phone(e164), index=keys.PHONE_INDEX)
        ]

    def set_messages_opt_out(
        self, trainer_id: str, client_ids: Iterable[str], opt_out: bool
    ) -> None:
        """STOP / START (or the portal's toggle) for these clients, in one transaction.
        The version moves, so a profile form drawn before it is refused as stale instead
        of putting the old choice back; a client deleted meanwhile refuses it all."""
        operations = [
            tx_update(
                keys.client(trainer_id, client_id),
                Condition(
                    "SET #opt = :opt, #version = #version + :one",
                    {"#opt": "messages_opt_out", "#version": "version"},
                    {":opt": opt_out, ":one": 1},
                ),
                Condition("attribute_exists(#pk)", {"#pk": keys.PK}),
                part=CLIENT_OPT_OUT,
            )
            for client_id in sorted(set(client_ids))
        ]
        if not operations:
            return
        try:
            self.db.transact(operations)
        except TransactionFailed as exc:
            raise NotFound("client") from exc

    def get_client(self, trainer_id: str, client_id: str) -> Client:
        item = self.db.get(keys.client(trainer_id, client_id))
        if item is None:
            raise NotFound(client_id)
        return client_from_item(item)

    def client_with_balance(self, trainer_id: str, client_id: str) -> tuple[Client, ClientBalance]:
        """A client and their kept balance in one BatchGetItem (the profile page): two items
        in two partitions, fetched together rather than one after the other."""
        client_key = keys.client(trainer_id, client_id)
        balance_key = keys.client_balance(trainer_id, client_id)
        by_pk = {item[keys.PK]: item for item in self.db.batch_get([client_key, balance_key])}
        item = by_pk.get(client_key[keys.PK])
        if item is None:
            raise NotFound(client_id)
        balance = by_pk.get(balance_key[keys.PK])
        return client_from_item(item), (
            ClientBalance() if balance is None else balance_from_item(balance)
        )

    def get_clients(self, trainer_id: str, client_ids: Iterable[str]) -> list[Client]:
        """These clients (those that exist), one BatchGetItem per 100."""
        wanted = [keys.client(trainer_id, cid) for cid in dict.fromkeys(client_ids)]
        found: list[Client] = []
        for start in range(0, len(wanted), BATCH_GET_KEYS):
            chunk = wanted[start : start + BATCH_GET_KEYS]
            found += [client_from_item(i) for i in self.db.batch_get(chunk)]
        return found

    @staticmethod
    def _portal_token_op(trainer_id: str, client: Client, token_hash: str) -> dict[str, Any]:
        return tx_put(
            {
                **keys.token(token_hash),
                "type": "token",
                "kind": "portal",
                "trainer_id": trainer_id,
                "client_id": client.id,
                "generation": client.portal_generation,
                # a portal link does not expire; it dies when rotated (see rotate_portal)
                "expires_at": "9999-12-31T00:00:00Z",
            },
            new_item(),
            part=NEW_PORTAL_LINK,
        )

    def add_client(self, trainer_id: str, client: Client, portal_hash: str) -> None:
        """The client and their portal link's token (hash only), together."""
        self.db.transact(
            [
                tx_put(client_to_item(trainer_id, client), new_item(), part=NEW_CLIENT),
                index_entry(trainer_id, client),
                # A new client's kept balance starts counted (nothing is owed yet), so
                # their profile never needs to count it from the history.
                tx_put(
                    {
                        **keys.client_balance(trainer_id, client.id),
                        "type": "balance",
                        "client_id": client.id,
                        "unpaid_minor": 0,
                        "unpaid_count": 0,
                        "counted": True,
                    },
                    new_item(),
                    part=NEW_BALANCE,
                ),
                self._portal_token_op(trainer_id, client, portal_hash),
            ]
        )

    def rotate_portal(
        self,
        trainer_id: str,
        client: Client,
        old_hash: str,
        new_hash: str,
        now: datetime,
        **changes: Any,
    ) -> Client:
        """Revoke the current portal link and issue the next one, atomically, with any
        other `changes` to the client (restoring an archived client rotates too)."""
        rotated = client.model_copy(
            update={
                **changes,
                "portal_generation": client.portal_generation + 1,
                "version": client.version + 1,
            }
        )
        try:
            self.db.transact(
                [
                    tx_put(
                        client_to_item(trainer_id, rotated),
                        at_version(client.version),
                        part=CLIENT_AT_VERSION,
                    ),
                    # Kept (not deleted) so the old link answers "no longer active", not 404;
                    # TTL removes it after 90 days.
                    tx_update(
                        keys.token(old_hash),
                        Condition(
                            "SET #revoked_at = :now, #ttl = :ttl, #kind = :kind, "
                            "#client_id = :me, #trainer_id = :tid, #expires_at = :never",
                            {
                                "#revoked_at": "revoked_at",
                                "#ttl": keys.TTL,
                                "#kind": "kind",
                                "#client_id": "client_id",
                                "#trainer_id": "trainer_id",
                                "#expires_at": "expires_at",
                            },
                            {
                                ":now": utc_iso(now),
                                ":ttl": epoch(now) + 90 * 86400,
                                ":kind": "portal",
                                ":me": client.id,
                                ":tid": trainer_id,
                                ":never": "9999-12-31T00:00:00Z",
                            },
                        ),
                        Condition(
                            "attribute_not_exists(#pk) OR #client_id = :me",
                            {"#pk": keys.PK, "#client_id": "client_id"},
                            {":me": client.id},
                        ),
                        part=RETIRE_PORTAL_LINK,
                    ),
                    self._portal_token_op(trainer_id, rotated, new_hash),
                    index_entry(trainer_id, rotated),
                ]
            )
        except TransactionFailed as exc:
            raise VersionConflict() from exc
        return rotated

    def _client_and_profile(
        self, trainer_id: str, client_id: str, *more: dict[str, str]
    ) -> tuple[Client, Trainer, dict[str, Item]]:
        """A client, their trainer's profile and `more` items (by SK) in one BatchGetItem;
        NotFound unless the client and the profile both exist."""
        client_key = keys.client(trainer_id, client_id)
        found = {
            i[keys.SK]: i for i in self.db.batch_get([client_key, keys.profile(trainer_id), *more])
        }
        client, profile = found.get(client_key[keys.SK]), found.get(keys.PROFILE_SK)
        if client is None or profile is None:
            raise NotFound(client_id)
        return client_from_item(client), trainer_from_item(profile), found

    def portal_view(
        self, trainer_id: str, client_id: str, session: SessionRef | None = None
    ) -> tuple[Client, Trainer, WeeklyTemplate, Session | None, TimeOff]:
        """What a portal page needs in one BatchGetItem: the client, the trainer's profile,
        the weekly template (for opt-ins), the trainer's time off (never offered) and, for
        a session page, the session."""
        session_key = (
            keys.session(trainer_id, session.week, utc_iso(session.start_utc), session.id)
            if session
            else None
        )
        more = [
            keys.template(trainer_id),
            keys.time_off(trainer_id),
            *([session_key] if session_key else []),
        ]
        client, trainer, found = self._client_and_profile(trainer_id, client_id, *more)
        item = found.get(session_key[keys.SK]) if session_key else None
        return (
            client,
            trainer,
            template_from_item(found.get(keys.TEMPLATE_SK)),
            session_from_item(item) if item else None,
            time_off_from_item(found.get(keys.TIME_OFF_SK)),
        )

    def client_optins(self, trainer_id: str, client_id: str) -> set[str]:
        """The template slot ids a client has opted in to for last-minute offers, from the
        opt-in items (one per template slot, so at most the template's size)."""
        items = self.db.query(keys.trainer_pk(trainer_id), sk_prefix=keys.OPTIN_PREFIX)
        return {
            keys.template_slot_id_from_optin_sk(i[keys.SK])
            for i in items
            if client_id in (i.get("client_ids") or ())
        }

    def set_optin(self, trainer_id: str, client_id: str, template_slot_id: str, on: bool) -> None:
        """Opt in or out: adding to or removing from the template slot's set of client ids
        is idempotent, so a repeated or crossed tick cannot fail."""
        key = keys.optin(trainer_id, template_slot_id)
        names = {"#ids": "client_ids"}
        if not on:
            # Only where the item exists: never an empty item for a time nobody ticked.
            with suppress(ConditionFailed):
                self.db.update(
                    key,
                    Condition("DELETE #ids :id", names, {":id": {client_id}}),
                    Condition("attribute_exists(#pk)", {"#pk": keys.PK}),
                )
            return
        try:
            self.db.transact(
                [
                    tx_update(
                        key,
                        Condition(
                            "ADD #ids :id SET #type = :type, #slot = :slot",
                            {**names, "#type": "type", "#slot": "template_slot_id"},
                            {":id": {client_id}, ":type": "optins", ":slot": template_slot_id},
                        ),
                        part=OPT_IN,
                    ),
                    client_is_active(trainer_id, client_id),
                ]
            )
        except TransactionFailed as exc:
            raise NotFound(client_id) from exc

    def save_client(self, trainer_id: str, client: Client, **changes: Any) -> Client:
        """Replace the client if it is still at the version the form was rendered from.

        Recurring slots are claimed in the same transaction (one CFG#RECUR# item per
        template slot), so two clients can never hold the same one, even when saved at
        once; the client's index entry is written with it.
        """
        updated, operations = client_at_version(trainer_id, client, **changes)
        me = {":me": client.id}
        added = [t for t in updated.recurring if t not in client.recurring]
        removed = [t for t in client.recurring if t not in updated.recurring]
        operations += [
            tx_put(
                {
                    **keys.recurring_claim(trainer_id, t),
                    "type": "recurring",
                    "client_id": client.id,
                    "template_slot_id": t,
                },
                Condition(
                    "attribute_not_exists(#pk) OR #client_id = :me",
                    {"#pk": keys.PK, "#client_id": "client_id"},
                    me,
                ),
                part=CLAIM_RECURRING,
            )
            for t in added
        ]
        operations += [
            tx_delete(
                keys.recurring_claim(trainer_id, t),
                Condition("#client_id = :me", {"#client_id": "client_id"}, me),
                part=GIVE_UP_RECURRING,
            )
            for t in removed
        ]
        try:
            self.db.transact(operations)
        except TransactionFailed as exc:
            if exc.refused(CLAIM_RECURRING) and not exc.refused(CLIENT_AT_VERSION):
                raise Conflict(
                    "Another client took one of these recurring slots meanwhile. Reload the page."
                ) from exc
            raise VersionConflict() from exc
        return updated

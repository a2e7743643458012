"""The client index: one item (`T#<tid>` / `CFG#CLIENTS`) holding, per client, the little
that pickers, filters, counts and matching need, so those pages read one item instead of
every client item. And `index_clients`, the one-off migration of an account partition
written before it (docs/access-patterns.md, "Why a client index").

Each client is two top-level attributes of the item, not entries of a nested map:
- `C#<client id>`: `{name, archived, locations, generation}`, written by every write of
  the client item, in its transaction, from the client exactly as that write stores it
  (`index_entry`). The client item's own version condition is what keeps the entry exact:
  a refused save writes neither.
- `S#<client id>`: the portal link generation last copied or sent (`link_shared_mark`),
  written with the share's check that the link is still the client's current one.
A SET of a top-level attribute needs no read first and creates the item if it is
missing, so no write depends on the item having been made beforehand (a nested path
would fail until its parent map exists), and two writes for different clients never
touch the same attribute.

Size: DynamoDB's 400 KB item limit. A typical entry (12-character id, a 15-character
name, two enabled locations) and its share mark take about 115 bytes: ~3,500 clients.
With 80-character names and five locations each, ~1,900. A personal trainer has tens to
a few hundred.
"""

from __future__ import annotations

from typing import Any, Final

from chalicelib.domain.clients import Client
from chalicelib.repo import keys
from chalicelib.repo.dynamo import (
    Condition,
    ConditionFailed,
    Db,
    Item,
    TransactionFailed,
    at_version,
    new_item,
    tx_check,
    tx_update,
)
from chalicelib.repo.mapping import ClientSummary, client_from_item

CLIENT_INDEX_ENTRY: Final = "client index entry"
LINK_SHARED: Final = "portal link shared"
INDEX_CLIENT_AS_READ: Final = "client as read for the index"

ENTRY_PREFIX: Final = "C#"
SHARED_PREFIX: Final = "S#"


def entry_of(client: Client) -> dict[str, Any]:
    return {
        "name": client.name,
        "archived": client.archived,
        "locations": list(client.location_ids),
        "generation": client.portal_generation,
    }


def summaries_from_item(item: Item | None) -> dict[str, ClientSummary]:
    """The index item's entries, by client id (a share mark alone, for a client with no
    entry yet, is left out)."""
    if not item:
        return {}
    shared = {
        name.removeprefix(SHARED_PREFIX): int(value)
        for name, value in item.items()
        if name.startswith(SHARED_PREFIX)
    }
    summaries = {}
    for name, entry in item.items():
        if not name.startswith(ENTRY_PREFIX):
            continue
        client_id = name.removeprefix(ENTRY_PREFIX)
        summaries[client_id] = ClientSummary(
            id=client_id,
            name=entry["name"],
            archived=bool(entry.get("archived", False)),
            location_ids=tuple(entry.get("locations") or ()),
            portal_generation=int(entry.get("generation", 1)),
            shared_generation=shared.get(client_id),
        )
    return summaries


def index_entry(trainer_id: str, client: Client) -> dict[str, Any]:
    """Transaction part: the client's index entry, as the same transaction writes the
    client. No condition of its own: the client item's condition decides for both."""
    return tx_update(
        keys.client_index(trainer_id),
        Condition(
            "SET #entry = :entry, #type = :type",
            {"#entry": f"{ENTRY_PREFIX}{client.id}", "#type": "type"},
            {":entry": entry_of(client), ":type": "client_index"},
        ),
        part=CLIENT_INDEX_ENTRY,
    )


def link_shared_mark(trainer_id: str, client: Client) -> dict[str, Any]:
    """Transaction part: the client's current portal link generation was shared. Its
    transaction also checks that generation is still the client's (and them active)."""
    return tx_update(
        keys.client_index(trainer_id),
        Condition(
            "SET #shared = :generation, #type = :type",
            {"#shared": f"{SHARED_PREFIX}{client.id}", "#type": "type"},
            {":generation": client.portal_generation, ":type": "client_index"},
        ),
        part=LINK_SHARED,
    )


class ClientIndexStore:
    db: Db

    def client_summaries(self, trainer_id: str) -> list[ClientSummary]:
        """Every client of the index by name, archived ones included (the WhatsApp tab's
        filter): one GetItem."""
        found = summaries_from_item(self.db.get(keys.client_index(trainer_id)))
        return sorted(found.values(), key=lambda c: c.name.casefold())

    # The migration -----------------------------------------------------------------------
    def index_clients(self, trainer_id: str) -> dict[str, int]:
        """One-off: bring an account partition written before the client index to the
        current keys. Builds every client's index entry, moves link shares into it, moves
        opt-ins and recurring claims under the set-up prefix, and deletes the old items.
        Running it again (or after a crash) changes nothing more; it is safe beside live
        traffic, as each step is conditional on what it read. Returns how many of each
        kind it wrote (all 0 on a second run)."""
        tid = trainer_id
        items = self.db.query(keys.trainer_pk(tid))
        clients = [client_from_item(i) for i in items if i[keys.SK].startswith(keys.CLIENT_PREFIX)]
        index = next((i for i in items if i[keys.SK] == keys.CLIENT_INDEX_SK), {})
        done = {
            "entries": sum(
                self._index_client(tid, client)
                for client in clients
                if index.get(f"{ENTRY_PREFIX}{client.id}") != entry_of(client)
            )
        }
        moves = {
            "shares": (keys.LEGACY_SHARED_PREFIX, self._move_share),
            "optins": (keys.LEGACY_OPTIN_PREFIX, self._move_optin),
            "claims": (keys.LEGACY_RECURRING_PREFIX, self._move_claim),
        }
        for kind, (prefix, move) in moves.items():
            done[kind] = 0
            for item in items:
                if item[keys.SK].startswith(prefix):
                    done[kind] += move(tid, item)
                    self.db.delete(keys.key(item[keys.PK], item[keys.SK]))
        # After the old claims moved: they, not a client's list, say who held a slot.
        done["claims"] += sum(self._claim_listed(tid, client) for client in clients)
        # Clients written before the ClientsByPhone index carry no key in it: inbound
        # messages could not find them.
        done["phones"] = sum(
            self._phone_key(tid, item)
            for item in items
            if item[keys.SK].startswith(keys.CLIENT_PREFIX)
            and item.get("phone")
            and keys.PHONE_PK not in item
        )
        return done

    def _index_client(self, trainer_id: str, client: Client) -> int:
        """The entry, only if the client is still at the version read: a write of the
        client meanwhile wrote its own, newer, entry."""
        try:
            self.db.transact(
                [
                    tx_check(
                        keys.client(trainer_id, client.id),
                        at_version(client.version),
                        part=INDEX_CLIENT_AS_READ,
                    ),
                    index_entry(trainer_id, client),
                ]
            )
        except TransactionFailed:
            return 0
        return 1

    def _phone_key(self, trainer_id: str, item: Item) -> int:
        """The phone index key, only while the number is still the one read (a client
        whose phone changed meanwhile was written with its own key)."""
        phone = str(item["phone"])
        try:
            self.db.update(
                keys.client(trainer_id, keys.client_id_from_sk(item[keys.SK])),
                Condition(
                    "SET #phone_pk = :pk", {"#phone_pk": keys.PHONE_PK}, {":pk": keys.phone(phone)}
                ),
                Condition(
                    "attribute_not_exists(#phone_pk) AND #phone = :phone",
                    {"#phone_pk": keys.PHONE_PK, "#phone": "phone"},
                    {":phone": phone},
                ),
            )
        except ConditionFailed:
            return 0
        return 1

    def _move_share(self, trainer_id: str, item: Item) -> int:
        """Generations only grow, so the higher of the old mark and any new one is the
        latest share."""
        name = f"{SHARED_PREFIX}{item['client_id']}"
        try:
            self.db.update(
                keys.client_index(trainer_id),
                Condition(
                    "SET #shared = :generation, #type = :type",
                    {"#shared": name, "#type": "type"},
                    {":generation": int(item["generation"]), ":type": "client_index"},
                ),
                Condition(
                    "attribute_not_exists(#shared) OR #shared < :generation",
                    {"#shared": name},
                    {":generation": int(item["generation"])},
                ),
            )
        except ConditionFailed:
            return 0
        return 1

    def _move_optin(self, trainer_id: str, item: Item) -> int:
        """Adding to a set is idempotent: a second run (or a tick made since) is kept."""
        template_slot_id = str(item["template_slot_id"])
        self.db.update(
            keys.optin(trainer_id, template_slot_id),
            Condition(
                "ADD #ids :id SET #type = :type, #slot = :slot",
                {"#ids": "client_ids", "#type": "type", "#slot": "template_slot_id"},
                {":id": {str(item["client_id"])}, ":type": "optins", ":slot": template_slot_id},
            ),
        )
        return 1

    def _move_claim(self, trainer_id: str, item: Item) -> int:
        """The claim under its new key, unless another client claimed the slot there
        since (their claim was written with their profile: it stands)."""
        template_slot_id = item[keys.SK].removeprefix(keys.LEGACY_RECURRING_PREFIX)
        return self._claim(trainer_id, template_slot_id, str(item["client_id"]))

    def _claim_listed(self, trainer_id: str, client: Client) -> int:
        """A recurring slot a client lists with no claim at all (written before claims
        existed): claimed for them if nobody holds it."""
        return sum(self._claim(trainer_id, t, client.id) for t in client.recurring)

    def _claim(self, trainer_id: str, template_slot_id: str, client_id: str) -> int:
        try:
            self.db.put(
                {
                    **keys.recurring_claim(trainer_id, template_slot_id),
                    "type": "recurring",
                    "client_id": client_id,
                    "template_slot_id": template_slot_id,
                },
                new_item(),
            )
        except ConditionFailed:
            return 0
        return 1

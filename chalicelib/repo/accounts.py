"""The account aggregate: the trainer's profile and settings, locations, the weekly
template, and the account's set-up read (locations, template, opt-ins and recurring
claims by template slot, the client index: `get_account`), which never reads a client
item.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.domain.clients import Client
from chalicelib.domain.errors import Conflict, VersionConflict
from chalicelib.domain.messages import Message
from chalicelib.domain.models import Location, Trainer
from chalicelib.domain.settings import TrainerSettings
from chalicelib.domain.template import WeeklyTemplate
from chalicelib.domain.timeutil import utc_iso
from chalicelib.repo import keys
from chalicelib.repo.client_index import link_shared_mark, summaries_from_item
from chalicelib.repo.dynamo import (
    Condition,
    ConditionFailed,
    Db,
    Item,
    TransactionFailed,
    at_version,
    new_item,
    tx_check,
    tx_delete,
    tx_put,
    tx_update,
)
from chalicelib.repo.mapping import (
    Account,
    Setup,
    location_from_item,
    template_from_item,
    trainer_from_item,
    trainer_to_item,
)
from chalicelib.repo.outbox import Outbox
from chalicelib.repo.parts import (
    LOCATION_ACTIVE,
    NEW_MESSAGE,
    location_is_active,
    message_parts,
)

TEMPLATE_AT_VERSION = "weekly template at version"
CLAIM_EMAIL = "claim email"  # one account per address
LINK_STILL_CURRENT = "portal link still current"
MIRROR_LOCATION = "mirror location on the profile"
NEW_LOCATION = "new location"
LOCATION_AT_VERSION = "location at version"
NEW_TRAINER = "new trainer"


class AccountStore:
    db: Db
    outbox: Outbox

    # Trainers ------------------------------------------------------------------------
    def get_trainer(self, trainer_id: str) -> Trainer | None:
        item = self.db.get(keys.profile(trainer_id))
        return trainer_from_item(item) if item else None

    def trainer_id_for_email(self, email: str) -> str | None:
        item = self.db.get(keys.email(email))
        return item["trainer_id"] if item else None

    def create_trainer_ops(self, trainer: Trainer) -> list[dict[str, Any]]:
        """Transaction parts that create a trainer and claim the email (unique)."""
        return [
            tx_put(
                {**keys.email(trainer.email), "trainer_id": trainer.id},
                new_item(),
                part=CLAIM_EMAIL,
            ),
            tx_put(trainer_to_item(trainer), new_item(), part=NEW_TRAINER),
        ]

    def create_trainer(self, trainer: Trainer) -> None:
        try:
            self.db.transact(self.create_trainer_ops(trainer))
        except TransactionFailed as exc:
            raise Conflict("email already registered") from exc

    def save_settings(self, trainer: Trainer, settings: TrainerSettings) -> Trainer:
        """Replace the settings if the profile is still at the version the form showed."""
        updated = trainer.model_copy(update={"settings": settings, "version": trainer.version + 1})
        try:
            self.db.update(
                keys.profile(trainer.id),
                Condition(
                    "SET #settings = :settings, #version = :next",
                    {"#settings": "settings", "#version": "version"},
                    {":settings": settings.model_dump(mode="json"), ":next": updated.version},
                ),
                at_version(trainer.version),
            )
        except ConditionFailed as exc:
            raise VersionConflict() from exc
        return updated

    def mark_template_applied(self, trainer_id: str, now: datetime) -> None:
        """Getting-started step 5; the first time only (not a form field: no version)."""
        self.db.update(
            keys.profile(trainer_id),
            Condition(
                "SET #applied = if_not_exists(#applied, :now)",
                {"#applied": "template_applied_at"},
                {":now": utc_iso(now)},
            ),
        )

    # Set-up: locations and weekly template -----------------------------------------
    def get_setup(self, trainer_id: str) -> Setup:
        """Locations and template in one Query of the account partition's set-up items
        (from the locations to the template: the client index is not read)."""
        items = self.db.query(keys.trainer_pk(trainer_id), sk_range=keys.SETUP_RANGE)
        return self._account_from(items).setup

    def get_account(self, trainer_id: str) -> Account:
        """The set-up, opt-ins and recurring claims by template slot, and the client index:
        one Query of the CFG# items, bounded by the template, whatever the client count."""
        items = self.db.query(keys.trainer_pk(trainer_id), sk_prefix=keys.CFG_PREFIX)
        return self._account_from(items)

    @staticmethod
    def _account_from(items: list[Item]) -> Account:
        locations: list[Location] = []
        template_item: Item | None = None
        index_item: Item | None = None
        opted_in: dict[str, frozenset[str]] = {}
        holders: dict[str, str] = {}
        for item in items:
            sk = item[keys.SK]
            if sk == keys.TEMPLATE_SK:
                template_item = item
            elif sk.startswith(keys.LOCATION_PREFIX):
                locations.append(location_from_item(item))
            elif sk.startswith(keys.OPTIN_PREFIX):
                ids = frozenset(item.get("client_ids") or ())
                if ids:
                    opted_in[keys.template_slot_id_from_optin_sk(sk)] = ids
            elif sk.startswith(keys.RECURRING_PREFIX):
                holders[keys.template_slot_id_from_claim_sk(sk)] = item["client_id"]
            elif sk == keys.CLIENT_INDEX_SK:
                index_item = item
        locations.sort(key=lambda loc: (loc.archived, loc.name.casefold()))
        return Account(
            Setup(locations, template_from_item(template_item)),
            summaries_from_item(index_item),
            opted_in,
            holders,
        )

    @staticmethod
    def _portal_shared_op(trainer_id: str, client: Client) -> list:
        """Transaction parts: the share mark on the client index, and that the link shared
        is still the client's current one (not rotated, client not archived) when it is
        written."""
        return [
            link_shared_mark(trainer_id, client),
            tx_check(
                keys.client(trainer_id, client.id),
                Condition(
                    "#generation = :generation AND #archived = :false",
                    {"#generation": "portal_generation", "#archived": "archived"},
                    {":generation": client.portal_generation, ":false": False},
                ),
                part=LINK_STILL_CURRENT,
            ),
        ]

    def mark_portal_shared(self, trainer_id: str, client: Client) -> None:
        """The trainer copied the link: counted only if it is still the live link."""
        try:
            self.db.transact(self._portal_shared_op(trainer_id, client))
        except TransactionFailed as exc:
            raise Conflict("This portal link was replaced meanwhile: copy the new one.") from exc

    def queue_portal_link(self, trainer_id: str, client: Client, message: Message) -> bool:
        """Queue the portal link message and mark the link shared, together. False if this
        very message (a double click, a replayed form) was already queued."""
        operations = [
            *message_parts(trainer_id, [message]),
            *self._portal_shared_op(trainer_id, client),
        ]
        try:
            self.db.transact(operations)
        except TransactionFailed as exc:
            if exc.refused(NEW_MESSAGE):
                return False
            raise Conflict(
                "This portal link was replaced or the client archived meanwhile. Reload the page."
            ) from exc
        return True

    @staticmethod
    def _mirror_location(trainer_id: str, location: Location | None, location_id: str) -> Any:
        """Transaction part that keeps the profile's copy of a location's name in step.

        The profile (read with the session on every request) carries {id: name, archived}
        of every location, so pages that show location names, like the week view, need no
        extra read. It is only ever written in the same transaction as the location item.
        """
        names = {"#locations": "locations", "#lid": location_id}
        if location is None:
            return tx_update(
                keys.profile(trainer_id),
                Condition("REMOVE #locations.#lid", names),
                part=MIRROR_LOCATION,
            )
        return tx_update(
            keys.profile(trainer_id),
            Condition(
                "SET #locations.#lid = :mirror",
                names,
                {":mirror": {"name": location.name, "archived": location.archived}},
            ),
            part=MIRROR_LOCATION,
        )

    def add_location(self, trainer_id: str, location: Location) -> None:
        self.db.transact(
            [
                tx_put(
                    {
                        **keys.location(trainer_id, location.id),
                        "type": "location",
                        "name": location.name,
                        "archived": location.archived,
                        "version": location.version,
                    },
                    new_item(),
                    part=NEW_LOCATION,
                ),
                self._mirror_location(trainer_id, location, location.id),
            ]
        )

    def update_location(self, trainer_id: str, location: Location, **changes: Any) -> Location:
        updated = location.model_copy(update={**changes, "version": location.version + 1})
        try:
            self.db.transact(
                [
                    tx_update(
                        keys.location(trainer_id, location.id),
                        Condition(
                            "SET #name = :name, #archived = :archived, #version = :next",
                            {"#name": "name", "#archived": "archived", "#version": "version"},
                            {
                                ":name": updated.name,
                                ":archived": updated.archived,
                                ":next": updated.version,
                            },
                        ),
                        at_version(location.version),
                        part=LOCATION_AT_VERSION,
                    ),
                    self._mirror_location(trainer_id, updated, location.id),
                ]
            )
        except TransactionFailed as exc:
            raise VersionConflict() from exc
        return updated

    def delete_location(
        self, trainer_id: str, location: Location, template: WeeklyTemplate
    ) -> None:
        """Delete only if the location is unchanged and the template is still the one that
        was checked not to use it (a slot added meanwhile cancels the delete)."""
        try:
            self.db.transact(
                [
                    tx_delete(
                        keys.location(trainer_id, location.id),
                        at_version(location.version),
                        part=LOCATION_AT_VERSION,
                    ),
                    tx_check(
                        keys.template(trainer_id),
                        at_version(template.version),
                        part=TEMPLATE_AT_VERSION,
                    ),
                    self._mirror_location(trainer_id, None, location.id),
                ]
            )
        except TransactionFailed as exc:
            raise VersionConflict() from exc

    def save_template(
        self,
        trainer_id: str,
        template: WeeklyTemplate,
        new_template: WeeklyTemplate,
        location_id: str | None,
    ) -> WeeklyTemplate:
        """Write the template if unchanged since read and the slot's location is usable."""
        saved = new_template.model_copy(update={"version": template.version + 1})
        operations: list[dict[str, Any]] = [
            tx_put(
                {
                    **keys.template(trainer_id),
                    "type": "template",
                    "slots": [s.model_dump() for s in saved.slots],
                    "version": saved.version,
                },
                at_version(template.version),
                part=TEMPLATE_AT_VERSION,
            )
        ]
        if location_id:
            operations.append(location_is_active(trainer_id, location_id))
        try:
            self.db.transact(operations)
        except TransactionFailed as exc:
            if exc.refused(LOCATION_ACTIVE) and not exc.refused(TEMPLATE_AT_VERSION):
                raise Conflict("That location was archived or deleted meanwhile.") from exc
            raise VersionConflict() from exc
        return saved

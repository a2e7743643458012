"""Trainers' own WhatsApp senders: who holds a number, and the save that changes it.

A sender (a Twilio number, a Meta phone-number id) belongs to one trainer at most. That is
not checked by a read: each sender has a claim item (`SENDER#<provider>#<address>`), and
the save that gives a trainer a sender is one transaction of
- the profile's settings, at the version the form was drawn from;
- a Put of the new claim, `attribute_not_exists OR trainer_id = :me`, so of two trainers
  claiming one number at once exactly one wins and the other's save writes nothing;
- a Delete of the claim given up, only if it is still this trainer's.
The claim also names the SSM secrets of the sender, so an inbound webhook finds the token
that signed it in the one GetItem that finds the trainer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from chalicelib.domain.errors import Conflict, VersionConflict
from chalicelib.domain.models import Trainer
from chalicelib.domain.settings import TrainerSettings, WhatsAppSender
from chalicelib.repo import keys
from chalicelib.repo.dynamo import (
    Condition,
    Db,
    TransactionFailed,
    tx_delete,
    tx_put,
)
from chalicelib.repo.parts import PROFILE_AT_VERSION, settings_at_version

CLAIM_SENDER: Final = "claim sender"
RELEASE_SENDER: Final = "release sender"

_OURS = "attribute_not_exists(#pk) OR #trainer = :me"


class SenderTaken(Conflict):
    """Another trainer holds this number (or phone-number id)."""


@dataclass(frozen=True)
class SenderClaim:
    trainer_id: str
    provider: str  # twilio or meta
    address: str  # the E.164 number or the phone-number id
    token_ref: str
    app_secret_ref: str


class SenderStore:
    def __init__(self, db: Db) -> None:
        self.db = db

    def claim(self, provider: str, address: str) -> SenderClaim | None:
        """Whose sender this is (one GetItem), or None: nobody's own."""
        item = self.db.get(keys.sender(provider, address))
        if not item:
            return None
        return SenderClaim(
            trainer_id=item["trainer_id"],
            provider=provider,
            address=address,
            token_ref=item.get("token_ref", ""),
            app_secret_ref=item.get("app_secret_ref", ""),
        )

    def save_settings(
        self, trainer: Trainer, settings: TrainerSettings, also: Sequence[dict[str, Any]] = ()
    ) -> Trainer:
        """The settings with a changed sender, in one transaction with its claims (and
        `also`: another setting's own parts, such as auto-apply's due item). Raises
        VersionConflict (a stale form) or SenderTaken."""
        old, new = trainer.settings.whatsapp_sender, settings.whatsapp_sender
        updated, profile = settings_at_version(trainer, settings)
        operations = [profile, *also]
        if new.address is not None:
            operations.append(self._claim_part(trainer.id, new))
        if old.address is not None and old.address != new.address:
            operations.append(
                tx_delete(
                    keys.sender(*old.address),
                    _still_ours(trainer.id),
                    part=RELEASE_SENDER,
                )
            )
        try:
            self.db.transact(operations)
        except TransactionFailed as exc:
            if exc.refused(PROFILE_AT_VERSION):
                raise VersionConflict() from exc
            if exc.refused(CLAIM_SENDER):
                raise SenderTaken("This sender is connected to another account.") from exc
            if exc.refused(RELEASE_SENDER):
                # Only if the claim was changed outside the app: refuse in words, not a 500.
                raise Conflict(
                    "Your old WhatsApp number's record changed meanwhile. Nothing was "
                    "saved: reload the page and try again."
                ) from exc
            raise
        return updated

    @staticmethod
    def _claim_part(trainer_id: str, sender: WhatsAppSender) -> dict:
        assert sender.address is not None
        provider, address = sender.address
        item = {
            **keys.sender(provider, address),
            "type": "sender",
            "trainer_id": trainer_id,
            "provider": provider,
            "address": address,
            "token_ref": sender.token_ref,
            "app_secret_ref": sender.app_secret_ref,
        }
        return tx_put(item, _still_ours(trainer_id), part=CLAIM_SENDER)


def _still_ours(trainer_id: str) -> Condition:
    """Nobody's yet, or this trainer's: never another trainer's claim, written or deleted."""
    return Condition(_OURS, {"#pk": keys.PK, "#trainer": "trainer_id"}, {":me": trainer_id})

"""The repository: one object services talk to, composed of one store per aggregate.

Each store is a module a newcomer can read in one sitting:
- `accounts`: profile and settings, locations, weekly template, the set-up read;
- `clients`: clients, portal links, opt-ins, portal reads;
- `client_index`: the one item pickers, filters, counts and matching read instead of
  every client, and its one-off migration;
- `schedule`: slots, guards, sessions, the change log, session lists;
- `offers`: last-minute offer locks;
- `tokens`: sign-in links, session cookies, rate limits;
- `outbox` and `conversations` (their own objects, `repo.outbox`, `repo.conversations`:
  inbound messages and each client's last-inbound time) and `programs` (`programs.store(repo)`).
All of them build their transactions from the named parts in `parts`, and map items
with `mapping`; `keys` is the only place keys are built.
"""

from __future__ import annotations

from chalicelib.repo.accounts import AccountStore
from chalicelib.repo.activity import ActivityStore
from chalicelib.repo.client_index import ClientIndexStore
from chalicelib.repo.clients import ClientStore
from chalicelib.repo.conversations import ConversationStore
from chalicelib.repo.dynamo import Db
from chalicelib.repo.figures import FiguresStore
from chalicelib.repo.mapping import (  # noqa: F401 - read models and mappers, re-exported
    OFFER_ATTRIBUTES,
    OFFER_LOCK_KIND,
    Account,
    ClientSummary,
    Setup,
    TokenRecord,
    Week,
    client_from_item,
    client_to_item,
    epoch,
    instant_or_none,
    is_timeline_cursor,
    iso_or_none,
    location_from_item,
    offer_attributes,
    offer_from,
    session_from_item,
    session_to_item,
    slot_from_item,
    slot_key,
    slot_to_item,
    template_from_item,
    trainer_from_item,
    trainer_to_item,
)
from chalicelib.repo.offers import OfferStore
from chalicelib.repo.outbox import Outbox
from chalicelib.repo.parts import (  # noqa: F401 - ClientLink, ClientUnavailable, kinds, re-exported
    BUNDLE_ENTRY,
    CLIENT_ACTIVE,
    CLIENT_LINK,
    DROP_OPEN_SLOT,
    DROP_SLOT_GUARD,
    FREE_SLOT,
    LOCATION_ACTIVE,
    LOG_LINE,
    NEW_MESSAGE,
    NEW_SESSION,
    NEW_SLOT,
    OFFER_LINK,
    OFFER_LINK_KIND,
    SESSION_AT_VERSION,
    SESSION_LINK_KIND,
    SLOT_GUARD,
    TAKE_OPEN_SLOT,
    ClientLink,
    ClientUnavailable,
    all_of,
    bundle_entry,
    bundle_entry_update,
    client_is_active,
    client_link,
    drop_slot_with_guards,
    free_slot,
    held_by,
    location_is_active,
    log_line,
    new_message,
    new_session,
    not_locked,
    offer_link,
    open_at_version,
    session_at_version,
    slot_with_guards,
    subject_log_line,
    take_open_slot,
)
from chalicelib.repo.schedule import ScheduleStore
from chalicelib.repo.stage import StageStore
from chalicelib.repo.time_off import TimeOffStore
from chalicelib.repo.tokens import TokenStore


class Repository(
    AccountStore, ClientStore, ClientIndexStore, ScheduleStore, OfferStore, TokenStore
):
    def __init__(self, db: Db) -> None:
        self.outbox = Outbox(db)
        self.activity = ActivityStore(db)
        self.conversations = ConversationStore(db)
        self.stage = StageStore(db)
        self.time_off = TimeOffStore(db)
        self.figures = FiguresStore(db)
        self.db = db

"""Every key string of the table is built here and nowhere else (docs/access-patterns.md).

Partitions:
- `T#<tid>`            the trainer's account: PROFILE, the CFG# set-up items (locations,
                       template, opt-ins and recurring claims by template slot, the
                       client index), CLIENT#s.
- `T#<tid>#W#<week>`   one trainer-week of the schedule: SLOT#s, their GUARD#s (one per
                       half hour held, so slots cannot overlap) and, later, SESSION#s.
- `EMAIL#<email>`      unique email -> trainer id.
- `TOKEN#<sha256>`     any secret handed to a browser (sign-in link, session cookie...),
                       found by GetItem on the hash of the secret.
- `RATE#<scope>#<sha256>` fixed-window counters for rate limits.

Set-up items share the `CFG#` prefix so one Query returns all of them and nothing else
from the account partition: locations, the weekly template, the opt-ins and recurring
claims of each template slot, and the client index. All of it is bounded by the template
and one index item, never by the number of client items.
"""

from __future__ import annotations

from typing import Final

PK: Final = "PK"
SK: Final = "SK"
DUE_PK: Final = "DuePK"
DUE_SK: Final = "DueSK"
DUE_INDEX: Final = "DueWork"
CLIENT_PK: Final = "ClientPK"
CLIENT_SK: Final = "ClientSK"
CLIENT_INDEX: Final = "ClientTimeline"
TRAINER_PK: Final = "TrainerPK"
TRAINER_SK: Final = "TrainerSK"
TRAINER_INDEX: Final = "TrainerTimeline"
# Sparse: only client items carry it. Finds who has a number, across trainers, for an
# inbound WhatsApp message; the table's PK (the trainer) sorts the owners.
PHONE_PK: Final = "PhonePK"
PHONE_INDEX: Final = "ClientsByPhone"
INDEX_KEYS: Final = {
    DUE_INDEX: (DUE_PK, DUE_SK),
    CLIENT_INDEX: (CLIENT_PK, CLIENT_SK),
    TRAINER_INDEX: (TRAINER_PK, TRAINER_SK),
    PHONE_INDEX: (PHONE_PK, PK),
}
TTL: Final = "ttl"

PROFILE_SK: Final = "PROFILE"
CLIENT_PREFIX: Final = "CLIENT#"
CFG_PREFIX: Final = "CFG#"
LOCATION_PREFIX: Final = "CFG#LOC#"
TEMPLATE_SK: Final = "CFG#TEMPLATE"
CLIENT_INDEX_SK: Final = "CFG#CLIENTS"
OPTIN_PREFIX: Final = "CFG#OPTIN#"
RECURRING_PREFIX: Final = "CFG#RECUR#"
# `get_setup` (settings pages) reads from the locations to the template and so skips the
# client index (CFG#CLIENTS < CFG#LOC# < CFG#OPTIN# < CFG#RECUR# < CFG#TEMPLATE).
SETUP_RANGE: Final = (LOCATION_PREFIX, TEMPLATE_SK)


def key(pk: str, sk: str) -> dict[str, str]:
    return {PK: pk, SK: sk}


def trainer_pk(trainer_id: str) -> str:
    return f"T#{trainer_id}"


def profile(trainer_id: str) -> dict[str, str]:
    return key(trainer_pk(trainer_id), PROFILE_SK)


def location(trainer_id: str, location_id: str) -> dict[str, str]:
    return key(trainer_pk(trainer_id), f"{LOCATION_PREFIX}{location_id}")


def location_id_from_sk(sk: str) -> str:
    return sk.removeprefix(LOCATION_PREFIX)


def client(trainer_id: str, client_id: str) -> dict[str, str]:
    return key(trainer_pk(trainer_id), f"{CLIENT_PREFIX}{client_id}")


BALANCE_PREFIX: Final = "BALANCE#"


def client_balance(trainer_id: str, client_id: str) -> dict[str, str]:
    """A client's kept unpaid total: its own item, so a profile save (a Put of the client
    item at its version) can never overwrite a count another write just added to; and
    its own partition, so the pages that read the account partition do not grow by one
    item per client."""
    return key(f"{trainer_pk(trainer_id)}#C#{client_id}", BALANCE_PREFIX.rstrip("#"))


def client_id_from_sk(sk: str) -> str:
    return sk.removeprefix(CLIENT_PREFIX)


def client_index(trainer_id: str) -> dict[str, str]:
    """One item holding, per client, what pickers, filters, counts and matching need
    (see repo/client_index.py): read instead of every client item."""
    return key(trainer_pk(trainer_id), CLIENT_INDEX_SK)


def recurring_claim(trainer_id: str, template_slot_id: str) -> dict[str, str]:
    """Who holds a template slot as their recurring slot: one client at most. Under the
    set-up prefix, so the set-up Query says who holds each template slot."""
    return key(trainer_pk(trainer_id), f"{RECURRING_PREFIX}{template_slot_id}")


def template_slot_id_from_claim_sk(sk: str) -> str:
    return sk.removeprefix(RECURRING_PREFIX)


def optin(trainer_id: str, template_slot_id: str) -> dict[str, str]:
    """The clients opted in to one weekly-template time for last-minute offers: one item
    per template slot (a set of client ids), so the set-up Query returns every opt-in in
    at most as many items as the template has slots, however many clients tick."""
    return key(trainer_pk(trainer_id), f"{OPTIN_PREFIX}{template_slot_id}")


def template_slot_id_from_optin_sk(sk: str) -> str:
    return sk.removeprefix(OPTIN_PREFIX)


# Keys from before the client index: read only by `index_clients`, the migration.
LEGACY_SHARED_PREFIX: Final = "SHARED#"
LEGACY_OPTIN_PREFIX: Final = "OPTIN#"
LEGACY_RECURRING_PREFIX: Final = "RECUR#"


def legacy_portal_shared(trainer_id: str, client_id: str) -> dict[str, str]:
    """Was: that a client's portal link was shared, for which generation."""
    return key(trainer_pk(trainer_id), f"{LEGACY_SHARED_PREFIX}{client_id}")


def legacy_optin(trainer_id: str, client_id: str, template_slot_id: str) -> dict[str, str]:
    """Was: one item per client and ticked template slot."""
    return key(trainer_pk(trainer_id), f"{LEGACY_OPTIN_PREFIX}{client_id}#{template_slot_id}")


def legacy_recurring_claim(trainer_id: str, template_slot_id: str) -> dict[str, str]:
    """Was: a recurring claim outside the set-up prefix."""
    return key(trainer_pk(trainer_id), f"{LEGACY_RECURRING_PREFIX}{template_slot_id}")


def template(trainer_id: str) -> dict[str, str]:
    return key(trainer_pk(trainer_id), TEMPLATE_SK)


def email(normalised_email: str) -> dict[str, str]:
    return key(f"EMAIL#{normalised_email}", "EMAIL")


def token(token_hash: str) -> dict[str, str]:
    return key(f"TOKEN#{token_hash}", "TOKEN")


def rate_window(scope: str, subject_hash: str, window_start: int) -> dict[str, str]:
    return key(f"RATE#{scope}#{subject_hash}", f"W#{window_start}")


def week_pk(trainer_id: str, week: str) -> str:
    return f"T#{trainer_id}#W#{week}"


SESSION_PREFIX: Final = "SESSION#"
SLOT_PREFIX: Final = "SLOT#"
GUARD_PREFIX: Final = "GUARD#"
# One Query of a week partition for the schedule: sessions and slots, not the guards
# (GUARD# < SESSION# < SLOT# < "SLOT#~").
WEEK_VIEW_RANGE: Final = (SESSION_PREFIX, SLOT_PREFIX + "~")


def _compact(instant_iso: str) -> str:
    return instant_iso.replace("-", "").replace(":", "")


def slot(trainer_id: str, week: str, start_utc_iso: str, slot_id: str) -> dict[str, str]:
    """Slots sort by start within their trainer-week."""
    return key(week_pk(trainer_id, week), f"{SLOT_PREFIX}{_compact(start_utc_iso)}#{slot_id}")


def session(trainer_id: str, week: str, start_utc_iso: str, session_id: str) -> dict[str, str]:
    return key(week_pk(trainer_id, week), f"{SESSION_PREFIX}{_compact(start_utc_iso)}#{session_id}")


def session_log_prefix(session_id: str) -> str:
    # LOG# sorts before SESSION#, so the week view's Query range never reads log lines.
    return f"LOG#{session_id}#"


def session_log(
    trainer_id: str, week: str, session_id: str, at_utc_iso: str, entry_id: str
) -> dict[str, str]:
    return key(
        week_pk(trainer_id, week),
        f"{session_log_prefix(session_id)}{_compact(at_utc_iso)}#{entry_id}",
    )


def client_timeline(trainer_id: str, client_id: str) -> str:
    """ClientTimeline partition: one client's sessions."""
    return f"T#{trainer_id}#C#{client_id}"


def client_timeline_sk(start_utc_iso: str, session_id: str) -> str:
    return f"{_compact(start_utc_iso)}#{session_id}"


def trainer_timeline(trainer_id: str) -> str:
    """TrainerTimeline partition: the trainer's live and voided sessions."""
    return f"T#{trainer_id}#SESSIONS"


def timeline_point(instant_utc_iso: str) -> str:
    """A ClientSK bound for "before/after this instant" queries."""
    return _compact(instant_utc_iso)


def slot_guard(trainer_id: str, week: str, instant_utc_iso: str) -> dict[str, str]:
    """One half hour of a trainer's time: at most one slot can hold it."""
    return key(week_pk(trainer_id, week), f"{GUARD_PREFIX}{_compact(instant_utc_iso)}")


def due_work(kind: str) -> str:
    """Partition of the sparse DueWork index for one kind of scheduled work."""
    return f"DUE#{kind}"


def due_sk(at_utc_iso: str, item_id: str) -> str:
    """DueWork sort key: when the work is due, then which item (unique per item)."""
    return f"{at_utc_iso}#{item_id}"


MESSAGE_MARK: Final = "M#"


def message(trainer_id: str, week: str, subject_id: str, message_id: str) -> dict[str, str]:
    """An outbox message beside its subject's change log: the log Query (prefix
    `LOG#<subject>#`) returns both. `M#` sorts after the digits of log timestamps."""
    return key(
        week_pk(trainer_id, week), f"{session_log_prefix(subject_id)}{MESSAGE_MARK}{message_id}"
    )


def is_message_sk(sk: str) -> bool:
    return sk.startswith("LOG#") and f"#{MESSAGE_MARK}" in sk


def trainer_messages(trainer_id: str) -> str:
    """TrainerTimeline partition of the WhatsApp tab: every message, by creation time."""
    return f"T#{trainer_id}#MSG"


def client_messages(trainer_id: str, client_id: str) -> str:
    """ClientTimeline partition of one client's messages (the WhatsApp tab's filter)."""
    return f"T#{trainer_id}#C#{client_id}#MSG"


def message_timeline_sk(created_utc_iso: str, message_id: str) -> str:
    return f"{_compact(created_utc_iso)}#{message_id}"


def trainer_id_from_week_pk(pk: str) -> str:
    """`T#<tid>#W#<week>` -> `<tid>`."""
    return pk.removeprefix("T#").split("#W#", 1)[0]


# Programs: templates, bundles and wizard drafts ---------------------------------------
# Their own partition, not the account one: bundles pile up over the years, and no page
# that reads the account's set-up should ever read them.
PROGRAM_PREFIX: Final = "MODEL#"
BUNDLE_PREFIX: Final = "BUNDLE#"
DRAFT_PREFIX: Final = "DRAFT#"


def programs_pk(trainer_id: str) -> str:
    return f"T#{trainer_id}#PROG"


def program(trainer_id: str, program_id: str) -> dict[str, str]:
    return key(programs_pk(trainer_id), f"{PROGRAM_PREFIX}{program_id}")


def bundle(trainer_id: str, bundle_id: str) -> dict[str, str]:
    return key(programs_pk(trainer_id), f"{BUNDLE_PREFIX}{bundle_id}")


def draft(trainer_id: str, draft_id: str) -> dict[str, str]:
    return key(programs_pk(trainer_id), f"{DRAFT_PREFIX}{draft_id}")


def client_bundles(trainer_id: str, client_id: str) -> str:
    """ClientTimeline partition of one client's bundles (profile and portal)."""
    return f"T#{trainer_id}#C#{client_id}#BUNDLES"


def trainer_bundles(trainer_id: str) -> str:
    """TrainerTimeline partition of the Programs hub: every bundle of the trainer, sorted
    by when it is over (`bundle_hub_sk`), so the hub is one Query page however many
    bundles were ever sold."""
    return f"T#{trainer_id}#BUNDLES"


OPEN_ENDED: Final = "~"  # sorts after every instant: a bundle that is not over by itself


def bundle_hub_sk(over_at_utc_iso: str | None, created_utc_iso: str, bundle_id: str) -> str:
    """`<when it is over>#<id>`; a bundle with no end yet (paused, being created, fewer
    sessions booked than planned) is `~#<created>#<id>`, after every dated one."""
    if over_at_utc_iso is None:
        return f"{OPEN_ENDED}#{_compact(created_utc_iso)}#{bundle_id}"
    return f"{_compact(over_at_utc_iso)}#{bundle_id}"


def program_session_log_id(bundle_id: str, index: int) -> str:
    """The id of the log line written with a bundle's session: known in advance, so a
    failed creation can remove exactly what it wrote."""
    return f"{bundle_id}-{index:03d}"


def phone(e164: str) -> str:
    """The ClientsByPhone partition of a number: every client (of any trainer) with it."""
    return f"PHONE#{e164}"


def trainer_id_from_pk(pk: str) -> str:
    return pk.removeprefix("T#")


CONVERSATION_SK: Final = "CONV"


def conversation(trainer_id: str, client_id: str) -> dict[str, str]:
    """A client's conversation summary (last inbound time, unread count): in the client's
    own partition beside BALANCE, so a profile save (a Put of the client item) can never
    overwrite a time an inbound message just moved."""
    return key(f"{trainer_pk(trainer_id)}#C#{client_id}", CONVERSATION_SK)


def inbound(provider: str, provider_message_id: str) -> dict[str, str]:
    """One inbound message, keyed by the provider's own id: writing it
    `attribute_not_exists` is what makes a replayed webhook write nothing."""
    return key(f"INBOUND#{provider}#{provider_message_id}", "INBOUND")


def client_inbound(trainer_id: str, client_id: str) -> str:
    """ClientTimeline partition of a client's inbound messages (their conversation)."""
    return f"{trainer_pk(trainer_id)}#C#{client_id}#IN"


def trainer_unmatched_inbound(trainer_id: str) -> str:
    """TrainerTimeline partition of a trainer's inbound messages not attached to one client
    (a number shared by several of their clients, or unknown to their own sender)."""
    return f"{trainer_pk(trainer_id)}#INBOX"


STAGE_UNMATCHED_INBOUND: Final = "STAGE#INBOX"  # the shared sender's unknown numbers (ops)


def activity_feed(trainer_id: str) -> str:
    """The dashboard's Activity feed: one partition per trainer, newest last by SK, so the
    feed is one descending Query however old the account is."""
    return f"T#{trainer_id}#FEED"


def activity_entry(trainer_id: str, at_utc_iso: str, entry_id: str) -> dict[str, str]:
    return key(activity_feed(trainer_id), f"A#{_compact(at_utc_iso)}#{entry_id}")


# The WhatsApp tab's conversations (issue 14 item 2) ----------------------------------
# Each conversation summary item (a client's CONV, or a number's for a shared or unknown
# sender) carries TrainerTimeline keys in one partition per trainer, sorted by its last
# activity: the tab is one Query page of the newest, however many clients or messages.


def trainer_conversations(trainer_id: str) -> str:
    """TrainerTimeline partition of the WhatsApp tab: one entry per conversation."""
    return f"{trainer_pk(trainer_id)}#CONVS"


def conversation_index_sk(last_activity_utc_iso: str, conversation_id: str) -> str:
    """`<last activity, compact>#<client id>` (or `#N#<e164>` for a number): a new message
    moves the entry by rewriting it, so each conversation sits there once."""
    return f"{_compact(last_activity_utc_iso)}#{conversation_id}"


def number_conversation_id(e164: str) -> str:
    """A number's place in the tab (never a client id: those have no `N#`)."""
    return f"N#{e164}"


def number_conversation(trainer_id: str, e164: str) -> dict[str, str]:
    """The summary of what one number not matched to a single client (shared by several
    clients, or unknown) sent the trainer: its own partition, like a client's CONV."""
    return key(f"{trainer_pk(trainer_id)}#N#{e164}", CONVERSATION_SK)


def is_conversation_cursor(key_: dict[str, str], trainer_id: str) -> bool:
    """A tab cursor names this trainer's conversation partition (not another list's)."""
    return key_.get(TRAINER_PK) == trainer_conversations(trainer_id)


# Trainers' own WhatsApp senders (issue 14 item 4) ------------------------------------------
# One item per sender address, so a number (or Meta phone-number id) belongs to one trainer
# at most: written in the transaction that saves the setting, and what the webhooks read to
# find whose sender a provider posted for.


def sender(provider: str, address: str) -> dict[str, str]:
    """The claim on a sender: `provider` twilio (address: the E.164 number) or meta (the
    phone-number id)."""
    return key(f"SENDER#{provider}#{address}", "SENDER")


# --- The stage itself (lead, issue 14 item 12) ------------------------------------------------
def stage_public_url() -> dict[str, str]:
    """Where the deployed API lives, as the web function learned it from API Gateway: the
    scheduled functions (which no request reaches) build callback and client links on it
    when PUBLIC_BASE_URL is not set."""
    return {PK: "STAGE", SK: "PUBLIC_URL"}


# --- Time off (issue 15 item 1) -------------------------------------------------------------
# One item per trainer holding every upcoming period, written at its version: two tabs
# adding overlapping periods cannot both win. Under CFG# (after CFG#TEMPLATE), so the
# set-up read (`get_account`) returns it with the rest and Apply template needs no read.
TIME_OFF_SK: Final = "CFG#TIMEOFF"


def time_off(trainer_id: str) -> dict[str, str]:
    return key(trainer_pk(trainer_id), TIME_OFF_SK)


# --- Calendar feeds (issue 15 item 4) --------------------------------------------------------
# The trainer's feed link is derived from the stage secret and a generation kept here, in a
# partition of its own (nothing that reads the account partition meets it). A client's feed
# is derived from their portal generation and needs no item at all.


def trainer_calendar_feed(trainer_id: str) -> dict[str, str]:
    """The generation of the trainer's calendar feed link (absent until the first rotation:
    generation 0)."""
    return key(f"{trainer_pk(trainer_id)}#ICAL", "FEED")


# --- Keep the template applied (issue 15 item 3) ----------------------------------------------
# One item per trainer who turned the setting on, in a partition of its own (nothing that
# reads the account partition meets it), carrying DueWork keys for its next weekly run:
# written or deleted in the settings save's own transaction, so a trainer is found by
# the hourly job exactly while the setting is on.
AUTO_APPLY_KIND: Final = "auto-apply"


def auto_apply(trainer_id: str) -> dict[str, str]:
    return key(f"{trainer_pk(trainer_id)}#AUTOAPPLY", "DUE")


# --- Canceled and moved sessions in the trainer's calendar feed (issue 15 item 4) -----------
# A session that is canceled or moved leaves the Sessions tab's TrainerTimeline partition for
# this one, in the same write that changes its status (`mapping.session_to_item`), with the
# same sort key (`client_timeline_sk`). The trainer's feed reads both over its window, so a
# calendar sees the cancel as STATUS:CANCELLED; nothing else reads this partition.


def trainer_gone_timeline(trainer_id: str) -> str:
    """TrainerTimeline partition: the trainer's canceled and moved sessions."""
    return f"T#{trainer_id}#SESSIONS#GONE"


# --- Report figures (issue 16 item 5) -------------------------------------------------------
# One counter item per trainer-week (`W#2026-W48`) and per trainer-month (`M#2026-11`) in a
# partition of their own, updated in the same transaction as every session or slot change
# (`parts.figures_change`): the Reports page reads a range of them with one Query.


def figures_pk(trainer_id: str) -> str:
    return f"{trainer_pk(trainer_id)}#FIG"


def figures(trainer_id: str, period: str) -> dict[str, str]:
    """`period` as `domain.figures.periods_of` makes it: W#<week> or M#<YYYY-MM>."""
    return key(figures_pk(trainer_id), period)


# --- Card payments with Stripe (issue 16 item 3) --------------------------------------------
# The trainer's Stripe connection is the `card_payments` attribute of the profile (SSM refs
# only). What Stripe reported lives in a partition of its own, read by nothing else: one
# item per (event, session) marked, written `attribute_not_exists` in that session's own
# transaction (a replayed or doubled event marks nothing twice), and one per payment
# (Stripe's PaymentIntent) with what it paid for and what was refunded.


def card_pk(trainer_id: str) -> str:
    return f"{trainer_pk(trainer_id)}#CARD"


def card_event(trainer_id: str, event_id: str, session_id: str) -> dict[str, str]:
    return key(card_pk(trainer_id), f"EVENT#{event_id}#{session_id}")


def card_payment(trainer_id: str, payment_intent: str) -> dict[str, str]:
    return key(card_pk(trainer_id), f"PAY#{payment_intent}")


# --- Bank transfer reconciliation (issue 16 item 4) -----------------------------------------
# An invoice's payment reference (`PT-XXXXXX`) is a lookup item of its own, written
# `attribute_not_exists` (or already this session's: a resend) in the transaction that
# queues the invoice: a statement line naming it finds its session with one BatchGetItem
# and no Scan. A confirmed statement line leaves a fingerprint item, written
# `attribute_not_exists` in the transaction that marks its session paid, so a line is
# never used twice. Each its own partition: nothing that reads another meets them.


def payment_reference(trainer_id: str, reference: str) -> dict[str, str]:
    return key(f"{trainer_pk(trainer_id)}#PAYREF#{reference}", "PAYREF")


def statement_line(trainer_id: str, fingerprint: str) -> dict[str, str]:
    return key(f"{trainer_pk(trainer_id)}#BANKLINE#{fingerprint}", "BANKLINE")


# Packs (repo/packs.py) ------------------------------------------------------------------
def trainer_of_programs_pk(pk: str) -> str | None:
    """The trainer whose programs partition this is (the pack-notice job reads bundles
    from the DueWork index, which gives their keys, not their trainer)."""
    if pk.startswith("T#") and pk.endswith("#PROG"):
        return pk[2 : -len("#PROG")] or None
    return None


# --- Numbered invoices (issue 17 item 4, repo/invoices.py) ---------------------------------
# One partition per trainer's invoices: the counter (`SEQ`, the next number), each issued
# document by its zero-padded number (`N#…`, written `attribute_not_exists` beside the
# counter's conditional claim, so a number is never given twice and none is skipped), and
# one pointer per session (`S#<session id>`), per pack (`B#<bundle id>`) and per credited
# invoice (`CN#<number>`), so a resend finds its invoice, a pack has one and an invoice
# takes one credit note.


def invoices_pk(trainer_id: str) -> str:
    return f"{trainer_pk(trainer_id)}#INV"


def invoice_counter(trainer_id: str) -> dict[str, str]:
    return key(invoices_pk(trainer_id), "SEQ")


def invoice(trainer_id: str, number: int) -> dict[str, str]:
    return key(invoices_pk(trainer_id), f"N#{number:06d}")


def session_invoice(trainer_id: str, session_id: str) -> dict[str, str]:
    return key(invoices_pk(trainer_id), f"S#{session_id}")


def invoice_credit(trainer_id: str, number: int) -> dict[str, str]:
    return key(invoices_pk(trainer_id), f"CN#{number:06d}")


def bundle_invoice(trainer_id: str, bundle_id: str) -> dict[str, str]:
    """A pack's invoice pointer (`B#<bundle id>`), as `session_invoice` is a session's:
    one invoice per pack, removed by its credit note."""
    return key(invoices_pk(trainer_id), f"B#{bundle_id}")

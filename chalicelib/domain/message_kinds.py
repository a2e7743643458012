"""The kinds of message the business starts, in a module of their own so Settings (which
validates a trainer's Content SIDs by kind) can name them without importing messages."""

from __future__ import annotations

from typing import Final

# What a client did, told to the trainer (their own number or email, by their setting).
TRAINER_NOTIFICATION: Final = "notification"

# The kinds the business starts, each with an approved WhatsApp template
# (messaging/templates.SPECS, which a test holds to this list).
TEMPLATE_KINDS: Final = (
    "offer",
    "invoice",
    "confirmation",
    "program_confirmation",
    "reminder",
    "portal_link",
    "cancel_notice",
    "move_notice",
    "canceled",
    "pack_renewal",
    TRAINER_NOTIFICATION,
    # The invoice with a Pay by card link: its own approved template beside the plain
    # one (messaging/templates.WITH_LINK), used when it is bound.
    "invoice_card",
)

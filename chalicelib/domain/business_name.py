"""The "Name shown to clients" asked for at sign-up (TrainerSettings.business_name).

Without it every message to clients is signed with the local part of the trainer's email
("confirmed with sam.fit.1987"), so the first sign-in asks for it, with a suggestion.
"""

from __future__ import annotations

import re
import unicodedata

from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.settings import MAX_NAME

FIELD = "business_name"


def suggested_business_name(email: str) -> str:
    """A starting point the trainer can accept or edit: "sam.fit+pt@x.com" -> "Sam Fit"."""
    local = email.partition("@")[0].partition("+")[0]  # plus-addressing tags are not names
    words = [word for word in re.split(r"[._\-]+", local) if word]
    return " ".join(word[:1].upper() + word[1:] for word in words)[:MAX_NAME]


def clean_business_name(raw: str) -> str:
    """The name as saved, or InvalidInput for the field (same length rule as Settings)."""
    name = " ".join((raw or "").split())
    if not name:
        raise InvalidInput({FIELD: "Enter the name your clients will see, for example “Sam Fit”."})
    if len(name) > MAX_NAME:
        raise InvalidInput({FIELD: f"Keep the name to {MAX_NAME} characters or fewer."})
    if any(unicodedata.category(char) == "Cc" for char in name):
        raise InvalidInput({FIELD: "The name cannot contain control characters."})
    return name

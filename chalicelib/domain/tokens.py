"""Secrets handed to browsers: 256-bit, URL-safe, and only ever stored as a SHA-256 hash."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

TOKEN_BYTES = 32  # 256 bits
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_id() -> str:
    """Short random id for items (not a secret): 72 bits, URL-safe."""
    return secrets.token_urlsafe(9)


def looks_like_token(token: str) -> bool:
    # Cheap shape check before any database read: a truncated or padded token is refused
    # the same way as an unknown one, so it reveals nothing.
    return _TOKEN_SHAPE.fullmatch(token) is not None


def derive_token(secret: bytes, *parts: str) -> str:
    """A 256-bit token that can be computed again from the secret, so a capability link
    can be shown to its owner any time while only its hash is stored."""
    digest = hmac.new(secret, "|".join(parts).encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def portal_token(secret: bytes, trainer_id: str, client_id: str, generation: int) -> str:
    return derive_token(secret, "portal", trainer_id, client_id, str(generation))


def offer_link_token(secret: bytes, trainer_id: str, offer_id: str) -> str:
    """The offer message's accept link (/o/<token>): derived, like every client link, so
    it can be made again to send or show the message and is stored only as a hash."""
    return derive_token(secret, "offer", trainer_id, offer_id)


def session_link_token(
    secret: bytes, trainer_id: str, client_id: str, generation: int, session_id: str
) -> str:
    """The client's link to one session (/s/<token>). It includes the portal generation,
    so rotating the client's portal link retires every session link with it."""
    return derive_token(secret, "session", trainer_id, client_id, str(generation), session_id)

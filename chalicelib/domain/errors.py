"""Errors the domain and services raise; the web layer maps each to a page or a 4xx."""

from __future__ import annotations


class DomainError(Exception):
    """Base class: every expected failure a user can cause."""

    @property
    def user_message(self) -> str:
        return str(self)


class InvalidInput(DomainError):
    """User input broke a rule. `errors` maps a form field to a message for that field."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class NotFound(DomainError):
    """The thing does not exist for this trainer (also used for other trainers' ids)."""


class VersionConflict(DomainError):
    """The item changed since the form was rendered."""

    message = "This was changed elsewhere (another tab or device). Reload the page and try again."

    @property
    def user_message(self) -> str:
        return self.message


def same_version(actual: int, seen: int | None) -> None:
    """A typed command's version (None: blank or garbled) is the one read, or the form was
    drawn from an older state: a stale page."""
    if seen != actual:
        raise VersionConflict()


def expect_version(actual: int, submitted: str | None) -> None:
    """A form carries the version it was rendered from; a mismatch means a stale page."""
    if str(actual) != (submitted or "").strip():
        raise VersionConflict()


class Conflict(DomainError):
    """A rule that depends on other data refused the change (e.g. location still in use)."""


class RateLimited(DomainError):
    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__("rate limited")
        self.retry_after_seconds = retry_after_seconds


class InvalidToken(DomainError):
    """A capability or sign-in token that is unknown, expired or already used."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

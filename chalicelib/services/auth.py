"""Trainer sign-in by magic link, sessions and sign-out (DESIGN.md §6)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib.domain.errors import InvalidInput, InvalidToken, RateLimited
from chalicelib.domain.models import Trainer, email_errors, normalise_email
from chalicelib.domain.tokens import looks_like_token, new_id, new_token, token_hash
from chalicelib.messaging import email as email_sender
from chalicelib.messaging.texts import render_text
from chalicelib.repo.dynamo import TransactionFailed
from chalicelib.repo.repository import Repository
from chalicelib.runtime import Config

SIGN_IN_LIFETIME = timedelta(minutes=15)
SESSION_LIFETIME = timedelta(days=30)
RATE_WINDOW_SECONDS = 15 * 60
EMAIL_ATTEMPTS_PER_WINDOW = 5
IP_ATTEMPTS_PER_WINDOW = 30
SIGN_IN_KIND = "signin"
SESSION_KIND = "session"


@dataclass(frozen=True)
class SignedIn:
    cookie_value: str
    trainer_id: str


@dataclass(frozen=True)
class CurrentSession:
    trainer: Trainer
    csrf: str
    token_hash: str


def _enforce_rate_limits(repo: Repository, email: str, ip: str, now: datetime) -> None:
    epoch = int(now.timestamp())
    window = epoch - epoch % RATE_WINDOW_SECONDS
    retry_after = window + RATE_WINDOW_SECONDS - epoch
    for scope, subject, limit in (
        ("ip", ip or "unknown", IP_ATTEMPTS_PER_WINDOW),
        ("email", email, EMAIL_ATTEMPTS_PER_WINDOW),
    ):
        if not repo.count_attempt(scope, token_hash(subject), window, RATE_WINDOW_SECONDS, limit):
            raise RateLimited(retry_after)


def request_sign_in(
    repo: Repository, cfg: Config, raw_email: str, ip: str, base_url: str, now: datetime
) -> str:
    """Send a sign-in link (or, invite-only and unknown, a "no account" note).

    The caller shows the same page whatever happened, so the response does not reveal
    whether the address has an account.
    """
    email = normalise_email(raw_email)
    errors = email_errors(email)
    if errors:
        raise InvalidInput(errors)
    _enforce_rate_limits(repo, email, ip, now)
    has_account = repo.trainer_id_for_email(email) is not None
    if has_account or cfg.signup_mode == "open":
        url = issue_sign_in_link(repo, email, base_url, now)
        email_sender.send(
            email_sender.Email(
                to=email,
                subject="Your PT Bookings sign-in link",
                text=render_text("sign_in.txt", url=url, new_account=not has_account),
                console_line=f"Sign in: {url}",
            )
        )
    else:
        email_sender.send(
            email_sender.Email(
                to=email,
                subject="PT Bookings sign-in",
                text=render_text("no_account.txt", email=email),
            )
        )
    return email


def issue_sign_in_link(repo: Repository, email: str, base_url: str, now: datetime) -> str:
    token = new_token()
    repo.put_token(token_hash(token), SIGN_IN_KIND, now + SIGN_IN_LIFETIME, {"email": email})
    return f"{base_url}/login/confirm?token={token}"


def check_sign_in_token(repo: Repository, token: str, now: datetime) -> str:
    """The email a still-valid sign-in link is for (read only: GET never consumes)."""
    record = repo.get_token(token_hash(token)) if looks_like_token(token) else None
    if record is None or record.kind != SIGN_IN_KIND:
        raise InvalidToken("invalid")
    if record.used_at is not None:
        raise InvalidToken("used")
    if record.expires_at <= now:
        raise InvalidToken("expired")
    return str(record.data["email"])


def confirm_sign_in(repo: Repository, cfg: Config, token: str, now: datetime) -> SignedIn:
    """Consume the link and open a session, atomically (and create the account on sign-up)."""
    email = check_sign_in_token(repo, token, now)
    link_hash = token_hash(token)
    for _attempt in range(2):
        trainer_id = repo.trainer_id_for_email(email)
        new_trainer: Trainer | None = None
        if trainer_id is None:
            if cfg.signup_mode != "open":
                raise InvalidToken("no-account")
            new_trainer = Trainer(id=new_id(), email=email, created_at=now)
            trainer_id = new_trainer.id
        session_token = new_token()
        operations = [
            repo.use_token_op(link_hash, SIGN_IN_KIND, now),
            repo.session_op(
                token_hash(session_token), trainer_id, new_token(), now + SESSION_LIFETIME
            ),
        ]
        if new_trainer is not None:
            operations += repo.create_trainer_ops(new_trainer)
        try:
            repo.transact(operations)
        except TransactionFailed as exc:
            if exc.failed_at(0):
                # Lost a race with another confirm (or the clock ran out): say which.
                check_sign_in_token(repo, token, now)
                raise InvalidToken("used") from exc
            if new_trainer is not None and exc.failed_at(2):
                continue  # the account was created meanwhile: sign in to it instead
            raise
        return SignedIn(cookie_value=f"{trainer_id}.{session_token}", trainer_id=trainer_id)
    raise InvalidToken("used")


def current_session(repo: Repository, cookie_value: str, now: datetime) -> CurrentSession | None:
    trainer_id, _, secret = (cookie_value or "").partition(".")
    if not trainer_id or not looks_like_token(secret) or len(trainer_id) > 32:
        return None
    hashed = token_hash(secret)
    record, trainer = repo.session_with_profile(hashed, trainer_id)
    if (
        record is None
        or trainer is None
        or record.kind != SESSION_KIND
        or record.data.get("trainer_id") != trainer_id
        or record.expires_at <= now
    ):
        return None
    return CurrentSession(trainer=trainer, csrf=str(record.data["csrf"]), token_hash=hashed)


def sign_out(repo: Repository, session: CurrentSession) -> None:
    repo.delete_token(session.token_hash)

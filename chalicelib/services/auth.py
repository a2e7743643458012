"""Trainer sign-in by magic link, sessions and sign-out (DESIGN.md §6)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib import observability
from chalicelib.config import Config
from chalicelib.domain.business_name import clean_business_name, suggested_business_name
from chalicelib.domain.commands import Command
from chalicelib.domain.email_address import InvalidEmailAddress, normalise_email_address
from chalicelib.domain.errors import InvalidInput, InvalidToken, RateLimited, VersionConflict
from chalicelib.domain.models import Trainer
from chalicelib.domain.settings import TrainerSettings
from chalicelib.domain.tokens import looks_like_token, new_id, new_token, token_hash
from chalicelib.messaging import email as email_sender
from chalicelib.messaging.texts import render_text
from chalicelib.repo.accounts import CLAIM_EMAIL
from chalicelib.repo.dynamo import TransactionFailed
from chalicelib.repo.repository import Repository
from chalicelib.repo.tokens import USE_TOKEN
from chalicelib.services.deps import Deps

log = logging.getLogger("pt_bookings.auth")

SIGN_IN_LIFETIME = timedelta(minutes=15)
SESSION_LIFETIME = timedelta(days=30)
RATE_WINDOW_SECONDS = 15 * 60
# Sign-in rate limits (docs/architecture.md, "Sign-in rate limits"). Anyone can type
# anyone's address, so nothing keyed by the address may ever refuse a request: that let
# five requests from a stranger lock a trainer out for 15 minutes. Instead:
# - per IP, requests are refused (429) past IP_ATTEMPTS_PER_WINDOW: that only ever stops
#   the requester;
# - per address, at most EMAILS_PER_ADDRESS_PER_WINDOW emails are SENT per window (this
#   stops inbox flooding); further requests get the same "check your email" page and send
#   nothing, so nothing leaks. Links are independent and a new one never retires an old
#   one, so whenever the cap is reached the owner's inbox holds a link sent in this
#   window, hence still valid (lifetime = window length), which only the owner can use;
#   and the next window sends again. A send that fails gives its place back.
EMAILS_PER_ADDRESS_PER_WINDOW = 3
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


class RequestSignIn(Command):
    """The sign-in form: the address to send a link to (checked by `parse_email`)."""

    email: str = ""


class ConfirmSignIn(Command):
    """The confirm page's form: the link's token, and the name shown to clients when the
    page asked for one (None when it did not: the account is already named)."""

    token: str = ""
    business_name: str | None = None


@dataclass(frozen=True)
class ConfirmPage:
    """What the confirm page needs: whose link it is, and whether to ask for a name."""

    token: str
    email: str
    ask_business_name: bool
    suggested_business_name: str  # the name field's value until the trainer types one


def parse_email(raw: str, cfg: Config) -> str:
    """The normalised address, or InvalidInput for the form's email field."""
    try:
        # `.local` and friends only on `make run`, whose demo trainer is demo@ptbookings.local.
        return normalise_email_address(raw, allow_reserved_domains=cfg.stage == "local")
    except InvalidEmailAddress as exc:
        message = f"Enter an email address like name@example.com. {exc}"
        raise InvalidInput({"email": message}) from exc


def request_sign_in(deps: Deps, command: RequestSignIn, ip: str, base_url: str) -> str:
    """Send a sign-in link (or, invite-only and unknown, a "no account" note).

    The caller shows the same page whatever happened, so the response does not reveal
    whether the address has an account, nor whether this request sent anything.
    `base_url` must come from request_state's trusted base, never from request headers.
    Raises EmailNotSent when the provider refuses; nothing is left counted then.
    """
    repo, cfg, now = deps.repo, deps.config, deps.now
    email = parse_email(command.email, cfg)
    epoch = int(now.timestamp())
    window = epoch - epoch % RATE_WINDOW_SECONDS
    retry_after = window + RATE_WINDOW_SECONDS - epoch
    if not repo.count_attempt(
        "ip", token_hash(ip or "unknown"), window, RATE_WINDOW_SECONDS, IP_ATTEMPTS_PER_WINDOW
    ):
        raise RateLimited(retry_after)
    address = token_hash(email)
    if not repo.count_attempt(
        "email", address, window, RATE_WINDOW_SECONDS, EMAILS_PER_ADDRESS_PER_WINDOW
    ):
        log.info("sign-in email cap reached for an address; nothing sent")
        return email
    try:
        _send_sign_in_email(repo, cfg, email, base_url, now)
    except email_sender.EmailNotSent:
        # Not sent, so not counted: three refusals must not leave the address capped.
        repo.release_attempt("email", address, window)
        raise
    return email


def _send_sign_in_email(
    repo: Repository, cfg: Config, email: str, base_url: str, now: datetime
) -> None:
    has_account = repo.trainer_id_for_email(email) is not None
    if not (has_account or cfg.signup_mode == "open"):
        email_sender.send(
            email_sender.Email(
                to=email,
                subject="PT Bookings sign-in",
                text=render_text("no_account.txt", email=email),
            )
        )
        return
    token = new_token()
    url = _store_sign_in_link(repo, token, email, base_url, now)
    try:
        email_sender.send(
            email_sender.Email(
                to=email,
                subject="Your PT Bookings sign-in link",
                text=render_text("sign_in.txt", url=url, new_account=not has_account),
                console_line=f"Sign in: {url}",
            )
        )
    except email_sender.EmailNotSent:
        repo.delete_token(token_hash(token))  # nobody holds it; leave nothing behind
        raise


def issue_sign_in_link(repo: Repository, email: str, base_url: str, now: datetime) -> str:
    """A fresh link for an already normalised address (also `make run`'s demo link)."""
    return _store_sign_in_link(repo, new_token(), email, base_url, now)


def _store_sign_in_link(
    repo: Repository, token: str, email: str, base_url: str, now: datetime
) -> str:
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


def confirm_page(deps: Deps, token: str, *, refused: bool = False) -> ConfirmPage:
    """The confirm page: asks for the name shown to clients while the account has none.

    `refused`: shown again after the name typed was refused, so the page asks again
    whatever the account has, and only the link is read (it was not used)."""
    repo = deps.repo
    email = check_sign_in_token(repo, token, deps.now)
    suggested = suggested_business_name(email)
    if refused:
        return ConfirmPage(token, email, True, suggested)
    trainer_id = repo.trainer_id_for_email(email)
    if trainer_id is None:
        ask = deps.config.signup_mode == "open"  # this link signs up a new trainer
    else:
        # Invited trainers (infra/manage.py) and older accounts have no name yet either.
        trainer = repo.get_trainer(trainer_id)
        ask = trainer is not None and not trainer.settings.business_name
    return ConfirmPage(token, email, ask, suggested)


def confirm(deps: Deps, command: ConfirmSignIn) -> SignedIn:
    """The confirm form: see `confirm_sign_in`."""
    return confirm_sign_in(deps.repo, deps.config, command.token, deps.now, command.business_name)


def confirm_sign_in(
    repo: Repository, cfg: Config, token: str, now: datetime, business_name: str | None = None
) -> SignedIn:
    """Consume the link and open a session, atomically (and create the account on sign-up).

    `business_name` is the confirm page's "Name shown to clients" (None when the page did
    not ask). It is checked before the link is used, so a refused name costs no link.
    """
    email = check_sign_in_token(repo, token, now)
    name = clean_business_name(business_name) if business_name is not None else ""
    link_hash = token_hash(token)
    for _attempt in range(2):
        trainer_id = repo.trainer_id_for_email(email)
        new_trainer: Trainer | None = None
        if trainer_id is None:
            if cfg.signup_mode != "open":
                raise InvalidToken("no-account")
            new_trainer = Trainer(
                id=new_id(),
                email=email,
                created_at=now,
                settings=TrainerSettings(business_name=name),
            )
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
            if exc.refused(USE_TOKEN):
                # Lost a race with another confirm (or the clock ran out): say which.
                check_sign_in_token(repo, token, now)
                raise InvalidToken("used") from exc
            if new_trainer is not None and exc.refused(CLAIM_EMAIL):
                continue  # the account was created meanwhile: sign in to it instead
            raise
        if name and new_trainer is None:
            _name_if_unnamed(repo, trainer_id, name)
        observability.with_trainer(trainer_id)
        log.info("signed in%s", " (new account)" if new_trainer is not None else "")
        observability.count("SignIns")
        return SignedIn(cookie_value=f"{trainer_id}.{session_token}", trainer_id=trainer_id)
    raise InvalidToken("used")


def _name_if_unnamed(repo: Repository, trainer_id: str, name: str) -> None:
    """Save the name through the settings path, unless the account got one meanwhile."""
    for _attempt in range(2):
        trainer = repo.get_trainer(trainer_id)
        if trainer is None or trainer.settings.business_name:
            return  # named in another tab since the page was shown: keep that one
        try:
            repo.save_settings(trainer, trainer.settings.model_copy(update={"business_name": name}))
            return
        except VersionConflict:
            continue  # settings saved elsewhere between the read and the write: re-read


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


def sign_out(deps: Deps, session: CurrentSession) -> None:
    deps.repo.delete_token(session.token_hash)

"""Composition root: configuration from the environment, the database, the clock.

Everything is read lazily (never at import): Chalice's test client applies the stage's
environment variables only while a request runs, and a boto3 client cached across a
moto `mock_aws` block would talk to the wrong backend, hence `reset()`.

This module is the composition root: it may import messaging, never the reverse. So on
import it hands messaging where its settings and secrets come from (functions only;
nothing is read until a message is sent).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from chalicelib.config import Config
from chalicelib.config import from_env as _config_from_env
from chalicelib.messaging import email as email_channel
from chalicelib.messaging import whatsapp
from chalicelib.repo.dynamo import Db
from chalicelib.repo.files import FileStore
from chalicelib.repo.repository import Repository
from chalicelib.services.deps import Deps
from chalicelib.services.links import Links


def config() -> Config:
    return _config_from_env()


_clients: dict[tuple[str, str | None, str], Any] = {}


def _dynamodb_client(cfg: Config) -> Any:
    cache_key = ("dynamodb", cfg.dynamodb_endpoint, cfg.region)
    client = _clients.get(cache_key)
    if client is None:
        import boto3  # deferred: only paths that touch AWS pay for the import

        from chalicelib.repo.metrics import instrument

        client = boto3.client(
            "dynamodb", region_name=cfg.region, endpoint_url=cfg.dynamodb_endpoint
        )
        instrument(client)
        _clients[cache_key] = client
    return client


def aws_client(service: str) -> Any:
    cfg = config()
    cache_key = (service, None, cfg.region)
    client = _clients.get(cache_key)
    if client is None:
        import boto3
        from botocore.config import Config as BotoConfig

        # SSM and SES answer in well under a second; boto's 60 s defaults would let one
        # stuck call eat a scheduled run's whole time.
        timeouts = BotoConfig(connect_timeout=2, read_timeout=3, retries={"max_attempts": 2})
        client = boto3.client(service, region_name=cfg.region, config=timeouts)
        _clients[cache_key] = client
    return client


def s3_client() -> Any:
    """The documents bucket's client: signature v4 (a presigned POST's policy needs it)
    and the regional endpoint, or the local moto one."""
    cfg = config()
    cache_key = ("s3", cfg.s3_endpoint, cfg.region)
    client = _clients.get(cache_key)
    if client is None:
        import boto3
        from botocore.config import Config as BotoConfig

        client = boto3.client(
            "s3",
            region_name=cfg.region,
            endpoint_url=cfg.s3_endpoint,
            config=BotoConfig(
                signature_version="s3v4",
                connect_timeout=2,
                read_timeout=5,
                retries={"max_attempts": 2},
                s3={"addressing_style": "path" if cfg.s3_endpoint else "virtual"},
            ),
        )
        _clients[cache_key] = client
    return client


_link_secret: dict[str, bytes] = {}


def link_secret() -> bytes:
    """The per-stage secret portal links are derived from (never stored in the table).

    Local and test stages set LINK_SECRET directly; deployed stages name an SSM
    SecureString (LINK_SECRET_PARAM), read once per container.
    """
    direct = os.environ.get("LINK_SECRET")
    if direct:
        return direct.encode()
    name = os.environ.get("LINK_SECRET_PARAM", "")
    if not name:
        raise RuntimeError("Set LINK_SECRET or LINK_SECRET_PARAM")
    if name not in _link_secret:
        _link_secret[name] = ssm_secret(name).encode()
    return _link_secret[name]


def ssm_secret(name: str) -> str:
    """An SSM SecureString's value, read now: callers cache it for the container's life."""
    response = aws_client("ssm").get_parameter(Name=name, WithDecryption=True)
    return response["Parameter"]["Value"]


def email_settings() -> email_channel.EmailSettings:
    cfg = config()
    return email_channel.EmailSettings(
        provider=cfg.email_provider,
        sender=cfg.email_sender,
        ses_client=lambda: aws_client("sesv2"),
        configuration_set=cfg.ses_configuration_set,
    )


def repository() -> Repository:
    cfg = config()
    return Repository(Db(_dynamodb_client(cfg), cfg.table_name))


def links() -> Links:
    """Link maker over the stage secret (read from SSM on first use, once per container)."""
    return Links(link_secret)


def deps(now: datetime | None = None, *, base_url: str | None = None) -> Deps:
    """Everything a request's use cases are handed, with one `now` for all of it.
    `base_url`: the request's trusted base URL (request_state works it out)."""
    cfg = config()
    base = cfg.public_base_url if base_url is None else base_url
    return Deps(repository(), links(), cfg, now or _now(), base, files(cfg))


def files(cfg: Config | None = None) -> FileStore:
    """The documents bucket of this stage (its S3 client made only when first used)."""
    cfg = cfg or config()
    return FileStore(s3_client, cfg.documents_bucket, cfg.s3_endpoint or "", cfg.region)


def job_deps() -> Deps:
    """A scheduled run's dependencies. No request tells a job where the app lives: the
    configured PUBLIC_BASE_URL, else the URL the web function learned from API Gateway
    (one GetItem, only when not configured)."""
    cfg = config()
    repo = repository()
    base = cfg.public_base_url or repo.stage.public_url()
    return Deps(repo, links(), cfg, _now(), base, files(cfg))


# The public URL this container has already kept for the scheduled functions: one write
# per container (and per new URL), not one per request.
_kept_public_url: list[str] = []


def remember_public_url(request_deps: Deps, url: str) -> None:
    """Keep the URL API Gateway routed a request by, for the jobs (see `job_deps`)."""
    if url not in _kept_public_url:
        request_deps.repo.stage.remember_public_url(url, request_deps.now)
        _kept_public_url[:] = [url]


def message_sender() -> Any:
    """The stage's message providers, for the dispatch job."""
    from chalicelib.services import conversations, dispatcher  # deferred: web never loads it

    cfg = config()
    repo = repository()
    return dispatcher.default_sender(
        links(),
        # Delivery reports need a public URL: configured, else the one API Gateway gave
        # the web function (so a stage deployed without PUBLIC_BASE_URL still gets them).
        lambda: cfg.public_base_url or repo.stage.public_url(),
        local=cfg.is_local,
        # Asked at send time, with the run's clock: a window can close during a run.
        window_open=conversations.window_check(repo, now),
        # A stage offering trainers their own sender reads each one's settings once a run.
        repo=repo,
    )


def _system_now() -> datetime:
    return datetime.now(UTC)


_now: Callable[[], datetime] = _system_now


def now() -> datetime:
    return _now()


def set_clock(clock: Callable[[], datetime] | None) -> None:
    """Tests freeze or move time; None restores the system clock."""
    global _now
    _now = clock or _system_now


def reset() -> None:
    """Forget cached AWS clients and the clock override (tests, between moto blocks)."""
    _clients.clear()
    _link_secret.clear()
    _kept_public_url.clear()
    whatsapp.forget_secrets()
    set_clock(None)


# Looked up by name at each call (not bound now), so a test that replaces `config` or
# `aws_client` on this module changes what messaging uses too.
email_channel.configure(lambda: email_settings())
whatsapp.configure(lambda name: ssm_secret(name), ssm=lambda: aws_client("ssm"))

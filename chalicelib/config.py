"""The stage's configuration, read from the environment (never at import: Chalice's test
client applies a stage's variables only while a request runs)."""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_REGION = "eu-west-2"


def _flag(name: str, default: str) -> bool:
    return os.environ.get(name, default).strip().lower() in ("1", "on", "true", "yes")


@dataclass(frozen=True)
class Config:
    stage: str
    table_name: str
    dynamodb_endpoint: str | None
    region: str
    signup_mode: str  # "open" or "invite"
    email_provider: str  # "console" or "ses"
    email_sender: str
    public_base_url: str
    cookie_secure: bool
    hsts: bool
    server_timing: bool
    # SES: the configuration set every send names (it publishes bounces and complaints to
    # the SNS topic), and that topic, the only one whose messages the webhook accepts.
    ses_configuration_set: str = ""
    ses_events_topic_arn: str = ""
    # Uploaded documents (issue 17): the private bucket, and the local S3 (moto) when run
    # on this machine; empty bucket: uploads are off on this stage.
    documents_bucket: str = ""
    s3_endpoint: str | None = None

    @property
    def is_local(self) -> bool:
        return self.stage in ("local", "test")

    @property
    def session_cookie(self) -> str:
        # __Host- demands Secure and Path=/, which plain-HTTP local runs cannot satisfy.
        return "__Host-pt_session" if self.cookie_secure else "pt_session"

    @property
    def csrf_cookie(self) -> str:
        return "__Host-pt_csrf" if self.cookie_secure else "pt_csrf"


def from_env() -> Config:
    env = os.environ
    return Config(
        stage=env.get("APP_STAGE", "dev"),
        table_name=env.get("TABLE_NAME", "pt-bookings-dev"),
        dynamodb_endpoint=env.get("DYNAMODB_ENDPOINT") or None,
        region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or DEFAULT_REGION,
        signup_mode=env.get("SIGNUP_MODE", "open"),
        email_provider=env.get("EMAIL_PROVIDER", "ses"),
        email_sender=env.get("EMAIL_SENDER", ""),
        public_base_url=env.get("PUBLIC_BASE_URL", "").rstrip("/"),
        cookie_secure=_flag("COOKIE_SECURE", "true"),
        hsts=_flag("HSTS", "on"),
        server_timing=_flag("SERVER_TIMING", "on"),
        ses_configuration_set=env.get("SES_CONFIGURATION_SET", "").strip(),
        ses_events_topic_arn=env.get("SES_EVENTS_TOPIC_ARN", "").strip(),
        documents_bucket=env.get("DOCUMENTS_BUCKET", "").strip(),
        s3_endpoint=env.get("S3_ENDPOINT") or None,
    )

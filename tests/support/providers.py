"""Test stages without a WhatsApp provider: every setting that picks or reaches one
cleared, so a test starts from the log provider and a console mailer and sets only what
it means to test."""

from __future__ import annotations

from typing import Final

import pytest

from chalicelib.messaging import whatsapp

PROVIDER_SETTINGS: Final = (
    "WHATSAPP_PROVIDER",
    "WHATSAPP_TEMPLATES",
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "TWILIO_AUTH_TOKEN_PARAM",
    "TWILIO_WHATSAPP_FROM",
    "TWILIO_API_BASE",
    # A proxy in the calling shell would carry the fake servers' requests away.
    "http_proxy",
    "https_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
)


def no_provider_stage(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROVIDER_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("EMAIL_PROVIDER", "console")
    whatsapp.forget_secrets()

"""Portal links hang on a per-stage secret: SSM when deployed, an env var locally."""

from __future__ import annotations

import boto3
import pytest

from chalicelib import runtime


def test_deployed_stages_read_the_link_secret_from_ssm_once(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    ssm = boto3.client("ssm", region_name="eu-west-2")
    ssm.put_parameter(Name="/pt-bookings/prod/link-secret", Value="s3cr3t", Type="SecureString")
    monkeypatch.delenv("LINK_SECRET", raising=False)
    monkeypatch.setenv("LINK_SECRET_PARAM", "/pt-bookings/prod/link-secret")
    assert runtime.link_secret() == b"s3cr3t"
    ssm.put_parameter(
        Name="/pt-bookings/prod/link-secret", Value="changed", Type="SecureString", Overwrite=True
    )
    assert runtime.link_secret() == b"s3cr3t"  # cached for the container's life


def test_a_missing_link_secret_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LINK_SECRET", raising=False)
    monkeypatch.delenv("LINK_SECRET_PARAM", raising=False)
    with pytest.raises(RuntimeError, match="LINK_SECRET"):
        runtime.link_secret()

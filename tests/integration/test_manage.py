"""The operator's invite command for invite-only stages."""

from __future__ import annotations

import dataclasses

import pytest

from chalicelib import runtime
from chalicelib.repo.repository import Repository
from chalicelib.services import auth
from infra import manage


def test_an_invited_trainer_can_sign_in_on_an_invite_only_stage(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert manage.main(["invite", "  Coach@Example.com "]) == 0
    trainer_id = repo.trainer_id_for_email("coach@example.com")
    assert trainer_id
    cfg = dataclasses.replace(runtime.config(), signup_mode="invite")
    link = auth.issue_sign_in_link(repo, "coach@example.com", "http://x", runtime.now())
    signed_in = auth.confirm_sign_in(repo, cfg, link.split("token=")[1], runtime.now())
    assert signed_in.trainer_id == trainer_id


def test_inviting_twice_or_a_bad_address_fails_clearly(repo: Repository) -> None:
    manage.main(["invite", "coach@example.com"])
    with pytest.raises(SystemExit, match="already has an account"):
        manage.main(["invite", "coach@example.com"])
    with pytest.raises(SystemExit, match="must have an @-sign"):
        manage.main(["invite", "nonsense"])
    with pytest.raises(SystemExit):
        manage.main(["invite", "a@b.com,evil@c.com"])


def test_index_bundles_keys_bundles_from_before_the_paged_hub(repo: Repository) -> None:
    trainer_id = manage.invite("coach@example.com")
    # nothing to do for a trainer without bundles, and running it twice is harmless
    assert manage.main(["index-bundles", trainer_id]) == 0
    assert manage.index_bundles([trainer_id]) == 0

"""Secrets at rest and the settings that guard them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from controlplane import secrets
from controlplane.settings import DEV_ENCRYPTION_KEY, Settings, get_settings


def test_outside_dev_mode_the_default_key_is_refused() -> None:
    with pytest.raises(ValidationError, match="DBAAS_ENCRYPTION_KEY"):
        Settings(dev_mode=False, encryption_key=DEV_ENCRYPTION_KEY)
    assert Settings(dev_mode=False, encryption_key="a-long-random-production-key").dev_mode is False


def test_secrets_are_encrypted_and_bound_to_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    token = secrets.encrypt("Sup3r-secret!pw")
    assert "Sup3r" not in token and secrets.decrypt(token) == "Sup3r-secret!pw"
    monkeypatch.setenv("DBAAS_ENCRYPTION_KEY", "another-key")
    get_settings.cache_clear()
    try:
        with pytest.raises(ValueError, match="cannot be decrypted"):
            secrets.decrypt(token)
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def test_api_keys_look_like_scaleway_keys_and_only_a_hash_is_kept() -> None:
    import re

    access, secret = secrets.new_access_key(), secrets.new_secret_key()
    assert re.fullmatch(r"SCW[A-Z0-9]{17}", access)
    assert re.fullmatch(r"[0-9a-f-]{36}", secret)
    digest = secrets.hash_secret_key(secret)
    assert secret not in digest and digest == secrets.hash_secret_key(secret.upper())

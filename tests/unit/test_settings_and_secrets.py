"""Secrets at rest, the keys that protect them, and the settings that guard them."""

from __future__ import annotations

import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from controlplane import keyring, secrets
from controlplane.settings import DEV_ENCRYPTION_KEY, Settings, get_settings


@pytest.fixture()
def key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A key file of the test's own, production mode, no key in the environment."""
    path = tmp_path / "secrets" / "encryption.key"
    monkeypatch.delenv("DBAAS_ENCRYPTION_KEY", raising=False)
    monkeypatch.setenv("DBAAS_ENCRYPTION_KEY_FILE", str(path))
    monkeypatch.setenv("DBAAS_DEV_MODE", "false")
    get_settings.cache_clear()
    yield path
    monkeypatch.undo()
    get_settings.cache_clear()


def test_production_is_the_default_and_refuses_the_public_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DBAAS_DEV_MODE", raising=False)
    assert Settings().dev_mode is False
    with pytest.raises(ValidationError, match="development key"):
        Settings(dev_mode=False, encryption_key=DEV_ENCRYPTION_KEY)
    assert Settings(dev_mode=True, encryption_key=DEV_ENCRYPTION_KEY).dev_mode is True


def test_no_key_in_production_is_refused(key_file: Path) -> None:
    with pytest.raises(keyring.NoKeyError, match="init-key"):
        secrets.encrypt("x")


def test_dev_mode_without_a_key_uses_the_public_key(
    key_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DBAAS_DEV_MODE", "true")
    get_settings.cache_clear()
    assert keyring.current_keys() == (DEV_ENCRYPTION_KEY,)


def test_the_key_file_is_random_and_private(key_file: Path) -> None:
    assert keyring.ensure_key_file() is True
    assert keyring.ensure_key_file() is False  # kept: secrets stay readable
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    (key,) = keyring.read_key_file(key_file)
    assert len(key) == 44 and key != DEV_ENCRYPTION_KEY


def test_secrets_are_encrypted_and_bound_to_the_key(key_file: Path) -> None:
    keyring.ensure_key_file()
    token = secrets.encrypt("Sup3r-secret!pw")
    assert "Sup3r" not in token and secrets.decrypt(token) == "Sup3r-secret!pw"
    keyring.write_key_file(key_file, [keyring.new_key()])
    with pytest.raises(ValueError, match="cannot be decrypted"):
        secrets.decrypt(token)


def test_rotation_reencrypts_under_the_new_key_only(key_file: Path) -> None:
    keyring.ensure_key_file()
    (old,) = keyring.read_key_file(key_file)
    token = secrets.encrypt("Sup3r-secret!pw")
    new = keyring.new_key()
    keyring.write_key_file(key_file, [new, old])  # step 1: running processes pick it up
    assert secrets.decrypt(token) == "Sup3r-secret!pw"
    rotated = secrets.reencrypt(token)
    keyring.write_key_file(key_file, [new])  # step 3: the old key is gone
    assert secrets.decrypt(rotated) == "Sup3r-secret!pw"
    with pytest.raises(ValueError):
        secrets.decrypt(token)


def test_api_keys_look_like_scaleway_keys_and_only_a_hash_is_kept() -> None:
    access, secret = secrets.new_access_key(), secrets.new_secret_key()
    assert re.fullmatch(r"SCW[A-Z0-9]{17}", access)
    assert re.fullmatch(r"[0-9a-f-]{36}", secret)
    digest = secrets.hash_secret_key(secret)
    assert secret not in digest and digest == secrets.hash_secret_key(secret.upper())


@pytest.mark.parametrize(
    ("text", "size"),
    [("1073741824", 2**30), ("8GiB", 8 * 2**30), ("500GB", 500 * 10**9), ("1.5 TB", 15 * 10**11)],
)
def test_sizes_as_people_write_them(text: str, size: int) -> None:
    from controlplane.domain.units import parse_bytes

    assert parse_bytes(text) == size


@pytest.mark.parametrize("text", ["", "GB", "8 parsecs", "-1GB", "1e9"])
def test_sizes_that_are_not(text: str) -> None:
    from controlplane.domain.units import parse_bytes

    with pytest.raises(ValueError, match="not a size"):
        parse_bytes(text)

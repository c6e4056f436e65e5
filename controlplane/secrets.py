"""Secrets at rest: symmetric encryption with the keyring's keys, and API key generation/hashing."""

from __future__ import annotations

import base64
import hashlib
import secrets
import string
import uuid
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from controlplane import keyring

_ACCESS_KEY_ALPHABET = string.ascii_uppercase + string.digits


def _fernet(key_material: str) -> Fernet:
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"dbaas-secrets-v1", info=b"fernet"
    ).derive(key_material.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


@lru_cache(maxsize=8)
def _cipher(keys: tuple[str, ...]) -> MultiFernet:
    """The first key encrypts; every key decrypts."""
    return MultiFernet([_fernet(key) for key in keys])


def encrypt(plaintext: str) -> str:
    return _cipher(keyring.current_keys()).encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _cipher(keyring.current_keys()).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("secret cannot be decrypted with the configured encryption key") from exc


def decrypt_with(key: str, token: str) -> str:
    """With one given key only (to find which key a stored secret is under)."""
    try:
        return _cipher((key,)).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("secret cannot be decrypted with this key") from exc


def reencrypt(token: str) -> str:
    """The same secret under the current first key (key rotation)."""
    try:
        return _cipher(keyring.current_keys()).rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("secret cannot be decrypted with the configured encryption key") from exc


def new_access_key() -> str:
    return "SCW" + "".join(secrets.choice(_ACCESS_KEY_ALPHABET) for _ in range(17))


def new_secret_key() -> str:
    return str(uuid.uuid4())


def hash_secret_key(secret_key: str) -> str:
    # Secret keys are random UUIDs (122 bits), so a fast hash is not brute-forceable.
    return hashlib.sha256(secret_key.strip().lower().encode()).hexdigest()


def new_password(length: int = 32) -> str:
    """A random password for internal engine accounts (letters and digits: safe in conf files)."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))

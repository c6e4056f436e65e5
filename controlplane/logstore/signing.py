"""HMAC signatures of download URLs (the filesystem store's): over the key, the file name and
the expiry, with a key derived from the service's encryption key (never the key itself)."""

from __future__ import annotations

import hashlib
import hmac
import time

from controlplane import keyring

PURPOSE = b"dbaas log download urls v1"


def _signing_key() -> bytes:
    return hmac.new(keyring.current_keys()[0].encode(), PURPOSE, hashlib.sha256).digest()


def sign(key: str, filename: str, expires: int) -> str:
    message = f"{key}\n{filename}\n{expires}".encode()
    return hmac.new(_signing_key(), message, hashlib.sha256).hexdigest()


def verify(key: str, filename: str, expires: int, signature: str, now: float | None = None) -> bool:
    """Pure but for the key: the signature matches and the expiry has not passed."""
    if expires < (time.time() if now is None else now):
        return False
    return hmac.compare_digest(sign(key, filename, expires), signature)

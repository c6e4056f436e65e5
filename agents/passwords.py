"""Password verifiers computed on our side, so engines never see a plaintext password."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import unicodedata

SCRAM_ITERATIONS = 4096


def _saslprep(password: str) -> bytes:
    # RFC 4013 essentials as PostgreSQL applies them: non-ASCII spaces -> space, NFKC.
    mapped = "".join(" " if unicodedata.category(c) == "Zs" else c for c in password)
    return unicodedata.normalize("NFKC", mapped).encode()


def scram_sha256(
    password: str, salt: bytes | None = None, iterations: int = SCRAM_ITERATIONS
) -> str:
    """PostgreSQL's ``SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>`` verifier."""
    salt = salt or os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", _saslprep(password), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def mysql_native(password: str) -> str:
    """MySQL/MariaDB ``mysql_native_password`` hash: ``*`` + hex(SHA1(SHA1(password)))."""
    return "*" + hashlib.sha1(hashlib.sha1(password.encode()).digest()).hexdigest().upper()

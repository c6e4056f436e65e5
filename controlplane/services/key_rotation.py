"""Re-encrypt every secret at rest under a new key (``dbaas rotate-key``).

1. The key file gets a new first line; running processes notice the change and encrypt with it
   (they keep decrypting with the old line).
2. Every stored secret is re-encrypted, twice, a grace period apart: the second pass catches
   secrets written by a transaction that had encrypted with the old key just before step 1.
3. The old lines are dropped: what the old key protected is unreadable without the new one.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from controlplane import keyring, secrets
from controlplane.db.models import DatabaseBackup, Instance, Operation, Snapshot
from controlplane.services.operations import SECRET_PARAMS
from controlplane.settings import DEV_ENCRYPTION_KEY

# Columns that hold ``secrets.encrypt`` tokens (empty strings mean "none").
ENCRYPTED_COLUMNS: dict[type, tuple[str, ...]] = {
    Instance: ("superuser_secret", "replication_secret", "tls_key_secret"),
    Snapshot: ("superuser_secret", "replication_secret", "key_secret"),
    DatabaseBackup: ("key_secret",),
}


def _reencrypt_rows(session: Session) -> Iterator[None]:
    for model, columns in ENCRYPTED_COLUMNS.items():
        rows: list[Any] = list(session.scalars(select(model)))
        for row in rows:
            for column in columns:
                token = getattr(row, column)
                if token:
                    setattr(row, column, secrets.reencrypt(token))
                    yield None
    for op in session.scalars(select(Operation)):
        if any(name in op.params for name in SECRET_PARAMS):
            op.params = {
                name: secrets.reencrypt(value) if name in SECRET_PARAMS else value
                for name, value in op.params.items()
            }
            yield None


def reencrypt_all(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        count = sum(1 for _ in _reencrypt_rows(session))
        session.commit()
    return count


def rotate(sessions: sessionmaker[Session], grace_seconds: float = 5.0) -> int:
    """Returns how many secrets were re-encrypted."""
    path = keyring.key_file()
    if not path.exists():
        raise keyring.NoKeyError(f"{path} does not exist: rotation works on the key file")
    return _move(sessions, keyring.new_key(), list(keyring.read_key_file(path)), grace_seconds)


def adopt_development_key(sessions: sessionmaker[Session]) -> int:
    """A store written in development mode (the public key) moves to the key file's key; a
    no-op when no secret is under the public key. Returns how many secrets were moved."""
    if not any(_under_development_key(token) for token in _tokens(sessions)):
        return 0
    (current,) = keyring.read_key_file(keyring.key_file())[:1]
    return _move(sessions, current, [DEV_ENCRYPTION_KEY], grace_seconds=0)


def _move(sessions: sessionmaker[Session], new: str, old: list[str], grace_seconds: float) -> int:
    path = keyring.key_file()
    keyring.write_key_file(path, [new, *old])  # 1. encrypt with the new key, decrypt with all
    count = reencrypt_all(sessions)  # 2. every secret under the new key
    time.sleep(grace_seconds)
    count = max(count, reencrypt_all(sessions))
    keyring.write_key_file(path, [new])  # 3. the old keys are gone
    return count


def _tokens(sessions: sessionmaker[Session]) -> list[str]:
    tokens: list[str] = []
    with sessions() as session:
        for model, columns in ENCRYPTED_COLUMNS.items():
            rows: list[Any] = list(session.scalars(select(model)))
            tokens += [getattr(row, c) for row in rows for c in columns if getattr(row, c)]
    return tokens


def _under_development_key(token: str) -> bool:
    try:
        secrets.decrypt_with(DEV_ENCRYPTION_KEY, token)
        return True
    except ValueError:
        return False

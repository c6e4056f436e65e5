"""The keys that encrypt secrets at rest: where they come from, how they are made and rotated.

Source, first found: ``DBAAS_ENCRYPTION_KEY`` (one key), the key file (default
``<state_dir>/secrets/encryption.key``: one key per line, the first encrypts, every line
decrypts), and in dev mode only the public development key. Production without a key refuses
to start. The file is re-read whenever it changes, so ``dbaas rotate-key`` (new first line,
re-encrypt, drop the old lines) reaches running processes without a restart.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from controlplane.settings import DEV_ENCRYPTION_KEY, get_settings


class NoKeyError(RuntimeError):
    pass


_cache: dict[str, tuple[int, tuple[str, ...]]] = {}  # path -> (mtime_ns, keys)


def new_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def key_file() -> Path:
    path = get_settings().encryption_key_file
    assert path is not None  # settings fill it in
    return path


def current_keys() -> tuple[str, ...]:
    settings = get_settings()
    if settings.encryption_key:
        return (settings.encryption_key,)
    path = key_file()
    try:
        mtime = path.stat().st_mtime_ns
    except FileNotFoundError:
        if settings.dev_mode:
            return (DEV_ENCRYPTION_KEY,)
        raise NoKeyError(
            f"no encryption key: run `dbaas init-key` (writes {path}) or set DBAAS_ENCRYPTION_KEY"
        ) from None
    cached = _cache.get(str(path))
    if cached is None or cached[0] != mtime:
        cached = (mtime, read_key_file(path))
        _cache[str(path)] = cached
    return cached[1]


def read_key_file(path: Path) -> tuple[str, ...]:
    keys = tuple(line.strip() for line in path.read_text().splitlines() if line.strip())
    if not keys:
        raise NoKeyError(f"{path} holds no key")
    return keys


def write_key_file(path: Path, keys: list[str]) -> None:
    """Atomically, 0600 in a 0700 directory: readers see the old file or the new one."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write("".join(f"{key}\n" for key in keys))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def ensure_key_file() -> bool:
    """Create the key file with a new random key unless it exists; True when created."""
    path = key_file()
    if path.exists():
        os.chmod(path, 0o600)
        return False
    write_key_file(path, [new_key()])
    return True

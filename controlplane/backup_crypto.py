"""Backups at rest: a per-instance key and a streaming authenticated encryption of dumps.

The key of instance I is HKDF-SHA256(deployment key, salt "dbaas-backups-v1", info "instance:" + I):
one instance's key opens none of another's. Each backup row keeps the key it was made with,
encrypted by the keyring like any secret (``wrap``): a key rotation re-encrypts it, so backups
outlive the deployment key that derived their key. The object's header names the key it used
(a fingerprint, never the key).

Format: ``MAGIC | key id (8) | frames``, each frame ``length (4, big endian) | nonce (12) |
AES-256-GCM(chunk)``, the associated data binding the header, the frame's index and whether it
is the last one. Reordered, dropped, truncated or altered frames fail to open.
"""

from __future__ import annotations

import base64
import hashlib
import os
import struct
from collections.abc import Iterable, Iterator

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from controlplane import keyring, secrets

MAGIC = b"DBKBKP1\n"
CHUNK = 1 << 20
_KEY_ID = 8
_NONCE = 12
_HEADER = len(MAGIC) + _KEY_ID


class BackupCorrupted(Exception):
    """The object is not a backup this deployment can open, or was altered."""


def instance_key(deployment_key: str, instance_id: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=b"dbaas-backups-v1",
        info=b"instance:" + instance_id.encode(),
    ).derive(deployment_key.encode())


def key_id(key: bytes) -> bytes:
    return hashlib.sha256(b"dbaas backup key id\n" + key).digest()[:_KEY_ID]


def _aad(header: bytes, index: int, last: bool) -> bytes:
    return header + struct.pack(">QB", index, 1 if last else 0)


def _chunks(data: Iterable[bytes], size: int) -> Iterator[bytes]:
    """The same bytes in blocks of exactly ``size`` (the last one shorter, maybe empty)."""
    buffer = bytearray()
    for piece in data:
        buffer += piece
        while len(buffer) >= size:
            yield bytes(buffer[:size])
            del buffer[:size]
    yield bytes(buffer)


def encrypt(plain: Iterable[bytes], key: bytes, chunk: int = CHUNK) -> Iterator[bytes]:
    """Stream ``plain`` out encrypted, one frame per ``chunk`` bytes (memory: one chunk)."""
    header = MAGIC + key_id(key)
    yield header
    aead = AESGCM(key)
    blocks = _chunks(plain, chunk)
    current = next(blocks)
    index = 0
    for following in blocks:  # a block is last only once no other follows it
        yield _frame(aead, header, index, current, last=False)
        current, index = following, index + 1
    yield _frame(aead, header, index, current, last=True)


def _frame(aead: AESGCM, header: bytes, index: int, data: bytes, last: bool) -> bytes:
    nonce = os.urandom(_NONCE)
    sealed = aead.encrypt(nonce, data, _aad(header, index, last))
    return struct.pack(">I", len(sealed)) + nonce + sealed


def decrypt(stored: Iterable[bytes], keys: Iterable[bytes]) -> Iterator[bytes]:
    """The plain bytes of a stored object; ``BackupCorrupted`` on anything amiss (before the
    bad frame's bytes are given out, but after the good ones before it)."""
    stream = _Reader(stored)
    header = stream.read(_HEADER)
    if len(header) != _HEADER or not header.startswith(MAGIC):
        raise BackupCorrupted("not a backup object")
    by_id = {key_id(k): k for k in keys}
    key = by_id.get(header[len(MAGIC) :])
    if key is None:
        raise BackupCorrupted("encrypted with a key this deployment no longer has")
    aead = AESGCM(key)
    index = 0
    while True:
        prefix = stream.read(4 + _NONCE)
        if len(prefix) != 4 + _NONCE:
            raise BackupCorrupted("truncated: the last frame is missing")
        (length,) = struct.unpack(">I", prefix[:4])
        sealed = stream.read(length)
        if len(sealed) != length:
            raise BackupCorrupted("truncated frame")
        last = stream.at_end()
        try:
            yield aead.decrypt(prefix[4:], sealed, _aad(header, index, last))
        except InvalidTag:
            raise BackupCorrupted(f"frame {index} does not authenticate") from None
        if last:
            return
        index += 1


class _Reader:
    """Exact-size reads over an iterable of byte blocks."""

    def __init__(self, blocks: Iterable[bytes]) -> None:
        self._blocks = iter(blocks)
        self._buffer = bytearray()

    def _fill(self, size: int) -> None:
        while len(self._buffer) < size:
            block = next(self._blocks, None)
            if block is None:
                return
            self._buffer += block

    def read(self, size: int) -> bytes:
        self._fill(size)
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def at_end(self) -> bool:
        self._fill(1)
        return not self._buffer


def current_key(instance_id: str) -> bytes:
    return instance_key(keyring.current_keys()[0], instance_id)


def all_keys(instance_id: str) -> list[bytes]:
    """Every key the keyring derives for the instance (the current one first)."""
    return [instance_key(k, instance_id) for k in keyring.current_keys()]


def wrap(key: bytes) -> str:
    """The key as stored beside its backup: encrypted by the keyring (secrets.py), so that
    ``dbaas rotate-key`` re-encrypts it and the backup stays readable after a rotation."""
    return secrets.encrypt(base64.b64encode(key).decode())


def keys_for(instance_id: str, wrapped: str) -> list[bytes]:
    """The backup's own key first, then every key the keyring derives for the instance."""
    own = [base64.b64decode(secrets.decrypt(wrapped))] if wrapped else []
    return own + all_keys(instance_id)

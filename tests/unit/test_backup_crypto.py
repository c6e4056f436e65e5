"""The backup encryption: round trips in any block shape, and refuses anything altered."""

from __future__ import annotations

import os

import pytest

from controlplane.backup_crypto import (
    BackupCorrupted,
    decrypt,
    encrypt,
    instance_key,
    keys_for,
    wrap,
)

KEY = instance_key("deployment-key", "instance-a")


def _roundtrip(data: bytes, chunk: int, pieces: int = 3) -> bytes:
    step = max(1, len(data) // pieces)
    blocks = [data[i : i + step] for i in range(0, len(data), step)]
    stored = b"".join(encrypt(blocks, KEY, chunk=chunk))
    return b"".join(decrypt([stored[i : i + 7] for i in range(0, len(stored), 7)], [KEY]))


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 100, 1000])
def test_round_trip(size: int) -> None:
    data = os.urandom(size)
    assert _roundtrip(data, chunk=16) == data


def test_keys_differ_per_instance_and_deployment() -> None:
    assert instance_key("deployment-key", "instance-b") != KEY
    assert instance_key("other-key", "instance-a") != KEY
    assert len(KEY) == 32


def test_other_instance_key_refused() -> None:
    stored = b"".join(encrypt([b"secret rows"], KEY))
    with pytest.raises(BackupCorrupted):
        b"".join(decrypt([stored], [instance_key("deployment-key", "instance-b")]))


def test_rotated_keyring_still_opens() -> None:
    stored = b"".join(encrypt([b"rows"], KEY))
    newer = instance_key("new-deployment-key", "instance-a")
    assert b"".join(decrypt([stored], [newer, KEY])) == b"rows"


def _frames(data: bytes) -> bytes:
    return b"".join(encrypt([data], KEY, chunk=16))


def test_truncation_refused() -> None:
    stored = _frames(os.urandom(64))  # 4 full frames and a last empty one
    one_frame = 4 + 12 + 16 + 16
    for cut in (len(stored) - 1, len(stored) - one_frame, 16, 3):
        with pytest.raises(BackupCorrupted):
            b"".join(decrypt([stored[:cut]], [KEY]))


def test_tampering_refused() -> None:
    stored = bytearray(_frames(b"x" * 40))
    stored[40] ^= 1
    with pytest.raises(BackupCorrupted):
        b"".join(decrypt([bytes(stored)], [KEY]))


def test_plaintext_not_in_stored_bytes() -> None:
    assert b"CREATE TABLE" not in _frames(b"CREATE TABLE secret (x int);" * 10)


def test_the_stored_key_comes_first_and_opens_after_a_rotation() -> None:
    stored = b"".join(encrypt([b"rows"], KEY))  # as if derived from a deployment key now gone
    keys = keys_for("instance-a", wrap(KEY))
    assert keys[0] == KEY and b"".join(decrypt([stored], keys)) == b"rows"
    assert keys_for("instance-a", "")[0] != KEY  # without it: only the keyring's derivations

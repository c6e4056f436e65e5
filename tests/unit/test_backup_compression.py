"""Dumps compressed before encryption: streamed both ways, old uncompressed payloads still read."""

from __future__ import annotations

import gzip
import os

import pytest

from controlplane.backup_compression import CorruptedCompression, gzipped, plain


def test_round_trip_in_chunks() -> None:
    dump = b"INSERT INTO t VALUES (1);\n" * 100_000 + os.urandom(3000)
    chunks = [dump[i : i + 65536] for i in range(0, len(dump), 65536)]
    packed = b"".join(gzipped(chunks))
    assert len(packed) < len(dump) // 10
    assert gzip.decompress(packed) == dump  # a standard gzip stream
    one_byte_blocks = [packed[:1], packed[1:2], packed[2:]]
    assert b"".join(plain(one_byte_blocks)) == dump
    assert all(plain([packed]))  # no empty blocks


def test_uncompressed_payloads_pass_through() -> None:
    for dump in (b"-- MariaDB dump\n", b"PGDMP\x01\x0e", b"-", b""):
        assert b"".join(plain([dump, b"more"] if dump else [])) == (dump + b"more" if dump else b"")


def test_a_cut_or_altered_stream_is_refused() -> None:
    packed = b"".join(gzipped([b"x" * 100_000]))
    with pytest.raises(CorruptedCompression):
        b"".join(plain([packed[: len(packed) // 2]]))
    with pytest.raises(CorruptedCompression):
        b"".join(plain([packed[:10] + b"\x00" * 20 + packed[30:]]))

"""Logical dumps compressed before encryption, streamed (zlib's gzip format, one chunk at a time).

MariaDB dumps are plain SQL, so the worker gzips them on the way to the store; PostgreSQL's
custom format is compressed by ``pg_dump`` itself and stored as it comes. Reading back needs no
flag: a stored payload that starts with the gzip magic is decompressed (a SQL dump or a
``PGDMP`` archive never starts with it), so dumps stored before compression existed still open.
``size`` stays the dump's own size: the bytes a restore or an export gives back.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator
from itertools import chain

GZIP_MAGIC = b"\x1f\x8b"
LEVEL = 6  # gzip's default: most of the gain of 9 at a fraction of the CPU
_GZIP_WBITS = 31  # zlib: gzip header and trailer


def gzipped(blocks: Iterable[bytes], level: int = LEVEL) -> Iterator[bytes]:
    """``blocks`` as one gzip stream."""
    packer = zlib.compressobj(level, zlib.DEFLATED, _GZIP_WBITS)
    for block in blocks:
        if out := packer.compress(block):
            yield out
    yield packer.flush()


class CorruptedCompression(Exception):
    """A payload that starts like gzip but does not decompress to its end."""


def plain(blocks: Iterable[bytes]) -> Iterator[bytes]:
    """The dump: gunzipped when the payload is gzip, as it is otherwise. Empty output blocks
    are never yielded."""
    stream = iter(blocks)
    head = b""
    for block in stream:
        head += block
        if len(head) >= len(GZIP_MAGIC):
            break
    if not head.startswith(GZIP_MAGIC):
        if head:
            yield head
        yield from stream
        return
    unpacker = zlib.decompressobj(_GZIP_WBITS)
    try:
        for block in chain([head], stream):
            if out := unpacker.decompress(block):
                yield out
        if out := unpacker.flush():
            yield out
    except zlib.error as exc:
        raise CorruptedCompression(f"the dump does not decompress: {exc}") from exc
    if not unpacker.eof:
        raise CorruptedCompression("the dump's compressed stream is cut short")

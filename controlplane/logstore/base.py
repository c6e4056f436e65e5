"""The log store's contract: immutable objects by key (``a/b/c``), listed by prefix.

Keys are made by the log pipeline only (``workers/logs``): instance ids, node names, dates and
hex digits, never user input. Writing a key again replaces the object whole (collection
batches rely on it to be idempotent)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int  # bytes as stored


class LogStore(ABC):
    @abstractmethod
    def put(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key`` atomically (readers see the old object or the new)."""

    @abstractmethod
    def get(self, key: str) -> bytes:
        """The object's bytes; ``KeyError`` when there is none."""

    @abstractmethod
    def objects(self, prefix: str) -> list[StoredObject]:
        """Every object whose key starts with ``prefix``, sorted by key."""

    @abstractmethod
    def delete(self, keys: list[str]) -> None:
        """Remove these objects (missing ones are ignored)."""

    @abstractmethod
    def download_url(self, key: str, filename: str, expires_at: datetime) -> str:
        """A URL anyone holding it can download the object from until ``expires_at``, as
        ``filename``; refused once expired or when tampered with."""

    def put_file(self, key: str, path: str) -> None:
        """Store a local file's bytes under ``key`` (stores that can, without reading it whole
        into memory: backups are large)."""
        with open(path, "rb") as f:
            self.put(key, f.read())

    def stream(self, key: str, chunk: int = 1 << 20) -> Iterator[bytes]:
        data = self.get(key)
        for start in range(0, len(data), chunk):
            yield data[start : start + chunk]

    def delete_prefix(self, prefix: str) -> None:
        self.delete([o.key for o in self.objects(prefix)])

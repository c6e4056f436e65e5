"""The default log store: files under a directory (``$DBAAS_STATE_DIR/logs``), written
through a temporary file and a rename; downloads are served by the API itself behind an
HMAC-signed, expiring URL (``controlplane/api/routes/downloads.py``)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from controlplane.logstore import signing
from controlplane.logstore.base import LogStore, StoredObject
from controlplane.settings import get_settings


class FilesystemStore(LogStore):
    def __init__(self, root: str) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        parts = key.split("/")
        if not key or any(p in ("", ".", "..") for p in parts):
            raise ValueError(f"bad log store key {key!r}")
        return self.root.joinpath(*parts)

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def put_file(self, key: str, path: str) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out, open(path, "rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as exc:
            raise KeyError(key) from exc

    def stream(self, key: str, chunk: int = 1 << 20) -> Iterator[bytes]:
        try:
            f = self._path(key).open("rb")
        except FileNotFoundError as exc:
            raise KeyError(key) from exc
        with f:
            while block := f.read(chunk):
                yield block

    def objects(self, prefix: str) -> list[StoredObject]:
        if not self.root.is_dir():
            return []
        found = []
        for dirpath, _, filenames in os.walk(self.root):
            for name in filenames:
                if name.startswith(".tmp-"):
                    continue
                path = Path(dirpath) / name
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    found.append(StoredObject(key, path.stat().st_size))
        return sorted(found, key=lambda o: o.key)

    def delete(self, keys: list[str]) -> None:
        for key in keys:
            path = self._path(key)
            path.unlink(missing_ok=True)
            for parent in path.parents:  # empty directories go too
                if parent == self.root or not parent.is_relative_to(self.root):
                    break
                try:
                    parent.rmdir()
                except OSError:
                    break

    def download_url(self, key: str, filename: str, expires_at: datetime) -> str:
        expires = int(expires_at.timestamp())
        signature = signing.sign(key, filename, expires)
        base = get_settings().public_api_url.rstrip("/")
        return (
            f"{base}/downloads/logs/{quote(key)}?filename={quote(filename)}"
            f"&expires={expires}&signature={signature}"
        )

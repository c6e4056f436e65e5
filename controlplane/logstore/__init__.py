"""Where instance logs live: a filesystem store under the state directory (default) or an
S3-compatible object store (``DBAAS_LOG_STORE_URL=s3://bucket/prefix``). Both hold immutable
objects by key; see ``base.LogStore``."""

from __future__ import annotations

from functools import cache

from controlplane.logstore.base import LogStore, StoredObject
from controlplane.settings import get_settings

__all__ = ["LogStore", "StoredObject", "get_store"]


@cache
def get_store() -> LogStore:
    settings = get_settings()
    url = settings.log_store_url
    if url.startswith("s3://"):
        from controlplane.logstore.s3 import S3Store

        return S3Store.from_settings(settings)
    if url and not url.startswith("file://"):
        raise ValueError(f"DBAAS_LOG_STORE_URL must be file://PATH or s3://BUCKET[/PREFIX]: {url}")
    from controlplane.logstore.filesystem import FilesystemStore

    root = url.removeprefix("file://") if url else str(settings.state_dir / "logs")
    return FilesystemStore(root)

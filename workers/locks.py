"""One mutex per resource, in Redis: jobs and the HA monitor never act on an instance at once.

Locks expire (a dead holder frees them within ``ttl``) and are extended while work goes on.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import cache

import redis
from redis.lock import Lock

from controlplane.settings import get_settings

LOCK_TTL_SECONDS = 20


@cache
def client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=5)


def resource_lock(resource_type: str, resource_id: str, ttl: float = LOCK_TTL_SECONDS) -> Lock:
    client_ = client(get_settings().redis_url)
    return client_.lock(
        f"dbaas:lock:{resource_type}:{resource_id}", timeout=ttl, thread_local=False
    )


@contextmanager
def holding(
    resource_type: str, resource_id: str, wait: float = 0.0, ttl: float = LOCK_TTL_SECONDS
) -> Iterator[Lock | None]:
    """Yields the held lock, or None when another holder has it (after waiting ``wait`` s)."""
    lock = resource_lock(resource_type, resource_id, ttl)
    acquired = lock.acquire(blocking=wait > 0, blocking_timeout=wait or None)
    try:
        yield lock if acquired else None
    finally:
        if acquired:
            with suppress(redis.exceptions.LockError):  # expired meanwhile: nothing to release
                lock.release()

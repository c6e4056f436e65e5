"""The HA monitor comes first: a job holding an instance yields it when the monitor asks.

Jobs and the monitor share the instance's lock (``locks.py``), and a job may hold it for tens
of seconds (a copy, a wait for a node). A failover cannot wait that long: when the monitor
decides to act and finds the lock taken, it leaves a request (a short-lived Redis key); the job
checks for it between steps and in its long waits, and gives the instance up with a
``TemporaryError`` (it is retried later, on whatever topology the monitor leaves).
"""

from __future__ import annotations

from controlplane.domain.failures import Preempted
from controlplane.settings import get_settings
from workers import locks

REQUEST_TTL_SECONDS = 10


def _key(instance_id: str) -> str:
    return f"dbaas:preempt:instance:{instance_id}"


def request(instance_id: str) -> None:
    locks.client(get_settings().redis_url).set(_key(instance_id), "1", ex=REQUEST_TTL_SECONDS)


def withdraw(instance_id: str) -> None:
    locks.client(get_settings().redis_url).delete(_key(instance_id))


def check(instance_id: str) -> None:
    """Raise when the HA monitor waits for this instance."""
    if locks.client(get_settings().redis_url).exists(_key(instance_id)):
        raise Preempted("the HA monitor needs the instance: retrying later", delay=3)

"""CPU time used meanwhile by a process group (the API's processes) and by a container (a
metadata store's server), to split a request's cost between the two."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import docker

from workers import cgroups

TICKS = os.sysconf("SC_CLK_TCK")


def group_seconds(pgid: int) -> float:
    """user + system CPU seconds of the live processes of process group ``pgid``."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # after the command's closing parenthesis: state, ppid, pgrp, ..., utime, stime
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):  # ended meanwhile
            continue
        if int(fields[2]) == pgid:
            total += int(fields[11]) + int(fields[12])
    return total / TICKS


def store_container(url: str) -> str | None:
    """The id of the local container serving a database URL's host address, if any."""
    host = urlsplit(url).hostname
    for container in docker.from_env().containers.list():
        networks = container.attrs["NetworkSettings"]["Networks"].values()
        if host in {network.get("IPAddress") for network in networks}:
            return str(container.id)
    return None


def container_seconds(container_id: str | None) -> float:
    """CPU seconds the container has used (0 without one: SQLite runs in the API's processes)."""
    usage = cgroups.read(container_id) if container_id else None
    return usage.cpu_seconds if usage else 0.0

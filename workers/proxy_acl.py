"""What a proxy admits, as HAProxy files and runtime API lines (pure).

Every endpoint proxy refuses a connection whose source address is in none of the networks of
its allow file (``tcp-request connection reject unless { src -f allow.lst }``, evaluated when the
connection is accepted, before any byte reaches a node). The file holds the instance's ACL rules
plus the control plane's own address on the instance network, so that no rule can lock the
control plane out of its checks.

A change is made live through the runtime API: a new version of the list is prepared, filled
and committed in one atomic step (``prepare acl`` / ``add acl @ver`` / ``commit acl``), so the
running process never admits a mix of old and new rules and no session is cut by a reload; then
the sessions whose source the new rules no longer admit are shut. The file is rewritten too, for
restarts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from controlplane.domain import acl

ALLOW_FILE = "allow.lst"  # in the proxy's configuration directory
REJECT_RULE = "tcp-request connection reject unless {{ src -f {path} }}"
BATCH = 25  # "add acl" lines per runtime request (a request is one line of the CLI buffer)

_VERSION = re.compile(r"New version created:\s*(\d+)")
_SESSION = re.compile(r"^(0x[0-9a-f]+): proto=tcpv[46] src=([0-9.]+):\d+ fe=(\S+)", re.MULTILINE)


def admitted(rules: Iterable[str], control_address: str) -> list[str]:
    """The networks a proxy admits: the rules, then the control plane's address."""
    networks = list(dict.fromkeys(rules))
    control = f"{control_address}/32"
    return networks if control in networks else [*networks, control]


def allow_file(networks: Sequence[str]) -> bytes:
    lines = ["# networks admitted by this endpoint (ACL rules, then the control plane)"]
    return "\n".join([*lines, *networks, ""]).encode()


def prepared_version(reply: str) -> int | None:
    """The version number ``prepare acl`` answered, None when it refused (an older
    configuration without the allow list answers ``Unknown ACL identifier``)."""
    match = _VERSION.search(reply)
    return int(match.group(1)) if match else None


def fill_requests(path: str, version: int, networks: Sequence[str]) -> list[str]:
    """Runtime requests that fill the prepared ``version`` and commit it (last request)."""
    adds = [f"add acl @{version} {path} {n}" for n in networks]
    requests = ["; ".join(adds[i : i + BATCH]) + "\n" for i in range(0, len(adds), BATCH)]
    return [*requests, f"commit acl @{version} {path}\n"]


def listed_networks(show_acl: str) -> list[str]:
    """The patterns of a ``show acl <file>`` answer (``<reference> <pattern>`` per line)."""
    patterns = []
    for line in show_acl.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].startswith("0x"):
            patterns.append(parts[1])
    return patterns


def same_networks(loaded: Sequence[str], wanted: Sequence[str]) -> bool:
    """HAProxy lists ``1.2.3.4/32`` as ``1.2.3.4``: compare normalised networks."""

    def normalised(items: Sequence[str]) -> set[str]:
        return {acl.normalise(i) for i in items}

    try:
        return normalised(loaded) == normalised(wanted)
    except ValueError:
        return False


def refused_sessions(show_sess: str, networks: Sequence[str], frontend: str = "main") -> list[str]:
    """The client sessions (``show sess`` lines) of ``frontend`` whose source address the
    ``networks`` no longer admit: what to shut after a change."""
    return [
        ref
        for ref, source, fe in _SESSION.findall(show_sess)
        if fe == frontend and not acl.admits(networks, source)
    ]

"""Node containers reach nothing but their own instance network.

An instance network is ``internal`` (Docker gives it no route out of its subnet), but its
subnet includes the host's own address on the bridge: a node could still open connections to
any service the host listens on. One INPUT rule, matching every instance bridge by its name
prefix, drops new connections from them to the host; replies to the control plane's own
connections (host -> node) are established traffic and pass.
"""

from __future__ import annotations

import subprocess

from controlplane.domain.failures import PermanentError, TemporaryError
from workers.naming import NODE_BRIDGE_PREFIX

RULE = [
    "INPUT",
    "-i",
    f"{NODE_BRIDGE_PREFIX}+",
    "-m",
    "conntrack",
    "--ctstate",
    "NEW",
    "-j",
    "DROP",
]


def _iptables(*args: str) -> int:
    try:
        done = subprocess.run(
            ["iptables", "-w", "10", *args], capture_output=True, text=True, timeout=30
        )
    except FileNotFoundError as exc:
        raise PermanentError("iptables is not installed on the host") from exc
    except subprocess.TimeoutExpired as exc:
        raise TemporaryError("iptables did not answer") from exc
    if done.returncode not in (0, 1):
        raise TemporaryError(f"iptables {' '.join(args)}: {done.stderr.strip()}")
    return done.returncode


def ensure_node_isolation() -> None:
    """Idempotent: the rule is added once, first in the chain."""
    if _iptables("-C", *RULE) != 0 and _iptables("-I", *RULE) != 0:
        raise TemporaryError("could not add the node isolation rule")

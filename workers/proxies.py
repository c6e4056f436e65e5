"""User-facing endpoints: one HAProxy container per endpoint, forwarding TCP to a node.

Nodes live on their instance's internal network, publish nothing and have no route out. Each
endpoint is a proxy on that network and on the edge network, where its one port is published:
the load-balancer endpoint forwards to the main node (every node that can become the main node
is a server of its backend, all but the current one in maintenance); a read replica's
direct-access endpoint forwards to that replica.

HAProxy runs as its own unprivileged user with no capability. Its runtime API is a unix socket
in a host directory bind-mounted into the proxy alone: only the control plane (root on the
host) reaches it, never a node. Switching the main node goes through that API, live (no
reload, no new process); the file is rewritten too, for restarts. So do the instance's ACL
rules: every endpoint admits only the networks of its allow file (workers/proxy_acl.py).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from agents.base import FileSpec
from controlplane.domain.failures import TemporaryError
from controlplane.settings import get_settings
from workers import docker_driver, naming, proxy_acl

if TYPE_CHECKING:
    from docker.models.containers import Container

CONFIG_DIR = "/usr/local/etc/haproxy"
ADMIN_DIR = "/run/haproxy-admin"  # inside the proxy; bind-mounted from admin_dir() on the host
PROXY_IMAGE = "dbaas/haproxy:2.6"
PROXY_USER = "haproxy"
PROXY_UID = PROXY_GID = 998  # fixed by deploy/images/haproxy/install.sh
# A proxy may start before its nodes and finds them by resolving their names every ``timeout
# resolve`` (1 s); a new main node's address is also told to it at once (``learn_address``). A
# server whose name does not resolve yet gets a placeholder address, the proxy's own loopback,
# where its frontend refuses every connection (HAProxy changes a server's address at runtime
# only within its address family: none cannot become IPv4).
PLACEHOLDER_ADDRESS = "127.0.0.1"
SERVER_OPTIONS = f"resolvers docker init-addr last,libc,{PLACEHOLDER_ADDRESS}"
LOOPBACK_REJECT_RULE = "tcp-request connection reject if { src 127.0.0.0/8 }"
LEARN_WAIT_SECONDS = 2.0
SOCKET_PATH_MAX = 100  # AF_UNIX paths are limited to 107 bytes
ALLOW_PATH = f"{CONFIG_DIR}/{proxy_acl.ALLOW_FILE}"
RELOAD_WAIT_SECONDS = 10


@dataclass(frozen=True)
class Proxy:
    instance_id: str
    container: str
    servers: dict[str, str]  # node name -> host name on the instance network
    active: str
    engine_port: int
    published: tuple[str, int]  # (host address, host port)
    role: str  # load_balancer | direct_access
    allow: tuple[str, ...]  # the instance's ACL rules (networks in CIDR form)
    host: str | None = None  # swarm mode: the host that runs it


def render_config(servers: dict[str, str], active: str, engine_port: int) -> str:
    lines = [
        f"    server {node} {host}:{engine_port} {SERVER_OPTIONS}"
        + ("" if node == active else " disabled")
        for node, host in sorted(servers.items())
    ]
    backend = "\n".join(lines)
    return f"""\
global
    maxconn 4096
    stats socket {ADMIN_DIR}/admin.sock mode 600 level admin

resolvers docker
    nameserver dns 127.0.0.11:53
    hold valid 1s
    resolve_retries 3
    timeout resolve 1s
    timeout retry 1s

defaults
    mode tcp
    retries 1
    timeout connect 500ms
    timeout client 8h
    timeout server 8h

frontend main
    bind :{engine_port}
    {LOOPBACK_REJECT_RULE}
    {proxy_acl.REJECT_RULE.format(path=ALLOW_PATH)}
    default_backend main

backend main
{backend}
"""


def runtime_commands(servers: dict[str, str], active: str) -> str:
    """Pure: the runtime API line that routes new connections to ``active`` only."""
    commands = [f"set server main/{active} state ready"]
    for node in sorted(servers):
        if node != active:
            commands += [
                f"set server main/{node} state maint",
                f"shutdown sessions server main/{node}",
            ]
    return "; ".join(commands) + "\n"


def admin_dir(container: str) -> Path:
    """Host directory of a proxy's runtime socket (short: socket paths have a length limit)."""
    digest = hashlib.sha256(container.encode()).hexdigest()[:16]
    return get_settings().state_dir / "proxies" / digest


def spec(proxy: Proxy) -> docker_driver.ContainerSpec:
    return docker_driver.ContainerSpec(
        name=proxy.container,
        image=PROXY_IMAGE,
        command=["haproxy", "-W", "-db", "-f", f"{CONFIG_DIR}/haproxy.cfg"],
        labels=naming.labels(proxy.instance_id, role=proxy.role),
        network=naming.edge_network(),
        extra_networks=[naming.network(proxy.instance_id)],
        user=PROXY_USER,
        mounts={str(admin_dir(proxy.container)): ADMIN_DIR},
        ports={f"{proxy.engine_port}/tcp": proxy.published},
        nano_cpus=int(0.5e9),
        mem_bytes=128 * 1024 * 1024,
        stop_signal="SIGUSR1",
        pids_limit=get_settings().proxy_pids_limit,
        host=proxy.host,
    )


def _config_file(servers: dict[str, str], active: str, engine_port: int) -> dict[str, FileSpec]:
    text = render_config(servers, active, engine_port)
    return {"haproxy.cfg": FileSpec(text.encode(), 0o644)}


def _ensure_admin_dir(container: str) -> None:
    path = admin_dir(container)
    path.mkdir(parents=True, exist_ok=True)
    os.chown(path, PROXY_UID, PROXY_GID)
    os.chmod(path, 0o700)


def ensure_edge_network(host: str | None = None) -> None:
    """The local engine's, or a swarm host's own (a bridge: ports are published on it)."""
    docker_driver.ensure_network(naming.edge_network(), naming.edge_labels(), host=host)


def ensure(proxy: Proxy) -> None:
    """The proxy exists, runs, forwards to ``proxy.active`` and admits ``proxy.allow`` (and
    the control plane); a running one changes live, its open sessions going on."""
    networks = _admitted(proxy)
    existing = docker_driver.find_container(proxy.container)
    if existing is not None:
        point_to(proxy.container, proxy.servers, proxy.active, proxy.engine_port)
        _admit_existing(existing, proxy, networks)
    ensure_edge_network(proxy.host)
    _ensure_admin_dir(proxy.container)
    files = {
        **_config_file(proxy.servers, proxy.active, proxy.engine_port),
        **_allow_file(networks),
    }
    docker_driver.ensure_container(spec(proxy), files=files, files_base=CONFIG_DIR)


def admit(proxy: Proxy) -> bool:
    """An existing proxy admits ``proxy.allow`` (and the control plane). False when there is
    no such container: the converge that creates it gives it the rules."""
    existing = docker_driver.find_container(proxy.container)
    if existing is None:
        return False
    _admit_existing(existing, proxy, _admitted(proxy))
    return True


def _admit_existing(existing: Container, proxy: Proxy, networks: list[str]) -> None:
    """A stopped proxy once it starts (its files), a running one now (``_admit_live``; a
    reload reads the files too: both are written, the configuration as ``point_to`` does)."""
    files = {
        **_config_file(proxy.servers, proxy.active, proxy.engine_port),
        **_allow_file(networks),
    }
    docker_driver.put_files(existing, CONFIG_DIR, files)
    if existing.status == "running":
        _admit_live(proxy.container, networks)


def _allow_file(networks: list[str]) -> dict[str, FileSpec]:
    return {proxy_acl.ALLOW_FILE: FileSpec(proxy_acl.allow_file(networks), 0o644)}


def _admitted(proxy: Proxy) -> list[str]:
    """The rules, and the host's own address on the instance network: the control plane
    checks endpoints from there (``blueprint.through_load_balancer``); in swarm mode the
    control plane's address toward the proxy's host, where it checks them from."""
    if proxy.host is not None:
        return proxy_acl.admitted(proxy.allow, docker_driver.source_address(proxy.published[0]))
    network = naming.network(proxy.instance_id)
    gateway = docker_driver.network_gateway(network)
    if gateway is None:
        raise TemporaryError(f"network {network} has no gateway yet")
    return proxy_acl.admitted(proxy.allow, gateway)


def _admit_live(name: str, networks: list[str]) -> None:
    """A running proxy admits ``networks`` now, atomically (``prepare``/``commit``: never a
    mix of old and new rules), then shuts the sessions whose source is no longer admitted. A
    running configuration without the allow list (made before ACL rules existed) is reloaded
    instead: HAProxy's master starts a new worker on the new files, the old worker serves its
    open sessions until they end."""
    try:
        version = proxy_acl.prepared_version(_admin_request(name, f"prepare acl {ALLOW_PATH}\n"))
        if version is None:
            docker_driver.signal(name, "SIGUSR2")
            _wait_loaded(name, networks)
            return
        for request in proxy_acl.fill_requests(ALLOW_PATH, version, networks):
            _admin_request(name, request)
        _wait_loaded(name, networks, timeout=0)
        sessions = _admin_request(name, "show sess\n")
        for ref in proxy_acl.refused_sessions(sessions, networks):
            _admin_request(name, f"shutdown session {ref}\n")
    except OSError as exc:
        raise TemporaryError(f"proxy {name} does not answer its runtime API: {exc}") from exc


def _wait_loaded(name: str, networks: list[str], timeout: float = RELOAD_WAIT_SECONDS) -> None:
    """Until the running process admits exactly ``networks`` (a reload takes a moment)."""
    deadline = time.monotonic() + timeout
    while True:
        with suppress(OSError):
            listed = proxy_acl.listed_networks(_admin_request(name, f"show acl {ALLOW_PATH}\n"))
            if proxy_acl.same_networks(listed, networks):
                return
        if time.monotonic() >= deadline:
            raise TemporaryError(f"proxy {name} does not admit the wanted networks yet")
        time.sleep(0.2)


def remove(container: str) -> None:
    docker_driver.stop_and_remove(container)
    forget(container)


def forget(container: str) -> None:
    """Drop the host side of a removed proxy (nothing for other containers)."""
    shutil.rmtree(admin_dir(container), ignore_errors=True)


def _admin_request(container: str, command: str) -> str:
    path = admin_dir(container) / "admin.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(2)
        if len(str(path)) <= SOCKET_PATH_MAX:
            conn.connect(str(path))
        else:  # reach a long path through a short one
            fd = os.open(path.parent, os.O_RDONLY)
            try:
                conn.connect(f"/proc/self/fd/{fd}/{path.name}")
            finally:
                os.close(fd)
        conn.sendall(command.encode())
        return conn.makefile().read()


def learn_address(name: str, node: str, address: str, engine_port: int) -> None:
    """Tell a proxy that just started where ``node`` is, without waiting for its next
    resolution. Best effort: resolution finds the same address within a second anyway."""
    deadline = time.monotonic() + LEARN_WAIT_SECONDS
    while True:
        try:  # (the runtime socket appears a moment after the container starts)
            _admin_request(name, f"set server main/{node} addr {address} port {engine_port}\n")
            return
        except OSError:
            if time.monotonic() >= deadline:
                return
            time.sleep(0.02)


def drain(name: str, servers: dict[str, str]) -> None:
    """Route nothing: every server in maintenance and its sessions shut (a planned switch)."""
    commands = [f"set server main/{n} state maint; shutdown sessions server main/{n}"
                for n in sorted(servers)]  # fmt: skip
    with suppress(OSError):  # not running: it routes nothing either
        _admin_request(name, "; ".join(commands) + "\n")


def point_to(name: str, servers: dict[str, str], active: str, engine_port: int) -> None:
    """Send new connections to ``active`` now; a proxy that is not running is re-created by
    the next converge, pointing at the current main node."""
    container = docker_driver.find_container(name)
    if container is None or container.status != "running":
        return
    docker_driver.put_files(container, CONFIG_DIR, _config_file(servers, active, engine_port))
    try:
        reply = _admin_request(name, runtime_commands(servers, active))
        if "No such server" in reply or "Unknown" in reply:
            raise OSError(reply.strip())
    except OSError:  # an older configuration without these servers: reload it
        docker_driver.signal(name, "SIGUSR2")

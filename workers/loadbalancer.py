"""The instance's load-balancer endpoint: an HAProxy container forwarding TCP to the main node.

Every node that can become the main node (the main node and its HA standby) is a server of the
backend; all but the current main node are in maintenance. Switching is done live through
HAProxy's runtime API (no reload, no new process): the old main node's sessions are shut, the
new one takes new connections at once. The file is rewritten too, for restarts.
"""

from __future__ import annotations

import socket

from agents.base import FileSpec
from workers import docker_driver, naming

CONFIG_DIR = "/usr/local/etc/haproxy"
LB_IMAGE = "dbaas/haproxy:2.6"
RUNTIME_PORT = 9999  # on the instance network only (never published)
SERVER_OPTIONS = "resolvers docker init-addr last,libc,none"


def render_config(servers: dict[str, str], active: str, engine_port: int) -> str:
    """``servers``: node name -> host name on the instance network."""
    lines = [
        f"    server {node} {host}:{engine_port} {SERVER_OPTIONS}"
        + ("" if node == active else " disabled")
        for node, host in sorted(servers.items())
    ]
    backend = "\n".join(lines)
    return f"""\
global
    maxconn 4096
    stats socket ipv4@0.0.0.0:{RUNTIME_PORT} level admin

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
    default_backend main

backend main
{backend}
"""


def spec(
    instance_id: str, engine_port: int, published: tuple[str, int]
) -> docker_driver.ContainerSpec:
    return docker_driver.ContainerSpec(
        name=naming.lb_container(instance_id),
        image=LB_IMAGE,
        command=["haproxy", "-W", "-db", "-f", f"{CONFIG_DIR}/haproxy.cfg"],
        labels=naming.labels(instance_id, role="load_balancer"),
        network=naming.network(instance_id),
        ports={f"{engine_port}/tcp": published},
        nano_cpus=int(0.5e9),
        mem_bytes=128 * 1024 * 1024,
        stop_signal="SIGUSR1",
    )


def _config_file(servers: dict[str, str], active: str, engine_port: int) -> dict[str, FileSpec]:
    return {"haproxy.cfg": FileSpec(render_config(servers, active, engine_port).encode(), 0o644)}


def ensure(
    instance_id: str,
    servers: dict[str, str],
    active: str,
    engine_port: int,
    published: tuple[str, int],
) -> None:
    """The load balancer exists, runs, and forwards to ``active``."""
    if docker_driver.find_container(naming.lb_container(instance_id)) is not None:
        point_to(instance_id, servers, active, engine_port)
    docker_driver.ensure_container(
        spec(instance_id, engine_port, published),
        files=_config_file(servers, active, engine_port),
        files_base=CONFIG_DIR,
    )


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


def point_to(instance_id: str, servers: dict[str, str], active: str, engine_port: int) -> None:
    """Send new connections to ``active`` now; a load balancer that is not running is
    re-created by the next converge, pointing at the current main node."""
    container = docker_driver.find_container(naming.lb_container(instance_id))
    if container is None or container.status != "running":
        return
    docker_driver.put_files(container, CONFIG_DIR, _config_file(servers, active, engine_port))
    address = docker_driver.container_ip(container.name, naming.network(instance_id))
    try:
        if address is None:
            raise OSError("no address")
        with socket.create_connection((address, RUNTIME_PORT), timeout=2) as conn:
            conn.sendall(runtime_commands(servers, active).encode())
            reply = conn.makefile().read()
        if "No such server" in reply or "Unknown" in reply:
            raise OSError(reply.strip())
    except OSError:  # an older configuration without these servers: reload it
        docker_driver.signal(container.name, "SIGUSR2")

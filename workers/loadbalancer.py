"""The instance's load-balancer endpoint: an HAProxy container forwarding TCP to the main node."""

from __future__ import annotations

from agents.base import FileSpec
from workers import docker_driver, naming

CONFIG_DIR = "/usr/local/etc/haproxy"
LB_IMAGE = "dbaas/haproxy:2.6"


SERVER_OPTIONS = "check inter 1s fall 2 rise 1 resolvers docker init-addr last,libc,none"


def render_config(backend_host: str, backend_port: int, listen_port: int) -> str:
    """TCP passthrough to the current main node, re-resolved through Docker's DNS."""
    return f"""\
global
    maxconn 4096
    stats socket /var/run/haproxy.sock mode 600 level admin

resolvers docker
    nameserver dns 127.0.0.11:53
    hold valid 1s
    resolve_retries 3
    timeout resolve 1s
    timeout retry 1s

defaults
    mode tcp
    timeout connect 3s
    timeout client 8h
    timeout server 8h
    timeout check 2s

frontend main
    bind :{listen_port}
    default_backend main

backend main
    server main {backend_host}:{backend_port} {SERVER_OPTIONS}
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


def ensure(
    instance_id: str, backend_host: str, engine_port: int, published: tuple[str, int]
) -> None:
    """The load balancer exists, runs, and forwards to ``backend_host``."""
    config = render_config(backend_host, engine_port, engine_port).encode()
    if docker_driver.find_container(naming.lb_container(instance_id)) is not None:
        point_to(instance_id, backend_host, engine_port)
    docker_driver.ensure_container(
        spec(instance_id, engine_port, published),
        files={"haproxy.cfg": FileSpec(config, 0o644)},
        files_base=CONFIG_DIR,
    )


def point_to(instance_id: str, backend_host: str, engine_port: int) -> None:
    """Send new connections to another node: rewrite the configuration, reload HAProxy."""
    container = docker_driver.find_container(naming.lb_container(instance_id))
    if container is None or container.status != "running":
        return  # converge re-creates it pointing at the current primary
    config = render_config(backend_host, engine_port, engine_port).encode()
    docker_driver.put_files(container, CONFIG_DIR, {"haproxy.cfg": FileSpec(config, 0o644)})
    docker_driver.signal(container.name, "SIGUSR2")  # master-worker mode: graceful reload

"""Node-level converge steps: volume, container, initialisation or clone, configuration."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from agents.base import FileSpec, Role, StandbyState
from controlplane.domain.failures import PermanentError, TemporaryError
from controlplane.settings import get_settings
from workers import docker_driver, firewall, naming, preemption, templates, topology, volumes
from workers.blueprint import Blueprint, connection

log = logging.getLogger(__name__)

# On an internal network Docker's resolver leaves unknown names unanswered: a follower retrying
# a dead primary ("n1") would spend 10 s in each lookup, and STOP SLAVE waits for it. One
# second, one try: a dead peer's name fails in about a second.
NODE_DNS_OPTIONS = ["timeout:1", "attempts:1"]


def ensure_instance_network(instance_id: str) -> None:
    """Internal (no route out of its subnet), on a host interface the isolation rule matches."""
    firewall.ensure_node_isolation()
    docker_driver.ensure_network(
        naming.network(instance_id),
        naming.labels(instance_id),
        internal=True,
        bridge=naming.network_bridge(instance_id),
    )


def volume_mount(bp: Blueprint, node: str) -> str:
    """The mount source: a loop-mounted host directory (block types) or a named volume (lssd)."""
    name = naming.volume(bp.instance_id, node)
    if bp.volume_type != "lssd" and get_settings().loop_volumes:
        return str(volumes.ensure(name, bp.volume_size, bp.runtime.uid, bp.runtime.gid))
    docker_driver.ensure_named_volume(
        name, naming.labels(bp.instance_id, node=node), host=bp.hosts.get(node)
    )
    return name


def ensure_admin_network(bp: Blueprint, node: str) -> None:
    """Swarm mode: the bridge of the node's host its control-plane port is published on."""
    host = bp.hosts.get(node)
    if host is not None and node in bp.reach:
        docker_driver.ensure_network(
            naming.admin_network(), naming.admin_labels(), host=host, masquerade=False
        )


def node_spec(bp: Blueprint, node: str, mount: str) -> docker_driver.ContainerSpec:
    """Nodes publish nothing users reach: users go through proxies (workers/proxies.py). In
    swarm mode a node publishes its port at its host's address for the control plane, on the
    host's admin network (ensure_admin_network)."""
    limits = topology.node_limits(bp.node_type)
    reach = bp.reach.get(node)
    return docker_driver.ContainerSpec(
        name=bp.container(node),
        image=bp.image,
        command=bp.runtime.server_command,
        labels=naming.labels(bp.instance_id, node=node),
        network=naming.network(bp.instance_id),
        user=bp.runtime.user,
        mounts={mount: bp.runtime.data_mount},
        nano_cpus=limits.nano_cpus,
        mem_bytes=limits.mem_bytes,
        shm_bytes=min(limits.mem_bytes // 4, 256 * 1024 * 1024),
        stop_signal=bp.runtime.stop_signal,
        aliases=[node],
        pids_limit=get_settings().node_pids_limit,
        dns_options=NODE_DNS_OPTIONS,
        host=bp.hosts.get(node),
        ports={f"{bp.runtime.port}/tcp": reach} if reach else {},
        extra_networks=[naming.admin_network()] if reach else [],
    )


def _one_shot(
    bp: Blueprint,
    spec: docker_driver.ContainerSpec,
    suffix: str,
    command: list[str],
    files: dict[str, FileSpec],
    what: str,
    permanent: bool = False,
) -> None:
    """Run ``command`` once in a container like ``spec``; a non-zero exit is an error worth a
    retry unless ``permanent``."""
    one_shot = docker_driver.ContainerSpec(
        name=f"{spec.name}-{suffix}",
        image=spec.image,
        command=[],
        labels=spec.labels,
        network=spec.network,
        user=spec.user,
        mounts=spec.mounts,
        restart=False,
        dns_options=spec.dns_options,
        host=spec.host,
    )
    code, output = docker_driver.run_once(one_shot, command, files, bp.runtime.data_mount)
    if code != 0:
        message = f"{what} failed: {output.strip()[-500:]}"
        raise PermanentError(message) if permanent else TemporaryError(message, delay=5)


@dataclass(frozen=True)
class PrimaryStart:
    configured: bool  # started by this call, on the configuration files of its blueprint
    answering: bool  # the engine was seen accepting the superuser's login


def ensure_primary(
    bp: Blueprint,
    node: str,
    lap: Callable[[str], None] = lambda _: None,
    on_started: Callable[[], None] = lambda: None,
) -> PrimaryStart:
    """The primary's container, its data directory first if the container never started: a
    copy of a pre-initialised template (workers/templates.py) or initialised in place.

    A main node whose container mounts another volume than the instance's volume type gives
    (the type changed) is never re-created onto a new, empty one: a move comes first.
    ``lap`` is told when each step ends (the provisioning benchmark's breakdown),
    ``on_started`` once the container runs."""
    mount = volume_mount(bp, node)
    lap("volume")
    ensure_admin_network(bp, node)
    spec = node_spec(bp, node, mount)
    existing = docker_driver.mount_sources(spec.name)
    if existing and mount not in existing:
        # the move (change_volume_type) is queued or yielded to the HA monitor: a job that
        # runs before it (a heal after a failover) waits for it instead of failing
        raise TemporaryError(f"{node}'s data is on another volume; it must be moved first")
    existing_container = docker_driver.find_container(spec.name)
    seeded = False
    if get_settings().volume_templates and (
        existing_container is None or existing_container.status == "created"
    ):
        created = docker_driver.ensure_created(spec)
        if templates.wanted(bp, created):
            templates.seed(bp, created, templates.ensure(bp, spec))
            seeded = True
            lap("data directory copied from a template")
    elif existing_container is None:
        files = bp.agent.init_files(bp.version.version, bp.superuser_password, bp.init_options)
        # An engine that cannot initialise will not on a retry either.
        _one_shot(bp, spec, "init", bp.runtime.init_command, files, "engine initialisation",
                  permanent=True)  # fmt: skip
        lap("engine initialised (one-shot container)")
    first_start = existing_container is None or existing_container.status == "created"
    container = docker_driver.ensure_container(
        spec, files=bp.config_files(bp.roles[node]), files_base=bp.runtime.data_mount
    )
    lap("main node started")
    on_started()
    if get_settings().volume_templates:  # (also after a job that died before it adopted)
        templates.adopt(bp, node, container)  # our superuser password, the template's no more
        if seeded:
            lap("engine answers, superuser password set")
    return PrimaryStart(configured=first_start, answering=seeded)


def start_if_stopped(bp: Blueprint, node: str) -> None:
    """A node whose container stopped (crashed, killed) starts again on its own data. A job
    finding the main node stopped while no standby can take over (the standby being rebuilt,
    replication asynchronous) brings it back instead of failing until it gives up; with a
    synchronous standby the HA monitor may fail over first (the job yields to it, and its next
    attempt sees the new main node)."""
    container = docker_driver.find_container(bp.container(node))
    if container is None or container.status != "exited":
        return
    log.warning("instance %s: node %s had stopped; starting it again", bp.instance_id, node)
    docker_driver.start(bp.container(node))
    bp.agent.wait_ready(connection(bp, node), timeout=120)


def ensure_standby(
    bp: Blueprint, node: str, rebuild: bool, lap: Callable[[str], None] = lambda _step: None
) -> None:
    """A standby/replica following the primary; its data is a fresh copy when ``rebuild``,
    else what its volume holds (a missing container is re-created on it). ``lap`` is told
    each step's end."""
    role = bp.roles[node]
    ensure_admin_network(bp, node)
    spec = node_spec(bp, node, volume_mount(bp, node))
    if not rebuild:
        bp.agent.prepare_follower(connection(bp, bp.primary), role)
    else:
        # The node's data goes only once there is a primary to copy from.
        bp.agent.ping(connection(bp, bp.primary), timeout=2)
        docker_driver.stop_and_remove(spec.name, timeout=bp.runtime.stop_timeout)
        discard_other_volume(bp, node)
        if volumes.image_size(naming.volume(bp.instance_id, node)) < bp.volume_size:
            volumes.grow_offline(naming.volume(bp.instance_id, node), bp.volume_size)
            volume_mount(bp, node)
        bp.agent.prepare_clone(connection(bp, bp.primary), role)
        lap("old copy removed")
        run_clone(bp, spec, role)
        lap("copied")
    docker_driver.ensure_container(
        spec, files=bp.config_files(role), files_base=bp.runtime.data_mount
    )
    lap("started")


def discard_other_volume(bp: Blueprint, node: str) -> None:
    """The node's volume of the kind the instance no longer uses (its volume type changed)."""
    name = naming.volume(bp.instance_id, node)
    if bp.volume_type == "lssd" or not get_settings().loop_volumes:
        volumes.remove(name)
    else:
        docker_driver.remove_volume(name)


def copy_volume(bp: Blueprint, node: str, source_type: str) -> None:
    """Copy the stopped node's data from its ``source_type`` volume to one of the instance's
    volume type (a one-shot container mounting both, as the engine's user)."""
    name = naming.volume(bp.instance_id, node)
    if source_type == "lssd" or not get_settings().loop_volumes:
        source = name
    else:
        source = str(volumes.ensure(name, bp.volume_size, bp.runtime.uid, bp.runtime.gid))
    target = volume_mount(bp, node)
    if source == target:
        return
    spec = node_spec(bp, node, target)
    copier = docker_driver.ContainerSpec(
        name=f"{spec.name}-move", image=spec.image, command=[], labels=spec.labels,
        network=spec.network, user=spec.user, restart=False,
        mounts={source: "/from", target: bp.runtime.data_mount}, host=spec.host,
    )  # fmt: skip
    # Its log files stay behind (collected before the move): a copy would be read again.
    logs = f"{bp.runtime.data_mount}/{bp.runtime.log_dir}"
    script = (
        f"set -eu; cp -a /from/. {bp.runtime.data_mount}/; "
        f"if [ -d {logs} ]; then find {logs} -mindepth 1 -delete; fi; sync"
    )
    code, output = docker_driver.run_once(copier, ["sh", "-c", script], {}, "/")
    if code != 0:
        raise TemporaryError(f"copying {node}'s data failed: {output.strip()[-500:]}")


def run_clone(bp: Blueprint, spec: docker_driver.ContainerSpec, role: Role) -> None:
    """Replace the node's data with a copy of ``role.primary_host`` (one-shot container)."""
    files = bp.agent.clone_files(bp.version.version, role, bp.replication_password)
    command = bp.agent.clone_command(bp.version.version, role)
    _one_shot(bp, spec, "clone", command, files, f"copying {role.primary_host} to {role.node}")


def write_config(bp: Blueprint, node: str) -> None:
    """Rewrite a running node's configuration for its current role and make it apply it."""
    container = docker_driver.find_container(bp.container(node))
    if container is None or container.status != "running":
        raise TemporaryError(f"node {node} is not running")
    docker_driver.put_files(container, bp.runtime.data_mount, bp.config_files(bp.roles[node]))
    bp.agent.reload(connection(bp, node), bp.server_settings, bp.roles[node])


def _wait_for(
    bp: Blueprint, node: str, holds: Callable[[StandbyState], bool], timeout: float, what: str
) -> None:
    """Until the primary reports ``node`` in a state where ``holds`` is true."""
    deadline = time.monotonic() + timeout
    while True:
        preemption.check(bp.instance_id)
        state = bp.agent.replication_state(connection(bp, bp.primary)).get(node)
        if state is not None and holds(state):
            return
        if time.monotonic() > deadline:
            raise TemporaryError(f"{node} {what}")
        time.sleep(0.1)


def wait_streaming(bp: Blueprint, node: str, timeout: float = 60) -> None:
    _wait_for(bp, node, lambda s: s.streaming, timeout, f"is not streaming from {bp.primary}")


def wait_synchronous(bp: Blueprint, node: str, timeout: float = 30) -> None:
    _wait_for(bp, node, lambda s: s.synchronous, timeout, "did not become synchronous")


def wait_caught_up(bp: Blueprint, node: str, timeout: float = 60) -> None:
    """Until ``node`` has replayed everything its primary wrote (no lag at all)."""
    _wait_for(bp, node, lambda s: s.streaming and s.lag_bytes == 0, timeout,
              f"has not replayed all of {bp.primary}'s WAL")  # fmt: skip

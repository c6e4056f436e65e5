"""Instance lifecycle jobs: converge (provision, heal, rebuild the standby) and delete.

Converge is idempotent: every step first looks at what exists (by deterministic name), so a job
redelivered after a worker died continues where the dead one stopped. Synchronous replication is
switched on only once the standby streams, and the instance is marked ``sync`` only after the
primary reports the standby as synchronous: while the row says ``sync``, every acknowledged
commit is on the standby (the HA monitor relies on it to promote safely).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from functools import partial
from threading import Event

from sqlalchemy.orm import Session, sessionmaker

from agents.base import DEFAULT_DATABASE
from controlplane import secrets
from controlplane.db.models import Endpoint, Instance, Node, Operation
from controlplane.domain.failures import Cancelled, TemporaryError
from controlplane.domain.states import InstanceStatus
from controlplane.services import metric_samples, ports, transitions
from controlplane.settings import get_settings
from workers import (
    docker_driver,
    images,
    log_jobs,
    naming,
    node_placement,
    nodes,
    preemption,
    proxies,
    volumes,
)
from workers.blueprint import (
    Blueprint,
    connection,
    lb_proxy,
    replica_proxies,
    through_load_balancer,
)
from workers.blueprint import load as load_blueprint
from workers.runner import OperationContext

log = logging.getLogger(__name__)
HA_NODES = (("n1", "primary"), ("n2", "standby"))
SINGLE_NODE = (("n1", "primary"),)


def set_status(
    session: Session, instance: Instance, status: InstanceStatus, reason: str | None = None
) -> None:
    """A guarded move (services/transitions.py); ``Cancelled`` when the instance is being
    deleted meanwhile, ``InvalidTransition`` when its status allows no such move."""
    transitions.settle_instance(session, instance, status, reason)


def check_wanted(sessions: sessionmaker[Session], instance_id: str) -> None:
    """Between steps of a job: stop when the instance is being deleted (deletion wins), yield
    when the HA monitor needs it (``preemption``)."""
    preemption.check(instance_id)
    with sessions() as session:
        if _gone(load_instance(session, instance_id)):
            raise Cancelled(f"instance {instance_id} is being deleted")


def load_instance(session: Session, instance_id: str) -> Instance | None:
    return session.get(Instance, instance_id, populate_existing=True)


def _gone(instance: Instance | None) -> bool:
    return instance is None or instance.status == InstanceStatus.DELETING


def ensure_node_rows(session: Session, instance: Instance) -> None:
    """The rows a converge builds from: the nodes, and the image pinned. A job that makes a
    main node itself (a clone, a restore) and then converges gets the same container spec
    both times: one made from the tag would be replaced by one from the pinned id, stopped
    in the middle of its recovery."""
    existing = {n.name for n in instance.nodes}
    for name, role in HA_NODES if instance.is_ha_cluster else SINGLE_NODE:
        if name not in existing:  # a new follower starts as a copy of the primary
            instance.nodes.append(Node(name=name, role=role, needs_rebuild=role != "primary"))
    session.flush()
    node_placement.place_new_nodes(session, instance)  # (swarm mode only)
    images.pin(instance)
    session.flush()


@dataclass
class Stopwatch:
    """Seconds each step of a converge took, for the provisioning benchmark (kept in the
    operation's params as ``steps``)."""

    steps: dict[str, float] = field(default_factory=dict)
    last: float = field(default_factory=time.monotonic)

    def lap(self, step: str) -> None:
        now = time.monotonic()
        self.steps[step] = round(now - self.last, 3)
        self.last = now


def converge(ctx: OperationContext) -> None:
    watch = Stopwatch()
    converge_instance(ctx.sessions, ctx.resource_id, ctx.params, watch=watch)
    with ctx.sessions() as session:
        op = session.get(Operation, ctx.operation_id)
        if op is not None:
            op.params = {**op.params, "steps": watch.steps}
            session.commit()


def converge_instance(
    sessions: sessionmaker[Session],
    instance_id: str,
    params: dict[str, object],
    ready: bool = True,
    watch: Stopwatch | None = None,
) -> None:
    """Make the instance's containers, roles, replication and endpoint match its rows; then
    the instance is ready (unless ``ready`` is false: the job has more to do)."""
    watch = watch or Stopwatch()
    with sessions() as session:
        instance = load_instance(session, instance_id)
        if instance is None or _gone(instance):
            return  # deleted meanwhile: nothing to build
        ensure_node_rows(session, instance)
        lb_port = None
        if not instance.load_balancer_released:
            lb_port = endpoint_port(session, instance.id, "load_balancer")
        rebuild = {n.name for n in instance.nodes if n.needs_rebuild}
        session.commit()
        bp = load_blueprint(instance)

    nodes.ensure_instance_network(bp.instance_id)
    hosts = {h for h in [*bp.hosts.values(), bp.lb_host] if h is not None}
    docker_driver.copy_images([bp.version.image, proxies.PROXY_IMAGE], hosts)
    watch.lap("network")
    check_wanted(sessions, instance_id)

    # The load balancer is made while the main node is and learns its address once it runs;
    # Docker serves both at once.
    yield_to_monitor = partial(preemption.check, instance_id)
    with ThreadPoolExecutor(max_workers=1) as aside:
        primary_started = Event()
        balancer = aside.submit(_ensure_load_balancer, bp, lb_port, primary_started)
        try:
            start = nodes.ensure_primary(
                bp, bp.primary, lap=watch.lap, on_started=primary_started.set
            )
        finally:
            primary_started.set()
        log.info("instance %s: main node %s running", instance_id, bp.primary)
        _advance(sessions, instance_id, InstanceStatus.PROVISIONING, InstanceStatus.INITIALIZING)
        _set_up_primary(bp, params, start, watch, yield_to_monitor)
        if bp.standbys() or bp.replicas():
            _converge_followers(sessions, bp, rebuild, watch)
        for proxy in replica_proxies(bp):
            check_wanted(sessions, instance_id)
            proxies.ensure(proxy)
        balancer.result()
    watch.lap("load balancer running")

    # Ready means reachable the way users reach it: through the load balancer (from the
    # instance network, which users' ACL rules cannot exclude).
    if lb_port is not None:
        through_endpoint = through_load_balancer(bp)
        bp.agent.wait_ready(through_endpoint, timeout=30, interrupt=yield_to_monitor)
        log.info("instance %s: reachable through its endpoint", instance_id)
        watch.lap("a query through the endpoint")

    with sessions() as session:
        instance = load_instance(session, instance_id)
        if instance is None or _gone(instance):
            return
        if lb_port is not None:
            _ensure_lb_endpoint(instance, lb_port)
        instance.settings = [{"name": n, "value": v} for n, v in bp.settings]
        if ready:
            set_status(session, instance, InstanceStatus.READY)
        session.commit()


def _set_up_primary(
    bp: Blueprint,
    params: dict[str, object],
    start: nodes.PrimaryStart,
    watch: Stopwatch,
    interrupt: Callable[[], None],
) -> None:
    """The running main node answers, has the rows' configuration, the default database and
    the customer's admin user."""
    primary = connection(bp, bp.primary)
    if not start.answering:
        bp.agent.wait_ready(primary, timeout=60, interrupt=interrupt)
        watch.lap("engine answers")
    if not start.configured:  # (a node started just now read the rows' configuration)
        nodes.write_config(bp, bp.primary)  # settings and sync standbys as the rows say
    watch.lap("configuration and TLS")
    bp.agent.ensure_database(primary)
    verifier = params.get("admin_verifier")
    if bp.admin_user and isinstance(verifier, str) and verifier:
        bp.agent.ensure_admin(primary, bp.admin_user, secrets.decrypt(verifier), DEFAULT_DATABASE)
    log.info("instance %s: main node %s configured", bp.instance_id, bp.primary)
    watch.lap("database and admin user")


def _ensure_load_balancer(bp: Blueprint, port: int | None, primary_started: Event) -> None:
    if port is None:
        return
    proxies.ensure(lb_proxy(bp, port))
    primary_started.wait()
    address = None
    # its address on the instance network, where the load balancer reaches it
    with suppress(TemporaryError):  # (a host that did not answer: resolution finds it)
        address = docker_driver.container_ip(
            bp.container(bp.primary), naming.network(bp.instance_id)
        )
    if address is not None:  # (None: the node did not start, nothing to learn)
        proxies.learn_address(
            naming.lb_container(bp.instance_id), bp.primary, address, bp.runtime.port
        )


def _converge_followers(
    sessions: sessionmaker[Session], bp: Blueprint, rebuild: set[str], watch: Stopwatch
) -> None:
    bp.agent.ensure_replication_user(connection(bp, bp.primary), bp.replication_password)
    for node in bp.standbys() + bp.replicas():
        check_wanted(sessions, bp.instance_id)
        _ensure_following(sessions, bp, node, rebuild=node in rebuild, watch=watch)
        nodes.write_config(bp, node)  # settings and TLS files as the rows say
    with sessions() as session:
        instance = load_instance(session, bp.instance_id)
        if instance is None or _gone(instance):
            return
        for row in instance.nodes:
            row.needs_rebuild = False
        session.commit()
    make_synchronous(sessions, bp.instance_id)
    watch.lap("followers synchronous")


def make_synchronous(sessions: sessionmaker[Session], instance_id: str) -> None:
    """Switch the primary to synchronous, check it took, and only then record ``sync``."""
    with sessions() as session:
        instance = load_instance(session, instance_id)
        if instance is None or _gone(instance) or instance.sync_mode == "sync":
            return
        sync_bp = load_blueprint(instance, sync_mode="sync")
        if not sync_bp.standbys():
            return
    nodes.write_config(sync_bp, sync_bp.primary)
    for node in sync_bp.standbys():
        nodes.wait_synchronous(sync_bp, node)
    record_sync_mode(sessions, instance_id, "sync")


def record_sync_mode(sessions: sessionmaker[Session], instance_id: str, mode: str) -> None:
    with sessions() as session:
        instance = load_instance(session, instance_id)
        if instance is not None:
            instance.sync_mode = mode
            session.commit()


def release_synchronous(sessions: sessionmaker[Session], instance_id: str) -> Blueprint:
    """Record ``degraded`` first, then stop the primary waiting for its standby (it is about to
    go away for a while); returns the instance as it now is."""
    with sessions() as session:
        instance = load_instance(session, instance_id)
        assert instance is not None
        was_sync = instance.sync_mode == "sync"
        instance.sync_mode = "degraded" if instance.is_ha_cluster else "none"
        session.commit()
        bp = load_blueprint(instance)
    if was_sync:
        nodes.write_config(bp, bp.primary)
    return bp


def _ensure_following(
    sessions: sessionmaker[Session],
    bp: Blueprint,
    node: str,
    rebuild: bool,
    watch: Stopwatch,
) -> None:
    """A follower that cannot stream from its volume's data (it diverged, or the volume is
    gone) is rebuilt from a fresh copy of the primary; one that does not stream because the
    primary is down is left alone (its data may be the only up-to-date copy). Its steps are
    timed as "<node> copied", "<node> started", "<node> streaming"."""
    nodes.ensure_standby(bp, node, rebuild=rebuild, lap=lambda step: watch.lap(f"{node} {step}"))
    try:
        nodes.wait_streaming(bp, node, timeout=60 if rebuild else 20)
        watch.lap(f"{node} streaming")
    except TemporaryError:
        if rebuild:
            raise
        bp.agent.ping(connection(bp, bp.primary), timeout=2)  # raises: the primary is down
        log.warning("%s of %s does not follow its primary; rebuilding it", node, bp.instance_id)
        _mark_for_rebuild(sessions, bp, node)
        nodes.ensure_standby(bp, node, rebuild=True)
        nodes.wait_streaming(bp, node)


def _mark_for_rebuild(sessions: sessionmaker[Session], bp: Blueprint, node: str) -> None:
    """Recorded before the node's data goes: the HA monitor never promotes a node being
    rebuilt, and a synchronous standby is first released (the instance degrades)."""
    with sessions() as session:
        instance = load_instance(session, bp.instance_id)
        if instance is None:
            return
        for row in instance.nodes:
            if row.name == node:
                row.needs_rebuild = True
        was_sync = instance.sync_mode == "sync" and bp.roles[node].kind == "standby"
        if was_sync:
            instance.sync_mode = "degraded"
        session.commit()
        degraded = load_blueprint(instance)
    if was_sync:
        nodes.write_config(degraded, degraded.primary)  # commits stop waiting for the node


def _advance(
    sessions: sessionmaker[Session],
    instance_id: str,
    current: InstanceStatus,
    target: InstanceStatus,
) -> None:
    with sessions() as session:
        instance = load_instance(session, instance_id)
        if instance is not None and instance.status == current:
            set_status(session, instance, target)
            session.commit()


def endpoint_port(session: Session, owner_id: str, purpose: str) -> int:
    """A stable host port for a user-facing endpoint, free for Docker as well as for us."""
    s = get_settings()
    return ports.allocate(
        session,
        owner_id,
        purpose,
        s.endpoint_port_min,
        s.endpoint_port_max,
        s.publish_address,
        taken=docker_driver.published_host_ports(),
    )


def _advertised(instance: Instance) -> str:
    """The endpoint's address: its host's in swarm mode."""
    if instance.load_balancer_host is not None:
        return docker_driver.host_address(instance.load_balancer_host)
    return get_settings().advertise_address


def _ensure_lb_endpoint(instance: Instance, port: int) -> None:
    if any(e.kind == "load_balancer" for e in instance.endpoints):
        return
    instance.endpoints.append(Endpoint(kind="load_balancer", ip=_advertised(instance), port=port))


def refresh_configuration(ctx: OperationContext) -> None:
    """Every node re-reads its configuration and TLS files (a renewed certificate): a reload,
    never a restart, so open sessions and replication keep going."""
    with ctx.sessions() as session:
        instance = load_instance(session, ctx.resource_id)
        if instance is None or _gone(instance):
            return
        bp = load_blueprint(instance)
    for node in bp.roles:
        if docker_driver.container_state(bp.container(node)) == "running":
            nodes.write_config(bp, node)
    _advance(ctx.sessions, ctx.resource_id, InstanceStatus.CONFIGURING, InstanceStatus.READY)


# Provisioning, healing and rebuilding a standby are the same converge.
provision = heal = converge


def delete(ctx: OperationContext) -> None:
    instance_id = ctx.resource_id
    with ctx.sessions() as session:
        instance = load_instance(session, instance_id)
        nodes_ = [n.name for n in instance.nodes] if instance is not None else []
    removed = docker_driver.remove_instance_resources(instance_id)
    # Proxies' host directories, also of proxies whose container was already gone.
    proxy_names = [naming.lb_container(instance_id)]
    proxy_names += [naming.endpoint_container(instance_id, node) for node in nodes_]
    for container in {*removed, *proxy_names}:
        proxies.forget(container)
    for name in volumes.existing_names():
        if name.startswith(f"{naming.prefix()}-{instance_id}-"):
            volumes.remove(name)
    with ctx.sessions() as session:
        instance = load_instance(session, instance_id)
        ports.release(session, instance_id)
        log_jobs.forget_instance(session, instance_id)  # its logs go with it, no grace period
        metric_samples.forget(session, instance_id)
        if instance is not None:
            session.delete(instance)
        session.commit()


def mark_error(ctx: OperationContext, message: str) -> None:
    with ctx.sessions() as session:
        instance = load_instance(session, ctx.resource_id)
        if instance is None or (_gone(instance) and ctx.kind != "delete_instance"):
            return  # a job cut short by a deletion: the deletion decides what comes next
        if instance.status != InstanceStatus.ERROR:
            set_status(session, instance, InstanceStatus.ERROR, message)
        else:
            instance.status_reason = message
        session.commit()

"""The one seam to the Docker engine. Docker exceptions are translated here, once.

Every container we create is hardened the same way: no capability at all, no privilege gain
through set-uid files (``no-new-privileges``), a pids limit, and a non-root user where the
spec says so (engines and proxies run as their own users).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import socket
import tarfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import docker
import requests
from docker.errors import APIError, ImageNotFound, NotFound
from docker.models.containers import Container

from agents.base import FileSpec
from controlplane.domain.failures import HostUnreachable, PermanentError, TemporaryError
from controlplane.settings import get_settings
from workers import image_sync, locks, naming, swarm_hosts


@dataclass(frozen=True)
class ContainerSpec:
    name: str
    image: str
    command: list[str]
    labels: dict[str, str]
    network: str
    user: str | None = None
    mounts: dict[str, str] = field(
        default_factory=dict
    )  # source (volume name or host dir) -> target
    ports: dict[str, tuple[str, int]] = field(default_factory=dict)  # "5432/tcp" -> (ip, port)
    nano_cpus: int | None = None
    mem_bytes: int | None = None
    stop_signal: str = "SIGTERM"
    restart: bool = True
    aliases: list[str] = field(default_factory=list)
    environment: dict[str, str] = field(default_factory=dict)
    shm_bytes: int | None = None
    pids_limit: int = 256
    dns_options: list[str] = field(default_factory=list)  # resolv.conf options
    # More networks, joined before the first start (``network`` is the one ports publish on).
    extra_networks: list[str] = field(default_factory=list)
    # The swarm host whose daemon runs it (workers/swarm_hosts.py); None: the local engine.
    host: str | None = None


HARDENING = {"cap_drop": ["ALL"], "security_opt": ["no-new-privileges:true"]}
SPEC_LABEL = "dbaas.spec"


def spec_digest(spec: ContainerSpec) -> str:
    """Changes whenever the container would be created differently (ports, limits, image...)."""
    fields = {
        k: v
        for k, v in dataclasses.asdict(spec).items()
        if k != "labels" and not (k == "host" and v is None)  # (digests from before hosts)
    }
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


@cache
def client() -> docker.DockerClient:
    """The local engine: the only one in single-host mode; in swarm mode, where images are
    built (workers/image_sync.py copies them to the hosts)."""
    return docker.from_env(timeout=120)


# ---------------------------------------------------------------- several hosts (swarm mode)
# A container lives on one host's daemon: it is created where its spec says and found by name
# on the host it was last seen on, else by asking each host (a process-local memo, checked at
# every use). Container objects carry their daemon: their methods go to the right host.
HOSTS_TTL_SECONDS = 10.0
_seen_on: dict[str, str] = {}
_hosts_read: list[tuple[float, dict[str, swarm_hosts.SwarmHost]]] = []
_refreshing = threading.Lock()


def forget_hosts() -> None:
    """Empty the memo of hosts and containers' homes (the settings changed)."""
    _seen_on.clear()
    _hosts_read.clear()


def swarm_mode() -> bool:
    return bool(get_settings().swarm_manager)


@cache
def _daemon_at(url: str) -> docker.DockerClient:
    return swarm_hosts.daemon_client(url)


def _read_hosts() -> None:
    hosts = {h.name: h for h in swarm_hosts.hosts(get_settings().swarm_manager)}
    _hosts_read[:] = [(time.monotonic(), hosts)]


def _refresh_hosts() -> None:
    with suppress(HostUnreachable):
        _read_hosts()
    _refreshing.release()


def _swarm_hosts() -> dict[str, swarm_hosts.SwarmHost]:
    """The swarm's hosts by name, read from a manager once, then re-read in the background
    every HOSTS_TTL_SECONDS while the last list serves: addresses and daemons do not change
    with the swarm's state, and a failover must not wait for the swarm (a lost host may have
    held its leader: the other managers answer only once they elected a new one)."""
    if not _hosts_read:
        _read_hosts()
    elif time.monotonic() - _hosts_read[0][0] > HOSTS_TTL_SECONDS and _refreshing.acquire(
        blocking=False
    ):
        threading.Thread(target=_refresh_hosts, daemon=True).start()
    return _hosts_read[0][1]


def host_urls() -> dict[str, str]:
    """Host name -> its daemon's URL, for every swarm host labelled with one."""
    return {name: h.docker_url for name, h in _swarm_hosts().items() if h.docker_url}


def host_address(host: str) -> str:
    """Where a swarm host's published ports are reached."""
    found = _swarm_hosts().get(host)
    if found is None or not found.address:
        raise TemporaryError(f"host {host} is not in the swarm")
    return found.address


def daemon(host: str | None) -> docker.DockerClient:
    """The engine of ``host`` (None: the local one)."""
    if host is None:
        return client()
    url = host_urls().get(host)
    if url is None:
        raise TemporaryError(f"host {host} is not in the swarm (or has no dbaas.docker label)")
    return _daemon_at(url)


def copy_images(tags: list[str], hosts: set[str]) -> None:
    """Swarm mode: ``hosts`` hold these images, copied from the local engine where missing
    (one inspect per host and image when they are there)."""
    if not swarm_mode() or not hosts:
        return
    with translated(f"copy images to {', '.join(sorted(hosts))}"):
        image_sync.sync(client(), {host: daemon(host) for host in hosts}, tags)


def _daemons() -> dict[str | None, docker.DockerClient]:
    """Every engine containers of ours may be on."""
    if not swarm_mode():
        return {None: client()}
    return {host: _daemon_at(url) for host, url in host_urls().items()}


@contextmanager
def translated(action: str) -> Iterator[None]:
    try:
        yield
    except ImageNotFound as exc:
        raise PermanentError(f"{action}: image missing ({exc.explanation})") from exc
    except NotFound as exc:  # something vanished meanwhile (another instance's deletion): retry
        raise TemporaryError(f"{action}: {exc.explanation}") from exc
    except APIError as exc:
        if exc.status_code is not None and exc.status_code < 500 and exc.status_code != 409:
            raise PermanentError(f"{action}: {exc.explanation}") from exc
        raise TemporaryError(f"{action}: {exc.explanation}") from exc
    except (requests.ConnectionError, requests.Timeout) as exc:
        if swarm_mode():  # a host down or cut off: jobs wait for it (failures.HostUnreachable)
            raise HostUnreachable(f"{action}: Docker engine unreachable ({exc})") from exc
        raise TemporaryError(f"{action}: Docker engine unreachable ({exc})") from exc


def find_container(name: str) -> Container | None:
    """None only when no engine has it: a host that could not be asked is a temporary error
    (never taken for a missing container, which a caller would make again)."""
    if not swarm_mode():
        with translated(f"inspect container {name}"):
            try:
                return client().containers.get(name)
            except NotFound:
                return None
    daemons = _daemons()
    last = _seen_on.get(name)
    order = sorted(daemons, key=lambda h: (h != last, str(h)))
    unreachable: list[str] = []
    for host in order:
        try:
            container = daemons[host].containers.get(name)
        except NotFound:
            continue
        except (APIError, requests.ConnectionError, requests.Timeout):
            unreachable.append(str(host))
            continue
        _seen_on[name] = str(host)
        return container
    _seen_on.pop(name, None)
    if unreachable:
        raise HostUnreachable(f"{name}: host {', '.join(unreachable)} did not answer")
    return None


def _network_engine() -> docker.DockerClient:
    """Where our networks are made: the local engine, or a swarm manager that answers."""
    managers = swarm_hosts.manager_urls(get_settings().swarm_manager)
    if not managers:
        return client()
    for url in managers:
        with suppress(requests.ConnectionError, requests.Timeout, APIError):
            engine = _daemon_at(url)
            engine.ping()
            return engine
    raise HostUnreachable(f"no swarm manager answers ({', '.join(managers)})")


def ensure_network(
    name: str,
    labels: dict[str, str],
    internal: bool = False,
    bridge: str | None = None,
    *,
    host: str | None = None,
    masquerade: bool = True,
) -> None:
    """A bridge network; ``internal`` ones have no route out of their subnet, and ``bridge``
    names the host interface (firewall rules match it); without ``masquerade`` nothing leaves
    the host under its address. In swarm mode an attachable overlay network, which containers
    on every host join, unless ``host`` asks for a bridge of that host's own."""
    overlay = swarm_mode() and host is None
    options: dict[str, str] = {}
    if bridge and not overlay:
        options["com.docker.network.bridge.name"] = bridge
    if not masquerade:
        options["com.docker.network.bridge.enable_ip_masquerade"] = "false"
    # Docker lets two creators make two networks of one name (later uses fail as ambiguous):
    # creators take turns, on this host and across workers.
    key = f"{host}/{name}" if host else name
    with translated(f"create network {name}"), locks.holding("network", key, wait=30) as held:
        if held is None:
            raise TemporaryError(f"network {name} is being created by another job", delay=2)
        engine = daemon(host) if host else _network_engine()
        existing = [n for n in engine.networks.list(names=[name]) if n.name == name]
        if len(existing) > 1:
            _drop_duplicates(existing)
        if existing:
            return
        engine.networks.create(
            name,
            driver="overlay" if overlay else "bridge",
            attachable=overlay or None,
            labels=labels,
            internal=internal,
            options=options or None,
            check_duplicate=True,
        )


def _drop_duplicates(networks: list[Any]) -> None:
    """Keep the oldest network of a name; the others go when nothing uses them."""
    for network in sorted(networks, key=lambda n: str(n.attrs.get("Created", "")))[1:]:
        with suppress(NotFound, APIError):
            network.reload()
            if not network.attrs.get("Containers"):
                network.remove()


def remove_network(name: str) -> None:
    with translated(f"remove network {name}"):
        for network in _network_engine().networks.list(names=[name]):
            with suppress(NotFound):
                network.remove()


def ensure_named_volume(name: str, labels: dict[str, str], host: str | None = None) -> None:
    with translated(f"create volume {name}"):
        engine = daemon(host)
        try:
            engine.volumes.get(name)
        except NotFound:
            engine.volumes.create(name=name, labels=labels)


def _mount_config(mounts: dict[str, str]) -> dict[str, dict[str, str]]:
    return {source: {"bind": target, "mode": "rw"} for source, target in mounts.items()}


def _create(spec: ContainerSpec, command: list[str] | None = None, **extra: Any) -> Container:
    engine = daemon(spec.host)
    networking = engine.api.create_networking_config(
        {spec.network: engine.api.create_endpoint_config(aliases=spec.aliases or None)}
    )
    host_config = engine.api.create_host_config(
        binds=_mount_config(spec.mounts),
        port_bindings={k: v for k, v in spec.ports.items()},
        nano_cpus=spec.nano_cpus,
        mem_limit=spec.mem_bytes,
        memswap_limit=spec.mem_bytes,
        shm_size=spec.shm_bytes,
        restart_policy={"Name": "unless-stopped"} if spec.restart else {"Name": "no"},
        network_mode=spec.network,
        log_config={"Type": "json-file", "Config": {"max-size": "10m", "max-file": "3"}},
        pids_limit=spec.pids_limit,
        dns_opt=spec.dns_options or None,
        **HARDENING,
        **extra,
    )
    created = engine.api.create_container(
        image=spec.image,
        command=command if command is not None else spec.command,
        name=spec.name,
        user=spec.user or "",
        labels={**spec.labels, SPEC_LABEL: spec_digest(spec)},
        environment=spec.environment,
        ports=[(int(port), proto) for port, proto in (k.split("/") for k in spec.ports)],
        host_config=host_config,
        networking_config=networking,
        stop_signal=spec.stop_signal,
    )
    if spec.host is not None:
        _seen_on[spec.name] = spec.host
    container = engine.containers.get(created["Id"])
    _join_networks(container, spec.extra_networks)
    return engine.containers.get(created["Id"])


def ensure_container(
    spec: ContainerSpec, files: dict[str, FileSpec] | None = None, files_base: str = "/"
) -> Container:
    """Create (seeding ``files`` before the first start) and start the container if needed.

    An existing container with this name is reused when it was created from the same spec;
    one created differently (another port, other limits) is replaced: its data is in its
    volume, not in the container.
    """
    with translated(f"ensure container {spec.name}"):
        container = ensure_created(spec)
        if files and container.status == "created":  # never started: (re)seed its files
            put_files(container, files_base, files)
        if container.status != "running":
            container.start()
            container.reload()
        return container


def ensure_created(spec: ContainerSpec) -> Container:
    """The container as ``spec`` says, created if missing (not started)."""
    with translated(f"create container {spec.name}"):
        container = find_container(spec.name)
        created_as = container.labels.get(SPEC_LABEL) if container is not None else None
        if container is not None and created_as not in (None, spec_digest(spec)):
            stop_and_remove(spec.name)  # (no label: made before specs were recorded; kept)
            container = None
        if container is None:
            container = _create(spec)
        _join_networks(container, spec.extra_networks)  # a creator killed half-way skipped it
        return container


def put_archive(container: Container, base: str, archive: Path) -> None:
    """Unpack a tar file (owners and modes kept) under ``base``; the container may be stopped."""
    with translated(f"copy into {container.name}"), archive.open("rb") as stream:
        if not container.put_archive(base, stream):
            raise TemporaryError(f"copy into {container.name} refused")


def read_file(container: Container, path: str) -> bytes | None:
    """A small file's content; None when it does not exist. The container may be stopped."""
    with translated(f"read {path} in {container.name}"):
        try:
            chunks, _ = container.get_archive(path)
        except NotFound:
            return None
        with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as tar:
            member = tar.next()
            extracted = tar.extractfile(member) if member is not None else None
            return extracted.read() if extracted is not None else None


def _join_networks(container: Container, networks: list[str]) -> None:
    joined = container.attrs.get("NetworkSettings", {}).get("Networks") or {}
    for network in networks:
        if network not in joined:
            container.client.api.connect_container_to_network(container.id, network)


def put_files(container: Container, base: str, files: dict[str, FileSpec]) -> None:
    """Write files (keeping owner and mode) under ``base``; parent directories are created."""
    buf = io.BytesIO()
    now = int(time.time())
    with tarfile.open(fileobj=buf, mode="w") as tar:
        seen: set[str] = set()
        for rel, spec in files.items():
            parts = rel.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                d = "/".join(parts[:i])
                if d not in seen:
                    seen.add(d)
                    info = tarfile.TarInfo(d)
                    info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o700, now
                    info.uid, info.gid = spec.uid, spec.gid
                    tar.addfile(info)
            info = tarfile.TarInfo(rel)
            info.size, info.mode, info.mtime = len(spec.data), spec.mode, now
            info.uid, info.gid = spec.uid, spec.gid
            tar.addfile(info, io.BytesIO(spec.data))
    with translated(f"copy files into {container.name}"):
        container.put_archive(base, buf.getvalue())


def run_once(
    spec: ContainerSpec,
    command: list[str],
    files: dict[str, FileSpec],
    files_base: str,
    timeout: float = 300,
) -> tuple[int, str]:
    """Run a one-shot container (same mounts and network as ``spec``); always removed."""
    with translated(f"one-shot {spec.name}"):
        stale = find_container(spec.name)
        if stale is not None:
            stale.remove(force=True)
        container = _create(spec, command=command)
        try:
            if files:
                put_files(container, files_base, files)
            container.start()
            result = container.wait(timeout=timeout)
            logs = container.logs().decode(errors="replace")
            return int(result.get("StatusCode", 1)), logs
        finally:
            container.remove(force=True)


def exec_in(container: Container, command: list[str], user: str = "") -> tuple[int, str]:
    with translated(f"exec in {container.name}"):
        code, output = container.exec_run(command, user=user)
        return int(code), output.decode(errors="replace") if output else ""


def stop_and_remove(name: str, timeout: int = 30) -> None:
    with translated(f"remove container {name}"):
        container = find_container(name)
        if container is None:
            return
        try:
            container.update(restart_policy={"Name": "no"})
            if container.status == "running":
                container.stop(timeout=timeout)
        except NotFound:
            return
        with suppress(NotFound):
            container.remove(force=True, v=False)


def stop(name: str, timeout: int) -> None:
    """Stop (its stop signal, then SIGKILL after ``timeout``); it keeps its restart policy."""
    with translated(f"stop {name}"):
        container = find_container(name)
        if container is not None and container.status in ("running", "restarting"):
            container.stop(timeout=timeout)


def start(name: str) -> None:
    with translated(f"start {name}"):
        container = find_container(name)
        if container is None:
            raise TemporaryError(f"{name} does not exist")
        if container.status != "running":
            container.start()


def restart(name: str, timeout: int) -> None:
    """Stop (its stop signal, then SIGKILL after ``timeout``) and start again."""
    with translated(f"restart {name}"):
        container = find_container(name)
        if container is None:
            raise TemporaryError(f"{name} does not exist")
        container.restart(timeout=timeout)


def mount_sources(name: str) -> set[str]:
    """What the container mounts: host paths (bind mounts) and named volumes."""
    container = find_container(name)
    if container is None:
        return set()
    return {str(m.get("Name") or m.get("Source")) for m in container.attrs.get("Mounts", [])}


def host_directory(container: Container, target: str) -> Path | None:
    """Where the container's mount at ``target`` lives on this host, when this process can
    reach it there (a worker on the Docker host itself; not one in a container of its own)."""
    for mount in container.attrs.get("Mounts", []):
        if mount.get("Destination") == target and mount.get("Source"):
            source = Path(mount["Source"])
            return source if source.is_dir() else None
    return None


def container_state(name: str) -> str | None:
    """``running``, ``exited``, ... or None when the container does not exist."""
    container = find_container(name)
    return None if container is None else str(container.status)


def running_containers(filters: dict[str, list[str]]) -> dict[str, str]:
    """Name -> id of the running containers matching ``filters``: one listing, no inspect."""
    with translated("list running containers"):
        found: dict[str, str] = {}
        for engine in _daemons().values():
            listed = engine.containers.list(filters={**filters, "status": ["running"]}, sparse=True)
            found.update(
                (str(c.attrs["Names"][0]).lstrip("/"), str(c.id))
                for c in listed
                if c.attrs.get("Names")
            )
        return found


def container_stats(container_id: str) -> dict[str, Any]:
    """Docker's one-shot stats of a container: about a second (see workers/cgroups.py)."""
    with translated(f"stats of container {container_id[:12]}"):
        *others, last = _daemons().values()
        for engine in others:  # (swarm mode: whichever host runs it)
            with suppress(NotFound):
                return dict(engine.api.stats(container_id, stream=False, one_shot=True))
        return dict(last.api.stats(container_id, stream=False, one_shot=True))


def remove_instance_resources(instance_id: str) -> list[str]:
    """Containers first, then networks and named volumes carrying this instance's labels;
    returns the names of the containers removed."""
    filters = naming.instance_filter(instance_id)
    removed: list[str] = []
    with translated(f"remove resources of {instance_id}"):
        engines = _daemons().values()
        for engine in engines:
            for container in engine.containers.list(all=True, filters=filters, ignore_removed=True):
                stop_and_remove(container.name)
                removed.append(container.name)
        for network in _network_engine().networks.list(filters=filters):
            with suppress(NotFound):
                network.remove()
        for engine in engines:
            for volume in engine.volumes.list(filters=filters):
                with suppress(NotFound):
                    volume.remove(force=True)
    return removed


def remove_volume(name: str, host: str | None = None) -> None:
    """From ``host``'s engine; in swarm mode without a host, from every host that has it."""
    engines = [daemon(host)] if host is not None or not swarm_mode() else _daemons().values()
    with translated(f"remove volume {name}"):
        for engine in engines:
            with suppress(NotFound):
                engine.volumes.get(name).remove(force=True)


def published_host_ports() -> frozenset[int]:
    """Host ports published by any container on our engines (ours or not)."""
    with translated("list published ports"):
        ports: set[int] = set()
        # Containers of others come and go meanwhile: one that vanished publishes nothing.
        listed = (
            c
            for engine in _daemons().values()
            for c in engine.containers.list(all=True, ignore_removed=True)
        )
        for container in listed:
            bindings = container.attrs.get("HostConfig", {}).get("PortBindings") or {}
            for entries in bindings.values():
                for entry in entries or []:
                    if str(entry.get("HostPort", "")).isdigit():
                        ports.add(int(entry["HostPort"]))
        return frozenset(ports)


def network_gateway(name: str) -> str | None:
    """The host's own address on a bridge network (the source of its connections there)."""
    with translated(f"inspect network {name}"):
        found = [n for n in client().networks.list(names=[name]) if n.name == name]
    if not found:
        return None
    configs = found[0].attrs.get("IPAM", {}).get("Config") or []
    return next((str(c["Gateway"]) for c in configs if c.get("Gateway")), None)


def container_ip(name: str, network: str) -> str | None:
    """The container's address on ``network`` (how the control plane reaches a node)."""
    container = find_container(name)
    if container is None or container.status != "running":
        return None
    networks = container.attrs.get("NetworkSettings", {}).get("Networks", {})
    address = (networks.get(network) or {}).get("IPAddress")
    return str(address) if address else None


def source_address(destination: str) -> str:
    """This machine's address on the route to ``destination`` (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect((destination, 9))
        return str(probe.getsockname()[0])


def published_address(name: str, port: int) -> tuple[str, int] | None:
    """Where a running container's ``port``/tcp is published (None: not running or not)."""
    container = find_container(name)
    if container is None or container.status != "running":
        return None
    bindings = (container.attrs.get("NetworkSettings", {}).get("Ports") or {}).get(f"{port}/tcp")
    for binding in bindings or []:
        if str(binding.get("HostPort", "")).isdigit():
            return str(binding.get("HostIp") or "127.0.0.1"), int(binding["HostPort"])
    return None


def fence(name: str) -> None:
    """Make sure a container can never serve again on its own: no restart policy, killed."""
    with translated(f"fence {name}"):
        container = find_container(name)
        if container is None:
            return
        with suppress(NotFound, APIError):
            container.update(restart_policy={"Name": "no"})
        if container.status in ("running", "restarting", "paused"):
            with suppress(NotFound, APIError):
                container.kill()


def signal(name: str, signum: str) -> None:
    with translated(f"signal {name}"):
        container = find_container(name)
        if container is not None and container.status == "running":
            container.kill(signal=signum)


@dataclass(frozen=True)
class ImageInfo:
    image_id: str
    labels: dict[str, str]


def image_info(ref: str) -> ImageInfo | None:
    """A tag or an image id; None when no such image is here."""
    with translated(f"inspect image {ref}"):
        try:
            image = client().images.get(ref)
        except ImageNotFound:
            return None
        return ImageInfo(image_id=str(image.id), labels=dict(image.labels or {}))


def container_image(name: str) -> str | None:
    """The id of the image a container runs, or None when there is no such container."""
    container = find_container(name)
    return None if container is None else str(container.attrs.get("Image") or "") or None


def image_output(image: str, command: list[str], labels: dict[str, str]) -> str:
    """What ``command`` prints in a throwaway container of ``image`` (no network)."""
    with translated(f"run {command[0]} in {image}"):
        output = client().containers.run(
            image, command, remove=True, network_mode="none", labels=labels, **HARDENING
        )
        return bytes(output).decode(errors="replace")


def volume_mountpoint(name: str) -> str | None:
    """Where a named volume's files are on its host (None: no such volume). In swarm mode the
    path is on the host whose daemon has it: readable here only when the hosts share this
    machine's filesystem (the lab)."""
    with translated(f"inspect volume {name}"):
        for engine in _daemons().values():
            with suppress(NotFound):
                return str(engine.volumes.get(name).attrs.get("Mountpoint") or "") or None
        return None


class ExecFailed(Exception):
    def __init__(self, code: int, stderr: str):
        super().__init__(f"exit {code}: {stderr.strip()[-800:]}")
        self.code = code
        self.stderr = stderr


def exec_stream(
    name: str, command: list[str], user: str = "", environment: dict[str, str] | None = None
) -> Iterator[bytes]:
    """``command``'s stdout in a running container, streamed as it comes (never buffered
    whole); stderr kept apart (its tail only). ``ExecFailed`` once it ends with a non-zero
    status, after the last stdout bytes: consumers must not trust what they got before it."""
    with translated(f"exec in {name}"):
        found = find_container(name)
        if found is None:
            raise TemporaryError(f"exec in {name}: no such container")
        api = found.client.api
        exec_id = api.exec_create(name, command, user=user, environment=environment or {})["Id"]
        output = api.exec_start(exec_id, stream=True, demux=True)
    stderr = bytearray()
    with translated(f"exec in {name}"):
        for out, err in output:
            if err:
                stderr += err
                del stderr[:-8192]
            if out:
                yield out
        code = api.exec_inspect(exec_id).get("ExitCode")
    if code != 0:
        raise ExecFailed(-1 if code is None else int(code), stderr.decode(errors="replace"))


def put_archive_file(name: str, path: str, tar_path: str) -> None:
    """Extract a tar file from this host into a container, streamed from disk."""
    with translated(f"copy into {name}"), open(tar_path, "rb") as f:
        found = find_container(name)
        if found is None:
            raise TemporaryError(f"copy into {name}: no such container")
        if not found.client.api.put_archive(name, path, f):
            raise TemporaryError(f"copy into {name}: refused")

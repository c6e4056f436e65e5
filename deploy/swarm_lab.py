#!/usr/bin/env python3
"""A multi-host Docker Swarm lab on one machine (issue 19; recipe: LAB.md "Several Docker hosts").

Each lab host is a network namespace ``dbl-hN`` (address 10.99.0.1N) running its own ``dockerd``
(data, exec root, socket and containerd under ``DIR/hN``, containers under the cgroup
``/dbl-hN``). The hosts' veths meet on a bridge inside a namespace of its own (``dbl-sw``), so
the main daemon's iptables FORWARD policy never sees lab traffic; the root namespace reaches the
hosts through ``dbl-root`` (10.99.0.1). Cutting ``p-hN`` in ``dbl-sw`` partitions a host.

Every host joins as a swarm *manager*: three managers keep a raft quorum when any one host dies or
is partitioned, so the swarm can still reschedule and the control plane can still reach a manager
(with one manager, partitioning its host would freeze the whole swarm).

The logic lives here rather than in tests/support because benchmarks and manual runs use the
same lab; the tests import ``up``/``down``. Only lab processes run in the ``dbl-*`` namespaces and
cgroups, so teardown kills by namespace and cgroup, and never touches the main daemon.

Usage (root): ``python3 deploy/swarm_lab.py up --hosts 3 --dir /tmp/dbaas-swarm-lab``
and ``python3 deploy/swarm_lab.py down --dir /tmp/dbaas-swarm-lab``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import docker

PREFIX = "dbl"
SWITCH_NS = f"{PREFIX}-sw"
ROOT_VETH = f"{PREFIX}-root"
SUBNET = "10.99.0"
ROOT_ADDRESS = f"{SUBNET}.1"
ZONES = ("zone-a", "zone-b", "zone-c")
SWARM_POOL = "10.220.0.0/16"
CGROUP_ROOT = Path("/sys/fs/cgroup")
DEFAULT_DIR = Path("/tmp/dbaas-swarm-lab")
# the machine has one lab (fixed names): where it lives, so `down --dir` elsewhere still finds it
MARKER = Path("/run/dbaas-swarm-lab")


@dataclass(frozen=True)
class LabHost:
    name: str
    address: str
    socket: str  # docker base URL, unix://DIR/hN/docker.sock
    zone: str


@dataclass(frozen=True)
class Lab:
    directory: str
    hosts: list[LabHost]
    manager_socket: str

    def client(self, host: str) -> docker.DockerClient:
        url = next(h.socket for h in self.hosts if h.name == host)
        return docker.DockerClient(base_url=url, timeout=120)


def host_name(index: int) -> str:
    return f"h{index}"


def netns(host: str) -> str:
    return f"{PREFIX}-{host}"


def address(index: int) -> str:
    return f"{SUBNET}.{10 + index}"


def _run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, check=check, capture_output=True, text=True)


def _quiet(*args: str) -> None:
    """A teardown step: whatever state the lab is in, go on."""
    _run(*args, check=False)


# ---------------------------------------------------------------- network
def _network_up(hosts: int) -> None:
    _run("ip", "netns", "add", SWITCH_NS)
    _run("ip", "-n", SWITCH_NS, "link", "set", "lo", "up")
    _run("ip", "-n", SWITCH_NS, "link", "add", "br0", "type", "bridge")
    _run("ip", "-n", SWITCH_NS, "link", "set", "br0", "up")
    _run("ip", "link", "add", ROOT_VETH, "type", "veth", "peer", "name", "p-root", "netns",
         SWITCH_NS)  # fmt: skip
    _run("ip", "addr", "add", f"{ROOT_ADDRESS}/24", "dev", ROOT_VETH)
    _run("ip", "link", "set", ROOT_VETH, "up")
    _run("ip", "-n", SWITCH_NS, "link", "set", "p-root", "master", "br0", "up")
    for i in range(1, hosts + 1):
        ns = netns(host_name(i))
        _run("ip", "netns", "add", ns)
        _run("ip", "-n", ns, "link", "set", "lo", "up")
        _run("ip", "-n", SWITCH_NS, "link", "add", f"p-h{i}", "type", "veth", "peer", "name",
             "eth0", "netns", ns)  # fmt: skip
        _run("ip", "-n", SWITCH_NS, "link", "set", f"p-h{i}", "master", "br0", "up")
        _run("ip", "-n", ns, "addr", "add", f"{address(i)}/24", "dev", "eth0")
        _run("ip", "-n", ns, "link", "set", "eth0", "up")


def _check_addresses_free() -> None:
    """Refuse to build over someone else's use of 10.99.0.0/24."""
    out = _run("ip", "-o", "addr").stdout + _run("ip", "route").stdout
    if f"{SUBNET}." in out:
        raise RuntimeError(f"{SUBNET}.0/24 is already in use on this machine: run `down` first")


def partition(host: str, *, heal: bool = False) -> None:
    """Cut (or restore) a host's only link: its daemon and containers keep running."""
    _run("ip", "-n", SWITCH_NS, "link", "set", f"p-{host}", "up" if heal else "down")


def cut_off(host: str, directory: Path = DEFAULT_DIR, *, heal: bool = False) -> None:
    """A host lost as the control plane of a real deployment would lose it: its link down
    (``partition``) and its daemon's socket out of reach too (on real hosts the daemon is
    reached over the network; here its socket file moves aside, the daemon keeps running)."""
    sock = directory.resolve() / host / "docker.sock"
    hidden = sock.with_name("docker.sock.cut")
    if heal:
        partition(host, heal=True)
        if hidden.exists():
            hidden.rename(sock)
    else:
        sock.rename(hidden)
        partition(host)


def _restore_cut_sockets(directory: Path) -> None:
    for hidden in directory.glob("h*/docker.sock.cut"):
        with contextlib.suppress(OSError):
            hidden.rename(hidden.with_name("docker.sock"))


# ---------------------------------------------------------------- daemons
def _start_dockerd(directory: Path, index: int) -> None:
    name = host_name(index)
    home = directory / name
    home.mkdir(parents=True, exist_ok=True)
    # the key path is only accepted in the config file (LAB.md)
    (home / "daemon.json").write_text(json.dumps({"deprecated-key-path": str(home / "key.json")}))
    command = [
        "nsenter", f"--net=/run/netns/{netns(name)}", "unshare", "--uts", "--", "sh", "-c",
        f'hostname {name} && exec dockerd --config-file "$1/daemon.json" --data-root "$1/data"'
        f' --exec-root "$1/exec" --pidfile "$1/docker.pid" -H "unix://$1/docker.sock"'
        f" --cgroup-parent /{netns(name)} --bip 10.210.{index}.1/24"
        f" --default-address-pool base=10.21{index}.0.0/16,size=24 --storage-driver overlay2"
        f" --label lab.host={name}",
        "sh", str(home),
    ]  # fmt: skip
    log = (home / "dockerd.log").open("ab")
    subprocess.Popen(command, stdout=log, stderr=log, start_new_session=True)


def _wait_answers(socket: str, deadline: float) -> docker.DockerClient:
    while True:
        try:
            client = docker.DockerClient(base_url=socket, timeout=10)
            client.ping()
            return client
        except Exception:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{socket} did not answer (see its dockerd.log)") from None
            time.sleep(0.3)


def _swarm_up(lab: Lab) -> None:
    first, *others = lab.hosts
    manager = lab.client(first.name)
    manager.swarm.init(
        advertise_addr=first.address,
        listen_addr=f"{first.address}:2377",
        default_addr_pool=[SWARM_POOL],
        subnet_size=24,
    )
    token = manager.swarm.attrs["JoinTokens"]["Manager"]
    for host in others:
        lab.client(host.name).swarm.join(
            remote_addrs=[f"{first.address}:2377"],
            join_token=token,
            listen_addr=f"{host.address}:2377",
            advertise_addr=host.address,
        )
    for host in lab.hosts:
        node = manager.nodes.get(lab.client(host.name).info()["Swarm"]["NodeID"])
        spec = node.attrs["Spec"]
        spec["Labels"] = {"dbaas.zone": host.zone, "dbaas.docker": host.socket}
        node.update(spec)


def _healthy(lab: Lab) -> bool:
    try:
        nodes = lab.client(lab.hosts[0].name).nodes.list()
    except Exception:
        return False
    ready = {
        n.attrs["Description"]["Hostname"] for n in nodes if n.attrs["Status"]["State"] == "ready"
    }
    return ready == {h.name for h in lab.hosts}


def load(directory: Path = DEFAULT_DIR) -> Lab | None:
    path = directory / "lab.json"
    if not path.exists():
        return None
    raw = json.loads(path.read_text())
    hosts = [LabHost(**h) for h in raw["hosts"]]
    return Lab(raw["directory"], hosts, raw["manager_socket"])


def up(hosts: int = 3, directory: Path = DEFAULT_DIR, *, timeout: float = 90) -> Lab:
    """Bring the lab up (or keep the healthy one already there) and describe it."""
    directory = directory.resolve()
    existing = load(directory)
    if existing is not None and len(existing.hosts) == hosts and _healthy(existing):
        return existing
    down(directory)
    _check_addresses_free()
    directory.mkdir(parents=True)
    MARKER.write_text(str(directory))
    _network_up(hosts)
    lab_hosts = [
        LabHost(
            host_name(i),
            address(i),
            f"unix://{directory / host_name(i)}/docker.sock",
            ZONES[(i - 1) % len(ZONES)],
        )
        for i in range(1, hosts + 1)
    ]
    lab = Lab(str(directory), lab_hosts, lab_hosts[0].socket)
    for i in range(1, hosts + 1):
        _start_dockerd(directory, i)
    deadline = time.monotonic() + timeout
    for host in lab_hosts:
        _wait_answers(host.socket, deadline)
    _swarm_up(lab)
    while not _healthy(lab):
        if time.monotonic() > deadline:
            raise RuntimeError("swarm nodes did not all become ready")
        time.sleep(0.5)
    (directory / "lab.json").write_text(json.dumps(asdict(lab), indent=2))
    return lab


def restart_daemon(host: str, directory: Path = DEFAULT_DIR, *, timeout: float = 60) -> None:
    """A host's dockerd stops (its containers with it, as on a daemon upgrade or a reboot)
    and starts again; containers with a restart policy come back, the swarm sees it again."""
    home = directory.resolve() / host
    pid = int((home / "docker.pid").read_text().strip())
    _signal_and_wait([pid], signal.SIGTERM, seconds=15)
    _signal_and_wait([pid], signal.SIGKILL, seconds=5)  # (one lingering after its shutdown)
    _start_dockerd(directory.resolve(), int(host.removeprefix("h")))
    _wait_answers(f"unix://{home}/docker.sock", time.monotonic() + timeout)


# ---------------------------------------------------------------- teardown
def _lab_namespaces() -> list[str]:
    out = _run("ip", "netns", "list", check=False).stdout
    names = [line.split()[0] for line in out.splitlines() if line.strip()]
    return [n for n in names if n.startswith(f"{PREFIX}-")]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _stop_daemons(directory: Path) -> None:
    pids = []
    for pidfile in directory.glob("h*/docker.pid"):
        with contextlib.suppress(ValueError, OSError):
            pids.append(int(pidfile.read_text().strip()))
    # dockerd reports "shutdown complete" after ~6 s, then lingers retrying its containerd;
    # what is left is killed with the namespace
    _signal_and_wait(pids, signal.SIGTERM, seconds=8)


def _leave_swarm(directory: Path) -> None:
    """Every host at once, briefly: a manager left without quorum may never answer."""

    def leave(sock: Path) -> None:
        with contextlib.suppress(Exception):
            docker.DockerClient(base_url=f"unix://{sock}", timeout=3).swarm.leave(force=True)

    with ThreadPoolExecutor() as pool:
        list(pool.map(leave, directory.glob("h*/docker.sock")))


def _kill_namespace_processes() -> None:
    """Whatever still runs in a lab namespace (containerd, shims, a stuck dockerd) or in a lab
    cgroup (containers) belongs to the lab."""
    pids: set[int] = set()
    for ns in _lab_namespaces():
        out = _run("ip", "netns", "pids", ns, check=False).stdout
        pids.update(int(p) for p in out.split() if p.isdigit())
    for tasks in CGROUP_ROOT.glob(f"*/{PREFIX}-h*/**/tasks"):
        with contextlib.suppress(OSError):
            pids.update(int(p) for p in tasks.read_text().split())
    pids.discard(os.getpid())
    _signal_and_wait(pids, signal.SIGKILL, seconds=5)


def _signal_and_wait(pids: Iterable[int], sig: signal.Signals, seconds: float) -> None:
    """Send ``sig`` to each process, then wait up to ``seconds`` for all of them to be gone."""
    pids = list(pids)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
    deadline = time.monotonic() + seconds
    while any(_pid_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)


def _unmount_under(directory: Path) -> None:
    prefix = str(directory) + "/"
    mounts = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if point.startswith(prefix):
            mounts.append(point)
    for point in sorted(mounts, key=len, reverse=True):
        _quiet("umount", "-l", point)


def _remove_cgroups() -> None:
    for controller in CGROUP_ROOT.iterdir():
        for top in controller.glob(f"{PREFIX}-h*"):
            for cgroup in sorted(top.glob("**/"), key=lambda p: len(str(p)), reverse=True):
                with contextlib.suppress(OSError):
                    cgroup.rmdir()


def _is_lab_dir(directory: Path) -> bool:
    """Only what `up` made is deleted (a mistyped --dir must not cost a folder)."""
    if not directory.is_dir():
        return False
    made = (directory / "lab.json").exists() or any(directory.glob("h*/daemon.json"))
    return made or not any(directory.iterdir())


def down(directory: Path = DEFAULT_DIR) -> None:
    """Remove the lab whatever state it is in. Only lab pids, mounts, cgroups and links."""
    directories = {directory.resolve()}
    with contextlib.suppress(OSError):
        directories.add(Path(MARKER.read_text().strip()))
    for each in directories:
        _restore_cut_sockets(each)
        _leave_swarm(each)
        _stop_daemons(each)
    _kill_namespace_processes()
    for each in directories:
        _unmount_under(each)
    _remove_cgroups()
    for ns in _lab_namespaces():
        _quiet("ip", "netns", "del", ns)
    _quiet("ip", "link", "del", ROOT_VETH)
    for each in directories:
        if _is_lab_dir(each):
            _unmount_under(each)
            shutil.rmtree(each, ignore_errors=True)
    MARKER.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="build the lab (idempotent)")
    p_up.add_argument("--hosts", type=int, default=3)
    p_up.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    p_down = sub.add_parser("down", help="remove the lab, whatever its state")
    p_down.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    args = parser.parse_args(argv)
    started = time.monotonic()
    if args.command == "up":
        lab = up(args.hosts, args.dir)
        for h in lab.hosts:
            print(f"{h.name}  {h.address}  {h.zone}  {h.socket}")
        print(f"lab up in {time.monotonic() - started:.1f} s: {Path(lab.directory) / 'lab.json'}")
    else:
        down(args.dir)
        print(f"lab down in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.exit(main())

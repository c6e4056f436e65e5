"""Pre-initialised data directories: a new main node's volume starts as a copy of a template.

Initialising an engine (initdb, mariadb-install-db) costs a container start and about a second
of CPU; unpacking the same result costs a fraction of that. One template per (image, major
version, init settings), built once by the engine's own init command in a one-shot container
and kept under the state directory as a sparse tar file.
It is unpacked into the node's volume before its first start, whatever the volume type: by
``tar`` on the host when the worker sees the volume there, else through Docker's archive API.
What must differ between servers is rewritten in the copy (``agent.seeded_files``: a MariaDB
server_id); the template's superuser password (random, kept encrypted) is replaced by the
instance's right after the first start (``adopt``), before anything else talks to the node.

A state file on the volume says "copying" while the template goes in and "done" after: a copy
cut short is copied again (over itself) on the next try; a volume that holds data of its own
(no state file, the engine's data present) is never touched.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import subprocess
import time
from contextlib import suppress
from dataclasses import dataclass, replace
from pathlib import Path

from docker.models.containers import Container

from agents.base import Connection, FileSpec
from controlplane import secrets as secret_box
from controlplane.domain.failures import PermanentError, TemporaryError
from controlplane.settings import get_settings
from workers import docker_driver
from workers.blueprint import Blueprint, connection

FORMAT = 2  # bump when what a template holds changes: older ones are then never used
SEED_STATE = ".dbaas-seed"  # "copying", then "done"
MARKER = ".dbaas-template-superuser"  # the template's superuser password, encrypted; root 0600


@dataclass(frozen=True)
class Template:
    archive: Path  # what the init command left under the data mount, as a tar file
    password: str  # the template superuser's


def _root() -> Path:
    return get_settings().state_dir / "templates"


def key(bp: Blueprint) -> str:
    recipe = [FORMAT, bp.image, bp.version.version, sorted(bp.init_options.items())]
    return hashlib.sha256(json.dumps(recipe).encode()).hexdigest()[:24]


def ensure(bp: Blueprint, spec: docker_driver.ContainerSpec) -> Template:
    """The template for ``bp``'s image and init settings, built now if there is none (or if
    its password was encrypted under a key the service no longer has: ``dbaas rotate-key``)."""
    home = _root() / key(bp)
    for _ in range(2):
        if (home / "password").exists():
            try:
                password = secret_box.decrypt((home / "password").read_text())
                return Template(home / "volume.tar", password)
            except ValueError:
                shutil.rmtree(home, ignore_errors=True)
        _build(bp, spec, home)
    raise TemporaryError("the template just built could not be read")


def _build(bp: Blueprint, spec: docker_driver.ContainerSpec, home: Path) -> None:
    """Built aside and renamed into place: a build cut short is never used."""
    work = home.with_name(f"{home.name}.build-{secrets.token_hex(4)}")
    volume = work / "volume"
    volume.mkdir(parents=True)
    os.chown(volume, bp.runtime.uid, bp.runtime.gid)
    volume.chmod(0o750)
    try:
        password = secrets.token_urlsafe(32)
        files = bp.agent.init_files(bp.version.version, password, bp.init_options)
        one_shot = replace(spec, name=f"{spec.name}-template", command=[], restart=False,
                           mounts={str(volume): bp.runtime.data_mount}, aliases=[],
                           ports={}, extra_networks=[])  # fmt: skip
        code, output = docker_driver.run_once(
            one_shot, bp.runtime.init_command, files, bp.runtime.data_mount
        )
        if code != 0:  # the engine cannot initialise: a retry would not help
            raise PermanentError(f"engine initialisation failed: {output.strip()[-500:]}")
        # Zero blocks become holes (MariaDB's 96 MB redo log is mostly zeros, preallocated:
        # a copy that reads it finds them, ``fallocate --dig-holes`` does not), which the tar
        # file then records as such; where the filesystem cannot, the tar is just larger.
        subprocess.run(["find", str(volume), "-type", "f", "-size", "+1M", "-exec", "sh", "-c",
                        'for f; do cp -p --sparse=always "$f" "$f.s" && mv "$f.s" "$f"; done',
                        "sh", "{}", "+"], capture_output=True, timeout=120)  # fmt: skip
        _run("tar", "--sparse", "--format=posix", "--numeric-owner", "-C", str(volume), "-cf",
             str(work / "volume.tar"), ".")  # fmt: skip
        shutil.rmtree(volume)
        token = work / "password"
        token.write_text(secret_box.encrypt(password))
        token.chmod(0o600)
        with suppress(OSError):  # another worker's build landed first: that one is used
            work.rename(home)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def wanted(bp: Blueprint, container: Container) -> bool:
    """Whether a created, never started node needs the template: its volume holds no data of
    its own, or a copy of the template was cut short."""
    base = bp.runtime.data_mount
    state = docker_driver.read_file(container, f"{base}/{SEED_STATE}")
    if state is not None:
        return state != b"done"
    return docker_driver.read_file(container, f"{base}/{bp.runtime.initialised}") is None


def seed(bp: Blueprint, container: Container, template: Template) -> None:
    """Copy the template into a created, never started node (again if it was cut short)."""
    base = bp.runtime.data_mount
    own = {"uid": bp.runtime.uid, "gid": bp.runtime.gid}
    docker_driver.put_files(container, base, {SEED_STATE: FileSpec(b"copying", 0o600, **own)})
    on_host = docker_driver.host_directory(container, base)
    if on_host is not None:  # unpacked here: a quarter of the time Docker's own unpacking takes
        _run("tar", "-x", "--numeric-owner", "--same-owner", "--same-permissions",
             "-C", str(on_host), "-f", str(template.archive))  # fmt: skip
    else:
        docker_driver.put_archive(container, base, template.archive)
    files = {  # the marker is root's: the engine's own user cannot read it
        **bp.agent.seeded_files(bp.version.version, bp.init_options),
        MARKER: FileSpec(secret_box.encrypt(template.password).encode(), 0o600),
        SEED_STATE: FileSpec(b"done", 0o600, **own),
    }
    docker_driver.put_files(container, base, files)


def adopt(bp: Blueprint, node: str, container: Container, timeout: float = 60) -> None:
    """A seeded node's superuser gets the instance's password; then the marker is emptied.
    Either password may be the current one: another attempt (a job that died half-way, or ran
    twice) may have changed it already."""
    token = docker_driver.read_file(container, f"{bp.runtime.data_mount}/{MARKER}")
    if not token:
        return
    try:
        template_password: str | None = secret_box.decrypt(token.decode())
    except ValueError:  # encrypted under a key rotated away since: only ours can be tried
        template_password = None
    deadline = time.monotonic() + timeout
    while True:
        ours = connection(bp, node)
        theirs = replace(ours, password=template_password or "")
        if template_password and _answers(bp, theirs):
            try:
                bp.agent.set_superuser_password(theirs, bp.superuser_password)
                break  # ours from now on
            except (TemporaryError, PermanentError):  # changed meanwhile: checked below
                pass
        if _answers(bp, ours):
            break
        if time.monotonic() > deadline:
            raise TemporaryError(f"{node}: the superuser accepts neither password yet")
        time.sleep(0.05)
    docker_driver.put_files(container, bp.runtime.data_mount, {MARKER: FileSpec(b"", 0o600)})


def _answers(bp: Blueprint, conn: Connection) -> bool:
    """The server accepts this login (refusals and silence alike are a no)."""
    try:
        bp.agent.ping(conn, timeout=2)
        return True
    except (TemporaryError, PermanentError):
        return False


def _run(*cmd: str) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise TemporaryError(f"{cmd[0]} failed: {done.stderr.strip()[-300:]}")

"""Size-limited volumes: a sparse file formatted ext4 and loop-mounted on the host.

Block volume types (sbs_*, bssd) get a hard size limit this way; a full disk is a real ENOSPC
inside the engine, as on a managed service. Local (lssd) volumes are plain Docker volumes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from controlplane.domain.failures import PermanentError, TemporaryError
from controlplane.settings import get_settings


def _root() -> Path:
    return get_settings().state_dir / "volumes"


def image_path(name: str) -> Path:
    return _root() / f"{name}.img"


def mount_path(name: str) -> Path:
    return _root() / name


def _run(*cmd: str) -> str:
    try:
        done = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=120)
    except subprocess.CalledProcessError as exc:
        raise TemporaryError(f"{cmd[0]} failed: {exc.stderr.strip()}") from exc
    except FileNotFoundError as exc:
        raise PermanentError(f"{cmd[0]} is not installed on the host") from exc
    return done.stdout


def is_mounted(path: Path) -> bool:
    return os.path.ismount(path)


def ensure(name: str, size_bytes: int, uid: int, gid: int) -> Path:
    """Create, format and mount the volume if needed; returns the host directory to bind."""
    img, mnt = image_path(name), mount_path(name)
    img.parent.mkdir(parents=True, exist_ok=True)
    if not img.exists():
        tmp = img.with_suffix(".tmp")
        with tmp.open("wb") as fh:
            fh.truncate(size_bytes)
        _run(
            "mkfs.ext4",
            "-q",
            "-F",
            "-m",
            "0",
            "-E",
            "lazy_itable_init=1,lazy_journal_init=1",
            str(tmp),
        )
        tmp.rename(img)
    mnt.mkdir(parents=True, exist_ok=True)
    if not is_mounted(mnt):
        _run("mount", "-o", "loop,noatime", str(img), str(mnt))
        lost = mnt / "lost+found"
        if lost.exists():
            shutil.rmtree(lost, ignore_errors=True)
    os.chown(mnt, uid, gid)
    os.chmod(mnt, 0o750)
    return mnt


class OnlineGrowthRefused(Exception):
    """The host does not let a mounted filesystem grow (no CAP_SYS_RESOURCE: some sandboxes)."""


def grow(name: str, size_bytes: int) -> None:
    """Grow the image file and its mounted ext4 filesystem to ``size_bytes`` (never shrinks):
    the loop device re-reads its size and resize2fs grows the filesystem in use. Idempotent.
    ``OnlineGrowthRefused`` when the host refuses; ``grow_offline`` then does it unmounted."""
    img = image_path(name)
    device = _loop_device(img) if img.exists() else None
    if device is None:
        raise OnlineGrowthRefused(f"{name} is not mounted")
    if img.stat().st_size < size_bytes:
        os.truncate(img, size_bytes)
    _run("losetup", "-c", device)
    try:
        _run("resize2fs", device)
    except TemporaryError as exc:
        if "Permission denied" in str(exc):
            raise OnlineGrowthRefused(str(exc)) from exc
        raise


def grow_offline(name: str, size_bytes: int) -> None:
    """The same with the filesystem unmounted: nothing may use the volume (its node stopped);
    it is mounted again by the next ``ensure``."""
    img = image_path(name)
    if not img.exists():
        return
    mnt = mount_path(name)
    if is_mounted(mnt):
        _run("umount", str(mnt))
    if img.stat().st_size < size_bytes:
        os.truncate(img, size_bytes)
    checked = subprocess.run(
        ["e2fsck", "-f", "-y", str(img)], capture_output=True, text=True, timeout=600
    )
    if checked.returncode not in (0, 1):  # 1: errors found and corrected
        raise TemporaryError(f"e2fsck {name}: {checked.stdout.strip()} {checked.stderr.strip()}")
    _run("resize2fs", str(img))


def image_size(name: str) -> int:
    img = image_path(name)
    return img.stat().st_size if img.exists() else 0


def _loop_device(img: Path) -> str | None:
    """The loop device backing ``img``, if it is attached."""
    listed = _run("losetup", "-j", str(img)).strip()
    return listed.split(":", 1)[0] if listed else None


def free_bytes(name: str) -> int | None:
    """Space left on a mounted volume; None when it is not mounted."""
    mnt = mount_path(name)
    if not is_mounted(mnt):
        return None
    stats = os.statvfs(mnt)
    return stats.f_bavail * stats.f_frsize


def space(name: str) -> tuple[int, int] | None:
    """(used, available) bytes on a mounted volume, as ``df`` counts them; None when it is
    not mounted."""
    mnt = mount_path(name)
    if not is_mounted(mnt):
        return None
    stats = os.statvfs(mnt)
    return (stats.f_blocks - stats.f_bfree) * stats.f_frsize, stats.f_bavail * stats.f_frsize


def same_kind(volume_type: str, other: str) -> bool:
    """Both block (loop files here) or both local. sbs_5k, sbs_15k and bssd differ by IOPS on
    a real cloud; here they are the same loop-mounted file, so moving between them would copy
    data onto an identical volume: their data stays where it is."""
    return (volume_type == "lssd") == (other == "lssd")


def remove(name: str) -> None:
    img, mnt = image_path(name), mount_path(name)
    if is_mounted(mnt):
        _run("umount", "-l", str(mnt))
    if mnt.exists():
        mnt.rmdir()
    img.unlink(missing_ok=True)
    img.with_suffix(".tmp").unlink(missing_ok=True)


def existing_names() -> list[str]:
    root = _root()
    if not root.exists():
        return []
    return sorted(p.stem for p in root.glob("*.img"))

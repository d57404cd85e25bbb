"""Running commands inside a root filesystem under construction, and an overlay on one for throwaway work."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from fleetfix.lab.vm import hostcmd

_ENV = {
    "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
    "DEBIAN_FRONTEND": "noninteractive",
    "HOME": "/root",
}
# Package scripts must not start services in the chroot: the guest starts them when it boots.
_POLICY_RC = "#!/bin/sh\nexit 101\n"


def _umount(target: Path) -> None:
    subprocess.run(["umount", "--lazy", str(target)], capture_output=True, check=False)


@contextmanager
def mounted(root: Path) -> Iterator[None]:
    """/proc inside ``root`` and a policy-rc.d that keeps services from starting, while the block runs."""
    policy = root / "usr/sbin/policy-rc.d"
    policy.write_text(_POLICY_RC)
    policy.chmod(0o755)
    hostcmd.run(["mount", "-t", "proc", "proc", str(root / "proc")], "mount /proc in the build root", 30)
    try:
        yield
    finally:
        _umount(root / "proc")
        policy.unlink(missing_ok=True)


def run(root: Path, argv: Sequence[str], what: str, timeout: float, log: Path) -> str:
    return hostcmd.run(["chroot", str(root), *argv], what, timeout, log=log, env=_ENV)


def apt_install(root: Path, packages: Sequence[str], log: Path, timeout: float = 900) -> None:
    # The tree is written to a disk image at the end: per-file fsync (dpkg's default) only costs time here.
    unsafe_io = ["-o", "Dpkg::Options::=--force-unsafe-io"]
    argv = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *unsafe_io, *packages]
    run(root, argv, f"apt-get install {' '.join(packages)} in the build root", timeout, log)


@contextmanager
def overlay(lower: Path, work: Path) -> Iterator[Path]:
    """A writable view of ``lower`` whose changes land under ``work`` and vanish with it."""
    upper, scratch, merged = work / "upper", work / "work", work / "merged"
    for directory in (upper, scratch, merged):
        directory.mkdir(parents=True, exist_ok=True)
    options = f"lowerdir={lower},upperdir={upper},workdir={scratch}"
    hostcmd.run(["mount", "-t", "overlay", "overlay", "-o", options, str(merged)], "mount overlay", 30)
    try:
        yield merged
    finally:
        _umount(merged)

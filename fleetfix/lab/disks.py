"""Each host's HBA disks: sparse files behind loop devices, so real direct I/O reaches a block device."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from fleetfix.errors import EnvironmentProblem


def attach(backing: Path, size_bytes: int) -> str:
    """Create the sparse file and a loop device over it; returns the device path."""
    backing.parent.mkdir(parents=True, exist_ok=True)
    with open(backing, "wb") as handle:
        handle.truncate(size_bytes)
    result = subprocess.run(
        ["losetup", "--find", "--show", "--direct-io=on", str(backing)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise EnvironmentProblem(f"losetup {backing}: {result.stderr.strip()}")
    return result.stdout.strip()


def device_numbers(device: str) -> tuple[int, int]:
    rdev = os.stat(device).st_rdev
    return os.major(rdev), os.minor(rdev)


def detach_under(directory: Path) -> None:
    """Detach every loop device whose backing file lies under ``directory`` (ours, also after a crash)."""
    listing = subprocess.run(
        ["losetup", "--list", "--noheadings", "--output", "NAME,BACK-FILE"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    prefix = str(directory.resolve()) + "/"
    for line in listing.splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2 and parts[1].strip().removesuffix(" (deleted)").startswith(prefix):
            subprocess.run(["losetup", "--detach", parts[0]], capture_output=True, check=False)

"""The DKMS build tools for a guest, fetched on the host: dkms, a compiler and the running kernel's headers.

The base image carries no compiler: every real-kernel test boots it, and only the DKMS test builds on the
guest. That test installs these packages at run time instead, offline like the rest of the guest: the host's
apt resolves them against the guest's own dpkg status (so exactly what the guest lacks is fetched) from the
archive the image was built from, and the .debs are copied over ssh and installed with the guest's apt.
"""

from __future__ import annotations

from pathlib import Path

from fleetfix.lab.vm import hostcmd, mirror, rootfs

KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"


def packages(kernel_release: str, kernel_version: str) -> list[str]:
    """dkms (it pulls gcc, make and dpkg-dev) and the headers of exactly the guest's kernel build.

    >>> packages("6.1.0-50-amd64", "6.1.176-1")
    ['dkms', 'linux-headers-6.1.0-50-amd64=6.1.176-1']
    """
    return ["dkms", f"linux-headers-{kernel_release}={kernel_version}"]


def _apt_options(work: Path) -> list[str]:
    """A private apt on the host: its own sources, lists, cache and dpkg status (the guest's)."""
    return [
        "-o", f"Dir::Etc::SourceList={work / 'sources.list'}",
        "-o", "Dir::Etc::SourceParts=/nonexistent",
        "-o", f"Dir::State={work / 'state'}",
        "-o", f"Dir::State::status={work / 'state/status'}",
        "-o", f"Dir::Cache={work / 'cache'}",
        "-o", "APT::Architecture=amd64",
        "-o", "APT::Install-Recommends=false",
        "-o", "Debug::NoLocking=true",
    ]  # fmt: skip


def fetch(guest_status: str, kernel_release: str, kernel_version: str, work: Path, log: Path) -> list[Path]:
    """Download into ``work``/cache/archives the .debs the guest (its /var/lib/dpkg/status text) needs for
    :func:`packages`; return them."""
    (work / "state/lists/partial").mkdir(parents=True, exist_ok=True)
    (work / "cache/archives/partial").mkdir(parents=True, exist_ok=True)
    (work / "state/status").write_text(guest_status)
    (work / "sources.list").write_text(
        f"deb [signed-by={KEYRING}] {mirror.debian_mirror()} {rootfs.SUITE} main\n"
    )
    options = _apt_options(work)
    hostcmd.run(["apt-get", *options, "-q", "update"], f"apt-get update ({rootfs.SUITE})", 600, log=log)
    wanted = packages(kernel_release, kernel_version)
    argv = ["apt-get", *options, "-q", "-y", "--download-only", "install", *wanted]
    hostcmd.run(argv, f"apt-get download {' '.join(wanted)}", 900, log=log)
    return sorted((work / "cache/archives").glob("*.deb"))

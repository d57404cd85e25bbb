"""Building the guest image once per recipe: a cache keyed by everything that shapes it.

The key hashes the package list, the suite, the driver's source and the Python modules that assemble the
image, so changing any of them rebuilds, and a second build with the same inputs returns at once. The
Debian archive itself is not part of the key: a cached image keeps the kernel it was built with.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from fleetfix.lab.vm import bootdisk, driver, hostcmd, mirror, rootfs
from fleetfix.lab.vm.layout import ImageFiles, cache_root

BUILD_TOOLS = {
    "debootstrap": "debootstrap",
    "mkfs.ext4": "e2fsprogs",
    **bootdisk.TOOLS,
    "dpkg-deb": "dpkg",
    "ssh-keygen": "openssh-client",
    "chroot": "coreutils",
}
DISK_MIB = 3072
_RECIPE = ("rootfs.py", "driver.py", "image.py", "chroot.py", "bootdisk.py")

Progress = Callable[[str], None]


def cache_key() -> str:
    digest = hashlib.sha256()
    digest.update(f"{rootfs.SUITE}\n{' '.join(rootfs.PACKAGES)}\n{DISK_MIB}\n".encode())
    here = Path(__file__).resolve().parent
    driver_files = sorted(p for p in driver.SOURCE_DIR.iterdir() if p.is_file())
    sources = [here / name for name in _RECIPE] + driver_files
    for path in sources:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def cached() -> ImageFiles | None:
    image = ImageFiles(cache_root() / cache_key())
    return image if image.manifest.is_file() else None


def manifest(image: ImageFiles) -> dict:
    return json.loads(image.manifest.read_text())


def _keys(out: Path, log: Path) -> tuple[Path, Path]:
    client, host = out / "id_ed25519", out / "ssh_host_ed25519_key"
    for key, comment in ((client, "fleetfix-lab-vm"), (host, f"root@{rootfs.HOSTNAME}")):
        argv = ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(key)]
        hostcmd.run(argv, "ssh-keygen", 60, log=log)
    return client, host


def build(progress: Progress, force: bool = False) -> ImageFiles:
    """Return the cached image for the current recipe, building it first when absent (or ``force``)."""
    hostcmd.require_tools(BUILD_TOOLS)
    key = cache_key()
    image = ImageFiles(cache_root() / key)
    if image.manifest.is_file() and not force:
        progress(f"image {key} cached at {image.root}")
        return image
    started = time.monotonic()
    work = cache_root() / f"{key}.build"
    shutil.rmtree(work, ignore_errors=True)
    out = work / "image"
    out.mkdir(parents=True)
    log = work / "build.log"
    root = work / "rootfs"

    def step(message: str) -> None:
        progress(f"[{time.monotonic() - started:6.1f}s] {message}")

    step(f"debootstrap {rootfs.SUITE} and the lab packages (log: {log})")
    rootfs.bootstrap(root, mirror.debian_mirror(), log)
    kernel = rootfs.kernel(root)
    step(f"fxhba {', '.join(b.version for b in driver.BUILDS)} against {kernel.package} {kernel.version}")
    driver.build_repository(root, kernel, root / rootfs.REPO_DIR.lstrip("/"), work, log)
    step("guest settings, ssh identity, lab repository, kdump initrd")
    client, host = _keys(out, log)
    rootfs.configure(root, (client.with_suffix(".pub")).read_text(), host, kernel.release, log)
    host.unlink()
    shutil.copy2(root / "boot" / f"vmlinuz-{kernel.release}", out / "vmlinuz")
    shutil.copy2(root / "boot" / f"initrd.img-{kernel.release}", out / "initrd.img")
    step(f"boot disk ({DISK_MIB} MiB): the tree in partition 1, GRUB installed by a first boot")
    bootdisk.build(root, ImageFiles(out).disk, DISK_MIB, kernel.release, work, log)
    details = {
        "key": key,
        "suite": rootfs.SUITE,
        "kernel_release": kernel.release,
        "kernel_package": kernel.package,
        "kernel_version": kernel.version,
        "driver_package": driver.PACKAGE,
        "driver_versions": [b.package_version for b in driver.BUILDS],
        "built": datetime.now(UTC).isoformat(timespec="seconds"),
        "build_seconds": round(time.monotonic() - started, 1),
    }
    (out / "image.json").write_text(json.dumps(details, indent=1) + "\n")
    shutil.rmtree(image.root, ignore_errors=True)
    out.rename(image.root)
    shutil.rmtree(work, ignore_errors=True)
    _prune(keep=image.root)
    step(f"image {key} ready at {image.root}")
    return image


def _in_use(image_root: Path) -> bool:
    """Whether a running process (a QEMU booted from it) names this image on its command line."""
    needle = f"{image_root}/".encode()  # QEMU's -kernel, -initrd and backing disk live inside it
    own = f"/proc/{os.getpid()}/cmdline"
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        if str(cmdline) == own:
            continue
        try:
            if needle in cmdline.read_bytes():
                return True
        except OSError:
            continue
    return False


def _prune(keep: Path) -> None:
    """Older images (other keys) are dead weight once no VM runs from them: a recipe change replaced them."""
    for entry in cache_root().iterdir():
        if entry != keep and entry.is_dir() and not _in_use(entry):
            shutil.rmtree(entry, ignore_errors=True)

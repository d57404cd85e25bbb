"""The fxhba vendor driver: built against Debian's headers for exactly the guest's kernel, packaged as .deb.

The build runs in a throwaway overlay over the guest's root filesystem, so the compiler and headers never
reach the guest. Two builds from the same source: 1.0.0 claims command slots without the lock (the race),
1.0.1 takes it.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

from fleetfix.lab.vm import chroot, hostcmd
from fleetfix.lab.vm.rootfs import GuestKernel

SOURCE_DIR = Path(__file__).resolve().parent / "fxhba"
PACKAGE = "fxhba-driver"
MODULE = "fxhba"
_MAINTAINER = "fleetfix lab <lab@fleetfix.invalid>"


@dataclass(frozen=True)
class Build:
    version: str  # MODULE_VERSION
    locked_slots: bool

    @property
    def package_version(self) -> str:
        return f"{self.version}-1"


BUILDS = (Build("1.0.0", locked_slots=False), Build("1.0.1", locked_slots=True))


def _build_header(build: Build) -> str:
    return f'#define FXHBA_VERSION "{build.version}"\n#define FXHBA_LOCKED_SLOTS {int(build.locked_slots)}\n'


def _compile(build_root: Path, kernel: GuestKernel, build: Build, log: Path) -> Path:
    src = build_root / "usr/src" / f"{MODULE}-{build.version}"
    shutil.copytree(SOURCE_DIR, src)
    (src / "fxhba_build.h").write_text(_build_header(build))
    inside = f"/usr/src/{MODULE}-{build.version}"
    make = ["make", "-C", f"/lib/modules/{kernel.release}/build", f"M={inside}", "modules"]
    chroot.run(build_root, make, f"build {MODULE} {build.version} for {kernel.release}", 600, log)
    chroot.run(build_root, ["strip", "--strip-debug", f"{inside}/{MODULE}.ko"], "strip", 60, log)
    return src / f"{MODULE}.ko"


def _scripts(release: str) -> dict[str, str]:
    depmod = f"depmod -a {release}\n"
    return {
        "postinst": f'#!/bin/sh\nset -e\nif [ "$1" = configure ]; then\n  {depmod}fi\n',
        "postrm": f'#!/bin/sh\nset -e\nif [ "$1" = remove ] || [ "$1" = purge ]; then\n  {depmod}fi\n',
    }


def _package(ko: Path, kernel: GuestKernel, build: Build, out_dir: Path, work: Path, log: Path) -> Path:
    root = work / f"pkg-{build.version}"
    module_dir = root / "lib/modules" / kernel.release / "updates"
    module_dir.mkdir(parents=True)
    shutil.copy2(ko, module_dir / f"{MODULE}.ko")
    load = root / "usr/lib/modules-load.d"
    load.mkdir(parents=True)
    (load / f"{MODULE}.conf").write_text(f"{MODULE}\n")
    debian = root / "DEBIAN"
    debian.mkdir()
    control = {
        "Package": PACKAGE,
        "Version": build.package_version,
        "Architecture": "amd64",
        "Maintainer": _MAINTAINER,
        "Depends": f"{kernel.package} (= {kernel.version}), kmod",
        "Section": "kernel",
        "Priority": "optional",
        "Installed-Size": str(max(1, ko.stat().st_size // 1024)),
        "Description": f"fxhba vendor HBA driver {build.version} for Linux {kernel.release}",
    }
    (debian / "control").write_text("".join(f"{k}: {v}\n" for k, v in control.items()))
    for name, text in _scripts(kernel.release).items():
        (debian / name).write_text(text)
        (debian / name).chmod(0o755)
    deb = out_dir / f"{PACKAGE}_{build.package_version}_amd64.deb"
    argv = ["dpkg-deb", "--root-owner-group", "-Zxz", "--build", str(root), str(deb)]
    hostcmd.run(argv, f"dpkg-deb {PACKAGE} {build.package_version}", 120, log=log)
    return deb


def _write_index(repo: Path, debs: list[Path], log: Path) -> None:
    """A flat repository: Packages listing every version (each .deb's control file, where and what it is),
    and a Release carrying the index's hash."""
    stanzas = []
    for deb in debs:
        control = hostcmd.run(["dpkg-deb", "--field", str(deb)], f"dpkg-deb --field {deb.name}", 60, log=log)
        data = deb.read_bytes()
        stanzas.append(
            control.rstrip("\n") + f"\nFilename: ./{deb.name}\nSize: {len(data)}\n"
            f"MD5sum: {hashlib.md5(data).hexdigest()}\nSHA256: {hashlib.sha256(data).hexdigest()}\n"
        )
    index = "\n".join(stanzas).encode()
    (repo / "Packages").write_bytes(index)
    release = (
        "Origin: fleetfix-lab\nLabel: fxhba\nSuite: lab\nCodename: lab\nArchitectures: amd64\n"
        f"SHA256:\n {hashlib.sha256(index).hexdigest()} {len(index)} Packages\n"
    )
    (repo / "Release").write_text(release)


def build_repository(root: Path, kernel: GuestKernel, repo: Path, work: Path, log: Path) -> list[Path]:
    """Compile each build in an overlay of ``root`` with the matching headers; an apt repo in ``repo``."""
    repo.mkdir(parents=True, exist_ok=True)
    headers = f"linux-headers-{kernel.release}={kernel.version}"
    debs = []
    with chroot.overlay(root, work / "overlay") as build_root, chroot.mounted(build_root):
        chroot.apt_install(build_root, [headers, "make"], log)
        for build in BUILDS:
            ko = _compile(build_root, kernel, build, log)
            debs.append(_package(ko, kernel, build, repo, work, log))
    _write_index(repo, debs, log)
    return debs

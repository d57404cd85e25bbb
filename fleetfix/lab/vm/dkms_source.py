"""fxhba as a DKMS source tarball: the driver a vendor ships as source, built on the host for each kernel.

The tarball holds ``fxhba-<version>/`` with the driver's source, its build header (the same one a packaged
build of that version compiles with) and a ``dkms.conf`` that dkms reads to build and install it.
"""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

from fleetfix.lab.vm import driver

# Beyond the packaged builds (driver.BUILDS), with the lock taken like the fixed 1.0.1.
BUILD = driver.Build("1.0.2", locked_slots=True)


def dkms_conf(build: driver.Build, labelled: str | None = None) -> str:
    """dkms.conf for ``build`` (dkms(8), "DKMS.CONF"): one module, built by dkms' default make command
    (``make -C <kernel build dir> M=<dkms build dir>``, which the Kbuild file serves), installed under the
    kernel's updates tree and rebuilt by dkms autoinstall for each new kernel."""
    fields = {
        "PACKAGE_NAME": driver.MODULE,
        "PACKAGE_VERSION": labelled or build.version,
        "BUILT_MODULE_NAME[0]": driver.MODULE,
        "DEST_MODULE_LOCATION[0]": "/updates/dkms",
        "AUTOINSTALL": "yes",
    }
    return "".join(f'{key}="{value}"\n' for key, value in fields.items())


def tarball(build: driver.Build, out_dir: Path, labelled: str | None = None) -> Path:
    """``out_dir``/fxhba-<version>-dkms.tar.gz holding ``fxhba-<version>/`` (source, build header,
    dkms.conf), owned by root as a vendor's tarball unpacks. ``labelled``: the version the tarball and its
    dkms.conf say, where the module inside declares ``build``'s (a mislabelled release)."""
    version = labelled or build.version
    stage = out_dir / f"{driver.MODULE}-{version}"
    shutil.rmtree(stage, ignore_errors=True)
    shutil.copytree(driver.SOURCE_DIR, stage)
    # the packaged builds' header, so a version means one build whichever way it ships
    (stage / "fxhba_build.h").write_text(driver._build_header(build))
    (stage / "dkms.conf").write_text(dkms_conf(build, labelled))
    archive = out_dir / f"{driver.MODULE}-{version}-dkms.tar.gz"

    def as_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        return info

    with tarfile.open(archive, "w:gz") as tar:
        tar.add(stage, arcname=stage.name, filter=as_root)
    shutil.rmtree(stage)
    return archive

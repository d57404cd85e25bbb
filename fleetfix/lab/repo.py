"""The lab's package repository: real .deb files (dpkg-deb) and a flat apt index, reachable from every host.

It holds the scenario's driver packages and the lab's kdump-tools, whose capture-kernel loader is the one
piece with no kernel behind it.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from fleetfix.errors import EnvironmentProblem
from fleetfix.lab import guest_files, hba
from fleetfix.lab.guest.elfmodinfo import write_ko
from fleetfix.lab.scenario import DEFAULT_SIGNER, Package

KDUMP_TOOLS_VERSION = "1:1.8.1-0fleetfix1"
MOUNT_POINT = "/var/lib/fleetfix-lab/repo"  # where hosts see the repository
_MAINTAINER = "fleetfix lab <lab@fleetfix.invalid>"


@dataclass(frozen=True)
class Built:
    """One package: its control fields and its files (path relative to / -> content and mode)."""

    name: str
    version: str
    control: dict[str, str]
    files: dict[str, tuple[bytes, int]]
    scripts: dict[str, str]
    conffiles: tuple[str, ...] = ()


def driver_modinfo(
    module: str, version: str, srcversion: str, taint: str, signer: str = DEFAULT_SIGNER
) -> list[tuple[str, str]]:
    info = [("version", version), ("license", "Proprietary" if "P" in taint else "GPL")]
    info += [("description", hba.hba(module).description), ("srcversion", srcversion)]
    info += [("depends", ",".join(hba.hba(module).deps)), ("retpoline", "Y"), ("name", module)]
    if "O" not in taint:
        info.append(("intree", "Y"))
    if "E" not in taint:
        info.append(("signer", signer))
    return info


def driver_package(package: Package) -> Built:
    src = f"usr/src/{package.module}-{package.module_version}/{package.module}.ko"
    with tempfile.TemporaryDirectory() as tmp:
        ko = Path(tmp) / "m.ko"
        write_ko(
            ko,
            driver_modinfo(
                package.module, package.module_version, package.srcversion, package.taint, package.signer
            ),
        )
        content = ko.read_bytes()
    put_in_place = (
        "  release=$(uname -r)\n"
        f"  install -D -m 0644 /{src} /lib/modules/$release/updates/{package.module}.ko\n"
        "  depmod -a $release\n"
    )
    if package.leaves_module:  # update-initramfs's own words on a full /boot, as dpkg's users posted them
        postinst = (
            f"#!/bin/sh\nset -e\n{put_in_place}"
            'echo "update-initramfs: Generating /boot/initrd.img-$release"\n'
            "echo 'gzip: stdout: No space left on device' >&2\n"
            "echo 'E: mkinitramfs failure cpio 141 gzip 1' >&2\n"
            'echo "update-initramfs: failed for /boot/initrd.img-$release with 1." >&2\n'
            "exit 1\n"
        )
    elif package.broken:
        postinst = (
            "#!/bin/sh\nset -e\n"
            f'echo "{package.module}: module build failed for kernel $(uname -r): exit status 2" >&2\n'
            "exit 1\n"
        )
    else:
        postinst = f'#!/bin/sh\nset -e\nif [ "$1" = configure ]; then\n{put_in_place}fi\n'
    postrm = (
        "#!/bin/sh\nset -e\n"
        'if [ "$1" = remove ] || [ "$1" = purge ]; then\n'
        f"  rm -f /lib/modules/$(uname -r)/updates/{package.module}.ko\n"
        '  depmod -a "$(uname -r)"\nfi\n'
    )
    return Built(
        package.name,
        package.version,
        {
            "Description": f"{hba.hba(package.module).description} {package.module_version} (vendor build)",
            "Section": "kernel",
        },
        {src: (content, 0o644)},
        {"postinst": postinst, "postrm": postrm},
    )


def kdump_tools() -> Built:
    unit = (
        "[Unit]\nDescription=Kernel crash dump capture service\nAfter=local-fs.target\n\n"
        "[Service]\nType=oneshot\nStandardOutput=journal+console\nExecStart=/usr/sbin/kdump-config load\n"
        "ExecStop=/usr/sbin/kdump-config unload\nRemainAfterExit=yes\n\n"
        "[Install]\nWantedBy=multi-user.target\n"
    )
    files = {
        "etc/default/kdump-tools": (b'USE_KDUMP=1\nKDUMP_COREDIR="/var/crash"\nKDUMP_DUMP_DMESG=1\n', 0o644),
        "etc/default/grub.d/kdump-tools.cfg": (
            b'GRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT crashkernel=384M-:128M"\n',
            0o644,
        ),
        "usr/lib/systemd/system/kdump-tools.service": (unit.encode(), 0o644),
        "usr/sbin/kdump-config": (guest_files.entry_script().encode(), 0o755),
    }
    postinst = (
        "#!/bin/sh\nset -e\n"
        'if [ "$1" = configure ]; then\n'
        "  systemctl enable kdump-tools.service >/dev/null 2>&1 || true\n"
        "  systemctl start kdump-tools.service || true\nfi\n"
    )
    return Built(
        "kdump-tools",
        KDUMP_TOOLS_VERSION,
        {"Description": "scripts and tools for automating kdump (Linux crash dumps)", "Section": "utils"},
        files,
        {"postinst": postinst},
        conffiles=("/etc/default/kdump-tools", "/etc/default/grub.d/kdump-tools.cfg"),
    )


def control_fields(built: Built, installed_size_kb: int) -> dict[str, str]:
    return {
        "Package": built.name,
        "Version": built.version,
        "Architecture": "amd64",
        "Maintainer": _MAINTAINER,
        "Installed-Size": str(installed_size_kb),
        **built.control,
    }


def _build_deb(built: Built, out_dir: Path) -> Path:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for rel, (content, mode) in built.files.items():
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
            target.chmod(mode)
        debian = root / "DEBIAN"
        debian.mkdir()
        size_kb = max(1, sum(len(c) for c, _ in built.files.values()) // 1024)
        fields = control_fields(built, size_kb)
        (debian / "control").write_text("".join(f"{k}: {v}\n" for k, v in fields.items()))
        for name, text in built.scripts.items():
            (debian / name).write_text(text)
            (debian / name).chmod(0o755)
        if built.conffiles:
            (debian / "conffiles").write_text("".join(f"{c}\n" for c in built.conffiles))
        version = built.version.split(":", 1)[-1]
        deb = out_dir / f"{built.name}_{version}_amd64.deb"
        result = subprocess.run(
            ["dpkg-deb", "--root-owner-group", "-Zgzip", "-z1", "--build", str(root), str(deb)],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise EnvironmentProblem(f"dpkg-deb {built.name}: {result.stderr.strip()}")
    return deb


def build(repo_dir: Path, packages: tuple[Package, ...]) -> list[Built]:
    """Build every package into ``repo_dir`` and write its Packages and Release index."""
    shutil.rmtree(repo_dir, ignore_errors=True)
    repo_dir.mkdir(parents=True)
    built = [kdump_tools(), *(driver_package(p) for p in packages)]
    stanzas = []
    for item in built:
        deb = _build_deb(item, repo_dir)
        data = deb.read_bytes()
        fields = control_fields(item, max(1, sum(len(c) for c, _ in item.files.values()) // 1024))
        fields |= {"Filename": f"./{deb.name}", "Size": str(len(data))}
        fields |= {"MD5sum": hashlib.md5(data).hexdigest(), "SHA256": hashlib.sha256(data).hexdigest()}
        stanzas.append("".join(f"{k}: {v}\n" for k, v in fields.items()))
    index = "\n".join(stanzas).encode()
    (repo_dir / "Packages").write_bytes(index)
    release = (
        "Origin: fleetfix-lab\nLabel: fleetfix-lab\nSuite: lab\nCodename: lab\n"
        f"Date: {datetime.now(UTC).strftime('%a, %d %b %Y %H:%M:%S UTC')}\nArchitectures: amd64\n"
        f"SHA256:\n {hashlib.sha256(index).hexdigest()} {len(index)} Packages\n"
    )
    (repo_dir / "Release").write_text(release)
    return built

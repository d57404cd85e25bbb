"""The lab's RPM repositories for EL hosts: real RPMs (rpmbuild, rpmsign) indexed by createrepo_c, one per EL
release (dnf's $releasever), reached with dnf.

Each holds the scenario's drivers as kmod packages (the module file for each kernel of that release's hosts
under ``/lib/modules/<kernel>/extra/<module>/``, owned by the package), the release's kdump packaging with the
lab's ``kdumpctl``, the distribution's release package, and the package standing for what every host shares
with the machine.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from fleetfix.errors import EnvironmentProblem
from fleetfix.lab import guest_files, hba
from fleetfix.lab.distro import DISTROS, Distro
from fleetfix.lab.guest.elfmodinfo import write_ko
from fleetfix.lab.repo import driver_modinfo
from fleetfix.lab.scenario import Package

SUBDIR = "el"  # under the lab repository: one repository per EL release, el/<releasever>/, as dnf's baseurl
DB_PATH = "/var/lib/rpm"
KEY_NAME = "RPM-GPG-KEY-fleetfix-lab"  # the signing key's public half, in the repository and /etc/pki/rpm-gpg
_SIGNER = "fleetfix lab"
# (version, release) of the kdump packages per EL release: EL 10 split kdump (kdump-utils) out of kexec-tools.
KEXEC_TOOLS_VERSION = {"9": ("2.0.28", "1.el9"), "10": ("2.0.29", "1.el10")}
KDUMP_UTILS_VERSION = ("1.0.51", "1.el10")
MAKEDUMPFILE_VERSION = ("1.7.6", "1.el10")
SYSTEM_PACKAGE = "fleetfix-lab-system"
# What the machine's own Debian programs provide to every host: package scriptlets and dnf need them.
_SYSTEM_PROVIDES = (
    "/bin/sh",
    "/usr/bin/sh",
    "/bin/bash",
    "bash",
    "systemd",
    "kmod",
    "python3",
    "/usr/bin/python3",
)
_KDUMP_UNIT = """\
[Unit]
Description=Crash recovery kernel arming
After=network.target network-online.target remote-fs.target basic.target
DefaultDependencies=no

[Service]
Type=oneshot
ExecStart=/usr/bin/kdumpctl start
ExecStop=/usr/bin/kdumpctl stop
ExecReload=/usr/bin/kdumpctl reload
RemainAfterExit=yes
StartLimitInterval=0
PrivateTmp=yes

[Install]
WantedBy=multi-user.target
"""
# kexec-tools' shipped /etc/kdump.conf, its directives without the commented documentation.
_KDUMP_CONF = """\
# This file contains a series of commands to perform (in order) in the kdump
# kernel after a kernel crash in the crash kernel(1st kernel) has happened.
#
# Directives in this file are only applicable to the kdump initramfs, and have
# no effect once the root filesystem is mounted and the normal init scripts are
# processed.

path /var/crash
core_collector makedumpfile -l --message-level 7 -d 31
"""
_SYSCONFIG_KDUMP = (
    'KDUMP_KERNELVER=""\n'
    'KDUMP_COMMANDLINE=""\n'
    'KDUMP_COMMANDLINE_REMOVE="hugepages hugepagesz slub_debug quiet log_buf_len swiotlb cma hugetlb_cma"\n'
    'KDUMP_COMMANDLINE_APPEND="irqpoll nr_cpus=1 reset_devices cgroup_disable=memory mce=off numa=off"\n'
    'KEXEC_ARGS="-s"\nKDUMP_IMG="vmlinuz"\nKDUMP_IMG_EXT=""\n'
)


@dataclass(frozen=True)
class Rpm:
    """One package: name, version-release, files (path -> content, mode), scriptlets, dependencies."""

    name: str
    version: str
    release: str
    summary: str
    files: dict[str, tuple[bytes, int]]
    scripts: dict[str, str]  # pre, post, postun -> shell body
    config: tuple[str, ...] = ()  # paths marked %config(noreplace)
    provides: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    arch: str = "x86_64"

    @property
    def file_name(self) -> str:
        return f"{self.name}-{self.version}-{self.release}.{self.arch}.rpm"


def split_version(debian_style: str) -> tuple[str, str]:
    """A scenario package version ``[epoch:]upstream[-revision]`` as RPM's (version, release).

    >>> split_version("46.00.00.00-1")
    ('46.00.00.00', '1')
    """
    plain = debian_style.split(":", 1)[-1]
    version, _, release = plain.rpartition("-")
    return (version, release) if version else (plain, "1")


def driver_rpm(package: Package, kernels: tuple[str, ...]) -> Rpm:
    """A kmod-style driver package: the module file per kernel under extra/, then depmod. Like many vendor
    packages it leaves the initramfs as it was: rebuilding it is the driver change's job."""
    with tempfile.TemporaryDirectory() as tmp:
        ko = Path(tmp) / "m.ko"
        info = _driver_modinfo(package)
        write_ko(ko, info)
        content = ko.read_bytes()
    files = {f"lib/modules/{k}/extra/{package.module}/{package.module}.ko": (content, 0o644) for k in kernels}
    quoted = " ".join(shlex.quote(k) for k in kernels)
    refresh = (
        f"for release in {quoted}; do\n"
        '  [ -d "/lib/modules/$release" ] || continue\n'
        '  depmod -a "$release"\n'
        "done\n"
    )
    scripts = {"post": refresh, "postun": f"if [ $1 -eq 0 ]; then\n{refresh}fi\n"}
    if package.broken:
        scripts = {
            "pre": (
                f'echo "{package.module}: module build failed for kernel $(uname -r): exit status 2" >&2\n'
                "exit 1\n"
            )
        }
    version, release = split_version(package.version)
    return Rpm(
        name=package.name,
        version=version,
        release=release,  # as the scenario names it, so that one package version reads alike on both families
        summary=f"{hba.hba(package.module).description} {package.module_version} (vendor kmod build)",
        files=files,
        scripts=scripts,
        provides=(f"kmod({package.module}.ko) = {package.module_version}",),
    )


def _driver_modinfo(package: Package) -> list[tuple[str, str]]:
    return driver_modinfo(
        package.module, package.module_version, package.srcversion, package.taint, package.signer
    )


def kdump_rpms(distro: Distro) -> list[Rpm]:
    """The release's kdump packaging: kdumpctl, kdump.service, /etc/kdump.conf and /etc/sysconfig/kdump in
    kexec-tools (EL 8, 9), or in kdump-utils beside kexec-tools and makedumpfile (EL 10)."""
    kdump = {
        "usr/bin/kdumpctl": (guest_files.entry_script().encode(), 0o755),
        "usr/lib/systemd/system/kdump.service": (_KDUMP_UNIT.encode(), 0o644),
        "etc/kdump.conf": (_KDUMP_CONF.encode(), 0o644),
        "etc/sysconfig/kdump": (_SYSCONFIG_KDUMP.encode(), 0o644),
    }
    enable = {"post": "systemctl enable kdump.service >/dev/null 2>&1 || :\n"}
    config = ("/etc/kdump.conf", "/etc/sysconfig/kdump")
    version, release = KEXEC_TOOLS_VERSION[distro.releasever]
    if "kdump-utils" not in distro.kdump_packages:
        return [
            Rpm("kexec-tools", version, release, "The kexec/kdump userspace component", kdump, enable, config)
        ]
    stub = {"usr/share/doc/{}/README": (b"", 0o644)}
    return [
        Rpm(
            "kexec-tools",
            version,
            release,
            "The kexec userspace component",
            {k.format("kexec-tools"): v for k, v in stub.items()},
            {},
        ),
        Rpm(
            "makedumpfile",
            *MAKEDUMPFILE_VERSION,
            "make a small dumpfile of kdump",
            {k.format("makedumpfile"): v for k, v in stub.items()},
            {},
        ),
        Rpm(
            "kdump-utils",
            *KDUMP_UTILS_VERSION,
            "Kernel crash dump collection utilities",
            kdump,
            enable,
            config,
            requires=("kexec-tools", "makedumpfile"),
        ),
    ]


def release_rpm(distro: Distro) -> Rpm:
    """The distribution's release package: os-release, redhat-release and dnf's $releasever."""
    version = (distro.redhat_release or "").split(" release ")[-1].split(" ")[0]
    return Rpm(
        name="rocky-release",
        version=version or distro.releasever,
        release=f"1.el{distro.releasever}",
        summary="Rocky Linux release files",
        files={
            "usr/lib/os-release": ((distro.os_release or "").encode(), 0o644),
            "etc/redhat-release": ((distro.redhat_release or "").encode(), 0o644),
            "etc/rocky-release": ((distro.redhat_release or "").encode(), 0o644),
            "etc/system-release": ((distro.redhat_release or "").encode(), 0o644),
        },
        scripts={},
        provides=(f"system-release(releasever) = {distro.releasever}", "redhat-release", "system-release"),
        arch="noarch",
    )


def system_rpm() -> Rpm:
    """No files: it records that the shell, python3, systemd and kmod come from the machine beneath."""
    return Rpm(
        name=SYSTEM_PACKAGE,
        version="1",
        release="1",
        summary="Programs every lab host shares with the machine running the lab",
        files={},
        scripts={},
        provides=_SYSTEM_PROVIDES,
        arch="noarch",
    )


def _spec(rpm: Rpm, staging: Path) -> str:
    lines = [
        f"Name: {rpm.name}",
        f"Version: {rpm.version}",
        f"Release: {rpm.release}",
        f"Summary: {rpm.summary}",
        "License: GPL-2.0-only",
        f"BuildArch: {rpm.arch}",
        "AutoReqProv: no",
        *(f"Provides: {p}" for p in rpm.provides),
        *(f"Requires: {r}" for r in rpm.requires),
        "%description",
        rpm.summary,
        "%install",
        f"cp -a {shlex.quote(str(staging))}/. %{{buildroot}}/",
    ]
    for name, body in rpm.scripts.items():
        lines += [f"%{name}", body.rstrip("\n")]
    lines.append("%files")
    for rel in sorted(rpm.files):
        path = "/" + rel
        lines.append(f"%config(noreplace) {path}" if path in rpm.config else path)
    return "\n".join(lines) + "\n"


def build_rpm(rpm: Rpm, out_dir: Path) -> Path:
    with tempfile.TemporaryDirectory() as tmp:
        top = Path(tmp)
        staging = top / "staging"
        staging.mkdir()
        for rel, (content, mode) in rpm.files.items():
            target = staging / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
            target.chmod(mode)
        spec = top / f"{rpm.name}.spec"
        spec.write_text(_spec(rpm, staging))
        result = subprocess.run(
            [
                "rpmbuild",
                "-bb",
                "--quiet",
                "--define",
                f"_topdir {top}",
                "--define",
                "_binary_payload w2.xzdio",
                "--define",
                "__os_install_post %{nil}",
                str(spec),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        built = top / "RPMS" / rpm.arch / rpm.file_name
        if result.returncode != 0 or not built.is_file():
            raise EnvironmentProblem(
                f"rpmbuild {rpm.name}: {(result.stderr or result.stdout).strip()[-400:]}"
            )
        target = out_dir / rpm.file_name
        shutil.move(built, target)
    return target


def _run(argv: list[str], what: str) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise EnvironmentProblem(f"{what}: {(result.stderr or result.stdout).strip()[-400:]}")


def _sign(files: list[Path], public_key: Path) -> None:
    """Sign with a key made for this repository, as a vendor signs its kmod packages; only its public half
    is kept. The key's home is short-lived and short-named (gpg-agent's socket lives there), and the agent
    gpg started for it is stopped."""
    with tempfile.TemporaryDirectory(prefix="ffl-gpg-") as home:
        gpg = ["gpg", "--homedir", home, "--batch", "--pinentry-mode", "loopback", "--passphrase", ""]
        identity = f"{_SIGNER} <lab@fleetfix.invalid>"
        try:
            _run([*gpg, "--quick-gen-key", identity, "rsa2048", "sign", "never"], "gpg")
            sign = [
                "rpmsign",
                "--addsign",
                "--define",
                f"_gpg_name {_SIGNER}",
                "--define",
                f"_gpg_path {home}",
            ]
            _run([*sign, "--define", "__gpg /usr/bin/gpg", *map(str, files)], "rpmsign")
            _run([*gpg, "--armor", "--output", str(public_key), "--yes", "--export", _SIGNER], "gpg --export")
        finally:
            subprocess.run(["gpgconf", "--homedir", home, "--kill", "all"], capture_output=True, check=False)


def build(repo_dir: Path, packages: tuple[Package, ...], kernels: dict[str, tuple[str, ...]]) -> None:
    """Build, sign and index (createrepo_c) one repository per EL release under ``repo_dir/el``.

    ``kernels`` maps each EL distribution key of the scenario (el9, el10) to its hosts' kernel releases: a
    release's kmod packages hold the module file for each of them.
    """
    top = repo_dir / SUBDIR
    built: list[Path] = []
    for key, releases in sorted(kernels.items()):
        distro = DISTROS[key]
        out = top / distro.releasever
        out.mkdir(parents=True, exist_ok=True)
        rpms = [system_rpm(), release_rpm(distro), *kdump_rpms(distro)]
        rpms += [driver_rpm(p, releases) for p in packages]
        built += [build_rpm(rpm, out) for rpm in rpms]
    _sign(built, top / KEY_NAME)
    for key in kernels:
        out = top / DISTROS[key].releasever
        _run(["createrepo_c", "-q", str(out)], f"createrepo_c {out}")


def preinstall(
    upper: Path, rpm_files: list[Path], public_key: Path, recorded: list[Path] | None = None
) -> None:
    """Install packages into a host's upper layers as its first state: files and RPM database, no scripts;
    the lab's signing key imported, as an administrator imports a driver vendor's. ``recorded`` packages
    enter the database only (``--justdb``): their files are already there, as the scenario wrote them (the
    running driver build a kmod package installed)."""
    (upper / DB_PATH.lstrip("/")).mkdir(parents=True, exist_ok=True)
    rpm = ["rpm", "--root", str(upper), "--dbpath", DB_PATH]
    _run([*rpm, "--import", str(public_key)], f"rpm --import into {upper}")
    install = [*rpm, "-i", "--nodeps", "--noscripts", "--notriggers"]
    _run([*install, *map(str, rpm_files)], f"rpm -i into {upper}")
    if recorded:
        _run([*install, "--justdb", *map(str, recorded)], f"rpm -i --justdb into {upper}")

"""A host's first state, written straight into its copy-on-write upper layers before it ever boots.

Everything here is what the host would carry on its disks: /etc (identity, sshd, grub defaults, cron,
timers, apt sources or dnf repositories), /usr (module files, lab tools), /var (the dpkg or RPM database of
preinstalled packages, crash history) and /boot (grub.cfg or BLS entries with the current command line, the
initramfs, kernel config).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fleetfix.lab import guest_files, hba, oopstext, repo, rpmrepo
from fleetfix.lab.distro import Distro
from fleetfix.lab.guest import bls, initramfs
from fleetfix.lab.guest.elfmodinfo import write_ko
from fleetfix.lab.guest.grub_cli import render
from fleetfix.lab.scenario import DEFAULT_SIGNER, Group, HostSpec

LAYERS = ("etc", "usr", "var", "boot")
NETCONSOLE_PORTS = (6665, 6666)


@dataclass(frozen=True)
class Preinstalled:
    """Packages a host starts with: Debian's kdump-tools (when installed), EL's RPM files (release, system,
    kexec-tools: the last only when kdump is installed)."""

    kdump_tools: repo.Built
    rpm_dir: Path | None

    def key(self) -> Path:
        assert self.rpm_dir is not None
        return self.rpm_dir / rpmrepo.KEY_NAME

    def rpms(self, distro: Distro, kdump: bool) -> list[Path]:
        assert self.rpm_dir is not None
        names = [rpmrepo.SYSTEM_PACKAGE, "rocky-release", *(distro.kdump_installed if kdump else ())]
        return [next((self.rpm_dir / distro.releasever).glob(f"{name}-[0-9]*.rpm")) for name in names]

    def driver_rpms(self, distro: Distro, packages: list[repo.Built]) -> list[Path]:
        """The repository's kmod RPMs of these scenario packages (a host's running build's own)."""
        assert self.rpm_dir is not None
        files = []
        for package in packages:
            version, release = rpmrepo.split_version(package.version)
            files.append(self.rpm_dir / distro.releasever / f"{package.name}-{version}-{release}.x86_64.rpm")
        return files


@dataclass(frozen=True)
class Controller:
    """One HBA as the host's /sys shows it, with its disks' loop device numbers."""

    driver: str
    boot_disk: bool
    pci: str
    host_no: int
    disks: tuple[dict, ...]  # {name, size_bytes, rotational, major, minor}


def _write(root: Path, rel: str, content: str | bytes, mode: int = 0o644) -> None:
    target = root / rel.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink() or target.exists():
        target.unlink()
    target.write_bytes(content.encode() if isinstance(content, str) else content)
    target.chmod(mode)


def _whiteout(root: Path, rel: str) -> None:
    """Hide a file of the machine's own layer from the host (an overlayfs whiteout)."""
    target = root / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        os.mknod(target, 0o600 | 0o020000, os.makedev(0, 0))


def _sshd_config(address: str) -> str:
    return (
        f"ListenAddress {address}\nHostKey /etc/ssh/ssh_host_ed25519_key\n"
        "PermitRootLogin prohibit-password\nPubkeyAuthentication yes\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nUsePAM no\nUseDNS no\nPrintMotd no\nPrintLastLog no\n"
        "PidFile /run/sshd.pid\nMaxStartups 200:30:400\nMaxSessions 50\nAcceptEnv LANG LC_*\n"
        "Subsystem sftp /usr/lib/openssh/sftp-server\n"
    )


def _etc(
    etc: Path, host: HostSpec, address: str, gateway: str, gateway_mac: str, host_key: Path, machine_id: str
) -> None:
    group = host.group
    _write(etc, "hostname", f"{host.name}\n")
    _write(etc, "hosts", f"127.0.0.1\tlocalhost\n{address}\t{host.name}\n{gateway}\tfleetfix-controller\n")
    _write(etc, "machine-id", machine_id + "\n", 0o444)
    _write(etc, "ssh/sshd_config", _sshd_config(address))
    _write(etc, "ssh/ssh_host_ed25519_key", host_key.read_bytes(), 0o600)
    _write(etc, "ssh/ssh_host_ed25519_key.pub", host_key.with_suffix(".pub").read_bytes())
    for rel in ("ssh/ssh_host_rsa_key", "ssh/ssh_host_ecdsa_key", "apt/sources.list.d/debian.sources"):
        _whiteout(etc, rel)
    _write(etc, "ld.so.preload", f"/{guest_files.PRELOAD}\n")
    crash = group.crash_capture
    if group.distro.is_el:
        _el_etc(etc, group)
    else:
        _write(etc, "apt/sources.list", "")
        _write(etc, "apt/sources.list.d/fleetfix-lab.list", f"deb [trusted=yes] file:{repo.MOUNT_POINT} ./\n")
        grub = (
            "GRUB_DEFAULT=0\nGRUB_TIMEOUT=5\n"
            "GRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`\n"
            f'GRUB_CMDLINE_LINUX_DEFAULT="{group.cmdline}"\n'
            f'GRUB_CMDLINE_LINUX="{f"crashkernel={crash.crashkernel}" if crash.crashkernel else ""}"\n'
        )
        _write(etc, "default/grub", grub)
    systemd = etc / "systemd/system"
    systemd.mkdir(parents=True, exist_ok=True)
    os.setxattr(systemd, "trusted.overlay.opaque", b"y")  # start from no enabled units of the machine's own
    for job in group.cron:
        _write(
            etc, f"cron.d/{job.name}", f"# /etc/cron.d/{job.name}\n{job.schedule} {job.user} {job.command}\n"
        )
    for timer in group.timers:
        _write(
            etc,
            f"systemd/system/{timer.name}.timer",
            f"[Unit]\nDescription={timer.name} timer\n\n[Timer]\nOnCalendar={timer.on_calendar}\n"
            "Persistent=true\n\n[Install]\nWantedBy=timers.target\n",
        )
        _write(
            etc,
            f"systemd/system/{timer.name}.service",
            f"[Unit]\nDescription={timer.name}\n\n[Service]\nType=oneshot\nExecStart={timer.command}\n",
        )
        if timer.enabled:
            link = systemd / "timers.target.wants" / f"{timer.name}.timer"
            link.parent.mkdir(exist_ok=True)
            os.symlink(f"/etc/systemd/system/{timer.name}.timer", link)
    if crash.netconsole:
        params = f"{NETCONSOLE_PORTS[0]}@{address}/eth0,{NETCONSOLE_PORTS[1]}@{gateway}/{gateway_mac}"
        _write(etc, "modprobe.d/netconsole.conf", f"options netconsole netconsole={params}\n")
        _write(etc, "modules-load.d/netconsole.conf", "netconsole\n")
    if crash.kdump.enabled:
        unit = f"{group.distro.kdump_service}.service"
        link = systemd / "multi-user.target.wants" / unit
        link.parent.mkdir(exist_ok=True)
        os.symlink(f"/usr/lib/systemd/system/{unit}", link)


DUMP_HOME = "var/lib/{user}"  # under the host's own /var, so the account's keys survive its reboots


def _dump_account(upper: Path, user: str) -> None:
    """A system account as useradd --system --create-home would leave it: passwd, group and shadow entries
    (the machine's own entries kept, a uid free among them) and a home owned by it. Its password is ``*``:
    no password login, and not ``!``, which sshd without PAM takes for a locked account."""
    etc = upper / "etc"
    taken = set()
    for name in ("passwd", "group"):
        for line in Path("/etc", name).read_text().splitlines():
            fields = line.split(":")
            if len(fields) > 2 and fields[2].isdigit():
                taken.add(int(fields[2]))
    uid = next(n for n in range(999, 100, -1) if n not in taken)
    home = "/" + DUMP_HOME.format(user=user)
    entries = {
        "passwd": f"{user}:x:{uid}:{uid}:kdump dumps:{home}:/bin/sh",
        "group": f"{user}:x:{uid}:",
        "shadow": f"{user}:*:20000:0:99999:7:::",
    }
    for name, entry in entries.items():
        machine = Path("/etc", name)
        text = machine.read_text() if machine.exists() else ""
        _write(etc, name, text + entry + "\n", machine.stat().st_mode & 0o777 if machine.exists() else 0o640)
        if machine.exists():
            os.chown(etc / name, machine.stat().st_uid, machine.stat().st_gid)
    directory = upper / home.lstrip("/")
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o750)
    os.chown(directory, uid, uid)


def _el_etc(etc: Path, group: Group) -> None:
    """dnf against the lab's RPM repository, the RPM database where EL keeps it, EL's grub defaults."""
    for rel in ("debian_version", "apt/sources.list.d/debian.sources", "lsb-release"):
        _whiteout(etc, rel)
    _write(etc, "rpm/macros.dbpath", f"%_dbpath {rpmrepo.DB_PATH}\n")
    _write(
        etc,
        "dnf/dnf.conf",
        "[main]\ngpgcheck=1\ninstallonly_limit=3\nclean_requirements_on_remove=True\nbest=True\n"
        "skip_if_unavailable=False\n",
    )
    _write(
        etc,
        "yum.repos.d/fleetfix-lab.repo",
        f"[fleetfix-lab]\nname=fleetfix lab drivers and tools\nbaseurl=file://{repo.MOUNT_POINT}/{rpmrepo.SUBDIR}/$releasever\n"
        f"enabled=1\ngpgcheck=1\ngpgkey=file:///etc/pki/rpm-gpg/{rpmrepo.KEY_NAME}\nmetadata_expire=0\n",
    )
    crash = group.crash_capture.crashkernel
    linux = f"{f'crashkernel={crash} ' if crash else ''}{group.cmdline}".strip()
    grub = (
        "GRUB_TIMEOUT=5\nGRUB_DISTRIBUTOR=\"$(sed 's, release .*$,,g' /etc/system-release)\"\n"
        "GRUB_DEFAULT=saved\n"
        'GRUB_DISABLE_SUBMENU=true\nGRUB_TERMINAL_OUTPUT="console"\n'
        f'GRUB_CMDLINE_LINUX="{linux}"\nGRUB_DISABLE_RECOVERY="true"\nGRUB_ENABLE_BLSCFG=true\n'
    )
    _write(etc, "default/grub", grub)


def _out_of_tree_path(distro: Distro, module: str) -> str:
    """Where a vendor build sits: kmod packages' extra/<module>/ on EL, DKMS's updates/ on Debian."""
    return f"extra/{module}/{module}.ko" if distro.is_el else f"updates/{module}.ko"


def _modules(usr: Path, group: Group) -> dict[str, bytes]:
    """Write the group's module files; returns the boot disk's drivers (path under the release -> file)."""
    base = usr / "lib/modules" / group.kernel
    boot: dict[str, bytes] = {}
    for module in group.modules:
        info = repo.driver_modinfo(module.name, module.version, module.srcversion, module.taint)
        info = [(k, ",".join(module.deps)) if k == "depends" else (k, v) for k, v in info]
        rel = (
            _out_of_tree_path(group.distro, module.name)
            if "O" in module.taint
            else f"kernel/{hba.in_tree_path(module.name)}"
        )
        write_ko(base / rel, [*info, ("vermagic", f"{group.kernel} SMP preempt mod_unload modversions ")])
        if module.boot_disk:
            boot[rel] = (base / rel).read_bytes()
            boot |= {f"kernel/{hba.in_tree_path(d)}": b"" for d in module.deps}
    in_tree = {d for m in group.modules for d in m.deps} | {"netconsole"}
    for name in sorted(in_tree):
        info = [("license", "GPL"), ("srcversion", uuid.uuid5(uuid.NAMESPACE_DNS, name).hex[:23].upper())]
        info += [("depends", ""), ("intree", "Y"), ("name", name), ("signer", DEFAULT_SIGNER)]
        write_ko(base / "kernel" / hba.in_tree_path(name), info)
    return {rel: data or (base / rel).read_bytes() for rel, data in boot.items()}


def _preinstall(upper: Path, package: repo.Built) -> None:
    """Install ``package`` as dpkg would have: its files, and its record in the dpkg database."""
    for rel, (content, mode) in package.files.items():
        _write(upper, rel, content, mode)
    status = upper / "var/lib/dpkg/status"
    if not status.exists():
        status.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile("/var/lib/dpkg/status", status)
    fields = repo.control_fields(package, max(1, sum(len(c) for c, _ in package.files.values()) // 1024))
    fields = {"Package": fields.pop("Package"), "Status": "install ok installed", **fields}
    if package.conffiles:
        fields["Conffiles"] = "\n" + "\n".join(
            f" {c} {_md5(upper / c.lstrip('/'))}" for c in package.conffiles
        )
    with status.open("a") as handle:
        handle.write("".join(f"{k}: {v}\n" for k, v in fields.items()) + "\n")
    dirs = {"/" + "/".join(rel.split("/")[:i]) for rel in package.files for i in range(1, rel.count("/") + 1)}
    listing = sorted(dirs | {"/" + rel for rel in package.files})
    info = "var/lib/dpkg/info"
    _write(upper, f"{info}/{package.name}.list", "/.\n" + "".join(f"{p}\n" for p in listing))
    sums = "".join(f"{_md5(upper / rel)}  {rel}\n" for rel in package.files if not rel.startswith("etc/"))
    _write(upper, f"{info}/{package.name}.md5sums", sums)
    if package.conffiles:
        _write(upper, f"{info}/{package.name}.conffiles", "".join(f"{c}\n" for c in package.conffiles))
    for name, text in package.scripts.items():
        _write(upper, f"{info}/{package.name}.{name}", text, 0o755)


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def _crash_history(var: Path, host: HostSpec) -> None:
    loaded = tuple((m.name, m.taint) for m in host.group.modules)
    tainted = sum(1 << oopstext.TAINT_BITS[letter] for m in host.group.modules for letter in set(m.taint))
    for index, crash in enumerate(host.group.crash_history):
        stamp = crash.time.strftime("%Y%m%d%H%M")
        ctx = oopstext.OopsContext(
            module=crash.module,
            kind="null_deref",
            release=host.group.kernel,
            kernel_version=host.group.kernel_version,
            tainted=tainted,
            loaded=loaded,
            comm="fio",
            pid=4000 + 97 * index,
            uptime=86400.0 * (index + 1) + 3923.5,
            kdump_loaded=True,
        )
        text = "\n".join(oopstext.render(ctx, seed=hash((host.name, stamp)) & 0xFFFF)) + "\n"
        if host.group.distro.is_el:  # kdump's <address>-<date>-<time>/ with vmcore and vmcore-dmesg.txt
            directory = f"crash/127.0.0.1-{crash.time:%Y-%m-%d-%H:%M:%S}"
            log, dump = f"{directory}/vmcore-dmesg.txt", f"{directory}/vmcore"
        else:
            log, dump = f"crash/{stamp}/dmesg.{stamp}", f"crash/{stamp}/dump.{stamp}"
        _write(var, log, text)
        _write(var, dump, b"KDUMP   \x00" + bytes(64))
        mtime = crash.time.timestamp()
        os.utime(var / log, (mtime, mtime))


def _boot(boot: Path, host: HostSpec, machine_id: str, initrd: bytes) -> None:
    group = host.group
    crash = group.crash_capture
    args = f"{f'crashkernel={crash.crashkernel} ' if crash.crashkernel else ''}{group.cmdline}".strip()
    root = str(uuid.uuid4())
    if group.distro.is_el:
        product = (group.distro.redhat_release or "").split(" release ")[-1].strip()
        title = f"Rocky Linux ({group.kernel}) {product}"
        entry = bls.entry(machine_id, group.kernel, f"root=UUID={root} ro {args}".strip(), title)
        _write(boot, f"loader/entries/{machine_id}-{group.kernel}.conf", entry)
        _write(boot, "grub2/grubenv", f"# GRUB Environment Block\nsaved_entry={machine_id}-{group.kernel}\n")
        _write(boot, "grub2/grub.cfg", "### BEGIN /etc/grub.d/10_linux ###\ninsmod blscfg\nblscfg\n")
    else:
        _write(boot, "grub/grub.cfg", render(group.kernel, root, args))
    _write(boot, group.distro.initramfs(group.kernel).removeprefix("boot/"), initrd)
    for name in (f"vmlinuz-{group.kernel}", f"System.map-{group.kernel}"):
        _write(boot, name, b"")
    config = "CONFIG_KEXEC=y\nCONFIG_KEXEC_FILE=y\nCONFIG_CRASH_DUMP=y\nCONFIG_NETCONSOLE=m\n"
    config += "CONFIG_NETCONSOLE_DYNAMIC=y\nCONFIG_CONFIGFS_FS=y\nCONFIG_MODULES=y\nCONFIG_MODULE_SIG=y\n"
    _write(boot, f"config-{group.kernel}", config)


def provision(
    host_dir: Path,
    host: HostSpec,
    address: str,
    gateway: str,
    gateway_mac: str,
    host_key: Path,
    preload: Path,
    preinstalled: Preinstalled,
    controllers: list[Controller],
    boot_spec: dict,
    driver_packages: list[repo.Built] | None = None,
) -> None:
    """Write the host's upper layers and its boot.json (what its PID 1 reads at every boot)."""
    upper = host_dir / "upper"
    distro = host.group.distro
    for name in LAYERS:
        (upper / name).mkdir(parents=True, exist_ok=True)
        (host_dir / "work" / name).mkdir(parents=True, exist_ok=True)
    machine_id = uuid.uuid4().hex
    _etc(upper / "etc", host, address, gateway, gateway_mac, host_key, machine_id)
    storage = host.group.storage
    guest_files.install(upper, preload, distro.family, multipath=bool(storage.multipath))
    _write(upper, "usr/lib/fleetfix-lab/storage.json", json.dumps(dataclasses.asdict(storage), indent=1))
    _write(upper, initramfs.OS_FILE.as_posix(), json.dumps({"key": distro.key, "family": distro.family}))
    boot_modules = _modules(upper / "usr", host.group)
    hardware = {"controllers": [c.__dict__ for c in controllers]}
    _write(upper, "usr/lib/fleetfix-lab/hardware.json", json.dumps(hardware, indent=1))
    for spec_file in host.group.files:
        _write(upper, spec_file.path, spec_file.content, spec_file.mode)
    if host.group.dump_server is not None:
        _dump_account(upper, host.group.dump_server.user)
    kdump = host.group.crash_capture.kdump.installed
    if distro.is_el:
        rpm_db = upper / rpmrepo.DB_PATH.lstrip("/")
        rpm_db.mkdir(parents=True, exist_ok=True)
        os.setxattr(rpm_db, "trusted.overlay.opaque", b"y")  # never the machine's own database
        key = preinstalled.key()
        _write(upper, f"etc/pki/rpm-gpg/{rpmrepo.KEY_NAME}", key.read_bytes())
        # the running build's own package (scenario ``package:``): its record, beside the module file above
        drivers = preinstalled.driver_rpms(distro, driver_packages or [])
        rpmrepo.preinstall(upper, preinstalled.rpms(distro, kdump), key, drivers)
    else:
        if kdump:
            _preinstall(upper, preinstalled.kdump_tools)
        for package in driver_packages or ():  # the running build's own package (scenario ``package:``)
            _preinstall(upper, package)
    (upper / "var/lib/fleetfix-lab/repo").mkdir(parents=True, exist_ok=True)
    _crash_history(upper / "var", host)
    _boot(upper / "boot", host, machine_id, initramfs.image_bytes(host.group.kernel, boot_modules, host.name))
    boot_spec = {**boot_spec, "kernel_build": distro.kernel_build}
    (host_dir / "boot.json").write_text(json.dumps(boot_spec, indent=1, default=_json_default))


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)

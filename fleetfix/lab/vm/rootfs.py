"""The guest's root filesystem: a Debian minbase from debootstrap, the packages the lab needs, its settings.

The guest reaches nothing but the host: it has an address on QEMU's user network and no route beyond it, no
resolver, and only the lab's own package repository in its apt sources.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from fleetfix.errors import EnvironmentProblem
from fleetfix.lab.vm import bootdisk, chroot, hostcmd

SUITE = "bookworm"
PACKAGES = (
    "linux-image-amd64",
    "systemd",
    "systemd-sysv",
    "dbus",  # logind: `shutdown -r 0 MESSAGE` (Ansible's reboot module) fails without the system bus
    "udev",
    "openssh-server",
    "python3",
    "fio",
    "kexec-tools",
    "kdump-tools",
    "makedumpfile",
    "nfs-common",  # mount.nfs: kdump-config mounts an NFS dump target with it in the capture boot
    "cron",
    "kmod",
    "iproute2",
    "procps",
    "python3-apt",  # Ansible's apt module runs on it
    "grub-pc",  # the boot loader, installed on the disk's MBR; the crash capture role runs its update-grub
)
HOSTNAME = "fxvm01"
GUEST_ADDRESS = "10.0.2.15"
HOST_FROM_GUEST = "10.0.2.2"  # QEMU's user network delivers this address to the host's loopback
REPO_DIR = "/var/lib/fxhba-repo"
# The capture and boot initrds carry only what this machine needs; a MODULES=most initrd boots several
# times slower under TCG.
INITRD_MODULES = ("virtio_pci", "virtio_blk", "ext4")
_IDLE_UNITS = (
    "apt-daily.timer",
    "apt-daily-upgrade.timer",
    "dpkg-db-backup.timer",
    "e2scrub_all.timer",
    "e2scrub_reap.service",
    "fstrim.timer",
    "kdump-tools.service",  # crash capture starts off: enabling it is the capture command's job
)
_FILES = {
    "etc/hostname": f"{HOSTNAME}\n",
    "etc/hosts": f"127.0.0.1 localhost\n127.0.1.1 {HOSTNAME}\n",
    "etc/fstab": f"LABEL={bootdisk.LABEL} / ext4 rw,errors=remount-ro 0 1\n",
    "etc/systemd/network/10-lab.network": (
        f"[Match]\nName=en* eth*\n\n[Network]\nAddress={GUEST_ADDRESS}/24\nLinkLocalAddressing=no\n"
    ),
    "etc/sysctl.d/90-fleetfix-lab.conf": (
        "# An oops in a storage driver panics the host, as on the fleet; reboot 10 s after a panic.\n"
        "kernel.panic_on_oops = 1\nkernel.panic = 10\n"
    ),
    "etc/ssh/sshd_config.d/fleetfix-lab.conf": (
        "HostKey /etc/ssh/ssh_host_ed25519_key\nPasswordAuthentication no\nUseDNS no\n"
    ),
    "etc/initramfs-tools/conf.d/fleetfix-lab": "MODULES=list\n",
    "etc/initramfs-tools/modules": "".join(f"{m}\n" for m in INITRD_MODULES),
    "etc/apt/sources.list": f"deb [trusted=yes] file:{REPO_DIR} ./\n",
    # Booted through GRUB the guest gets these arguments; a direct boot gets the same (qemu.KERNEL_ARGS).
    "etc/default/grub": (
        'GRUB_DEFAULT=0\nGRUB_TIMEOUT=0\nGRUB_DISTRIBUTOR="Debian"\nGRUB_DISABLE_OS_PROBER=true\n'
        'GRUB_TERMINAL=serial\nGRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"\n'
        'GRUB_CMDLINE_LINUX_DEFAULT="console=ttyS0"\nGRUB_CMDLINE_LINUX="crashkernel=256M"\n'
    ),
}


@dataclass(frozen=True)
class GuestKernel:
    release: str  # uname -r, e.g. 6.1.0-50-amd64
    package: str  # linux-image-6.1.0-50-amd64
    version: str  # its Debian version, e.g. 6.1.176-1: the headers must be exactly this build


def _write(root: Path, rel: str, text: str, mode: int = 0o644) -> None:
    target = root / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    target.chmod(mode)


def bootstrap(root: Path, mirror: str, log: Path) -> None:
    """debootstrap a minbase, then install the lab's packages with the small-initrd settings in place."""
    argv = ["debootstrap", "--variant=minbase", SUITE, str(root), mirror]
    hostcmd.run(argv, f"debootstrap {SUITE}", 1200, log=log)
    for rel in ("etc/initramfs-tools/conf.d/fleetfix-lab", "etc/initramfs-tools/modules"):
        _write(root, rel, _FILES[rel])
    with chroot.mounted(root):
        # grub-pc goes on the disk when the image is written (bootdisk), not on whatever the build host has.
        selection = (
            "kdump-tools kdump-tools/use_kdump boolean false\n"
            "grub-pc grub-pc/install_devices multiselect\n"
            "grub-pc grub-pc/install_devices_empty boolean true\n"
        )
        _write(root, "tmp/preseed", selection)
        chroot.run(root, ["debconf-set-selections", "/tmp/preseed"], "debconf-set-selections", 60, log)
        chroot.apt_install(root, PACKAGES, log)


def kernel(root: Path) -> GuestKernel:
    """The kernel linux-image-amd64 pulled in, read from the root filesystem's own dpkg database."""
    argv = ["dpkg-query", f"--admindir={root}/var/lib/dpkg", "-W", "-f=${Depends}", "linux-image-amd64"]
    depends = subprocess.run(argv, capture_output=True, text=True, check=False).stdout
    match = re.search(r"linux-image-(\S+)\s+\(=\s*([^)\s]+)\)", depends)
    if not match:
        raise EnvironmentProblem(f"cannot tell the guest kernel from linux-image-amd64 Depends: {depends!r}")
    return GuestKernel(match.group(1), f"linux-image-{match.group(1)}", match.group(2))


def configure(root: Path, authorized_key: str, host_key: Path, release: str, log: Path) -> None:
    """Settings, ssh identity, offline apt, quiet timers, and a ready kdump initrd (kdump stays disabled)."""
    for rel, text in _FILES.items():
        _write(root, rel, text)
    _write(root, "root/.ssh/authorized_keys", authorized_key, 0o600)
    (root / "root/.ssh").chmod(0o700)
    for old in (root / "etc/ssh").glob("ssh_host_*"):
        old.unlink()
    _write(root, "etc/ssh/ssh_host_ed25519_key", host_key.read_text(), 0o600)
    _write(root, "etc/ssh/ssh_host_ed25519_key.pub", host_key.with_suffix(".pub").read_text())
    for directory in ("var/log/journal", "boot/grub"):
        (root / directory).mkdir(parents=True, exist_ok=True)
    with chroot.mounted(root):
        chroot.run(root, ["systemctl", "enable", "systemd-networkd.service"], "enable networkd", 60, log)
        chroot.run(root, ["systemctl", "mask", "systemd-networkd-wait-online.service"], "mask", 60, log)
        chroot.run(root, ["systemctl", "disable", *_IDLE_UNITS], "disable idle units", 60, log)
        _kdump_initrd(root, release, log)
        for stale in (root / "etc/apt/sources.list.d").glob("*"):
            stale.unlink()
        chroot.run(root, ["apt-get", "update", "-q"], "apt-get update (lab repository)", 120, log)
        chroot.apt_install(root, ["fxhba-driver=1.0.0-1"], log)
        chroot.run(root, ["apt-get", "clean"], "apt-get clean", 60, log)


def _kdump_initrd(root: Path, release: str, log: Path) -> None:
    """Build the capture initrd now (kdump-tools' kernel hook) and record the sysctls it was built with.

    kdump-config rebuilds the initrd at load whenever ``latest_sysctls-<release>`` differs from
    /etc/kdump/sysctl.conf, which takes minutes under TCG; with the copy in place the first load is quick.
    """
    hook = ["/etc/kernel/postinst.d/kdump-tools", release]
    chroot.run(root, hook, "build the kdump capture initrd", 600, log)
    kdump = root / "var/lib/kdump"
    (kdump / f"latest_sysctls-{release}").write_bytes((root / "etc/kdump/sysctl.conf").read_bytes())
    links = {"vmlinuz": f"/boot/vmlinuz-{release}", "initrd.img": f"/var/lib/kdump/initrd.img-{release}"}
    for link, target in links.items():
        (kdump / link).unlink(missing_ok=True)
        (kdump / link).symlink_to(target)

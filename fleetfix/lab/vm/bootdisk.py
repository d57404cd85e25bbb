"""The guest's boot disk: an MBR-partitioned raw image, the root tree in partition 1, GRUB in the MBR.

The file system is written straight into the partition (``mkfs.ext4 -E offset``: no loop device, whose
partitions a container's /dev may never show). GRUB is then installed the way it is on any BIOS machine,
from inside: the image's own kernel boots once with a one-shot init that runs ``grub-install /dev/vda`` and
``update-grub`` and powers off. From then on the guest can boot through its boot loader and load whatever its
/boot holds (an initramfs rebuilt by a driver upgrade included), not only what QEMU hands it.
"""

from __future__ import annotations

from pathlib import Path

from fleetfix.errors import EnvironmentProblem
from fleetfix.lab.vm import hostcmd

TOOLS = {"sfdisk": "fdisk", "qemu-system-x86_64": "qemu-system-x86"}
SECTOR = 512
FIRST_SECTOR = 2048  # partition 1 starts at 1 MiB: GRUB's core image fits in the gap before it
LABEL = "fxvm-root"
FIRST_BOOT_INIT = "/usr/local/sbin/fxvm-install-grub"
_DONE = "fxvm-install-grub: done"
_PARTITION_TABLE = f"label: dos\nstart={FIRST_SECTOR}, type=83, bootable\n"
# PID 1 of the one boot: the initramfs has moved /dev, /proc, /sys and /run into the root already. It removes
# itself, so the image keeps no trace of it, and leaves the file system clean (sysrq u: the script, open and
# deleted, keeps a plain remount read-only busy). Any failure ends init, and the kernel's panic=1 ends QEMU.
_INIT_SCRIPT = f"""#!/bin/sh
set -e
export PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8
grub-install --target=i386-pc /dev/vda
update-grub
rm -f {FIRST_BOOT_INIT}
sync
echo "{_DONE}"
echo u > /proc/sysrq-trigger
echo o > /proc/sysrq-trigger
sleep 60
"""
_FIRST_BOOT_TIMEOUT = 900.0  # a TCG boot plus grub-install on a loaded two-core machine


def _first_boot_argv(kernel: Path, initrd: Path, disk: Path, console: Path) -> list[str]:
    append = f"root=/dev/vda1 rw console=ttyS0 panic=1 init={FIRST_BOOT_INIT}"
    return [
        "qemu-system-x86_64",
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-accel",
        "tcg",
        "-m",
        "1024",
        "-no-reboot",
        "-kernel",
        str(kernel),
        "-initrd",
        str(initrd),
        "-append",
        append,
        "-drive",
        f"file={disk},if=virtio,format=raw",
        "-serial",
        f"file:{console}",
    ]


def build(tree: Path, disk: Path, size_mib: int, release: str, work: Path, log: Path) -> None:
    """Write ``tree`` (whose kernel is ``release``) into a new ``size_mib`` raw disk at ``disk`` and make it
    boot with GRUB (i386-pc)."""
    hostcmd.require_tools(TOOLS)
    init = tree / FIRST_BOOT_INIT.lstrip("/")
    init.parent.mkdir(parents=True, exist_ok=True)
    init.write_text(_INIT_SCRIPT)
    init.chmod(0o755)
    disk.unlink(missing_ok=True)
    hostcmd.run(["truncate", "--size", f"{size_mib}M", str(disk)], "truncate the boot disk", 60, log=log)
    hostcmd.run(["sfdisk", "--quiet", str(disk)], "sfdisk the boot disk", 60, log=log, stdin=_PARTITION_TABLE)
    partition_kib = (size_mib * 1024 * 1024 - FIRST_SECTOR * SECTOR) // 1024
    offset = f"offset={FIRST_SECTOR * SECTOR}"
    argv = ["mkfs.ext4", "-q", "-F", "-L", LABEL, "-E", offset, "-d", str(tree), str(disk)]
    hostcmd.run([*argv, f"{partition_kib}k"], "mkfs.ext4 into partition 1", 600, log=log)
    init.unlink()
    console = work / "first-boot.log"
    kernel, initrd = tree / "boot" / f"vmlinuz-{release}", tree / "boot" / f"initrd.img-{release}"
    first_boot = _first_boot_argv(kernel, initrd, disk, console)
    hostcmd.run(first_boot, "the first boot (grub-install, update-grub)", _FIRST_BOOT_TIMEOUT, log=log)
    text = console.read_text(errors="replace") if console.exists() else ""
    if _DONE not in text:
        # what the script printed last, not the panic's register dump that follows it
        tail = " | ".join(line.strip() for line in text.partition("Kernel panic")[0].splitlines()[-6:])
        raise EnvironmentProblem(f"the first boot did not install GRUB (console {console}): {tail}")

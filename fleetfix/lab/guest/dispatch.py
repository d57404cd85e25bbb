"""Entry point of every lab host tool: picks the command by the name it was run as.

On Debian, shutdown/reboot/poweroff/halt are symlinks to systemctl and modprobe/rmmod/... to kmod; the lab
replaces only systemctl and kmod, so those links keep working as they do on a real host.
"""

from __future__ import annotations

import os
import sys

# name -> (module of this package, function): a tool imports its own module alone, so that a stand-in's
# start costs little beside its work, as a real tool's does (nor does this module import importlib or
# typing: a few milliseconds each, on every call).
COMMANDS = {
    "systemctl": ("systemctl_cli", "main"),
    "shutdown": ("power", "shutdown_main"),
    "reboot": ("power", "reboot_main"),
    "poweroff": ("power", "poweroff_main"),
    "halt": ("power", "poweroff_main"),
    "modprobe": ("kmod_cli", "modprobe_main"),
    "rmmod": ("kmod_cli", "rmmod_main"),
    "insmod": ("kmod_cli", "insmod_main"),
    "lsmod": ("kmod_cli", "lsmod_main"),
    "modinfo": ("kmod_cli", "modinfo_main"),
    "depmod": ("kmod_cli", "depmod_main"),
    "update-grub": ("grub_cli", "update_grub_main"),
    "grubby": ("bls", "grubby_main"),
    "kdump-config": ("kdump_cli", "main"),
    "kdumpctl": ("kdumpctl_cli", "main"),
    "update-initramfs": ("initramfs", "update_initramfs_main"),
    "lsinitramfs": ("initramfs", "lsinitramfs_main"),
    "dracut": ("initramfs", "dracut_main"),
    "lsinitrd": ("initramfs", "lsinitrd_main"),
    "multipath": ("storage", "multipath_main"),
    "multipathd": ("storage", "multipathd_main"),
    "sysctl": ("sysctl", "main"),
    "systemd-pstore": ("pstore", "archive_main"),
}
# Where each stand-in is installed in a host's /usr, per OS family; the other names reach these through
# Debian's links. kdump-config and kdumpctl come with the lab's kdump-tools and kexec-tools packages.
# sysctl: the machine's kernel settings are not per namespace; the lab's writes only the per-host fakes.
INSTALLED = {
    "usr/bin/systemctl",
    "usr/bin/kmod",
    "usr/sbin/update-grub",
    "usr/sbin/sysctl",
    "usr/lib/systemd/systemd-pstore",
}
INSTALLED_BY_FAMILY = {
    "debian": {"usr/sbin/update-initramfs", "usr/bin/lsinitramfs"},
    "el": {"usr/bin/dracut", "usr/bin/lsinitrd", "usr/sbin/grubby"},  # grubby: EL's alone, as on real hosts
}
# multipath-tools' commands, installed only on hosts whose scenario gives them multipath maps
MULTIPATH_TOOLS = {"usr/sbin/multipath", "usr/sbin/multipathd"}


def _run(name: str, args: list[str]) -> int:
    module, function = COMMANDS[name]
    tool = getattr(__import__(f"{__package__}.{module}", fromlist=[function]), function)
    return int(tool(args))


def main() -> int:
    name = os.path.basename(sys.argv[0])
    args = sys.argv[1:]
    if name == "kmod":
        if not args or args[0] not in ("list", "static-nodes"):
            print("kmod: missing command\nUsage: kmod [options] command [command_options]", file=sys.stderr)
            return 1
        return _run("lsmod", args[1:])
    if name not in COMMANDS:
        print(f"{name}: not available in this lab host", file=sys.stderr)
        return 127
    try:
        return _run(name, args)
    except BrokenPipeError:
        return 0

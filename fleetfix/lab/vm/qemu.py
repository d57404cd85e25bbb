"""One QEMU guest: its command line, starting it detached with a recorded PID, its monitor, stopping it.

TCG with ``-cpu max`` (KVM is not relied on), two vCPUs on separate host threads so that fxhba's queues
really run at the same time, user networking with only ssh forwarded from a loopback port, the serial
console in a file. The guest boots either directly (QEMU loads the image's kernel and initrd, and the
command line comes from here) or through the GRUB on its disk, which loads whatever its /boot holds.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Sequence
from pathlib import Path

from fleetfix.errors import EnvironmentProblem
from fleetfix.lab.vm import hostcmd
from fleetfix.lab.vm.layout import ImageFiles, VmFiles

TOOLS = {"qemu-system-x86_64": "qemu-system-x86", "qemu-img": "qemu-utils", "ssh": "openssh-client"}
MEMORY_MB = 2048
CPUS = 2
CRASHKERNEL = "256M"
KERNEL_ARGS = f"root=/dev/vda1 rw console=ttyS0 crashkernel={CRASHKERNEL}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def process_name(vm_name: str) -> str:
    """QEMU's -name: how a recorded PID is recognised as this VM's QEMU and not a reused number."""
    return f"fleetfix-vm-{vm_name}"


def _direct_boot(image: ImageFiles, extra_kernel_args: Sequence[str]) -> list[str]:
    """QEMU loads the kernel and initrd the image was built with; ``extra_kernel_args`` follow the lab's own
    on the kernel command line (what an operator would put in the boot loader's defaults)."""
    append = " ".join([KERNEL_ARGS, *extra_kernel_args])
    return ["-kernel", str(image.kernel), "-initrd", str(image.initrd), "-append", append]


def argv(
    vm_name: str,
    image: ImageFiles,
    files: VmFiles,
    ssh_port: int,
    extra_kernel_args: Sequence[str] = (),
    boot_loader: bool = False,
) -> list[str]:
    """QEMU's command line. With ``boot_loader`` the firmware boots the disk's GRUB, and the kernel's command
    line is the guest's own /etc/default/grub: ``extra_kernel_args`` cannot be given."""
    if boot_loader and extra_kernel_args:
        raise ValueError("a guest booted through its boot loader takes its kernel arguments from grub")
    return [
        "qemu-system-x86_64",
        "-name",
        process_name(vm_name),
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-accel",
        "tcg,thread=multi",
        "-cpu",
        "max",
        "-smp",
        str(CPUS),
        "-m",
        str(MEMORY_MB),
        *([] if boot_loader else _direct_boot(image, extra_kernel_args)),
        "-drive",
        f"file={files.overlay},if=virtio,format=qcow2,cache=unsafe",
        # restrict=off keeps 10.0.2.2 (the host's loopback) reachable for netconsole; the guest has no
        # route past its own /24, so nothing beyond the host is reachable.
        "-netdev",
        f"user,id=net0,restrict=off,hostfwd=tcp:127.0.0.1:{ssh_port}-:22",
        "-device",
        "virtio-net-pci,netdev=net0",
        "-serial",
        f"file:{files.console}",
        "-monitor",
        f"unix:{files.monitor},server=on,wait=off",
        "-pidfile",
        str(files.pid),
        "-daemonize",
    ]


def make_overlay(image: ImageFiles, files: VmFiles) -> None:
    """A fresh copy-on-write disk over the image: every boot of ``up`` starts from the built image."""
    files.overlay.unlink(missing_ok=True)
    backing = ["-F", "raw", "-b", str(image.disk)]
    create = ["qemu-img", "create", "-q", "-f", "qcow2", *backing, str(files.overlay)]
    hostcmd.run(create, "qemu-img create", 60)


def start(command: list[str], files: VmFiles) -> int:
    """Start QEMU detached; return its PID (from its pidfile)."""
    files.pid.unlink(missing_ok=True)
    hostcmd.run(command, "qemu-system-x86_64", 120)
    return int(files.pid.read_text().strip())


def alive(pid: int, vm_name: str) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return process_name(vm_name).encode() in cmdline


def monitor(files: VmFiles, command: str) -> None:
    """Send one human-monitor command (e.g. ``system_reset``)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(10)
            sock.connect(str(files.monitor))
            sock.recv(4096)  # the banner
            sock.sendall(f"{command}\n".encode())
            sock.recv(4096)
    except OSError as exc:
        raise EnvironmentProblem(f"QEMU monitor {files.monitor}: {exc.strerror or exc}") from None


def stop(pid: int, vm_name: str, timeout: float = 20) -> None:
    """SIGTERM (QEMU exits at once; the guest's disk is a throwaway overlay), then SIGKILL if it lingers."""
    if not alive(pid, vm_name):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid, vm_name):
            return
        time.sleep(0.2)
    os.kill(pid, signal.SIGKILL)

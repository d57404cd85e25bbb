"""The kernel surfaces a lab host sees: /proc and /sys as tmpfs trees of fakes beside links to the real ones.

The real procfs (of the host's own PID namespace) and sysfs (of its network namespace) are mounted at
``/proc/.kernel`` and ``/sys/.kernel``; every entry the lab does not fake is a symlink into them. Numbered
process entries are links made for every possible PID, which is why the namespace's pid_max is set low
first. Faked sysctl files are bind mounts over the real ones.
"""

from __future__ import annotations

import os
from pathlib import Path

from . import nscalls, sysctl

PID_MAX = 1024
EFI_SECURE_BOOT = "SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"
_OLD_KERNEL_PIDS = 32768


def _own_pid_max() -> bool:
    """Kernels from 6.14 keep pid_max per PID namespace; this runs before the release is faked."""
    major, minor = (int(part) for part in os.uname().release.split(".")[:2])
    return (major, minor) >= (6, 14)


_PROC_FAKES = {"modules", "cmdline", "version"}
# Faked where the host has it: mdstat exists only where the md driver is loaded (the host has arrays).
_PROC_OPTIONAL = {"mdstat"}
_SYSCTL_FAKES = (
    "sys/kernel/tainted",
    "sys/kernel/osrelease",
    "sys/kernel/version",
    "sys/kernel/random/boot_id",
)
_SYSCTL_PER_HOST = set(sysctl.PER_HOST.values())


def mirror(real: Path, fake: Path, link_prefix: str, skip: set[str]) -> None:
    """Fill ``fake`` with a symlink ``link_prefix/<name>`` per entry of ``real`` not in ``skip``."""
    fake.mkdir(parents=True, exist_ok=True)
    names = os.listdir(real) if real.is_dir() else []
    for name in names:
        if name not in skip and not (fake / name).exists():
            os.symlink(f"{link_prefix}/{name}", fake / name)


def build_proc(files: dict[str, str]) -> None:
    """tmpfs /proc: links into the real procfs, fake modules/cmdline/version, bind-mounted sysctl fakes."""
    nscalls.mount("tmpfs", "/proc", "tmpfs", nscalls.MS_NOSUID | nscalls.MS_NODEV, "mode=555")
    real = Path("/proc/.kernel")
    real.mkdir()
    nscalls.mount("proc", str(real), "proc", nscalls.MS_NOSUID | nscalls.MS_NODEV | nscalls.MS_NOEXEC)
    pid_limit = PID_MAX
    if _own_pid_max():
        (real / "sys/kernel/pid_max").write_text(f"{PID_MAX}\n")
    else:  # before 6.14 pid_max is machine-wide: leave it, and link what PIDs a small host plausibly uses
        pid_limit = min(int((real / "sys/kernel/pid_max").read_text()), _OLD_KERNEL_PIDS)
    mirror(
        real,
        Path("/proc"),
        ".kernel",
        _PROC_FAKES | _PROC_OPTIONAL | {n for n in os.listdir(real) if n.isdigit()},
    )
    for pid in range(1, pid_limit + 1):
        os.symlink(f".kernel/{pid}", f"/proc/{pid}")
    for name in _PROC_FAKES:
        Path("/proc", name).write_text(files.get(name, ""))
    for name in _PROC_OPTIONAL & set(files):
        Path("/proc", name).write_text(files[name])
    store = Path("/run/fleetfix-lab/sysctl")
    store.mkdir(parents=True, exist_ok=True)
    for rel in _SYSCTL_FAKES:
        source = store / rel.replace("/", "_")
        source.write_text(files[rel])
        nscalls.mount(str(source), str(real / rel), None, nscalls.MS_BIND)
    # Settings a test may write (panic_on_oops...): faked where this kernel has them. Where it has not,
    # the host has no such file either, and a write fails as it would there: never the machine's own value.
    for rel in sorted(set(files) & _SYSCTL_PER_HOST):
        if (real / rel).is_file():
            source = store / rel.replace("/", "_")
            source.write_text(files[rel])
            nscalls.mount(str(source), str(real / rel), None, nscalls.MS_BIND)


def build_firmware(secure_boot: dict | None) -> None:
    """/sys/firmware without the machine's own efi/ (never its efivars), and the host's own: a UEFI boot's
    SecureBoot variable (4 attribute bytes, then 1 or 0) when the scenario gives one."""
    real = Path("/sys/.kernel/firmware")
    mirror(real, Path("/sys/firmware"), "../.kernel/firmware", {"efi"})
    if secure_boot is not None:
        efivars = Path("/sys/firmware/efi/efivars")
        efivars.mkdir(parents=True)
        value = b"\x06\x00\x00\x00" + (b"\x01" if secure_boot["enabled"] else b"\x00")
        (efivars / EFI_SECURE_BOOT).write_bytes(value)


def build_lockdown(mode: str) -> None:
    """/sys/kernel/security with the host's own lockdown file (``[none] integrity confidentiality``)."""
    real = Path("/sys/.kernel/kernel/security")
    mirror(real, Path("/sys/kernel/security"), "../../.kernel/kernel/security", {"lockdown"})
    modes = ("none", "integrity", "confidentiality")
    Path("/sys/kernel/security/lockdown").write_text(
        " ".join(f"[{m}]" if m == mode else m for m in modes) + "\n"
    )


def build_sys(
    hba_tree: dict[str, str | None], kernel_files: dict[str, str], secure_boot: dict | None = None
) -> None:
    """tmpfs /sys: links into the real sysfs; fake module/, block/, kernel/, firmware/ files and the HBA
    device tree.

    ``hba_tree`` maps paths under /sys to file content, or to None for a directory, or to "->target"
    for a symlink; the lab's module loader fills /sys/module afterwards. ``secure_boot``
    (``{"enabled": bool, "lockdown": mode}``, None for a BIOS boot) sets the firmware and lockdown files.
    """
    nscalls.mount("tmpfs", "/sys", "tmpfs", nscalls.MS_NOSUID | nscalls.MS_NODEV, "mode=755")
    real = Path("/sys/.kernel")
    real.mkdir()
    nscalls.mount("sysfs", str(real), "sysfs", nscalls.MS_NOSUID | nscalls.MS_NODEV | nscalls.MS_NOEXEC)
    composed = {"module", "block", "kernel", "class", "bus", "devices", "firmware"}
    mirror(real, Path("/sys"), ".kernel", composed)
    Path("/sys/module").mkdir()
    Path("/sys/block").mkdir()
    mirror(real / "kernel", Path("/sys/kernel"), "../.kernel/kernel", {"config", "security", *kernel_files})
    Path("/sys/kernel/config").mkdir()
    build_lockdown(secure_boot["lockdown"] if secure_boot else "none")
    build_firmware(secure_boot)
    for name, content in kernel_files.items():
        Path("/sys/kernel", name).write_text(content)
    mirror(real / "class", Path("/sys/class"), "../.kernel/class", {"block", "scsi_host", "tty"})
    Path("/sys/class/block").mkdir()
    Path("/sys/class/scsi_host").mkdir()
    # the host's own consoles (class/tty/console/active) beside the machine's tty devices
    mirror(real / "class/tty", Path("/sys/class/tty"), "../../.kernel/class/tty", {"console"})
    mirror(real / "bus", Path("/sys/bus"), "../.kernel/bus", {"pci", "scsi"})
    mirror(real / "bus/pci", Path("/sys/bus/pci"), "../../.kernel/bus/pci", {"drivers", "devices"})
    mirror(real / "bus/pci/drivers", Path("/sys/bus/pci/drivers"), "../../../.kernel/bus/pci/drivers", set())
    mirror(real / "bus/pci/devices", Path("/sys/bus/pci/devices"), "../../../.kernel/bus/pci/devices", set())
    mirror(real / "devices", Path("/sys/devices"), "../.kernel/devices", set())
    for rel, content in sorted(hba_tree.items()):
        path = Path("/sys", rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        if content is None:
            path.mkdir(exist_ok=True)
        elif content.startswith("->"):
            if not path.is_symlink():
                os.symlink(content[2:], path)
        else:
            path.write_text(content)

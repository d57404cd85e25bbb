"""PID 1 of a lab host: one boot, from mounting the host's layers to sshd, then reaping until shutdown.

It runs on the host's own /usr/bin/python3, already inside the host's namespaces. Every boot reads the
host's disks as a real boot would: the command line and kernel release from the default boot entry (BLS
on EL, /boot/grub/grub.cfg on Debian), the boot disk's driver from the kernel's initramfs and the other
modules from the installed files (so an upgraded driver package takes effect), the enabled units from
/etc/systemd/system. Exit status 0 asks for the next boot, POWEROFF for none.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from . import bls, hardware, initramfs, nscalls, pstore, storage, sysctl, views
from .kmod import Kernel, KeyRequired
from .units import Units

POWEROFF = 3
LAYERS = ("etc", "usr", "var", "boot")
_KEEP_TOP = {*LAYERS, "proc", "sys", "dev", "run", "tmp", "root"}
_REPO = "/var/lib/fleetfix-lab/repo"
_DEV_NODES = {
    "null": (1, 3),
    "zero": (1, 5),
    "full": (1, 7),
    "random": (1, 8),
    "urandom": (1, 9),
    "tty": (5, 0),
}


class _Shutdown(Exception):
    pass


def crash_size(args: str, ram_bytes: int) -> int:
    """Bytes reserved by crashkernel=: a plain size, or the range form ``start-[end]:size,...``."""
    match = re.search(r"(?:^|\s)crashkernel=(\S+)", args)
    if not match:
        return 0

    def size(text: str) -> int:
        m = re.fullmatch(r"(\d+)([KMG]?)", text.split("@")[0])
        return int(m.group(1)) << {"": 0, "K": 10, "M": 20, "G": 30}[m.group(2)] if m else 0

    value = match.group(1)
    if ":" not in value:
        return 192 << 20 if value == "auto" else size(value)
    for part in value.split(","):
        span, amount = part.split(":", 1)
        start, _, end = span.partition("-")
        if size(start) <= ram_bytes and (not end or ram_bytes < size(end)):
            return size(amount)
    return 0


def _mounts(host_dir: Path, repo_dir: str) -> None:
    nscalls.mount("none", "/", None, nscalls.MS_REC | nscalls.MS_PRIVATE)
    for layer in LAYERS:
        options = f"lowerdir=/{layer},upperdir={host_dir}/upper/{layer},workdir={host_dir}/work/{layer}"
        nscalls.mount("overlay", f"/{layer}", "overlay", 0, options)
    nscalls.mount(repo_dir, _REPO, None, nscalls.MS_BIND)
    nscalls.mount("none", _REPO, None, nscalls.MS_BIND | nscalls.MS_REMOUNT | nscalls.MS_RDONLY)
    pstore.bind_memory(host_dir)
    hidden = [e for e in os.scandir("/") if e.is_dir(follow_symlinks=False) and e.name not in _KEEP_TOP]
    for entry in hidden:
        nscalls.mount("tmpfs", entry.path, "tmpfs", 0, "mode=755,size=16m")
    nscalls.mount("tmpfs", "/run", "tmpfs", nscalls.MS_NOSUID | nscalls.MS_NODEV, "mode=755,size=64m")
    nscalls.mount("tmpfs", "/tmp", "tmpfs", nscalls.MS_NOSUID | nscalls.MS_NODEV, "mode=1777,size=256m")
    nscalls.mount("tmpfs", "/root", "tmpfs", 0, "mode=700,size=64m")


def _dev(controllers: list[dict]) -> None:
    nscalls.mount("tmpfs", "/dev", "tmpfs", nscalls.MS_NOSUID, "mode=755,size=1m")
    for name, (major, minor) in _DEV_NODES.items():
        os.mknod(f"/dev/{name}", 0o666 | 0o020000, os.makedev(major, minor))
        os.chmod(f"/dev/{name}", 0o666)  # past the umask: every user opens /dev/null read-write (scp, sftp)
    for ctl in controllers:
        for disk in ctl["disks"]:
            os.mknod(f"/dev/{disk['name']}", 0o660 | 0o060000, os.makedev(disk["major"], disk["minor"]))
    for name in ("pts", "shm"):
        os.mkdir(f"/dev/{name}")
    nscalls.mount(
        "devpts",
        "/dev/pts",
        "devpts",
        nscalls.MS_NOSUID | nscalls.MS_NOEXEC,
        "newinstance,ptmxmode=0666,mode=620",
    )
    nscalls.mount("tmpfs", "/dev/shm", "tmpfs", nscalls.MS_NOSUID | nscalls.MS_NODEV, "mode=1777,size=64m")
    links = {
        "ptmx": "pts/ptmx",
        "fd": "/proc/self/fd",
        "stdin": "/proc/self/fd/0",
        "stdout": "/proc/self/fd/1",
    }
    links["stderr"] = "/proc/self/fd/2"
    for name, target in links.items():
        os.symlink(target, f"/dev/{name}")


def _modules_to_load(controllers: list[dict]) -> list[str]:
    names = [c["driver"] for c in controllers]
    sources = [Path("/etc/modules"), *sorted(Path("/etc/modules-load.d").glob("*.conf"))]
    for source in sources:
        if source.is_file():
            for line in source.read_text(errors="replace").splitlines():
                word = line.split("#", 1)[0].strip()
                if word and word not in names:
                    names.append(word)
    return names


def _modprobe_options(name: str) -> dict[str, str]:
    options: dict[str, str] = {}
    for conf in sorted(Path("/etc/modprobe.d").glob("*.conf")):
        for line in conf.read_text(errors="replace").splitlines():
            parts = line.split()
            if len(parts) > 2 and parts[0] == "options" and parts[1] == name:
                options |= dict(p.split("=", 1) for p in parts[2:] if "=" in p)
    return options


def active_consoles(args: str) -> str:
    """/sys/class/tty/console/active for this command line: its console= ports in order (the last one is
    /dev/console), tty0 without any."""
    ports = [word.split("=", 1)[1].split(",", 1)[0] for word in args.split() if word.startswith("console=")]
    return " ".join(dict.fromkeys(p for p in ports if p)) or "tty0"


def boot(host_dir: Path) -> None:
    spec = json.loads((host_dir / "boot.json").read_text())
    controllers = json.loads((host_dir / "upper/usr/lib/fleetfix-lab/hardware.json").read_text())[
        "controllers"
    ]
    # read before the host's root replaces the controller's view of host_dir
    disks = storage.load(host_dir / "upper" / storage.STORAGE_FILE.relative_to("/"))
    md_files = {"mdstat": storage.mdstat(disks)} if disks["md"] else {}
    nscalls.prctl(nscalls.PR_SET_NAME, b"systemd")
    _mounts(host_dir, spec["repo_dir"])
    _dev(controllers)
    image, args = bls.default_boot()
    release = image.rsplit("vmlinuz-", 1)[-1]
    version = spec["kernel_version"]
    views.build_proc(
        {
            "cmdline": f"BOOT_IMAGE={image} {args}\n",
            "version": f"Linux version {release} {spec['kernel_build']} {version}\n",
            "modules": "",
            "sys/kernel/tainted": "0\n",
            "sys/kernel/osrelease": f"{release}\n",
            "sys/kernel/version": f"{version}\n",
            "sys/kernel/random/boot_id": f"{uuid.uuid4()}\n",
        }
        | md_files
        | sysctl.at_boot(spec.get("sysctl", {}))
    )
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    kexec = {
        "kexec_crash_size": f"{crash_size(args, ram)}\n",
        "kexec_crash_loaded": "0\n",
        "kexec_loaded": "0\n",
    }
    consoles = {"class/tty/console/active": f"{active_consoles(args)}\n"}
    views.build_sys(
        hardware.sysfs_tree(controllers) | consoles | pstore.sys_files(args), kexec, spec.get("secure_boot")
    )
    pstore.mount_sysfs()
    nscalls.sethostname(spec["name"])
    for directory in ("/run/sshd", "/run/systemd/system", "/run/lock", "/root/.ssh"):
        os.makedirs(directory, exist_ok=True)
    Path("/root/.ssh/authorized_keys").write_text(spec["authorized_key"] + "\n")
    os.chmod("/root/.ssh/authorized_keys", 0o600)
    kernel = Kernel()
    early = {c["driver"] for c in controllers if c["boot_disk"]}
    for name in _modules_to_load(controllers):
        try:
            # The boot disk's driver comes from the initramfs, before the root file system is there.
            copy = initramfs.module_copy(release, name) if name in early else None
            kernel.load(name, _modprobe_options(name), copy)
        except (LookupError, ValueError, KeyRequired) as exc:
            print(f"modules-load: {exc}", flush=True)
    units = Units()
    for unit in units.enabled_at_boot():
        units.start(unit)
    if spec["state"] == "up":
        subprocess.Popen(["/usr/sbin/sshd", "-D", "-e"], stdin=subprocess.DEVNULL)
    Path("/run/fleetfix-lab/booted").write_text(f"{time.time()}\n")


def _on_term(_signum: int, _frame: object) -> None:
    raise _Shutdown


def main(host_dir: str) -> int:
    signal.signal(signal.SIGTERM, _on_term)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        boot(Path(host_dir))
        while True:
            try:
                os.waitpid(-1, 0)
            except ChildProcessError:
                signal.pause()
    except _Shutdown:
        pass
    request = Path("/run/fleetfix-lab/power")
    action = request.read_text().strip() if request.is_file() else "reboot"
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    for signum in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(-1, signum)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    sys.stdout.flush()
    return POWEROFF if action == "poweroff" else 0

"""Starting one boot of a lab host: a process entering the host's netns and fresh mount, UTS, IPC, PID and
time namespaces, that becomes the host's PID 1 running the guest init on the host's own Python."""

from __future__ import annotations

import os
import time
from pathlib import Path

from fleetfix.lab.guest import nscalls

_BOOT_SECONDS = 15  # the host's uptime when its init starts, as after firmware and kernel start
_FLAGS = nscalls.CLONE_NEWNS | nscalls.CLONE_NEWUTS | nscalls.CLONE_NEWIPC | nscalls.CLONE_NEWPID
_FLAGS |= nscalls.CLONE_NEWTIME


_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}


def _bootstrap(host_dir: Path) -> bytes:
    """The program PID 1 reads on its standard input, so that its command line is just /sbin/init."""
    guest = host_dir / "upper/usr/lib/fleetfix-lab"
    return (
        f"import sys\nsys.path.insert(0, {str(guest)!r})\n"
        f"from fleetfix_guest import init\nsys.exit(init.main({str(host_dir)!r}))\n"
    ).encode()


def start(netns: str, host_dir: Path) -> tuple[int, float]:
    """Fork the host's PID 1; returns its PID (as seen here) and the boot-time offset of its clocks.

    The calling process must be a child subreaper: the intermediate process exits once PID 1 exists.
    """
    uptime = time.clock_gettime(time.CLOCK_BOOTTIME)
    offset = int(uptime) - _BOOT_SECONDS
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            os.close(read_end)
            nscalls.setns(f"/run/netns/{netns}", nscalls.CLONE_NEWNET)
            nscalls.unshare(_FLAGS)
            with open("/proc/self/timens_offsets", "w") as offsets:
                offsets.write(f"monotonic -{offset} 0\nboottime -{offset} 0\n")
            pid = os.fork()
            if pid == 0:
                console = os.open(host_dir / "console.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                program_read, program_write = os.pipe()
                os.write(program_write, _bootstrap(host_dir))
                os.close(program_write)
                os.dup2(program_read, 0)
                os.dup2(console, 1)
                os.dup2(console, 2)
                os.closerange(3, 1 << 16)
                os.setsid()
                os.chdir("/")
                os.execve("/usr/bin/python3", ["/sbin/init"], _ENV)
            os.write(write_end, str(pid).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        text = pipe.read()
    os.waitpid(child, 0)
    if not text:
        raise OSError(f"{netns}: could not start the host's init")
    return int(text), float(offset)


def start_time(pid: int) -> int | None:
    """The process start time (clock ticks since boot) that tells a PID from a later reuse of it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] == "Z" else int(fields[19])  # a zombie has ended, whoever reaps it

"""The per-lab daemon: boots every host, boots it again when it reboots or panics, and plays the faults.

It is the hosts' parent (a child subreaper), so a host's PID 1 exiting is a reboot (status 0, or a kill) or
a power-off (status POWEROFF). Twice a second it looks at the processes of each host whose loaded module
build has a fault; a matching fio workload sustained long enough panics that host. State for ``lab
status`` goes to status.json: PIDs with their start times, so that nothing but these processes is ever
killed by ``lab down``.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from fleetfix.lab import faults, hostproc, panic
from fleetfix.lab.guest import init as guest_init
from fleetfix.lab.guest import nscalls
from fleetfix.lab.layout import Layout
from fleetfix.lab.scenario import Workload

_TICK = 0.5


@dataclass
class HostRun:
    name: str
    netns: str
    ip: str
    dir: Path
    kernel_version: str
    pid: int | None = None
    start: int | None = None
    offset: float = 0.0
    state: str = "booting"  # booting, up, down (no sshd by design), off (powered off)
    boots: int = 0
    panics: int = 0
    seen_since: float | None = None
    last_panic: str | None = None
    want_sshd: bool = True
    fault_disks: dict[str, list[str]] = field(default_factory=dict)


class Supervisor:
    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        state = layout.read_state() or {}
        self.faults = state.get("faults", [])
        self.hosts = {
            name: HostRun(
                name,
                h["netns"],
                h["ip"],
                layout.host_dir(name),
                h["kernel_version"],
                want_sshd=h["state"] == "up",
                fault_disks=h["disks_by_module"],
            )
            for name, h in state.get("hosts", {}).items()
        }
        self.stopping = False

    def boot(self, host: HostRun) -> None:
        host.pid, host.offset = hostproc.start(host.netns, host.dir)
        host.start = hostproc.start_time(host.pid)
        host.state = "booting"
        host.boots += 1
        host.seen_since = None

    def root(self, host: HostRun) -> Path:
        return Path(f"/proc/{host.pid}/root")

    def _booted(self, host: HostRun) -> bool:
        return (self.root(host) / "run/fleetfix-lab/booted").exists()

    def refresh(self, host: HostRun) -> None:
        if host.state == "booting" and host.pid and self._booted(host):
            host.state = "up" if host.want_sshd else "down"

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            host = next((h for h in self.hosts.values() if h.pid == pid), None)
            if host is None or self.stopping:
                continue
            host.pid = host.start = None
            if os.WIFEXITED(status) and os.WEXITSTATUS(status) == guest_init.POWEROFF:
                host.state = "off"
            else:
                self.boot(host)

    def watch_faults(self, host: HostRun) -> None:
        if host.state != "up" or not self.faults:
            host.seen_since = None
            return
        root = self.root(host)
        fault = self._armed_fault(root)
        if fault is None:
            host.seen_since = None
            return
        workload = Workload(**fault["workload"])
        disks = set(host.fault_disks.get(fault["module"], []))
        running = self._matching_fio(root, workload, disks)
        if running is None:
            host.seen_since = None
            return
        now = time.monotonic()
        host.seen_since = host.seen_since or now
        if now - host.seen_since >= workload.sustain_seconds:
            self.panic(host, fault, running)

    def _armed_fault(self, root: Path) -> dict | None:
        for fault in self.faults:
            moddir = root / "sys/module" / fault["module"]
            try:
                version = (moddir / "version").read_text().strip()
                srcversion = (moddir / "srcversion").read_text().strip()
            except OSError:
                continue
            if fault.get("version") in (None, version) and fault.get("srcversion") in (None, srcversion):
                return fault
        return None

    def _matching_fio(self, root: Path, workload: Workload, disks: set[str]) -> int | None:
        procs = root / "proc/.kernel"
        try:
            pids = [p for p in os.listdir(procs) if p.isdigit()]
        except OSError:
            return None
        for pid in pids:
            try:
                argv = (procs / pid / "cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]
                cwd = os.readlink(procs / pid / "cwd")
            except OSError:
                continue
            if not argv or os.path.basename(argv[0]) != "fio":
                continue

            def read(path: str, cwd: str = cwd) -> str:
                return (root / os.path.join(cwd, path).lstrip("/")).read_text()

            if any(faults.matches(job, workload, disks) for job in faults.jobs(argv, read)):
                return int(pid)
        return None

    def panic(self, host: HostRun, fault: dict, pid: int) -> None:
        root = self.root(host)
        uptime = time.clock_gettime(time.CLOCK_BOOTTIME) - host.offset
        lines = panic.oops_lines(root, fault["module"], fault["kind"], pid, uptime, host.kernel_version)
        panic.save_pstore(root, host.dir / "pstore", lines, time.time())
        dump = panic.save_dump(root, lines)
        shipped = panic.ship_dump(host.pid, host.netns, host.ip, host.name, root, lines)
        panic.send_netconsole(host.netns, host.ip, panic.netconsole_targets(root), lines)
        with open(host.dir / "console.log", "a") as console:
            console.write("\n".join(lines) + "\n")
        host.panics += 1
        host.last_panic = str(dump.relative_to(root)) if dump else shipped or "no dump (kdump not loaded)"
        os.kill(host.pid, signal.SIGKILL)

    def write_status(self) -> None:
        status = {
            "supervisor": os.getpid(),
            "hosts": {
                h.name: {
                    "pid": h.pid,
                    "start": h.start,
                    "state": h.state,
                    "boots": h.boots,
                    "panics": h.panics,
                    "last_panic": h.last_panic,
                }
                for h in self.hosts.values()
            },
        }
        tmp = self.layout.status_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(status, indent=1))
        tmp.replace(self.layout.status_file)

    def stop(self, *_: object) -> None:
        self.stopping = True

    def run(self) -> None:
        nscalls.prctl(nscalls.PR_SET_CHILD_SUBREAPER, 1)
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        for host in self.hosts.values():
            self.boot(host)
        while not self.stopping:
            self.reap()
            for host in self.hosts.values():
                self.refresh(host)
                self.watch_faults(host)
            self.write_status()
            time.sleep(_TICK)
        for host in self.hosts.values():
            if host.pid:
                os.kill(host.pid, signal.SIGKILL)
        for host in self.hosts.values():
            if host.pid:
                os.waitpid(host.pid, 0)


def main() -> None:
    Supervisor(Layout(sys.argv[1])).run()


if __name__ == "__main__":
    main()

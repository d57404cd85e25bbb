"""The audit as a user waits for it, against an Ansible ping of the same lab hosts (root; the lab).

For N lab hosts (default 30 and 100, from the `large` scenario, grown in proportion beyond its 103 hosts)
it times two commands, each a fresh process as a user would start it, with the project's ansible.cfg and
the same forks:

- `fleetfix audit -i INV --format json`: inventory resolution, advisory loading, the facts play through
  ansible-runner, event handling and the report, written to stdout;
- `ansible all -i INV -m ping`: the floor, one module round trip per host.

Once the lab is up the bench waits for the load average to settle (hundreds of hosts booting at once keep
the machine busy for minutes). After a warm-up of each (which opens the ssh control connections both then
reuse), the two run interleaved, A B A B ..., `--repeat` times each, so that the noise of a shared machine
falls on both alike. It prints the median wall time of each and their ratio (target: audit / ping <= 1.1),
and the controller CPU each used (user + system of every child process the command waited for, from the
children's rusage), per host, and the CPU the lab's hosts spent meanwhile (every process in their PID
namespaces, with what each waited for: the modules, the shells and sshd that ran them), per host. The load
average is printed beside the figures: on a loaded machine, read the CPU ratios as well. The lab's time to
come up and the memory it took (MemAvailable before and after, per host) come first.

    sudo PYTHONPATH=$PWD .venv/bin/python bench/audit_vs_ping.py [--hosts 30 100] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from fleetfix.ansible.runner import MAX_FORKS, ansible_executable
from fleetfix.lab import Lab
from fleetfix.state import paths

TARGET = 1.1


@dataclass(frozen=True)
class Sample:
    wall: float
    cpu: float  # user + system seconds of the command's waited-for children
    host_cpu: float  # user + system seconds spent in the lab's hosts meanwhile


_TICKS = os.sysconf("SC_CLK_TCK")


def _host_cpu(namespaces: set[str]) -> float:
    """CPU seconds of every process in these PID namespaces, with what each has waited for (utime, stime,
    cutime and cstime of /proc/PID/stat): a module's process ends in its host, reaped by one that stays."""
    ticks = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{pid}/ns/pid") not in namespaces:
                continue
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        ticks += sum(int(field) for field in fields[11:15])
    return ticks / _TICKS


def _timed(command: list[str], env: dict[str, str], ok: set[int], namespaces: set[str]) -> Sample:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    host_before = _host_cpu(namespaces)
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, check=False)
    wall = time.perf_counter() - start
    host_cpu = _host_cpu(namespaces) - host_before
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in ok:
        said = done.stderr.decode(errors="replace")[-400:] or _failed_hosts(done.stdout)
        sys.exit(f"bench: {' '.join(command[:4])} ... exited {done.returncode}: {said}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Sample(wall, cpu, host_cpu)


def _failed_hosts(stdout: bytes, shown: int = 3) -> str:
    """The hosts a run could not reach, from the audit's JSON report or ping's UNREACHABLE lines."""
    try:
        hosts = json.loads(stdout)["hosts"]
        failed = [f"{h['host']}: {h.get('message') or h['status']}" for h in hosts if h["status"] != "ok"]
    except (ValueError, KeyError, TypeError):
        lines = stdout.decode(errors="replace").splitlines()
        failed = [line.strip() for line in lines if "UNREACHABLE" in line or "FAILED" in line]
    return f"{len(failed)} hosts failed: {'; '.join(failed[:shown])}" if failed else "no message"


def _commands(inventory: Path, forks: int, state_dir: Path) -> dict[str, tuple[list[str], dict[str, str]]]:
    repo = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(repo), "FLEETFIX_STATE_DIR": str(state_dir)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # fleetfix's bytecode cached, as an installed package has it
    ping_env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(paths.content_dir() / "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": str(paths.collections_dir()),
    }
    audit = [sys.executable, "-m", "fleetfix.cli", "audit", "-i", str(inventory), "--format", "json"]
    ping = [ansible_executable("ansible"), "all", "-i", str(inventory), "-m", "ping", "-f", str(forks)]
    return {"audit": (audit, env), "ping": (ping, ping_env)}


def _load() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def _settle(limit: float = 600.0) -> float:
    """Wait (at most ``limit`` s) until the one-minute load average falls to twice the cores: hosts that
    have just booted by the hundred still start their services, and a run timed then measures that."""
    started, ceiling = time.perf_counter(), 2.0 * (os.cpu_count() or 1)
    while os.getloadavg()[0] > ceiling and time.perf_counter() - started < limit:
        time.sleep(5)
    return time.perf_counter() - started


def _available_mib() -> float:
    """MemAvailable of /proc/meminfo: what the lab's hosts take is what it loses (other work aside)."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(hosts: int, repeat: int) -> None:
    lab = Lab(f"bench{hosts}")
    started, available = time.perf_counter(), _available_mib()
    lab.up("large", hosts)
    taken = available - _available_mib()
    print(
        f"{hosts} hosts: lab up in {time.perf_counter() - started:.1f} s, "
        f"memory {taken:.0f} MiB ({taken / hosts:.1f} MiB/host)",
        flush=True,
    )
    namespaces = {os.readlink(f"/proc/{pid}/ns/pid") for pid in lab.host_pids().values()}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            inventory = lab.write_inventory(Path(tmp) / "inventory.yml")
            commands = _commands(inventory, min(hosts, MAX_FORKS), Path(tmp) / "state")
            ok = {"audit": {0, 1}, "ping": {0}}  # the large scenario has hosts at risk: the audit exits 1
            waited = _settle()  # before the load is read: an f-string reads its fields in order
            print(f"  load settled to {_load()} in {waited:.0f} s", flush=True)
            # warm-up: ssh control connections, page cache; a host slow to answer its first connection
            # (exit 4) is not the measurement, the timed runs must reach every host.
            for kind, (command, env) in commands.items():
                _timed(command, env, ok[kind] | {4}, namespaces)
            load_before = _load()
            samples: dict[str, list[Sample]] = {kind: [] for kind in commands}
            for _ in range(repeat):
                for kind, (command, env) in commands.items():
                    samples[kind].append(_timed(command, env, ok[kind], namespaces))
    finally:
        lab.down()
    wall = {kind: statistics.median(s.wall for s in values) for kind, values in samples.items()}
    cpu = {kind: statistics.median(s.cpu for s in values) for kind, values in samples.items()}
    host_cpu = {kind: statistics.median(s.host_cpu for s in values) for kind, values in samples.items()}
    print(f"{hosts} hosts, median of {repeat} interleaved runs (load average {load_before} -> {_load()}):")
    print(f"  wall: audit {wall['audit']:.2f} s, ping {wall['ping']:.2f} s")
    print(f"  audit / ping (wall) = {wall['audit'] / wall['ping']:.2f}   (target <= {TARGET})")
    print(
        f"  controller CPU: audit {cpu['audit']:.2f} s ({cpu['audit'] / hosts * 1000:.0f} ms/host), "
        f"ping {cpu['ping']:.2f} s ({cpu['ping'] / hosts * 1000:.0f} ms/host)"
    )
    print(f"  audit / ping (CPU)  = {cpu['audit'] / cpu['ping']:.2f}")
    print(
        f"  hosts' CPU: audit {host_cpu['audit']:.2f} s ({host_cpu['audit'] / hosts * 1000:.0f} ms/host), "
        f"ping {host_cpu['ping']:.2f} s ({host_cpu['ping'] / hosts * 1000:.0f} ms/host)"
    )
    print(f"  audit / ping (hosts' CPU) = {host_cpu['audit'] / host_cpu['ping']:.2f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, nargs="+", default=[30, 100])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/audit_vs_ping.py needs root: it brings up a lab fleet")
    for hosts in args.hosts:
        measure(hosts, args.repeat)


if __name__ == "__main__":
    main()

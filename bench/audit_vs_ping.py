"""Audit cost against an Ansible ping on the same lab hosts, and against the naive way (root; the lab).

For N lab hosts (default 30 and 100, from the `large` scenario) it times, through ansible-runner with the
project's ansible.cfg, in one run: `playbooks/audit.yml` (one facts module call per host), `ansible -m ping`,
and a naive audit (gather_facts plus one shell task per surface). Each is run `--repeat` times after a
warm-up that opens the ssh control connections; medians are compared. Targets: audit/ping <= 1.2,
naive/audit >= 4.

    sudo .venv/bin/python bench/audit_vs_ping.py [--hosts 30 100] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import ansible_runner

from fleetfix.ansible.runner import ansible_executable
from fleetfix.lab import Lab
from fleetfix.state import paths

SURFACES = [
    "cat /proc/modules 2>/dev/null; true",
    "cat /proc/cmdline",
    "cat /proc/sys/kernel/tainted",
    "cat /proc/sys/kernel/random/boot_id",
    "for m in /sys/module/*; do cat $m/version $m/srcversion 2>/dev/null; done; true",
    "cat /sys/kernel/kexec_crash_size /sys/kernel/kexec_crash_loaded 2>/dev/null; true",
    "systemctl is-enabled kdump-tools; systemctl is-active kdump-tools; true",
    "cat /etc/default/kdump-tools 2>/dev/null; true",
    "ls -R /sys/kernel/config/netconsole 2>/dev/null; true",
    "ls -l /sys/block/*/device 2>/dev/null; true",
    "cat /etc/crontab /etc/cron.d/* 2>/dev/null; true",
    "ls -l /var/crash 2>/dev/null; true",
]


def _naive_playbook(directory: Path) -> Path:
    tasks = "".join(
        f"    - name: Read surface {n}\n      ansible.builtin.shell: {cmd!r}\n      changed_when: false\n"
        for n, cmd in enumerate(SURFACES)
    )
    playbook = directory / "naive.yml"
    playbook.write_text(f"- name: Naive audit\n  hosts: all\n  gather_facts: true\n  tasks:\n{tasks}")
    return playbook


def _run(inventory: Path, forks: int, **what: object) -> float:
    env = {
        "ANSIBLE_CONFIG": str(paths.content_dir() / "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": str(paths.collections_dir()),
        "PATH": os.pathsep.join([str(Path(ansible_executable("ansible")).parent), os.environ["PATH"]]),
    }
    with tempfile.TemporaryDirectory() as data_dir:
        start = time.perf_counter()
        runner = ansible_runner.run(
            private_data_dir=data_dir,
            inventory=str(inventory),
            forks=forks,
            envvars=env,
            quiet=True,
            suppress_env_files=True,
            **what,
        )
        elapsed = time.perf_counter() - start
    if runner.rc != 0:
        sys.exit(f"bench run failed (rc {runner.rc}): {what}")
    return elapsed


def measure(hosts: int, repeat: int) -> None:
    lab = Lab(f"bench{hosts}")
    lab.up("large", hosts)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            inventory = lab.write_inventory(Path(tmp) / "inventory.yml")
            naive = _naive_playbook(Path(tmp))
            forks = min(hosts, 100)
            kinds = {
                "audit": {"playbook": str(paths.playbook("audit.yml"))},
                "ping": {"module": "ping", "host_pattern": "all"},
                "naive": {"playbook": str(naive)},
            }
            _run(inventory, forks, **kinds["ping"])  # warm-up: opens the ssh control connections
            times: dict[str, list[float]] = {kind: [] for kind in kinds}
            for _ in range(repeat):
                for kind, what in kinds.items():
                    times[kind].append(_run(inventory, forks, **what))
    finally:
        lab.down()
    median = {kind: statistics.median(values) for kind, values in times.items()}
    print(
        f"{hosts} hosts, median of {repeat}: audit {median['audit']:.2f} s, ping {median['ping']:.2f} s, "
        f"naive {median['naive']:.2f} s"
    )
    print(f"  audit / ping  = {median['audit'] / median['ping']:.2f}   (target <= 1.2)")
    print(f"  naive / audit = {median['naive'] / median['audit']:.2f}   (target >= 4)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, nargs="+", default=[30, 100])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/audit_vs_ping.py needs root: it brings up a lab fleet")
    for hosts in args.hosts:
        measure(hosts, args.repeat)


if __name__ == "__main__":
    main()

"""The audit's evaluation alone: 10,000 hosts x 150 loaded modules against 1,000 advisories (target < 1 s).

Hosts are built in memory as parsed ``HostFacts`` (what a facts run yields after JSON decoding): each loads
150 modules, a few of them storage drivers with advisories at one of a dozen builds, as real fleets do. The
figure is the judging cost (`Auditor.host` for every host); the time to validate the raw facts dicts into
dataclasses is printed beside it.

    .venv/bin/python bench/audit_eval.py [--hosts 10000] [--modules 150] [--advisories 1000] [--advised 5]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from advisory_match import (
    KERNELS,
    VERSIONS_PER_MODULE,
    _module_name,
    _srcversion,
    _version,
    build_synthetic_db,
)

from fleetfix.audit import Auditor
from fleetfix.facts.host import HostFacts

TARGET_SECONDS = 1.0


def _facts_dict(rng: random.Random, modules: int, advised: int, advised_pool: int) -> dict:
    chosen = set(rng.sample(range(advised_pool), advised))
    loaded = []
    for index in range(modules):
        module_index = index if index in chosen else advised_pool + index
        build = rng.randrange(VERSIONS_PER_MODULE)
        loaded.append(
            {
                "name": _module_name(module_index),
                "size": 65536,
                "refcount": 1,
                "used_by": [],
                "state": "Live",
                "taint": ["O", "E"] if index in chosen else [],
                "version": _version(module_index, build),
                "srcversion": _srcversion(module_index, build),
                "holds_boot_disk": False,
            }
        )
    no_netconsole = {
        "modprobe": None,
        "modprobe_file": None,
        "cmdline": None,
        "modules_load": False,
        "targets": [],
    }
    return {
        "schema": 1,
        "hostname": "h",
        "kernel": {"release": rng.choice(KERNELS), "version": "#1", "machine": "x86_64"},
        "os": {"id": "debian", "version_id": "12", "family": "debian"},
        "boot_id": "0" * 32,
        "uptime_seconds": 1.0,
        "tainted": {"value": 12288, "letters": ["O", "E"]},
        "module_support": True,
        "modules": loaded,
        "crash_capture": {
            "cmdline": "ro",
            "crashkernel": None,
            "kexec_crash_size": 0,
            "kexec_crash_loaded": False,
            "kdump_service": None,
            "kdump_config": None,
            "netconsole": {"module_loaded": False, "targets": [], "persistent": no_netconsole},
        },
        "block_devices": [],
        "scheduled_jobs": [],
        "crash_dumps": [],
        "errors": [],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--modules", type=int, default=150)
    parser.add_argument("--advisories", type=int, default=1_000)
    parser.add_argument("--advised", type=int, default=5, help="storage drivers with advisories per host")
    args = parser.parse_args()

    db = build_synthetic_db(args.advisories)
    rng = random.Random(7)
    raw = [_facts_dict(rng, args.modules, args.advised, 50) for _ in range(args.hosts)]
    start = time.perf_counter()
    facts = [HostFacts.from_dict(item, source="bench") for item in raw]
    parse_seconds = time.perf_counter() - start

    auditor = Auditor(db)
    start = time.perf_counter()
    reports = [auditor.host(f"host{i:05d}", item) for i, item in enumerate(facts)]
    judge_seconds = time.perf_counter() - start
    findings = sum(len(r.findings) for r in reports)

    print(f"{args.hosts} hosts x {args.modules} modules x {args.advisories} advisories, {findings} findings")
    print(
        f"evaluation (judge parsed facts): {judge_seconds:.3f} s  ratio to {TARGET_SECONDS:.0f} s target: "
        f"{judge_seconds / TARGET_SECONDS:.2f}"
    )
    print(f"facts validation (dicts -> HostFacts), not counted: {parse_seconds:.3f} s")


if __name__ == "__main__":
    main()

"""Advisory matching alone: 10,000 hosts x 150 loaded modules against 1,000 advisories, target < 1 s.

Everything is generated in memory (no YAML, no I/O) so the figure is the evaluation cost the audit pays on
top of collecting facts. Prints the time and its ratio to the target; `build_synthetic_db` and
`synthetic_hosts` are reusable by benchmarks of the full audit.

    .venv/bin/python bench/advisory_match.py [--hosts 10000] [--modules 150] [--advisories 1000]
"""

from __future__ import annotations

import argparse
import random
import time
from dataclasses import dataclass

from fleetfix.advisories.database import Advisory, AdvisoryDB, Affected, Trigger, VersionRange, VersionSet
from fleetfix.versions import DriverVersion

TARGET_SECONDS = 1.0
ADVISED_MODULES = 50  # storage drivers that have advisories; the rest of a host's modules have none
VERSIONS_PER_MODULE = 12  # a fleet runs a handful of builds of each driver
KERNELS = [
    "4.18.0-305.el8.x86_64",
    "4.18.0-513.5.1.el8_9.x86_64",
    "5.14.0-70.13.1.el9_0.x86_64",
    "5.14.0-362.8.1.el9_3.x86_64",
    "5.15.0-91-generic",
    "6.1.0-18-amd64",
    "6.1.0-21-amd64",
    "6.8.0-45-generic",
]


@dataclass(frozen=True, slots=True)
class SyntheticHost:
    name: str
    kernel: str
    modules: tuple[tuple[str, str, str], ...]  # (name, version, srcversion)


def _module_name(index: int) -> str:
    return f"drv{index:03d}"


def _version(module_index: int, build: int) -> str:
    return f"{module_index % 40 + 1}.{build // 4}.{build % 4 * 10:02d}-{build * 7:03d}"


def _srcversion(module_index: int, build: int) -> str:
    return f"{module_index * 7919 + build:012X}{build:012X}"[:24]


def build_synthetic_db(n: int, seed: int = 2) -> AdvisoryDB:
    """``n`` advisories over ADVISED_MODULES modules, mixing every kind of match."""
    rng = random.Random(seed)
    advisories = []
    for index in range(n):
        module_index = index % ADVISED_MODULES
        low, high = sorted(rng.sample(range(VERSIONS_PER_MODULE + 1), 2))
        kind = index % 4
        if kind == 0:
            affected = Affected(
                driver=(
                    VersionRange(
                        DriverVersion(_version(module_index, low)),
                        DriverVersion(_version(module_index, high)),
                    ),
                )
            )
        elif kind == 1:
            affected = Affected(driver=(VersionRange(fixed=DriverVersion(_version(module_index, high))),))
        elif kind == 2:
            builds = rng.sample(range(VERSIONS_PER_MODULE), 2)
            affected = Affected(
                driver=(VersionSet(frozenset(DriverVersion(_version(module_index, b)) for b in builds)),),
                srcversions=frozenset(_srcversion(module_index, b) for b in builds),
            )
        else:
            first, last = sorted(rng.sample(range(len(KERNELS) + 1), 2))
            fixed = KERNELS[last] if last < len(KERNELS) else "7.0"
            affected = Affected(kernel=(VersionRange(DriverVersion(KERNELS[first]), DriverVersion(fixed)),))
        advisories.append(
            Advisory(
                id=f"synthetic-{index}",
                module=_module_name(module_index),
                vendor="Synthetic",
                title=f"synthetic advisory {index}",
                affected=affected,
                fixed_in=None,
                fault=("race",),
                trigger=Trigger("random reads at high queue depth", ("randread",), 32),
                severity="high",
                references=("https://example.org/synthetic",),
            )
        )
    return AdvisoryDB(advisories)


def synthetic_hosts(n: int, modules: int, seed: int = 3) -> list[SyntheticHost]:
    """``n`` hosts, each with ``modules`` loaded modules: the advised drivers first, then others."""
    rng = random.Random(seed)
    hosts = []
    for index in range(n):
        loaded = []
        for module_index in range(modules):
            build = rng.randrange(VERSIONS_PER_MODULE)
            loaded.append(
                (_module_name(module_index), _version(module_index, build), _srcversion(module_index, build))
            )
        hosts.append(SyntheticHost(f"host{index:05d}", rng.choice(KERNELS), tuple(loaded)))
    return hosts


def time_matching(db: AdvisoryDB, hosts: list[SyntheticHost]) -> tuple[float, int]:
    """Seconds to match every loaded module of every host, and the number of findings."""
    findings = 0
    start = time.perf_counter()
    for host in hosts:
        kernel = host.kernel
        for name, version, srcversion in host.modules:
            findings += len(db.match(name, version, srcversion, kernel))
    return time.perf_counter() - start, findings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--modules", type=int, default=150)
    parser.add_argument("--advisories", type=int, default=1_000)
    args = parser.parse_args()
    db = build_synthetic_db(args.advisories)
    hosts = synthetic_hosts(args.hosts, args.modules)
    seconds, findings = time_matching(db, hosts)
    print(
        f"advisory matching: {args.hosts} hosts x {args.modules} modules x {args.advisories} advisories: "
        f"{seconds:.3f} s, {findings} findings; ratio to the {TARGET_SECONDS:.0f} s target: "
        f"{seconds / TARGET_SECONDS:.2f}"
    )


if __name__ == "__main__":
    main()

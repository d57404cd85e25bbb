"""One controller against three execution nodes: `fleetfix audit` of 100 lab hosts (root; the lab).

Brings up the `large` scenario (100 targets and runner01..03), makes the three runners execution nodes
(fleetfix.lab.runner_node), then times `fleetfix audit -l '!runner'` run here and run in three slices
through `ansible-runner worker` on the nodes, alternating, `--repeat` times each after a warm-up of each.
Prints the median wall time of both and their ratio, and the CPU this machine's fleetfix process tree
spent per host in each mode: the controller work slicing moves to the nodes.

On one machine the nodes share its cores with the controller, so the wall-clock gain is bounded by them:
the figure that carries to real nodes is the controller CPU per host.

    sudo .venv/bin/python bench/slices.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from fleetfix.lab import Lab
from fleetfix.lab.runner_node import make_execution_nodes

FLEETFIX = str(Path(sys.executable).parent / "fleetfix")
NODES = ["runner01", "runner02", "runner03"]
TARGETS = 100


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _audit(inventory: Path, state: Path, config: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds of fleetfix and everything it started on this machine)."""
    env = dict(os.environ, FLEETFIX_STATE_DIR=str(state), FLEETFIX_CONFIG=str(config))
    argv = [FLEETFIX, "audit", "-i", str(inventory), "-l", "!runner", "--format", "json"]
    cpu, start = _children_cpu(), time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if done.returncode not in (0, 1):
        sys.exit(f"audit failed ({done.returncode}): {done.stderr.strip()}")
    return wall, _children_cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/slices.py needs root: it brings up a lab fleet")
    lab = Lab("bench-slices")
    lab.up("large")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            inventory = lab.write_inventory(work / "inventory.yml")
            sliced = work / "sliced.yml"
            sliced.write_text(yaml.safe_dump({"execution_nodes": make_execution_nodes(lab, NODES)}))
            here = work / "here.yml"  # no execution_nodes: the run stays on this machine
            modes = {"controller": here, "3 slices": sliced}
            for config in modes.values():
                _audit(inventory, work / "state", config)  # warm-up: ssh control connections, page cache
            runs: dict[str, list[tuple[float, float]]] = {mode: [] for mode in modes}
            for _ in range(args.repeat):
                for mode, config in modes.items():
                    runs[mode].append(_audit(inventory, work / "state", config))
    finally:
        lab.down()
    wall = {mode: statistics.median(w for w, _ in values) for mode, values in runs.items()}
    cpu = {mode: statistics.median(c for _, c in values) for mode, values in runs.items()}
    print(f"{TARGETS} hosts, median of {args.repeat}, {os.cpu_count()} cores shared by controller and nodes:")
    for mode in modes:
        print(
            f"  {mode:10s} {wall[mode]:6.2f} s wall, controller CPU {1000 * cpu[mode] / TARGETS:6.1f} ms/host"
        )
    print(f"  wall  controller / 3 slices = {wall['controller'] / wall['3 slices']:.2f}")
    print(f"  controller CPU per host, controller / 3 slices = {cpu['controller'] / cpu['3 slices']:.2f}")


if __name__ == "__main__":
    main()

"""Advisory loading: a large advisory file read and schema-checked, against parsing the same YAML alone.

Writes advisory files of SIZE/4 and SIZE (default 10M) made of entries shaped like the shipped ones (driver
ranges, version sets, srcversions, kernel ranges, triggers with rw and queue depth), then, each in a fresh
process, times ``load_advisories`` and, as the floor, ``yaml.load`` of the same text with the fastest
loader present (libyaml's ``CSafeLoader``). Prints both times, their ratio, the peak RSS of each, and how
loading time and memory grow from SIZE/4 to SIZE (linear: 4.0x for 4x the input). Memory is the peak
RSS above that of a process that only imported the same modules.

    .venv/bin/python bench/advisory_load.py [SIZE]
"""

from __future__ import annotations

import random
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

ENTRY = """\
- id: BENCH-{n:07d}
  module: {module}
  vendor: Broadcom
  title: reply queue race under deep random reads, build {n}
  affected:
    driver:
      - {{introduced: "{low}.00.00.00", fixed: "{high}.00.00.00"}}
      - {{versions: ["{high}.10.00.00", "{high}.20.00.00"]}}
    srcversions: [{src}]
    kernel:
      - {{introduced: "5.14.0-{low}.el9", fixed: "5.14.0-{high}.el9"}}
  fixed_in: "{fixed}.00.00.00"
  fault: [race, null_deref]
  trigger: {{description: deep random reads, rw: [randread], min_iodepth: 32}}
  severity: critical
  references: [https://example.org/advisories/{n}]
  notes: >-
    Seen on hosts with many disks behind one adapter; the vendor's changelog says the fix reworks the
    reply queue locking.
"""
MODULES = ("mpt3sas", "megaraid_sas", "qla2xxx", "lpfc", "smartpqi", "hpsa", "nvme", "mpi3mr")

CHILD = r"""
import resource, sys, time
from pathlib import Path
import yaml
from fleetfix.advisories.schema import load_advisories
kind, path = sys.argv[1], Path(sys.argv[2])
loaded = 0
start = time.process_time()
if kind == "floor":
    loaded = len(yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
elif kind == "load":
    loaded = len(load_advisories([path.parent]))
seconds = time.process_time() - start
print(seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, loaded)
"""


def parse_size(text: str) -> int:
    match = re.fullmatch(r"(\d+)([KMG]?)", text.upper())
    if match is None:
        raise SystemExit(f"bad size {text!r}: expected e.g. 10M")
    return int(match[1]) * {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[match[2]]


def write_advisories(path: Path, size: int) -> int:
    rng = random.Random(5)
    entries, written, n = [], 0, 0
    while written < size:
        low = rng.randrange(1, 40)
        high = low + rng.randrange(1, 9)
        src = f"{rng.getrandbits(96):024X}"
        text = ENTRY.format(n=n, module=MODULES[n % len(MODULES)], low=low, high=high, src=src, fixed=high)
        entries.append(text)
        written += len(text)
        n += 1
    path.write_text("".join(entries))
    return n


def measure(kind: str, path: Path) -> tuple[float, int]:
    """CPU seconds and peak RSS (KiB, above an idle process's) of one load in a fresh process."""
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, kind, str(path)], capture_output=True, text=True, env=env, check=True
    ).stdout.split()
    return float(out[0]), int(out[1])


def idle_rss(path: Path) -> int:
    return measure("idle", path)[1]


def main() -> None:
    size = parse_size(sys.argv[1] if len(sys.argv) > 1 else "10M")
    results = {}
    with tempfile.TemporaryDirectory(prefix="fleetfix-advisory-bench-") as tmp:
        for label, part in (("small", size // 4), ("full", size)):
            directory = Path(tmp) / label
            directory.mkdir()
            path = directory / "advisories.yaml"
            count = write_advisories(path, part)
            idle = idle_rss(path)
            floor, floor_rss = measure("floor", path)
            load, load_rss = measure("load", path)
            floor_rss, load_rss = floor_rss - idle, load_rss - idle
            results[label] = (load, load_rss)
            print(
                f"{part / 2**20:5.1f} MB, {count} advisories: load {load:6.2f} s CPU,"
                f" {load_rss / 1024:5.0f} MB;"
                f" floor (yaml.load, C loader) {floor:6.2f} s, {floor_rss / 1024:5.0f} MB;"
                f" ratio {load / floor:.2f}"
            )
    (small, small_rss), (full, full_rss) = results["small"], results["full"]
    print(
        f"growth from 1/4 to the full size (4.0 is linear): time {full / small:.2f}x,"
        f" memory {full_rss / max(small_rss, 1):.2f}x"
    )


if __name__ == "__main__":
    main()

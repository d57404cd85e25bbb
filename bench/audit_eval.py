"""`fleetfix audit --from-artifacts` end to end on a large run, against the floor of decoding its events.

Writes a runner artifacts tree as ansible-runner leaves it after the audit play: per host a
``runner_on_start`` and a ``runner_on_ok`` event carrying the facts module's result (the facts twice, as
``ansible_facts.fleetfix`` and ``fleetfix``), each host loading ``--modules`` modules, a few of them storage
drivers at one of a dozen builds with advisories against them. Then, on a warm page cache, it times
(best of ``--repeat`` interleaved runs, in CPU seconds of this process, so that other work on a shared
machine does not skew the ratio; wall seconds are printed beside them):

- the floor: reading every event file and decoding it with the standard library's ``json.loads``;
- the same with ``msgspec.json.decode`` (the faster decoder the audit uses);
- the audit's whole path: events read, decoded and folded into host results, facts validated into
  ``HostFacts``, every host judged against ``--advisories`` advisories, and the JSON report written.

Prints each time and the audit's ratio to both floors (target: <= 1.5x the ``json.loads`` floor). Advisory
loading is left out: the advisories are built in memory (``bench/advisory_load.py`` times loading them).

    .venv/bin/python bench/audit_eval.py [--hosts 10000] [--modules 150] [--advisories 1000] [--repeat 3]
        [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from advisory_match import (  # noqa: E402
    KERNELS,
    VERSIONS_PER_MODULE,
    _module_name,
    _srcversion,
    _version,
    build_synthetic_db,
)

from fleetfix.ansible.artifacts import results_from_artifacts  # noqa: E402
from fleetfix.audit import audit_results  # noqa: E402
from fleetfix.render.audit import to_json  # noqa: E402

TARGET_RATIO = 1.5
ADVISED_POOL = 50  # module indexes that have advisories (see advisory_match.build_synthetic_db)
TEMPLATE = REPO / "tests" / "data" / "facts" / "db01.json"  # a real facts module output


def facts_for(rng: random.Random, template: dict[str, Any], modules: int, advised: int) -> dict[str, Any]:
    chosen = set(rng.sample(range(ADVISED_POOL), advised))
    loaded = []
    for index in range(modules):
        module_index = index if index in chosen else ADVISED_POOL + index
        build = rng.randrange(VERSIONS_PER_MODULE)
        loaded.append(
            {
                "name": _module_name(module_index),
                "size": 65536 + index,
                "refcount": 1,
                "used_by": ["scsi_transport_sas"] if index in chosen else [],
                "permanent": False,
                "state": "Live",
                "taint": ["O", "E"] if index in chosen else [],
                "version": _version(module_index, build),
                "srcversion": _srcversion(module_index, build),
                "holds_boot_disk": False,
            }
        )
    return {**template, "kernel": {**template["kernel"], "release": rng.choice(KERNELS)}, "modules": loaded}


def _event(counter: int, kind: str, host: str, res: dict[str, Any] | None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "playbook": "audit.yml",
        "play": "Audit storage drivers and crash capture",
        "play_pattern": "all",
        "task": "Read kernel, module, crash capture, disk and schedule surfaces",
        "task_action": "fleetfix_facts",
        "resolved_action": "fleetfix_facts",
        "task_args": "",
        "task_path": "/project/audit.yml:10",
        "host": host,
        "uuid": f"{counter:032x}",
    }
    if res is not None:
        data.update(remote_addr=host, res=res, duration=0.41, event_loop=None)
    return {
        "uuid": f"{counter:032x}",
        "counter": counter,
        "stdout": f"ok: [{host}]" if res is not None else "",
        "start_line": counter,
        "end_line": counter + 1,
        "runner_ident": "bench",
        "event": kind,
        "pid": 4242,
        "created": "2026-12-05T02:00:00.000000+00:00",
        "event_data": data,
    }


def write_artifacts(root: Path, hosts: int, modules: int, advised: int) -> int:
    """The artifacts tree of one audit run; returns the bytes written."""
    events = root / "artifacts" / "bench" / "job_events"
    events.mkdir(parents=True)
    template = json.loads(TEMPLATE.read_text())
    rng = random.Random(7)
    written = 0
    counter = 0
    for index in range(hosts):
        host = f"host{index:05d}"
        facts = facts_for(rng, template, modules, advised)
        res = {"ansible_facts": {"fleetfix": facts}, "fleetfix": facts, "changed": False}
        for kind, result in (("runner_on_start", None), ("runner_on_ok", res)):
            counter += 1
            text = json.dumps(_event(counter, kind, host, result))
            (events / f"{counter}-{counter:032x}.json").write_text(text)
            written += len(text)
    return written


class Timing:
    """CPU and wall seconds of one measured call."""

    def __init__(self) -> None:
        self.cpu, self.wall = time.process_time(), time.perf_counter()

    def stop(self) -> tuple[float, float]:
        return time.process_time() - self.cpu, time.perf_counter() - self.wall


def read_all(root: Path, decode: Callable[[bytes], Any]) -> tuple[float, float]:
    timing = Timing()
    for path in (root / "artifacts" / "bench" / "job_events").iterdir():
        decode(path.read_bytes())
    return timing.stop()


def audit_whole_path(root: Path, db: Any) -> tuple[float, float]:
    timing = Timing()
    report = audit_results(results_from_artifacts(root), db, datetime.now(UTC), source=str(root))
    to_json(report)
    return timing.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--modules", type=int, default=150)
    parser.add_argument("--advisories", type=int, default=1_000)
    parser.add_argument("--advised", type=int, default=5, help="storage drivers with advisories per host")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the best is kept")
    parser.add_argument("--keep", type=Path, help="write the artifacts here (reused if present)")
    args = parser.parse_args()

    root = args.keep or Path(tempfile.mkdtemp(prefix="fleetfix-audit-bench-"))
    try:
        if not (root / "artifacts").is_dir():
            size = write_artifacts(root, args.hosts, args.modules, args.advised)
            print(f"wrote {args.hosts * 2} event files, {size / 1e6:.0f} MB, under {root}")
        db = build_synthetic_db(args.advisories)
        read_all(root, bytes)  # warm the page cache
        runs: dict[str, list[tuple[float, float]]] = {"json": [], "msgspec": [], "audit": []}
        for _ in range(args.repeat):  # interleaved, best of each: the machine's other load evens out
            runs["json"].append(read_all(root, json.loads))
            runs["msgspec"].append(read_all(root, msgspec.json.decode))
            runs["audit"].append(audit_whole_path(root, db))
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    best = {name: min(times) for name, times in runs.items()}  # by CPU seconds
    print(
        f"{args.hosts} hosts x {args.modules} modules x {args.advisories} advisories (best of {args.repeat})"
    )
    labels = {
        "json": "floor, read + json.loads",
        "msgspec": "floor, read + msgspec.json.decode",
        "audit": "audit --from-artifacts whole path",
    }
    for name, label in labels.items():
        cpu, wall = best[name]
        print(f"{label:34} {cpu:7.3f} s CPU  {wall:7.3f} s wall")
    audit, floor_json, floor_msgspec = best["audit"][0], best["json"][0], best["msgspec"][0]
    print(
        f"ratio to the json.loads floor: {audit / floor_json:.2f} (target <= {TARGET_RATIO}); "
        f"to the msgspec floor: {audit / floor_msgspec:.2f}; "
        f"msgspec floor / json.loads floor: {floor_msgspec / floor_json:.2f}"
    )


if __name__ == "__main__":
    main()

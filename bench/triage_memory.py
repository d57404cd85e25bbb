"""Triage memory against the number of crashes: peak RSS per crash over a floor, at 1k, 10k and 100k crashes.

Usage: python bench/triage_memory.py [CRASHES ...]   (default 1000 10000 100000)

Each log holds CRASHES crashes synthesised from the real single-report logs kept under tests/data/oopses
(each report re-stamped 100 s after the last, so it is a crash of its own, with 60 ordinary dmesg lines
between two reports; the reports repeat, so a few signatures gather many crashes, as in a fleet's incident).
Two fresh processes read each log: the floor, which scans its lines and keeps nothing, and triage as
`fleetfix triage LOG --format json` runs it (read, fold cascades, group and count, the JSON and Markdown
documents; no advisories or audit). Printed per size: both peak RSS, what triage holds above the floor
per crash, and CPU seconds against the floor's. Flat memory: once each group's list of crashes is full
(1,000 listed crashes a group, ``triage.group.LISTED``), the bytes above the floor stay about the same, so
from 10k to 100k crashes their growth is about 1x and the bytes a crash fall tenfold.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from triage_throughput import reports, write_log  # noqa: E402  (beside this file)

OWN_REPORTS = (REPO / "tests" / "data" / "oopses",)


def _usage() -> tuple[float, int]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def floor(path: Path) -> tuple[int, float, int]:
    """Lines scanned, CPU seconds and peak RSS (KiB) of reading the log once, keeping nothing."""
    start, _ = _usage()
    lines = 0
    with path.open("rb") as log:
        for _ in log:
            lines += 1
    cpu, rss = _usage()
    return lines, cpu - start, rss


def triage(path: Path) -> tuple[int, float, int]:
    """Crashes triaged, CPU seconds and peak RSS (KiB) of reading, grouping and rendering the log."""
    from fleetfix.render.triage import to_json, to_markdown
    from fleetfix.state.crash_store import read_paths
    from fleetfix.triage.group import group_crashes

    start, _ = _usage()
    found = read_paths([path])
    groups = group_crashes(found.groups, jobs=found.hosts)
    now = datetime.now(UTC)
    size = len(to_json(groups, now)) + len(to_markdown(groups, now))
    cpu, rss = _usage()
    assert size > 0
    return sum(g.total for g in groups), cpu - start, rss


def child(mode: str, path: Path) -> tuple[int, float, int]:
    command = [sys.executable, __file__, mode, str(path)]
    count, cpu, rss = subprocess.run(command, capture_output=True, text=True, check=True).stdout.split()
    return int(count), float(cpu), int(rss)


def main(argv: list[str]) -> None:
    if argv[:1] in (["--floor"], ["--triage"]):
        print(*(floor if argv[0] == "--floor" else triage)(Path(argv[1])))
        return
    sizes = [int(a) for a in argv] or [1_000, 10_000, 100_000]
    texts = reports(OWN_REPORTS)
    print(f"{len(texts)} real reports from tests/data/oopses, repeated and re-stamped")
    print("crashes   floor RSS  triage RSS  above floor  per crash   floor CPU  triage CPU  ratio")
    started = time.perf_counter()
    above_floor = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            log = Path(tmp) / f"{size}.log"
            write_log(log, size, texts=texts)
            _, floor_cpu, floor_rss = child("--floor", log)
            found, triage_cpu, triage_rss = child("--triage", log)
            log.unlink()
            if found != size:
                raise SystemExit(f"triaged {found} of {size} crashes")
            above = max(triage_rss - floor_rss, 0) * 1024
            memory = f"{floor_rss / 1024:7.0f} MiB  {triage_rss / 1024:7.0f} MiB  {above / 2**20:8.1f} MiB"
            cpu = f"{floor_cpu:8.2f} s  {triage_cpu:8.2f} s  {triage_cpu / floor_cpu:5.0f}x"
            print(f"{size:>7}  {memory}  {above / size:7.0f} B  {cpu}")
            above_floor.append(above)
    print(
        f"at {size} crashes: {above / 2**20:.1f} MiB above the floor, {above / size:.0f} bytes a crash;"
        f" triage / line scan CPU {triage_cpu / floor_cpu:.0f}x"
    )
    if len(sizes) > 1:  # the last two sizes: both past the point where a group's list is full
        growth = above_floor[-1] / max(above_floor[-2], 1)
        print(
            f"memory above the floor, {sizes[-1]} / {sizes[-2]} crashes: {growth:.2f}x"
            f" ({sizes[-1] / sizes[-2]:.0f}x the crashes)"
        )
    print(f"({time.perf_counter() - started:.0f} s in all)")


if __name__ == "__main__":
    main(sys.argv[1:])

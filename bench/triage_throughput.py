"""Triage on large kernel logs: parse throughput against `grep -c -E`, and memory against the crash count.

Usage: python bench/triage_throughput.py [SIZE [CRASHES]]   (defaults 1G and 100000)

Throughput: a SIZE log of ordinary dmesg lines with a real report every 10,000 lines (what a host's kernel
log looks like), timed for fleetfix.triage's parser streaming over it and for `grep -c -E` of the markers
that open a report, each in a fresh process on a warm page cache; the ratio (target <= 3x) is of CPU
seconds, which a machine shared with other work does not skew, with wall seconds printed beside.
Memory: logs holding CRASHES/4 and CRASHES real reports (the corpora's, each re-stamped to be a crash of
its own, 60 ordinary lines apart), each read by what `fleetfix triage LOG` does before rendering (read,
fold cascades, deduplicate, group) in a fresh process; flat memory means the two peak RSS stay close.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fleetfix.state.crash_store import read_paths  # noqa: E402
from fleetfix.triage.group import group_crashes  # noqa: E402
from fleetfix.triage.oops.find_all import ANCHORS, MARKERS, iter_oopses  # noqa: E402

SOURCES = (REPO.parent / "shared" / "corpus" / "oopses", REPO / "tests" / "data" / "oopses")
# The parser's report markers and anchors, as one POSIX extended regular expression.
GREP_MARKERS = "|".join(
    re.sub(r"([][.*+?(){}|^$\\])", r"\\\1", text) for text in dict.fromkeys(MARKERS + ANCHORS)
)
ORDINARY = (
    "sd 2:0:0:0: [sdb] Synchronizing SCSI cache",
    "mpt3sas_cm0: log_info(0x31120303): originator(PL), code(0x12), sub_code(0x0303)",
    "EXT4-fs (sdb1): mounted filesystem with ordered data mode. Quota mode: none.",
    "e1000e 0000:00:19.0 eth0: NIC Link is Up 1000 Mbps Full Duplex, Flow Control: Rx/Tx",
    'audit: type=1400 audit(1700000000.123:42): apparmor="STATUS" operation="profile_load"',
    "scsi 2:0:1:0: Direct-Access     SEAGATE  ST4000NM0023     0004 PQ: 0 ANSI: 6",
    "perf: interrupt took too long (2503 > 2500), lowering kernel.perf_event_max_sample_rate to 79750",
    "megaraid_sas 0000:02:00.0: FW provided supportMaxExtLDs: 1  max_lds: 64",
    "XFS (dm-0): Ending clean mount",
    "systemd-journald[412]: Received client request to flush runtime journal.",
)
BETWEEN = 60  # ordinary lines between two reports
CHUNK = 1 << 20
_STAMPED = re.compile(r"^(?:<\d>)?\[ *\d+\.\d+\] ?", re.MULTILINE)


def reports(sources: tuple[Path, ...] = SOURCES) -> list[str]:
    """The single-report dmesg-shaped files of the corpora, their [seconds] stamps removed."""
    found = []
    for folder in sources:
        for path in sorted(folder.glob("*.log")):
            text = "\n".join(line for line in path.read_text().splitlines() if not line.startswith("#"))
            if _STAMPED.match(text) and len(list(iter_oopses(text))) == 1:
                found.append(_STAMPED.sub("", text))
    return found


def write_log(
    path: Path,
    crashes: int | None = None,
    size: int | None = None,
    between: int = BETWEEN,
    texts: list[str] | None = None,
) -> int:
    """``crashes`` reports, or as many as fit in ``size`` bytes, each stamped 100 s after the last (its
    own crash, not one cascade), ``between`` ordinary lines apart; returns how many were written."""
    texts, stamp, written = texts or reports(), 100.0, 0
    with path.open("w") as out:
        while (crashes is None or written < crashes) and (size is None or out.tell() < size):
            lines = [f"[{stamp + i * 0.001:12.6f}] {ORDINARY[i % len(ORDINARY)]}" for i in range(between)]
            stamp += 100.0 + between * 0.001
            lines += [f"[{stamp:12.6f}] {line}" for line in texts[written % len(texts)].splitlines()]
            out.write("\n".join(lines) + "\n")
            written += 1
    return written


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def parse_file(path: Path) -> tuple[int, float, float, int]:
    """Reports found by the parser alone, wall and CPU seconds, and this process's peak RSS in KiB."""
    start, cpu = time.perf_counter(), _cpu()
    with path.open("rb") as log:
        found = sum(1 for _ in iter_oopses(iter(partial(log.read, CHUNK), b"")))
    return found, time.perf_counter() - start, _cpu() - cpu, _peak_rss()


def triage_file(path: Path) -> tuple[int, float, float, int]:
    """Crashes as `fleetfix triage LOG` finds and groups them, wall and CPU seconds, and peak RSS in KiB."""
    start, cpu = time.perf_counter(), _cpu()
    groups = group_crashes(read_paths([path]).groups)
    crashes = sum(g.total for g in groups)
    return crashes, time.perf_counter() - start, _cpu() - cpu, _peak_rss()


def grep_file(path: Path) -> tuple[int, float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(["grep", "-c", "-E", GREP_MARKERS, str(path)], capture_output=True, text=True)
    wall, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return int(result.stdout.strip() or 0), wall, cpu


def child(mode: str, path: Path) -> tuple[int, float, float, int]:
    command = [sys.executable, __file__, mode, str(path)]
    found, wall, cpu, rss = subprocess.run(command, capture_output=True, text=True, check=True).stdout.split()
    return int(found), float(wall), float(cpu), int(rss)


def parse_size(text: str) -> int:
    match = re.fullmatch(r"(\d+)([KMG]?)", text.upper())
    if match is None:
        raise SystemExit(f"size {text!r}: expected a number with an optional K, M or G suffix")
    return int(match.group(1)) * {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[match.group(2)]


def main(argv: list[str]) -> None:
    if argv[:1] in (["--parse"], ["--triage"]):
        print(*(parse_file if argv[0] == "--parse" else triage_file)(Path(argv[1])))
        return
    size = parse_size(argv[0]) if argv else 1 << 30
    crashes = int(argv[1]) if len(argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        big, small, large = Path(tmp) / "big.log", Path(tmp) / "small.log", Path(tmp) / "large.log"
        written = write_log(big, size=size, between=10_000)
        with big.open("rb") as warm:  # page cache warm for both contenders
            while warm.read(CHUNK):
                pass
        lines, grep_wall, grep_cpu = grep_file(big)
        parsed, parse_wall, parse_cpu, _ = child("--parse", big)
        mib = os.path.getsize(big) / (1 << 20)
        big.unlink()
        write_log(small, crashes // 4)
        write_log(large, crashes)
        found, triage_wall, triage_cpu, rss_large = child("--triage", large)
        found_small, _, _, rss_small = child("--triage", small)
    print(f"throughput log: {mib:.0f} MiB, {written} reports written, {parsed} parsed, {lines} marker lines")
    print(f"grep -c -E    : {grep_cpu:7.2f} s CPU ({grep_wall:.2f} s wall)")
    print(f"oops parse    : {parse_cpu:7.2f} s CPU ({parse_wall:.2f} s wall, {mib / parse_wall:.0f} MiB/s)")
    print(f"ratio         : {parse_cpu / max(grep_cpu, 1e-3):7.2f} x CPU (target <= 3x)")
    print(f"triage read   : {triage_cpu:7.2f} s CPU ({triage_wall:.2f} s wall) for {found} crashes")
    print(
        f"peak RSS      : {rss_small / 1024:.0f} MiB at {found_small} crashes, "
        f"{rss_large / 1024:.0f} MiB at {found} crashes"
    )
    if parsed != written or found != crashes:
        raise SystemExit(f"parsed {parsed} of {written} reports; triaged {found} of {crashes} crashes")


if __name__ == "__main__":
    main(sys.argv[1:])

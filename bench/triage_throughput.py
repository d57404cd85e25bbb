"""Oops parsing throughput on a large mixed kernel log, against `grep -c -E` of the same markers.

Usage: python bench/triage_throughput.py [SIZE]   (SIZE like 1G, 300M; default 1G)

Writes a temporary log of ordinary dmesg lines with the real oops traces of the shared corpus sprinkled
through it, then times the oops finder streaming over the file against `grep -c -E` of the markers
that open a report, both on a warm page cache. Prints both times, the ratio (target <= 3x), and the
parser's peak RSS at SIZE/4 and at SIZE, each measured in a fresh process, to show memory stays flat.
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

from fleetfix.triage.oops.find_all import ANCHORS, MARKERS, iter_oopses  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus" / "oopses"
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
CHUNK = 1 << 20  # small enough that the marker scans stay in the CPU cache


def parse_size(text: str) -> int:
    match = re.fullmatch(r"(\d+)([KMG]?)", text.upper())
    if match is None:
        raise SystemExit(f"size {text!r}: expected a number with an optional K, M or G suffix")
    return int(match.group(1)) * {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[match.group(2)]


def block() -> tuple[str, int]:
    """About 1 MiB of dmesg: ordinary lines with every corpus oops once; returns it and its report count."""
    oopses = [
        "\n".join(line for line in p.read_text().splitlines() if not line.startswith("#")) + "\n"
        for p in sorted(CORPUS.glob("*.log"))
    ]
    if not oopses:
        raise SystemExit(f"no oops logs in {CORPUS}: this bench needs the shared corpus beside the checkout")
    lines, stamp, size = [], 100.0, 0
    while size < CHUNK:
        for text in ORDINARY:
            stamp += 0.000137
            line = f"[{stamp:12.6f}] {text}\n"
            lines.append(line)
            size += len(line)
        if len(lines) % 9000 == 0:
            lines.append(oopses[len(lines) // 9000 % len(oopses)])
    text = "".join(lines)
    return text, sum(1 for _ in iter_oopses(text))


def write_log(path: Path, size: int) -> int:
    text, reports = block()
    data, count = text.encode(), 0
    with path.open("wb") as out:
        while out.tell() < size:
            out.write(data)
            count += reports
    return count


def parse_file(path: Path) -> tuple[int, float, int]:
    """Reports found, seconds, and this process's peak RSS in KiB."""
    start = time.perf_counter()
    with path.open("rb") as log:
        found = sum(1 for _ in iter_oopses(iter(partial(log.read, CHUNK), b"")))
    return found, time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def grep_file(path: Path) -> tuple[int, float]:
    start = time.perf_counter()
    result = subprocess.run(["grep", "-c", "-E", GREP_MARKERS, str(path)], capture_output=True, text=True)
    return int(result.stdout.strip() or 0), time.perf_counter() - start


def child_parse(path: Path) -> tuple[int, float, int]:
    out = subprocess.run([sys.executable, __file__, "--parse", str(path)], capture_output=True, text=True)
    found, seconds, rss = out.stdout.split()
    return int(found), float(seconds), int(rss)


def main(argv: list[str]) -> None:
    if argv[:1] == ["--parse"]:
        print(*parse_file(Path(argv[1])))
        return
    size = parse_size(argv[0]) if argv else 1 << 30
    with tempfile.TemporaryDirectory() as tmp:
        small, large = Path(tmp) / "small.log", Path(tmp) / "large.log"
        write_log(small, size // 4)
        expected = write_log(large, size)
        with large.open("rb") as warm:  # page cache warm for both contenders
            while warm.read(CHUNK):
                pass
        lines, grep_seconds = grep_file(large)
        found, seconds, rss_large = child_parse(large)
        _, _, rss_small = child_parse(small)
        mib = os.path.getsize(large) / (1 << 20)
    print(f"log: {mib:.0f} MiB, {expected} reports written, {found} parsed, {lines} marker lines (grep)")
    print(f"grep -c -E : {grep_seconds:7.2f} s")
    print(f"oops parse : {seconds:7.2f} s  ({mib / seconds:.0f} MiB/s)")
    print(f"ratio      : {seconds / grep_seconds:7.2f} x  (target <= 3x)")
    small_rss, large_rss = rss_small / 1024, rss_large / 1024
    print(f"peak RSS   : {small_rss:.0f} MiB at {mib / 4:.0f} MiB, {large_rss:.0f} MiB at {mib:.0f} MiB")
    if found != expected:
        raise SystemExit(f"parsed {found} reports, expected {expected}")


if __name__ == "__main__":
    main(sys.argv[1:])

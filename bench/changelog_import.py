"""Changelog import on a 50 MB changelog: CPU time and peak RSS against a floor measured in the same run.

The changelog is built from one of two real corpus files, its releases repeated with rising versions:
Marvell's qla2xxx release notes (every entry is the module's and is classified) or a Debian kernel
changelog (a shared log: the module's entries are picked out of every other driver's). A child process
reads the file and imports it as the CLI does, then measures the floor any reader pays: splitting the text
into lines and looking at each once. Prints CPU seconds (the machine may be shared), the ratio to the
floor, and the import's peak RSS above the interpreter's baseline as a multiple of the file's size; each
shape at a quarter of the size first, so the growth of the import's CPU time for 4x the input shows it linear.

    .venv/bin/python bench/changelog_import.py [--megabytes 50] [--shape qla2xxx|debian ...]
"""

from __future__ import annotations

import argparse
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "changelogs"
SHAPES = {  # file, module, its newest heading, that heading renumbered by copy
    "qla2xxx": ("qla2xxx_release_notes_excerpt.txt", "qla2xxx", r"(?m)^\* 10\.", "* {n}."),
    "debian": (
        "linux_6.1.164-1_changelog.Debian.txt",
        "qla2xxx",
        r"(?m)^linux \(6\.1\.164-1\)",
        "linux (6.1.{n}-1)",
    ),
}


def build(shape: str, megabytes: float, path: Path) -> str:
    """Write a changelog of about ``megabytes`` MB repeating the shape's real releases; returns the module."""
    name, module, heading, renumbered = SHAPES[shape]
    body = "\n".join(line for line in (DATA / name).read_text().splitlines() if not line.startswith("#"))
    copies = max(1, int(megabytes * 1_000_000 / len(body)))
    pattern = re.compile(heading)
    with path.open("w") as out:
        for copy in range(copies):
            out.write(pattern.sub(renumbered.format(n=copies - copy + 200), body) + "\n")
    return module


def child(path: Path, module: str) -> None:
    """Import ``path`` and time the floor, in a fresh process so its peak RSS is the import's."""
    from fleetfix.advisories.changelog.convert import import_changelog

    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    text = path.read_text()
    start = time.process_time()
    result = import_changelog(text, path.name, module, references=["https://example.org/changelog"])
    elapsed = time.process_time() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - baseline
    start = time.process_time()
    count = 0
    for line in text.splitlines():
        count += bool(line)
    base = time.process_time() - start
    size = path.stat().st_size
    print(
        f"{size / 1e6:.1f} MB, {result.releases} releases, {len(result.entries)} fault fixes: "
        f"import {elapsed:.2f} s CPU, floor (split + scan lines) {base:.2f} s, ratio {elapsed / base:.1f}x; "
        f"peak RSS above baseline {peak / 1e6:.0f} MB = {peak / size:.2f}x the file"
    )


def imported(shape: str, megabytes: float, tmp: Path) -> float:
    """Build and import one changelog in a child process (its line printed); returns the import's CPU s."""
    path = tmp / f"{shape}.changelog"
    module = build(shape, megabytes, path)
    command = [sys.executable, __file__, "--child", str(path), module]
    line = subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()
    path.unlink()
    print(f"{shape}: {line}", flush=True)
    return float(re.search(r"import ([\d.]+) s CPU", line).group(1))  # type: ignore[union-attr]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=float, default=50.0)
    parser.add_argument("--shape", choices=sorted(SHAPES), action="append", help="default: each shape")
    parser.add_argument("--child", nargs=2, metavar=("FILE", "MODULE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child[0]), args.child[1])
        return
    with tempfile.TemporaryDirectory() as tmp:
        for shape in args.shape or sorted(SHAPES, reverse=True):
            quarter = imported(shape, args.megabytes / 4, Path(tmp))
            whole = imported(shape, args.megabytes, Path(tmp))
            print(f"{shape}: import CPU growth for 4x input: {whole / quarter:.2f}x (linear: 4)", flush=True)


if __name__ == "__main__":
    main()

"""Run every benchmark and print one table of their ratios (the table the README quotes).

Each bench runs in its own process and prints its own figures (shown as it runs); this script picks the
ratio lines out of that output. Benches that bring up the lab (`audit_vs_ping`, `facts_module_cost`,
`slices`, `lab_up`) need root and run only with ``--lab``. ``--quick`` runs the others at a fraction of their
size, to check the table's plumbing, not to quote.

    .venv/bin/python bench/run_all.py [--quick] [--lab] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True, kw_only=True)
class Bench:
    name: str
    args: tuple[str, ...]
    quick_args: tuple[str, ...]
    figures: tuple[tuple[str, str, str], ...]  # (what, regex with one group: the ratio, target)
    lab: bool = False


BENCHES = (
    Bench(
        name="audit_eval",
        args=(),
        quick_args=("--hosts", "500", "--repeat", "1"),
        figures=(
            (
                "--from-artifacts / json.loads floor (CPU)",
                r"ratio to the json\.loads floor: ([\d.]+)",
                "<= 1.5",
            ),
            ("--from-artifacts / msgspec floor (CPU)", r"to the msgspec floor: ([\d.]+)", "-"),
            ("msgspec floor / json.loads floor", r"msgspec floor / json\.loads floor: ([\d.]+)", "-"),
        ),
    ),
    Bench(
        name="advisory_match",
        args=(),
        quick_args=("--hosts", "1000"),
        figures=(("matching / 1 s", r"ratio to the 1 s target: ([\d.]+)", "<= 1"),),
    ),
    Bench(
        name="advisory_load",
        args=("10M",),
        quick_args=("1M",),
        figures=(
            ("advisory load / yaml.load (C)", r"(?s).*ratio ([\d.]+)", "<= 1.5"),
            ("load time growth for 4x input", r"time ([\d.]+)x", "~4 (linear)"),
            ("load memory growth for 4x input", r"memory ([\d.]+)x", "~4 (linear)"),
        ),
    ),
    Bench(
        name="changelog_import",
        args=(),
        quick_args=("--megabytes", "5"),
        figures=(
            ("import, vendor notes / split + scan lines (CPU)", r"(?s).*qla2xxx: [^\n]*ratio ([\d.]+)x", "-"),
            ("import, Debian shared log / split + scan (CPU)", r"(?s).*debian: [^\n]*ratio ([\d.]+)x", "-"),
            (
                "import CPU growth for 4x input (vendor, Debian)",
                r"growth for 4x input: ([\d.]+)x",
                "~4 (linear)",
            ),
            ("import peak RSS / file size (vendor notes)", r"(?s).*qla2xxx: [^\n]*= ([\d.]+)x the file", "-"),
        ),
    ),
    Bench(
        name="osv_import",
        args=("--records", "2000", "20000"),
        quick_args=("--records", "500", "5000"),
        figures=(
            ("OSV zip import / json.loads of every member (CPU)", r"(?s).*\(([\d.]+)x floor\)", "-"),
            ("import peak RSS at 10x the records (MiB)", r"(?s).*peak RSS \+([\d.]+) MiB", "flat"),
        ),
    ),
    Bench(
        name="triage_throughput",
        args=(),
        quick_args=("64M", "4000"),
        figures=(
            ("oops parse / grep -c -E (CPU)", r"ratio\s*:\s*([\d.]+)", "<= 3"),
            ("triage peak RSS at 100,000 crashes (MiB)", r"peak RSS\s*:.*, (\d+) MiB at", "tens of MB"),
        ),
    ),
    Bench(
        name="triage_memory",
        args=(),
        quick_args=("1000", "4000"),
        figures=(
            ("triage RSS above a line scan, 100k / 10k crashes", r"crashes: ([\d.]+)x \(", "~1 (flat)"),
            (
                "triage RSS above a line scan, bytes a crash",
                r"(?s).*crashes: [\d.]+ MiB above the floor, (\d+) bytes",
                "-",
            ),
            ("triage / line scan (CPU)", r"line scan CPU (\d+)x", "-"),
        ),
    ),
    Bench(
        name="listen_throughput",
        args=(),
        quick_args=("--runs", "1"),
        figures=(("sustained datagrams / 50k/s target", r"sustained .*?= ([\d.]+)x", ">= 1"),),
    ),
    Bench(
        name="listen_fault_storm",
        args=(),
        quick_args=("--runs", "1", "--seconds", "2"),
        figures=(("lines kept at 40k/s, half faults / 0.99", r"storm \(median.*?= ([\d.]+)x", ">= 1"),),
    ),
    Bench(
        name="audit_vs_ping",
        args=(),
        quick_args=("--hosts", "10", "--repeat", "1"),
        figures=(
            ("audit / ping (wall)", r"audit / ping \(wall\) = ([\d.]+)", "<= 1.1"),
            ("audit / ping (controller CPU)", r"audit / ping \(CPU\)\s*= ([\d.]+)", "-"),
            ("audit / ping (hosts' CPU)", r"audit / ping \(hosts' CPU\) = ([\d.]+)", "-"),
        ),
        lab=True,
    ),
    Bench(
        name="facts_module_cost",
        args=(),
        quick_args=("--repeat", "2"),
        figures=(
            (
                "facts module / ping module on a lab host (CPU)",
                r"facts / ping: wall [\d.]+, CPU ([\d.]+)",
                "-",
            ),
            ("facts module / ping module on a lab host (wall)", r"facts / ping: wall ([\d.]+)", "-"),
            (
                "audit's read, no AnsiballZ / ping module (CPU)",
                r"lean / ping: wall [\d.]+, CPU ([\d.]+)",
                "-",
            ),
        ),
        lab=True,
    ),
    Bench(
        name="slices",
        args=(),
        quick_args=("--repeat", "1"),
        figures=(("controller CPU per host / 3 slices", r"controller / 3 slices = ([\d.]+)\s*$", "-"),),
        lab=True,
    ),
    Bench(
        name="lab_up",
        args=(),
        quick_args=("10",),
        figures=(("lab up 30 hosts / 60 s", r"budget ratio \(60 s\): ([\d.]+)", "<= 1"),),
        lab=True,
    ),
)


def run(bench: Bench, quick: bool) -> tuple[str, float]:
    command = [
        sys.executable,
        str(REPO / "bench" / f"{bench.name}.py"),
        *(bench.quick_args if quick else bench.args),
    ]
    print(f"== {' '.join(command[1:])}", flush=True)
    started = time.perf_counter()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=REPO, env=env)
    lines = []
    assert process.stdout is not None
    for line in process.stdout:
        print(f"   {line}", end="", flush=True)
        lines.append(line)
    status = process.wait()
    output = "".join(lines)
    return (
        output if status == 0 else f"failed with status {status}\n{output}"
    ), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: check the plumbing, do not quote")
    parser.add_argument("--lab", action="store_true", help="also the lab benches (root)")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="just these benches")
    args = parser.parse_args()
    chosen = [b for b in BENCHES if (args.lab or not b.lab) and (not args.only or b.name in args.only)]
    rows = []
    for bench in chosen:
        output, seconds = run(bench, args.quick)
        for what, pattern, target in bench.figures:
            matches = re.findall(pattern, output, re.MULTILINE)
            ratio = ", ".join(matches) if matches else output.splitlines()[0][:40]
            rows.append((bench.name, what, ratio, target, f"{seconds:.0f} s"))
    header = ("bench", "figure", "ratio", "target", "ran")
    widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(len(header))]
    print()
    print(" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("-|-".join("-" * w for w in widths))
    for row in rows:
        print(" | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()

"""The post-upgrade fio soak's verdict: fio's result, the boot id and the kernel log judged together.

Pure: nothing here runs fio or reads a file; callers hand in text and facts. The workloads are in
``fleetfix.soak.profiles``, fio's output is read by ``fleetfix.soak.fio_json``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fleetfix.errors import InputError
from fleetfix.soak.fio_json import FioResult, parse_fio_json


@dataclass(frozen=True)
class IopsFloor:
    """The IOPS a soak must reach: absolute, or a fraction of the pre-upgrade baseline."""

    iops: float
    basis: str

    @classmethod
    def absolute(cls, iops: float) -> IopsFloor:
        if not math.isfinite(iops) or iops < 0:
            raise InputError("--iops-floor", f"expected IOPS >= 0, got {iops}")
        return cls(iops, f"{iops:g} IOPS")

    @classmethod
    def relative(cls, fraction: float, baseline_iops: float) -> IopsFloor:
        if not 0 < fraction <= 1:
            raise InputError("--iops-floor", f"a fraction of the baseline is in (0, 1], got {fraction}")
        if not math.isfinite(baseline_iops) or baseline_iops <= 0:
            raise InputError(
                "--iops-floor", f"the baseline must be a positive IOPS figure, got {baseline_iops}"
            )
        return cls(fraction * baseline_iops, f"{fraction:.0%} of the baseline {baseline_iops:g} IOPS")


def parse_iops_floor(spec: str, baseline_iops: float | None) -> IopsFloor:
    """``5000`` (absolute) or ``80%`` (of the baseline, which must then be known)."""
    text = spec.strip()
    try:
        if text.endswith("%"):
            if baseline_iops is None:
                raise InputError(
                    "--iops-floor", f"{spec!r} is relative but there is no baseline to compare to"
                )
            return IopsFloor.relative(float(text[:-1]) / 100, baseline_iops)
        return IopsFloor.absolute(float(text))
    except ValueError:
        raise InputError(
            "--iops-floor", f"expected IOPS like 5000 or a share like 80%, got {spec!r}"
        ) from None


@dataclass(frozen=True)
class SoakVerdict:
    passed: bool
    reasons: tuple[str, ...]  # why it failed; empty when it passed
    figures: Mapping[str, float | int | str | None]

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "reasons": list(self.reasons), "figures": dict(self.figures)}


# Kernel log lines that fail a soak, heaviest first: the host died or hit a kernel bug; it stalled (a CPU
# stuck, RCU starved, a task blocked in the kernel); the storage path was torn down and rebuilt (a host,
# bus, target or device reset, a command failed because of a reset, a timed-out command aborted); a
# warning. A line is counted once, as the first kind whose pattern it matches.
_FAULT_MARKERS = (
    ("panic", re.compile(r"Kernel panic - not syncing")),
    ("soft_lockup", re.compile(r"\bBUG: soft lockup\b")),
    ("bug", re.compile(r"\bBUG: |kernel BUG at ")),
    ("gpf", re.compile(r"general protection fault")),
    ("oops", re.compile(r"\bOops: |Unable to handle kernel")),
    # "rcu_sched detected stalls on CPUs/tasks", "rcu_preempt self-detected stall on CPU", the 2.6-era
    # "rcu_sched_state detected stall on CPU 0", "detected expedited stalls"
    ("rcu_stall", re.compile(r"\brcu_\w+ (?:self-)?detected (?:expedited )?stalls? on CPU")),
    ("hung_task", re.compile(r"\bblocked for more than \d+ seconds")),
    # The SCSI error handler's escalation as HBA drivers log it (mpt3sas, mpt2sas, mptscsih: "attempting
    # host reset!"; hpsa: "resetting device"); a task abort is its first, smallest step.
    ("scsi_reset", re.compile(r"\b[Aa]ttempting (?:host|bus|target|device) reset\b|\bresetting device\b")),
    ("did_reset", re.compile(r"\bDID_RESET\b")),
    ("task_abort", re.compile(r"\b[Aa]ttempting task abort\b")),
    # "WARNING: CPU: 3 PID: 1 at ...", older "WARNING: at file:line", newer "WARNING: file:line at ..."
    ("warning", re.compile(r"\bWARNING: (?:CPU: \d+ PID: |at |\S+:\d+ at )")),
)
FAULT_KINDS = tuple(kind for kind, _ in _FAULT_MARKERS)  # heaviest first


# One cheap search rules out almost every line before the precise patterns run (the receiver calls this
# on every line it gets).
_FAULT_HINT = re.compile(
    r"Kernel panic - not syncing|BUG: |BUG at |general protection fault|Oops: |Unable to handle kernel"
    r"|WARNING: |detected (?:expedited )?stall|blocked for more than|ttempting |resetting device|DID_RESET"
)


def kernel_fault_kind(line: str) -> str | None:
    """The fault a kernel log line announces (one of ``FAULT_KINDS``), or None.

    >>> kernel_fault_kind("[ 1204.135738] INFO: task scsi_eh_2:297 blocked for more than 120 seconds.")
    'hung_task'
    >>> kernel_fault_kind("sd 0:0:3:0: attempting task abort!scmd(0x000000004c5af56d), outstanding")
    'task_abort'
    """
    if not _FAULT_HINT.search(line):
        return None
    for kind, pattern in _FAULT_MARKERS:
        if pattern.search(line):
            return kind
    return None


def kernel_faults_reason(lines: Sequence[str]) -> tuple[str | None, int]:
    """One reason for the kernel log lines that fail a soak, the heaviest kind first, and their count.

    The line quoted is the first of the heaviest kind, so a panic after a hundred task aborts is what a
    reader sees first.
    """
    faults = [(kind, line) for line in lines if (kind := kernel_fault_kind(line))]
    if not faults:
        return None, 0
    counts = {kind: sum(1 for k, _ in faults if k == kind) for kind in FAULT_KINDS}
    worst = next(kind for kind in FAULT_KINDS if counts[kind])
    line = next(line for kind, line in faults if kind == worst)
    tally = ", ".join(f"{kind} {n}" for kind, n in counts.items() if n)
    head = f"kernel logged {len(faults)} fault line(s) during the soak ({tally})"
    return f"{head}, worst ({worst}): {line.strip()}", len(faults)


@dataclass(frozen=True)
class LatencyCeiling:
    """The worst p99 completion latency a soak may show: absolute, or a multiple of the baseline's.

    A relative ceiling never drops below ``minimum_ns``: on a fast device the baseline's p99 is tens of
    microseconds and a multiple of it measures the scheduler, not the driver; the faults a driver change
    brings (timeouts, resets, stalls) cost milliseconds to seconds.
    """

    ns: float
    basis: str

    @classmethod
    def absolute(cls, ms: float) -> LatencyCeiling:
        if not math.isfinite(ms) or ms <= 0:
            raise InputError("--p99-ceiling", f"expected milliseconds > 0, got {ms}")
        return cls(ms * 1e6, f"{ms:g} ms")

    @staticmethod
    def check_factor(factor: float) -> float:
        if not math.isfinite(factor) or factor < 1:
            raise InputError(
                "--p99-ceiling", f"a share of the baseline's p99 is 100% or more, got {factor:.0%}"
            )
        return factor

    @classmethod
    def relative(cls, factor: float, baseline_ns: float, minimum_ns: float = 10e6) -> LatencyCeiling:
        cls.check_factor(factor)
        if not math.isfinite(baseline_ns) or baseline_ns <= 0:
            raise InputError("--p99-ceiling", f"the baseline's p99 must be positive, got {baseline_ns}")
        ns = max(factor * baseline_ns, minimum_ns)
        return cls(
            ns,
            f"{factor:.0%} of the baseline p99 {baseline_ns / 1e6:.3g} ms, at least {minimum_ns / 1e6:g} ms",
        )


def parse_p99_ceiling(spec: str, baseline_p99_ns: float | None) -> LatencyCeiling | None:
    """``50ms`` (absolute) or ``500%`` (of the baseline's p99); None when relative and no baseline p99.

    A baseline whose fio output carries no percentiles (``gtod_reduce``) leaves nothing to compare to.
    """
    text = spec.strip()
    try:
        if text.endswith("%"):
            factor = LatencyCeiling.check_factor(float(text[:-1]) / 100)
            return None if baseline_p99_ns is None else LatencyCeiling.relative(factor, baseline_p99_ns)
        return LatencyCeiling.absolute(float(text.removesuffix("ms").strip()))
    except ValueError:
        raise InputError(
            "--p99-ceiling", f"expected milliseconds like 50ms or a share like 500%, got {spec!r}"
        ) from None


def judge_fio(
    result: FioResult, iops_floor: IopsFloor | None, p99_ceiling: LatencyCeiling | None = None
) -> SoakVerdict:
    """The part of the verdict fio's output alone can give (``fleetfix soak --evaluate``)."""
    reasons = [
        f"fio job {job.name!r} reported error {job.error} ({job.error_text})" for job in result.failed_jobs
    ]
    if result.total_ios == 0:
        reasons.append("fio completed no I/O")
    if iops_floor is not None and result.iops < iops_floor.iops:
        reasons.append(f"IOPS {result.iops:.0f} below the floor {iops_floor.iops:.0f} ({iops_floor.basis})")
    p99 = result.worst_clat_p99_ns
    if p99_ceiling is not None and p99 is not None and p99 > p99_ceiling.ns:
        reasons.append(
            f"p99 latency {p99 / 1e6:.3g} ms above the ceiling {p99_ceiling.ns / 1e6:.3g} ms"
            f" ({p99_ceiling.basis})"
        )
    figures = {
        "iops": result.iops,
        "read_iops": result.read_iops,
        "write_iops": result.write_iops,
        "bandwidth_bytes": result.bandwidth_bytes,
        "worst_clat_p99_ns": result.worst_clat_p99_ns,
        "iops_floor": None if iops_floor is None else iops_floor.iops,
        "p99_ceiling_ns": None if p99_ceiling is None else p99_ceiling.ns,
        "failed_jobs": len(result.failed_jobs),
    }
    return SoakVerdict(not reasons, tuple(reasons), figures)


def judge_soak(
    result: FioResult,
    boot_id_before: str | None,
    boot_id_after: str | None,
    new_kernel_log_lines: Sequence[str],
    iops_floor: IopsFloor | None,
    evidence_gaps: Sequence[str] = (),
    p99_ceiling: LatencyCeiling | None = None,
) -> SoakVerdict:
    """Pass only if fio saw no error, the host did not reboot, the kernel logged no fault, IOPS held and
    the worst p99 completion latency stayed under its ceiling.

    The reasons come by weight: what happened to the host (a reboot, a kernel fault) first, then the
    evidence that is missing (``evidence_gaps``: no fio report, no kernel log), then what fio measured. A
    host that crashed is read as crashed, not as "fio's report is unusable".
    """
    fio = judge_fio(result, iops_floor, p99_ceiling)
    host: list[str] = []
    if not boot_id_before or not boot_id_after:
        host.append("boot id not known before and after the soak: cannot tell whether the host rebooted")
    elif boot_id_before.strip() != boot_id_after.strip():
        host.append(f"host rebooted during the soak (boot id {boot_id_before} -> {boot_id_after})")
    faults, count = kernel_faults_reason(new_kernel_log_lines)
    if faults:
        host.append(faults)
    reasons = (*host, *evidence_gaps, *fio.reasons)
    figures = {**fio.figures, "kernel_fault_lines": count}
    return SoakVerdict(not reasons, reasons, figures)


@dataclass(frozen=True)
class FioEvaluation:
    result: FioResult
    verdict: SoakVerdict

    def to_dict(self) -> dict[str, Any]:
        return {**self.result.to_dict(), "verdict": self.verdict.to_dict()}


def evaluate_file_text(text: str, source: str, iops_floor: IopsFloor | None = None) -> FioEvaluation:
    """``fleetfix soak --evaluate FILE``: a saved fio JSON output judged on its own."""
    result = parse_fio_json(text, source)
    return FioEvaluation(result, judge_fio(result, iops_floor))

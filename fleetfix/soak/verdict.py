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


_FAULT_MARKERS = (
    ("panic", re.compile(r"Kernel panic - not syncing")),
    ("bug", re.compile(r"\bBUG: |kernel BUG at ")),
    ("gpf", re.compile(r"general protection fault")),
    ("oops", re.compile(r"\bOops: |Unable to handle kernel")),
    # "WARNING: CPU: 3 PID: 1 at ...", older "WARNING: at file:line", newer "WARNING: file:line at ..."
    ("warning", re.compile(r"\bWARNING: (?:CPU: \d+ PID: |at |\S+:\d+ at )")),
)


# One cheap search rules out almost every line before the precise patterns run (the receiver calls this
# on every line it gets).
_FAULT_HINT = re.compile(
    r"Kernel panic - not syncing|BUG: |BUG at |general protection fault|Oops: |Unable to handle kernel"
    r"|WARNING: "
)


def kernel_fault_kind(line: str) -> str | None:
    """The fault a kernel log line announces (panic, bug, gpf, oops, warning), or None."""
    if not _FAULT_HINT.search(line):
        return None
    for kind, pattern in _FAULT_MARKERS:
        if pattern.search(line):
            return kind
    return None


def judge_fio(result: FioResult, iops_floor: IopsFloor | None) -> SoakVerdict:
    """The part of the verdict fio's output alone can give (``fleetfix soak --evaluate``)."""
    reasons = [
        f"fio job {job.name!r} reported error {job.error} ({job.error_text})" for job in result.failed_jobs
    ]
    if result.total_ios == 0:
        reasons.append("fio completed no I/O")
    if iops_floor is not None and result.iops < iops_floor.iops:
        reasons.append(f"IOPS {result.iops:.0f} below the floor {iops_floor.iops:.0f} ({iops_floor.basis})")
    figures = {
        "iops": result.iops,
        "read_iops": result.read_iops,
        "write_iops": result.write_iops,
        "bandwidth_bytes": result.bandwidth_bytes,
        "worst_clat_p99_ns": result.worst_clat_p99_ns,
        "iops_floor": None if iops_floor is None else iops_floor.iops,
        "failed_jobs": len(result.failed_jobs),
    }
    return SoakVerdict(not reasons, tuple(reasons), figures)


def judge_soak(
    result: FioResult,
    boot_id_before: str | None,
    boot_id_after: str | None,
    new_kernel_log_lines: Sequence[str],
    iops_floor: IopsFloor,
    evidence_gaps: Sequence[str] = (),
) -> SoakVerdict:
    """Pass only if fio saw no error, the host did not reboot, the kernel logged no fault, IOPS held.

    The reasons come by weight: what happened to the host (a reboot, a kernel fault) first, then the
    evidence that is missing (``evidence_gaps``: no fio report, no kernel log), then what fio measured. A
    host that crashed is read as crashed, not as "fio's report is unusable".
    """
    fio = judge_fio(result, iops_floor)
    host: list[str] = []
    if not boot_id_before or not boot_id_after:
        host.append("boot id not known before and after the soak: cannot tell whether the host rebooted")
    elif boot_id_before.strip() != boot_id_after.strip():
        host.append(f"host rebooted during the soak (boot id {boot_id_before} -> {boot_id_after})")
    faults = [(kind, line) for line in new_kernel_log_lines if (kind := kernel_fault_kind(line))]
    if faults:
        kind, line = faults[0]
        host.append(
            f"kernel logged {len(faults)} fault line(s) during the soak, first ({kind}): {line.strip()}"
        )
    reasons = (*host, *evidence_gaps, *fio.reasons)
    figures = {**fio.figures, "kernel_fault_lines": len(faults)}
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

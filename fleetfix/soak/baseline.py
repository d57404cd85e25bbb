"""The baseline soak on the old build, read for what it can tell, and the soak limits it sets.

Pure. A remediation soaks each host with the soak's profile on the build it is about to replace, before the
upgrade, so that the new build is judged against the same host's figures. That build is the one an advisory
calls bad, so the baseline may well reproduce the very fault the change removes (a panic, an oops, a stall,
the host lost or rebooted). That is evidence about the old build, not a failure of the host: the reading is
``reproduced``, the host goes on to its upgrade, and with no figures to take a share of, only an absolute
``--iops-floor``/``--p99-ceiling`` judges the soak after the change.

A share of a very short baseline is noise on a busy host (a few seconds of fio on shared cores can swing by
half), so a share floor and a share ceiling apply only when the baseline ran ``SHARE_MIN_SECONDS`` or more;
a shorter one is reported, not used.

>>> reading = read_baseline({"status": "passed", "boot_id_before": "b", "boot_id_after": "b",
...     "verdict": {"reasons": [], "figures": {"iops": 900.0, "worst_clat_p99_ns": 2e6}}}, 60, lost=False)
>>> reading.outcome, reading.iops
('measured', 900.0)
>>> soak_limits("80%", "500%", reading).floor.iops
720.0
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from fleetfix.soak.verdict import IopsFloor, LatencyCeiling, parse_iops_floor, parse_p99_ceiling

SHARE_MIN_SECONDS = 20  # the shortest baseline a share floor or ceiling is taken from

Outcome = Literal["measured", "reproduced", "unusable"]


@dataclass(frozen=True)
class BaselineReading:
    """What a host's baseline on the old build gave.

    - measured: fio ran clean; its figures are the host's own reference (``runtime`` decides whether
      shares may be taken of them);
    - reproduced: the old build faulted under the load (kernel fault lines, a reboot, the host lost);
    - unusable: no figures for another reason (no fio report, fio errors): nothing to compare to.
    """

    outcome: Outcome
    note: str  # one line for a human: the figures, or what happened
    runtime: int  # fio seconds asked for
    iops: float | None = None
    p99_ns: float | None = None

    @property
    def shares_apply(self) -> bool:
        return self.outcome == "measured" and self.runtime >= SHARE_MIN_SECONDS and bool(self.iops)

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "note": self.note,
            "runtime": self.runtime,
            "iops": self.iops,
            "p99_ns": self.p99_ns,
            "shares_apply": self.shares_apply,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BaselineReading:
        return cls(data["outcome"], data["note"], int(data["runtime"]), data.get("iops"), data.get("p99_ns"))


def read_baseline(soak: Mapping[str, Any], runtime: int, *, lost: bool) -> BaselineReading:
    """Read a baseline soak (``HostSoak.to_dict()``); ``lost``: the host stopped answering during it."""
    verdict = soak.get("verdict") or {}
    figures = verdict.get("figures") or {}
    reasons = list(verdict.get("reasons") or [])
    before, after = soak.get("boot_id_before"), soak.get("boot_id_after")
    if lost:
        why = soak.get("message") or "no answer"
        return BaselineReading("reproduced", f"the host stopped answering under the load ({why})", runtime)
    if (before and after and before != after) or figures.get("kernel_fault_lines"):
        return BaselineReading("reproduced", reasons[0] if reasons else "the old build faulted", runtime)
    iops, p99 = figures.get("iops") or None, figures.get("worst_clat_p99_ns") or None
    if soak.get("status") != "passed" or iops is None:
        why = soak.get("message") or "fio measured nothing"
        return BaselineReading("unusable", f"no usable figures: {why}", runtime)
    p99_text = f", p99 {p99 / 1e6:.3g} ms" if p99 else ""
    note = f"{iops:.0f} IOPS{p99_text} in {runtime} s"
    if runtime < SHARE_MIN_SECONDS:
        note += f" (shorter than {SHARE_MIN_SECONDS} s: reported, too short to take shares of)"
    return BaselineReading("measured", note, runtime, iops, p99)


def _why_no_share(baseline: BaselineReading | None) -> str:
    if baseline is None:
        return "no baseline for this host"
    if baseline.outcome == "reproduced":
        return "the baseline reproduced the fault on the old build"
    if baseline.outcome == "unusable":
        return "the baseline gave no usable figures"
    return f"the baseline ran {baseline.runtime} s, under the {SHARE_MIN_SECONDS} s a share needs"


@dataclass(frozen=True)
class SoakLimits:
    """What the soak after the change is judged against, and what that rests on."""

    floor: IopsFloor | None
    ceiling: LatencyCeiling | None
    unjudged: str | None  # why a share asked for judges nothing (no usable baseline); None when all apply

    def to_dict(self) -> dict[str, Any]:
        said = [
            f"IOPS floor {self.floor.iops:.0f} ({self.floor.basis})" if self.floor else "no IOPS floor",
            f"p99 ceiling {self.ceiling.ns / 1e6:.3g} ms ({self.ceiling.basis})"
            if self.ceiling
            else "no p99 ceiling",
        ]
        text = ", ".join(said) + (f": {self.unjudged}" if self.unjudged else "")
        return {"text": text, "unjudged": self.unjudged}


def soak_limits(iops_floor: str, p99_ceiling: str, baseline: BaselineReading | None) -> SoakLimits:
    """The soak's IOPS floor and p99 ceiling from their specs and the host's baseline. A share with no
    usable baseline judges nothing (None), and says why; absolute specs apply as given."""
    usable = baseline if baseline is not None and baseline.shares_apply else None
    floor_share, ceiling_share = iops_floor.strip().endswith("%"), p99_ceiling.strip().endswith("%")
    floor = (
        None
        if floor_share and usable is None
        else parse_iops_floor(iops_floor, usable.iops if usable else None)
    )
    if ceiling_share and (usable is None or usable.p99_ns is None):
        ceiling = None
    else:
        ceiling = parse_p99_ceiling(p99_ceiling, usable.p99_ns if usable else None)
    unjudged = (floor is None and floor_share) or (ceiling is None and ceiling_share)
    return SoakLimits(floor, ceiling, _why_no_share(baseline) if unjudged else None)

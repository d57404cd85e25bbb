"""Step time estimates from what earlier runs of the same module measured, the fixed defaults otherwise.

Pure: the journal hands in its finished steps; this picks, per step (and per activation method: a reload
and a reboot are different steps in time), a cautious figure of what they took. The plan says which
estimates are measured and which are the defaults, so an operator reading it knows how far to trust it.

A step's duration is its play's: hosts of a batch run side by side, so every host of a batch carries the
batch's time, which is what a batch estimate needs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import timedelta

from fleetfix.plan.times import StepTimes

# Which StepTimes field a finished step measures: (step, activation method) -> field.
_FIELDS = {
    ("precheck", None): "precheck",
    ("upgrade", None): "upgrade",
    ("activate", "reload"): "reload",
    ("activate", "reboot"): "reboot",
    ("verify", None): "verify",
}
_SOAKS = ("baseline", "soak")  # measured as the margin around fio's runtime: start-up, logs, fetching
RECENT = 50  # samples per field: the newest, so a faster repository or a new fleet shows soon


@dataclass(frozen=True, kw_only=True)
class MeasuredStep:
    """One finished step of an earlier run: what it took."""

    step: str
    seconds: float
    method: str | None = None  # activate: "reload" or "reboot"
    runtime: float | None = None  # baseline and soak: the fio runtime the run asked for


@dataclass(frozen=True)
class Estimates:
    times: StepTimes
    source: str  # one line for the plan: which estimates were measured, from how many steps


def cautious(seconds: list[float]) -> float:
    """The 90th percentile (nearest rank): a step is planned to take what nine in ten of its kind took.

    >>> cautious([10, 12, 11, 60])
    60
    """
    ordered = sorted(seconds)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def estimate_times(measured: Iterable[MeasuredStep], module: str, defaults: StepTimes) -> Estimates:
    """``defaults`` with each field measured by earlier steps replaced by their cautious figure.

    ``measured`` is newest first; steps that did nothing (``seconds`` of a skipped activation are not
    passed in by the journal) and negative margins are ignored.
    """
    samples: dict[str, list[float]] = {}
    for step in measured:
        if step.step in _SOAKS:
            if step.runtime is None:
                continue
            field, seconds = "soak_margin", max(0.0, step.seconds - step.runtime)
        else:
            key = (step.step, step.method if step.step == "activate" else None)
            if key not in _FIELDS:
                continue
            field, seconds = _FIELDS[key], step.seconds
        if len(samples.setdefault(field, [])) < RECENT:
            samples[field].append(seconds)
    if not samples:
        return Estimates(defaults, f"fixed defaults: no finished {module} step in the journal yet")
    times = replace(defaults, **{f: timedelta(seconds=math.ceil(cautious(s))) for f, s in samples.items()})
    names = [f.replace("_", " ") for f in StepTimes.__dataclass_fields__ if f in samples]
    count = sum(len(s) for s in samples.values())
    source = f"measured by {count} step(s) of earlier {module} runs: {', '.join(names)}"
    left = [
        f.replace("_", " ")
        for f in ("precheck", "upgrade", "reload", "reboot", "verify", "soak_margin")
        if f not in samples
    ]
    if left:
        source += f"; fixed defaults: {', '.join(left)}"
    return Estimates(times, source)

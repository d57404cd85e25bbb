"""How long one run of a scheduled job lasts: from configuration, else logged runs, else a stated guess."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from fleetfix.facts.history import ScheduledJob

DEFAULT_RUN_LENGTH = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class RunLength:
    duration: timedelta
    basis: str  # "config", "logs" or "guess"
    observed: int = 0  # runs the logged figure is drawn from

    def describe(self) -> str:
        shown = f"about {_duration(self.duration)}"
        if self.basis == "guess":
            return f"{shown}, a guess"
        if self.basis == "logs":
            return f"{shown} from {self.observed} logged run{'s' if self.observed != 1 else ''}"
        return shown


def _duration(span: timedelta) -> str:
    seconds = span.total_seconds()
    if seconds < 60:
        return f"{round(seconds)} s"
    if seconds % 3600 == 0:
        return f"{int(seconds // 3600)} h"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    hours = round(seconds / 1800) / 2
    return f"{hours:g} h"


def job_keys(job: ScheduledJob) -> tuple[str, ...]:
    """The names a run-length setting may use for ``job``: its command, timer unit, or source file."""
    return tuple(k for k in (job.command, job.unit, job.source) if k)


def run_length(
    job: ScheduledJob,
    configured: Mapping[str, timedelta],
    observed: Mapping[str, Sequence[timedelta]],
    default: timedelta = DEFAULT_RUN_LENGTH,
) -> RunLength:
    """Configured length first; else the 90th percentile (nearest rank) of logged runs; else the guess.

    A high percentile rather than the median: a crash late in a long run is still inside it, and the
    coverage used for the probability grows with the same length, so a generous figure costs nothing unfair.
    """
    for key in job_keys(job):
        if key in configured:
            return RunLength(configured[key], "config")
    for key in job_keys(job):
        runs = sorted(d for d in observed.get(key, ()) if d > timedelta(0))
        if runs:
            return RunLength(runs[math.ceil(0.9 * len(runs)) - 1], "logs", len(runs))
    return RunLength(default, "guess")

"""Step time estimates: how long each step of a host's remediation is expected to take, and how to say so."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class StepTimes:
    """Estimates per step; a batch is only started when its estimate fits in what is left of the window."""

    precheck: timedelta = timedelta(minutes=1)
    upgrade: timedelta = timedelta(minutes=5)
    reload: timedelta = timedelta(minutes=2)
    reboot: timedelta = timedelta(minutes=10)
    verify: timedelta = timedelta(minutes=1)
    soak_runtime: timedelta = timedelta(minutes=5)  # --soak-runtime
    baseline_runtime: timedelta = timedelta(minutes=1)  # --baseline-runtime
    soak_margin: timedelta = timedelta(minutes=2)  # fio start-up, kernel log check, fetching the JSON


DEFAULT_TIMES = StepTimes()


def baseline_seconds(soak_seconds: int) -> int:
    """The baseline soak's default length: a fifth of the soak, between 2 seconds and a minute.

    Short on purpose: it runs the soak's profile on the build being replaced, the one known to be bad.
    """
    return max(2, min(60, soak_seconds // 5))


def duration_text(span: timedelta) -> str:
    """``1h05m``, ``25m``, ``40s``: estimates are minutes apart, never more precise than that."""
    seconds = int(span.total_seconds())
    if seconds < 60:
        return f"{seconds}s"
    hours, minutes = divmod(math.ceil(seconds / 60), 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m"

"""Step time estimates: how long each step of a host's remediation is expected to take, and how to say so."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import timedelta

from fleetfix.errors import InputError


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


_DURATION = re.compile(r"(\d+)([smhd])")
_UNIT = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(spec: str, option: str) -> timedelta:
    """``90s``, ``30m``, ``2h``, ``3d`` or ``1h30m``: a bake or a wait an operator types.

    >>> parse_duration("1h30m", "--bake")
    datetime.timedelta(seconds=5400)
    """
    text = spec.strip().lower()
    parts = _DURATION.findall(text)
    if not text or "".join(n + u for n, u in parts) != text:
        raise InputError(option, f"expected a duration like 90s, 30m, 2h, 3d or 1h30m, got {spec!r}")
    return sum((timedelta(**{_UNIT[u]: int(n)}) for n, u in parts), timedelta(0))


def duration_text(span: timedelta) -> str:
    """``1h05m``, ``25m``, ``40s``: estimates are minutes apart, never more precise than that."""
    seconds = int(span.total_seconds())
    if seconds < 60:
        return f"{seconds}s"
    hours, minutes = divmod(math.ceil(seconds / 60), 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m"

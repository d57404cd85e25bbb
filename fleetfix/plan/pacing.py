"""Between batches, and between steps: start the next batch, wait for the window, or stop.

Two rules from the design. A batch starts only if its estimate fits in what is left of the change window;
at the window's end the hosts already running finish the step they are in and nothing new starts. Failures
count against one budget for the whole run, not per batch as Ansible's ``max_fail_percentage`` does, and
the run stops as soon as the count of failed hosts reaches it, even in the middle of a batch.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from fleetfix.errors import InputError
from fleetfix.plan.build import Plan
from fleetfix.plan.run_state import RunProgress
from fleetfix.plan.times import duration_text
from fleetfix.plan.window import OpenWindow, Window


@dataclass(frozen=True)
class Budget:
    """Failed hosts against the run's limit; a host failing twice (two steps, or a resume) counts once."""

    limit: int
    failed: frozenset[str] = frozenset()

    @classmethod
    def for_run(cls, plan: Plan, progress: RunProgress) -> Budget:
        return cls(plan.failure_budget, frozenset(progress.failed))

    def spend(self, host: str) -> Budget:
        return replace(self, failed=self.failed | {host})

    @property
    def exhausted(self) -> bool:
        return len(self.failed) >= self.limit

    @property
    def left(self) -> int:
        return max(self.limit - len(self.failed), 0)


@dataclass(frozen=True)
class StartBatch:
    batch: int
    hosts: tuple[str, ...]
    estimate: timedelta


@dataclass(frozen=True)
class Wait:
    """The window is closed and opens at ``until``: a run that has started nothing refuses (or waits); one
    that has, stops here and reports ``remaining`` for the next window."""

    until: datetime
    remaining: tuple[str, ...]


@dataclass(frozen=True)
class StopWindowEnd:
    remaining: tuple[str, ...]
    reason: str
    next_window: OpenWindow | None


@dataclass(frozen=True)
class StopBudget:
    remaining: tuple[str, ...]
    failed: tuple[str, ...]


@dataclass(frozen=True)
class StopCanary:
    """A canary failed its bake: the run stops before its next batch, whatever budget is left."""

    remaining: tuple[str, ...]
    failed: tuple[tuple[str, str], ...]  # (canary, why its bake failed)


@dataclass(frozen=True)
class Done:
    pass


@dataclass(frozen=True)
class Bake:
    """Watch ``hosts`` (a canary batch, done) until ``until`` before batch ``batch + 1`` may start.

    ``started`` is False the first time: the bake begins now and is recorded; a resume finds it started
    and waits only for what is left of it, across windows.
    """

    batch: int
    hosts: tuple[str, ...]
    until: datetime
    started: bool


Action = StartBatch | Wait | StopWindowEnd | StopBudget | StopCanary | Done | Bake


def bake_due(plan: Plan, progress: RunProgress, now: datetime) -> Bake | None:
    """The bake a run is in, or must begin, before its next batch; None when there is none to wait for.

    A batch with a bake is done baking when every one of its done hosts has a bake record that ended.
    """
    for batch in plan.batches:
        if not batch.bake or any(h in progress.pending for h in batch.names):
            continue
        watched = tuple(h for h in batch.names if progress.host(h).status == "done")
        records = [progress.host(h).latest.get("bake") for h in watched]
        if not watched or all(r is not None and r.ended_at is not None for r in records):
            continue
        starts = [r.started_at for r in records if r is not None]
        if not starts:
            return Bake(batch.number, watched, now + batch.bake, started=False)
        return Bake(batch.number, watched, min(starts) + batch.bake, started=True)
    return None


def next_action(
    plan: Plan, progress: RunProgress, window: Window | None, now: datetime, budget: Budget
) -> Action:
    """The next move of a run. Batches keep their planned membership: the next batch is the first one with a
    host still pending, and it takes only its pending hosts (on a resume, done and failed ones are left)."""
    remaining = progress.pending
    if not remaining:
        return Done()
    crashed = tuple(
        (h.host, str(bake.detail.get("message") or "no reason recorded"))
        for h in progress.hosts
        if (bake := h.latest.get("bake")) is not None and bake.state == "failed"
    )
    if crashed:  # before the budget: the canary's own reason is the run's, even when it spent the budget
        return StopCanary(remaining, crashed)
    if budget.exhausted:
        return StopBudget(remaining, tuple(sorted(budget.failed)))
    baking = bake_due(plan, progress, now)
    if baking is not None:
        return baking
    pending = set(remaining)
    batch = next(b for b in plan.batches if pending.intersection(b.names))
    hosts = tuple(h for h in batch.hosts if h.host in pending)
    estimate = max(h.estimate for h in hosts)
    start = StartBatch(batch.number, tuple(h.host for h in hosts), estimate)
    if window is None:
        return start
    open_now = window.current(now)
    if open_now is None:
        upcoming = window.next_open(now)
        if upcoming is None:
            return StopWindowEnd(remaining, f"the change window {window.spec} is over", None)
        return Wait(upcoming.start, remaining)
    left = open_now.remaining(now)
    if estimate > left:
        reason = (
            f"batch {batch.number} needs about {duration_text(estimate)}, "
            f"the window has {duration_text(left)} left"
        )
        return StopWindowEnd(remaining, reason, window.next_open(now))
    return start


def stop_reason(window: Window | None, now: datetime, budget: Budget) -> str | None:
    """Why no new step may start inside a running batch (the window has closed, the budget is spent)."""
    if budget.exhausted:
        return f"the failure budget is spent: {len(budget.failed)} of {budget.limit} hosts failed"
    if window is not None and window.current(now) is None:
        return f"the change window {window.spec} has closed"
    return None


def check_window_fits(plan: Plan, window: Window, now: datetime) -> None:
    """Refuse a plan whose longest batch cannot fit in the window at all: it would never start."""
    occurrence = window.current(now) or window.next_open(now)
    if occurrence is None:
        raise InputError("--window", f"{window.spec!r} is over")
    longest = max(plan.batches, key=lambda b: b.estimate)
    if longest.estimate > occurrence.length:
        message = (
            f"batch {longest.number} needs about {duration_text(longest.estimate)} but {window.spec!r} "
            f"lasts {duration_text(occurrence.length)}: lower --batch or widen the window"
        )
        raise InputError("--window", message)

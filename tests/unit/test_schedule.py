"""Scheduling a run: one failure budget across batches, batches that must fit the window, resume next window.

A small in-test executor plays the steps of each batch against the pure scheduler: hosts of a batch run
each step together, time advances by the step's estimate, and chosen (host, step) pairs fail.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fleetfix.advisories.database import AdvisoryDB
from fleetfix.advisories.schema import load_file
from fleetfix.errors import InputError
from fleetfix.plan.build import STEPS, Plan, build_plan
from fleetfix.plan.count import Count
from fleetfix.plan.pacing import (
    Budget,
    Done,
    StartBatch,
    StopBudget,
    StopWindowEnd,
    Wait,
    check_window_fits,
    next_action,
    stop_reason,
)
from fleetfix.plan.run_state import StepRecord, run_progress
from fleetfix.plan.window import Window, parse_window
from tests.support.plans import ADVISORIES, QUICK, host


@pytest.fixture()
def db(tmp_path: Path) -> AdvisoryDB:
    path = tmp_path / "test.yaml"
    path.write_text(ADVISORIES)
    return AdvisoryDB(load_file(path))


def reboot_plan(db: AdvisoryDB, count: int, batch: int, budget: int = 1) -> Plan:
    """``count`` bad hosts with a disk each (20 minutes per host with QUICK times)."""
    fleet = [host(db, f"db{n:02d}", disks=("sdb",)) for n in range(1, count + 1)]
    return build_plan(
        fleet,
        "mpt3sas",
        db,
        batch=Count(batch, False),
        max_failures=Count(budget, False),
        times=QUICK,
        reboot_allowed=True,
    )


class Executor:
    """Runs batches step by step, writing step records as the journal would."""

    def __init__(
        self, plan: Plan, window: Window | None, now: datetime, failures: set[tuple[str, str]]
    ) -> None:
        self.plan, self.window, self.now, self.failures = plan, window, now, failures
        self.records: list[StepRecord] = []
        self.budget = Budget(plan.failure_budget)
        self.actions: list[object] = []

    def progress(self):
        return run_progress(self.plan.hosts, self.records)

    def run(self) -> object:
        """Until the scheduler says stop, wait or done; returns that action."""
        while True:
            action = next_action(self.plan, self.progress(), self.window, self.now, self.budget)
            self.actions.append(action)
            if not isinstance(action, StartBatch):
                return action
            self.run_batch(action.hosts)

    def run_batch(self, hosts: tuple[str, ...]) -> None:
        active = list(hosts)
        for index, step in enumerate(STEPS):
            if stop_reason(self.window, self.now, self.budget) or not active:
                return
            for name in active:
                self.records.append(
                    StepRecord(
                        host=name, step=step, state="started", detail={}, started_at=self.now, ended_at=None
                    )
                )
            self.now += max(self.plan.host(name).steps[index].estimate for name in active)
            for name in list(active):
                failed = (name, step) in self.failures
                self.records.append(
                    StepRecord(
                        host=name,
                        step=step,
                        state="failed" if failed else "ok",
                        detail={},
                        started_at=self.now,
                        ended_at=self.now,
                    )
                )
                if failed:
                    active.remove(name)
                    self.budget = self.budget.spend(name)

    def count(self, name: str, step: str, state: str) -> int:
        return sum(1 for r in self.records if (r.host, r.step, r.state) == (name, step, state))


SATURDAY = datetime(2026, 11, 28, tzinfo=UTC)


def test_budget_counts_failures_across_batches_and_stops_exactly_at_its_count(db: AdvisoryDB) -> None:
    plan = reboot_plan(db, count=8, batch=2, budget=3)
    # One failure per batch: 50% of every batch, which Ansible's max_fail_percentage=50 would never stop.
    failures = {("db02", "upgrade"), ("db04", "verify"), ("db05", "upgrade"), ("db07", "upgrade")}
    executor = Executor(plan, None, SATURDAY, failures)
    action = executor.run()
    assert isinstance(action, StopBudget)
    assert action.failed == ("db02", "db04", "db05")
    progress = executor.progress()
    assert progress.failed == ("db02", "db04", "db05")
    assert progress.done == ("db01", "db03")
    # db06 ran the step it shared with db05, then nothing new started: no fourth failure was possible.
    assert progress.host("db06").status == "interrupted" and progress.host("db06").last.step == "upgrade"
    assert action.remaining == ("db06", "db07", "db08")
    assert executor.count("db07", "precheck", "started") == 0


def test_budget_spent_mid_batch_stops_the_other_hosts_before_their_next_step(db: AdvisoryDB) -> None:
    plan = reboot_plan(db, count=3, batch=3, budget=2)
    executor = Executor(plan, None, SATURDAY, {("db01", "upgrade"), ("db02", "upgrade")})
    action = executor.run()
    assert isinstance(action, StopBudget)
    assert executor.count("db03", "upgrade", "ok") == 1
    assert executor.count("db03", "activate", "started") == 0


def test_a_run_with_failures_below_the_budget_finishes(db: AdvisoryDB) -> None:
    plan = reboot_plan(db, count=4, batch=2, budget=2)
    executor = Executor(plan, None, SATURDAY, {("db03", "soak")})
    assert isinstance(executor.run(), Done)
    assert executor.progress().done == ("db01", "db02", "db04")


def test_batch_that_does_not_fit_is_not_started_and_resumes_in_the_next_window(db: AdvisoryDB) -> None:
    plan = reboot_plan(db, count=4, batch=1)  # 22 minutes a batch
    window = parse_window("Sat 02:00-03:00 UTC")
    executor = Executor(plan, window, SATURDAY.replace(hour=2, minute=5), set())
    action = executor.run()
    assert isinstance(action, StopWindowEnd)
    # Batches 1 and 2 run 02:05-02:49; then 11 minutes are left, so batch 3 never started.
    assert executor.progress().done == ("db01", "db02")
    assert action.remaining == ("db03", "db04")
    assert action.reason == "batch 3 needs about 22m, the window has 11m left"
    assert action.next_window.start == datetime(2026, 12, 5, 2, 0, tzinfo=UTC)
    assert executor.count("db03", "precheck", "started") == 0

    executor.now = action.next_window.start  # --resume in the next window
    assert isinstance(executor.run(), Done)
    assert executor.progress().done == ("db01", "db02", "db03", "db04")
    assert all(executor.count(h, "upgrade", "ok") == 1 for h in plan.hosts)  # none upgraded twice


def test_batch_fitting_exactly_what_is_left_starts(db: AdvisoryDB) -> None:
    plan = reboot_plan(db, count=1, batch=1)
    window = parse_window("Sat 02:00-03:00 UTC")
    action = next_action(
        plan, run_progress(plan.hosts, []), window, SATURDAY.replace(hour=2, minute=38), Budget(1)
    )
    assert action == StartBatch(1, ("db01",), timedelta(minutes=22))


def test_closed_window_waits_for_the_next_occurrence(db: AdvisoryDB) -> None:
    plan = reboot_plan(db, count=2, batch=1)
    progress = run_progress(plan.hosts, [])
    action = next_action(
        plan, progress, parse_window("Sat 02:00-04:00 UTC"), SATURDAY.replace(hour=5), Budget(1)
    )
    assert action == Wait(datetime(2026, 12, 5, 2, 0, tzinfo=UTC), ("db01", "db02"))


def test_past_interval_window_stops_with_no_next_window(db: AdvisoryDB) -> None:
    plan = reboot_plan(db, count=1, batch=1)
    window = parse_window("2026-11-28T02:00Z/PT2H")
    action = next_action(plan, run_progress(plan.hosts, []), window, SATURDAY.replace(hour=5), Budget(1))
    assert isinstance(action, StopWindowEnd) and action.next_window is None
    assert action.reason == "the change window 2026-11-28T02:00+00:00/2026-11-28T04:00+00:00 is over"


def test_window_closing_mid_batch_stops_new_steps(db: AdvisoryDB) -> None:
    window = parse_window("Sat 02:00-03:00 UTC")
    assert stop_reason(window, SATURDAY.replace(hour=2, minute=59), Budget(1)) is None
    assert stop_reason(window, SATURDAY.replace(hour=3), Budget(1)) == (
        "the change window Sat 02:00-03:00 UTC has closed"
    )
    assert stop_reason(None, SATURDAY, Budget(1).spend("db01")) == (
        "the failure budget is spent: 1 of 1 hosts failed"
    )


def test_resume_takes_only_the_pending_hosts_of_a_partly_done_batch(db: AdvisoryDB) -> None:
    plan = reboot_plan(db, count=4, batch=2)
    t = SATURDAY
    records = [
        StepRecord(host="db01", step=s, state="ok", detail={}, started_at=t, ended_at=t) for s in STEPS
    ]
    records += [
        StepRecord(host="db02", step="precheck", state="ok", detail={}, started_at=t, ended_at=t),
        StepRecord(host="db02", step="upgrade", state="started", detail={}, started_at=t, ended_at=None),
    ]
    action = next_action(plan, run_progress(plan.hosts, records), None, t, Budget(1))
    assert action == StartBatch(1, ("db02",), timedelta(minutes=22))


def test_budget_counts_each_host_once() -> None:
    budget = Budget(2).spend("db01").spend("db01")
    assert (budget.exhausted, budget.left) == (False, 1)
    budget = budget.spend("db02")
    assert (budget.exhausted, budget.left) == (True, 0)


def test_done_when_nothing_is_pending(db: AdvisoryDB) -> None:
    plan = reboot_plan(db, count=1, batch=1)
    records = [
        StepRecord(host="db01", step=s, state="ok", detail={}, started_at=SATURDAY, ended_at=SATURDAY)
        for s in STEPS
    ]
    assert next_action(plan, run_progress(plan.hosts, records), None, SATURDAY, Budget(1)) == Done()


def test_plan_whose_batch_can_never_fit_the_window_is_refused(db: AdvisoryDB) -> None:
    plan = reboot_plan(db, count=4, batch=2)
    check_window_fits(plan, parse_window("Sat 02:00-02:22 UTC"), SATURDAY)
    with pytest.raises(InputError) as caught:
        check_window_fits(plan, parse_window("Sat 02:00-02:15 UTC"), SATURDAY)
    assert str(caught.value) == (
        "--window: batch 1 needs about 22m but 'Sat 02:00-02:15 UTC' lasts 15m: "
        "lower --batch or widen the window"
    )
    with pytest.raises(InputError, match="is over"):
        check_window_fits(plan, parse_window("2026-11-27T02:00Z/PT2H"), SATURDAY)


def test_budget_for_a_resumed_run_starts_from_the_journal_failures(db: AdvisoryDB) -> None:
    plan = reboot_plan(db, count=3, batch=1, budget=2)
    records = [
        StepRecord(
            host="db02", step="upgrade", state="failed", detail={}, started_at=SATURDAY, ended_at=SATURDAY
        )
    ]
    budget = Budget.for_run(plan, run_progress(plan.hosts, records))
    assert (budget.limit, budget.failed, budget.left) == (2, frozenset({"db02"}), 1)

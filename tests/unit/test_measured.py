"""Step estimates from earlier runs' measured steps, per module and activation method."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from fleetfix.advisories.database import AdvisoryDB
from fleetfix.advisories.schema import load_file
from fleetfix.plan.build import build_plan
from fleetfix.plan.describe import describe
from fleetfix.plan.measured import MeasuredStep, cautious, estimate_times
from fleetfix.plan.times import DEFAULT_TIMES
from fleetfix.state.journal import Journal
from tests.support.plans import ADVISORIES, host

T0 = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)


def test_a_first_run_uses_the_fixed_defaults_and_says_so() -> None:
    estimates = estimate_times([], "mpt3sas", DEFAULT_TIMES)
    assert estimates.times == DEFAULT_TIMES
    assert estimates.source == "fixed defaults: no finished mpt3sas step in the journal yet"


def test_measured_steps_replace_the_defaults_they_measure() -> None:
    measured = [
        MeasuredStep(step="precheck", seconds=4.2),
        MeasuredStep(step="upgrade", seconds=20.5),
        MeasuredStep(step="activate", seconds=3.0, method="reload"),
        MeasuredStep(step="activate", seconds=200.0, method=None),  # no method recorded: says nothing
        MeasuredStep(step="verify", seconds=2.0),
        MeasuredStep(step="soak", seconds=19.0, runtime=5.0),
        MeasuredStep(step="baseline", seconds=9.0, runtime=2.0),
        MeasuredStep(step="soak", seconds=30.0),  # no runtime known: no margin to take from it
    ]
    estimates = estimate_times(measured, "mpt3sas", DEFAULT_TIMES)
    times = estimates.times
    assert (times.precheck, times.upgrade, times.reload, times.verify) == (
        timedelta(seconds=5),
        timedelta(seconds=21),
        timedelta(seconds=3),
        timedelta(seconds=2),
    )
    assert times.soak_margin == timedelta(seconds=14)  # the larger of 14 and 7 (two samples: the max)
    assert times.reboot == DEFAULT_TIMES.reboot and times.soak_runtime == DEFAULT_TIMES.soak_runtime
    assert estimates.source == (
        "measured by 6 step(s) of earlier mpt3sas runs: precheck, upgrade, reload, verify, soak margin;"
        " fixed defaults: reboot"
    )


def test_cautious_is_the_90th_percentile() -> None:
    assert cautious([float(s) for s in range(1, 21)]) == 18
    assert cautious([7.0]) == 7


def test_the_journal_measures_finished_steps_of_the_module_only(tmp_path: Path) -> None:
    advisories = tmp_path / "test.yaml"
    advisories.write_text(ADVISORIES)
    db = AdvisoryDB(load_file(advisories))
    plan = build_plan([host(db, "db01", disks=("sdb",))], "mpt3sas", db, reboot_allowed=True)
    clock = [T0]
    with Journal(tmp_path / "journal.sqlite", clock=lambda: clock[0]) as journal:
        run = journal.start_run("remediate", plan, None)

        def step(name: str, seconds: int, state: str = "ok", **detail: object) -> None:
            journal.step_started(run, "db01", name)
            clock[0] += timedelta(seconds=seconds)
            journal.step_ended(run, "db01", name, state, detail)

        step("precheck", 4)
        step("upgrade", 30)
        step("activate", 3, method="reload")
        step("activate", 1, status="skipped")  # did nothing: not a measure of the work
        step("verify", 2, "failed", message="wrong build")
        step("soak", 320)
        measured = journal.measured_steps("mpt3sas")
        assert journal.measured_steps("megaraid_sas") == []
    assert [(m.step, m.seconds, m.method, m.runtime) for m in measured] == [
        ("soak", 320.0, None, 300.0),
        ("activate", 3.0, "reload", None),
        ("upgrade", 30.0, None, None),
        ("precheck", 4.0, None, None),
    ]
    assert "Estimates: fixed defaults" in "\n".join(describe(plan))

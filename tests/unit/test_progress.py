"""Resume logic over journal records: each host's status, and what a re-check from facts leaves to do."""

from __future__ import annotations

from datetime import UTC, datetime

from fleetfix.plan.build import STEPS
from fleetfix.plan.run_state import Recheck, StepRecord, recheck, run_progress

T = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
HOSTS = ("db01", "db02", "db03", "db04", "db05", "db06")


def ok(host: str, *steps: str) -> list[StepRecord]:
    return [StepRecord(host=host, step=s, state="ok", detail={}, started_at=T, ended_at=T) for s in steps]


def started(host: str, step: str) -> StepRecord:
    return StepRecord(host=host, step=step, state="started", detail={}, started_at=T, ended_at=None)


def test_every_planned_host_lands_in_exactly_one_set() -> None:
    records = [
        *ok("db01", *STEPS),
        *ok("db02", "precheck"),
        StepRecord(
            host="db02",
            step="upgrade",
            state="failed",
            detail={"message": "dpkg: error"},
            started_at=T,
            ended_at=T,
        ),
        *ok("db03", "precheck", "upgrade"),
        started("db03", "activate"),
        *ok("db04", "precheck", "upgrade"),
        StepRecord(
            host="db05",
            step="precheck",
            state="skipped",
            detail={"reason": "module gone"},
            started_at=T,
            ended_at=T,
        ),
        StepRecord(
            host="elsewhere", step="precheck", state="ok", detail={}, started_at=T, ended_at=T
        ),  # not in this plan: ignored
    ]
    progress = run_progress(HOSTS, records)
    assert progress.done == ("db01",)
    assert progress.failed == ("db02",)
    assert progress.with_status("skipped") == ("db05",)
    assert progress.with_status("interrupted") == ("db03", "db04")
    assert progress.with_status("untouched") == ("db06",)
    assert progress.pending == ("db03", "db04", "db06")
    assert progress.mid_step == {"db03": "activate"}
    assert progress.host("db04").outcome == "stopped after upgrade: re-checked from facts on resume"
    assert progress.host("db03").outcome == "interrupted during activate: re-checked from facts on resume"
    assert progress.counts() == {"done": 1, "failed": 1, "skipped": 1, "interrupted": 2, "untouched": 1}


def test_soak_skipped_for_lack_of_disks_still_counts_as_done() -> None:
    records = [*ok("db01", "precheck", "upgrade", "activate", "verify")]
    records.append(
        StepRecord(
            host="db01", step="soak", state="skipped", detail={"reason": "no disk"}, started_at=T, ended_at=T
        )
    )
    assert run_progress(["db01"], records).done == ("db01",)


def test_latest_attempt_of_a_step_decides() -> None:
    # Killed mid-upgrade, then resumed: the repeated upgrade ended ok, and the host went on to finish.
    records = [*ok("db01", "precheck"), started("db01", "upgrade"), *ok("db01", *STEPS)]
    progress = run_progress(["db01"], records)
    assert progress.done == ("db01",) and progress.mid_step == {}


def test_verified_host_mid_soak_is_neither_done_nor_upgraded_again() -> None:
    records = [*ok("db01", "precheck", "upgrade", "activate", "verify"), started("db01", "soak")]
    host = run_progress(["db01"], records).host("db01")
    assert host.status == "interrupted"
    assert recheck(host, "mpt3sas", "43.00.00.00", "46.00.00.00", "46.00.00.00") == Recheck(
        ("verify", "soak")
    )


def test_recheck_from_facts() -> None:
    fresh = run_progress(["db01"], []).host("db01")
    assert recheck(fresh, "mpt3sas", "43.00.00.00", "46.00.00.00", "43.00.00.00").steps == STEPS[1:]
    # Someone upgraded it by hand before the run reached it: nothing to install, still verified and soaked.
    assert recheck(fresh, "mpt3sas", "43.00.00.00", "46.00.00.00", "46.0.0.0") == Recheck(
        ("verify", "soak"), skip=("upgrade", "activate")
    )

    upgraded = run_progress(["db01"], ok("db01", "precheck", "upgrade")).host("db01")
    assert recheck(upgraded, "mpt3sas", "43.00.00.00", "46.00.00.00", "43.00.00.00").steps == (
        "activate",
        "verify",
        "soak",
    )
    # A reload cut short leaves no module loaded: activate again, never upgrade again.
    reloading = run_progress(["db01"], [*ok("db01", "precheck", "upgrade"), started("db01", "activate")])
    assert recheck(reloading.host("db01"), "mpt3sas", "43.00.00.00", "46.00.00.00", None).steps == (
        "activate",
        "verify",
        "soak",
    )
    # Rebooted into the new driver before the controller saw the activation end.
    assert recheck(reloading.host("db01"), "mpt3sas", "43.00.00.00", "46.00.00.00", "46.00.00.00") == Recheck(
        ("verify", "soak"), skip=("activate",)
    )


def test_recheck_leaves_a_host_that_changed_under_the_run_alone() -> None:
    fresh = run_progress(["db01"], []).host("db01")
    decision = recheck(fresh, "mpt3sas", "43.00.00.00", "46.00.00.00", "44.00.00.00")
    assert decision.steps == ()
    assert (
        decision.problem
        == "mpt3sas is now 44.00.00.00, neither the planned 43.00.00.00 nor 46.00.00.00: left alone"
    )

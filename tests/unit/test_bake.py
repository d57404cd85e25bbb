"""Canary batches and their bake: the batch cut, the pacing between batches, and what fails a canary."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest

from fleetfix.advisories.database import AdvisoryDB
from fleetfix.advisories.schema import load_file
from fleetfix.cli import run
from fleetfix.errors import ExitStatus, InputError
from fleetfix.facts.history import CrashDump
from fleetfix.facts.host import HostFacts
from fleetfix.listen.text import ListenEvent
from fleetfix.plan.bake import bake_problem, boot_id_after_change, netconsole_crashes
from fleetfix.plan.build import STEPS, build_plan
from fleetfix.plan.count import Count
from fleetfix.plan.describe import describe
from fleetfix.plan.pacing import Bake, Budget, StartBatch, StopCanary, next_action
from fleetfix.plan.run_state import StepRecord, run_progress
from fleetfix.plan.times import parse_duration
from fleetfix.soak.verdict import kernel_fault_kind
from tests.support import REPO
from tests.support.plans import ADVISORIES, QUICK, host

T0 = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
BAKE = timedelta(hours=2)


@pytest.fixture
def plan(tmp_path: Path):
    path = tmp_path / "advisories.yaml"
    path.write_text(ADVISORIES)
    db = AdvisoryDB(load_file(path))
    fleet = [host(db, f"db{n:02d}") for n in range(1, 6)]
    return build_plan(fleet, "mpt3sas", db, batch=Count(2, False), times=QUICK, canary=1, bake=BAKE)


def done(host_: str, at: datetime = T0) -> list[StepRecord]:
    return [StepRecord(host=host_, step=s, state="ok", detail={}, started_at=at, ended_at=at) for s in STEPS]


def test_the_canary_batch_comes_first_and_alone(plan) -> None:
    assert [b.names for b in plan.batches] == [("db01",), ("db02", "db03"), ("db04", "db05")]
    assert [b.bake for b in plan.batches] == [BAKE, timedelta(0), timedelta(0)]
    assert plan.estimate == sum((b.estimate for b in plan.batches), BAKE)
    assert "  then bake 2h00m: no new dump or reboot before the next batch" in describe(plan)


def test_the_next_batch_waits_for_the_bake_which_a_resume_continues(plan) -> None:
    records = done("db01")
    action = next_action(plan, run_progress(plan.hosts, records), None, T0, Budget(1))
    assert action == Bake(1, ("db01",), T0 + BAKE, started=False)
    # Resumed an hour later (another window): the bake that started at T0 has an hour left.
    started = StepRecord(host="db01", step="bake", state="started", detail={}, started_at=T0, ended_at=None)
    later = T0 + timedelta(hours=1)
    action = next_action(plan, run_progress(plan.hosts, [*records, started]), None, later, Budget(1))
    assert action == Bake(1, ("db01",), T0 + BAKE, started=True)
    baked = StepRecord(host="db01", step="bake", state="ok", detail={}, started_at=T0, ended_at=T0 + BAKE)
    action = next_action(plan, run_progress(plan.hosts, [*records, baked]), None, T0 + BAKE, Budget(1))
    assert action == StartBatch(2, ("db02", "db03"), plan.batches[1].estimate)


def test_a_canary_failing_its_bake_is_failed(plan) -> None:
    failed = StepRecord(host="db01", step="bake", state="failed", detail={"message": "rebooted"},
                        started_at=T0, ended_at=T0)  # fmt: skip
    progress = run_progress(plan.hosts, [*done("db01"), failed])
    assert progress.host("db01").status == "failed"
    assert progress.host("db01").outcome == "failed at bake: rebooted"


DB01 = HostFacts.from_dict(json.loads((REPO / "tests/data/facts/db01.json").read_text()), "db01.json")


def facts(boot_id: str, dumps: tuple[CrashDump, ...] = ()) -> HostFacts:
    """db01's captured facts, with the boot id and dumps of the case."""
    return msgspec.structs.replace(DB01, boot_id=boot_id, crash_dumps=dumps, crash_dumps_total=len(dumps))


def test_what_fails_a_bake() -> None:
    since = T0
    assert bake_problem(facts("b1"), "b1", since) is None
    assert bake_problem(facts("b2"), "b1", since) == "rebooted during the bake (boot id b1 -> b2)"
    assert bake_problem(None, "b1", since) == "no facts during the bake: the host does not answer"
    old = CrashDump(path="/var/crash/202611270100", time=T0 - timedelta(days=1), time_source="name",
                    has_dmesg=True)  # fmt: skip
    new = CrashDump(path="/var/crash/202611280230", time=T0 + timedelta(minutes=30), time_source="name",
                    has_dmesg=True)  # fmt: skip
    assert bake_problem(facts("b1", (old,)), "b1", since) is None
    assert bake_problem(facts("b1", (old, new)), "b1", since) == (
        "1 crash dump(s) written during the bake, first /var/crash/202611280230 at 2026-11-28T02:30:00+00:00"
    )
    assert boot_id_after_change({"soak": {"boot_id_after": "b9"}, "verify": {"boot_id": "b8"}}) == "b9"
    assert boot_id_after_change({"verify": {"boot_id": "b8"}}) == "b8"


@pytest.mark.parametrize(("spec", "seconds"), [("90s", 90), ("30m", 1800), ("2h", 7200), ("1d", 86400),
                                               ("1h30m", 5400)])  # fmt: skip
def test_durations(spec: str, seconds: int) -> None:
    assert parse_duration(spec, "--bake") == timedelta(seconds=seconds)


@pytest.mark.parametrize("spec", ["", "soon", "30", "1h 30m", "-5m", "2w"])
def test_bad_durations(spec: str) -> None:
    with pytest.raises(InputError, match=r"^--bake: expected a duration"):
        parse_duration(spec, "--bake")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--bake", "30m"], "fleetfix: --bake: bakes the canary batch: give --canary N too"),
        (["--canary", "1", "--bake", "soon"], "fleetfix: --bake: expected a duration like 90s"),
        (["--iops-floor", "fast"], "fleetfix: --iops-floor: expected IOPS like 5000 or a share like 80%"),
        (["--p99-ceiling", "50%"], "fleetfix: --p99-ceiling: a share of the baseline's p99 is 100% or more"),
    ],
)
def test_bad_remediation_options_stop_before_any_host(
    tmp_path: Path, extra: list[str], message: str, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    """Refused with one line and the exit status of a bad option value before any host is contacted."""
    monkeypatch.setenv("FLEETFIX_STATE_DIR", str(tmp_path / "state"))
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  hosts:\n    db01: {ansible_host: 192.0.2.1}\n")
    status = run(["remediate", "-i", str(inventory), "-m", "mpt3sas", "--yes", *extra])
    stderr = capsys.readouterr().err
    assert status == ExitStatus.USAGE, stderr
    assert stderr.startswith(message) and stderr.count("\n") == 1
    assert not (tmp_path / "state" / "journal.sqlite").exists()


def received(path: str, source: str, at: datetime) -> list[str]:
    """``events.jsonl`` lines the receiver would write for a real kernel log arriving from ``source`` at
    ``at``: its own ``ListenEvent`` for each line its fault test flags."""
    lines = [
        line for line in (REPO / "tests/data" / path).read_text().splitlines() if not line.startswith("#")
    ]
    return [
        ListenEvent(at.isoformat(timespec="microseconds"), source, line, kind, "10.0.0.5_6666.log").to_json()
        for line in lines
        if (kind := kernel_fault_kind(line))
    ]


def test_a_crash_netconsole_brought_during_the_bake_fails_the_canary() -> None:
    during, before = T0 + timedelta(minutes=40), T0 - timedelta(minutes=5)
    lockup = received("kernel_log/soft_lockup_panic.log", "10.0.0.5:6666", during)
    events = [
        *received("oopses/24_amdgpu_null_deref_console_cut.log", "10.0.0.5:6666", before),  # before the bake
        *received("oopses/24_amdgpu_null_deref_console_cut.log", "10.0.0.9:6666", during),  # another host
        '{"time": "2026-11-28T02:41:00+00:00", "source": "10.0.0.5:66',  # the receiver stopped mid-write
        *lockup,
    ]
    crashes = netconsole_crashes(events, {"10.0.0.5"}, T0)
    assert [e.kind for e in crashes] == ["soft_lockup", "panic"]
    assert bake_problem(facts("b1"), "b1", T0, crashes) == (
        "netconsole: 2 crash line(s) during the bake, worst (panic) at 2026-11-28T02:40:00.000000+00:00: "
        "[ 5300.237965] Kernel panic - not syncing: softlockup: hung tasks"
    )
    # What the crash left comes after its own line: here the reboot it caused.
    assert bake_problem(facts("b2"), "b1", T0, crashes).endswith(
        "; rebooted during the bake (boot id b1 -> b2)"
    )
    # A warning is the soak's business, not a crash.
    warning = received("oopses/25_kswapd_warning_many_taint_flags.log", "10.0.0.5:6666", during)
    assert warning and netconsole_crashes(warning, {"10.0.0.5"}, T0) == []


def test_a_canary_failing_its_bake_stops_the_run_whatever_budget_is_left(plan) -> None:
    failed = StepRecord(host="db01", step="bake", state="failed", detail={"message": "netconsole: panic"},
                        started_at=T0, ended_at=T0)  # fmt: skip
    progress = run_progress(plan.hosts, [*done("db01"), failed])
    action = next_action(plan, progress, None, T0 + BAKE, Budget(3).spend("db01"))
    assert action == StopCanary(("db02", "db03", "db04", "db05"), (("db01", "netconsole: panic"),))

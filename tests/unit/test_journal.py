"""The SQLite journal: crash safety under kill -9, idempotent schema, concurrent readers, runs and show."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fleetfix.advisories.database import AdvisoryDB
from fleetfix.advisories.schema import load_file
from fleetfix.errors import InputError
from fleetfix.plan.build import STEPS, Plan, build_plan
from fleetfix.plan.count import Count
from fleetfix.plan.run_state import recheck
from fleetfix.state.journal import SCHEMA_VERSION, Journal, default_path
from tests.support import REPO
from tests.support.plans import ADVISORIES, QUICK, host

# Writes every step of every host of a run, as the controller does, and parks inside one chosen step.
CHILD = r"""
import sys, time
from pathlib import Path
from fleetfix.state.journal import Journal
from fleetfix.plan.build import STEPS

path, run, stop_host, stop_step = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
pause = float(sys.argv[5])
journal = Journal(path)
for name in journal.run(run).plan.hosts:
    for step in STEPS:
        journal.step_started(run, name, step, {"attempt": 1})
        if (name, step) == (stop_host, stop_step):
            print("parked", flush=True)
            time.sleep(120)
        time.sleep(pause)
        journal.step_ended(run, name, step, "ok", {"iops": 1000} if step == "soak" else {})
print("finished", flush=True)
"""


@pytest.fixture()
def plan(tmp_path: Path) -> Plan:
    advisories = tmp_path / "advisories.yaml"
    advisories.write_text(ADVISORIES)
    db = AdvisoryDB(load_file(advisories))
    fleet = [host(db, f"db{n:02d}", disks=("sdb",)) for n in range(1, 6)]
    return build_plan(fleet, "mpt3sas", db, batch=Count(2, False), times=QUICK, reboot_allowed=True)


def child(
    path: Path, run: int, stop_host: str = "-", stop_step: str = "-", pause: float = 0.0
) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    args = [sys.executable, "-c", CHILD, str(path), str(run), stop_host, stop_step, str(pause)]
    return subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env=env)


def kill_when_parked(path: Path, run: int, stop_host: str, stop_step: str) -> None:
    process = child(path, run, stop_host, stop_step)
    try:
        assert process.stdout.readline().strip() == "parked"
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    assert process.returncode == -signal.SIGKILL


def test_kill_9_mid_upgrade_loses_nothing_and_resume_finds_the_right_sets(tmp_path: Path, plan: Plan) -> None:
    path = tmp_path / "state" / "journal.sqlite"
    with Journal(path) as journal:
        run = journal.start_run("remediate", plan, "Sat 02:00-04:00 UTC")
    kill_when_parked(path, run, "db03", "upgrade")
    assert Path(f"{path}-wal").stat().st_size > 0  # the rows live in the WAL the killed writer left behind

    with Journal(path) as journal:
        progress = journal.progress(run)
        assert journal.run(run).status == "running"
    assert progress.done == ("db01", "db02")
    assert progress.mid_step == {"db03": "upgrade"}
    assert progress.with_status("untouched") == ("db04", "db05")
    assert progress.pending == ("db03", "db04", "db05")
    assert progress.failed == ()
    # Facts show db03 still on the bad build: its upgrade never ended ok, so it runs again, from the upgrade.
    assert recheck(progress.host("db03"), "mpt3sas", "43.00.00.00", "46.00.00.00", "43.00.00.00").steps == (
        "upgrade",
        "activate",
        "verify",
        "soak",
        "post_hook",  # a hook step: nothing runs for it unless the run has a --post-hook
    )


def test_kill_9_during_the_soak_never_upgrades_the_verified_host_again(tmp_path: Path, plan: Plan) -> None:
    path = tmp_path / "journal.sqlite"
    with Journal(path) as journal:
        run = journal.start_run("remediate", plan, None)
    kill_when_parked(path, run, "db02", "soak")
    with Journal(path) as journal:
        progress = journal.progress(run)
    assert progress.done == ("db01",)
    assert progress.mid_step == {"db02": "soak"}
    decision = recheck(progress.host("db02"), "mpt3sas", "43.00.00.00", "46.00.00.00", "46.00.00.00")
    assert (decision.steps, decision.skip) == (("verify", "soak", "post_hook"), ())


def test_resumed_run_completes_every_host_exactly_once(tmp_path: Path, plan: Plan) -> None:
    path = tmp_path / "journal.sqlite"
    with Journal(path) as journal:
        run = journal.start_run("remediate", plan, None)
    kill_when_parked(path, run, "db04", "activate")
    with Journal(path) as journal:
        progress = journal.progress(run)
        journal.resume_run(run, "Sun 02:00-04:00 UTC")
        for name in progress.pending:
            loaded = "43.00.00.00"  # the facts a precheck would read: activation never happened
            steps = recheck(progress.host(name), "mpt3sas", "43.00.00.00", "46.00.00.00", loaded).steps
            for step in ("precheck", *steps):
                journal.step_started(run, name, step)
                journal.step_ended(run, name, step, "ok")
        journal.end_run(run, "done")
        final = journal.progress(run)
        steps = journal.steps(run)
        assert journal.run(run).window == "Sun 02:00-04:00 UTC"
    assert final.done == plan.hosts
    upgrades = {
        name: sum(1 for r in steps if (r.host, r.step, r.state) == (name, "upgrade", "ok"))
        for name in plan.hosts
    }
    assert upgrades == dict.fromkeys(plan.hosts, 1)


def test_schema_creation_is_idempotent(tmp_path: Path, plan: Plan) -> None:
    path = tmp_path / "journal.sqlite"
    with Journal(path) as journal:
        run = journal.start_run("remediate", plan, None)
        journal.step_started(run, "db01", "precheck")
    with Journal(path) as journal, Journal(path) as again:
        assert [r.id for r in again.runs()] == [run]
        assert journal.progress(run).mid_step == {"db01": "precheck"}
    raw = sqlite3.connect(path)
    names = sorted(r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"))
    assert names == ["host_steps", "host_steps_by_run", "runs"]
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    raw.close()


def test_concurrent_readers_see_whole_rows_while_a_process_writes(tmp_path: Path, plan: Plan) -> None:
    path = tmp_path / "journal.sqlite"
    with Journal(path) as journal:
        run = journal.start_run("remediate", plan, None)
    readers = [Journal(path), Journal(path)]
    process = child(path, run, pause=0.01)
    seen: list[int] = []
    while process.poll() is None:
        for reader in readers:
            records = reader.steps(run)
            assert all(r.state == "started" or r.ended_at is not None for r in records)
            seen.append(len(records))
            reader.listing()
    assert process.wait() == 0 and process.stdout.read().strip() == "finished"
    assert seen == sorted(seen)  # never goes backwards
    assert any(0 < n < len(plan.hosts) * len(STEPS) for n in seen)  # some reads did overlap the writes
    assert all(reader.progress(run).done == plan.hosts for reader in readers)
    for reader in readers:
        reader.close()


def test_open_read_transaction_does_not_block_the_writer(tmp_path: Path, plan: Plan) -> None:
    path = tmp_path / "journal.sqlite"
    journal = Journal(path)
    run = journal.start_run("remediate", plan, None)
    reader = sqlite3.connect(path, isolation_level=None, timeout=0.5)
    reader.execute("BEGIN")
    before = reader.execute("SELECT count(*) FROM host_steps").fetchone()[0]
    journal.step_started(run, "db01", "precheck")  # would wait for the reader under a rollback journal
    assert reader.execute("SELECT count(*) FROM host_steps").fetchone()[0] == before  # its snapshot holds
    reader.execute("COMMIT")
    assert reader.execute("SELECT count(*) FROM host_steps").fetchone()[0] == before + 1
    reader.close()
    journal.close()


def test_steps_runs_listing_and_show(tmp_path: Path, plan: Plan) -> None:
    moments = iter(datetime(2026, 11, 28, 2, 0, tzinfo=UTC) + timedelta(minutes=m) for m in range(100))
    journal = Journal(tmp_path / "journal.sqlite", clock=lambda: next(moments))
    first = journal.start_run("remediate", plan, "Sat 02:00-04:00 UTC")
    for step in STEPS:
        journal.step_started(first, "db01", step, {"batch": 1})
        figures = {"verdict": "pass", "iops": 181234.5, "clat_p99_us": None} if step == "soak" else {}
        journal.step_ended(first, "db01", step, "ok", figures)
    journal.step_started(first, "db02", "precheck")
    journal.step_ended(first, "db02", "precheck", "ok")
    journal.step_started(first, "db02", "upgrade")
    journal.step_ended(first, "db02", "upgrade", "failed", {"message": "mpt3sas-driver: postinst failed"})
    journal.step_skipped(first, "db03", "precheck", "mpt3sas no longer loaded")
    journal.end_run(first, "stopped-budget", "1 of 1 hosts failed")
    second = journal.start_run("remediate", plan, None)

    assert [r.id for r in journal.runs()] == [second, first]
    assert journal.latest_unfinished().id == second
    listing = journal.listing()
    assert listing[1]["status"] == "stopped-budget" and listing[1]["note"] == "1 of 1 hosts failed"
    assert listing[1]["hosts"] == {"done": 1, "failed": 1, "skipped": 1, "interrupted": 0, "untouched": 2}

    shown = journal.show(first)
    assert shown["run"]["window"] == "Sat 02:00-04:00 UTC"
    assert shown["plan"]["target"] == "46.00.00.00"
    by_host = {h["host"]: h for h in shown["hosts"]}
    assert by_host["db01"]["outcome"] == "remediated: verified and soaked"
    assert by_host["db01"]["soak"] == {"batch": 1, "verdict": "pass", "iops": 181234.5, "clat_p99_us": None}
    assert by_host["db01"]["steps"][0]["started_at"] == "2026-11-28T02:01:00+00:00"  # the run began at 02:00
    assert by_host["db02"]["outcome"] == "failed at upgrade: mpt3sas-driver: postinst failed"
    assert by_host["db03"]["outcome"] == "skipped at precheck: mpt3sas no longer loaded"
    assert by_host["db04"]["outcome"] == "not started" and by_host["db04"]["soak"] is None
    journal.close()


def test_misuse_and_missing_runs(tmp_path: Path, plan: Plan) -> None:
    with Journal(tmp_path / "journal.sqlite") as journal:
        run = journal.start_run("remediate", plan, None)
        with pytest.raises(ValueError, match="has no upgrade step in progress"):
            journal.step_ended(run, "db01", "upgrade", "ok")
        with pytest.raises(ValueError, match="not a final step state"):
            journal.step_ended(run, "db01", "upgrade", "started")
        with pytest.raises(ValueError, match="not a final run status"):
            journal.end_run(run, "running")
        with pytest.raises(ValueError, match="'reticulate' is not a valid Step"):  # refused before any write
            journal.step_started(run, "db01", "reticulate")
        with pytest.raises(InputError, match="no run 99"):
            journal.run(99)
        with pytest.raises(InputError, match="no run 99"):
            journal.end_run(99, "aborted")
        journal.end_run(run, "done")
        assert journal.latest_unfinished() is None


def test_newer_schema_and_foreign_files_are_refused(tmp_path: Path) -> None:
    newer = tmp_path / "newer.sqlite"
    raw = sqlite3.connect(newer)
    raw.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    raw.close()
    with pytest.raises(InputError, match=f"journal schema {SCHEMA_VERSION + 1} is newer"):
        Journal(newer)
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"this is not a database, just some text that is long enough" * 40)
    with pytest.raises(InputError, match="not a usable fleetfix journal"):
        Journal(garbage)


def test_default_path_is_under_the_state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEETFIX_STATE_DIR", str(tmp_path / "state"))
    assert default_path() == tmp_path / "state" / "journal.sqlite"


def test_a_run_keeps_its_settings_for_resume(tmp_path: Path, plan: Plan) -> None:
    from fleetfix.commands.remediate import RemediateRequest, _options, _resumed

    started = RemediateRequest((), None, profile="qd1", iops_floor="500", reboot=True)
    with Journal(tmp_path / "journal.sqlite") as journal:
        run_id = journal.start_run("fleetfix remediate", plan, None, _options(started))
        stored = journal.run(run_id).options
    assert stored == {
        "profile": "qd1",
        "iops_floor": "500",
        "p99_ceiling": "500%",
        "reboot": True,
        "require_capture": False,
        "rollback": True,
    }
    resumed = _resumed(RemediateRequest((), None, resume=run_id), stored)
    assert (resumed.profile, resumed.iops_floor, resumed.p99_ceiling, resumed.reboot) == (
        "qd1",
        "500",
        "500%",
        True,
    )
    again = _resumed(
        RemediateRequest((), None, profile="thrash", iops_floor="90%", require_capture=True), stored
    )
    assert (again.profile, again.iops_floor, again.reboot, again.require_capture) == (
        "thrash",
        "90%",
        True,
        True,
    )


def test_a_run_stored_with_an_absolute_floor_resumes_with_it() -> None:
    from fleetfix.commands.remediate import RemediateRequest, _resumed

    stored = {"profile": "thrash", "iops_floor": 500.0, "reboot": False, "require_capture": False}
    resumed = _resumed(RemediateRequest((), None, resume=1), stored)
    assert (resumed.iops_floor, resumed.p99_ceiling) == ("500.0", None)


V1_JOURNAL = Path(__file__).parents[1] / "data" / "journal"


def test_a_schema_1_journal_is_migrated_and_reads_as_it_did(tmp_path: Path) -> None:
    """v1.sqlite was written by the code before the versioned schema (see its README)."""
    path = tmp_path / "journal.sqlite"
    path.write_bytes((V1_JOURNAL / "v1.sqlite").read_bytes())
    expected = json.loads((V1_JOURNAL / "v1_show.json").read_text())
    with Journal(path) as journal:
        shown = {"listing": journal.listing(), "show_1": journal.show(1), "show_2": journal.show(2)}
        # Keys added to a host's report since (a baseline reading) are null for runs that had none.
        for run in ("show_1", "show_2"):
            for host in shown[run]["hosts"]:
                assert host.pop("baseline") is None
        assert json.loads(json.dumps(shown)) == expected
        progress = journal.progress(1)
        assert progress.done == ("db01", "db02") and progress.failed == ("db03",)
        assert progress.pending == ("db04", "db05") and progress.mid_step == {"db05": "upgrade"}
        # the migrated file takes new rows: run numbers go on from the old ones
        run = journal.start_run("remediate", journal.run(1).plan, None)
        journal.step_started(run, "db05", "precheck")
        journal.step_ended(run, "db05", "precheck", "ok")
    assert run == 3
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    tables = dict(raw.execute("SELECT name, sql FROM sqlite_master WHERE type='table'").fetchall())
    assert {"runs", "host_steps"} <= tables.keys() and not any(n.endswith("_v1") for n in tables)
    assert not any("CHECK" in sql for sql in tables.values())  # a new step cannot break this journal
    assert raw.execute("PRAGMA foreign_key_check").fetchall() == []
    raw.close()
    with Journal(path) as journal:  # opening a current journal again changes nothing
        assert [r.id for r in journal.runs()] == [3, 2, 1]


def test_a_damaged_stored_plan_names_the_run_and_field(tmp_path: Path, plan: Plan) -> None:
    path = tmp_path / "journal.sqlite"
    with Journal(path) as journal:
        run = journal.start_run("remediate", plan, None)
    raw = sqlite3.connect(path)
    raw.execute("UPDATE runs SET plan = json_set(plan, '$.batches[0].hosts[1].steps[2].step', 'dance')")
    raw.commit()
    raw.close()
    with Journal(path) as journal, pytest.raises(InputError) as caught:
        journal.run(run)
    assert caught.value.field == "batches[0].hosts[1].steps[2].step"
    where = "batches[0].hosts[1].steps[2].step"
    assert str(caught.value).startswith(f"{path}: run {run} plan: {where}: expected")


def test_a_remediation_stopped_by_a_signal_is_recorded_interrupted_and_resumable(
    tmp_path: Path, plan: Plan, monkeypatch: pytest.MonkeyPatch
) -> None:
    import signal
    from types import SimpleNamespace

    from fleetfix.ansible.interrupt import Interrupted
    from fleetfix.commands import remediate

    def stopped(*_: object) -> None:
        raise Interrupted(signal.SIGINT, tmp_path / "run")

    monkeypatch.setattr(remediate, "_drive", stopped)
    with Journal(tmp_path / "journal.sqlite") as journal:
        run = journal.start_run("remediate", plan, None)
        journal.step_started(run, plan.hosts[0], "upgrade")
        with pytest.raises(Interrupted) as caught:
            remediate._drive_recorded(SimpleNamespace(run_id=run), journal, {})
        assert caught.value.status == 130
        record = journal.run(run)
        assert record.status == "interrupted" and "--resume" in record.note
        assert journal.latest_unfinished().id == run
        assert plan.hosts[0] in journal.progress(run).pending


def test_a_journal_from_before_rollbacks_records_one_after_its_migration(tmp_path: Path) -> None:
    """New steps (baseline, rollback) need no schema change: v2 dropped the CHECK constraints listing them."""
    path = tmp_path / "journal.sqlite"
    path.write_bytes((V1_JOURNAL / "v1.sqlite").read_bytes())
    with Journal(path) as journal:
        host = journal.show(1)["hosts"][0]["host"]
        journal.step_started(1, host, "baseline")
        journal.step_ended(1, host, "baseline", "ok", {"status": "passed"})
        journal.step_started(1, host, "rollback")
        journal.step_ended(1, host, "rollback", "ok", {"version": "34.100.00.00"})
        steps = [(s["step"], s["state"]) for s in journal.show(1)["hosts"][0]["steps"]]
    assert steps[-2:] == [("baseline", "ok"), ("rollback", "ok")]
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)

"""One remediation at a time: the lock refuses a second holder, names the first, and dies with it."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from fleetfix.cli import run
from fleetfix.errors import ExitStatus, FleetfixError
from fleetfix.state import lock as remediate_lock
from fleetfix.state.lock import RemediationLock, as_seen_now, held


def test_a_second_remediation_is_refused_and_told_who_runs(tmp_path: Path) -> None:
    path = tmp_path / "remediate.lock"
    with RemediationLock(path, "a new mpt3sas run"):
        assert held(path)
        with (
            pytest.raises(
                FleetfixError, match=r"another remediation is running \(a new mpt3sas run, pid \d+\)"
            ) as e,
            RemediationLock(path, "a resumed run"),
        ):
            pass
        assert e.value.status == ExitStatus.ENVIRONMENT
    assert not held(path)
    with RemediationLock(path, "a resumed run"):
        assert "a resumed run" in path.read_text()


def test_a_killed_holder_leaves_the_lock_free(tmp_path: Path) -> None:
    path = tmp_path / "remediate.lock"
    code = (
        "import sys, time\nfrom pathlib import Path\nfrom fleetfix.state.lock import RemediationLock\n"
        f"with RemediationLock(Path({str(path)!r}), 'child'):\n"
        "    print('locked', flush=True)\n    time.sleep(60)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "locked"
        assert held(path)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        assert not held(path)
    finally:
        child.kill()


def test_a_running_run_without_a_holder_reads_interrupted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLEETFIX_STATE_DIR", str(tmp_path))
    run = {"id": 3, "status": "running", "note": ""}
    assert as_seen_now(run)["status"] == "interrupted"
    with RemediationLock(remediate_lock.default_path(), "a resumed run"):
        assert as_seen_now(run) == run
    assert as_seen_now({"id": 2, "status": "done", "note": ""})["status"] == "done"


def test_the_cli_refuses_a_resume_while_a_run_holds_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FLEETFIX_STATE_DIR", str(tmp_path))
    with RemediationLock(remediate_lock.default_path(), "a new mpt3sas run"):
        assert run(["remediate", "--resume"]) == ExitStatus.ENVIRONMENT
    error = capsys.readouterr().err
    assert "another remediation is running (a new mpt3sas run, pid" in " ".join(error.split())
    assert not (tmp_path / "journal.sqlite").exists()  # refused before the journal was opened

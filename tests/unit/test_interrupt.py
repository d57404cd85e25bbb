"""Ctrl-C and SIGTERM during a real ansible-playbook run, per command.

The host is localhost, reached through a Python interpreter wrapper that records its process and then
sleeps: the signal arrives while a module is running, as it would on a slow host. The playbook's whole
process group must be gone when fleetfix exits, within the grace, and no complete report replaced.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import REPO


def _slow_inventory(tmp_path: Path) -> Path:
    wrapper = tmp_path / "slow-python"
    wrapper.write_text(
        f'#!/bin/sh\ncat /proc/$$/stat > {tmp_path}/module.stat\nsleep 300\nexec {sys.executable} "$@"\n'
    )
    wrapper.chmod(0o755)
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(f"slowhost ansible_connection=local ansible_python_interpreter={wrapper}\n")
    return inventory


def _group_alive(group: int) -> list[int]:
    alive = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rfind(")") + 2 :].split()
            if fields[0] != "Z" and int(fields[2]) == group:  # a zombie has ended already
                alive.append(int(entry.name))
    return alive


def _interrupt(
    tmp_path: Path, args: list[str], signum: int
) -> tuple[subprocess.CompletedProcess, int, float]:
    env = {**os.environ, "FLEETFIX_STATE_DIR": str(tmp_path / "state"), "PYTHONPATH": str(REPO)}
    env.pop("FLEETFIX_CONFIG", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "fleetfix.cli", *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    stat = tmp_path / "module.stat"
    deadline = time.monotonic() + 120
    while not stat.exists() or not stat.read_text():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the module never started"
        time.sleep(0.1)
    group = int(stat.read_text().rsplit(")", 1)[1].split()[2])
    sent = time.monotonic()
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    took = time.monotonic() - sent
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err), group, took


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_audit_stops_the_playbook_and_keeps_the_last_complete_report(
    tmp_path: Path, signum: int, status: int
):
    inventory = _slow_inventory(tmp_path)
    latest = tmp_path / "state" / "audit" / "latest.json"
    latest.parent.mkdir(parents=True)
    latest.write_text('{"complete": true}\n')
    output = tmp_path / "report.json"
    output.write_text("the last complete report\n")
    done, group, took = _interrupt(tmp_path, ["audit", "-i", str(inventory), "-o", str(output)], signum)
    assert done.returncode == status, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "interrupted by SIG" in done.stderr
    assert _group_alive(group) == []
    assert took < 20  # within the grace (10 s) and the runner's poll
    assert latest.read_text() == '{"complete": true}\n'
    assert output.read_text() == "the last complete report\n"
    (partial,) = (tmp_path / "state" / "runs").glob("*-audit-*/report.json")
    assert json.loads(partial.read_text())["interrupted"] == signal.Signals(signum).name


@pytest.mark.parametrize(
    "args",
    [
        ["capture", "enable", "--check", "--format", "json"],
        ["collect"],
        ["soak", "--device", "/dev/null", "--runtime", "30"],
    ],
    ids=["capture", "collect", "soak"],
)
def test_other_commands_stop_the_playbook_with_130(tmp_path: Path, args: list[str]):
    inventory = _slow_inventory(tmp_path)
    done, group, took = _interrupt(tmp_path, [*args, "-i", str(inventory)], signal.SIGINT)
    assert done.returncode == 130, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "interrupted by SIGINT" in done.stderr
    assert done.stdout == ""
    assert _group_alive(group) == []
    assert took < 20

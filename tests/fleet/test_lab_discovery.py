"""`fleetfix lab status|down --name X` from another state directory finds lab X by its supervisor and its
namespaces, and `down` leaves nothing of it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fleetfix.lab import discover
from tests.support import REPO

pytestmark = pytest.mark.fleet


def _fleetfix(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FLEETFIX_STATE_DIR": str(state), "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "fleetfix.cli", *args], env=env, capture_output=True, text=True, timeout=600
    )


def test_status_and_down_from_another_state_directory(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("the lab fleet needs root")
    name = f"hx-{os.getpid()}"
    started, other = tmp_path / "started", tmp_path / "other"
    up = _fleetfix(started, "lab", "up", "--scenario", "seed", "--hosts", "2", "--name", name)
    try:
        assert up.returncode == 0, up.stderr
        hosts = discover.namespaces(name)
        assert len(hosts) == 2

        status = _fleetfix(other, "lab", "status", "--name", name, "--json")
        assert status.returncode == 0, status.stderr
        shown = json.loads(status.stdout)
        assert shown["running"] is True
        assert sorted(h["name"] for h in shown["hosts"]) == sorted(
            n.removeprefix(f"ffl-{name}-") for n in hosts
        )

        down = _fleetfix(other, "lab", "down", "--name", name)
        assert down.returncode == 0, down.stderr
        assert discover.namespaces(name) == []
        assert discover.supervisors(name) == []
        assert not any(discover.pids_in(n) for n in hosts)
        after = _fleetfix(other, "lab", "status", "--name", name, "--json")
        assert json.loads(after.stdout)["running"] is False
    finally:
        _fleetfix(started, "lab", "down", "--name", name)

"""`make demo`: the seed incident told end to end on the lab; every step holds and nothing is left behind."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support import REPO

pytestmark = pytest.mark.fleet
LAB = f"demo{os.getpid()}"


def _lab_namespaces(name: str) -> list[str]:
    listing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    return [line.split()[0] for line in listing.splitlines() if line.startswith(f"ffl-{name}-")]


def test_the_demo_tells_the_whole_incident_and_leaves_nothing_behind(lab_root: None) -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "demo.py"), "--name", LAB],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert "demo: every step did what it should" in result.stdout
    steps = ("Audit", "Crash capture", "Collect and triage", "Reproduce on demand", "Remediate in a window")
    assert all(f". {step}" in result.stdout for step in steps)
    assert "$ fleetfix remediate" in result.stdout and "--resume" in result.stdout
    assert _lab_namespaces(LAB) == []

"""Waiting on lab hosts that reboot during a fleet test."""

from __future__ import annotations

import time

from fleetfix.lab import Lab


def wait_up(lab: Lab, host: str, timeout: float = 120) -> None:
    """Return once ``host`` answers ssh again; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if lab.ssh(host, "true", timeout=10).returncode == 0:
            return
        time.sleep(0.5)
    raise AssertionError(f"{host} did not come back")

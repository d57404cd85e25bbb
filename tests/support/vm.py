"""Running fleetfix and guest commands from the real-kernel tests, and timing their steps."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import pytest

from fleetfix.lab.vm.machine import Vm

REPO = Path(__file__).resolve().parents[2]
LAB_ADVISORIES = REPO / "fleetfix/lab/vm/advisories"
COMMAND_TIMEOUT = 2400.0  # one fleetfix command against a TCG guest on a loaded two-core machine
_FLEETFIX = [sys.executable, "-c", "from fleetfix.cli import entry; entry()"]


class Steps:
    """Step times, printed as they happen and once more together at the end."""

    def __init__(self, config: pytest.Config, label: str) -> None:
        self.reporter = config.pluginmanager.get_plugin("terminalreporter")
        self.capture = config.pluginmanager.get_plugin("capturemanager")
        self.label = label
        self.done: list[tuple[str, float]] = []

    def say(self, text: str) -> None:
        """Straight to the terminal, past pytest's output capture, so a CI log shows progress live."""
        if self.reporter is None or self.capture is None:
            return
        with self.capture.global_and_fixture_disabled():
            self.reporter.write_line(f"{self.label}: {text}")

    def record(self, name: str, started: float) -> None:
        self.done.append((name, time.monotonic() - started))
        self.say(f"{name}: {self.done[-1][1]:.1f} s")


@contextmanager
def running(vm: Vm, steps: Steps, step: str) -> Iterator[Vm]:
    """``vm`` booted (its boot timed as ``step``) for the block, and stopped after it whatever happens."""
    try:
        started = time.monotonic()
        vm.up(steps.say)
        steps.record(step, started)
        yield vm
    finally:
        vm.down()


def fleetfix(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the fleetfix command line as a user would, in its own process."""
    return subprocess.run(
        [*_FLEETFIX, *args], capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False, cwd=REPO
    )


def fleetfix_process(*args: str, log: IO[str]) -> subprocess.Popen[bytes]:
    """A long-running fleetfix command (``listen``) in the background, its output in ``log``."""
    return subprocess.Popen([*_FLEETFIX, *args], cwd=REPO, stdout=log, stderr=subprocess.STDOUT)


def ok(vm: Vm, command: str, timeout: float = 180) -> str:
    """A guest shell command's output; a non-zero exit fails the test with its stderr."""
    done = vm.run(command, timeout)
    assert done.returncode == 0, f"{command}: exit {done.returncode}: {done.stderr.strip()}"
    return done.stdout.strip()


def boot_id(vm: Vm) -> str:
    return ok(vm, "cat /proc/sys/kernel/random/boot_id")

"""The layers hold at run time: starting the command line loads no Ansible, so `--help` and the netconsole
receiver (which runs on a log host with no Ansible) start fast and stand alone."""

from __future__ import annotations

import subprocess
import sys

import pytest

_PROBE = """
import sys
sys.argv = ["fleetfix", *sys.argv[1:]]
from fleetfix.cli import run
code = run()
loaded = sorted(m for m in sys.modules if m == "ansible" or m.startswith(("ansible.", "ansible_runner")))
print("LOADED:" + ",".join(loaded))
"""


@pytest.mark.parametrize("argv", [["--help"], ["listen", "--help"], ["advisories", "--help"]], ids=" ".join)
def test_command_line_starts_without_ansible(argv: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, *argv], capture_output=True, text=True, timeout=60, check=False
    )
    marker = [line for line in result.stdout.splitlines() if line.startswith("LOADED:")]
    assert marker, result.stdout[-2000:] + result.stderr[-2000:]
    assert marker[0] == "LOADED:", marker[0]

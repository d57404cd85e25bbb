"""The role alone (plain ansible-playbook, as an AWX job template runs it) refuses values outside the
grammars before it writes anything: nothing from fleetfix's Python stands in front of it here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.strategies import CANARY
from tests.support import REPO


@pytest.mark.parametrize(
    ("variable", "value", "task"),
    [
        ("crash_capture_kdump_path", f"/var/crash/$(touch {CANARY})", "Check the dump target"),
        ("crash_capture_kdump_path", "/var/crash\nUSE_KDUMP=0", "Check the dump target"),
        ("crash_capture_crash_size", "256M$(id)", "Check the crash memory size"),
        ("crash_capture_netconsole_interface", "eth0;id", "Check the netconsole settings"),
    ],
)
def test_plain_ansible_playbook_stops_at_the_check(tmp_path: Path, variable: str, value: str, task: str):
    extra = {variable: value, "crash_capture_kdump_target": "local"}
    if "netconsole" in variable:
        extra["crash_capture_netconsole_log_host"] = "127.0.0.1"
    local = f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n"
    (tmp_path / "inventory").write_text(local)
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "tmp"),
        "ANSIBLE_HOME": str(tmp_path / "home"),
    }
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "--check",
            "-i",
            str(tmp_path / "inventory"),
            str(REPO / "playbooks" / "capture.yml"),
            "-e",
            json.dumps(extra),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    fatal = next(i for i, line in enumerate(lines) if line.startswith("fatal: [localhost]"))
    started = [line for line in lines[:fatal] if line.startswith("TASK [")]
    assert started[-1].startswith(f"TASK [fleetfix.hba.crash_capture : {task}]")
    assert not [line for line in lines if line.startswith("changed:")]
    assert not (tmp_path / CANARY).exists()

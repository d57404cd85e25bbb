"""`pip install .` (not editable) into a fresh venv gives a working `fleetfix`, run from another directory."""

from __future__ import annotations

import json
import os
import subprocess
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_installed_wheel_audits_localhost(tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", str(REPO)], capture_output=True, text=True, timeout=900
    )
    assert install.returncode == 0, install.stderr[-3000:]
    content = subprocess.run(
        [str(python), "-c", "from fleetfix.state import paths; print(paths.content_dir())"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    ).stdout.strip()
    assert Path(content).is_relative_to(env_dir) and (Path(content) / "playbooks" / "audit.yml").is_file()
    collection = Path(content) / "collections" / "ansible_collections" / "fleetfix" / "hba"
    assert (collection / "plugins" / "modules" / "fleetfix_facts.py").is_file()
    assert (collection / "roles" / "hba_driver" / "meta" / "argument_specs.yml").is_file()
    environment = {**os.environ, "FLEETFIX_STATE_DIR": str(tmp_path / "state"), "PATH": "/usr/bin:/bin"}
    audit = subprocess.run(
        [str(env_dir / "bin" / "fleetfix"), "audit", "--format", "json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=environment,
        timeout=300,
    )
    assert audit.returncode in (0, 1), audit.stderr
    host = json.loads(audit.stdout)["hosts"][0]
    assert (host["host"], host["status"]) == ("localhost", "ok")

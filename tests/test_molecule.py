"""Every role's molecule scenario (create, converge, idempotence, verify, destroy) on namespace lab hosts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = sorted(REPO.glob("roles/*/molecule/default/molecule.yml"))
VENV_BIN = Path(sys.executable).parent


@pytest.mark.molecule
@pytest.mark.skipif(os.geteuid() != 0, reason="lab hosts are network namespaces: needs root")
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda path: path.parents[2].name)
def test_molecule_default_scenario(scenario: Path, tmp_path: Path) -> None:
    role = scenario.parents[2]
    env = {
        **os.environ,
        # molecule runs ansible-playbook and the lab CLI by name: this venv's first.
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "ANSIBLE_HOME": str(tmp_path / "ansible"),  # molecule keeps its ephemeral files here too
        "FLEETFIX_STATE_DIR": str(tmp_path / "state"),
        "ANSIBLE_NOCOLOR": "1",
        "PY_COLORS": "0",
        "NO_COLOR": "1",
    }
    result = subprocess.run(
        [str(VENV_BIN / "molecule"), "test", "-s", "default"],
        cwd=role,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    for step in ("converge", "idempotence", "verify"):
        assert f"{step}: Executed: Successful" in output, output[-3000:]

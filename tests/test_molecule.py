"""Every role's molecule scenario (create, converge, idempotence, verify, destroy) on namespace lab hosts,
each role run from the collection fleetfix.hba as `ansible-galaxy collection build` and `install` leave it:
no ANSIBLE_LIBRARY, no roles path, nothing from this checkout but the tarball."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = sorted(REPO.glob("roles/*/molecule/*/molecule.yml"))  # default: Debian hosts; el: EL hosts
VENV_BIN = Path(sys.executable).parent


def _galaxy(args: list[str], cwd: Path) -> None:
    """ansible-galaxy away from this checkout's ansible.cfg, so nothing but its arguments is in play."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    command = [str(VENV_BIN / "ansible-galaxy"), *args]
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


@pytest.fixture(scope="module")
def installed_collection(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A collections path holding fleetfix.hba installed from the tarball this checkout builds."""
    work = tmp_path_factory.mktemp("collection")
    _galaxy(["collection", "build", str(REPO), "--output-path", str(work / "dist")], work)
    (tarball,) = (work / "dist").glob("fleetfix-hba-*.tar.gz")
    _galaxy(["collection", "install", str(tarball), "-p", str(work / "collections")], work)
    installed = work / "collections" / "ansible_collections" / "fleetfix" / "hba"
    assert (installed / "MANIFEST.json").is_file() and not installed.is_symlink()
    assert not (installed / "roles" / "hba_driver" / "molecule").exists()
    return work / "collections"


@pytest.mark.molecule
@pytest.mark.skipif(os.geteuid() != 0, reason="lab hosts are network namespaces: needs root")
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda path: f"{path.parents[2].name}-{path.parent.name}")
def test_molecule_scenario(scenario: Path, tmp_path: Path, installed_collection: Path) -> None:
    role = scenario.parents[2]
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("ANSIBLE_LIBRARY", "ANSIBLE_ROLES_PATH")},
        "ANSIBLE_COLLECTIONS_PATH": str(installed_collection),
        # molecule runs ansible-playbook and the lab CLI by name: this venv's first.
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "ANSIBLE_HOME": str(tmp_path / "ansible"),  # molecule keeps its ephemeral files here too
        "FLEETFIX_STATE_DIR": str(tmp_path / "state"),
        "ANSIBLE_NOCOLOR": "1",
        "PY_COLORS": "0",
        "NO_COLOR": "1",
    }
    result = subprocess.run(
        [str(VENV_BIN / "molecule"), "test", "-s", scenario.parent.name],
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

"""The tree stays clean: ruff over the Python, ansible-lint (production profile) over playbooks and roles."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


@pytest.mark.parametrize(
    "command",
    [
        [str(BIN / "ruff"), "check", "fleetfix", "tests", "bench"],
        [str(BIN / "ruff"), "format", "--check", "fleetfix", "tests", "bench"],
        [str(BIN / "ansible-lint"), "--offline", "-q"],
    ],
    ids=["ruff-check", "ruff-format", "ansible-lint"],
)
def test_tree_is_lint_clean(command: list[str]) -> None:
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=900, check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]

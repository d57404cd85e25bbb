"""`fleetfix remediate` refuses a hook that cannot run and a --batch-by it cannot read in one line, exit 2,
before it reads the inventory or contacts any host (the inventory given here does not even exist)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetfix.errors import ExitStatus
from tests.support.cli import fleetfix


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--pre-hook", "no-such-drain-command"),
            "--pre-hook: no-such-drain-command: command not found in PATH",
        ),
        (("--post-hook", "/nowhere/undrain.yml"), "--post-hook: /nowhere/undrain.yml: no such playbook file"),
        (("--pre-hook", "drain 'unclosed"), "--pre-hook: cannot be split into a command line"),
        (("--pre-hook", "   "), "--pre-hook: is empty"),
        (("--post-hook", "/dev/null --undrain"), "--post-hook: /dev/null: not an executable file"),
        (("--batch-by", "rack"), "--batch-by: 'rack': give group:PREFIX or var:NAME"),
        (("--batch-by", "var:power-feed"), "--batch-by: 'power-feed' is not a variable name"),
        (("--batch-by", "group:"), "--batch-by: '' is not a group name prefix"),
    ],
)
def test_bad_hooks_and_domains_are_refused_before_any_host(
    tmp_path: Path, monkeypatch, args, message
) -> None:
    monkeypatch.setenv("FLEETFIX_STATE_DIR", str(tmp_path))
    missing = tmp_path / "no-inventory.yml"
    result = fleetfix("remediate", "-i", missing, "--module", "mpt3sas", "--yes", *args)
    assert result.exit_code == ExitStatus.USAGE, result.output
    assert result.output.startswith(f"fleetfix: {message}"), result.output
    assert not (tmp_path / "journal.sqlite").exists()

"""A sliced run over everyday inventory shapes: the controller resolves the inventory (hyphens and dots in
group names, a "/" in host names) and each execution node runs its slice. The hosts use the local
connection, so each node answers for the hosts of its slice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fleetfix.lab import Lab
from fleetfix.lab.runner_node import make_execution_nodes
from tests.support import REPO

pytestmark = pytest.mark.fleet

INVENTORIES = REPO / "tests" / "data" / "inventories"


def test_sliced_audit_of_odd_names(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("the lab fleet needs root")
    lab = Lab(f"hx-slices-{os.getpid()}")
    lab.up("seed", ["db01", "app01"])
    try:
        config = tmp_path / "config.yml"
        config.write_text(yaml.safe_dump({"execution_nodes": make_execution_nodes(lab, ["db01", "app01"])}))
        env = {**os.environ, "FLEETFIX_STATE_DIR": str(tmp_path / "state"), "FLEETFIX_CONFIG": str(config)}
        env["PYTHONPATH"] = str(REPO)
        inventory = str(INVENTORIES / "odd-names" / "hosts.yml")
        done = subprocess.run(
            [sys.executable, "-m", "fleetfix.cli", "audit", "-i", inventory, "--format", "json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode in (0, 1), done.stderr
        report = json.loads(done.stdout)
        assert sorted(h["host"] for h in report["hosts"]) == [
            "edge@pop1",
            "rack1/db01",
            "rack1/db02",
            "web-01.example.com",
        ]
        assert all(h["status"] not in ("failed", "unreachable") for h in report["hosts"]), report["hosts"]
        (run_dir,) = (tmp_path / "state" / "runs").glob("*-audit-*")
        assert len(list((run_dir / "slices").glob("*.stream"))) == 2
        warnings = [line for line in done.stderr.splitlines() if "warning" in line]
        assert len(warnings) <= 1
    finally:
        lab.down()

"""Sliced runs on the lab: 100 hosts audited through three lab hosts running `ansible-runner worker`.

The nodes get ansible-runner and ansible-core from this environment (fleetfix.lab.runner_node); fleetfix
streams each slice to them over ssh and folds the events back. The report must be the single run's, also
when a node vanishes mid-run and its slice is run again elsewhere.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from fleetfix.lab import Lab
from fleetfix.lab.runner_node import make_execution_nodes

pytestmark = pytest.mark.fleet

FLEETFIX = str(Path(sys.executable).parent / "fleetfix")
NODES = ["runner01", "runner02", "runner03"]
TARGETS = "!runner"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Lab, Path, Path]]:
    if os.geteuid() != 0:
        pytest.skip("the lab fleet needs root")
    lab = Lab(f"pytest-slices-{os.getpid()}")
    lab.up("large")
    try:
        work = tmp_path_factory.mktemp("slices")
        inventory = lab.write_inventory(work / "inventory.yml")
        config = work / "config.yml"
        config.write_text(yaml.safe_dump({"execution_nodes": make_execution_nodes(lab, NODES)}))
        yield lab, inventory, config
    finally:
        lab.down()


def _audit(inventory: Path, state: Path, config: Path | None) -> subprocess.Popen[str]:
    env = dict(os.environ, FLEETFIX_STATE_DIR=str(state), FLEETFIX_CONFIG=str(config or state / "none.yml"))
    argv = [FLEETFIX, "audit", "-i", str(inventory), "-l", TARGETS, "--format", "json"]
    return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _report(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 1, err  # findings: the large scenario has bad mpt3sas builds
    report = json.loads(out)
    report.pop("generated_at")
    for host in report["hosts"]:
        host.pop("uptime_seconds", None)
    return report


@pytest.fixture(scope="module")
def single_run(fleet: tuple[Lab, Path, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    _, inventory, _ = fleet
    return _report(_audit(inventory, tmp_path_factory.mktemp("single"), None))


def test_three_slices_give_the_single_runs_report(
    fleet: tuple[Lab, Path, Path], single_run: dict[str, Any], tmp_path: Path
) -> None:
    _, inventory, config = fleet
    sliced = _report(_audit(inventory, tmp_path, config))
    assert len(sliced["hosts"]) == 100
    assert sliced == single_run
    (run_dir,) = (tmp_path / "runs").glob("*-audit-*")
    assert sorted(p.name for p in (run_dir / "artifacts").iterdir()) == [f"slice-{i}-try-1" for i in range(3)]


def _node_pids(lab: Lab, node: str) -> list[int]:
    namespace = lab.layout.netns(node)
    listed = subprocess.run(["ip", "netns", "pids", namespace], capture_output=True, text=True, check=False)
    return [int(p) for p in listed.stdout.split()]


def _wait_for_playbook(lab: Lab, node: str, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        for pid in _node_pids(lab, node):
            try:
                if b"ansible-playbook" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    return
            except OSError:
                continue
        time.sleep(0.05)
    pytest.fail(f"no ansible-playbook ran on {node}")


def test_a_node_killed_mid_run_changes_nothing_in_the_report(
    fleet: tuple[Lab, Path, Path], single_run: dict[str, Any], tmp_path: Path
) -> None:
    lab, inventory, config = fleet
    proc = _audit(inventory, tmp_path, config)
    _wait_for_playbook(lab, "runner02", proc)
    for pid in _node_pids(lab, "runner02"):  # the node vanishes: sshd, the worker, ansible-playbook
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
    sliced = _report(proc)
    assert sliced == single_run
    (run_dir,) = (tmp_path / "runs").glob("*-audit-*")
    kept = sorted(p.name for p in (run_dir / "artifacts").iterdir())
    assert len(kept) == 3 and any(name.endswith("-try-2") for name in kept)
    assert [p.name for p in (run_dir / "failed-attempts").iterdir()] == [
        next(n for n in kept if n.endswith("-try-2")).replace("-try-2", "-try-1")
    ]


def _alive(lab: Lab) -> str:
    """The nodes the kill test left."""
    return ",".join(f"root@{lab.host(n).ip}" for n in ("runner01", "runner03"))


def _fleetfix(config: Path, state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, FLEETFIX_STATE_DIR=str(state), FLEETFIX_CONFIG=str(config))
    return subprocess.run(
        [FLEETFIX, *args], env=env, capture_output=True, text=True, timeout=600, check=False
    )


def test_soak_on_nodes_brings_fios_reports_here(fleet: tuple[Lab, Path, Path], tmp_path: Path) -> None:
    lab, inventory, config = fleet
    hosts = "app001:app002:app003:app004"
    done = _fleetfix(
        config, tmp_path, "soak", "-i", str(inventory), "-l", hosts, "-m", "mpt3sas", "--runtime", "3",
        "--execution-nodes", _alive(lab),
        "--format", "json",
    )  # fmt: skip
    results = json.loads(done.stdout)
    assert [r["status"] for r in results] == ["passed"] * 4, done.stderr
    for result in results:
        report = Path(result["report"])
        assert report.is_relative_to(tmp_path / "soak") and json.loads(report.read_text())["jobs"]


def test_collect_on_nodes_fetches_kernel_logs_into_the_store(
    fleet: tuple[Lab, Path, Path], tmp_path: Path
) -> None:
    lab, inventory, config = fleet
    oops = "[ 3.0] BUG: unable to handle page fault for address: 0000000000000008\n[ 3.1] Kernel panic\n"
    for host in ("db001", "store002"):
        dump = "/var/crash/202611250104"
        made = lab.ssh(host, f"mkdir -p {dump} && printf '{oops}' > {dump}/dmesg.202611250104")
        assert made.returncode == 0, made.stderr
    store = tmp_path / "crashes"
    done = _fleetfix(
        config, tmp_path, "collect", "-i", str(inventory), "-l", "db001:db002:store002",
        "--execution-nodes", _alive(lab),
        "--store", str(store), "--format", "json",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    fetched = {h["host"]: h["fetched"] for h in json.loads(done.stdout)["hosts"]}
    assert fetched == {"db001": 1, "db002": 0, "store002": 1}
    for host in ("db001", "store002"):
        assert (store / host / "crash/202611250104/dmesg.202611250104").read_text() == oops
    assert (store / "db001" / "jobs.json").is_file()


def test_remediate_on_nodes_upgrades_verifies_and_soaks(
    fleet: tuple[Lab, Path, Path], tmp_path: Path
) -> None:
    """The window and the failure budget stay here; each step play runs in slices on the nodes. Last: it
    upgrades hosts the audits above compare."""
    lab, inventory, config = fleet
    done = _fleetfix(
        config, tmp_path, "remediate", "-i", str(inventory), "-l", "db010:db011:db012", "--module", "mpt3sas",
        "--execution-nodes", _alive(lab),
        "--to", "46.00.00.00", "--batch", "3", "--soak-runtime", "5", "--yes", "--format", "json",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["status"] == "done"
    for host in report["hosts"]:
        assert host["status"] == "done", host
        steps = {s["step"]: s["state"] for s in host["steps"]}
        # the baseline never fails a host: "ok" whether it measured the old build or reproduced its fault
        assert steps == dict.fromkeys(("precheck", "baseline", "upgrade", "activate", "verify", "soak"), "ok")
        assert lab.ssh(host["host"], "cat /sys/module/mpt3sas/version").stdout.strip() == "46.00.00.00"

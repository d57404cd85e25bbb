"""`fleetfix audit` over real ssh against the seed scenario's lab fleet, through the installed command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.fleet

FLEETFIX = str(Path(sys.executable).parent / "fleetfix")


def fleetfix(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FLEETFIX_STATE_DIR": str(state)}
    return subprocess.run(
        [FLEETFIX, *args], capture_output=True, text=True, env=env, timeout=600, check=False
    )


@pytest.fixture(scope="module")
def seed_audit(seed_lab, tmp_path_factory) -> tuple[subprocess.CompletedProcess[str], dict, Path]:
    state = tmp_path_factory.mktemp("state")
    result = fleetfix(state, "audit", "-i", str(seed_lab.inventory_path), "--format", "json")
    return result, json.loads(result.stdout), state


def _hosts(document: dict) -> dict[str, dict]:
    return {h["host"]: h for h in document["hosts"]}


def test_every_host_is_reported_and_the_down_one_is_unreachable(seed_lab, seed_audit) -> None:
    result, document, _ = seed_audit
    hosts = _hosts(document)
    assert set(hosts) == {h.name for h in seed_lab.hosts()}
    down = {h.name for h in seed_lab.hosts() if h.state == "down"}
    assert down and all(hosts[name]["status"] == "unreachable" for name in down)
    assert result.returncode == 4, result.stderr  # unreachable outranks findings


def test_bad_mpt3sas_build_is_flagged_with_its_advisory(seed_audit) -> None:
    _, document, _ = seed_audit
    db01 = _hosts(document)["db01"]
    mpt3sas = next(m for m in db01["modules"] if m["name"] == "mpt3sas")
    assert (mpt3sas["version"], mpt3sas["taint"], mpt3sas["out_of_tree"]) == (
        "34.100.00.00",
        ["O", "E"],
        True,
    )
    assert mpt3sas["disks"] == ["sdb", "sdc"]
    finding = next(f for f in db01["findings"] if f["advisory"] == "mpt3sas-fw-event-reset-race")
    assert (finding["version"], finding["fixed_in"]) == ("34.100.00.00", "35.100.00.00")
    at_risk = document["summary"]["hosts_per_advisory"]["mpt3sas-fw-event-reset-race"]
    assert {"db01", "db04", "db06"} <= set(at_risk)


def test_hosts_differ_in_kernel_and_crash_capture(seed_audit) -> None:
    _, document, _ = seed_audit
    hosts = _hosts(document)
    assert hosts["db01"]["kernel"] == "6.1.0-18-amd64" and hosts["db06"]["kernel"] == "6.1.0-13-amd64"
    assert hosts["db01"]["crash_capture"]["ready"] is True
    assert hosts["db04"]["crash_capture"]["kdump_ready"] is False
    assert hosts["db06"]["crash_capture"]["kdump_ready"] is True
    assert hosts["db06"]["crash_capture"]["netconsole_ready"] is False


def test_the_run_keeps_its_report_and_artifacts(seed_audit) -> None:
    _, document, state = seed_audit
    runs = sorted((state / "runs").iterdir())
    assert len(runs) == 1
    assert json.loads((runs[0] / "report.json").read_text())["hosts"] == document["hosts"]
    assert list((runs[0] / "artifacts" / "ansible" / "job_events").glob("*.json"))
    assert json.loads((state / "audit" / "latest.json").read_text())["hosts"] == document["hosts"]


def test_from_artifacts_judges_a_run_made_elsewhere_the_same(seed_audit, tmp_path) -> None:
    _, document, state = seed_audit
    run_dir = next((state / "runs").iterdir())
    again = fleetfix(tmp_path, "audit", "--from-artifacts", str(run_dir), "--format", "json")
    assert again.returncode == 4, again.stderr
    assert json.loads(again.stdout)["hosts"] == document["hosts"]


def test_the_module_run_as_ansible_runs_modules_gives_the_same_report(seed_lab, seed_audit, tmp_path) -> None:
    """The facts are read by the collection's action plugin without AnsiballZ; with
    ``fleetfix_facts_transport: module`` the module itself runs, AnsiballZ and all: the same report."""
    result, document, _ = seed_audit
    transport = tmp_path / "transport.yml"
    transport.write_text(yaml.safe_dump({"all": {"vars": {"fleetfix_facts_transport": "module"}}}))
    inventories = ["-i", str(seed_lab.inventory_path), "-i", str(transport)]
    again = fleetfix(tmp_path / "state", "audit", *inventories, "--format", "json")
    assert again.returncode == result.returncode, again.stderr
    assert json.loads(again.stdout)["hosts"] == document["hosts"]
    facts_of = {h["host"]: h for h in document["hosts"] if h["status"] == "ok"}
    assert len(facts_of) >= len(document["hosts"]) - 1  # every host but the one that is down answered


def test_two_inventories_merge_and_a_host_in_both_is_one_host(seed_lab, tmp_path) -> None:
    inventory = yaml.safe_load(Path(seed_lab.inventory_path).read_text())
    db_hosts = inventory["all"]["children"]["db"]["hosts"]
    first = {"all": {"vars": inventory["all"].get("vars", {}), "hosts": {"db01": db_hosts["db01"]}}}
    second = {
        "all": {
            "vars": inventory["all"].get("vars", {}),
            "hosts": {"db01": db_hosts["db01"], "db02": db_hosts["db02"]},
        }
    }
    paths = []
    for name, content in (("first.yml", first), ("second.yml", second)):
        (tmp_path / name).write_text(yaml.safe_dump(content))
        paths += ["-i", str(tmp_path / name)]
    result = fleetfix(tmp_path / "state", "audit", *paths, "--format", "json")
    assert result.returncode == 1, result.stderr
    assert [h["host"] for h in json.loads(result.stdout)["hosts"]] == ["db01", "db02"]


def test_limit_narrows_the_run(seed_lab, tmp_path) -> None:
    result = fleetfix(
        tmp_path, "audit", "-i", str(seed_lab.inventory_path), "--limit", "db01:db02", "--format", "json"
    )
    assert [h["host"] for h in json.loads(result.stdout)["hosts"]] == ["db01", "db02"]


@pytest.mark.parametrize(
    ("args", "expected", "status"),
    [
        (["--limit", "nosuchhost"], "--limit nosuchhost: matches no host in the inventory", 2),
        (["-i", "/nonexistent/inventory.yml"], "/nonexistent/inventory.yml: inventory not found", 3),
    ],
    ids=["pattern-is-an-option-value", "inventory-is-an-input"],
)
def test_bad_inventory_or_pattern_is_one_line_and_exit_2_or_3(
    seed_lab, tmp_path, args, expected, status
) -> None:
    if args[0] == "--limit":
        args = ["-i", str(seed_lab.inventory_path), *args]
    result = fleetfix(tmp_path, "audit", *args)
    assert result.returncode == status
    assert expected in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_broken_inventory_file_is_one_line_and_exit_3(tmp_path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("all:\n  hosts:\n    db01: [unclosed\n")
    result = fleetfix(tmp_path, "audit", "-i", str(broken))
    assert result.returncode == 3, result.stderr
    assert str(broken) in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_bad_advisory_file_stops_before_any_host_is_touched(tmp_path) -> None:
    advisories = tmp_path / "advisories"
    advisories.mkdir()
    (advisories / "local.yaml").write_text(
        "- id: local-1\n  module: mpt3sas\n  vendor: Broadcom\n  title: t\n"
        "  affected: {driver: [{below: '1'}]}\n  fixed_in: '1'\n  fault: [race]\n  trigger: reads\n"
        "  severity: catastrophic\n"
        "  references: [https://example.org]\n"
    )
    result = fleetfix(tmp_path, "audit", "--advisories", str(advisories))
    assert result.returncode == 3
    assert "local.yaml:9" in result.stderr and "severity" in result.stderr
    assert not (tmp_path / "runs").exists()
    missing = fleetfix(tmp_path, "audit", "--advisories", str(tmp_path / "nope"))
    assert missing.returncode == 3 and "nope" in missing.stderr


DISTRO_PATCHED = Path(__file__).parents[1] / "data" / "scenarios" / "distro_patched.yaml"
KERNEL_CVES = {"mpt3sas-CVE-2024-40901", "qla2xxx-CVE-2024-42287"}


def test_in_tree_drivers_on_patched_distribution_kernels_have_no_kernel_cve_finding(
    make_lab, tmp_path
) -> None:
    # Expected from the scenario's real kernel identities and the shipped ranges (read before running): the
    # patched Debian host (linux 6.1.115-1) has neither CVE; the old one (6.1.76-1) has both, through its
    # upstream base; the Rocky Linux 9.5 host has no Rocky data in the shipped advisories: unknown, not found.
    lab = make_lab(str(DISTRO_PATCHED))
    result = fleetfix(tmp_path / "state", "audit", "-i", str(lab.inventory_path), "--format", "json")
    hosts = _hosts(json.loads(result.stdout))

    def kernel_cves(host: str, kind: str = "findings") -> set[str]:
        return {f["advisory"] for f in hosts[host][kind] if "-CVE-" in f["advisory"]}

    packages = {name: hosts[name]["kernel_package"] for name in hosts}
    assert (packages["dpatch01"]["ecosystem"], packages["dpatch01"]["version"]) == ("Debian:12", "6.1.115-1")
    assert (packages["rpatch01"]["ecosystem"], packages["rpatch01"]["package"]) == ("Rocky Linux:9", "kernel")
    assert all(
        not m["out_of_tree"]
        for host in hosts.values()
        for m in host["modules"]
        if m["name"] in ("mpt3sas", "qla2xxx")
    )
    assert kernel_cves("dpatch01") == set() and kernel_cves("rpatch01") == set()
    assert kernel_cves("dold01") >= KERNEL_CVES
    assert kernel_cves("rpatch01", "unknown") >= KERNEL_CVES
    assert kernel_cves("dpatch01", "unknown") == set()
    assert result.returncode == 1, result.stderr  # the old host's CVEs; and no host has crash capture set up

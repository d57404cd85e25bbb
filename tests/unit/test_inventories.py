"""Real-world inventory shapes, resolved by ansible-inventory into a file (never parsed out of mixed text),
and run through real commands against this machine (every host here uses the local connection).

Expected answers come from reading the files (tests/data/inventories/SOURCES.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fleetfix.ansible import runner
from fleetfix.ansible.runner import inventory_hostvars
from fleetfix.errors import InputError
from tests.support import REPO

INVENTORIES = REPO / "tests" / "data" / "inventories"


@pytest.fixture(autouse=True)
def _state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEETFIX_STATE_DIR", str(tmp_path / "state"))


def test_ini_with_ranges_and_no_variables_lists_every_host():
    hosts = inventory_hostvars([INVENTORIES / "ansible-examples" / "hosts"], None)
    assert len(hosts) == 32  # 13 ungrouped, 12 webservers, 7 more dbservers (myserver.com is in both)
    assert {f"mail{n}.example.com" for n in range(6)} <= set(hosts)
    assert {
        "www001.example.com",
        "www006.example.com",
        "db-99-node.example.com",
        "db-101-node.example.com",
    } <= set(hosts)
    dbservers = inventory_hostvars([INVENTORIES / "ansible-examples" / "hosts"], "dbservers")
    assert len(dbservers) == 8 and "myserver.com" in dbservers


def test_group_vars_host_vars_and_ranges():
    hosts = inventory_hostvars([INVENTORIES / "test-playbooks-more"], None)
    assert len(hosts) == 35
    four = hosts["group_four_host_01"]
    assert four["group_four_host_01_has_this_var"] is True
    assert four["group_four_host_01_should_have_this_var"] is True
    assert four["is_in_group_four"] is True and four["ansible_connection"] == "local"
    assert hosts["ungrouped_host_06"]["ungrouped_host_06_should_have_this_var"] is True
    assert not any("should_not_have_this_var" in key for variables in hosts.values() for key in variables)
    both = inventory_hostvars([INVENTORIES / "test-playbooks-more"], "group_four:&group_six")
    assert sorted(both) == [f"group_four_five_and_six_host_0{n}" for n in range(1, 6)]


def test_executable_dynamic_inventory():
    hosts = inventory_hostvars([INVENTORIES / "test-playbooks-script" / "dyn_inventory.py"], None)
    assert len(hosts) == 35
    assert hosts["group_seven_host_01"]["group_seven_host_01_has_this_var"] is True
    assert hosts["ungrouped_host_15"]["inventories_var"] is True


def test_a_script_ansible_cannot_parse_is_bad_input():
    with pytest.raises(InputError, match=r"dyn_inventory_pprint\.py"):
        inventory_hostvars([INVENTORIES / "test-playbooks-script" / "dyn_inventory_pprint.py"], None)


def test_constructed_plugin_groups_and_limit():
    hosts = inventory_hostvars([INVENTORIES / "test-playbooks-constructed"], None)
    assert sorted(hosts) == [f"host{n}" for n in range(1, 7)]
    assert hosts["host2"]["resolved_state"] == "shutdown" and hosts["host1"]["resolved_state"] == "running"
    limited = inventory_hostvars([INVENTORIES / "test-playbooks-constructed"], "shutdown_in_product_dev")
    assert sorted(limited) == ["host2", "host6"]


def test_odd_names_resolve_and_the_warning_is_one_line(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(runner, "_warned", set())
    with caplog.at_level("WARNING", logger="fleetfix.ansible"):
        hosts = inventory_hostvars([INVENTORIES / "odd-names" / "hosts.yml"], None)
    assert sorted(hosts) == ["edge@pop1", "rack1/db01", "rack1/db02", "web-01.example.com"]
    (record,) = caplog.records
    assert "Invalid characters were found in group names" in record.getMessage()
    assert "\n" not in record.getMessage()


def _fleetfix(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "FLEETFIX_STATE_DIR": str(tmp_path / "state"),
        "PYTHONPATH": str(REPO),
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,  # the local connection, without interpreter discovery
    }
    env.pop("FLEETFIX_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "fleetfix.cli", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


def test_audit_of_odd_names_answers_every_host(tmp_path: Path):
    done = _fleetfix(
        tmp_path, "audit", "-i", str(INVENTORIES / "odd-names" / "hosts.yml"), "--format", "json"
    )
    assert done.returncode in (0, 1), done.stderr
    report = json.loads(done.stdout)
    assert {h["host"]: h["status"] for h in report["hosts"]}.keys() == {
        "edge@pop1",
        "rack1/db01",
        "rack1/db02",
        "web-01.example.com",
    }
    assert all(h["status"] not in ("unreachable", "failed") for h in report["hosts"]), report["hosts"]
    (warning,) = [line for line in done.stderr.splitlines() if "warning" in line]
    assert "Invalid characters" in warning


def test_remediate_check_with_a_hyphenated_group_gives_a_clean_answer(tmp_path: Path):
    inventory = str(INVENTORIES / "odd-names" / "hosts.yml")
    done = _fleetfix(tmp_path, "remediate", "-i", inventory, "-l", "db-servers", "-m", "mpt3sas", "--check")
    assert "Traceback" not in done.stderr
    assert done.returncode in (0, 1, 2, 6), done.stderr
    assert not [line for line in done.stderr.splitlines() if line and not line.startswith("fleetfix")]

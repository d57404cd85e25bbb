"""Each safety rule has one source, the facts module, and both of its readers agree on it.

For every case the same facts go to fleetfix's Python (``HostFacts`` -> the audit's capture verdict,
``refuse_destructive``) and to the roles' own Jinja, evaluated by real ansible-playbook on local-connection
hosts: the hba_driver role's ``precheck.yml`` (run whole, with its vars and defaults) and the fio_soak role's
device check (the task read from ``roles/fio_soak/tasks/soak.yml`` as it is written there). The facts are
the module's output for the captured trees (tests/data/facts) and synthetic ones whose rules are judged by
the module's own code (plugins/module_utils), as a facts run would hand them over.
"""

from __future__ import annotations

import copy
import json
import os
import sys
from pathlib import Path
from typing import Any

import ansible_runner
import pytest
import yaml

from fleetfix.errors import FleetfixError
from fleetfix.facts.host import HostFacts
from fleetfix.soak.profiles import BUILTIN_PROFILES, refuse_destructive
from tests.support import COLLECTIONS, REPO, collection_plugin

FACTS = REPO / "tests" / "data" / "facts"
READINESS = collection_plugin("module_utils.capture_readiness")
WRITE_SAFETY = collection_plugin("module_utils.write_safety")
SOAK_CHECK = "soak | Check each device is a disk of the driver and may take the profile"


def stored(name: str) -> dict[str, Any]:
    return json.loads((FACTS / name).read_text())


def with_capture(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """``base`` with its crash capture surfaces changed and readiness judged again by the module's rule."""
    facts = copy.deepcopy(base)
    capture = facts["crash_capture"]
    for path, value in changes.items():
        *parents, leaf = path.split("__")
        node = capture
        for key in parents:
            node = node[key]
        node[leaf] = value
    capture["readiness"] = READINESS.capture_readiness(capture)
    return facts


def with_disk(base: dict[str, Any], name: str, **surfaces: Any) -> dict[str, Any]:
    """``base`` with one more disk behind mpt3sas, judged by the module's write safety rule."""
    facts = copy.deepcopy(base)
    disk = {
        "name": name,
        "driver": "mpt3sas",
        "module": "mpt3sas",
        "scsi_host": "host1",
        "proc_name": "mpt3sas",
        "size_bytes": 1 << 30,
        "rotational": True,
        "partitions": [],
        "holders": [],
        "partition_table": None,
        "fstype": None,
        "has_data": False,
        "boot_disk": False,
        **surfaces,
    }
    disk["write_safety"] = WRITE_SAFETY.write_safety(disk)
    facts["block_devices"].append(disk)
    return facts


def with_mpt3sas(base: dict[str, Any]) -> dict[str, Any]:
    """``base`` with mpt3sas loaded, so the pre-check's module check passes and capture is what it judges."""
    facts = copy.deepcopy(base)
    if not any(m["name"] == "mpt3sas" for m in facts["modules"]):
        facts["modules"].append(copy.deepcopy(next(m for m in DB01["modules"] if m["name"] == "mpt3sas")))
    return facts


DB01 = stored("db01.json")
APP02 = with_mpt3sas(stored("app02.json"))
READY = with_capture(
    DB01,
    kdump_service__active=True,
    kdump_service__active_state="active",
    kdump_service__enabled=True,
    panic__panic_on_oops=1,
)
CAPTURE_CASES = {
    "db01": DB01,  # a captured tree: kdump-tools' activity unknown
    "app02": APP02,  # nothing reserved, kdump disabled, no netconsole
    "ready": READY,
    # kdump works but netconsole is gone: the case the role once passed
    "kdump-only": with_capture(READY, netconsole__targets=[], netconsole__persistent__modprobe=None),
    # netconsole streams now but nothing brings it back after a reboot
    "netconsole-live-only": with_capture(
        READY, netconsole__persistent__modprobe=None, netconsole__persistent__cmdline=None
    ),
    "kdump-active-not-enabled": with_capture(READY, kdump_service__enabled=False),
    "no-kdump-service": with_capture(READY, kdump_service=None),
    "crash-memory-gone": with_capture(READY, kexec_crash_size=0, kexec_crash_loaded=False),
    # everything set up, but an oops would only kill the task: no panic, so no dump
    "no-panic-on-oops": with_capture(READY, panic__panic_on_oops=0),
}
DISKS = with_disk(
    with_disk(with_disk(DB01, "sdd", partition_table="gpt", has_data=True), "sde", has_data=None),
    "sdf",
    has_data=True,
)
WRITE_CASES = [
    (disk["name"], profile, destructive)
    for disk in DISKS["block_devices"]
    for profile in ("randwrite", "thrash")
    for destructive in (False, True)
]


# --- what fleetfix's Python reads ---------------------------------------------------------------------------


def python_capture(facts: dict[str, Any]) -> dict[str, Any]:
    readiness = HostFacts.from_dict(facts, "case").crash_capture.readiness
    return {"ready": readiness.ready, "missing": list(readiness.missing)}


def python_write(disk_name: str, profile: str, destructive: bool) -> str | None:
    """None when fleetfix lets the profile run on the disk, else why it refuses."""
    facts = HostFacts.from_dict(DISKS, "disks")
    (disk,) = [d for d in facts.block_devices if d.name == disk_name]
    try:
        refuse_destructive(BUILTIN_PROFILES[profile], [disk], destructive)
    except FleetfixError as refused:
        return str(refused)
    return None


# --- what the roles' Jinja makes of the same facts ---------------------------------------------------------


def soak_check_task() -> dict[str, Any]:
    tasks = yaml.safe_load((REPO / "roles" / "fio_soak" / "tasks" / "soak.yml").read_text())
    (task,) = [t for t in tasks if t.get("name") == SOAK_CHECK]
    return task


def role_verdicts(tmp_path: Path) -> dict[str, dict[str, Any]]:
    """One ansible-playbook run: a local-connection host per case; each host's verdict by name."""
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    capture_hosts = {
        f"capture-{name}": {
            **local,
            "__hba_driver_facts": {"ansible_facts": {"fleetfix": facts}},
            "hba_driver_module": "mpt3sas",
            "hba_driver_target_version": "43.100.00.00",
            "hba_driver_require_capture": True,
            "hba_driver_result": {"steps": {}},
        }
        for name, facts in CAPTURE_CASES.items()
    }
    write_hosts = {
        f"write-{disk}-{profile}-{destructive}": {
            **local,
            "__fio_soak_facts": {"ansible_facts": {"fleetfix": DISKS}},
            "__fio_soak_stat": {
                "results": [{"item": f"/dev/{disk}", "stat": {"exists": True, "isblk": True, "islnk": False}}]
            },
            "__fio_soak_writes": BUILTIN_PROFILES[profile].destructive,
            "fio_soak_module": "",
            "fio_soak_destructive": destructive,
        }
        for disk, profile, destructive in WRITE_CASES
    }
    inventory = {"all": {"children": {"capture": {"hosts": capture_hosts}, "write": {"hosts": write_hosts}}}}
    report = {"ansible.builtin.set_fact": {"verdict": "{{ __verdict | default({}) }}"}, "name": "Report"}
    # A loop's failure says "One or more items failed": the failed item's message says why.
    failed_msg = (
        "{{ (ansible_failed_result.results | default([]) | selectattr('failed', 'defined')"
        " | selectattr('failed') | map(attribute='msg') | list + [ansible_failed_result.msg]) | first }}"
    )
    caught = {"ansible.builtin.set_fact": {"__verdict": {"failed": failed_msg}}}
    playbook = [
        {
            "name": "The hba_driver role's pre-check",
            "hosts": "capture",
            "gather_facts": False,
            "tasks": [
                {
                    "block": [
                        {
                            "name": "Pre-check",
                            "ansible.builtin.include_role": {
                                "name": "fleetfix.hba.hba_driver",
                                "tasks_from": "precheck.yml",
                            },
                        },
                        {
                            "ansible.builtin.set_fact": {
                                "__verdict": {"capture": "{{ hba_driver_result.steps.precheck.capture }}"}
                            },
                        },
                    ],
                    "rescue": [caught],
                },
                report,
            ],
        },
        {
            "name": "The fio_soak role's device check",
            "hosts": "write",
            "gather_facts": False,
            "tasks": [{"block": [soak_check_task()], "rescue": [caught]}, report],
        },
    ]
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump(inventory))
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "check.yml").write_text(yaml.safe_dump(playbook, sort_keys=False))
    runner = ansible_runner.run(
        private_data_dir=str(tmp_path),
        playbook="check.yml",
        inventory=str(tmp_path / "inventory.yml"),
        envvars={
            "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
            "ANSIBLE_NOCOLOR": "1",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        },
        suppress_env_files=True,
        quiet=True,
    )
    verdicts = {
        event["event_data"]["host"]: event["event_data"]["res"]["ansible_facts"]["verdict"]
        for event in runner.events
        if event["event"] == "runner_on_ok" and event["event_data"].get("task") == "Report"
    }
    assert len(verdicts) == len(capture_hosts) + len(write_hosts), runner.stdout.read()[-4000:]
    return verdicts


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    return role_verdicts(tmp_path_factory.mktemp("rules"))


@pytest.mark.parametrize("case", sorted(CAPTURE_CASES))
def test_capture_readiness_agrees(verdicts: dict[str, dict[str, Any]], case: str) -> None:
    python = python_capture(CAPTURE_CASES[case])
    role = verdicts[f"capture-{case}"]
    if python["ready"]:
        assert role["capture"]["ready"] is True and role["capture"]["missing"] == []
    else:
        # hba_driver_require_capture stops the host, naming what the facts module found missing.
        assert role["failed"] == (
            f"crash capture is not ready ({'; '.join(python['missing'])}) and hba_driver_require_capture"
            " is set: a panic during the change would leave no evidence (fleetfix capture enable)"
        )


def test_capture_cases_cover_both_verdicts_and_the_old_disagreement() -> None:
    ready = {name: python_capture(facts)["ready"] for name, facts in CAPTURE_CASES.items()}
    assert ready["ready"] and not ready["kdump-only"] and not ready["netconsole-live-only"]
    assert sum(ready.values()) == 1


@pytest.mark.parametrize(("disk", "profile", "destructive"), WRITE_CASES)
def test_write_safety_agrees(
    verdicts: dict[str, dict[str, Any]], disk: str, profile: str, destructive: bool
) -> None:
    python = python_write(disk, profile, destructive)
    role = verdicts[f"write-{disk}-{profile}-{destructive}"]
    if python is None:
        assert "failed" not in role
    else:
        reasons = python.split(": ", 1)[1].removesuffix(" (pass --destructive to overwrite it)")
        assert role["failed"].startswith(f"refusing a write profile on /dev/{disk}: {reasons}")


def test_write_cases_cover_each_verdict() -> None:
    refused = {(d, p, x) for d, p, x in WRITE_CASES if python_write(d, p, x)}
    assert ("sdb", "randwrite", False) not in refused  # blank
    assert {("sdd", "randwrite", False), ("sde", "randwrite", False)} <= refused  # bare table, unreadable
    assert ("sdd", "randwrite", True) not in refused  # overwritten when asked
    assert ("sda", "randwrite", True) in refused  # never the boot disk
    assert not {case for case in refused if case[1] == "thrash"}  # reads never refused

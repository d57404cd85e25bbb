"""The Ansible inventory of a lab: the scenario's groups, root over ssh with the lab's key and known_hosts."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fleetfix.lab.scenario import Package


def ssh_options(key_file: Path, known_hosts: Path) -> list[str]:
    return [
        "-i",
        str(key_file),
        "-o",
        f"UserKnownHostsFile={known_hosts}",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "BatchMode=yes",
    ]


def driver_sources(packages: Iterable[Package]) -> dict[str, dict[str, Any]]:
    """``hba_driver_drivers`` for the lab repository: per module, its package and the package version
    that installs each module version (a broken build is never chosen)."""
    drivers: dict[str, dict[str, Any]] = {}
    for package in packages:
        if package.broken:
            continue
        entry = drivers.setdefault(package.module, {"package_name": package.name, "package_versions": {}})
        entry["package_versions"].setdefault(package.module_version, package.version)
    return drivers


def build(
    lab: str,
    hosts: dict[str, dict[str, Any]],
    key_file: Path,
    known_hosts: Path,
    controller: str,
    drivers: dict[str, dict[str, Any]],
) -> dict:
    """YAML-ready inventory: ``all.vars`` for the connection and the lab repository's driver packages, one
    child group per scenario group."""
    common = " ".join(o for o in ssh_options(key_file, known_hosts)[2:])
    groups: dict[str, dict[str, Any]] = {}
    for name, host in sorted(hosts.items(), key=lambda kv: kv[1]["index"]):
        for group in host["groups"]:
            groups.setdefault(group, {"hosts": {}})["hosts"][name] = {"ansible_host": host["ip"]}
    return {
        "all": {
            "vars": {
                "ansible_user": "root",
                "ansible_ssh_private_key_file": str(key_file),
                "ansible_ssh_common_args": common,
                "ansible_python_interpreter": "/usr/bin/python3",
                "fleetfix_lab": lab,
                "fleetfix_lab_controller_ip": controller,
                "hba_driver_drivers": drivers,
            },
            "children": groups,
        }
    }

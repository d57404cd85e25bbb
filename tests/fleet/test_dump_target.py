"""The ssh dump target on Debian and EL lab hosts and a dump server of the mixed fleet: `capture enable
--check` reports the key work without doing it; `capture enable` propagates a key and the server's host key,
readiness probes the target; a key removed from the server or an unwritable dump path makes readiness false
and say why; a panic lands on the dump server, `collect` fetches it from there and `triage` finds it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fleetfix.lab import Lab
from tests.fleet.test_capture import fleetfix, run_json
from tests.support.lab_hosts import wait_up

pytestmark = pytest.mark.fleet

BACKUP = "/usr/local/sbin/nightly-backup"
HOSTS = ("db01", "rdb01")  # Debian 12 (kdump-tools), Rocky Linux 9 (kdumpctl); bad mpt3sas, kdump active
SERVER = "dumps01"
DUMP_PATH = "/var/crash/fleet"
AUTHORIZED = "/var/lib/kdump/.ssh/authorized_keys"


def _enable(lab: Lab, state: Path, target: str, *extra: str) -> tuple[int, dict[str, dict]]:
    inventory = str(lab.inventory_path)
    return run_json(
        state, "capture", "enable", "-i", inventory, "-l", ",".join(HOSTS), "--dump-target", target, *extra
    )


def _target_checks(lab: Lab, state: Path) -> dict[str, dict]:
    _, hosts = run_json(state, "capture", "status", "-i", str(lab.inventory_path), "-l", ",".join(HOSTS))
    return {
        name: next(c for c in host["checks"] if c["name"] == "kdump.target") for name, host in hosts.items()
    }


def test_ssh_target_from_enable_to_triage(make_lab, tmp_path: Path) -> None:
    lab = make_lab("mixed", hosts=[*HOSTS, SERVER])
    ips = {h.name: h.ip for h in lab.hosts()}
    server_ip = ips[SERVER]
    target = f"ssh://kdump@{server_ip}{DUMP_PATH}"
    state = tmp_path / "state"

    # --check: the key, the server's account and known_hosts would change; nothing does
    rc, checked = _enable(lab, state, target, "--check")
    assert rc == 0, checked
    for host in HOSTS:
        assert checked[host]["status"] == "would-change" and "kdump ssh key" in checked[host]["changed"], (
            checked
        )
        assert lab.ssh(host, "test -e /root/.ssh/kdump_id_rsa").returncode == 1
    assert lab.ssh(SERVER, f"test -e {AUTHORIZED}").returncode == 1

    rc, enabled = _enable(lab, state, target)
    assert rc == 0, enabled
    assert all("kdump ssh key" in enabled[h]["changed"] for h in HOSTS), enabled
    keys = lab.ssh(SERVER, f"cat {AUTHORIZED}").stdout.splitlines()
    assert sorted(line.split(" ", 1)[0] for line in keys) == sorted(
        f'restrict,from="{ips[h]}"' for h in HOSTS
    )
    assert lab.ssh(SERVER, f"stat -c %U:%a {DUMP_PATH}").stdout.strip() == "kdump:700"
    assert "kdump ssh key" not in _enable(lab, state, target)[1]["db01"]["changed"]  # idempotent

    checks = _target_checks(lab, state)
    for host in HOSTS:
        assert checks[host]["ok"], checks[host]
        assert checks[host]["detail"] == f"ssh kdump@{server_ip}:{DUMP_PATH} reachable and writable"
    assert lab.ssh(SERVER, f"ls -A {DUMP_PATH}").stdout == ""  # the probe leaves nothing behind

    # break it: db01's key gone from the server, then the dump path unwritable for everyone
    lab.ssh(SERVER, f"sed -i '/kdump@db01$/d' {AUTHORIZED}")
    checks = _target_checks(lab, state)
    assert not checks["db01"]["ok"] and checks["rdb01"]["ok"], checks
    assert checks["db01"]["detail"].startswith(f"ssh kdump@{server_ip} unreachable: "), checks["db01"]
    assert "Permission denied (publickey" in checks["db01"]["detail"]
    _, audit = run_json(state, "audit", "-i", str(lab.inventory_path), "-l", "db01")
    assert any(
        m.startswith(f"ssh kdump@{server_ip} unreachable") for m in audit["db01"]["crash_capture"]["missing"]
    )

    lab.ssh(SERVER, f"chmod 0500 {DUMP_PATH}")
    checks = _target_checks(lab, state)
    assert not checks["rdb01"]["ok"] and "not writable" in checks["rdb01"]["detail"], checks["rdb01"]

    rc, enabled = _enable(lab, state, target)  # the role puts back the key and the directory's mode
    assert rc == 0 and all(c["ok"] for c in _target_checks(lab, state).values())

    # a panic on each host lands on the dump server, named as each family's kdump names it
    for host in HOSTS:
        assert lab.ssh(host, f"BACKUP_VERIFY_SECONDS=60 {BACKUP}", timeout=120).returncode == 255
        wait_up(lab, host)
    dumps = lab.ssh(SERVER, f"cd {DUMP_PATH} && ls -1 */").stdout
    debian = [d for d in dumps.split("\n\n") if d.startswith(f"{ips['db01']}-")]
    el = [d for d in dumps.split("\n\n") if d.startswith(f"{ips['rdb01']}-")]
    assert len(debian) == 1 and "dmesg." in debian[0] and "dump." in debian[0], dumps
    assert len(el) == 1 and "vmcore-dmesg.txt" in el[0] and "vmcore.flat" in el[0], dumps

    collected = fleetfix(state, "collect", "-i", str(lab.inventory_path), "--format", "json")
    assert collected.returncode == 0, collected.stdout + collected.stderr
    fetched = {h["host"]: h["fetched"] for h in json.loads(collected.stdout)["hosts"]}
    assert fetched["db01"] >= 1 and fetched["rdb01"] >= 1, fetched
    store = state / "crashes"
    assert list((store / "db01" / "crash").glob(f"{ips['db01']}-*/dmesg.*"))
    assert list((store / "rdb01" / "crash").glob(f"{ips['rdb01']}-*/vmcore-dmesg.txt"))

    triaged = fleetfix(state, "triage", "--format", "json")
    assert triaged.returncode == 1, triaged.stderr  # crashes found
    crashes = json.loads(triaged.stdout)["crashes"]
    for host in HOSTS:
        remote = [
            c for c in crashes if c["host"] == host and any(f"/crash/{ips[host]}-" in s for s in c["sources"])
        ]
        assert remote and remote[0]["implicated_module"] == "mpt3sas", crashes

"""The ssh dump target on Debian and EL lab hosts and a dump server of the mixed fleet: `capture enable
--check` reports the key work without doing it; `capture enable` propagates a key and the server's host key,
readiness probes the target; a key removed from the server or an unwritable dump path makes readiness false
and say why; a panic lands on the dump server, `collect` fetches it from there and `triage` finds it. Debian
dump directories are named by the host name the role sets (HOSTTAG=hostname); with HOSTTAG=ip by any of the
host's addresses, and `collect` leaves a directory whose address two hosts carry to neither."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fleetfix.ansible.artifacts import results_from_artifacts
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
    debian = [d for d in dumps.split("\n\n") if d.startswith("db01-")]  # the role's HOSTTAG=hostname
    el = [d for d in dumps.split("\n\n") if d.startswith(f"{ips['rdb01']}-")]
    assert len(debian) == 1 and "dmesg." in debian[0] and "dump." in debian[0], dumps
    assert len(el) == 1 and "vmcore-dmesg.txt" in el[0] and "vmcore.flat" in el[0], dumps

    collected = fleetfix(state, "collect", "-i", str(lab.inventory_path), "--format", "json")
    assert collected.returncode == 0, collected.stdout + collected.stderr
    fetched = {h["host"]: h["fetched"] for h in json.loads(collected.stdout)["hosts"]}
    assert fetched["db01"] >= 1 and fetched["rdb01"] >= 1, fetched
    store = state / "crashes"
    assert list((store / "db01" / "crash").glob("db01-*/dmesg.*"))
    assert list((store / "rdb01" / "crash").glob(f"{ips['rdb01']}-*/vmcore-dmesg.txt"))

    triaged = fleetfix(state, "triage", "--format", "json")
    assert triaged.returncode == 1, triaged.stderr  # crashes found
    crashes = json.loads(triaged.stdout)["crashes"]
    tags = {"db01": "db01", "rdb01": ips["rdb01"]}
    for host in HOSTS:
        remote = [
            c
            for c in crashes
            if c["host"] == host and any(f"/crash/{tags[host]}-" in s for s in c["sources"])
        ]
        assert remote and remote[0]["implicated_module"] == "mpt3sas", crashes


SECOND = "10.99.0.22"  # a second address on db02's interface (a storage VLAN's, say)
SHARED = "172.17.0.1"  # docker0's address, the same on every docker host
STAMP = "202612060412"


def _dump_target_facts(lab: Lab, state: Path, hosts: tuple[str, ...]) -> tuple[dict[str, dict], dict]:
    """Each host's facts ``crash_capture.dump_target`` from an audit run's events, and the audit report."""
    _, audit = run_json(state, "audit", "-i", str(lab.inventory_path), "-l", ",".join(hosts))
    run_dir = max((state / "runs").iterdir(), key=lambda path: path.stat().st_mtime)
    results = results_from_artifacts(run_dir)
    facts = {h: results[h].facts["fleetfix"]["crash_capture"]["dump_target"] for h in hosts}
    return facts, audit


def _add_addresses(lab: Lab, host: str, second: bool) -> str:
    """docker0 (a bridge, as docker makes it) with 172.17.0.1, and with ``second`` a second address on the
    host's link; returns the link's name."""
    link = lab.ssh(host, "ip -4 -o addr show up | awk '$2 != \"lo\" {print $2; exit}'").stdout.strip()
    commands = [
        "ip link add docker0 type bridge",
        f"ip addr add {SHARED}/16 dev docker0",
        "ip link set docker0 up",
    ]
    if second:
        commands.append(f"ip addr add {SECOND}/32 dev {link}")
    done = lab.ssh(host, " && ".join(commands))
    assert done.returncode == 0, done.stderr
    return link


def _remove_addresses(lab: Lab, host: str, link: str) -> None:
    lab.ssh(host, f"ip link del docker0; ip addr del {SECOND}/32 dev {link} 2>/dev/null; true")


def test_dump_directories_by_host_name_or_any_address_never_a_shared_one(make_lab, tmp_path: Path) -> None:
    hosts = ("db01", "db02")  # Debian 12, kdump-tools
    lab = make_lab("mixed", hosts=[*hosts, SERVER])
    ips = {h.name: h.ip for h in lab.hosts()}
    state = tmp_path / "state"
    target = f"ssh://kdump@{ips[SERVER]}{DUMP_PATH}"
    inventory = str(lab.inventory_path)
    rc, enabled = run_json(
        state, "capture", "enable", "-i", inventory, "-l", ",".join(hosts), "--dump-target", target
    )
    assert rc == 0, enabled
    for host in hosts:
        assert "HOSTTAG=hostname" in lab.ssh(host, "cat /etc/default/kdump-tools").stdout.splitlines()
    facts, _ = _dump_target_facts(lab, state, hosts)
    assert {h: f["tags"] for h, f in facts.items()} == {"db01": ["db01"], "db02": ["db02"]}

    # the operator's HOSTTAG=ip on hosts that carry docker0, db02 with a second address as well
    for host in hosts:
        assert lab.ssh(host, "sed -i 's/^HOSTTAG=.*/HOSTTAG=ip/' /etc/default/kdump-tools").returncode == 0
    links: dict[str, str] = {}
    try:
        for host in hosts:
            links[host] = _add_addresses(lab, host, second=host == "db02")
        facts, audit = _dump_target_facts(lab, state, hosts)
        assert facts["db01"]["tags"] == [ips["db01"], SHARED, "db01"], facts["db01"]
        assert facts["db02"]["tags"] == [ips["db02"], SECOND, SHARED, "db02"], facts["db02"]
        for host in hosts:
            notes = audit[host]["crash_capture"]["notes"]
            assert notes and notes[0].startswith("dumps are named by whichever address comes last"), notes
            assert notes[0].endswith("; set HOSTTAG=hostname")

        # on the server: one named by db02's second address, one by db01's host name, one by docker0's
        names = {f"{SECOND}-{STAMP}": "db02", f"db01-{STAMP}": "db01", f"{SHARED}-{STAMP}": None}
        for name in names:
            directory = f"{DUMP_PATH}/{name}"
            made = f"mkdir -p {directory} && echo '[    1.0] Kernel panic' > {directory}/dmesg.{STAMP}"
            assert lab.ssh(SERVER, made).returncode == 0
        collected = fleetfix(state, "collect", "-i", inventory, "--format", "json")
        assert collected.returncode == 0, collected.stdout + collected.stderr
        store = state / "crashes"
        for name, owner in names.items():
            held = sorted(str(p.relative_to(store)) for p in store.glob(f"*/crash/{name}/dmesg.{STAMP}"))
            assert held == ([f"{owner}/crash/{name}/dmesg.{STAMP}"] if owner else []), (name, held)
        notes = {h["host"]: h["notes"] for h in json.loads(collected.stdout)["hosts"]}
        refused = (
            f"not fetched: {SERVER}:{DUMP_PATH}/{SHARED}-{STAMP} is named by a tag db01, db02 all carry"
            " (set HOSTTAG=hostname)"
        )
        assert refused in notes["db01"] and refused in notes["db02"], notes
    finally:
        for host, link in links.items():
            _remove_addresses(lab, host, link)

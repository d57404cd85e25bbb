"""`fleetfix capture status|enable` against seed hosts of the lab fleet, through the installed command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from fleetfix.lab import Lab

pytestmark = pytest.mark.fleet

FLEETFIX = str(Path(sys.executable).parent / "fleetfix")
# One host per crash-capture situation of the seed: full, none, kdump only, kdump installed but disabled
# and no crash memory (netconsole on), crash memory but kdump not started.
HOSTS = ["db01", "db04", "db06", "store01", "vault01"]
NO_CRASH_MEMORY = {"db04", "store01"}  # no crashkernel= on their command line in the scenario
# Everything the role may touch on a host, read over ssh: a check run must leave all of it as it was.
SNAPSHOT = (
    "md5sum /etc/default/kdump-tools /etc/default/grub.d/* /etc/modprobe.d/* /etc/modules-load.d/* "
    "/boot/grub/grub.cfg 2>&1; grep -r . /sys/kernel/config/netconsole 2>&1; dpkg-query -W kdump-tools 2>&1; "
    "systemctl is-enabled kdump-tools 2>&1; systemctl is-active kdump-tools 2>&1; "
    "cat /sys/kernel/kexec_crash_loaded /proc/sys/kernel/random/boot_id; ls -ld /var/crash 2>&1"
)


def fleetfix(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FLEETFIX_STATE_DIR": str(state)}
    return subprocess.run(
        [FLEETFIX, *args], capture_output=True, text=True, env=env, timeout=900, check=False
    )


def run_json(state: Path, *args: str) -> tuple[int, dict[str, dict]]:
    result = fleetfix(state, *args, "--format", "json")
    assert result.stdout, result.stderr
    return result.returncode, {h["host"]: h for h in json.loads(result.stdout)["hosts"]}


def status(lab: Lab, state: Path) -> tuple[int, dict[str, dict]]:
    return run_json(state, "capture", "status", "-i", str(lab.inventory_path))


def enable(lab: Lab, state: Path, *extra: str) -> tuple[int, dict[str, dict]]:
    inventory = str(lab.inventory_path)
    return run_json(state, "capture", "enable", "-i", inventory, "--log-host", lab.controller_ip, *extra)


def snapshot(lab: Lab) -> dict[str, str]:
    return {host: lab.ssh(host, SNAPSHOT).stdout for host in HOSTS}


def needing_reboot(status_hosts: dict[str, dict]) -> set[str]:
    """Hosts whose crash memory check fails: only a reboot can reserve it."""
    return {
        name
        for name, host in status_hosts.items()
        if not next(c["ok"] for c in host["checks"] if c["name"] == "kdump.crash_memory")
    }


def boot_ids(lab: Lab) -> dict[str, str]:
    return {host: lab.ssh(host, "cat /proc/sys/kernel/random/boot_id").stdout.strip() for host in HOSTS}


def test_status_shows_the_scenario_gaps(make_lab, tmp_path: Path) -> None:
    lab = make_lab("seed", hosts=HOSTS)
    rc, hosts = status(lab, tmp_path)
    assert rc == 1
    ready = {name: (h["kdump_ready"], h["netconsole_ready"]) for name, h in hosts.items()}
    assert ready == {
        "db01": (True, True),
        "db04": (False, False),
        "db06": (True, False),
        "store01": (False, True),
        "vault01": (False, False),
    }
    failing = {c["name"] for c in hosts["vault01"]["checks"] if not c["ok"]}
    assert "kdump.service" in failing
    assert needing_reboot(hosts) >= NO_CRASH_MEMORY


def test_check_shows_the_diff_and_changes_nothing(make_lab, tmp_path: Path) -> None:
    lab = make_lab("seed", hosts=HOSTS)
    before_status, before_files = status(lab, tmp_path)[1], snapshot(lab)
    rc, hosts = enable(lab, tmp_path, "--check")
    assert rc == 1  # hosts without crash memory would need a reboot
    reboot = needing_reboot(before_status)
    assert {name for name, h in hosts.items() if h["status"] == "reboot-needed"} == reboot
    for name in ("db04", "db06", "store01", "vault01"):
        assert hosts[name]["changed"] and hosts[name]["diff"], name
    assert "+++ /etc/default/kdump-tools" in hosts["db04"]["diff"]
    assert f"remote_ip = {lab.controller_ip}" in hosts["db06"]["diff"]
    assert status(lab, tmp_path)[1] == before_status
    assert snapshot(lab) == before_files


def test_enable_fixes_every_host_then_changes_nothing(make_lab, tmp_path: Path) -> None:
    lab = make_lab("seed", hosts=HOSTS)
    reboot = needing_reboot(status(lab, tmp_path)[1])
    assert reboot >= NO_CRASH_MEMORY
    rc, first = enable(lab, tmp_path)
    assert rc == 1
    assert {name for name, h in first.items() if h["status"] == "reboot-needed"} == reboot
    assert all("reboot needed: crashkernel=256M" in first[name]["message"] for name in reboot)
    assert "kdump packages" in first["db04"]["changed"]
    assert first["db06"]["status"] == "changed"
    rc, ready = status(lab, tmp_path)
    assert all(ready[name]["ready"] for name in set(HOSTS) - reboot), ready
    assert all(ready[name]["netconsole_ready"] for name in reboot)

    rc, second = enable(lab, tmp_path)
    assert rc == 1
    for name in HOSTS:
        assert second[name]["changed"] == [], (name, second[name])
        assert second[name]["status"] == ("reboot-needed" if name in reboot else "unchanged")

    booted = boot_ids(lab)
    rc, third = enable(lab, tmp_path, "--reboot")
    assert rc == 0
    assert {name for name, h in third.items() if h["status"] == "rebooted"} == reboot
    now = boot_ids(lab)
    assert {name for name in HOSTS if now[name] != booted[name]} == reboot
    rc, ready = status(lab, tmp_path)
    assert rc == 0 and all(h["ready"] for h in ready.values()), ready

    rc, last = enable(lab, tmp_path)
    assert rc == 0 and all(h["status"] == "unchanged" for h in last.values()), last


def test_bad_input_is_one_line(make_lab, tmp_path: Path) -> None:
    result = fleetfix(tmp_path, "capture", "enable", "--log-host", "10.0.0.1", "--log-port", "70000")
    assert result.returncode == 2  # an option's value: a usage error
    assert result.stderr.strip().count("\n") == 0 and "--log-port" in result.stderr

    lab = make_lab("seed", hosts=["db06"])
    rc, hosts = enable(lab, tmp_path, "--interface", "eth9")
    assert rc == 4
    assert hosts["db06"]["status"] == "failed"
    assert hosts["db06"]["message"] == "interface eth9 not found (this host has: eth0, lo)"
    unused = lab.controller_ip.rsplit(".", 1)[0] + ".250"
    rc, hosts = run_json(tmp_path, "capture", "enable", "-i", str(lab.inventory_path), "--log-host", unused)
    assert rc == 4
    assert hosts["db06"]["message"].startswith(f"log host {unused} unreachable: it does not answer on eth0")


def test_enable_adds_the_serial_console_and_systemd_pstore(make_lab, tmp_path: Path) -> None:
    """The port and speed come from the inventory; the console is there for the next boot, and present
    (command line and the kernel's active consoles) after it."""
    lab = make_lab("seed", hosts=["db01"], name="tr-serial")
    document = yaml.safe_load(lab.inventory_path.read_text())
    document["all"]["vars"] |= {
        "crash_capture_serial_console_port": "ttyS1",
        "crash_capture_serial_console_speed": 57600,
    }
    lab.inventory_path.write_text(yaml.safe_dump(document))
    before = status(lab, tmp_path)[1]["db01"]["serial_console"]
    assert (before["present"], before["next_boot"]) == (False, False)

    _, hosts = enable(lab, tmp_path)
    assert "serial console" in hosts["db01"]["changed"], hosts["db01"]
    pstore = status(lab, tmp_path)[1]["db01"]["pstore"]  # enabled; the lab host has no pstore backend
    assert "systemd-pstore not" not in pstore["detail"] and "no pstore backend" in pstore["detail"]
    grub = lab.ssh("db01", "cat /boot/grub/grub.cfg").stdout
    assert " console=tty0 console=ttyS1,57600n8" in grub
    after = status(lab, tmp_path)[1]["db01"]["serial_console"]
    assert (after["present"], after["next_boot"], after["port"]) == (False, True, "ttyS1,57600n8")
    assert "serial console" not in enable(lab, tmp_path)[1]["db01"]["changed"]  # idempotent

    boot_id = boot_ids_of(lab, "db01")
    lab.ssh("db01", "reboot")
    wait_for_new_boot(lab, "db01", boot_id)
    booted = status(lab, tmp_path)[1]["db01"]["serial_console"]
    assert (booted["present"], booted["next_boot"], booted["port"]) == (True, True, "ttyS1,57600n8")
    assert lab.ssh("db01", "cat /sys/class/tty/console/active").stdout.split() == ["tty0", "ttyS1"]

    document["all"]["vars"]["crash_capture_serial_console_port"] = "ttyS1;reboot"
    lab.inventory_path.write_text(yaml.safe_dump(document))
    refused = fleetfix(
        tmp_path, "capture", "enable", "-i", str(lab.inventory_path), "--log-host", lab.controller_ip
    )
    assert (
        refused.returncode != 0 and 'invalid serial console "ttyS1;reboot"' in refused.stdout + refused.stderr
    )


def boot_ids_of(lab: Lab, host: str) -> str:
    return lab.ssh(host, "cat /proc/sys/kernel/random/boot_id").stdout.strip()


def wait_for_new_boot(lab: Lab, host: str, old: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = lab.ssh(host, "cat /proc/sys/kernel/random/boot_id", timeout=10)
        if current.returncode == 0 and current.stdout.strip() not in ("", old):
            return
        time.sleep(0.5)
    raise AssertionError(f"{host} did not boot again")

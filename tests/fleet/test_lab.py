"""The namespace lab fleet, end to end: real sshd, real Ansible, real apt/dpkg, real fio."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
from pathlib import Path

import ansible_runner
import pytest

from fleetfix.lab import Lab
from tests.support.lab_hosts import wait_up

pytestmark = pytest.mark.fleet

VENV_BIN = Path(__file__).resolve().parents[2] / ".venv" / "bin"


def run_module(lab: Lab, tmp_path: Path, pattern: str, module: str, args: str = "") -> dict[str, str]:
    """Run one Ansible module through ansible-runner; returns each host's outcome event name."""
    data = tmp_path / f"runner-{module.rsplit('.', 1)[-1]}"
    data.mkdir()
    result = ansible_runner.run(
        private_data_dir=str(data),
        inventory=str(lab.inventory_path),
        host_pattern=pattern,
        module=module,
        module_args=args,
        suppress_env_files=True,
        quiet=True,
        envvars={
            "ANSIBLE_HOME": str(data / "ansible-home"),
            "ANSIBLE_HOST_KEY_CHECKING": "True",
            "PATH": f"{VENV_BIN}:{os.environ['PATH']}",
        },
    )
    outcomes = {}
    for event in result.events:
        if event.get("event") in ("runner_on_ok", "runner_on_unreachable", "runner_on_failed"):
            outcomes[event["event_data"]["host"]] = event["event"]
    return outcomes


def boot_id(lab: Lab, host: str) -> str:
    return lab.ssh(host, "cat /proc/sys/kernel/random/boot_id").stdout.strip()


def test_two_hosts_see_different_kernels(seed_lab: Lab) -> None:
    command = "uname -r; cat /proc/cmdline; cat /proc/modules; cat /proc/sys/kernel/tainted; hostname"
    db, store = (seed_lab.ssh(h, command) for h in ("db01", "store01"))
    assert db.returncode == store.returncode == 0, db.stderr + store.stderr
    db_release, db_cmdline, *_ = db.stdout.splitlines()
    assert db_release == "6.1.0-18-amd64"
    assert store.stdout.startswith("5.10.0-28-amd64\n")
    assert "crashkernel=384M-:128M" in db_cmdline and "crashkernel" not in store.stdout
    assert re.search(r"^mpt3sas \d+ \d+ - Live 0x[0-9a-f]{16} \(OE\)$", db.stdout, re.M)
    assert "megaraid_sas" in store.stdout and "mpt3sas" not in store.stdout
    assert db.stdout.split()[-1] == "db01"
    python = seed_lab.ssh("db01", "python3 -c 'import platform; print(platform.release())'")
    assert python.stdout.strip() == "6.1.0-18-amd64"
    sysfs = seed_lab.ssh("db01", "cat /sys/module/mpt3sas/version; readlink -f /sys/block/sdb/device")
    version, device = sysfs.stdout.split()
    assert version == "34.100.00.00"
    driver = seed_lab.ssh("db01", f"basename $(readlink {device}/../../../driver)").stdout.strip()
    assert driver == "mpt3sas"


def test_ansible_ping_reaches_up_hosts_and_not_the_down_one(seed_lab: Lab, tmp_path: Path) -> None:
    outcomes = run_module(seed_lab, tmp_path, "all", "ansible.builtin.ping")
    assert outcomes.pop("db07") == "runner_on_unreachable"
    assert set(outcomes.values()) == {"runner_on_ok"}
    assert len(outcomes) == len(seed_lab.hosts()) - 1


def test_package_changes_one_host_and_takes_effect_after_reboot(make_lab, tmp_path: Path) -> None:
    lab = make_lab("seed", hosts=["db02", "db03"])
    install = lab.ssh(
        "db02", "apt-get update -q && apt-get install -y -q mpt3sas-driver=46.00.00.00-1", timeout=180
    )
    assert install.returncode == 0, install.stdout + install.stderr
    assert lab.ssh("db02", "modinfo -F version mpt3sas").stdout.strip() == "46.00.00.00"
    assert lab.ssh("db03", "modinfo -F version mpt3sas").stdout.strip() == "34.100.00.00"
    assert lab.ssh("db02", "cat /sys/module/mpt3sas/version").stdout.strip() == "34.100.00.00"
    broken = lab.ssh(
        "db03", "apt-get update -q && apt-get install -y -q mpt3sas-driver=46.00.00.00-2", timeout=180
    )
    assert broken.returncode != 0 and "module build failed" in broken.stdout + broken.stderr

    before = boot_id(lab, "db02")
    outcomes = run_module(lab, tmp_path, "db02", "ansible.builtin.reboot", "reboot_timeout=120")
    assert outcomes == {"db02": "runner_on_ok"}
    assert boot_id(lab, "db02") != before
    assert lab.ssh("db02", "cat /sys/module/mpt3sas/version").stdout.strip() == "46.00.00.00"
    assert lab.ssh("db03", "cat /sys/module/mpt3sas/version").stdout.strip() == "34.100.00.00"


def test_fio_runs_and_the_fault_panics_the_host(make_lab) -> None:
    lab = make_lab("seed", hosts=["db01", "app01"])
    calm = lab.ssh(
        "db01",
        "fio --name=calm --filename=/dev/sdb --rw=randread --bs=4k --iodepth=4 --ioengine=libaio --direct=1 "
        "--time_based --runtime=2 --output-format=json",
    )
    assert calm.returncode == 0, calm.stderr
    report = json.loads(calm.stdout[calm.stdout.index("{") :])
    assert report["jobs"][0]["error"] == 0 and report["jobs"][0]["read"]["total_ios"] > 0

    before = boot_id(lab, "db01")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
        listener.bind((lab.controller_ip, 6666))
        listener.settimeout(30)
        crash = lab.ssh("db01", "BACKUP_VERIFY_SECONDS=60 /usr/local/sbin/nightly-backup", timeout=90)
        assert crash.returncode == 255  # the connection dropped with the host
        datagrams = []
        while True:
            try:
                payload, sender = listener.recvfrom(4096)
            except TimeoutError:
                break
            datagrams.append(payload.decode())
            listener.settimeout(1)
    assert sender[0] == lab.host("db01").ip
    text = "".join(datagrams)
    assert "RIP: 0010:_scsih_io_done" in text and "[mpt3sas]" in text and "Comm: fio" in text
    wait_up(lab, "db01")
    assert boot_id(lab, "db01") != before
    dumps = lab.ssh(
        "db01",
        "ls -d /var/crash/2*/dmesg.2* | sort | tail -1; cat $(ls /var/crash/2*/dmesg.2* | sort | tail -1)",
    )
    assert "Kernel panic - not syncing" in dumps.stdout and "mpt3sas(OE)" in dumps.stdout
    assert lab.ssh("app01", "cat /proc/sys/kernel/random/boot_id").returncode == 0


def _command_lines() -> list[str]:
    """``pid args`` of every process, from /proc: ``ps`` cuts long command lines to the terminal width."""
    lines = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:  # the process ended while being read
            continue
        if args:
            lines.append(f"{cmdline.parent.name} {args}")
    return lines


def _traces(lab: Lab) -> dict[str, list[str]]:
    """Every netns, link, loop device, mount and process on the machine that belongs to ``lab``."""

    def out(*cmd: str) -> list[str]:
        return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.splitlines()

    marks = (
        lab.layout.netns(""),
        lab.layout.lab_id,
        str(lab.layout.dir),
        f"fleetfix.lab.supervisor {lab.name}",
    )
    found = {
        "netns": out("ip", "netns", "list"),
        "links": out("ip", "-o", "link"),
        "loops": out("losetup", "-a"),
        "mounts": Path("/proc/self/mountinfo").read_text().splitlines(),
        "processes": _command_lines(),
    }
    return {kind: [line for line in lines if any(m in line for m in marks)] for kind, lines in found.items()}


def test_down_leaves_nothing(make_lab) -> None:
    lab = make_lab("seed", hosts=["db01", "store01", "db07"], name="pytest-teardown")
    during = _traces(lab)
    assert during["netns"] and during["links"] and during["loops"] and during["processes"]
    hosts = json.loads(lab.layout.status_file.read_text())["hosts"].values()
    host_pids = [h["pid"] for h in hosts]
    lab.down()
    assert _traces(lab) == {"netns": [], "links": [], "loops": [], "mounts": [], "processes": []}
    assert not lab.running() and not lab.layout.dir.exists()
    assert not [pid for pid in host_pids if Path(f"/proc/{pid}").exists()]

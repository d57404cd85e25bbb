"""An NFS kdump target on a real kernel: configured, probed, written by the capture kernel, collected.

This machine serves an NFSv4 export from user space (NFS-Ganesha on 127.0.0.1:2049, tests/support/
nfs_server.py); the guest reaches it as 10.0.2.2. In order, each step printing its time: ``fleetfix capture
enable --dump-target nfs://10.0.2.2/<export>`` installs the NFS client and points kdump-tools at the export;
``fleetfix capture status`` mounts the export as kdump-config would (in a mount namespace of its own) and
finds it writable; a sysrq crash sends the guest into the capture kernel, whose kdump-config mounts the
export and writes the dump and its kernel log there under ``<guest host name>-<stamp>/``, and the guest comes
back; ``fleetfix collect`` fetches the log from the dump server (this machine, an inventory host with
``ansible_host: 10.0.2.2`` and ``ansible_connection: local``) and ``fleetfix triage`` finds the panic.

A module of its own rather than steps of test_vm_e2e: that guest's crash must land in /var/crash and in
pstore for its own assertions, and a second crash there would cost as much as this module's boot.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from fleetfix.lab.vm import image, rootfs
from fleetfix.lab.vm.machine import Vm
from fleetfix.triage.oops.find_all import parse_oopses
from tests.support import nfs_server
from tests.support.vm import Steps, boot_id, fleetfix, ok, running

pytestmark = pytest.mark.vm

RETURN_WAIT = 900.0  # panic to ssh again: the capture kernel boots, mounts the export, dumps, reboots
DUMP_SERVER = "dumpserver"  # this machine, as the guest's inventory names it
PANIC = "Kernel panic - not syncing: sysrq triggered crash"
# kdump-tools 1.8's dump directory on a remote target: <HOSTTAG>-<date +%Y%m%d%H%M>, the tag the guest's
# host name (the role writes HOSTTAG=hostname; kdump-tools' own default, ip, would take the last address
# the capture boot lists), holding dmesg.<stamp> and the compressed dump.<stamp>
_DUMP_DIR = re.compile(re.escape(rootfs.HOSTNAME) + r"-([0-9]{12})")


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory, steps: Steps) -> Iterator[Path]:
    started = time.monotonic()
    with nfs_server.ganesha(tmp_path_factory.mktemp("nfs")) as path:
        steps.record("NFS server up (nfs-ganesha on 127.0.0.1:2049)", started)
        yield path


@pytest.fixture(scope="module")
def guest(built: image.ImageFiles, export: Path, steps: Steps, state_dir: Path) -> Iterator[Vm]:
    with running(Vm("nfs"), steps, "boot to ssh") as vm:
        yield vm


@pytest.fixture(scope="module")
def inventory(guest: Vm, state_dir: Path) -> Path:
    """The guest, and this machine as its dump server: a controller that is itself the dump server is an
    inventory host whose ansible_host is the address the hosts mount, reached with the local connection."""
    document = guest.inventory()
    server = {
        "ansible_host": rootfs.HOST_FROM_GUEST,
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
    }
    document["all"]["children"]["dump_servers"] = {"hosts": {DUMP_SERVER: server}}
    path = state_dir / "inventory.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def _dump_directories(export: Path) -> list[Path]:
    return sorted(p for p in export.iterdir() if p.is_dir())


def test_capture_enable_points_kdump_tools_at_the_export(
    guest: Vm, inventory: Path, export: Path, steps: Steps
) -> None:
    started = time.monotonic()
    done = fleetfix(
        "capture", "enable", "-i", str(inventory), "--limit", rootfs.HOSTNAME,
        "--dump-target", f"nfs://{rootfs.HOST_FROM_GUEST}{export}", "--format", "json",
    )  # fmt: skip
    steps.record("fleetfix capture enable --dump-target nfs://...", started)
    assert done.returncode == 0, done.stderr
    [host] = json.loads(done.stdout)["hosts"]
    assert host["status"] in ("changed", "ok"), host
    target = f"{rootfs.HOST_FROM_GUEST}:{export}"
    assert ok(guest, '. /etc/default/kdump-tools && printf %s "$NFS"') == target
    assert ok(guest, '. /etc/default/kdump-tools && printf %s "$HOSTTAG"') == "hostname"
    # kdump-config runs `mount -t nfs` in the capture boot: mount.nfs must be on the root it mounts
    assert ok(guest, "dpkg-query -W -f='${db:Status-Status}' nfs-common") == "installed"
    assert ok(guest, "cat /sys/kernel/kexec_crash_loaded") == "1"


def test_readiness_mounts_the_export_as_kdump_does_and_finds_it_writable(
    guest: Vm, inventory: Path, export: Path, steps: Steps
) -> None:
    started = time.monotonic()
    done = fleetfix("capture", "status", "-i", str(inventory), "--limit", rootfs.HOSTNAME, "--format", "json")
    steps.record("fleetfix capture status (the NFS mount probe)", started)
    [host] = json.loads(done.stdout)["hosts"]
    checks = {c["name"]: c for c in host["checks"]}
    steps.say(f"kdump.target: {checks['kdump.target']['detail']}")
    target = f"{rootfs.HOST_FROM_GUEST}:{export}"
    assert checks["kdump.target"] == {
        "name": "kdump.target",
        "ok": True,
        "detail": f"nfs {target} mounted as kdump mounts it; / writable",
    }
    assert host["kdump_ready"], checks
    assert list(export.iterdir()) == []  # the probe's file is gone
    assert ok(guest, "grep -c ' nfs4\\? ' /proc/self/mounts || true") == "0"  # and nothing stays mounted


def test_a_crash_is_dumped_to_the_export_and_the_guest_returns(guest: Vm, export: Path, steps: Steps) -> None:
    before = boot_id(guest)
    guest.run("sync; echo c > /proc/sysrq-trigger", timeout=20)  # the connection dies with the kernel
    started = time.monotonic()
    guest.wait_for_ssh(RETURN_WAIT)
    steps.record("sysrq crash, capture kernel dumps over NFS, reboot, to ssh again", started)
    assert boot_id(guest) != before
    [directory] = _dump_directories(export)
    match = _DUMP_DIR.fullmatch(directory.name)
    assert match, directory.name
    stamp = match.group(1)
    names = sorted(p.name for p in directory.iterdir())
    assert names == [f"dmesg.{stamp}", f"dump.{stamp}"], names  # no dump-incomplete left behind
    assert (directory / f"dump.{stamp}").stat().st_size > 0
    panics = [o.first_line for o in parse_oopses((directory / f"dmesg.{stamp}").read_bytes())]
    assert PANIC in panics, panics


def test_collect_fetches_the_log_from_the_dump_server_and_triage_finds_the_panic(
    inventory: Path, export: Path, state_dir: Path, steps: Steps
) -> None:
    [directory] = _dump_directories(export)
    store = state_dir / "crashes"
    started = time.monotonic()
    collected = fleetfix(
        "collect", "-i", str(inventory), "--limit", rootfs.HOSTNAME, "--store", str(store), "--format", "json"
    )
    steps.record("fleetfix collect (from the dump server)", started)
    assert collected.returncode == 0, collected.stderr
    [host] = json.loads(collected.stdout)["hosts"]
    assert host["status"] == "ok" and host["fetched"] == 1, host
    [log] = (store / rootfs.HOSTNAME / "crash" / directory.name).iterdir()
    assert log.name.startswith("dmesg.") and log.read_bytes() == next(directory.glob("dmesg.*")).read_bytes()
    started = time.monotonic()
    triaged = fleetfix("triage", "--store", str(store), "--format", "json")
    steps.record("fleetfix triage", started)
    assert triaged.returncode == 1, triaged.stderr  # crashes found
    crashes = json.loads(triaged.stdout)["crashes"]
    assert [(c["host"], c["first_line"]) for c in crashes] == [(rootfs.HOSTNAME, PANIC)], crashes

"""The seed incident on a real kernel: a QEMU guest whose fxhba 1.0.0 races under fio's queue depth.

In order, each step printing its time: image build and cached rebuild, boot to ssh, ``fleetfix audit`` of
the guest, fio at queue depth 1 survives, the nightly "backup" cron job's fio thrash panics the guest (the
serial console holds the oops, which the triage parser pins on fxhba), the guest reboots, then fxhba 1.0.1
from the guest's apt repository survives the same thrash for the same time.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from fleetfix.lab.vm import image
from fleetfix.lab.vm.machine import Vm
from fleetfix.triage.oops import Oops, parse_oopses

pytestmark = pytest.mark.vm

REPO = Path(__file__).resolve().parents[2]
LAB_ADVISORIES = REPO / "fleetfix/lab/vm/advisories"
THRASH_SECONDS = 60  # the race must fire within this; 1.0.1 must survive it
FIO = (
    "fio --name={tag} --filename=/dev/fxhba0 --rw=randread --bs=4k --iodepth={depth} --numjobs={jobs} "
    "--direct=1 --ioengine=libaio --time_based --runtime={seconds} --group_reporting "
    "--output-format=json --output=/root/fio-{tag}.json"
)
CRON_WAIT = 150.0  # the backup's minute comes, then the race fires
RETURN_WAIT = 900.0  # panic to ssh again: kernel.panic's 10 s, then a TCG boot on a loaded machine


class Steps:
    """Step times, printed as they happen and once more together at the end."""

    def __init__(self, config: pytest.Config) -> None:
        self.reporter = config.pluginmanager.get_plugin("terminalreporter")
        self.capture = config.pluginmanager.get_plugin("capturemanager")
        self.done: list[tuple[str, float]] = []

    def say(self, text: str) -> None:
        """Straight to the terminal, past pytest's output capture, so a CI log shows progress live."""
        if self.reporter is None or self.capture is None:
            return
        with self.capture.global_and_fixture_disabled():
            self.reporter.write_line(f"vm e2e: {text}")

    def record(self, name: str, started: float) -> None:
        self.done.append((name, time.monotonic() - started))
        self.say(f"{name}: {self.done[-1][1]:.1f} s")


@pytest.fixture(scope="module")
def steps(request: pytest.FixtureRequest) -> Iterator[Steps]:
    recorder = Steps(request.config)
    yield recorder
    table = "; ".join(f"{name} {seconds:.0f}s" for name, seconds in recorder.done)
    recorder.say(f"step times: {table}; total {sum(s for _, s in recorder.done):.0f}s")


@pytest.fixture(scope="module")
def built(steps: Steps) -> image.ImageFiles:
    if os.geteuid() != 0:
        pytest.skip("the VM lab needs root")
    if shutil.which("qemu-system-x86_64") is None or shutil.which("debootstrap") is None:
        pytest.skip("qemu-system-x86 or debootstrap is not installed (make deps installs them)")
    called = datetime.now(UTC).replace(microsecond=0)
    started = time.monotonic()
    first = image.build(steps.say)
    fresh = datetime.fromisoformat(image.manifest(first)["built"]) >= called
    steps.record("image build" if fresh else "image build (cached by an earlier run)", started)
    started = time.monotonic()
    again = image.build(steps.say)
    steps.record("image build again (cached)", started)
    assert again == first
    assert image.manifest(again) == image.manifest(first)
    return first


@pytest.fixture(scope="module")
def guest(built: image.ImageFiles, steps: Steps, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Vm]:
    previous = os.environ.get("FLEETFIX_STATE_DIR")
    os.environ["FLEETFIX_STATE_DIR"] = str(tmp_path_factory.mktemp("state"))
    vm = Vm("e2e")
    try:
        started = time.monotonic()
        vm.up(steps.say)
        steps.record("boot to ssh", started)
        yield vm
    finally:
        vm.down()
        if previous is None:
            os.environ.pop("FLEETFIX_STATE_DIR", None)
        else:
            os.environ["FLEETFIX_STATE_DIR"] = previous


def _ok(vm: Vm, command: str, timeout: float = 180) -> str:
    done = vm.run(command, timeout)
    assert done.returncode == 0, f"{command}: exit {done.returncode}: {done.stderr.strip()}"
    return done.stdout.strip()


def _boot_id(vm: Vm) -> str:
    return _ok(vm, "cat /proc/sys/kernel/random/boot_id")


def _fleetfix(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-c", "from fleetfix.cli import entry; entry()", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False, cwd=REPO)


def _console_oopses(vm: Vm, since: int) -> list[Oops]:
    return parse_oopses(vm.files.console.read_bytes()[since:])


def test_audit_flags_fxhba_and_the_real_capture_state(guest: Vm, steps: Steps, tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump(guest.inventory()))
    started = time.monotonic()
    done = _fleetfix("audit", "-i", str(inventory), "--advisories", str(LAB_ADVISORIES), "--format", "json")
    steps.record("fleetfix audit", started)
    assert done.returncode == 1, done.stderr  # findings
    host = json.loads(done.stdout)["hosts"][0]
    assert host["status"] == "ok"
    assert host["kernel"] == image.manifest(guest.image())["kernel_release"]
    fxhba = next(m for m in host["modules"] if m["name"] == "fxhba")
    assert fxhba["version"] == "1.0.0"
    assert fxhba["out_of_tree"] and fxhba["unsigned"]
    assert fxhba["disks"] == ["fxhba0"]
    finding = next(f for f in host["findings"] if f["module"] == "fxhba")
    assert (finding["advisory"], finding["fixed_in"]) == ("fxhba-slot-claim-race", "1.0.1")
    capture = host["crash_capture"]
    steps.say(f"audit: crash capture missing {capture['missing']}")
    # As built: crash memory reserved on the command line, kdump-tools installed but disabled, no netconsole.
    checks = {c["name"]: c["ok"] for c in capture["checks"]}
    assert checks["kdump.crash_memory"] and not checks["kdump.service"] and not checks["kdump.loaded"]
    assert not checks["netconsole.target"]
    assert not capture["ready"]


def test_queue_depth_one_never_races(guest: Vm, steps: Steps) -> None:
    boot = _boot_id(guest)
    since = guest.files.console.stat().st_size
    started = time.monotonic()
    _ok(guest, FIO.format(tag="qd1", depth=1, jobs=1, seconds=30), timeout=300)
    steps.record("fio randread at queue depth 1 on 1.0.0 (30 s)", started)
    assert _boot_id(guest) == boot
    assert _console_oopses(guest, since) == []
    assert json.loads(_ok(guest, "cat /root/fio-qd1.json"))["jobs"][0]["error"] == 0


def test_backup_cron_thrash_panics_fxhba_1_0_0(guest: Vm, steps: Steps) -> None:
    assert _ok(guest, "cat /sys/module/fxhba/version") == "1.0.0"
    boot = _boot_id(guest)
    script = FIO.format(tag="backup", depth=64, jobs=8, seconds=THRASH_SECONDS)
    _ok(guest, f"printf '#!/bin/sh\\nexec {script}\\n' > /usr/local/sbin/nightly-backup")
    _ok(guest, "chmod 755 /usr/local/sbin/nightly-backup")
    # The next minute at least 15 s away on the guest's own clock.
    minute, hour = _ok(guest, "date -d '+75 seconds' '+%M %H'").split()
    entry = f"{int(minute)} {int(hour)} * * * root /usr/local/sbin/nightly-backup"
    _ok(guest, f"echo '{entry}' > /etc/cron.d/nightly-backup")
    since = guest.files.console.stat().st_size
    started = time.monotonic()
    oopses: list[Oops] = []
    while not oopses and time.monotonic() - started < CRON_WAIT:
        time.sleep(2)
        oopses = _console_oopses(guest, since)
    assert oopses, (
        f"no oops on the console {CRON_WAIT:.0f} s after scheduling the backup: {guest.console_tail()}"
    )
    steps.record(f"backup scheduled for {hour}:{minute} to oops", started)
    first = oopses[0]
    assert first.implicated_module == "fxhba" and first.rip_module == "fxhba"
    assert first.rip.startswith("fxhba_")
    assert any(m.name == "fxhba" and m.markers == "OE" for m in first.modules_linked_in)
    assert first.comm == "fio"
    started = time.monotonic()
    guest.wait_for_ssh(RETURN_WAIT)
    steps.record("panic to ssh again (reboot)", started)
    assert _boot_id(guest) != boot
    assert _ok(guest, "cat /sys/module/fxhba/version") == "1.0.0"  # the bad build loads again at boot


def test_fxhba_1_0_1_survives_the_same_thrash(guest: Vm, steps: Steps) -> None:
    started = time.monotonic()
    upgrade = "apt-get install -y -q fxhba-driver=1.0.1-1 && modprobe -r fxhba && modprobe fxhba"
    _ok(guest, upgrade, timeout=600)
    steps.record("upgrade to 1.0.1 from the guest's repository, reload", started)
    assert _ok(guest, "cat /sys/module/fxhba/version") == "1.0.1"
    boot = _boot_id(guest)
    since = guest.files.console.stat().st_size
    started = time.monotonic()
    _ok(
        guest, FIO.format(tag="fixed", depth=64, jobs=8, seconds=THRASH_SECONDS), timeout=THRASH_SECONDS + 300
    )
    steps.record(f"fio thrash on 1.0.1 ({THRASH_SECONDS} s)", started)
    assert _boot_id(guest) == boot
    assert _console_oopses(guest, since) == []
    job = json.loads(_ok(guest, "cat /root/fio-fixed.json"))["jobs"][0]
    assert job["error"] == 0 and job["read"]["io_bytes"] > 0
    steps.say(f"1.0.1 under the thrash: {job['read']['iops']:.0f} IOPS, no oops, same boot")

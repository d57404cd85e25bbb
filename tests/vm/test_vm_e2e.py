"""The seed incident end to end on a real kernel: a QEMU guest whose fxhba 1.0.0 races under a deep queue.

In order, each step printing its time: image build and cached rebuild, boot to ssh; ``fleetfix audit``
flags fxhba 1.0.0 and shows crash capture as it is; fio at queue depth 1 survives; ``fleetfix capture
enable --reboot`` sets up kdump, netconsole to ``fleetfix listen`` and pstore on the ramoops region the guest
boots with; the nightly "backup" cron job's fio thrash panics the guest for real, the receiver, kdump and
ramoops all get the oops, the guest reboots and systemd-pstore archives the record; ``fleetfix collect`` and
``fleetfix triage`` find one crash in the three sources and pin it on fxhba and on the backup job; ``fleetfix
remediate`` upgrades to 1.0.1 from the guest's apt repository and its soak (the same thrash, as long) passes.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from fleetfix.lab.vm import image, rootfs
from fleetfix.lab.vm.machine import Vm
from fleetfix.triage.cascade import FATAL, fold_cascades
from fleetfix.triage.oops.find_all import Oops, parse_oopses
from tests.support.vm import LAB_ADVISORIES, Steps, boot_id, fleetfix, fleetfix_process, ok, running

pytestmark = pytest.mark.vm

THRASH_SECONDS = 60  # the race must fire within this; 1.0.1 must survive as long
BACKUP_JOB = "/usr/local/sbin/nightly-backup"  # the "nightly backup": a cron job running the seed's thrash
FIO = (
    "fio --name={tag} --filename=/dev/fxhba0 --rw=randread --bs=4k --iodepth={depth} --numjobs={jobs} "
    "--direct=1 --ioengine=libaio --time_based --runtime={seconds} --group_reporting "
    "--output-format=json --output=/root/fio-{tag}.json"
)
CRON_WAIT = 300.0  # the backup's minute comes (75-135 s), fio starts under TCG, then the race fires
RETURN_WAIT = 900.0  # panic to ssh again: kdump's capture boot and dump, or kernel.panic's 10 s, then a boot
# The operator's ramoops region: 1 MiB of the guest's 2 GiB kept from the kernel by memmap= on the command
# line it boots with (a direct boot: QEMU's -append), and the same region in the inventory, so
# `capture enable` sets up the rest (systemd-pstore, ramoops loaded, the capture kernel kept off the region).
RAMOOPS = {
    "crash_capture_ramoops_mem_address": "0x7f000000",
    "crash_capture_ramoops_mem_size": "0x100000",
    "crash_capture_ramoops_record_size": "0x10000",
    "crash_capture_ramoops_console_size": "0x10000",
}
RAMOOPS_ARGS = (
    "memmap=0x100000$0x7f000000",
    "ramoops.mem_address=0x7f000000",
    "ramoops.mem_size=0x100000",
    "ramoops.record_size=0x10000",
    "ramoops.console_size=0x10000",
    "crash_kexec_post_notifiers=1",
)


@pytest.fixture(scope="module")
def built(built: image.ImageFiles, steps: Steps) -> image.ImageFiles:
    """The image, and a second build with the same recipe returning the cached one at once."""
    started = time.monotonic()
    again = image.build(steps.say)
    steps.record("image build again (cached)", started)
    assert again == built
    assert image.manifest(again) == image.manifest(built)
    return built


@pytest.fixture(scope="module")
def guest(built: image.ImageFiles, steps: Steps, state_dir: Path) -> Iterator[Vm]:
    with running(Vm("e2e", RAMOOPS_ARGS), steps, "boot to ssh") as vm:
        yield vm


@pytest.fixture(scope="module")
def inventory(guest: Vm, state_dir: Path) -> Path:
    path = state_dir / "inventory.yml"
    document = guest.inventory()
    document["all"]["vars"] |= RAMOOPS
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def receiver(state_dir: Path) -> Iterator[tuple[int, Path]]:
    """``fleetfix listen`` on a free loopback UDP port: the guest reaches it as 10.0.2.2."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    directory = state_dir / "netconsole"
    argv = ["listen", "--bind", "127.0.0.1", "--port", str(port), "--dir", str(directory)]
    log = (state_dir / "listen.log").open("w")
    listener = fleetfix_process(*argv, log=log)
    try:
        yield port, directory
    finally:
        listener.send_signal(signal.SIGINT)
        try:
            listener.wait(timeout=30)
        except subprocess.TimeoutExpired:
            listener.kill()
            listener.wait()
        log.close()


def _console_oopses(vm: Vm, since: int) -> list[Oops]:
    return parse_oopses(vm.files.console.read_bytes()[since:])


def _fatal_crashes(log: str | bytes) -> list[Oops]:
    """The crashes of a log that an oops, BUG or panic opened: one per panic, whatever WARNINGs the race
    logged before it (they fold into it)."""
    return [crash for crash in fold_cascades(parse_oopses(log)) if crash.kind in FATAL]


def test_audit_flags_fxhba_and_the_real_capture_state(guest: Vm, inventory: Path, steps: Steps) -> None:
    started = time.monotonic()
    done = fleetfix("audit", "-i", str(inventory), "--advisories", str(LAB_ADVISORIES), "--format", "json")
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
    boot = boot_id(guest)
    since = guest.files.console.stat().st_size
    started = time.monotonic()
    ok(guest, FIO.format(tag="qd1", depth=1, jobs=1, seconds=30), timeout=300)
    steps.record("fio randread at queue depth 1 on 1.0.0 (30 s)", started)
    assert boot_id(guest) == boot
    assert _console_oopses(guest, since) == []
    assert json.loads(ok(guest, "cat /root/fio-qd1.json"))["jobs"][0]["error"] == 0


def test_capture_enable_sets_up_kdump_and_netconsole(
    guest: Vm, inventory: Path, receiver: tuple[int, Path], steps: Steps
) -> None:
    port, _ = receiver
    started = time.monotonic()
    done = fleetfix(
        "capture", "enable", "-i", str(inventory), "--log-host", rootfs.HOST_FROM_GUEST,
        "--log-port", str(port), "--reboot", "--format", "json",
    )  # fmt: skip
    steps.record("fleetfix capture enable --reboot", started)
    assert done.returncode == 0, done.stderr
    host = json.loads(done.stdout)["hosts"][0]
    assert host["status"] in ("changed", "ok"), host
    steps.say(f"capture: changed {host['changed']}, reboot needed: {host['reboot_needed']}")
    assert ok(guest, "cat /sys/kernel/kexec_crash_loaded") == "1"
    assert ok(guest, "cat /sys/kernel/config/netconsole/*/enabled").split() == ["1"]
    assert ok(guest, "cat /sys/kernel/config/netconsole/*/remote_ip") == rootfs.HOST_FROM_GUEST
    # pstore: ramoops loaded on the region the guest booted with, systemd-pstore enabled, and the capture
    # kernel's command line without the region (kdump-config reloaded with it).
    assert "ramoops" in host["changed"], host
    assert ok(guest, "cat /sys/module/ramoops/parameters/mem_address") == str(0x7F000000)
    assert ok(guest, "systemctl is-enabled systemd-pstore.service") == "enabled"
    capture_cmdline = ok(guest, '. /etc/default/kdump-tools && printf %s "$KDUMP_CMDLINE"')
    assert capture_cmdline.startswith("root=/dev/vda1 rw console=ttyS0"), capture_cmdline
    names = {arg.split("=")[0] for arg in capture_cmdline.split()}
    assert not names & {arg.split("=")[0] for arg in RAMOOPS_ARGS}, capture_cmdline


def test_backup_cron_thrash_panics_and_both_captures_get_the_oops(
    guest: Vm, receiver: tuple[int, Path], steps: Steps
) -> None:
    _, received = receiver
    assert ok(guest, "cat /sys/module/fxhba/version") == "1.0.0"
    boot = boot_id(guest)
    script = FIO.format(tag="backup", depth=64, jobs=8, seconds=THRASH_SECONDS)
    ok(guest, f"printf '#!/bin/sh\\nexec {script}\\n' > {BACKUP_JOB} && chmod 755 {BACKUP_JOB}")
    # The next minute at least 15 s away on the guest's own clock.
    minute, hour = ok(guest, "date -d '+75 seconds' '+%M %H'").split()
    entry = f"{int(minute)} {int(hour)} * * * root {BACKUP_JOB}"
    # On disk before the crash, as a long-standing job is: the reboot must not lose it.
    ok(guest, f"echo '{entry}' > /etc/cron.d/nightly-backup && sync")
    since = guest.files.console.stat().st_size
    started = time.monotonic()
    # The race may log WARNINGs (refcount_t underflow, blk_mq_free_request) before its oops, or not: wait for
    # the report that kills the guest.
    fatal: list[Oops] = []
    while not fatal and time.monotonic() - started < CRON_WAIT:
        time.sleep(2)
        fatal = _fatal_crashes(guest.files.console.read_bytes()[since:])
    assert fatal, (
        f"no oops on the console {CRON_WAIT:.0f} s after scheduling the backup: {guest.console_tail()}"
    )
    steps.record(f"backup scheduled at {hour}:{minute}, to the oops", started)
    started = time.monotonic()
    guest.wait_for_ssh(RETURN_WAIT)
    steps.record("panic, kdump, reboot, to ssh again", started)
    assert boot_id(guest) != boot
    # One cascade for the one panic, on the driver whichever report of the race named it.
    [crash] = _fatal_crashes(guest.files.console.read_bytes()[since:])
    assert crash.implicated_module == "fxhba"
    assert any(m.name == "fxhba" and m.markers == "OE" for m in crash.modules_linked_in)
    assert ok(guest, "cat /sys/module/fxhba/version") == "1.0.0"  # the bad build loads again at boot
    # kdump came back with the boot: kdump-tools reloads the capture kernel.
    waited = ok(
        guest,
        "for i in $(seq 120); do grep -q 1 /sys/kernel/kexec_crash_loaded && break; sleep 1; done; echo $i",
    )
    assert ok(guest, "cat /sys/kernel/kexec_crash_loaded") == "1", (
        f"capture kernel not loaded after {waited} s"
    )
    dumps = ok(guest, "ls /var/crash/*/dmesg.*").split()
    assert len(dumps) == 1
    assert [c.implicated_module for c in _fatal_crashes(ok(guest, f"cat {dumps[0]}"))] == ["fxhba"]
    netconsole = [_fatal_crashes(path.read_bytes()) for path in received.glob("*.log")]
    assert "fxhba" in [c.implicated_module for found in netconsole for c in found]  # UDP may lose a line
    # ramoops kept the oops (and the panic, dumped before kexec) across the warm reboot; systemd-pstore moved
    # the records out of /sys/fs/pstore at boot (systemd 252 also joins them into a dmesg.txt beside them).
    records = ok(guest, "ls /var/lib/systemd/pstore").split()
    steps.say(f"pstore records archived: {records}")
    ramoops = [r for r in records if r.startswith("dmesg-ramoops-")]
    assert ramoops, records
    pstore = [_fatal_crashes(ok(guest, f"cat /var/lib/systemd/pstore/{r}")) for r in ramoops]
    assert "fxhba" in [c.implicated_module for found in pstore for c in found]


def test_netconsole_comes_back_after_the_reboot(guest: Vm) -> None:
    """The role's unit loads netconsole once udev has named the NIC (modules-load.d would be too early)."""
    assert guest.run("systemctl is-active fleetfix-netconsole.service").stdout.strip() == "active"
    assert guest.run("cat /sys/module/netconsole/initstate").stdout.strip() == "live"
    assert "netconsole: network logging started" in ok(guest, "dmesg")


def test_collect_and_triage_pin_the_crash_on_fxhba_and_the_backup(
    inventory: Path, receiver: tuple[int, Path], state_dir: Path, steps: Steps
) -> None:
    _, received = receiver
    store = state_dir / "crashes"
    started = time.monotonic()
    collected = fleetfix(
        "collect",
        "-i",
        str(inventory),
        "--netconsole",
        str(received),
        "--store",
        str(store),
        "--format",
        "json",
    )
    steps.record("fleetfix collect", started)
    assert collected.returncode == 0, collected.stderr
    host = json.loads(collected.stdout)["hosts"][0]
    assert host["status"] == "ok" and host["fetched"] >= 1
    assert host["pstore_fetched"] >= 1, host
    started = time.monotonic()
    triaged = fleetfix(
        "triage", "--store", str(store), "--advisories", str(LAB_ADVISORIES), "--format", "json",
        "--run-length", f"{BACKUP_JOB}={THRASH_SECONDS * 2}s",
    )  # fmt: skip
    steps.record("fleetfix triage", started)
    assert triaged.returncode == 1, triaged.stderr  # crashes found
    report = json.loads(triaged.stdout)
    # kdump's dmesg and the netconsole log are one crash, and the race's WARNINGs just before the oops are
    # part of it; a WARNING long before it could stand alone, so only the fatal crashes are counted.
    fatal = [i for i, crash in enumerate(report["crashes"]) if crash["kind"] in FATAL]
    assert len(fatal) == 1, [c["first_line"] for c in report["crashes"]]
    # one crash, told by the three sources
    sources = report["crashes"][fatal[0]]["sources"]
    kinds = {Path(s).relative_to(store).parts[0 if "/netconsole/" in s else 1] for s in sources}
    assert kinds == {"crash", "netconsole", "pstore"}, sources
    [group] = [g for g in report["groups"] if fatal[0] in g["crashes"]]
    assert group["module"] == "fxhba"
    assert [a["id"] for a in group["advisories"]] == ["fxhba-slot-claim-race"]
    correlations = {c["job"]: c for c in group["correlations"]}
    backup = correlations[BACKUP_JOB]
    steps.say(f"triage: {backup['sentence']}")
    assert backup["hits"] == 1 and all(run["inside"] for run in backup["runs"])
    assert min(correlations.values(), key=lambda c: c["p_value"]) is backup


def test_remediate_upgrades_to_1_0_1_and_the_same_thrash_passes(
    guest: Vm, inventory: Path, steps: Steps
) -> None:
    boot = boot_id(guest)
    since = guest.files.console.stat().st_size
    started = time.monotonic()
    # The baseline is the same thrash, as long, on 1.0.0: the race fires under it, as it did under the cron
    # job. That is the bug reproduced on the old build, not a failed host: the guest reboots, the upgrade
    # waits for it, and 1.0.1's soak is judged on faults alone (the baseline left no figures to compare to).
    done = fleetfix(
        "remediate", "--module", "fxhba", "--yes", "-i", str(inventory), "--advisories", str(LAB_ADVISORIES),
        "--soak-runtime", str(THRASH_SECONDS), "--baseline-runtime", str(THRASH_SECONDS),
        "--profile", "thrash", "--format", "json",
    )  # fmt: skip
    steps.record(
        f"fleetfix remediate ({THRASH_SECONDS} s thrash baseline panics 1.0.0, upgrade, reload, verify, "
        f"{THRASH_SECONDS} s thrash soak)",
        started,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["plan"]["target"] == "1.0.1"
    host = report["hosts"][0]
    assert host["status"] == "done", host
    baseline = next(s["detail"] for s in host["steps"] if s["step"] == "baseline")
    assert host["baseline"]["outcome"] == "reproduced", host["baseline"]
    assert baseline["boot_id_before"] == boot != baseline["boot_id_after"]
    assert "the bug reproduced on the old build" in host["outcome"]
    steps.say(f"baseline on 1.0.0: {host['baseline']['note']}")
    soak = host["soak"]
    assert soak["status"] == "passed" and soak["boot_id_before"] == soak["boot_id_after"]
    assert soak["boot_id_before"] == baseline["boot_id_after"]  # no reboot after the baseline's
    assert soak["limits"]["unjudged"] == "the baseline reproduced the fault on the old build"
    assert soak["fio"]["totals"]["failed_jobs"] == 0 and soak["fio"]["totals"]["total_ios"] > 0
    steps.say(f"1.0.1 under the thrash: {soak['fio']['totals']['iops']:.0f} IOPS, no oops, same boot")
    assert ok(guest, "cat /sys/module/fxhba/version") == "1.0.1"
    assert ok(guest, "dpkg-query -W -f='${Version}' fxhba-driver") == "1.0.1-1"
    assert boot_id(guest) == baseline["boot_id_after"]
    # The console holds the baseline's crash on 1.0.0 and nothing after it.
    crashes = _fatal_crashes(guest.files.console.read_bytes()[since:])
    assert [c.implicated_module for c in crashes] == ["fxhba"], [c.first_line for c in crashes]

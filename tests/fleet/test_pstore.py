"""pstore on Debian and EL lab hosts: readiness before and after `capture enable` gives a ramoops region (with
the serial console, through the grub drop-in or grubby), the mpt3sas panic's record archived by
systemd-pstore at the next boot, `collect` fetching it and `triage` finding one crash seen by kdump,
netconsole and pstore."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from fleetfix.lab import Lab
from fleetfix.listen.receiver import Listener
from tests.fleet.test_capture import boot_ids_of, enable, fleetfix, status, wait_for_new_boot
from tests.support.lab_hosts import wait_up

pytestmark = pytest.mark.fleet

BACKUP = "/usr/local/sbin/nightly-backup"
RAMOOPS = {
    "crash_capture_ramoops_mem_address": "0x7f000000",
    "crash_capture_ramoops_mem_size": "0x100000",
    "crash_capture_ramoops_record_size": 16384,
    "crash_capture_ramoops_console_size": 16384,
    "crash_capture_serial_console_port": "ttyS0",
}
ARGS = (
    "memmap=0x100000$0x7f000000 ramoops.mem_address=0x7f000000 ramoops.mem_size=0x100000 "
    "ramoops.record_size=0x4000 ramoops.console_size=0x4000 crash_kexec_post_notifiers=1"
)


@pytest.fixture
def listening(make_lab, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Lab, str, Path]]:
    """One host of the mixed fleet (bad mpt3sas build, kdump and netconsole) and `fleetfix listen`'s receiver
    on the controller address its netconsole sends to."""
    host = request.param
    lab = make_lab("mixed", hosts=[host])
    state = tmp_path / "state"
    listener = Listener(lab.controller_ip, 6666, state / "netconsole")
    thread = threading.Thread(target=listener.serve_forever)
    thread.start()
    try:
        yield lab, host, state
    finally:
        listener.stop()
        thread.join(timeout=10)


@pytest.mark.parametrize("listening", ["db01", "rdb01"], indirect=True)  # Debian 12, Rocky Linux 9
def test_ramoops_from_enable_to_one_crash_of_three_sources(listening: tuple[Lab, str, Path]) -> None:
    lab, host, state = listening
    before = status(lab, state)[1][host]["pstore"]
    assert before["usable"] is False and "no pstore backend registered" in before["detail"], before

    document = yaml.safe_load(lab.inventory_path.read_text())
    document["all"]["vars"] |= RAMOOPS | {"crash_capture_ramoops_record_size": 12288}
    lab.inventory_path.write_text(yaml.safe_dump(document))
    refused = fleetfix(
        state, "capture", "enable", "-i", str(lab.inventory_path), "--log-host", lab.controller_ip
    )
    assert refused.returncode != 0 and "invalid ramoops region" in refused.stdout + refused.stderr

    document["all"]["vars"] |= RAMOOPS
    lab.inventory_path.write_text(yaml.safe_dump(document))
    _, enabled = enable(lab, state)
    assert {"ramoops", "serial console"} <= set(enabled[host]["changed"]), enabled[host]
    el = host.startswith("r")
    loader = lab.ssh(host, "grubby --info=ALL" if el else "cat /boot/grub/grub.cfg").stdout
    assert ARGS.replace("$", "\\$") in loader  # escaped for GRUB's parser
    assert "console=tty0 console=ttyS0,115200n8" in loader  # grubby keeps both console= arguments
    assert "ramoops" not in enable(lab, state)[1][host]["changed"]  # idempotent

    boot_id = boot_ids_of(lab, host)
    lab.ssh(host, "reboot")
    wait_for_new_boot(lab, host, boot_id)
    assert ARGS in lab.ssh(host, "cat /proc/cmdline").stdout
    assert lab.ssh(host, "cat /sys/class/tty/console/active").stdout.split() == ["tty0", "ttyS0"]
    # The capture kernel keeps off the region: Debian's kdump-config gets /proc/cmdline less the ramoops
    # arguments, EL's kdumpctl removes the names KDUMP_COMMANDLINE_REMOVE lists.
    if el:
        removed = lab.ssh(host, "sed -n 's/^KDUMP_COMMANDLINE_REMOVE=//p' /etc/sysconfig/kdump").stdout
        assert {arg.split("=")[0] for arg in ARGS.split()} <= set(removed.strip().strip('"').split()), removed
        assert "hugepages" in removed.split('"')[1].split()  # the package's own names stay
    else:
        capture = lab.ssh(host, '. /etc/default/kdump-tools && printf %s "$KDUMP_CMDLINE"').stdout
        assert "console=ttyS0,115200n8" in capture and "ramoops" not in capture and "memmap" not in capture
    after = status(lab, state)[1][host]
    assert after["pstore"]["usable"] is True and after["pstore"]["backend"] == "ramoops", after["pstore"]
    assert after["serial_console"]["present"] is True

    panicked = lab.ssh(host, f"BACKUP_VERIFY_SECONDS=60 {BACKUP}", timeout=120)
    assert panicked.returncode == 255  # the connection died with the host
    wait_up(lab, host)
    archived = lab.ssh(host, "ls /var/lib/systemd/pstore").stdout.split()
    assert archived == ["dmesg-ramoops-0"]  # moved there by systemd-pstore at the next boot

    collected = fleetfix(state, "collect", "-i", str(lab.inventory_path), "--format", "json")
    assert collected.returncode == 0, collected.stderr
    [mine] = [h for h in json.loads(collected.stdout)["hosts"] if h["host"] == host]
    assert (mine["pstore_fetched"], mine["pstore_files"]) == (1, 1), mine
    record = state / "crashes" / host / "pstore" / "archive" / "dmesg-ramoops-0"
    assert record.read_text().startswith("Panic#1 Part1\n")

    triaged = fleetfix(state, "triage", "--format", "json")
    assert triaged.returncode == 1, triaged.stderr  # crashes found
    crashes = [c for c in json.loads(triaged.stdout)["crashes"] if c["host"] == host]
    newest = max(crashes, key=lambda c: c["time"] or "")
    kinds = {
        Path(s).relative_to(state / "crashes").parts[0 if "/netconsole/" in s else 1]
        for s in newest["sources"]
    }
    assert kinds == {"crash", "netconsole", "pstore"}, newest["sources"]
    assert newest["implicated_module"] == "mpt3sas"
    assert sum(1 for c in crashes if str(record) in c["sources"]) == 1

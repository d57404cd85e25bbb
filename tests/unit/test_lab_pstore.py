"""The lab's ramoops: the region a command line reserves, and the record a panic leaves in it."""

from __future__ import annotations

from pathlib import Path

from fleetfix.lab import oopstext, panic
from fleetfix.lab.guest import pstore
from fleetfix.triage.cascade import fold_cascades
from fleetfix.triage.oops.find_all import parse_oopses
from fleetfix.triage.pstore import read_record

ARGS = (
    "root=UUID=1 ro memmap=0x100000\\$0x7f000000 ramoops.mem_address=0x7f000000 ramoops.mem_size=0x100000 "
    "ramoops.record_size=0x1000 ramoops.console_size=0x4000 crash_kexec_post_notifiers=1"
)


def test_a_reserved_region_registers_ramoops() -> None:
    booted = ARGS.replace("\\$", "$")  # what GRUB hands the kernel
    assert pstore.ramoops_region(booted) == (0x7F000000, 0x100000, 0x1000)
    assert pstore.sys_files(booted)["module/pstore/parameters/backend"] == "ramoops\n"
    assert pstore.post_notifiers(booted)
    unreserved = booted.replace("memmap=0x100000$0x7f000000", "")
    assert pstore.ramoops_region(unreserved) is None
    elsewhere = booted.replace("memmap=0x100000$0x7f000000", "memmap=1M$0x10000000")
    assert pstore.ramoops_region(elsewhere) is None
    # one memmap= listing several regions, as the kernel splits it on commas (crash_capture on EL)
    joined = booted.replace("memmap=0x100000$0x7f000000", "memmap=64M$0x100000000,0x100000$0x7f000000")
    assert pstore.ramoops_region(joined) == (0x7F000000, 0x100000, 0x1000)
    assert pstore.sys_files("ro quiet") == {
        "module/pstore/parameters/backend": "(null)\n",
        "module/kernel/parameters/crash_kexec_post_notifiers": "N\n",
    }


def host_root(tmp_path: Path, args: str, kdump_loaded: bool) -> Path:
    root = tmp_path / "root"
    (root / "proc").mkdir(parents=True, exist_ok=True)
    (root / "proc/cmdline").write_text(f"BOOT_IMAGE=/vmlinuz {args}\n")
    (root / "sys/kernel").mkdir(parents=True, exist_ok=True)
    (root / "sys/kernel/kexec_crash_loaded").write_text("1\n" if kdump_loaded else "0\n")
    return root


# the lab's own oops text for the seed's mpt3sas fault, after a long log: more than one record holds
LINES = [f"[  100.{i:06d}] sd 0:0:{i}:0: [sd{i}] Attached SCSI disk" for i in range(200)] + oopstext.render(
    oopstext.OopsContext(
        module="mpt3sas",
        kind="null_deref",
        release="6.1.0-18-amd64",
        kernel_version="#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)",
        tainted=4096,
        loaded=(("mpt3sas", "OE"), ("raid_class", "")),
        comm="fio",
        pid=4242,
        uptime=101.0,
        kdump_loaded=True,
    ),
    seed=4242,
)


def test_a_panic_leaves_the_newest_lines_of_one_record(tmp_path: Path) -> None:
    root = host_root(tmp_path, ARGS.replace("\\$", "$"), kdump_loaded=True)
    record = panic.save_pstore(root, tmp_path / "memory", LINES, 1764943377.0)
    assert record is not None and record.name == "dmesg-ramoops-0"
    assert record.stat().st_mtime == 1764943377.0
    data = record.read_bytes()
    assert len(data) <= 0x1000 and data.startswith(b"Panic#1 Part1\n<4>[  100.")
    parsed = read_record(record.name, data, "live")
    assert parsed is not None and (parsed.reason, parsed.part) == ("Panic", 1)
    [crash] = fold_cascades(parse_oopses(parsed.body))
    [whole] = fold_cascades(parse_oopses("\n".join(LINES)))
    assert (crash.implicated_module, crash.rip, crash.timestamp) == ("mpt3sas", whole.rip, whole.timestamp)


def test_kdump_takes_the_panic_first_without_post_notifiers(tmp_path: Path) -> None:
    args = ARGS.replace("\\$", "$").replace(" crash_kexec_post_notifiers=1", "")
    assert panic.save_pstore(host_root(tmp_path, args, kdump_loaded=True), tmp_path / "m", LINES, 0.0) is None
    assert panic.save_pstore(host_root(tmp_path, args, kdump_loaded=False), tmp_path / "m", LINES, 0.0)
    assert (
        panic.save_pstore(host_root(tmp_path, "ro", kdump_loaded=False), tmp_path / "n", LINES, 0.0) is None
    )

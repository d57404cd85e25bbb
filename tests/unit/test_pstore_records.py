"""pstore records read and joined into dumps, on real records (tests/data/pstore/README.md: sources and the
answers read from them before the parser ran)."""

from __future__ import annotations

import zlib
from datetime import UTC, datetime
from pathlib import Path

from fleetfix.triage.cascade import fold_cascades
from fleetfix.triage.oops.find_all import parse_oopses
from fleetfix.triage.pstore import Dump, assemble, parse_name, read_record, strip_headers
from tests.support import REPO

DATA = REPO / "tests" / "data" / "pstore"


def dumps_of(directory: str) -> list[Dump]:
    records = []
    for path in sorted((DATA / directory).rglob("*")):
        if path.is_file():
            record = read_record(path.name, path.read_bytes(), str(path.parent.relative_to(DATA)))
            assert record is not None, path
            records.append(record)
    return assemble(records)


def test_record_names() -> None:
    efi = parse_name("dmesg-efi-167442547011001")
    assert efi is not None and (efi.kind, efi.backend, efi.efi_seconds) == ("dmesg", "efi", 1674425470)
    new_efi = parse_name("dmesg-efi_pstore-172172172102001")
    assert new_efi is not None and (new_efi.backend, new_efi.efi_seconds) == ("efi_pstore", 1721721721)
    ramoops = parse_name("dmesg-ramoops-0.enc.z")
    assert ramoops is not None and (ramoops.backend, ramoops.id, ramoops.compressed) == ("ramoops", 0, True)
    blk = parse_name("console-pstore-blk-0")
    assert blk is not None and (blk.kind, blk.backend) == ("console", "pstore-blk")
    erst = parse_name("dmesg-erst-6953966727021461507")
    assert erst is not None and erst.efi_seconds is None
    assert parse_name("dmesg.txt") is None
    assert parse_name("jobs.json") is None


def test_eleven_efi_parts_join_oldest_first() -> None:
    [dump] = dumps_of("efi-ath11k")
    assert (dump.backend, dump.reason, dump.number, dump.missing_parts) == ("efi", "Panic", 1, ())
    assert [r.part for r in dump.records] == list(range(11, 0, -1))
    assert dump.written == datetime(2023, 1, 22, 22, 11, 10, tzinfo=UTC)
    lines = dump.text.decode().splitlines()
    assert lines[0].endswith("AMD-Vi: Virtual APIC enabled")
    assert lines[-1].startswith("<0>[  105.481062][    C2] Kernel Offset: 0x2fa00000")
    assert not any("Part" in line and "#" in line for line in lines)
    [crash] = fold_cascades(parse_oopses(dump.text))
    assert crash.kind == "panic"
    assert crash.first_line == "Kernel panic - not syncing: ath11k_pci 0000:01:00.0: unrecoverable failure"
    assert (crash.timestamp, crash.cpu, crash.pid, crash.comm) == (105.480845, 2, 0, "swapper/2")
    assert crash.kernel == "6.1.7-lp153.3.g2ebd33f-default"
    assert crash.taint == ()
    functions = [f.function for f in crash.call_trace if f.reliable]
    assert functions[:4] == ["dump_stack_lvl", "panic", "dpm_watchdog_handler", "call_timer_fn"]


def test_a_missing_part_is_said() -> None:
    records = []
    for path in sorted((DATA / "efi-ath11k").rglob("dmesg-efi-*")):
        if not path.name.endswith("04001"):
            records.append(read_record(path.name, path.read_bytes(), "archive"))
    [dump] = assemble(r for r in records if r is not None)
    assert dump.missing_parts == (4,)


def test_two_erst_dumps_of_one_crash() -> None:
    oops, panic = dumps_of("erst-md")
    assert (oops.reason, oops.number, panic.reason, panic.number) == ("Oops", 1, "Panic", 2)
    assert oops.written is None  # erst ids carry no time: the caller passes the file's time
    assert list(fold_cascades(parse_oopses(oops.text))) == []  # only trace frames: the report's head fell off
    [crash] = fold_cascades(parse_oopses(panic.text))
    assert crash.first_line == "Kernel panic - not syncing: Fatal exception in interrupt"
    assert crash.timestamp == 148180.683393


def test_a_ramoops_record_and_its_compressed_form() -> None:
    [plain] = dumps_of("ramoops-rpi")
    [packed] = dumps_of("ramoops-compressed")
    assert plain.text == packed.text and packed.problems == ()
    assert (packed.reason, packed.number, packed.records[0].part) == ("Panic", 1, 1)
    [crash] = fold_cascades(parse_oopses(packed.text))
    assert crash.first_line == "Kernel panic - not syncing: sysrq triggered crash"
    assert (crash.timestamp, crash.cpu, crash.pid, crash.comm) == (5495.990953, 1, 1538, "sh")
    assert (crash.kernel, crash.taint) == ("6.6.63-v8", ("B",))
    assert [f.function for f in crash.call_trace] == [
        "sysrq_handle_crash",
        "__handle_sysrq",
        "write_sysrq_trigger",
    ]


def test_zlib_and_gzip_inflate_and_anything_else_is_said(tmp_path: Path) -> None:
    body = (DATA / "ramoops-rpi" / "dmesg-ramoops-0").read_bytes()
    modified = datetime(2026, 10, 6, 2, 55, tzinfo=UTC)
    wrapped = read_record("dmesg-ramoops-1.enc.z", zlib.compress(body), "live", modified)
    assert wrapped is not None and wrapped.reason == "Panic" and wrapped.written == modified
    lz4ish = read_record("dmesg-ramoops-2.enc.z", b"\x04\x22\x4d\x18garbage", "live", modified)
    assert lz4ish is not None and lz4ish.body == b"" and "not read" in (lz4ish.problem or "")
    [dump] = assemble([lz4ish])
    assert dump.problems == ("dmesg-ramoops-2.enc.z: " + (lz4ish.problem or ""),)


def test_ramoops_records_are_dumps_of_their_own() -> None:
    first = read_record("dmesg-ramoops-0", b"Oops#1 Part1\nfirst\n", "live")
    second = read_record("dmesg-ramoops-1", b"Panic#2 Part1\nsecond\n", "live")
    console = read_record("console-ramoops-0", b"[    0.000000] Booting Linux\n", "live")
    dumps = assemble([r for r in (first, second, console) if r is not None])
    assert sorted(d.text for d in dumps) == [b"[    0.000000] Booting Linux\n", b"first\n", b"second\n"]
    assert {d.reason for d in dumps} == {"Oops", "Panic", None}


def test_two_boots_of_panic_one_side_by_side_are_two_dumps() -> None:
    records = [
        read_record(name, text, "live")
        for name, text in (
            ("dmesg-erst-1", b"Panic#1 Part1\nboot a\n"),
            ("dmesg-erst-2", b"Panic#1 Part1\nboot b\n"),
        )
    ]
    assert sorted(d.text for d in assemble(r for r in records if r is not None)) == [b"boot a\n", b"boot b\n"]


def test_systemd_pstore_dmesg_txt_loses_its_headers() -> None:
    text = b"Panic#1 Part2\nolder\nPanic#1 Part1\nnewest\n"
    assert strip_headers(text) == b"older\nnewest\n"

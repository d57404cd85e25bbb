"""One crash per event across kdump's log, netconsole and pstore, on the real efi-pstore record of the ath11k
panic (tests/data/pstore/README.md): the kdump and netconsole copies carry the same kernel lines, as they do
when one crash reaches all three."""

from __future__ import annotations

import os
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

from fleetfix.state.crash_store import read_paths, read_pstore
from fleetfix.triage.pstore import assemble, read_record
from tests.support import REPO

RECORDS = REPO / "tests" / "data" / "pstore" / "efi-ath11k" / "1674425470" / "001"
PANIC = "Kernel panic - not syncing: ath11k_pci 0000:01:00.0: unrecoverable failure"


def kernel_log() -> str:
    """The dump's text as the kernel's log buffer holds it: what kdump's vmcore-dmesg and netconsole carry."""
    records = [read_record(p.name, p.read_bytes(), "archive") for p in sorted(RECORDS.iterdir())]
    [dump] = assemble(r for r in records if r is not None)
    return re.sub(r"(?m)^<\d>", "", dump.text.decode())


def with_pstore(host: Path, parts: list[Path] | None = None) -> None:
    archive = host / "pstore" / "archive" / "1674425470" / "001"
    archive.mkdir(parents=True)
    for part in parts if parts is not None else sorted(RECORDS.iterdir()):
        shutil.copy(part, archive / part.name)


def with_kdump(host: Path, stamp: str, text: str) -> None:
    (host / "crash" / stamp).mkdir(parents=True)
    (host / "crash" / stamp / f"dmesg.{stamp}").write_text(text)


def with_netconsole(store: Path, address: str, at: str, text: str) -> None:
    (store / "netconsole").mkdir(parents=True, exist_ok=True)
    lines = "".join(f"{at} {line}\n" for line in text.splitlines())
    (store / "netconsole" / f"{address}_6666.log").write_text(lines)


def test_one_crash_seen_three_ways_is_one_crash_with_three_sources(tmp_path: Path) -> None:
    store = tmp_path / "crashes"
    host = store / "t14s"
    with_pstore(host)
    with_kdump(host, "202301222212", kernel_log())
    with_netconsole(store, "10.0.0.5", "2023-01-22T22:11:10.400000+00:00", kernel_log())
    (host / "jobs.json").write_text('{"addresses": ["10.0.0.5"], "scheduled_jobs": []}')
    [crash] = read_paths([store]).crashes
    assert crash.host == "t14s" and crash.oops.first_line == PANIC
    assert crash.time_basis == "log prefix"  # the netconsole line's receive time is the best of the three
    assert crash.time == datetime(2023, 1, 22, 22, 11, 10, 400000, tzinfo=UTC)
    kinds = sorted(Path(s).relative_to(store).parts[0 if "netconsole" in s else 1] for s in crash.sources)
    assert kinds == ["crash", "netconsole", "pstore"]


def test_pstore_alone_times_the_crash_by_its_record(tmp_path: Path) -> None:
    host = tmp_path / "crashes" / "t14s"
    with_pstore(host)
    crashes, read = read_pstore(host / "pstore", "t14s")
    [crash] = crashes
    assert crash.time_basis == "pstore record"
    # written at the id's second; the panic line is 0.000217 s before the dump's last stamp
    assert crash.time == datetime(2023, 1, 22, 22, 11, 9, 999783, tzinfo=UTC)
    assert read.files == 11 and read.lines > 100
    assert crash.source.endswith("dmesg-efi-167442547011001")


def test_a_record_holding_only_the_panic_end_still_joins_the_whole_report(tmp_path: Path) -> None:
    store = tmp_path / "crashes"
    host = store / "t14s"
    with_pstore(host, [RECORDS / f"dmesg-efi-1674425470{n:02d}001" for n in (1, 2, 3)])
    with_kdump(host, "202301222212", kernel_log())
    [crash] = read_paths([store]).crashes
    assert len(crash.sources) == 2
    assert crash.time_basis == "pstore record"  # the record's second beats the dump directory's minute


def test_two_boots_crashing_at_the_same_uptime_stay_two(tmp_path: Path) -> None:
    store = tmp_path / "crashes"
    host = store / "t14s"
    with_pstore(host)
    with_kdump(host, "202301230900", kernel_log())  # the next morning: another boot, same uptime by chance
    assert len(read_paths([store]).crashes) == 2


def test_a_crash_of_another_boot_stays_apart(tmp_path: Path) -> None:
    store = tmp_path / "crashes"
    host = store / "t14s"
    with_pstore(host)
    later = re.sub(r"\[ *(\d+\.\d+)\]", lambda m: f"[{float(m.group(1)) + 50.0:12.6f}]", kernel_log())
    with_kdump(host, "202301222215", later)
    assert len(read_paths([store]).crashes) == 2


def test_live_records_and_a_reassembled_dmesg_txt(tmp_path: Path) -> None:
    pstore = tmp_path / "crashes" / "t14s" / "pstore"
    live = pstore / "live-1674425470"
    live.mkdir(parents=True)
    for part in sorted(RECORDS.iterdir()):
        shutil.copy(part, live / part.name)
    archived = pstore / "archive" / "1674425470" / "001"
    archived.mkdir(parents=True)
    text = b"".join((RECORDS / f"dmesg-efi-1674425470{n:02d}001").read_bytes() for n in range(11, 0, -1))
    (archived / "dmesg.txt").write_bytes(text)  # records removed, systemd-pstore's dmesg.txt kept
    os.utime(archived / "dmesg.txt", (1674425530, 1674425530))
    crashes, _ = read_pstore(pstore, "t14s")
    assert sorted(c.time_basis for c in crashes) == ["pstore file time", "pstore record"]
    assert read_paths([tmp_path / "crashes"]).crashes[0].oops.first_line == PANIC
    assert len(read_paths([tmp_path / "crashes"]).crashes) == 1

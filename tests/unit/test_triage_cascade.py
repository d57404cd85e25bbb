"""One crash per cascade, on real report text: a fault's WARNINGs before it and a dying kernel's reports
after it fold into the first fatal report."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fleetfix.state.crash_store import read_paths
from fleetfix.triage.cascade import fold_cascades
from fleetfix.triage.group import group_crashes
from fleetfix.triage.oops.find_all import parse_oopses
from tests.support import strip_provenance

DATA = Path(__file__).resolve().parents[1] / "data" / "oopses"
RECURSIVE = DATA / "18_ata_oops_recursive_fault_cascade.log"


def _real(corpus_dir: Path, name: str) -> str:
    return strip_provenance((corpus_dir / "oopses" / name).read_text())


def _at(text: str, start: float) -> str:
    """The report's own ``[seconds]`` stamps moved so its first stamp reads ``start``."""
    stamps = [float(s) for s in re.findall(r"\[ *(\d+\.\d+)\]", text)]
    shift = start - stamps[0]
    return re.sub(r"\[ *(\d+\.\d+)\]", lambda m: f"[{float(m.group(1)) + shift:12.6f}]", text)


def test_an_oops_then_a_recursive_fault_report_is_one_crash() -> None:
    """linux-ide, Jan 2025: oops in do_exit, "Fixing recursive fault", then a D-tainted BUG."""
    reports = parse_oopses(strip_provenance(RECURSIVE.read_text()))
    assert [r.kind for r in reports] == ["null_pointer_dereference", "bug"]
    [crash] = fold_cascades(reports)
    assert (crash.kind, crash.rip, crash.timestamp) == ("null_pointer_dereference", "do_exit", 80.519176)
    assert [(r.role, r.first_line) for r in crash.related] == [
        ("consequence", "BUG: scheduling while atomic: syz-executor/195/0x00000000")
    ]


def test_warnings_just_before_an_oops_are_its_precursors_and_name_its_module(corpus_dir: Path) -> None:
    """The race's shape: a refcount WARNING naming the driver, then an oops whose trace names no module."""
    warning = _at(_real(corpus_dir, "01_mpt3sas_refcount_uaf_warning.log"), 80.1)
    oops = strip_provenance(RECURSIVE.read_text())
    [crash] = fold_cascades(parse_oopses(warning + oops))
    assert crash.kind == "null_pointer_dereference" and crash.rip == "do_exit"
    assert crash.rip_module is None
    assert crash.implicated_module == "mpt3sas"  # from the precursor
    assert [r.role for r in crash.related] == ["precursor", "consequence"]
    assert crash.related[0].first_line == "refcount_t: underflow; use-after-free."


def test_the_primary_keeps_its_own_module_over_a_precursors(corpus_dir: Path) -> None:
    warning = _at(_real(corpus_dir, "01_mpt3sas_refcount_uaf_warning.log"), 489.0)
    oops = _real(corpus_dir, "03_lpfc_null_deref_probe.log")
    [crash] = fold_cascades(parse_oopses(warning + oops))
    assert (crash.kind, crash.implicated_module) == ("null_pointer_dereference", "lpfc")
    assert [r.implicated_module for r in crash.related] == ["mpt3sas"]


@pytest.mark.parametrize("gap", [60.0, -400.0])
def test_a_warning_long_before_or_in_an_earlier_boot_stands_alone(corpus_dir: Path, gap: float) -> None:
    oops = _real(corpus_dir, "03_lpfc_null_deref_probe.log")
    warning = _at(_real(corpus_dir, "01_mpt3sas_refcount_uaf_warning.log"), 490.0 - gap)
    crashes = list(fold_cascades(parse_oopses(warning + oops)))
    assert [c.kind for c in crashes] == ["warning", "null_pointer_dereference"]
    assert all(c.related == () for c in crashes)


def test_warnings_with_no_fatal_report_after_them_stay_apart(corpus_dir: Path) -> None:
    first = _at(_real(corpus_dir, "01_mpt3sas_refcount_uaf_warning.log"), 100.0)
    second = _at(_real(corpus_dir, "05_megaraid_sas_fortify_warning.log"), 101.0)
    crashes = list(fold_cascades(parse_oopses(first + second)))
    assert [(c.kind, c.implicated_module) for c in crashes] == [
        ("warning", "mpt3sas"),
        ("warning", "megaraid_sas"),
    ]


def test_a_panic_standing_apart_after_an_oops_is_its_consequence() -> None:
    text = (
        "[ 5.0] BUG: kernel NULL pointer dereference, address: 0000000000000008\n"
        "[ 5.1] RIP: 0010:pqi_process_io_intr+0x3a/0x1c0 [smartpqi]\n"
        "[ 5.2] Call Trace:\n"
        "[ 5.3]  pqi_irq_handler+0x57/0x130 [smartpqi]\n"
        "[ 5.4] ---[ end trace 0000000000000000 ]---\n"
        "[ 5.5] RIP: 0010:pqi_process_io_intr+0x3a/0x1c0 [smartpqi]\n"
        "[ 5.7] note: kworker/1:2[77] exited with irqs disabled\n"
        "[ 9.0] Kernel panic - not syncing: Fatal exception\n"
        "[ 9.1] Call Trace:\n"
        "[ 9.2]  panic+0x10a/0x2d0\n"
    )
    [crash] = fold_cascades(parse_oopses(text))
    assert (crash.implicated_module, crash.panic_message) == ("smartpqi", "Fatal exception")
    assert [(r.role, r.kind) for r in crash.related] == [("consequence", "panic")]


def test_a_store_read_counts_cascades_and_groups_them_across_hosts(tmp_path: Path, corpus_dir: Path) -> None:
    cascade = _at(_real(corpus_dir, "01_mpt3sas_refcount_uaf_warning.log"), 80.1) + strip_provenance(
        RECURSIVE.read_text()
    )
    for host in ("db1", "db2"):
        (tmp_path / f"{host}.log").write_text(cascade)
    found = read_paths([tmp_path / "db1.log", tmp_path / "db2.log"])
    assert len(found.crashes) == 2
    [group] = group_crashes(found.crashes)
    assert (group.module, group.kind, len(group.crashes), group.hosts) == (
        "mpt3sas",
        "null_pointer_dereference",
        2,
        ("db1", "db2"),
    )

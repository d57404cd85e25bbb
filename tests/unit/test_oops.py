"""Oops parsing against real traces: the shared corpus and the traces gathered under tests/data/oopses."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from fleetfix.lab import oopstext
from fleetfix.triage.cascade import fold_cascades
from fleetfix.triage.lines import split_prefix
from fleetfix.triage.oops import search as oops_find
from fleetfix.triage.oops.find_all import Oops, iter_oopses, parse_oopses, signature
from tests.support import strip_provenance

DATA = Path(__file__).resolve().parents[1] / "data" / "oopses"


def _strip_header(text: str) -> str:
    """Our own files: only the leading '#' block is provenance ('#49-Ubuntu' inside a trace is data)."""
    lines = text.splitlines()
    while lines and lines[0].startswith("#"):
        lines.pop(0)
    return "\n".join(lines) + "\n"


def _frame_text(oops: Oops, index: int) -> str:
    frame = oops.call_trace[index]
    offset = f"+{frame.offset}" if frame.offset else ""
    return f"{frame.function}{offset} [{frame.module}]"


def _modules(oops: Oops) -> dict[str, object]:
    def text(m):
        return f"{m.name}({m.markers})" if m.markers else m.name

    entries = oops.modules_linked_in
    return {
        "count": len(entries),
        "first": text(entries[0]) if entries else None,
        "last": text(entries[-1]) if entries else None,
        "marked": [text(m) for m in entries if m.markers],
    }


# How each expected.yaml key is read off a parsed report.
CHECKS = {
    "kind": lambda o: o.kind,
    "first_line": lambda o: o.first_line,
    "warning_site": lambda o: o.warning_site,
    "timestamp": lambda o: o.timestamp,
    "wallclock": lambda o: o.wallclock.isoformat(sep=" ") if o.wallclock else None,
    "oops_code": lambda o: o.oops_code,
    "panic_message": lambda o: o.panic_message,
    "rip": lambda o: o.rip,
    "rip_offset": lambda o: o.rip_offset,
    "rip_module": lambda o: o.rip_module,
    "implicated_module": lambda o: o.implicated_module,
    "workqueue": lambda o: o.workqueue,
    "call_trace_functions": lambda o: [f.function for f in o.call_trace],
    "call_trace_modules": lambda o: [f.module for f in o.call_trace],
    "call_trace_functions_reliable": lambda o: [f.function for f in o.call_trace if f.reliable],
    "call_trace_unreliable_count": lambda o: sum(not f.reliable for f in o.call_trace),
    "call_trace_first_module_frame": lambda o: next(
        _frame_text(o, i) for i, f in enumerate(o.call_trace) if f.module
    ),
    "taint": lambda o: list(o.taint),
    "taint_raw": lambda o: o.taint_raw,
    "kernel": lambda o: o.kernel,
    "cpu": lambda o: o.cpu,
    "pid": lambda o: o.pid,
    "comm": lambda o: o.comm,
    "kdump_loaded": lambda o: o.kdump_loaded,
    "last_unloaded": lambda o: o.last_unloaded,
    "signature": signature,
    "related": lambda o: [f"{r.role} {r.kind}" for r in o.related],
}
# Keys that describe the source rather than the parse result; everything else must have a check.
NOT_PARSED = {
    "first_log_timestamp",
    "end_trace",
    "fixed_by",
    "note",
    "modules_linked_in_position",
    "reference_year",
}


def _compare(name: str, oops: Oops, expected: dict) -> None:
    for key, want in expected.items():
        if key in NOT_PARSED:
            continue
        if key == "modules_linked_in":
            got_modules = _modules(oops)
            for sub, sub_want in want.items():
                if sub != "truncated":  # the source cut the list; nothing to parse
                    assert got_modules[sub] == sub_want, f"{name}: modules_linked_in.{sub}"
            continue
        assert key in CHECKS, f"{name}: expected.yaml key {key!r} has no check"
        got = CHECKS[key](oops)
        if isinstance(want, float):
            assert got == pytest.approx(want), f"{name}: {key}"
        else:
            assert got == want, f"{name}: {key}"


def _cases(folder: Path, strip) -> list[tuple[str, str, list[dict]]]:
    expected = yaml.safe_load((folder / "expected.yaml").read_text())
    return [
        (name, strip((folder / name).read_text()), want if isinstance(want, list) else [want])
        for name, want in expected.items()
    ]


def test_corpus_oopses(corpus_dir: Path) -> None:
    cases = _cases(corpus_dir / "oopses", strip_provenance)
    assert cases
    for name, text, wanted in cases:
        found = parse_oopses(text)
        assert len(found) == len(wanted), name
        for oops, want in zip(found, wanted, strict=True):
            _compare(name, oops, want)


@pytest.mark.parametrize("name", sorted(yaml.safe_load((DATA / "expected.yaml").read_text())))
def test_gathered_oopses(name: str) -> None:
    wanted = yaml.safe_load((DATA / "expected.yaml").read_text())[name]
    wanted = wanted if isinstance(wanted, list) else [wanted]
    text = _strip_header((DATA / name).read_text())
    found = list(fold_cascades(parse_oopses(text, reference_year=wanted[0].get("reference_year"))))
    assert len(found) == len(wanted)
    for oops, want in zip(found, wanted, strict=True):
        _compare(name, oops, want)


def test_every_gathered_file_has_expectations() -> None:
    files = {p.name for p in DATA.iterdir() if p.suffix in (".log", ".txt")}
    assert files == set(yaml.safe_load((DATA / "expected.yaml").read_text()))


def test_streamed_in_small_chunks_or_lines_gives_the_same_reports(corpus_dir: Path) -> None:
    text = "".join(
        strip_provenance((corpus_dir / "oopses" / n).read_text()) + "[ 9.0] ordinary line\n" * 30
        for n in ("01_mpt3sas_refcount_uaf_warning.log", "03_lpfc_null_deref_probe.log")
    )
    whole = parse_oopses(text)
    assert [o.kind for o in whole] == ["warning", "null_pointer_dereference"]
    by_lines = parse_oopses(text.splitlines(keepends=True))
    by_chunks = parse_oopses(text[i : i + 97] for i in range(0, len(text), 97))
    assert by_lines == whole
    assert by_chunks == whole


@pytest.mark.parametrize("block, lookback", [(50, 1 << 15), (300, 8000), (1, 6000)])
def test_block_boundaries_change_nothing(
    corpus_dir: Path, monkeypatch: pytest.MonkeyPatch, block: int, lookback: int
) -> None:
    text = "".join(
        "[ 8.0] ordinary line\n" * 90 + strip_provenance(p.read_text())
        for p in sorted((corpus_dir / "oopses").glob("*.log")) + sorted(DATA.glob("1[1-4]*"))
    )
    whole = parse_oopses(text, reference_year=2020)
    monkeypatch.setattr(oops_find, "_BLOCK", block)
    monkeypatch.setattr(oops_find, "_LOOKBACK", lookback)
    pieces = [text[i : i + 97] for i in range(0, len(text), 97)]
    assert parse_oopses(pieces, reference_year=2020) == whole
    assert parse_oopses([p.encode() for p in pieces], reference_year=2020) == whole
    assert len(whole) == 8


def test_line_numbers_count_skipped_lines() -> None:
    text = "[ 1.0] boot\n" * 5 + "[ 2.0] BUG: kernel NULL pointer dereference, address: 0000000000000008\n"
    [oops] = list(iter_oopses(text + "[ 2.1] Call Trace:\n"))
    assert oops.line == 6


def test_a_report_needs_a_trace_a_panic_or_a_crash_bt_header() -> None:
    assert parse_oopses("[ 2.0] BUG: kernel NULL pointer dereference, address: 0000000000000008\n") == []


def test_netconsole_receiver_prefix_gives_utc_wallclock() -> None:
    text = (
        "2026-11-25T01:12:03.123456+00:00 [  812.3] BUG: kernel NULL pointer dereference, address: 0010\n"
        "2026-11-25T01:12:03.123460+00:00 [  812.3] RIP: 0010:_scsih_io_done+0x1c/0x330 [mpt3sas]\n"
        "2026-11-25T01:12:03.123470+00:00 [  812.3] Call Trace:\n"
    )
    [oops] = parse_oopses(text)
    assert oops.wallclock == datetime(2026, 11, 25, 1, 12, 3, 123456, tzinfo=UTC)
    assert oops.timestamp == pytest.approx(812.3)
    assert (oops.rip, oops.rip_module) == ("_scsih_io_done", "mpt3sas")


def test_syslog_prefix_without_reference_year_has_no_wallclock() -> None:
    line = split_prefix(
        "Jul 30 15:28:52 venus kernel: [ 1204.135738] INFO: task x:1 blocked for more than 120 s"
    )
    assert line.wallclock is None
    assert line.seconds == pytest.approx(1204.135738)
    assert line.body == "INFO: task x:1 blocked for more than 120 s"


def test_new_kernels_oops_prefix_and_user_space_rip() -> None:
    text = (
        "Oops: general protection fault, probably for non-canonical address 0xdead: 0000 [#1] PREEMPT SMP\n"
        "CPU: 3 UID: 0 PID: 42 Comm: kworker/3:1 Not tainted 6.12.0 #1\n"
        "RIP: 0033:0x7fd16c45cc0b\n"
        "RIP: 0010:megasas_isr_fusion+0x2d/0x60 [megaraid_sas]\n"
        "Call Trace:\n"
    )
    [oops] = parse_oopses(text)
    assert oops.kind == "general_protection_fault"
    assert (oops.cpu, oops.pid, oops.kernel, oops.taint) == (3, 42, "6.12.0", ())
    assert (oops.rip, oops.rip_module) == ("megasas_isr_fusion", "megaraid_sas")


def test_panic_after_an_oops_joins_it() -> None:
    text = (
        "[ 5.0] BUG: kernel NULL pointer dereference, address: 0000000000000000\n"
        "[ 5.1] Oops: Oops: 0000 [#1] SMP NOPTI\n"
        "[ 5.2] ---[ end trace 0000000000000000 ]---\n"
        "[ 5.3] Kernel panic - not syncing: Fatal exception in interrupt\n"
        "[ 5.4] BUG: kernel NULL pointer dereference, address: 0000000000000001\n"
        "[ 5.5] Call Trace:\n"
    )
    first, second = parse_oopses(text)
    assert (first.oops_code, first.panic_message) == ("0000 [#1]", "Fatal exception in interrupt")
    assert second.first_line.endswith("0000000000000001")


@pytest.mark.parametrize(
    "kind, expected_kind",
    [("null_deref", "null_pointer_dereference"), ("use_after_free", "general_protection_fault")],
)
def test_lab_oops_with_its_summary_and_panic_is_one_crash(kind: str, expected_kind: str) -> None:
    ctx = oopstext.OopsContext(
        module="megaraid_sas",
        kind=kind,
        release="5.14.0-362.8.1.el9_3.x86_64",
        kernel_version="#1 SMP PREEMPT_DYNAMIC",
        tainted=(1 << oopstext.TAINT_BITS["O"]) | (1 << oopstext.TAINT_BITS["E"]),
        loaded=(("megaraid_sas", "OE"),),
        comm="fio",
        pid=4242,
        uptime=86012.5,
        kdump_loaded=True,
    )
    lines = oopstext.render(ctx, seed=7)
    end = next(i for i, line in enumerate(lines) if "---[ end trace" in line)
    assert "RIP: 0010:" in lines[end + 1]  # the tail this test is about
    [crash] = parse_oopses("\n".join(lines) + "\n")
    rip_function = lines[end + 1].split("RIP: 0010:", 1)[1].split("+", 1)[0]
    assert (crash.kind, crash.panic_message) == (expected_kind, "Fatal exception in interrupt")
    assert (crash.rip, crash.rip_module) == (rip_function, "megaraid_sas")
    assert crash.implicated_module == "megaraid_sas"
    assert (crash.kernel, crash.comm, crash.pid, crash.kdump_loaded) == (ctx.release, "fio", 4242, True)
    assert crash.taint == ("O", "E")


def test_summary_without_a_panic_ends_the_report_and_a_later_panic_stands_alone() -> None:
    text = (
        "[ 5.0] BUG: kernel NULL pointer dereference, address: 0000000000000008\n"
        "[ 5.1] RIP: 0010:pqi_process_io_intr+0x3a/0x1c0 [smartpqi]\n"
        "[ 5.2] Call Trace:\n"
        "[ 5.3]  pqi_irq_handler+0x57/0x130 [smartpqi]\n"
        "[ 5.4] ---[ end trace 0000000000000000 ]---\n"
        "[ 5.5] RIP: 0010:pqi_process_io_intr+0x3a/0x1c0 [smartpqi]\n"
        "[ 5.6] RSP: 0018:ffffb1c200003e98 EFLAGS: 00010246\n"
        "[ 5.7] note: kworker/1:2[77] exited with irqs disabled\n"
        "[ 9.0] Kernel panic - not syncing: hung_task: blocked tasks\n"
        "[ 9.1] Call Trace:\n"
        "[ 9.2]  panic+0x10a/0x2d0\n"
    )
    oops, panic = parse_oopses(text)
    assert (oops.kind, oops.panic_message) == ("null_pointer_dereference", None)
    assert oops.implicated_module == "smartpqi"
    assert (panic.kind, panic.first_line, panic.line) == (
        "panic",
        "Kernel panic - not syncing: hung_task: blocked tasks",
        9,
    )


def test_signature_ignores_clone_suffixes_and_unreliable_frames() -> None:
    a = parse_oopses(
        "BUG: kernel NULL pointer dereference\n Call Trace:\n ? x+0x1/0x2\n f.isra.3+0x1/0x9 [m]\n"
    )
    b = parse_oopses("BUG: kernel NULL pointer dereference\n Call Trace:\n f+0x5/0x9 [m]\n")
    assert signature(a[0]) == signature(b[0]) == "m|-|f"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=120), max_size=40), st.integers(min_value=1, max_value=9999))
def test_no_input_makes_the_parser_raise(lines: list[str], year: int) -> None:
    parse_oopses("\n".join(lines), reference_year=year)


_SHAPES = st.sampled_from(
    [
        "------------[ cut here ]------------",
        "WARNING: CPU: 1 PID: 2 at a.c:3 f+0x1/0x2 [m]",
        "BUG: unable to handle kernel paging request at 0",
        "Oops: 0000 [#1] SMP",
        "CPU: 0 PID: 7 Comm: x Kdump: loaded Tainted: G   OE  --------- -  - ",
        "Pid: 1, comm: a Tainted:",
        "G  W 4.1 #1",
        "Modules linked in: a(OE) b(+",
        " c d [last unloaded: e",
        "Call Trace:",
        " ? f+0x1/0x2 [m]",
        "[exception RIP: g+999999999999999999999]",
        'PID: 1  TASK: ff  CPU: 2  COMMAND: "z"',
        " 6 [ff] g at ff [m]",
        "Kernel panic - not syncing: x",
        "---[ end trace 1 ]---",
        "Feb 30 10:00:00 h kernel: [ 1.0] BUG: x",
        "9999-99-99T99:99:99+99:99 [ 1.0] BUG: x",
        "INFO: task a:b:1 blocked for more than 120 seconds.",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_SHAPES, st.text(max_size=40)), max_size=60))
def test_no_mix_of_report_lines_makes_the_parser_raise(lines: list[str]) -> None:
    parse_oopses("\n".join(lines), reference_year=2024)

"""The reports people read, over the seed lab's own output (tests/data/lab_seed): the audit and triage tables
at 100 columns, the crash timeline, Prometheus metrics read back by prometheus_client's parser."""

from __future__ import annotations

import io
import json
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console

from fleetfix import console as ui
from fleetfix.advisories.schema import load_advisories
from fleetfix.audit import AuditReport, audit_results
from fleetfix.commands.soak import SoakTarget, judge_host
from fleetfix.commands.triage import TriageRequest, triage
from fleetfix.errors import InputError
from fleetfix.host_result import HostResult
from fleetfix.render import prometheus
from fleetfix.render.audit_summary import advisory_details, capture_gaps, host_lines
from fleetfix.soak.verdict import IopsFloor
from fleetfix.state.paths import shipped_advisories
from fleetfix.triage.timeline import day_spans, document_timelines

SEED = Path(__file__).parents[1] / "data" / "lab_seed"
NOW = datetime(2026, 12, 5, 10, 35, tzinfo=UTC)
WIDTH = 100


@pytest.fixture(scope="module")
def report() -> AuditReport:
    raw = json.loads((SEED / "audit_facts.json").read_text())
    results = {
        host: HostResult(host, r["status"], r["message"], {"fleetfix": r["facts"]} if r["facts"] else {}, ())
        for host, r in raw.items()
    }
    return audit_results(results, load_advisories([shipped_advisories()]), NOW)


def rendered(draw, *args, **kwargs) -> str:  # type: ignore[no-untyped-def]
    console = Console(width=WIDTH, record=True, file=io.StringIO(), color_system=None)
    draw(*args, console=console, **kwargs)
    return console.export_text()


def assert_whole_words(text: str, words: set[str]) -> None:
    """Every line fits; every word appears whole on some line (none folded across two)."""
    lines = text.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= WIDTH
    for word in words:
        assert any(re.search(rf"(?<![\w.-]){re.escape(word)}(?![\w-])", line) for line in lines), word


def test_audit_summary_reads_the_seed_fleet_as_its_scenario_says(report: AuditReport) -> None:
    lines = {line.host: line for line in host_lines(report)}
    assert lines["db07"].reachable is False and lines["db07"].kernel == "unreachable"
    assert (lines["db04"].capture, lines["db06"].capture, lines["store01"].capture) == (
        "none",
        "no netconsole",
        "no kdump",
    )
    assert lines["store01"].worst.advisory == "megaraid_sas-isr-irq-poll-race"  # critical
    assert lines["vault01"].findings == 5 and lines["vault01"].worst.severity == "high"
    details = advisory_details(report)
    assert details[0].id == "megaraid_sas-isr-irq-poll-race"  # the one critical first
    mpt3sas = next(d for d in details if d.id == "mpt3sas-fw-event-reset-race")
    assert mpt3sas.hosts == ("db01", "db02", "db03", "db04", "db05", "db06")
    assert mpt3sas.fix == "mpt3sas 35.100.00.00 or later"
    assert [d.severity for d in details] == sorted(
        (d.severity for d in details), key=["critical", "high", "medium", "low"].index
    )
    gaps = {g.hosts: g.missing for g in capture_gaps(report)}
    assert gaps[("db06",)] == ("netconsole", "netconsole at boot")
    assert len(gaps[("db04", "db05")]) == 6


def test_audit_table_fits_100_columns_without_breaking_a_word(report: AuditReport) -> None:
    text = rendered(ui.audit_table, report)
    words = {h.host for h in report.hosts} | {f.advisory for h in report.hosts for f in h.findings}
    words |= {h.kernel for h in report.hosts if h.kernel} | {"34.100.00.00", "07.714.04.00-rc1"}
    assert_whole_words(text, words)
    assert re.search(r"^\s*db07\s+unreachable\s", text, re.M)
    assert re.search(
        r"^\s*vault01\s+6\.1\.0-13-amd64\s+none\s+5\s+smartpqi-raid-bypass-counter-null-deref\b", text, re.M
    )
    assert "mpt3sas 34.100.00.00: db01, db02, db03, db04, db05, db06" in text
    assert "12 hosts, 11 reachable, 1 unreachable/failed, 9 with findings" in text


def test_wide_audit_orders_each_hosts_findings_by_weight(report: AuditReport) -> None:
    text = Console(width=200, record=True, file=io.StringIO(), color_system=None)
    ui.audit_table_wide(report, text)
    out = text.export_text()
    assert out.index("qla2xxx-CVE-2024-42287 (high)") < out.index("qla2xxx-CVE-2023-53615 (medium)")
    assert "missing: crash memory, capture kernel, kdump service" in out


@pytest.fixture
def seed_triage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    state = tmp_path / "state"
    (state / "audit").mkdir(parents=True)
    shutil.copy(SEED / "audit.json", state / "audit" / "latest.json")
    monkeypatch.setenv("FLEETFIX_STATE_DIR", str(state))
    return triage(TriageRequest(paths=(SEED / "crashes",)))


def test_triage_table_fits_100_columns_with_timeline(seed_triage) -> None:  # type: ignore[no-untyped-def]
    text = rendered(ui.triage_table, seed_triage)
    assert_whole_words(
        text,
        {"db01", "db02", "db03", "db06", "mpt3sas-fw-event-reset-race", "_scsih_io_done", "34.100.00.00"},
    )
    assert re.search(
        r"^\s*db01\s+2\s+2026-11-22 01:08\s+1\s+mpt3sas 34\.100\.00\.00\s+mpt3sas-fw", text, re.M
    )
    assert "fleetfix soak --module mpt3sas --profile backup-seqread, then --profile thrash" in text
    assert "none known" not in text
    # The backup runs 01:00-02:00 UTC (three 20-minute columns); six crashes in 01:00-01:20, one at 01:20.
    backup = next(line for line in text.splitlines() if line.strip().startswith("nightly-backup"))
    crashes = next(line for line in text.splitlines() if line.strip().startswith("crashes "))
    left = backup.index("|") + 1
    assert backup[left:].rstrip("|").rstrip() == "   ==="
    assert crashes[left : left + 5] == "   61"


def test_wide_triage_keeps_the_group_row(seed_triage) -> None:  # type: ignore[no-untyped-def]
    console = Console(width=220, record=True, file=io.StringIO(), color_system=None)
    ui.triage_table(seed_triage, console, wide=True)
    assert re.search(
        r"│ mpt3sas\s+│ _scsih_io_done\s+│ null_pointer_dereference\s+│ 7\s+│ 4", console.export_text()
    )


def test_timeline_from_the_triage_document() -> None:
    document = json.loads((SEED / "triage.json").read_text())
    (line,) = document_timelines(document, "triage.json")
    assert len(line.crashes) == 7 and {m.host for m in line.crashes} == {"db01", "db02", "db03", "db06"}
    assert all(1.0 <= m.hour < 1.5 for m in line.crashes)
    (backup,) = line.jobs
    assert (backup.short_name, backup.hits, backup.spans) == ("nightly-backup", 7, ((1.0, 2.0),))


def test_day_spans_cut_at_midnight_and_merge() -> None:
    starts = [datetime(2026, 11, 18, 23, 30, tzinfo=UTC), datetime(2026, 11, 19, 23, 30, tzinfo=UTC)]
    assert day_spans(starts, 7200) == ((0.0, 1.5), (23.5, 24.0))


def test_prometheus_metrics_parse_and_say_what_the_audit_said(report: AuditReport) -> None:
    families = {f.name: f for f in text_string_to_metric_families(prometheus.audit_metrics(report))}
    at_risk = {s.labels["host"]: s.value for s in families["fleetfix_host_at_risk"].samples}
    assert at_risk["db01"] == 1 and at_risk["app01"] == 0 and "db07" not in at_risk
    audited = {s.labels["host"]: s.value for s in families["fleetfix_host_audited"].samples}
    assert audited["db07"] == 0 and audited["db01"] == 1
    ready = {s.labels["host"]: s.value for s in families["fleetfix_capture_ready"].samples}
    assert (ready["db01"], ready["db04"], ready["db06"]) == (1, 0, 0)
    info = [s.labels for s in families["fleetfix_driver_info"].samples if s.labels["host"] == "vault01"]
    assert len(info) == 5 and {i["module"] for i in info} == {"smartpqi"}
    assert info[0]["version"] == "2.1.24-046" and info[0]["srcversion"]
    clean = [s.labels for s in families["fleetfix_driver_info"].samples if s.labels["host"] == "app01"]
    assert clean == [{"host": "app01", "module": "mpt3sas", "version": "46.00.00.00",
                      "srcversion": "1B9E3F2A7C5D8E0F4A6B2C9", "advisory": ""}]  # fmt: skip


def test_prometheus_label_values_are_escaped(report: AuditReport) -> None:
    odd = 'rack "7"\\a\nb'
    host = report.hosts[0]
    renamed = AuditReport(hosts=(msgspec.structs.replace(host, host=odd),), generated_at=report.generated_at)
    text = prometheus.audit_metrics(renamed)
    assert 'host="rack \\"7\\"\\\\a\\nb"' in text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families["fleetfix_host_at_risk"].samples[0].labels["host"] == odd


def test_a_crashed_soak_reads_as_crashed_first(tmp_path: Path) -> None:
    evidence = json.loads((SEED / "soak_crashed_db04.json").read_text())
    empty = tmp_path / "fio.json"
    empty.write_text("")  # what was fetched from the crashed host
    evidence["fetched"] = str(empty)
    target = SoakTarget("db04", tuple(evidence["devices"]), tuple(evidence["fio_args"]))
    soaked = judge_host(
        HostResult("db04", "ok", "", {"fio_soak_result": evidence}, ()), target, IopsFloor.absolute(0)
    )
    assert soaked.status == "failed"
    reasons = soaked.verdict.reasons
    assert reasons[0].startswith("host rebooted during the soak (boot id 36468b3f-")
    # The empty report the crash left is said as the crash's consequence, never "fio's report is unusable".
    assert reasons[1] == "no fio report: the host went down before fio finished"
    assert "kernel log unavailable" in reasons[2]
    assert soaked.message.startswith("host rebooted during the soak")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["groups"][0]["crashes"].append(99),
            "triage.json: groups[0].crashes: no crash 99 in crashes[]",
        ),
        (
            lambda d: d["crashes"][0].update(time="2026-11-18 01:14"),
            "triage.json: crashes[0].time: expected an ISO 8601 time with its offset, got '2026-11-18 01:14'",
        ),
        (
            lambda d: d["groups"][0]["correlations"][0].pop("run_length"),
            "triage.json: groups[0].correlations[0].run_length: expected run_length here",
        ),
    ],
)
def test_a_broken_triage_document_is_named_by_field(change, message) -> None:  # type: ignore[no-untyped-def]
    document = json.loads((SEED / "triage.json").read_text())
    change(document)
    with pytest.raises(InputError) as raised:
        document_timelines(document, "triage.json")
    assert str(raised.value) == message

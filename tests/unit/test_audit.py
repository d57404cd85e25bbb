"""The audit's judgement on the facts module's real output for captured hosts (tests/data/facts)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from fleetfix.advisories.schema import load_advisories
from fleetfix.audit import Auditor, audit_results
from fleetfix.errors import ExitStatus, InputError
from fleetfix.facts.host import HostFacts
from fleetfix.host_result import HostResult
from fleetfix.render import audit as report
from fleetfix.state.paths import shipped_advisories

FACTS = Path(__file__).parents[1] / "data" / "facts"
NOW = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def db():
    return load_advisories([shipped_advisories()])


def _raw(name: str) -> dict:
    return json.loads((FACTS / f"{name}.json").read_text())


def _result(name: str, raw: dict | None, status: str = "ok", message: str = "") -> HostResult:
    return HostResult(name, status, message, {"fleetfix": raw} if raw is not None else {}, ())


def _with_module_version(raw: dict, module: str, version: str) -> dict:
    changed = copy.deepcopy(raw)
    for entry in changed["modules"]:
        if entry["name"] == module:
            entry["version"] = version
    return changed


def test_out_of_tree_build_below_a_fix_is_flagged_with_the_reason(db) -> None:
    raw = _with_module_version(_raw("db01"), "mpt3sas", "34.100.00.00")
    host = Auditor(db).host("db01", HostFacts.from_dict(raw, "db01"))
    mpt3sas = [f for f in host.findings if f.module == "mpt3sas"]
    assert [f.advisory for f in mpt3sas] == ["mpt3sas-fw-event-reset-race"]
    assert mpt3sas[0].fixed_in == "35.100.00.00"
    assert "34.100.00.00" in mpt3sas[0].why and "35.100.00.00" in mpt3sas[0].why


def test_out_of_tree_build_is_not_judged_by_kernel_ranges(db) -> None:
    host = Auditor(db).host("db01", HostFacts.from_dict(_raw("db01"), "db01"))
    assert not [f for f in host.findings if f.module == "mpt3sas"]
    mpt3sas = next(d for d in host.drivers if d.name == "mpt3sas")
    assert mpt3sas.out_of_tree and mpt3sas.unsigned and mpt3sas.disks == ("sdb", "sdc")


def test_in_tree_driver_is_judged_by_the_kernel_package_upstream_base(db) -> None:
    # db01 runs Debian's 6.1.0-18-amd64, package linux 6.1.76-1: the ABI name is not compared, 6.1.76 is.
    host = Auditor(db).host("db01", HostFacts.from_dict(_raw("db01"), "db01"))
    megaraid = [f for f in host.findings if f.module == "megaraid_sas"]
    assert megaraid and all("Debian:12 linux 6.1.76-1, upstream base 6.1.76" in f.why for f in megaraid)
    assert host.kernel_package is not None and host.kernel_package.upstream == "6.1.76"


def test_crash_capture_gaps_are_named(db) -> None:
    db01 = Auditor(db).host("db01", HostFacts.from_dict(_raw("db01"), "db01"))
    assert db01.capture.kdump_ready is False  # a captured tree cannot say whether kdump-tools is active
    assert db01.capture.netconsole_ready
    app02 = Auditor(db).host("app02", HostFacts.from_dict(_raw("app02"), "app02"))
    assert any("no crash memory is reserved" in m for m in app02.capture.missing)
    assert app02.module_support is False and app02.drivers == ()
    assert "no loadable module support" in app02.message


def test_unreachable_hosts_stay_in_the_report_and_decide_the_exit_status(db) -> None:
    results = {
        "db01": _result("db01", _raw("db01")),
        "gone": _result("gone", None, "unreachable", "ssh: connect to host gone port 22: No route to host"),
    }
    audit = audit_results(results, db, NOW)
    assert [h.host for h in audit.hosts] == ["db01", "gone"]
    assert audit.exit_status() is ExitStatus.HOSTS_FAILED
    only_db01 = audit_results({"db01": results["db01"]}, db, NOW)
    assert only_db01.exit_status() is ExitStatus.FINDINGS


def test_json_report_has_the_documented_fields(db) -> None:
    raw = _with_module_version(_raw("db01"), "mpt3sas", "34.100.00.00")
    audit = audit_results({"db01": _result("db01", raw), "app02": _result("app02", _raw("app02"))}, db, NOW)
    document = json.loads(report.to_json(audit))
    db01 = next(h for h in document["hosts"] if h["host"] == "db01")
    assert {"host", "status", "kernel", "modules", "crash_capture", "findings"} <= db01.keys()
    assert {"name", "version", "srcversion", "taint"} <= db01["modules"][0].keys()
    assert {"advisory", "module", "version", "fixed_in", "severity"} <= db01["findings"][0].keys()
    assert "db01" in document["summary"]["hosts_per_advisory"]["mpt3sas-fw-event-reset-race"]


def test_junit_marks_at_risk_hosts_as_failures_and_unreachable_as_errors(db) -> None:
    results = {
        "app02": _result("app02", _raw("app02")),
        "gone": _result("gone", None, "unreachable", "timed out"),
    }
    suite = ET.fromstring(report.to_junit(audit_results(results, db, NOW)))
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("2", "1", "1")


def test_markdown_lists_every_host(db) -> None:
    results = {"db01": _result("db01", _raw("db01")), "gone": _result("gone", None, "unreachable", "x")}
    text = report.to_markdown(audit_results(results, db, NOW))
    assert "| db01 | ok |" in text and "| gone | unreachable: x |" in text


def test_malformed_facts_name_the_host_and_field(db) -> None:
    raw = _raw("db01")
    raw["modules"][0]["size"] = "big"
    with pytest.raises(InputError, match=r"run-1:db01: modules\[0\]\.size"):
        audit_results({"db01": _result("db01", raw)}, db, NOW, source="run-1")


def test_driver_view_carries_what_decides_reload_or_reboot(db) -> None:
    host = Auditor(db).host("db01", HostFacts.from_dict(_raw("db01"), "db01"))
    facts = HostFacts.from_dict(_raw("db01"), "db01")
    for view in host.drivers:
        module = facts.module(view.name)
        assert (view.refcount, view.used_by, view.holds_boot_disk, view.permanent) == (
            module.refcount,
            module.used_by,
            module.holds_boot_disk,
            module.permanent,
        )
    assert any(view.holds_boot_disk for view in host.drivers) or any(view.refcount for view in host.drivers)


def test_json_report_keeps_the_layout_of_the_json_module(db) -> None:
    """msgspec writes the report; the bytes are those ``json.dumps(..., indent=2)`` wrote before it."""
    results = {
        "app02": _result("app02", _raw("app02")),
        "db01": _result("db01", _raw("db01")),
        "gone": _result("gone", None, "unreachable", "timed out"),
    }
    text = report.to_json(audit_results(results, db, NOW))
    assert text == json.dumps(json.loads(text), indent=2) + "\n"

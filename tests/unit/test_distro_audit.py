"""Distribution kernels judged by their own packages: real kernel identities (tests/data/distro/kernels.yaml)
on the captured Debian host's facts, with the in-tree qla2xxx loaded, against the shipped advisories and a
Red Hat errata range (tests/data/advisories/distro).

Expected answers, read from the data before running: qla2xxx-CVE-2024-42287 is fixed upstream in 5.15.165
(5.11-5.15 branch) and 6.1.103 (5.16-6.1); qla2xxx-CVE-2024-26930-rhel is fixed in kernel-rt
5.14.0-284.77.1.rt14.362.el9_2 and has no upstream ranges.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml

from fleetfix.advisories.database import AdvisoryDB
from fleetfix.advisories.schema import load_advisories
from fleetfix.audit import Auditor, audit_results
from fleetfix.errors import ExitStatus, InputError
from fleetfix.facts.host import HostFacts
from fleetfix.host_result import HostResult
from fleetfix.render import audit as audit_render
from fleetfix.state.paths import shipped_advisories

DATA = Path(__file__).parents[1] / "data"
KERNELS = {case["name"]: case for case in yaml.safe_load((DATA / "distro/kernels.yaml").read_text())}
UPSTREAM_CVE = "qla2xxx-CVE-2024-42287"
RHEL_CVE = "qla2xxx-CVE-2024-26930-rhel"


@pytest.fixture(scope="module")
def db() -> AdvisoryDB:
    return load_advisories([shipped_advisories(), DATA / "advisories/distro"])


def _facts(kernel: str) -> dict[str, Any]:
    """db01's facts running the named real kernel, with the in-tree qla2xxx loaded."""
    case = KERNELS[kernel]
    raw = copy.deepcopy(json.loads((DATA / "facts/db01.json").read_text()))
    raw["kernel"] = {
        "release": case["release"],
        "version": case["version"],
        "machine": "x86_64",
        "version_signature": case.get("signature"),
    }
    raw["os"] = {**case["os"], "family": None}
    raw["modules"].append(
        {"name": "qla2xxx", "size": 1056768, "refcount": 0, "used_by": [], "state": "Live", "taint": []}
    )
    return raw


def _verdicts(db: AdvisoryDB, kernel: str) -> tuple[set[str], set[str]]:
    host = Auditor(db).host(kernel, HostFacts.from_dict(_facts(kernel), kernel))
    qla = [f for f in host.findings if f.module == "qla2xxx"]
    unknown = [f for f in host.unknown if f.module == "qla2xxx"]
    return {f.advisory for f in qla}, {f.advisory for f in unknown}


@pytest.mark.parametrize(
    ("kernel", "affected", "unknown"),
    [
        ("debian12-old", {UPSTREAM_CVE}, {RHEL_CVE}),  # 6.1.76 < 6.1.103
        ("debian12-patched", set(), {RHEL_CVE}),  # 6.1.115 carries the fix
        ("ubuntu2204-old", {UPSTREAM_CVE}, {RHEL_CVE}),  # rebased on 5.15.111 < 5.15.165
        ("ubuntu2004-hwe", set(), {RHEL_CVE}),  # rebased on 5.15.178
        ("rocky96", set(), {UPSTREAM_CVE, RHEL_CVE}),  # no Rocky data, no upstream base
        ("rhel92-rt", {RHEL_CVE}, {UPSTREAM_CVE}),  # kernel-rt 284.11.1 < 284.77.1
        ("rhel92-rt-fixed", set(), {UPSTREAM_CVE}),
    ],
)
def test_distribution_kernels_are_judged_by_their_package(
    db: AdvisoryDB, kernel: str, affected: set[str], unknown: set[str]
) -> None:
    found, open_questions = _verdicts(db, kernel)
    assert found & {UPSTREAM_CVE, RHEL_CVE} == affected
    assert open_questions & {UPSTREAM_CVE, RHEL_CVE} == unknown


def test_the_reason_names_the_package_and_what_was_compared(db: AdvisoryDB) -> None:
    host = Auditor(db).host("old", HostFacts.from_dict(_facts("debian12-old"), "old"))
    (finding,) = [f for f in host.findings if f.advisory == UPSTREAM_CVE]
    assert finding.why == "Debian:12 linux 6.1.76-1, upstream base 6.1.76 in affected range [5.16.0, 6.1.103)"
    rt = Auditor(db).host("rt", HostFacts.from_dict(_facts("rhel92-rt"), "rt"))
    (finding,) = [f for f in rt.findings if f.advisory == RHEL_CVE]
    assert finding.why == (
        "Red Hat:9 kernel-rt 5.14.0-284.11.1.rt14.296.el9_2 < fixed 5.14.0-284.77.1.rt14.362.el9_2"
    )
    (unknown,) = [f for f in rt.unknown if f.advisory == UPSTREAM_CVE]
    assert unknown.status == "unknown"
    assert unknown.why.startswith("unknown for Red Hat:9 kernel-rt 5.14.0-284.11.1.rt14.296.el9_2")


def test_unknown_fails_the_audit_only_when_asked(db: AdvisoryDB) -> None:
    results = {"rocky": HostResult("rocky", "ok", "", {"fleetfix": _facts("rocky96")}, ())}
    judged = audit_results(results, db, datetime(2026, 12, 5, tzinfo=UTC))
    # The captured tree's kdump is not active (exit 1 for that alone): judge the kernel verdicts alone.
    (host,) = judged.hosts
    host = msgspec.structs.replace(host, capture=None)
    report = msgspec.structs.replace(judged, hosts=(host,))
    assert not host.findings and host.unknown
    assert report.exit_status() is ExitStatus.OK
    assert report.exit_status(fail_on_unknown=True) is ExitStatus.FINDINGS
    assert report.counts()["with_unknown"] == 1


def test_reports_carry_the_package_and_the_unknown_verdicts(db: AdvisoryDB) -> None:
    results = {"rt": HostResult("rt", "ok", "", {"fleetfix": _facts("rhel92-rt")}, ())}
    judged = audit_results(results, db, datetime(2026, 12, 5, tzinfo=UTC))
    (host,) = json.loads(audit_render.to_json(judged))["hosts"]
    assert host["kernel_package"] == {
        "ecosystem": "Red Hat:9",
        "package": "kernel-rt",
        "version": "5.14.0-284.11.1.rt14.296.el9_2",
        "scheme": "rpm",
        "upstream": None,
    }
    assert RHEL_CVE in {f["advisory"] for f in host["findings"]}
    assert {f["status"] for f in host["unknown"]} == {"unknown"}
    assert UPSTREAM_CVE in {f["advisory"] for f in host["unknown"]}
    assert "## Unknown: no data for the host's distribution kernel" in audit_render.to_markdown(judged)


@pytest.mark.parametrize(
    ("distributions", "expected"),
    [
        ('{ecosystem: "Gentoo:1", package: linux, fixed: "1"}', "'Gentoo' is not a known distribution"),
        ('{ecosystem: "Debian", package: linux, fixed: "1"}', "is not an ecosystem like Debian:12"),
        ('{ecosystem: "Debian:12", package: linux, fixed: "6.1 76"}', "is not a Debian package version"),
        ('{ecosystem: "Red Hat:9", package: kernel, fixed: "a-b-c"}', "is not an rpm version"),
        ('{ecosystem: "Debian:12", package: Linux, fixed: "1"}', "is not a source package name"),
        ('{ecosystem: "Debian:12", fixed: "1"}', "package: required field missing"),
        (
            '{ecosystem: "Debian:12", package: linux, introduced: "6.1.90-1", fixed: "6.1.76-1"}',
            "fixed: not newer than introduced",
        ),
    ],
)
def test_bad_distribution_ranges_name_file_line_and_field(
    tmp_path: Path, distributions: str, expected: str
) -> None:
    text = (
        "- id: x\n  module: qla2xxx\n  vendor: v\n  title: t\n  affected:\n    distributions:\n"
        f"      - {distributions}\n"
        "  fault: [panic]\n  trigger: t\n  severity: high\n  references: []\n"
    )
    (tmp_path / "bad.yaml").write_text(text)
    with pytest.raises(InputError) as caught:
        load_advisories([tmp_path])
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'bad.yaml'}:7: affected.distributions[0].")
    assert expected in message


# The shipped database alone, on real hosts with the in-tree mpt3sas and qla2xxx loaded. Expected, read
# from advisories/mpt3sas.yaml and qla2xxx.yaml before running: mpt3sas-CVE-2024-40901 is fixed upstream in
# 6.1.95 and 5.15.162 and in Ubuntu 22.04's linux 5.15.0-121.131 (UBUNTU-CVE-2024-40901);
# qla2xxx-CVE-2024-42287 in 6.1.103 and 5.15.165, with no distribution range. Of EL 9 only RHEL's kernel
# package has data (mpt3sas, RHSA-2024:9315). ``why`` is the reason given for mpt3sas.
SHIPPED_CVES = {"mpt3sas-CVE-2024-40901", "qla2xxx-CVE-2024-42287"}


@pytest.fixture(scope="module")
def shipped() -> AdvisoryDB:
    return load_advisories([shipped_advisories()])


def _with_mpt3sas(kernel: str) -> dict[str, Any]:
    raw = _facts(kernel)
    raw["modules"].append(
        {"name": "mpt3sas", "size": 8192, "refcount": 0, "used_by": [], "state": "Live", "taint": []}
    )
    return raw


@pytest.mark.parametrize(
    ("kernel", "affected", "why"),
    [
        ("debian12-old", SHIPPED_CVES, "Debian:12 linux 6.1.76-1, upstream base 6.1.76 in affected range"),
        ("debian12-patched", set(), None),  # 6.1.115 carries both fixes
        ("debian12-bookworm-123", set(), None),
        # Ubuntu's own range decides for its package, the upstream base for the CVE Ubuntu says nothing of.
        ("ubuntu2204-old", SHIPPED_CVES, "Ubuntu:22.04 linux 5.15.0-79.86 < fixed 5.15.0-121.131"),
        ("ubuntu2204-130", set(), None),  # 5.15.0-130.140 >= 121.131; base 5.15.168 >= 5.15.165
        # Without /proc/version_signature no upstream base is known: Ubuntu's range still decides mpt3sas.
        ("ubuntu2204-no-signature", {"mpt3sas-CVE-2024-40901"}, "< fixed 5.15.0-121.131"),
    ],
)
def test_shipped_ranges_on_real_distribution_hosts(
    shipped: AdvisoryDB, kernel: str, affected: set[str], why: str | None
) -> None:
    host = Auditor(shipped).host(kernel, HostFacts.from_dict(_with_mpt3sas(kernel), kernel))
    found = {f.advisory: f.why for f in host.findings if f.advisory in SHIPPED_CVES}
    assert set(found) == affected
    if why is not None:
        assert why in found["mpt3sas-CVE-2024-40901"]


@pytest.mark.parametrize("kernel", ["rocky96", "alma92", "rhel92-rt", "ol92-rhck"])
def test_el9_hosts_have_no_finding_and_an_open_question_without_their_distributions_data(
    shipped: AdvisoryDB, kernel: str
) -> None:
    host = Auditor(shipped).host(kernel, HostFacts.from_dict(_with_mpt3sas(kernel), kernel))
    assert not [f for f in host.findings if f.advisory in SHIPPED_CVES]
    assert {f.advisory for f in host.unknown} >= SHIPPED_CVES


# RHEL 9's range for mpt3sas-CVE-2024-40901, read from advisories/mpt3sas.yaml before running: RHSA-2024:9315
# fixes it in kernel 5.14.0-503.11.1.el9_5. The RHEL 9.4 host's 427.13.1 orders below it; the RHEL 9.5 host
# runs the fixed build itself. qla2xxx-CVE-2024-42287 has no Red Hat data: unknown on both. AlmaLinux 9.5
# runs the same NEVRA but no AlmaLinux range is shipped: both CVEs stay unknown there.
@pytest.mark.parametrize(
    ("kernel", "affected", "unknown"),
    [
        ("rhel94", {"mpt3sas-CVE-2024-40901"}, {"qla2xxx-CVE-2024-42287"}),
        ("rhel95", set(), {"qla2xxx-CVE-2024-42287"}),
        ("alma95", set(), SHIPPED_CVES),
    ],
)
def test_rhel9_kernels_are_judged_by_red_hats_erratum(
    shipped: AdvisoryDB, kernel: str, affected: set[str], unknown: set[str]
) -> None:
    host = Auditor(shipped).host(kernel, HostFacts.from_dict(_with_mpt3sas(kernel), kernel))
    found = {f.advisory: f.why for f in host.findings if f.advisory in SHIPPED_CVES}
    assert set(found) == affected
    assert {f.advisory for f in host.unknown} & SHIPPED_CVES == unknown
    if affected:
        assert found["mpt3sas-CVE-2024-40901"] == (
            "Red Hat:9 kernel 5.14.0-427.13.1.el9_4 < fixed 5.14.0-503.11.1.el9_5"
        )

"""`advisories import-osv` on real OSV records (tests/data/osv, sources in its README).

Expected answers were written in that README from reading the records, before the importer ran: of the four
records (two kernel CNA records, an AlmaLinux erratum, an Ubuntu CVE record) only UBUNTU-CVE-2024-40901
touches an HBA module (mpt3sas); the other three are skipped and counted.
"""

from __future__ import annotations

import copy
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from fleetfix.advisories.osv.convert import OsvImport
from fleetfix.advisories.osv.modules import touched, touches
from fleetfix.advisories.osv.ranges import distribution, ranges_of
from fleetfix.advisories.osv.record import Record, records_in
from fleetfix.advisories.schema import load_advisories
from fleetfix.cli import run
from fleetfix.commands.import_osv import import_paths
from fleetfix.errors import InputError
from fleetfix.facts.kernel_package import KernelPackage

OSV = Path(__file__).parents[1] / "data" / "osv"
UBUNTU = OSV / "ubuntu" / "UBUNTU-CVE-2024-40901.json"
LINUX = OSV / "linux" / "CVE-2025-21772.json"
ALMA = OSV / "almalinux" / "ALSA-2022:6610.json"
DEBIAN_LPFC = OSV / "debian" / "DEBIAN-CVE-2024-36924.json"
DEBIAN_12 = OSV / "debian" / "DEBIAN-CVE-2026-74455.json"
ALL = sorted(OSV.rglob("*.json"))

UBUNTU_RANGES = [
    {"ecosystem": "Ubuntu:14.04", "package": "linux", "fixed": "3.11.0-12.19"},
    {"ecosystem": "Ubuntu:14.04", "package": "linux-aws", "fixed": "4.4.0-1002.2"},
    {"ecosystem": "Ubuntu:20.04", "package": "linux-oem-5.10"},
    {"ecosystem": "Ubuntu:20.04", "package": "linux-oracle", "fixed": "5.4.0-1131.140"},
    {"ecosystem": "Ubuntu:22.04", "package": "linux", "fixed": "5.15.0-121.131"},
    {"ecosystem": "Ubuntu:22.04", "package": "linux-azure-fde", "fixed": "5.15.0-1072.81.1"},
    {"ecosystem": "Ubuntu:22.04", "package": "linux-gcp", "fixed": "5.15.0-1068.76"},
]


def _record(path: Path, **changes: Any) -> Record:
    raw = json.loads(path.read_bytes())
    raw.update(changes)
    (record,) = records_in(json.dumps(raw).encode(), str(path))
    return record


def _import(tmp_path: Path, *paths: Path) -> tuple[Any, list[dict[str, Any]]]:
    out = tmp_path / "osv.yaml"
    result = import_paths(list(paths), out)
    return result, yaml.safe_load(out.read_text())


def _zip(tmp_path: Path, files: list[Path], name: str = "all.zip") -> Path:
    """An archive shaped like OSV's per-ecosystem dumps: one record per member, at the top level."""
    path = tmp_path / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in files:
            archive.write(file, file.name)
    return path


@pytest.mark.parametrize("shape", ["files", "directory", "zip"])
def test_real_records_give_lpfc_and_mpt3sas_advisories_and_four_skipped(tmp_path: Path, shape: str) -> None:
    paths = {"files": ALL, "directory": [OSV], "zip": [_zip(tmp_path, ALL)]}[shape]
    result, (lpfc, advisory) = _import(tmp_path, *paths)
    assert (result.records, result.skipped, len(result.advisories)) == (6, 4, 2)
    assert lpfc["id"] == "lpfc-CVE-2024-36924"
    assert advisory["id"] == "mpt3sas-CVE-2024-40901"
    assert (advisory["module"], advisory["vendor"]) == ("mpt3sas", "Broadcom")
    assert advisory["title"] == "scsi: mpt3sas: Avoid test/set_bit() operating in non-allocated memory"
    assert advisory["affected"] == {"distributions": UBUNTU_RANGES}
    assert advisory["fault"] == ["out_of_bounds"]
    assert (
        "https://git.kernel.org/stable/c/4254dfeda82f20844299dca6c38cbffcfd499f41" in advisory["references"]
    )
    assert "https://osv.dev/vulnerability/UBUNTU-CVE-2024-40901" in advisory["references"]
    assert advisory["inferred"] == ["trigger", "severity"]
    fips = [w for w in result.warnings if "Ubuntu:Pro:FIPS-updates:20.04:LTS" in w]
    assert len(fips) == 1 and "UBUNTU-CVE-2024-40901" in fips[0]


def test_the_output_is_valid_advisory_yaml(tmp_path: Path) -> None:
    (tmp_path / "db").mkdir()
    import_paths([UBUNTU], tmp_path / "db" / "osv.yaml")
    (advisory,) = load_advisories([tmp_path / "db"]).advisories
    (jammy,) = [
        d for d in advisory.affected.distributions if d.ecosystem == "Ubuntu:22.04" and d.package == "linux"
    ]
    assert str(jammy.fixed) == "5.15.0-121.131"


def test_the_kernel_cna_ranges_become_upstream_kernel_items() -> None:
    assert [r.yaml() for r in ranges_of(_record(LINUX)).kernel] == [
        {"below": "5.4.291"},
        {"introduced": "5.5.0", "fixed": "5.10.235"},
        {"introduced": "5.11.0", "fixed": "5.15.179"},
        {"introduced": "5.16.0", "fixed": "6.1.129"},
        {"introduced": "6.2.0", "fixed": "6.6.79"},
        {"introduced": "6.7.0", "fixed": "6.12.16"},
        {"introduced": "6.13.0", "fixed": "6.13.4"},
    ]
    # Its GIT range names commits: no release, no distribution range, nothing to warn about.
    ranges = ranges_of(_record(LINUX))
    assert ranges.distributions == [] and ranges.left_out == []


def test_an_erratum_keeps_the_kernel_source_package_only() -> None:
    ranges = ranges_of(_record(ALMA))
    assert [r.yaml() for r in ranges.distributions] == [
        {"ecosystem": "AlmaLinux:9", "package": "kernel", "fixed": "5.14.0-70.26.1.el9_0"}
    ]
    assert ranges.kernel == [] and ranges.left_out == []


def test_a_debian_record_of_an_hba_cve_gives_its_debian_range(tmp_path: Path) -> None:
    # Read from the record (tests/data/osv/README.md): Debian 11's linux is affected with no fix released.
    result, (advisory,) = _import(tmp_path, DEBIAN_LPFC)
    assert (result.records, result.skipped, result.warnings) == (1, 0, [])
    assert advisory["id"] == "lpfc-CVE-2024-36924"
    assert (advisory["module"], advisory["vendor"]) == ("lpfc", "Broadcom")
    assert advisory["title"] == "scsi: lpfc: Release hbalock before calling lpfc_worker_wake_up()"
    assert advisory["affected"] == {"distributions": [{"ecosystem": "Debian:11", "package": "linux"}]}
    assert advisory["fault"] == ["deadlock"]
    assert advisory["references"] == ["https://osv.dev/vulnerability/DEBIAN-CVE-2024-36924"]


def test_a_debian_12_record_gives_a_range_in_debian_numbering() -> None:
    ranges = ranges_of(_record(DEBIAN_12))
    assert [r.yaml() for r in ranges.distributions] == [
        {"ecosystem": "Debian:12", "package": "linux", "fixed": "6.1.187-1"}
    ]
    assert ranges.kernel == [] and ranges.left_out == []


def test_an_imported_debian_range_decides_for_a_debian_host(tmp_path: Path) -> None:
    # DEBIAN-CVE-2026-74455 touches no HBA module; its range is put on an lpfc entry to run the audit's
    # Debian path on a real Debian 12 fixed version: 6.1.76-1 (bookworm, 2024) < 6.1.187-1 <= 6.1.187-1.
    (tmp_path / "db").mkdir()
    import_paths([DEBIAN_LPFC], tmp_path / "db" / "osv.yaml")
    (entry,) = yaml.safe_load((tmp_path / "db" / "osv.yaml").read_text())
    entry["affected"]["distributions"] += [r.yaml() for r in ranges_of(_record(DEBIAN_12)).distributions]
    (tmp_path / "db" / "osv.yaml").write_text(yaml.safe_dump([entry]))
    db = load_advisories([tmp_path / "db"])
    verdicts = {
        version: db.match(
            "lpfc",
            None,
            kernel="6.1.0-18-amd64",
            package=KernelPackage(ecosystem="Debian:12", package="linux", version=version, scheme="dpkg"),
        )
        for version in ("6.1.76-1", "6.1.187-1")
    }
    assert [m.why for m in verdicts["6.1.76-1"]] == ["Debian:12 linux 6.1.76-1 < fixed 6.1.187-1"]
    assert verdicts["6.1.187-1"] == []


def test_records_of_one_cve_fold_into_one_advisory_with_both_kinds_of_range(tmp_path: Path) -> None:
    # The kernel CNA's record for the same CVE, in the real CVE-2025-21772 record's shape, with the subject
    # and the 4.19-6.9 ranges osv.dev gives CVE-2024-40901 (advisories/mpt3sas.yaml cites them).
    raw = json.loads(LINUX.read_bytes())
    raw["id"], raw["summary"] = (
        "CVE-2024-40901",
        "scsi: mpt3sas: Avoid test/set_bit() operating in non-allocated memory",
    )
    raw["details"] = (
        f"In the Linux kernel, the following vulnerability has been resolved:\n\n{raw['summary']}\n"
    )
    raw["affected"][1]["ranges"] = [
        {"type": "ECOSYSTEM", "events": [{"introduced": low}, {"fixed": high}]}
        for low, high in (("4.10.0", "4.19.317"), ("5.16.0", "6.1.95"), ("6.7.0", "6.9.6"))
    ]
    upstream = tmp_path / "CVE-2024-40901.json"
    upstream.write_text(json.dumps(raw))
    _, (advisory,) = _import(tmp_path, UBUNTU, upstream)
    assert advisory["title"] == raw["summary"]
    assert advisory["affected"]["kernel"] == [
        {"introduced": "4.10.0", "fixed": "4.19.317"},
        {"introduced": "5.16.0", "fixed": "6.1.95"},
        {"introduced": "6.7.0", "fixed": "6.9.6"},
    ]
    assert advisory["affected"]["distributions"] == UBUNTU_RANGES
    assert advisory["notes"] == "From OSV records: UBUNTU-CVE-2024-40901, CVE-2024-40901"


def test_an_erratum_listing_cves_gives_one_advisory_per_module_and_cve() -> None:
    # ALSA-2022:6610's shape with the security-fix lines of RHSA-2024:9500 (as Tenable plugin 210884 quotes
    # them) and an lpfc line of EulerOS-SA-2024-2418: each module's line names its CVE.
    record = _record(
        ALMA,
        details="Security Fix(es):\n\n* kernel: drm/amdgpu: use-after-free vulnerability (CVE-2024-26656)\n"
        "* kernel: scsi: mpt3sas: Fix use-after-free warning (CVE-2022-48695)\n"
        "* kernel: scsi: lpfc: Move NPIV's transport unregistration to after resource clean up"
        "(CVE-2024-36952)\n",
        related=["CVE-2024-26656", "CVE-2022-48695", "CVE-2024-36952"],
    )
    importer = OsvImport()
    importer.add(record)
    drafts = {d.id: d.advisory() for d in importer.result().advisories}
    assert sorted(drafts) == ["lpfc-CVE-2024-36952", "mpt3sas-CVE-2022-48695"]
    mpt3sas = drafts["mpt3sas-CVE-2022-48695"]
    assert mpt3sas["title"] == "scsi: mpt3sas: Fix use-after-free warning"
    assert mpt3sas["fault"] == ["use_after_free"]  # its own line, not the amdgpu line's words
    assert mpt3sas["affected"] == {
        "distributions": [{"ecosystem": "AlmaLinux:9", "package": "kernel", "fixed": "5.14.0-70.26.1.el9_0"}]
    }


@pytest.mark.parametrize(
    ("text", "modules"),
    [
        # The kernel CNA's details, Ubuntu's run-on copy, an erratum line, a KASAN trace's path
        (
            "In the Linux kernel, the following vulnerability has been resolved:\n\nscsi: qla2xxx: Fix",
            ("qla2xxx",),
        ),
        (json.loads(UBUNTU.read_bytes())["details"], ("mpt3sas",)),
        ("    * kernel: scsi: megaraid_sas: Fix fw_crash_buffer_show() (CVE-2023-52693)", ("megaraid_sas",)),
        ("RIP: megasas_isr_fusion+0x1f drivers/scsi/megaraid/megaraid_sas_fusion.c:3712", ("megaraid_sas",)),
        ("hpsa_scsi_ioaccel_raid_map drivers/scsi/hpsa.c:1322", ("hpsa",)),
        ("scsi: pm80xx: Fix TMF task completion race", ("pm80xx",)),
        ("scsi: core: Fix a use-after-free", ()),
        ("scsi: sd: Use READ(16) when reading block zero on large capacity disks", ()),
        ("drivers/scsi/scsi_debug.c: Fix type in min_t", ()),
        ("partitions: mac: fix handling of bogus partition table", ()),
    ],
)
def test_which_modules_a_text_touches(text: str, modules: tuple[str, ...]) -> None:
    assert touched(text) == modules


@pytest.mark.parametrize(
    ("ecosystem", "expected"),
    [
        ("Ubuntu:22.04:LTS", "Ubuntu:22.04"),
        ("Ubuntu:24.10", "Ubuntu:24.10"),
        ("Ubuntu:Pro:FIPS-updates:20.04:LTS", None),
        ("Ubuntu:Pro:16.04:LTS", None),
        ("Debian:12", "Debian:12"),
        ("AlmaLinux:9", "AlmaLinux:9"),
        ("Rocky Linux:9", "Rocky Linux:9"),
        ("Red Hat:enterprise_linux:9::baseos", "Red Hat:9"),
        ("Red Hat:rhel_eus:9.2::baseos", None),
        ("Alpine:v3.19", None),
        ("Linux", None),
    ],
)
def test_osv_ecosystems_as_fleetfix_names_distributions(ecosystem: str, expected: str | None) -> None:
    assert distribution(ecosystem) == expected


def _broken(tmp_path: Path, change: Any) -> Path:
    raw = copy.deepcopy(json.loads(UBUNTU.read_bytes()))
    change(raw)
    path = tmp_path / "UBUNTU-CVE-2024-40901.json"
    path.write_text(json.dumps(raw, indent=2))
    return path


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda r: r.pop("id"), "UBUNTU-CVE-2024-40901.json: id: required field missing"),
        (
            lambda r: r["affected"][5]["package"].pop("name"),
            "40901.json: UBUNTU-CVE-2024-40901 affected[5].package.name: required field missing",
        ),
        (
            lambda r: r["affected"][5]["ranges"][0].update(events={"fixed": "1"}),
            "UBUNTU-CVE-2024-40901 affected[5].ranges[0].events: expected a list",
        ),
        (
            lambda r: r["affected"][5]["ranges"][0]["events"].append({"fixd": "1"}),
            "UBUNTU-CVE-2024-40901 affected[5].ranges[0].events[2].fixd: unknown event",
        ),
        (
            lambda r: r["affected"][5]["ranges"][0]["events"][1].update(fixed="5.15.0 121"),
            "UBUNTU-CVE-2024-40901 affected[5].ranges[0]: '5.15.0 121' is not a Debian package version",
        ),
        (
            lambda r: r["affected"][5]["ranges"][0]["events"][0].update(introduced="5.15.0-200.1"),
            "fixed 5.15.0-121.131 is not newer than introduced 5.15.0-200.1",
        ),
    ],
)
def test_a_bad_record_is_one_line_naming_file_record_and_field_and_nothing_is_written(
    tmp_path: Path, change: Any, expected: str
) -> None:
    out = tmp_path / "out.yaml"
    out.write_text("previous\n")
    with pytest.raises(InputError) as caught:
        import_paths([_broken(tmp_path, change)], out)
    assert expected in str(caught.value) and "\n" not in str(caught.value)
    assert out.read_text() == "previous\n"


def test_broken_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "CVE-2025-21772.json"
    path.write_text(LINUX.read_text()[:200])
    with pytest.raises(InputError, match=r"CVE-2025-21772\.json:\d+: invalid JSON"):
        import_paths([path], None)


def test_a_broken_zip_member_and_a_bad_zip_are_named(tmp_path: Path) -> None:
    bad = tmp_path / "broken.json"
    bad.write_text('{"id": "CVE-1", "affected": [')
    archive = _zip(tmp_path, [UBUNTU, bad])
    with pytest.raises(InputError, match=r"all\.zip:broken\.json:1: invalid JSON"):
        import_paths([archive], None)
    (tmp_path / "not.zip").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(InputError, match=r"not\.zip: not a readable zip archive"):
        import_paths([tmp_path / "not.zip"], None)


def test_no_records_at_all_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no OSV records found"):
        import_paths([tmp_path], None)


def test_the_command_mirrors_import_changelog(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "osv.yaml"
    assert run(["advisories", "import-osv", str(_zip(tmp_path, ALL)), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "2 advisories from 6 records (4 skipped: no known HBA module)" in err
    assert "mpt3sas-CVE-2024-40901 is already shipped" in err  # the reviewer merges rather than duplicates
    assert out.read_text().startswith("# Generated by fleetfix from OSV records in ")
    assert run(["advisories", "import-osv", str(tmp_path / "missing")]) == 3
    assert capsys.readouterr().err.strip().endswith("missing: no such file or directory")


def test_a_damaged_member_inside_a_readable_zip_is_named(tmp_path: Path) -> None:
    archive = _zip(tmp_path, [UBUNTU])
    data = bytearray(archive.read_bytes())
    start = data.index(b"UBUNTU-CVE-2024-40901.json") + len("UBUNTU-CVE-2024-40901.json")
    data[start + 40 : start + 80] = bytes(40)  # the deflated record's bytes, not the directory
    archive.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"all\.zip:UBUNTU-CVE-2024-40901\.json: cannot read from the zip"):
        import_paths([archive], None)


@pytest.mark.parametrize(
    ("details", "subject"),
    [
        # UBUNTU-CVE-2024-26930's details (canonical/ubuntu-security-notices), and CVE-2024-26931's as a
        # Tenable plugin quotes it (GitHub, find_string id 11649195869): the message joined into one line.
        (
            "In the Linux kernel, the following vulnerability has been resolved: scsi: qla2xxx: Fix double"
            " free of the ha->vp_map pointer Coverity scan reported potential risk of double free of the"
            " pointer ha->vp_map. ha->vp_map was freed in qla2x00_mem_alloc(), and again freed in function"
            " qla2x00_mem_free(ha). Assign NULL to vp_map and kfree take care of NULL.",
            "scsi: qla2xxx: Fix double free of the ha->vp_map pointer",
        ),
        (
            "In the Linux kernel, the following vulnerability has been resolved: scsi: qla2xxx: Fix command"
            " flush on cable pull System crash due to command failed to flush back to SCSI layer. BUG: unable"
            " to handle kernel NULL pointer dereference at 0000000000000000 PGD 0 P4D 0 Oops: 0000",
            "scsi: qla2xxx: Fix command flush on cable pull",
        ),
        # DEBIAN-CVE-2024-36924 (tests/data/osv/debian): the body opens with the subject's last word.
        (
            "In the Linux kernel, the following vulnerability has been resolved: scsi: lpfc: Release hbalock"
            " before calling lpfc_worker_wake_up() lpfc_worker_wake_up() calls the lpfc_work_done() routine,"
            " which takes the hbalock. Thus, lpfc_worker_wake_up() should not be called while holding the"
            " hbalock to avoid potential deadlock.",
            "scsi: lpfc: Release hbalock before calling lpfc_worker_wake_up()",
        ),
    ],
)
def test_a_run_on_message_is_cut_to_its_subject(details: str, subject: str) -> None:
    (touch,) = touches(details)
    assert touch.subject == subject
